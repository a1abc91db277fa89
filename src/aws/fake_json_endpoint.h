// Test support: an in-process JSON 1.1 endpoint (http::Server) for the tests of berth's own
// clients (the agent's ECS client, the awslogs driver). Each call's SigV4 signature is checked
// for one service and region and one key (else 403 InvalidSignatureException); its target and
// body are recorded and `reply` answers it. Header-only; for tests.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "aws/fake_resolver.h"
#include "aws/sigv4.h"
#include "common/clock.h"
#include "http/server.h"

namespace berth::aws::testing {

class FakeJsonEndpoint {
 public:
  struct Call {
    std::string target;  // X-Amz-Target
    std::string body;
  };
  // (status, JSON body) for a call of operation `op` (the target after its '.').
  using Reply = std::function<std::pair<int, std::string>(const std::string& op,
                                                          const std::string& body)>;

  FakeJsonEndpoint(std::string service, std::string region, std::string access_key_id,
                   std::string secret, Reply reply)
      : service_(std::move(service)), region_(std::move(region)), reply_(std::move(reply)) {
    resolver_.Add(std::move(access_key_id), std::move(secret));
    auto started = http::Server::Start(
        {.threads = 1}, [this](const http::Request& r) { return Serve(r); },
        [](const http::Request&, int status, std::string_view) { return http::Response{status}; });
    if (started) server_ = std::move(*started);
  }

  bool started() const { return server_ != nullptr; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  std::vector<Call> calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }

 private:
  http::Response Serve(const http::Request& r) {
    std::lock_guard lock(mu_);
    auto verified = Verify(r, resolver_, SystemClock::Instance().Now());
    if (!verified || verified->service != service_ || verified->region != region_) {
      return {403, {}, R"({"__type":"InvalidSignatureException","message":"bad signature"})"};
    }
    std::string target(r.HeaderOr("x-amz-target"));
    calls_.push_back({target, r.body});
    auto [status, body] = reply_(target.substr(target.find('.') + 1), r.body);
    return {status, {{"Content-Type", "application/x-amz-json-1.1"}}, std::move(body)};
  }

  const std::string service_;
  const std::string region_;
  const Reply reply_;
  mutable std::mutex mu_;
  FakeResolver resolver_;
  std::vector<Call> calls_;
  std::unique_ptr<http::Server> server_;
};

}  // namespace berth::aws::testing
