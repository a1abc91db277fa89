// Time as a seam: services ask a Clock, tests give them a FakeClock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace berth {

using TimePoint = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

// The wall clock. Thread-safe.
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
  // A process-wide instance for code that has no injected clock.
  static const SystemClock& Instance();
};

// A clock tests move by hand. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start) : now_(start.time_since_epoch().count()) {}
  TimePoint Now() const override { return TimePoint(TimePoint::duration(now_.load())); }
  void Set(TimePoint t) { now_ = t.time_since_epoch().count(); }
  void Advance(std::chrono::seconds d) {
    now_ += std::chrono::duration_cast<TimePoint::duration>(d).count();
  }

 private:
  std::atomic<TimePoint::duration::rep> now_;
};

// "20261126T165506Z" (the SigV4 X-Amz-Date form), UTC.
std::string FormatAmzDate(TimePoint t);
// "2026-11-26T16:55:06Z" (ISO 8601 as AWS XML replies write it), UTC.
std::string FormatIso8601(TimePoint t);
// Parses FormatAmzDate's form; false when malformed.
bool ParseAmzDate(const std::string& text, TimePoint* out);
// Seconds since the epoch with fraction, as AWS JSON protocols write timestamps.
double ToEpochSeconds(TimePoint t);

}  // namespace berth
