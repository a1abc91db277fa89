// Private to src/agent/registry (.cc files only): the libcurl settings every
// registry request shares, so the blocking Transport and the fetcher's multi
// transfers follow one TLS, timeout and redirect policy.
#pragma once

#include <curl/curl.h>

#include <string>
#include <string_view>
#include <vector>

#include "agent/registry/transport.h"
#include "common/error.h"
#include "http/message.h"

namespace berth::agent::registry::internal {

// curl_global_init, once per process.
void CurlGlobalInit();

// A multi handle from a process-wide pool (a new one when none is idle), and back into it
// with its connection cache once no easy handle is added to it: the next pull's transfers to
// the same registry reuse those connections. Transports pool their easy handles the same way.
CURLM* AcquireMulti();
void ReleaseMulti(CURLM* multi);

// Resets `easy` and applies `options` for a request to `url`: protocols
// http/https only, no redirects followed (the caller decides what a redirect
// may carry), no signals, connect and low-speed timeouts, system CAs plus
// options.ca_file, an error buffer (`error_buffer` must outlive the transfer
// and hold CURL_ERROR_SIZE bytes).
void ConfigureEasy(CURL* easy, const TransportOptions& options, const std::string& url,
                   char* error_buffer);

// A curl_slist of "Name: value" lines; the caller frees it with curl_slist_free_all.
curl_slist* HeaderList(const std::vector<http::Header>& headers);

// Adds the header line `line` (as libcurl hands it to a header callback) to
// `headers`, names lower-cased; a status line starts a new response and clears them.
void ParseHeaderLine(std::string_view line, std::vector<http::Header>* headers);

// The transport error for a failed transfer (see Transport::Send for codes).
// `url` is shown as origin and path only.
Error TransportError(CURLcode code, std::string_view method, std::string_view url,
                     const char* error_buffer);

// Origin and path of `url`, without query or fragment (presigned URLs carry
// signatures there), for messages.
std::string DescribeUrl(std::string_view url);

}  // namespace berth::agent::registry::internal
