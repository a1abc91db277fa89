// A few task networks made ahead of need: making a namespace and its veth takes 4 `ip`
// processes (~80-120 ms on a busy host, the kernel's namespace creation serialized), which a
// task would otherwise wait for between RunTask and RUNNING. A background thread keeps the pool
// full; a task takes one ready made and only renames it (linux_network.cc).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/error.h"

namespace berth::agent::network {

// A namespace with eth0 (address, route, up) whose host-side veth is on the bridge, up.
struct PooledNetwork {
  std::string netns;  // name under /run/netns
  std::string veth;   // host side
  std::string ipv4;   // eth0's address
};

class NetworkPool {
 public:
  // Makes one entry (called on the pool's thread, never two at once); a failure is retried
  // after `retry` (doubling, at most 30 s).
  using Make = std::function<Result<PooledNetwork>()>;
  // Removes an entry that was made and never taken (on the pool's thread or in ~NetworkPool).
  using Destroy = std::function<void(const PooledNetwork&)>;

  // After a Take the pool waits until none came for `quiet` before making more (at nice 19):
  // its `ip` processes would otherwise compete for the CPU with the start of the task that took
  // the entry. An empty pool refills at once.
  NetworkPool(size_t size, Make make, Destroy destroy,
              std::chrono::milliseconds retry = std::chrono::seconds(1),
              std::chrono::milliseconds quiet = std::chrono::milliseconds(300));
  // Stops the thread (an entry being made is finished, then destroyed) and destroys every
  // entry not taken: nothing made by the pool outlives it.
  ~NetworkPool();
  NetworkPool(const NetworkPool&) = delete;
  NetworkPool& operator=(const NetworkPool&) = delete;

  // Starts filling (a thread of its own). Idempotent. Nothing is made before it.
  void Start();
  // The oldest ready entry, now; nullopt when none is ready. The caller owns it from then on.
  // The pool makes another in its place.
  std::optional<PooledNetwork> Take();
  // Blocks until `count` entries are ready or `timeout` passes; true when they are.
  bool WaitReady(size_t count, std::chrono::milliseconds timeout);

 private:
  void Fill();

  const size_t size_;
  const Make make_;
  const Destroy destroy_;
  const std::chrono::milliseconds retry_;
  const std::chrono::milliseconds quiet_;
  std::chrono::steady_clock::time_point last_take_{};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<PooledNetwork> ready_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace berth::agent::network
