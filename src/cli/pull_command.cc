#include "cli/pull_command.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "agent/content/store.h"
#include "agent/credentials/docker_config_credentials.h"
#include "agent/credentials/secrets_manager_credentials.h"
#include "agent/credentials/static_credentials.h"
#include "agent/image_pull.h"
#include "agent/registry/platform.h"
#include "aws/credentials_file.h"
#include "common/clock.h"

namespace berth::cli {

namespace {

using agent::registry::BlobProgress;
using Clock = std::chrono::steady_clock;

std::string Human(double bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  int u = 0;
  while (bytes >= 1000 && u < 4) {
    bytes /= 1000;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f}{}", bytes, units[u]) : fmt::format("{:.1f}{}", bytes, units[u]);
}

std::string Short(const std::string& digest) {
  size_t colon = digest.find(':');
  return digest.substr(colon == std::string::npos ? 0 : colon + 1, 12);
}

std::string_view StateName(BlobProgress::State s) {
  switch (s) {
    case BlobProgress::State::kWaiting: return "Waiting";
    case BlobProgress::State::kDownloading: return "Downloading";
    case BlobProgress::State::kRetrying: return "Retrying";
    case BlobProgress::State::kDone: return "Pull complete";
    case BlobProgress::State::kAlreadyPresent: return "Already exists";
    case BlobProgress::State::kFailed: return "Failed";
  }
  return "";
}

// Draws one line per blob, redrawn in place on a terminal; on anything else
// prints a line per state change (no byte-by-byte noise in CI logs).
class ProgressView {
 public:
  explicit ProgressView(bool tty) : tty_(tty) {}

  void Update(const BlobProgress& p) {
    auto now = Clock::now();
    auto [it, inserted] = blobs_.try_emplace(p.digest);
    Line& line = it->second;
    if (inserted) {
      order_.push_back(p.digest);
      line.started = now;
    }
    bool state_changed = inserted || line.last.state != p.state || line.last.attempt != p.attempt;
    line.last = p;
    if (!tty_) {
      if (state_changed) {
        std::string extra = p.state == BlobProgress::State::kRetrying
                                ? fmt::format(" (attempt {})", p.attempt + 1)
                                : "";
        fmt::print("{}: {}{}\n", Short(p.digest), StateName(p.state), extra);
        std::fflush(stdout);
      }
      return;
    }
    if (!state_changed && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    Draw(now);
  }

  void Finish() {
    if (tty_) Draw(Clock::now());
  }

 private:
  struct Line {
    BlobProgress last;
    Clock::time_point started;
  };

  void Draw(Clock::time_point now) {
    std::string out;
    if (drawn_ > 0) out += fmt::format("\x1b[{}A", drawn_);  // back to the first line
    for (const auto& digest : order_) {
      const Line& line = blobs_[digest];
      const BlobProgress& p = line.last;
      std::string text = fmt::format("{}: {:<15}", Short(digest), StateName(p.state));
      if (p.state == BlobProgress::State::kDownloading && p.total > 0) {
        constexpr int kWidth = 40;
        int filled = static_cast<int>(kWidth * static_cast<double>(p.done) / p.total);
        filled = std::clamp(filled, 0, kWidth);
        double secs = std::chrono::duration<double>(now - line.started).count();
        text += fmt::format(" [{}>{}] {}/{} {}/s", std::string(filled, '='),
                            std::string(kWidth - filled, ' '), Human(p.done), Human(p.total),
                            Human(secs > 0 ? p.done / secs : 0));
      }
      out += "\x1b[2K" + text + "\n";
    }
    drawn_ = static_cast<int>(order_.size());
    fmt::print("{}", out);
    std::fflush(stdout);
  }

  bool tty_;
  std::map<std::string, Line> blobs_;
  std::vector<std::string> order_;
  int drawn_ = 0;
  Clock::time_point last_draw_{};
};

// The caller's AWS credentials, chosen as the AWS CLI chooses them (berth's
// ./berth-data/credentials when nothing else names a file).
Result<aws::Credentials> CallerCredentials(const PullFlags& f) {
  return aws::CredentialsFromChain(f.profile, f.credentials_file, "./berth-data/credentials");
}

Result<std::unique_ptr<agent::credentials::CredentialSource>> SecretCredentials(
    const PullFlags& f) {
  agent::credentials::SecretsManagerOptions o;
  o.endpoint = f.endpoint;
  o.region = f.region;
  for (const char* name : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
    const char* value = std::getenv(name);
    if (o.region.empty() && value && *value) o.region = value;
  }
  if (o.region.empty()) o.region = "us-east-1";
  o.credentials = BERTH_TRY(CallerCredentials(f));
  o.secret_id = f.repository_credentials;
  o.ca_file = f.ca_file;  // an https endpoint signed by the same private CA
  auto source = BERTH_TRY(
      agent::credentials::SecretsManagerCredentials::Fetch(o, SystemClock::Instance().Now()));
  return std::unique_ptr<agent::credentials::CredentialSource>(std::move(source));
}

// --username with the password on the first line of standard input. Errors
// never contain the password.
Result<std::unique_ptr<agent::credentials::CredentialSource>> StdinCredentials(const PullFlags& f,
                                                                               std::istream& in) {
  if (f.username.empty() || !f.password_stdin) {
    return Fail("InvalidRegistryCredentials",
                "--username and --password-stdin go together: the password for --username is "
                "read from standard input");
  }
  if (f.username.find(':') != std::string::npos) {
    return Fail("InvalidRegistryCredentials", "--username cannot contain ':'");
  }
  std::string password;
  std::getline(in, password);
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) {
    return Fail("InvalidRegistryCredentials",
                "--password-stdin: no password on the first line of standard input");
  }
  return std::unique_ptr<agent::credentials::CredentialSource>(
      std::make_unique<agent::credentials::StaticCredentials>(
          agent::credentials::RegistryCredentials{f.username, std::move(password), ""}));
}

}  // namespace

int RunPull(const PullFlags& f) {
  agent::ImagePullOptions options;
  auto policy = agent::ParsePullPolicy(f.policy);
  if (!policy) {
    fmt::print(stderr, "berth pull: {}\n", policy.error().message);
    return 2;
  }
  options.policy = *policy;
  if (!f.platform.empty()) {
    auto platform = agent::registry::ParsePlatform(f.platform);
    if (!platform) {
      fmt::print(stderr, "berth pull: {}\n", platform.error().message);
      return 2;
    }
    options.pull.platform = *platform;
  }
  options.pull.transport.insecure_hosts = f.insecure_registries;
  options.pull.transport.ca_file = f.ca_file;
  options.pull.transport.low_speed_bytes = f.low_speed_limit;
  options.pull.transport.low_speed_time = std::chrono::seconds(f.low_speed_time);
  // Capped at ~30 years, which is no deadline, so that the clock cannot overflow.
  options.pull.timeout =
      std::chrono::milliseconds(std::llround(std::min(f.timeout_seconds, 1e9) * 1000));
  options.pull.fetch.parallelism = std::max(1, f.parallel);
  options.unpack.max_bytes = f.max_layer_bytes;
  options.unpack.max_entries = f.max_layer_files;
  options.dest = f.dest;
  // Before credentials are fetched and anything is downloaded.
  if (!f.dest.empty()) {
    if (Status free = agent::CheckDestination(f.dest); !free) {
      fmt::print(stderr, "berth pull: --dest: {}\n", free.error().message);
      return 2;
    }
  }

  std::unique_ptr<agent::credentials::CredentialSource> creds;
  bool stdin_creds = f.password_stdin || !f.username.empty();
  if (int(!f.creds.empty()) + int(!f.docker_config.empty()) +
          int(!f.repository_credentials.empty()) + int(stdin_creds) >
      1) {
    fmt::print(stderr,
               "berth pull: give one of --creds, --username with --password-stdin, "
               "--docker-config and --repository-credentials\n");
    return 2;
  }
  if (stdin_creds) {
    auto source = StdinCredentials(f, std::cin);
    if (!source) {
      fmt::print(stderr, "berth pull: {}\n", source.error().message);
      return 2;
    }
    creds = std::move(*source);
  } else if (!f.repository_credentials.empty()) {
    auto source = SecretCredentials(f);
    if (!source) {
      fmt::print(stderr, "berth pull: {}: {}\n", source.error().code, source.error().message);
      return source.error().code == "InvalidCredentials" ? 2 : 1;
    }
    creds = std::move(*source);
  } else if (!f.creds.empty()) {
    auto parsed = agent::credentials::StaticCredentials::Parse(f.creds);
    if (!parsed) {
      fmt::print(stderr, "berth pull: --creds: {}\n", parsed.error().message);
      return 2;
    }
    creds = std::move(*parsed);
  } else if (!f.docker_config.empty()) {
    std::ifstream in(f.docker_config);
    if (!in) {
      fmt::print(stderr, "berth pull: cannot read {}\n", f.docker_config);
      return 2;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    auto parsed = agent::credentials::DockerConfigCredentials::Parse(ss.str());
    if (!parsed) {
      fmt::print(stderr, "berth pull: {}: {}\n", f.docker_config, parsed.error().message);
      return 2;
    }
    creds = std::move(*parsed);
  }
  options.credentials = creds.get();

  // Nothing reads the blobs now (with --dest, the streamed unpack takes each layer from the
  // download; the fetcher keeps cached what it cannot): keep them out of the page cache.
  auto store = agent::content::Store::Open(f.store, {.write_around_cache = true});
  if (!store) {
    fmt::print(stderr, "berth pull: cannot open the content store {}: {}\n", f.store,
               store.error().message);
    return 1;
  }
  ProgressView view(isatty(STDOUT_FILENO));
  options.pull.fetch.progress = [&view](const BlobProgress& p) { view.Update(p); };
  auto start = Clock::now();
  auto result = agent::PullImage(**store, f.image, options);
  view.Finish();
  if (!result) {
    fmt::print(stderr, "berth pull: {}: {}\n", result.error().code, result.error().message);
    return 1;
  }
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  int64_t bytes = 0;
  for (const auto& l : result->image.layers) bytes += std::max<int64_t>(0, l.size);
  if (!result->warning.empty()) fmt::print(stderr, "berth pull: warning: {}\n", result->warning);
  fmt::print("Digest: {}\n", result->image.digest);
  fmt::print("Status: {} {} ({} layers, {}, {:.2f}s){}\n",
             result->from_cache ? "Image is up to date for" : "Downloaded newer image for", f.image,
             result->image.layers.size(), Human(static_cast<double>(bytes)), secs,
             f.dest.empty() ? "" : fmt::format("; rootfs at {}", f.dest));
  return 0;
}

int RunImageRemove(const std::string& store_dir, const std::vector<std::string>& images) {
  auto store = agent::content::Store::Open(store_dir);
  if (!store) {
    fmt::print(stderr, "berth image rm: {}\n", store.error().message);
    return 1;
  }
  int rc = 0;
  for (const auto& image : images) {
    auto removed = agent::ForgetImage(**store, image);
    if (!removed) {
      fmt::print(stderr, "berth image rm: {}: {}\n", image, removed.error().message);
      rc = 1;
    } else if (!*removed) {
      fmt::print(stderr, "berth image rm: {}: no such image in {}\n", image, store_dir);
      rc = 1;
    } else {
      fmt::print("Untagged: {}\n", image);
    }
  }
  return rc;
}

int RunImagePrune(const std::string& store_dir) {
  auto store = agent::content::Store::Open(store_dir);
  if (!store) {
    fmt::print(stderr, "berth image prune: {}\n", store.error().message);
    return 1;
  }
  auto freed = agent::PruneImages(**store);
  if (!freed) {
    fmt::print(stderr, "berth image prune: {}\n", freed.error().message);
    return 1;
  }
  fmt::print("Total reclaimed space: {}\n", Human(static_cast<double>(*freed)));
  return 0;
}

}  // namespace berth::cli
