// The Shipper (shipper.h): a reader thread tails the output file into a bounded queue of
// events; a sender thread batches them and calls PutLogEvents, one batch at a time.
#include "agent/awslogs/shipper.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "agent/awslogs/multiline.h"
#include "common/fd.h"
#include "common/file.h"
#include "common/log.h"
#include "common/strings.h"

namespace berth::agent::awslogs {

namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

constexpr auto kPoll = 100ms;  // how often the reader looks for more output at the file's end
constexpr size_t kReadChunk = 256 << 10;
constexpr auto kFirstBackoff = 500ms;
constexpr auto kMaxBackoff = 30s;

// Throttling, server faults, transport failures (status 0) and missing or expired
// credentials (ACS sends fresh ones) are worth another try; other refusals are final.
bool Retryable(const Error& e) {
  if (e.http_status == 0 || e.http_status >= 500 || e.http_status == 429) return true;
  return e.code == "ThrottlingException" || e.code == "Throttling" ||
         e.code == "ServiceUnavailableException" || e.code == "ExpiredTokenException" ||
         e.code == "ExpiredToken" || e.code == "NoCredentials" ||
         e.code == "RequestTimeout" || e.code == "ConnectionFailed";
}

// `bytes` with every ill-formed UTF-8 sequence replaced by U+FFFD (CloudWatch Logs takes
// UTF-8 only, as Docker's driver replaces them).
std::string ValidUtf8(std::string_view bytes) {
  bool ascii = std::all_of(bytes.begin(), bytes.end(),
                           [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if (ascii) return std::string(bytes);
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    size_t bad = 0;
    size_t n = Utf8SequenceLength(bytes, i, &bad);
    if (n == 0) {
      out += kUtf8Replacement;
      i += bad;
    } else {
      out.append(bytes.substr(i, n));
      i += n;
    }
  }
  return out;
}

// "10m", "64k" or bytes, as max-buffer-size is written.
std::string SizeText(size_t bytes) {
  if (bytes % (1u << 20) == 0) return fmt::format("{}m", bytes >> 20);
  if (bytes % (1u << 10) == 0) return fmt::format("{}k", bytes >> 10);
  return std::to_string(bytes);
}

int64_t LoadOffset(const std::string& path) {
  auto text = ReadSmallFile(path, 64);
  if (!text || !*text) return 0;
  std::string_view digits = Trim(**text);
  int64_t offset = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), offset);
  if (ec != std::errc() || end != digits.data() + digits.size() || offset < 0) return 0;
  return offset;
}

}  // namespace

struct Shipper::Impl {
  struct Entry {
    Event event;
    int64_t end_offset;  // the file is shipped to here once this event is acknowledged
  };

  Impl(Config c, LogsClient& l, std::string log, std::string state, const Clock& k)
      : config(std::move(c)),
        client(l),
        log_path(std::move(log)),
        state_path(std::move(state)),
        clock(k) {
    if (!config.multiline_pattern.empty()) {
      auto compiled = MultilinePattern::Compile(config.multiline_pattern);
      if (compiled) {
        multiline.emplace(std::move(*compiled));
      } else {  // ConfigFromOptions refuses it first
        log::Warn("awslogs multiline pattern not used", {{"error", compiled.error().message}});
      }
    }
  }

  const Config config;
  std::optional<MultilinePattern> multiline;
  LogsClient& client;
  const std::string log_path;
  const std::string state_path;
  const Clock& clock;

  std::mutex mu;
  std::condition_variable cv;  // every wait: room, events, stop, finish
  std::deque<Entry> queue;
  size_t queue_bytes = 0;       // messages in `queue`
  int64_t pending_drops = 0;    // dropped since the last notice
  int64_t last_timestamp = 0;   // events stay in order even if the wall clock steps back
  bool stop = false;
  bool finishing = false;
  bool reader_done = false;  // read to the end after Finish
  bool sender_done = false;  // shipped everything the reader read
  std::atomic<int64_t> dropped{0};
  int64_t saved_offset = -1;  // the sender's
  std::thread reader;
  std::thread sender;

  void Join() {
    if (reader.joinable()) reader.join();
    if (sender.joinable()) sender.join();
  }

  // Requires mu. Waits `delay` unless stopped; false when stopped.
  bool SleepLocked(std::unique_lock<std::mutex>& lock, std::chrono::milliseconds delay) {
    return !cv.wait_for(lock, delay, [&] { return stop; });
  }
  bool Sleep(std::chrono::milliseconds delay) {
    std::unique_lock lock(mu);
    return SleepLocked(lock, delay);
  }

  int64_t NowMillis() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock.Now().time_since_epoch())
        .count();
  }

  // Requires mu. `at` (ms; -1: now), never before an event already queued.
  int64_t NextTimestamp(int64_t at = -1) {
    last_timestamp = std::max(last_timestamp, at < 0 ? NowMillis() : at);
    return last_timestamp;
  }

  // Requires mu. A queue accepts a message when it is empty or the message fits.
  bool Fits(size_t size) const {
    return queue.empty() || queue_bytes + size <= config.max_buffer_bytes;
  }

  // Requires mu. Once there is room after drops, the count goes in the stream.
  void NoticeDrops(int64_t end_offset) {
    if (pending_drops == 0) return;
    std::string notice = fmt::format(
        "[berth awslogs] dropped {} log lines: the buffer (max-buffer-size {}) was full",
        pending_drops, SizeText(config.max_buffer_bytes));
    if (!Fits(notice.size())) return;
    log::Warn("awslogs dropped log lines", {{"group", config.group}, {"stream", config.stream},
                                             {"dropped", pending_drops}});
    pending_drops = 0;
    Push({{NextTimestamp(), std::move(notice)}, end_offset});
  }

  // Requires mu.
  void Push(Entry entry) {
    if (queue.empty()) cv.notify_all();
    queue_bytes += entry.event.message.size();
    queue.push_back(std::move(entry));
  }

  // One event (reader thread). Non-blocking: dropped when the queue is full; blocking: waits
  // for room. False when stopped.
  bool Enqueue(std::string message, int64_t end_offset, int64_t start_offset,
               int64_t timestamp = -1) {
    std::unique_lock lock(mu);
    if (config.blocking) {
      cv.wait(lock, [&] { return stop || Fits(message.size()); });
      if (stop) return false;
    } else if (!Fits(message.size())) {
      ++pending_drops;
      ++dropped;
      return !stop;
    }
    NoticeDrops(start_offset);
    Push({{NextTimestamp(timestamp), std::move(message)}, end_offset});
    return !stop;
  }

  // Multi-line mode (reader thread): the event being gathered, its first line's start and
  // read time, and the end of its last line.
  std::string gathered;
  int64_t gathered_start = 0, gathered_end = 0, gathered_at = 0;
  Steady::time_point gathered_since;

  // A piece of a line (at most an event) joins the event being gathered, unless it starts the
  // next one, would take it past an event's size, or the event is a flush interval old. False
  // when stopped.
  bool Gather(std::string_view piece, int64_t start_offset, int64_t end_offset) {
    size_t adds = piece.size() + (piece.size() < kMaxEventBytes ? 1 : 0);
    if (!gathered.empty() &&
        (multiline->StartsEvent(piece) || gathered.size() + adds > kMaxEventBytes ||
         Steady::now() - gathered_since >= config.flush_interval)) {
      if (!FlushGathered()) return false;
    }
    if (gathered.empty()) {
      gathered_start = start_offset;
      gathered_at = NowMillis();
      gathered_since = Steady::now();
    }
    gathered.append(piece);
    if (piece.size() < kMaxEventBytes) gathered += '\n';  // lines keep their ends, as Docker's
    gathered_end = end_offset;
    return true;
  }

  bool FlushGathered() {
    if (gathered.empty()) return true;
    std::string event = std::move(gathered);
    gathered.clear();
    return Enqueue(std::move(event), gathered_end, gathered_start, gathered_at);
  }

  // A line read (without its newline): split into events of at most kMaxEventBytes. Only
  // the last piece carries the line's end: a restart re-reads a line shipped in part.
  bool Line(std::string_view bytes, int64_t start_offset, int64_t end_offset) {
    if (multiline && bytes.empty()) return Gather(bytes, start_offset, end_offset);
    if (bytes.empty()) return true;  // CloudWatch Logs has no empty events
    std::string text = ValidUtf8(bytes);
    std::string_view rest = text;
    while (!rest.empty()) {
      std::string_view piece = Utf8Prefix(rest, kMaxEventBytes);
      if (piece.empty()) piece = rest.substr(0, kMaxEventBytes);
      rest.remove_prefix(piece.size());
      int64_t end = rest.empty() ? end_offset : start_offset;
      if (multiline ? !Gather(piece, start_offset, end)
                    : !Enqueue(std::string(piece), end, start_offset)) {
        return false;
      }
    }
    return true;
  }

  void ReadLoop() {
    int64_t offset = LoadOffset(state_path);
    Fd fd;
    std::string partial;  // bytes after the last newline
    int64_t partial_start = offset;
    Steady::time_point partial_since;  // when `partial` got its first byte
    std::vector<char> buffer(kReadChunk);
    while (true) {
      bool finish;
      {
        std::lock_guard lock(mu);
        if (stop) return;
        finish = finishing;
      }
      if (!fd.valid()) {
        fd = Fd(::open(log_path.c_str(), O_RDONLY | O_CLOEXEC));
        struct stat st{};
        if (fd.valid() && ::fstat(fd.get(), &st) == 0 && st.st_size < offset) {
          offset = partial_start = 0;  // another file than the offset was saved for
        }
      }
      ssize_t n = fd.valid() ? ::pread(fd.get(), buffer.data(), buffer.size(), offset) : 0;
      if (n > 0) {
        partial.append(buffer.data(), size_t(n));
        offset += n;
        size_t begin = 0;
        for (size_t nl; (nl = partial.find('\n', begin)) != std::string::npos; begin = nl + 1) {
          int64_t line_start = partial_start + int64_t(begin);
          if (!Line(std::string_view(partial).substr(begin, nl - begin), line_start,
                    line_start + int64_t(nl - begin) + 1)) {
            return;
          }
        }
        // A line longer than an event goes out in pieces as it is read.
        while (partial.size() - begin > kMaxEventBytes) {
          std::string_view rest = std::string_view(partial).substr(begin);
          std::string_view piece = Utf8Prefix(rest, kMaxEventBytes);
          if (piece.empty()) piece = rest.substr(0, kMaxEventBytes);
          if (!Line(piece, partial_start + int64_t(begin), partial_start + int64_t(begin))) {
            return;
          }
          begin += piece.size();
        }
        bool was_partial = begin == 0 && partial.size() > size_t(n);
        partial.erase(0, begin);
        partial_start += int64_t(begin);
        if (!partial.empty() && !was_partial) partial_since = Steady::now();
        continue;
      }
      // At the end of what was written so far: a partial line waits for its newline up to
      // the flush interval (or until the container stopped).
      if (!partial.empty() && (finish || Steady::now() - partial_since >= config.flush_interval)) {
        if (!Line(partial, partial_start, offset)) return;
        partial.clear();
        partial_start = offset;
      }
      // A multi-line event goes once it is a flush interval old (or the container stopped),
      // as Docker's driver flushes it.
      if (!gathered.empty() &&
          (finish || Steady::now() - gathered_since >= config.flush_interval)) {
        if (!FlushGathered()) return;
      }
      std::unique_lock lock(mu);
      if (finish) {
        NoticeDrops(offset);
        reader_done = true;
        cv.notify_all();
        return;
      }
      cv.wait_for(lock, kPoll, [&] { return stop || finishing; });
    }
  }

  // CreateLogStream, creating the group first when allowed and missing. False when stopped.
  bool CreateStream() {
    auto backoff = std::chrono::milliseconds(kFirstBackoff);
    bool group_created = false;
    while (true) {
      Status made = client.CreateLogStream(config.group, config.stream);
      if (made || made.error().code == "ResourceAlreadyExistsException") return true;
      Error error = made.error();
      if (error.code == "ResourceNotFoundException" && config.create_group && !group_created) {
        Status group = client.CreateLogGroup(config.group);
        if (group || group.error().code == "ResourceAlreadyExistsException") {
          group_created = true;
          continue;
        }
        error = group.error();
      }
      if (!Retryable(error)) {
        log::Error("awslogs cannot create its log stream",
                   {{"group", config.group}, {"stream", config.stream}, {"code", error.code},
                    {"error", error.message}});
        return true;  // puts will say why again
      }
      log::Warn("awslogs: creating the log stream failed; retrying",
                {{"group", config.group}, {"code", error.code}, {"error", error.message}});
      if (!Sleep(backoff)) return false;
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, kMaxBackoff);
    }
  }

  // One batch, retried while retryable. False when stopped before it was settled.
  bool Send(const std::vector<Event>& batch) {
    auto backoff = std::chrono::milliseconds(kFirstBackoff);
    bool recreated = false;
    while (true) {
      Status put = client.PutLogEvents(config.group, config.stream, batch);
      if (put) return true;
      const Error& error = put.error();
      if (error.code == "ResourceNotFoundException" && !recreated) {
        recreated = true;  // the stream (or group) was deleted: made again, once
        if (!CreateStream()) return false;
        continue;
      }
      if (!Retryable(error)) {
        log::Error("CloudWatch Logs refused a batch; it is dropped",
                   {{"group", config.group}, {"stream", config.stream},
                    {"events", int64_t(batch.size())}, {"code", error.code},
                    {"error", error.message}});
        return true;
      }
      log::Warn("awslogs: PutLogEvents failed; retrying",
                {{"group", config.group}, {"stream", config.stream}, {"code", error.code},
                 {"error", error.message}});
      if (!Sleep(backoff)) return false;
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, kMaxBackoff);
    }
  }

  void SaveOffset(int64_t offset) {
    if (offset <= saved_offset) return;
    auto written = WriteFileAtomically(state_path, fmt::format("{}\n", offset), 0600);
    if (!written) {
      log::Warn("awslogs cannot save its offset",
                {{"path", state_path}, {"error", written.error().message}});
      return;
    }
    saved_offset = offset;
  }

  void SendLoop() {
    if (!CreateStream()) return;
    std::vector<Event> batch;
    size_t batch_bytes = 0;
    int64_t batch_end = 0;
    Steady::time_point batch_started;
    while (true) {
      std::unique_lock lock(mu);
      bool full = false;
      bool took = false;
      while (!queue.empty()) {
        Entry& e = queue.front();
        size_t size = e.event.message.size() + kPerEventBytes;
        if (batch.size() >= kMaxBatchEvents || batch_bytes + size > kMaxBatchBytes) {
          full = true;
          break;
        }
        if (batch.empty()) batch_started = Steady::now();
        queue_bytes -= e.event.message.size();
        batch_bytes += size;
        batch_end = e.end_offset;
        batch.push_back(std::move(e.event));
        queue.pop_front();
        took = true;
      }
      if (took) {
        NoticeDrops(batch_end);
        cv.notify_all();  // room for the reader
        if (!queue.empty() && !full) continue;  // the notice
      }
      if (stop) return;
      bool input_done = reader_done && queue.empty();
      bool due = !batch.empty() && (full || input_done ||
                                    Steady::now() - batch_started >= config.flush_interval);
      if (!due) {
        if (input_done) {
          sender_done = true;
          cv.notify_all();
          return;
        }
        auto woken = [&] { return stop || reader_done || !queue.empty(); };
        if (batch.empty()) {
          cv.wait(lock, woken);
        } else {
          cv.wait_until(lock, batch_started + config.flush_interval, woken);
        }
        continue;
      }
      lock.unlock();
      if (!Send(batch)) return;
      SaveOffset(batch_end);
      batch.clear();
      batch_bytes = 0;
    }
  }
};

Shipper::Shipper(Config config, LogsClient& client, std::string log_path, std::string state_path,
                 const Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(config), client, std::move(log_path),
                                   std::move(state_path), clock)) {
  impl_->sender = std::thread([impl = impl_.get()] { impl->SendLoop(); });
  impl_->reader = std::thread([impl = impl_.get()] { impl->ReadLoop(); });
}

Shipper::~Shipper() { Stop(); }

Status Shipper::Finish(std::chrono::milliseconds timeout) {
  bool done;
  {
    std::unique_lock lock(impl_->mu);
    impl_->finishing = true;
    impl_->cv.notify_all();
    done = impl_->cv.wait_for(lock, timeout,
                              [&] { return impl_->sender_done || impl_->stop; }) &&
           impl_->sender_done;
  }
  if (done) {
    impl_->Join();
    return {};
  }
  Stop();
  return Fail("DeadlineExceeded",
              fmt::format("awslogs could not ship everything to {} / {} within {} ms",
                          impl_->config.group, impl_->config.stream, timeout.count()),
              0);
}

void Shipper::Stop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stop = true;
    impl_->cv.notify_all();
  }
  impl_->Join();
}

int64_t Shipper::dropped_lines() const { return impl_->dropped.load(); }

}  // namespace berth::agent::awslogs
