// The awslogs log driver: ships what a container prints to CloudWatch Logs, as Docker's
// awslogs driver does for the ECS agent (ECS-FACTS §4.5).
//
// The container's stdout and stderr go to a file the runtime's shim writes
// (runtime::Runtime::LogPath). A Shipper per container tails that file: every complete line
// becomes one event, timestamped when it is read (a line over 256 KiB - 26 bytes is split into
// events of that size; a partial last line is sent once the flush interval passes without its
// newline). Events are batched as Docker's driver batches them: a batch is sent when the flush
// interval (5 s) passes, or when another event would take it past 10,000 events or 1,048,576
// bytes (messages + 26 bytes an event). Batches go out in order, one at a time, each retried
// with backoff (0.5 s doubling to 30 s) while the error is retryable (throttling, 5xx,
// transport); a batch refused for good (InvalidParameter, AccessDenied, ResourceNotFound after
// recreation) is logged (without its content) and dropped.
//
// Mode (the `mode` option): non-blocking (the default, ECS's since 2025) keeps at most
// `max-buffer-size` (default 10m) of read, unsent messages in memory; a line read when the
// buffer is full is dropped and counted, and once there is room again the driver puts an event
// "[berth awslogs] dropped N log lines: the buffer (max-buffer-size B) was full" in the stream
// and logs a warning. blocking: the reader waits for room, so nothing is lost (the container's
// output waits in the file: the container itself never blocks; the file is the buffer).
//
// The stream is created at start (CreateLogStream; ResourceAlreadyExistsException is success);
// when the group does not exist and `awslogs-create-group` is "true", the group is created
// (CreateLogGroup, then the stream again). Every call is signed with the task's
// execution-role credentials as they are when the call is made (CredentialsProvider), so
// credentials refreshed by ACS are used from then on.
//
// The offset shipped so far is saved beside the state (a small file, written after each
// acknowledged batch), so a Shipper started again after an agent restart resumes where the
// last one stopped: lines are neither lost nor sent twice (except a batch in flight when the
// agent died).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "aws/sigv4.h"
#include "common/clock.h"
#include "common/error.h"

namespace berth::agent::awslogs {

inline constexpr size_t kMaxBatchBytes = 1'048'576;
inline constexpr size_t kPerEventBytes = 26;
inline constexpr size_t kMaxBatchEvents = 10'000;
inline constexpr size_t kMaxEventBytes = 262'144 - 26;
inline constexpr size_t kDefaultMaxBufferBytes = 10u << 20;

struct Config {
  std::string endpoint;  // the Logs endpoint (awslogs-endpoint, else the agent's --endpoint)
  std::string ca_file;   // extra CA bundle for it ("": none)
  std::string region;    // awslogs-region
  std::string group;     // awslogs-group
  std::string stream;    // awslogs-stream, else <awslogs-stream-prefix>/<container>/<task id>
  bool create_group = false;                       // awslogs-create-group
  bool blocking = false;                           // mode=blocking
  size_t max_buffer_bytes = kDefaultMaxBufferBytes;  // max-buffer-size (non-blocking)
  std::chrono::milliseconds flush_interval{5000};  // awslogs-force-flush-interval-seconds
  // Where a multi-line event starts (multiline.h): awslogs-multiline-pattern, or
  // awslogs-datetime-format as a pattern (Docker's strftime table); "": an event a line.
  std::string multiline_pattern;
};

// The driver's configuration from a container's logConfiguration options. Without
// awslogs-stream-prefix (and awslogs-stream) the stream is named after `runtime_id` (Docker
// names it after the container id). Errors (InvalidParameterException, the message naming the
// option): awslogs-group or awslogs-region missing, a mode other than blocking/non-blocking, a
// max-buffer-size that is not a size ("10m", "512k", "1g", "4096"), an unknown awslogs-* option.
Result<Config> ConfigFromOptions(const std::map<std::string, std::string>& options,
                                 std::string_view container_name, std::string_view task_id,
                                 std::string_view runtime_id, std::string_view default_endpoint,
                                 std::string_view default_ca_file);

struct Event {
  int64_t timestamp = 0;  // ms since the epoch
  std::string message;
};

// The three CloudWatch Logs calls the driver makes. Errors carry the service's code
// ("ResourceNotFoundException", ...) and HTTP status.
class LogsClient {
 public:
  virtual ~LogsClient() = default;
  virtual Status CreateLogGroup(const std::string& group) = 0;
  virtual Status CreateLogStream(const std::string& group, const std::string& stream) = 0;
  virtual Status PutLogEvents(const std::string& group, const std::string& stream,
                              std::span<const Event> events) = 0;
};

// The credentials to sign with now (the execution role's, refreshed by ACS); nullopt when the
// task has none (the call fails with a clear error, retried until credentials arrive).
using CredentialsProvider = std::function<std::optional<aws::Credentials>()>;

// The real client: JSON 1.1 (Logs_20140328) over aws::CallJson, signed for "logs" in
// config.region.
std::unique_ptr<LogsClient> NewLogsClient(const Config& config, CredentialsProvider credentials,
                                          const Clock& clock = SystemClock::Instance());

class Shipper {
 public:
  // Tails `log_path` from the offset saved in `state_path` (0 when absent) and ships to
  // `client` on a thread of its own, started here. Everything referred to outlives the
  // Shipper.
  Shipper(Config config, LogsClient& client, std::string log_path, std::string state_path,
          const Clock& clock = SystemClock::Instance());
  ~Shipper();  // Stop()

  // The container stopped: reads the file to its end, ships everything left and returns once
  // every batch was acknowledged or dropped, or `timeout` passed (then
  // DeadlineExceeded; what is unsent stays unsent). The engine calls it before it reports the
  // task STOPPED.
  Status Finish(std::chrono::milliseconds timeout);

  // Stops without draining (the agent shuts down; a later Shipper resumes from the saved
  // offset).
  void Stop();

  // Lines dropped so far (non-blocking mode, buffer full).
  int64_t dropped_lines() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::agent::awslogs
