#include "agent/registry/fetcher.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "agent/registry/curl_setup.h"
#include "agent/registry/errors.h"
#include "agent/registry/manifest.h"

namespace berth::agent::registry {
namespace {

using Steady = std::chrono::steady_clock;
using State = BlobProgress::State;

constexpr int kMaxRedirects = 10;
// Error replies are read for their message only.
constexpr size_t kMaxErrorBody = 64 << 10;
// How often to look again when another writer holds the blob.
constexpr std::chrono::milliseconds kBusyWait{100};
// Longest sleep of the loop, so the deadline and new work are noticed.
constexpr std::chrono::milliseconds kMaxWait{100};
constexpr long kReceiveBuffer = 128 << 10;
// WriterPipe: bytes are handed to the writing thread in buffers of this
// size, at most this many of them queued per blob: 4 through the page cache,
// 16 around it (a write around the cache waits for the disk, and the network
// must not wait for it).
constexpr size_t kPipeBuffer = 1 << 20;
constexpr size_t kPipeDepth = 4;
constexpr size_t kPipeDepthAroundCache = 16;

// Writes (and so hashes: the store's Writer hashes what it writes) one blob's
// bytes on a thread of its own, so the transfer loop only receives. With
// several blobs in flight, SHA-256 and the copy into the page cache spread
// over the cores instead of queueing behind the network on one thread.
// The loop hands over full buffers; when kPipeDepth are waiting, Push waits
// for the writing thread. Blobs smaller than one buffer never start a thread.
// The Writer is used by the writing thread only between Push and Drain: call
// Drain (or destroy the pipe, which drains it) before any other use of it.
// Each block goes to the FetchOptions::tap, if any, just before the store's writer takes it.
class WriterPipe;

// One buffer of a WriterPipe: kPipeBuffer bytes aligned for O_DIRECT, so a
// store writing around the page cache takes it as it is.
struct PipeBlock {
  struct Free {
    void operator()(char* p) const { std::free(p); }
  };
  std::unique_ptr<char, Free> data{
      static_cast<char*>(std::aligned_alloc(content::kDirectAlignment, kPipeBuffer))};
  size_t size = 0;
  std::string_view view() const { return {data.get(), size}; }
};

class WriterPipe {
 public:
  ~WriterPipe() {
    (void)Drain();
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
  }
  WriterPipe(const WriterPipe&) = delete;
  WriterPipe& operator=(const WriterPipe&) = delete;

  WriterPipe(content::Writer& writer, size_t depth, BlobTap* tap, const content::Descriptor& blob)
      : writer_(writer), depth_(depth), tap_(tap), blob_(blob), offset_(writer.Offset()) {}

  // Queues bytes; false when no buffer could be allocated (it runs inside
  // libcurl's write callback: nothing may throw through it). A write error
  // shows in failed() and Drain().
  bool Push(std::string_view data) {
    while (!data.empty()) {
      if (!current_) current_ = std::make_unique<PipeBlock>();
      if (!current_->data) {
        current_.reset();
        return false;
      }
      size_t n = std::min(data.size(), kPipeBuffer - current_->size);
      std::memcpy(current_->data.get() + current_->size, data.data(), n);
      current_->size += n;
      data.remove_prefix(n);
      if (current_->size == kPipeBuffer) Hand();
    }
    return true;
  }

  // True once a write has failed (Drain says how); cheap, for aborting early.
  bool failed() const { return failed_.load(std::memory_order_relaxed); }

  // Writes everything pushed so far and waits for it; the first write error.
  content::BlobStatus Drain() {
    if (current_ && current_->size > 0) {
      if (!worker_.joinable()) {  // a small blob: no thread for it
        std::lock_guard lock(mu_);
        if (status_) {
          Tap(current_->view());
          status_ = writer_.Write(current_->view());
          if (!status_) failed_ = true;
        }
        current_->size = 0;
      } else {
        Hand();
      }
    }
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return queue_.empty() && !busy_; });
    return status_;
  }

 private:
  void Hand() {
    std::unique_lock lock(mu_);
    if (!worker_.joinable()) worker_ = std::thread([this] { Work(); });
    cv_.wait(lock, [&] { return queue_.size() < depth_; });
    queue_.push_back(std::move(current_));
    if (!free_.empty()) {
      current_ = std::move(free_.back());
      free_.pop_back();
    }
    cv_.notify_all();
  }

  void Work() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left
      std::unique_ptr<PipeBlock> block = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      bool write = status_.has_value();  // after an error the rest is dropped
      lock.unlock();
      cv_.notify_all();  // room in the queue
      // The tap first: the extractor then works while the store waits for the disk (a write
      // around the page cache takes about as long as the network did to bring the block).
      if (write) Tap(block->view());
      content::BlobStatus written = write ? writer_.Write(block->view()) : content::BlobStatus{};
      block->size = 0;
      lock.lock();
      busy_ = false;
      if (!written && status_) {
        status_ = std::move(written);
        failed_ = true;
      }
      free_.push_back(std::move(block));
      cv_.notify_all();  // maybe idle now
    }
  }

  // Hands written bytes to the tap (one thread at a time: the worker, or Drain without one),
  // and tells the writer whether anybody will read them back from the store soon: with no
  // tap, the store's own choice stands.
  void Tap(std::string_view bytes) {
    if (tap_ != nullptr) writer_.KeepCached(!tap_->Written(blob_, offset_, bytes));
    offset_ += static_cast<int64_t>(bytes.size());
  }

  content::Writer& writer_;
  const size_t depth_;                  // full blocks queued at most
  BlobTap* const tap_;
  const content::Descriptor& blob_;     // the Job's, which outlives its pipe
  int64_t offset_;                      // where the next tapped bytes start
  std::unique_ptr<PipeBlock> current_;  // filled by Push, on the loop's thread
  std::atomic<bool> failed_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<PipeBlock>> queue_;  // full blocks waiting for the worker
  std::vector<std::unique_ptr<PipeBlock>> free_;  // written blocks, for reuse
  bool busy_ = false;                             // the worker is writing a block
  bool stop_ = false;
  content::BlobStatus status_;  // the first write error
  std::thread worker_;
};

class Run;

// One blob's download, across attempts, redirects and the refetch.
struct Job {
  Run* run = nullptr;
  content::Descriptor desc;
  std::unique_ptr<content::Writer> writer;
  // Writes for `writer` on another thread; declared after it so it is
  // destroyed (drained) first. Set whenever `writer` is.
  std::unique_ptr<WriterPipe> pipe;
  int64_t offset = 0;  // bytes received for the writer (some may still be in `pipe`)
  std::string url;     // empty: start at the registry
  int failures = 0;    // retryable failures so far
  bool answered = false;
  int redirects = 0;
  bool refetched = false;
  bool done = false;
  Steady::time_point ready_at{};
  Steady::time_point last_report{};

  // The transfer in flight (easy != nullptr while active).
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  char error_buffer[CURL_ERROR_SIZE] = {};
  std::string sent_authorization;
  int64_t request_offset = 0;
  bool body_decided = false;
  bool write_body = false;
  std::vector<http::Header> response_headers;
  std::string error_body;
  bool error_body_truncated = false;
  std::optional<Error> fatal;   // set by a callback: the whole fetch fails
  bool present = false;         // another writer committed the blob meanwhile
  bool range_mismatch = false;  // a 206 that does not continue our data
  bool overrun = false;         // more bytes than the descriptor's size
};

// "bytes <start>-<end>/<total>" -> start, or -1.
int64_t ContentRangeStart(std::string_view value) {
  if (!value.starts_with("bytes ")) return -1;
  value.remove_prefix(6);
  size_t dash = value.find('-');
  if (dash == 0 || dash == std::string_view::npos || dash > 18) return -1;
  int64_t start = 0;
  for (char c : value.substr(0, dash)) {
    if (c < '0' || c > '9') return -1;
    start = start * 10 + (c - '0');
  }
  return start;
}

size_t OnBodyTrampoline(char* data, size_t size, size_t n, void* user);

size_t OnHeaderTrampoline(char* data, size_t size, size_t n, void* user) {
  internal::ParseHeaderLine(std::string_view(data, size * n),
                            &static_cast<Job*>(user)->response_headers);
  return size * n;
}

// The state of one Fetch call.
class Run {
 public:
  Run(const TransportOptions& transport, Authorizer& authorizer, content::Store& store,
      const FetchOptions& options, std::string_view registry, std::string_view repository)
      : transport_(transport),
        authorizer_(authorizer),
        store_(store),
        options_(options),
        registry_(registry),
        repository_(repository),
        scope_(PullScope(repository)) {
    std::string base = RegistryBaseUrl(registry, transport);
    registry_origin_ = OriginOf(base);
    blob_url_prefix_ = fmt::format("{}/v2/{}/blobs/", base, repository);
  }

  ~Run() {
    for (auto& job : jobs_) Release(*job);
    if (multi_ != nullptr) internal::ReleaseMulti(multi_);
  }

  Status Execute(const std::vector<content::Descriptor>& blobs) {
    internal::CurlGlobalInit();
    multi_ = internal::AcquireMulti();
    if (multi_ == nullptr) return InternalFailure("curl_multi_init failed");
    // Separate connections rather than HTTP/2 streams on one: bulk transfers
    // are faster side by side.
    curl_multi_setopt(multi_, CURLMOPT_PIPELINING, CURLPIPE_NOTHING);

    std::set<std::string> seen;
    for (const content::Descriptor& d : blobs) {
      if (!content::IsValidDigest(d.digest)) {
        return Fail(
            PullError(Where(), fmt::format("invalid blob digest {:?}", d.digest.substr(0, 80))));
      }
      if (!seen.insert(d.digest).second) continue;
      auto job = std::make_unique<Job>();
      job->run = this;
      job->desc = d;
      if (store_.Has(d.digest)) {
        job->done = true;
        job->offset = d.size;
        Committed(*job);
        Report(*job, State::kAlreadyPresent, true);
      } else {
        Report(*job, State::kWaiting, true);
      }
      jobs_.push_back(std::move(job));
    }

    // The earlier of this Fetch's own deadline and the whole pull's.
    std::optional<Steady::time_point> deadline;
    if (options_.overall_timeout.count() > 0) deadline = Steady::now() + options_.overall_timeout;
    bool pull_deadline_first = transport_.deadline != Steady::time_point::max() &&
                               (!deadline || transport_.deadline < *deadline);
    if (pull_deadline_first) deadline = transport_.deadline;
    const int parallelism = std::max(1, options_.parallelism);
    while (!failure_) {
      Steady::time_point now = Steady::now();
      if (deadline && now >= *deadline) {
        Failed(nullptr, PullError(Where(), TimeoutMessage(pull_deadline_first), 504));
        break;
      }
      for (auto& job : jobs_) {
        if (failure_ || active_ >= parallelism) break;
        if (!job->done && job->easy == nullptr && job->ready_at <= now) Start(*job);
      }
      if (failure_) break;
      if (std::all_of(jobs_.begin(), jobs_.end(), [](const auto& j) { return j->done; })) break;

      int running = 0;
      curl_multi_perform(multi_, &running);
      int queued = 0;
      while (CURLMsg* message = curl_multi_info_read(multi_, &queued)) {
        if (message->msg != CURLMSG_DONE) continue;
        CURLcode result = message->data.result;
        Job* job = nullptr;
        curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &job);
        Finish(*job, result);
        if (failure_) break;
      }
      if (failure_) break;
      // The last transfer just finished: return now rather than after a sleep.
      if (std::all_of(jobs_.begin(), jobs_.end(), [](const auto& j) { return j->done; })) break;

      now = Steady::now();
      // Sleep until a transfer has news, or a waiting job may start (only
      // when there is room for it: otherwise this would spin).
      auto wait = kMaxWait;
      for (auto& job : jobs_) {
        if (active_ >= parallelism) break;
        if (job->done || job->easy != nullptr) continue;
        auto until_ready =
            std::chrono::duration_cast<std::chrono::milliseconds>(job->ready_at - now);
        wait = std::min(wait, std::max(until_ready, std::chrono::milliseconds(0)));
      }
      if (deadline) {
        auto until_deadline =
            std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - now);
        wait = std::min(wait, std::max(until_deadline, std::chrono::milliseconds(0)));
      }
      if (active_ > 0) {
        curl_multi_poll(multi_, nullptr, 0, static_cast<int>(wait.count()), nullptr);
      } else if (wait.count() > 0) {
        std::this_thread::sleep_for(wait);
      }
    }
    // Abandoned transfers keep their .partial data for a later resume.
    for (auto& job : jobs_) Release(*job);
    if (failure_) return Fail(*failure_);
    return {};
  }

  // Body bytes of `job`'s transfer; returning less than data.size() aborts it.
  size_t OnBody(Job& job, std::string_view data) {
    if (!job.body_decided) {
      job.body_decided = true;
      if (!DecideBody(job)) return 0;
    }
    if (!job.write_body) {
      if (job.error_body.size() + data.size() > kMaxErrorBody) {
        job.error_body_truncated = true;
        return 0;
      }
      job.error_body.append(data);
      return data.size();
    }
    if (job.desc.size >= 0 && job.offset + static_cast<int64_t>(data.size()) > job.desc.size) {
      job.overrun = true;
      return 0;
    }
    if (job.pipe->failed()) {
      content::BlobStatus s = job.pipe->Drain();
      if (s.error().fault == content::BlobFault::kSizeMismatch) {
        job.overrun = true;
      } else {
        job.fatal = PullError(What(job), "storing the blob: " + s.error().message, 500);
      }
      return 0;
    }
    if (!job.pipe->Push(data)) {
      job.fatal = PullError(What(job), "storing the blob: out of memory for write buffers", 500);
      return 0;
    }
    job.offset += static_cast<int64_t>(data.size());
    Report(job, State::kDownloading, false);
    return data.size();
  }

 private:
  std::unique_ptr<WriterPipe> NewPipe(const Job& job) const {
    size_t depth = store_.WritesAroundCache() ? kPipeDepthAroundCache : kPipeDepth;
    return std::make_unique<WriterPipe>(*job.writer, depth, options_.tap, job.desc);
  }
  // The data written so far was thrown away; the tap hears it after the pipe's last write.
  void Discarded(const Job& job) {
    if (options_.tap != nullptr) options_.tap->Discarded(job.desc);
  }
  std::string Where() const { return fmt::format("{}/{}", registry_, repository_); }
  std::string What(const Job& job) const {
    return fmt::format("{}/{}: blob {}", registry_, repository_, job.desc.digest);
  }

  std::string TimeoutMessage(bool pull_deadline) const {
    size_t done = std::count_if(jobs_.begin(), jobs_.end(), [](const auto& j) { return j->done; });
    if (pull_deadline) {
      return fmt::format("the pull's deadline passed with {} of {} blobs fetched", done,
                         jobs_.size());
    }
    return fmt::format("timed out after {} ms with {} of {} blobs fetched",
                       options_.overall_timeout.count(), done, jobs_.size());
  }

  void Report(Job& job, State state, bool force) {
    if (!options_.progress) return;
    Steady::time_point now = Steady::now();
    if (!force && now - job.last_report < options_.progress_interval) return;
    job.last_report = now;
    options_.progress(BlobProgress{job.desc.digest, job.desc.media_type, state, job.offset,
                                   job.desc.size, job.failures + 1});
  }

  void Committed(const Job& job) {
    if (options_.on_committed) options_.on_committed(job.desc);
  }

  void Failed(Job* job, Error error) {
    if (failure_) return;
    failure_ = std::move(error);
    if (job != nullptr) Report(*job, State::kFailed, true);
  }

  // The store has the blob from another writer: nothing to fetch.
  void Present(Job& job) {
    job.pipe.reset();
    job.writer.reset();
    job.done = true;
    job.offset = job.desc.size;
    Committed(job);
    Report(job, State::kAlreadyPresent, true);
  }

  // Opens the job's writer; false when the job cannot start now (done,
  // waiting for another writer, or failed).
  bool OpenWriter(Job& job) {
    if (store_.Has(job.desc.digest)) {
      Present(job);
      return false;
    }
    content::BlobResult<std::unique_ptr<content::Writer>> writer = store_.Begin(job.desc);
    if (!writer) {
      if (writer.error().fault == content::BlobFault::kExists) {  // committed since Has()
        Present(job);
        return false;
      }
      if (writer.error().fault == content::BlobFault::kBusy) {  // another pull is writing it
        job.ready_at = Steady::now() + kBusyWait;
        return false;
      }
      Failed(&job, PullError(What(job), "opening the store: " + writer.error().message, 500));
      return false;
    }
    job.writer = std::move(*writer);
    job.pipe = NewPipe(job);
    job.offset = job.writer->Offset();
    return true;
  }

  // Throws away what the writer holds and starts a new one at offset 0. On
  // false, job.present or job.fatal says why.
  bool ResetWriter(Job& job) {
    job.pipe.reset();
    if (job.writer) job.writer->Discard();
    job.writer.reset();
    job.offset = 0;
    Discarded(job);
    content::BlobResult<std::unique_ptr<content::Writer>> writer = store_.Begin(job.desc);
    if (!writer && writer.error().fault == content::BlobFault::kExists) {
      job.present = true;
      return false;
    }
    if (!writer || (*writer)->Offset() != 0) {
      job.fatal = PullError(What(job),
                            writer ? std::string("the store kept data after a discard")
                                   : "opening the store: " + writer.error().message,
                            500);
      return false;
    }
    job.writer = std::move(*writer);
    job.pipe = NewPipe(job);
    return true;
  }

  void Start(Job& job) {
    if (!job.writer && !OpenWriter(job)) return;
    if (!job.pipe) job.pipe = NewPipe(job);
    if (job.desc.size >= 0 && job.offset >= job.desc.size) {
      // Everything is already in the .partial (a previous pull was cut short
      // before its commit), or it holds too much.
      if (job.offset == job.desc.size) return Complete(job);
      return Mismatch(job, "the partial data is larger than the blob");
    }
    if (job.url.empty()) job.url = blob_url_prefix_ + job.desc.digest;
    if (Status allowed = CheckUrlAllowed(job.url, transport_); !allowed) {
      return Failed(&job, WithContext(allowed.error(), What(job)));
    }
    std::vector<http::Header> headers;
    job.sent_authorization.clear();
    // A registry's Authorization goes to the registry's origin only.
    if (OriginOf(job.url) == registry_origin_) {
      Result<std::optional<std::string>> auth = authorizer_.HeaderFor(registry_, scope_);
      if (!auth) return Failed(&job, WithContext(auth.error(), What(job)));
      if (*auth) {
        headers.push_back({"Authorization", **auth});
        job.sent_authorization = **auth;
      }
    }
    job.request_offset = job.offset;
    if (job.offset > 0) headers.push_back({"Range", fmt::format("bytes={}-", job.offset)});

    job.easy = curl_easy_init();
    if (job.easy == nullptr)
      return Failed(&job, PullError(What(job), "curl_easy_init failed", 500));
    internal::ConfigureEasy(job.easy, transport_, job.url, job.error_buffer);
    job.headers = internal::HeaderList(headers);
    curl_easy_setopt(job.easy, CURLOPT_HTTPHEADER, job.headers);
    curl_easy_setopt(job.easy, CURLOPT_BUFFERSIZE, kReceiveBuffer);
    curl_easy_setopt(job.easy, CURLOPT_WRITEFUNCTION, OnBodyTrampoline);
    curl_easy_setopt(job.easy, CURLOPT_WRITEDATA, &job);
    curl_easy_setopt(job.easy, CURLOPT_HEADERFUNCTION, OnHeaderTrampoline);
    curl_easy_setopt(job.easy, CURLOPT_HEADERDATA, &job);
    curl_easy_setopt(job.easy, CURLOPT_PRIVATE, &job);
    job.body_decided = false;
    job.write_body = false;
    job.response_headers.clear();
    job.error_body.clear();
    job.error_body_truncated = false;
    job.range_mismatch = false;
    job.overrun = false;
    job.present = false;
    curl_multi_add_handle(multi_, job.easy);
    ++active_;
    Report(job, State::kDownloading, true);
  }

  // Called with the first body bytes: 2xx bodies go to the writer, others are
  // kept for their error message. False aborts the transfer.
  bool DecideBody(Job& job) {
    long status = 0;
    curl_easy_getinfo(job.easy, CURLINFO_RESPONSE_CODE, &status);
    if (status == 200) {
      // A server that ignores Range sends the whole blob: start over.
      if (job.request_offset > 0 && !ResetWriter(job)) return false;
      job.write_body = true;
    } else if (status == 206) {
      std::string_view range;
      for (const http::Header& h : job.response_headers) {
        if (h.name == "content-range") range = h.value;
      }
      if (ContentRangeStart(range) != job.request_offset) {
        job.range_mismatch = true;
        return false;
      }
      job.write_body = true;
    }
    return true;
  }

  // Removes the job's transfer, if any, from the multi handle.
  void Release(Job& job) {
    if (job.easy == nullptr) return;
    curl_multi_remove_handle(multi_, job.easy);
    curl_easy_cleanup(job.easy);
    curl_slist_free_all(job.headers);
    job.easy = nullptr;
    job.headers = nullptr;
    --active_;
  }

  void Finish(Job& job, CURLcode code) {
    TransportResponse response;
    long status = 0;
    curl_easy_getinfo(job.easy, CURLINFO_RESPONSE_CODE, &status);
    response.status = static_cast<int>(status);
    char* location = nullptr;
    if (curl_easy_getinfo(job.easy, CURLINFO_REDIRECT_URL, &location) == CURLE_OK &&
        location != nullptr) {
      response.redirect_url = location;
    }
    std::optional<Error> transport_error;  // the error buffer dies with the transfer
    if (code != CURLE_OK) {
      transport_error = internal::TransportError(code, "GET", job.url, job.error_buffer);
    }
    Release(job);
    response.headers = std::move(job.response_headers);
    response.body = std::move(job.error_body);

    if (job.present) return Present(job);
    if (job.fatal) return Failed(&job, std::move(*job.fatal));
    if (job.overrun) {
      return Mismatch(job, fmt::format("the server sent more than the {} bytes the manifest "
                                       "declares",
                                       job.desc.size));
    }
    if (job.range_mismatch) {
      return RestartFromZero(
          job, PullError(What(job), "the server answered a Range request with another range"));
    }
    bool have_reply = code == CURLE_OK || (code == CURLE_WRITE_ERROR && job.error_body_truncated);
    if (!have_reply) {
      Error error = PullError(What(job), transport_error->message, transport_error->http_status);
      if (IsRetryable(*transport_error)) return Retry(job, std::move(error));
      return Failed(&job, std::move(error));
    }

    if (status == 200 || status == 206) return Complete(job);
    if (status >= 300 && status < 400 && !response.redirect_url.empty()) {
      if (++job.redirects > kMaxRedirects) {
        return Failed(&job, PullError(What(job), "too many redirects"));
      }
      if (Status allowed = CheckUrlAllowed(response.redirect_url, transport_); !allowed) {
        return Failed(&job, WithContext(allowed.error(), What(job)));
      }
      job.url = response.redirect_url;
      return;  // started again by the loop, now
    }
    if (status == 401 && OriginOf(job.url) == registry_origin_) {
      if (job.answered) {
        return Failed(&job, authorizer_.Unauthorized(What(job), registry_, response));
      }
      Status answered = authorizer_.Answer(registry_, scope_, response, job.sent_authorization);
      if (!answered) return Failed(&job, WithContext(answered.error(), What(job)));
      job.answered = true;
      return;
    }
    if (status == 416 && job.request_offset > 0) {
      return RestartFromZero(job, RegistryReplyError(What(job), response));
    }
    if (IsRetryableStatus(response.status)) {
      return Retry(job, RegistryReplyError(What(job), response));
    }
    Failed(&job, RegistryReplyError(What(job), response));
  }

  // The body is complete: the store verifies and commits it.
  void Complete(Job& job) {
    content::BlobStatus written = job.pipe ? job.pipe->Drain() : content::BlobStatus{};
    job.pipe.reset();
    if (!written) {
      if (written.error().fault ==
          content::BlobFault::kSizeMismatch) {  // the store discarded the data
        return Mismatch(job, written.error().message);
      }
      return Failed(&job, PullError(What(job), "storing the blob: " + written.error().message, 500));
    }
    content::BlobStatus committed = job.writer->Commit();
    if (committed) {
      job.writer.reset();
      job.done = true;
      Committed(job);
      Report(job, State::kDone, true);
      return;
    }
    const content::BlobError& e = committed.error();
    if (e.fault == content::BlobFault::kDigestMismatch ||
        e.fault == content::BlobFault::kSizeMismatch) {
      job.writer.reset();  // the store has discarded the data
      return Mismatch(job, e.message);
    }
    Failed(&job, PullError(What(job), "storing the blob: " + e.message, 500));
  }

  // The data is not the blob: fetch it once more from the start, then give up.
  void Mismatch(Job& job, std::string_view detail) {
    job.pipe.reset();
    if (job.writer) job.writer->Discard();
    job.writer.reset();
    job.offset = 0;
    Discarded(job);
    if (job.refetched) {
      return Failed(&job, PullError(What(job), fmt::format("{} (again after fetching the blob a "
                                                           "second time)",
                                                           detail)));
    }
    job.refetched = true;
    job.url.clear();
    job.answered = false;
    job.redirects = 0;
    job.ready_at = Steady::now();
    Report(job, State::kRetrying, true);
  }

  // The data so far cannot be continued: discard it and try again from byte 0.
  void RestartFromZero(Job& job, Error reason) {
    if (ResetWriter(job)) return Retry(job, std::move(reason));
    if (job.present) return Present(job);
    Failed(&job, std::move(*job.fatal));
  }

  // A retryable failure: wait, then resume from the registry URL.
  void Retry(Job& job, Error error) {
    if (++job.failures >= options_.retry.max_attempts) {
      error.message += fmt::format(" (gave up after {} attempts)", job.failures);
      return Failed(&job, std::move(error));
    }
    job.url.clear();
    job.answered = false;
    job.redirects = 0;
    job.ready_at = Steady::now() + options_.retry.BackoffAfter(job.failures);
    Report(job, State::kRetrying, true);
  }

  const TransportOptions& transport_;
  Authorizer& authorizer_;
  content::Store& store_;
  const FetchOptions& options_;
  const std::string registry_;
  const std::string repository_;
  const std::string scope_;
  std::string registry_origin_;
  std::string blob_url_prefix_;

  CURLM* multi_ = nullptr;
  int active_ = 0;
  std::vector<std::unique_ptr<Job>> jobs_;  // stable addresses: curl holds Job*
  std::optional<Error> failure_;
};

size_t OnBodyTrampoline(char* data, size_t size, size_t n, void* user) {
  Job* job = static_cast<Job*>(user);
  return job->run->OnBody(*job, std::string_view(data, size * n));
}

}  // namespace

Fetcher::Fetcher(TransportOptions transport, Authorizer& authorizer, content::Store& store,
                 FetchOptions options)
    : transport_(std::move(transport)),
      authorizer_(authorizer),
      store_(store),
      options_(std::move(options)) {}

Status Fetcher::Fetch(std::string_view registry, std::string_view repository,
                      const std::vector<content::Descriptor>& blobs) {
  Run run(transport_, authorizer_, store_, options_, registry, repository);
  return run.Execute(blobs);
}

}  // namespace berth::agent::registry
