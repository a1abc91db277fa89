// A fixed set of threads that run posted jobs, first posted first started.
//
// The HTTP server runs request handlers here, off its I/O threads, so that a
// slow handler (an fsync'ing write, a long store transaction) holds up only
// its own connection. A job that must continue on an I/O thread posts itself
// back there.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace berth::http {

// The pool size when none is given: max(4, 2 * hardware threads). Handlers
// mostly compute, but some wait on a disk or a lock; twice the cores keeps the
// CPUs busy while a few wait, without a thread per connection.
size_t DefaultWorkers();

// Threads are woken sparingly: a job posted while another runs waits for a
// running thread to finish, or at most kWakeDelay for an idle one (a "watcher"
// that looks at the queue that often while jobs run). Waking a thread per job
// (a futex wake and two context switches) measured ~2.5x the CPU of answering
// a signed request inline; this keeps it near 1.2x, and a job stuck behind a
// slow one still starts within about kWakeDelay.
inline constexpr std::chrono::microseconds kWakeDelay{1'000};

class WorkerPool {
 public:
  using Job = std::move_only_function<void()>;

  // Starts `threads` threads (at least one).
  explicit WorkerPool(size_t threads);
  ~WorkerPool();  // Stop()

  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `job`; thread-safe. After Stop() the job is destroyed unrun.
  void Post(Job job);

  // Destroys the jobs not yet started (on the calling thread), waits for the
  // running ones to return and joins the threads. Idempotent.
  void Stop();

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;   // under mu_, like the counts below
  size_t idle_ = 0;         // threads waiting on cv_
  size_t running_ = 0;      // threads running a job
  bool watching_ = false;   // an idle thread waits at most kWakeDelay
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace berth::http
