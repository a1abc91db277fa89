#include "agent/registry/resolver.h"

#include <fmt/format.h>

#include "agent/registry/errors.h"
#include "crypto/sha256.h"

namespace berth::agent::registry {
namespace {

constexpr int kMaxRedirects = 5;

}  // namespace

Resolver::Resolver(Transport& transport, Authorizer& authorizer, RetryPolicy retry)
    : transport_(transport), authorizer_(authorizer), retry_(retry) {}

Result<Resolver::Fetched> Resolver::FetchManifest(const reference::Reference& ref,
                                                  const std::string& locator,
                                                  std::string_view expected_digest) {
  const std::string what = fmt::format("{}: manifest {}", ref.ToString(), locator);
  const std::string scope = PullScope(ref.repository);
  const std::string base = RegistryBaseUrl(ref.registry, transport_.options());
  const std::string registry_origin = OriginOf(base);
  std::string url = fmt::format("{}/v2/{}/manifests/{}", base, ref.repository, locator);
  bool answered = false;
  int redirects = 0;
  TransportResponse response;
  while (true) {
    TransportRequest request{.url = url};
    std::string sent_authorization;
    request.headers.push_back({"Accept", std::string(kManifestAccept)});
    // A registry's Authorization goes to the registry's origin only.
    if (OriginOf(url) == registry_origin) {
      Result<std::optional<std::string>> auth = authorizer_.HeaderFor(ref.registry, scope);
      if (!auth) return Fail(WithContext(auth.error(), ref.ToString()));
      if (*auth) request.headers.push_back({"Authorization", **auth});
      sent_authorization = auth->value_or("");
    }
    Result<TransportResponse> reply = SendWithRetry(transport_, request, kMaxManifestSize, retry_);
    if (!reply) {
      const Error& e = reply.error();
      return Fail(e.code == kCannotPullContainerError ? WithContext(e, what)
                                                      : PullError(what, e.message, e.http_status));
    }
    response = std::move(*reply);
    if (response.status == 401 && OriginOf(url) == registry_origin) {
      if (answered) return Fail(authorizer_.Unauthorized(what, ref.registry, response));
      if (Status s = authorizer_.Answer(ref.registry, scope, response, sent_authorization); !s) {
        return Fail(WithContext(s.error(), ref.ToString()));
      }
      answered = true;
      continue;
    }
    if (response.status >= 300 && response.status < 400 && !response.redirect_url.empty()) {
      if (++redirects > kMaxRedirects) return Fail(PullError(what, "too many redirects"));
      if (Status s = CheckUrlAllowed(response.redirect_url, transport_.options()); !s) {
        return Fail(WithContext(s.error(), what));
      }
      url = response.redirect_url;
      continue;
    }
    break;
  }
  if (response.status != 200) return Fail(RegistryReplyError(what, response));

  Fetched fetched;
  fetched.digest = "sha256:" + crypto::Sha256Hex(response.body);
  if (!expected_digest.empty() && fetched.digest != expected_digest) {
    return Fail(PullError(what, fmt::format("digest mismatch: expected {}, the content hashes "
                                            "to {}",
                                            expected_digest, fetched.digest)));
  }
  std::string_view header_digest = response.HeaderOr("docker-content-digest");
  if (header_digest.starts_with("sha256:") && header_digest != fetched.digest) {
    return Fail(PullError(what, fmt::format("digest mismatch: the registry says {} "
                                            "(Docker-Content-Digest), the content hashes to {}",
                                            header_digest.substr(0, 80), fetched.digest)));
  }
  Result<std::string> media_type =
      ManifestMediaType(response.HeaderOr("content-type"), response.body);
  if (!media_type) return Fail(WithContext(media_type.error(), what));
  fetched.media_type = std::move(*media_type);
  fetched.body = std::move(response.body);
  return fetched;
}

Result<Resolved> Resolver::Resolve(const reference::Reference& ref, const Platform& platform) {
  Fetched top = BERTH_TRY(FetchManifest(ref, ref.Locator(), ref.digest));
  Resolved resolved;
  resolved.digest = top.digest;
  if (!IsIndexMediaType(top.media_type)) {
    resolved.manifest =
        content::Descriptor{top.media_type, top.digest, static_cast<int64_t>(top.body.size()), {}};
    Result<ImageManifest> image = ParseImageManifest(top.media_type, top.body);
    if (!image)
      return Fail(
          WithContext(image.error(), fmt::format("{}: manifest {}", ref.ToString(), top.digest)));
    resolved.image = std::move(*image);
    resolved.manifest_json = std::move(top.body);
    return resolved;
  }

  std::string index_what = fmt::format("{}: index {}", ref.ToString(), top.digest);
  resolved.index =
      content::Descriptor{top.media_type, top.digest, static_cast<int64_t>(top.body.size()), {}};
  Result<std::vector<IndexEntry>> entries = ParseIndex(top.body);
  if (!entries) return Fail(WithContext(entries.error(), index_what));
  Result<IndexEntry> chosen = SelectPlatform(*entries, platform);
  if (!chosen) return Fail(WithContext(chosen.error(), index_what));
  resolved.index_json = std::move(top.body);

  const content::Descriptor& entry = chosen->descriptor;
  Fetched child = BERTH_TRY(FetchManifest(ref, entry.digest, entry.digest));
  std::string child_what = fmt::format("{}: manifest {}", ref.ToString(), entry.digest);
  if (static_cast<int64_t>(child.body.size()) != entry.size) {
    return Fail(PullError(child_what, fmt::format("size mismatch: the index says {} bytes, got {}",
                                                  entry.size, child.body.size())));
  }
  if (child.media_type != entry.media_type) {
    return Fail(PullError(child_what, fmt::format("media type {} differs from the index's {}",
                                                  child.media_type, entry.media_type)));
  }
  Result<ImageManifest> image = ParseImageManifest(child.media_type, child.body);
  if (!image) return Fail(WithContext(image.error(), child_what));
  resolved.manifest = entry;
  resolved.platform = chosen->platform;
  resolved.image = std::move(*image);
  resolved.manifest_json = std::move(child.body);
  return resolved;
}

}  // namespace berth::agent::registry
