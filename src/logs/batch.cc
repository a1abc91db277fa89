#include "logs/batch.h"

#include <fmt/format.h>

#include "logs/service.h"
#include "logs/validation.h"

namespace berth::logs {

namespace {

constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kDayMs = 24 * kHourMs;

}  // namespace

Result<BatchVerdict> CheckBatch(std::span<const InputEvent> events, int64_t now_ms,
                                std::optional<int> retention_days) {
  Validation v;
  if (events.empty()) {
    v.Fail("logEvents", "[]", "have length greater than or equal to 1");
  } else if (events.size() > kMaxEventsPerBatch) {
    v.Fail("logEvents", std::nullopt,
           fmt::format("have length less than or equal to {}", kMaxEventsPerBatch), false);
  }
  size_t bytes = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    const InputEvent& e = events[i];
    if (e.message.empty()) {
      v.Fail(fmt::format("logEvents.{}.member.message", i + 1), "",
             "have length greater than or equal to 1");
    }
    if (e.timestamp < 0) {
      v.Fail(fmt::format("logEvents.{}.member.timestamp", i + 1), std::to_string(e.timestamp),
             "have value greater than or equal to 0");
    }
    bytes += e.message.size() + kPerEventBytes;
  }
  BERTH_CHECK(v.Done());
  for (const InputEvent& e : events) {
    if (e.message.size() + kPerEventBytes > kMaxBatchBytes) {
      return Fail("InvalidParameterException",
                  fmt::format("Log event too large: {} bytes exceeds limit of {}",
                              e.message.size() + kPerEventBytes, kMaxBatchBytes));
    }
  }
  if (bytes > kMaxBatchBytes) {
    return Fail(
        "InvalidParameterException",
        fmt::format("Upload too large: {} bytes exceeds limit of {}", bytes, kMaxBatchBytes));
  }
  for (size_t i = 1; i < events.size(); ++i) {
    if (events[i].timestamp < events[i - 1].timestamp) {
      return Fail("InvalidParameterException",
                  "Log events in a single PutLogEvents request must be in chronological order.");
    }
  }

  // Ascending timestamps: each class is a run at one end.
  const int64_t too_new = now_ms + 2 * kHourMs;
  const int64_t too_old = now_ms - 14 * kDayMs;
  const int64_t expired =
      retention_days ? now_ms - static_cast<int64_t>(*retention_days) * kDayMs : too_old;
  BatchVerdict out;
  size_t old_end = 0, expired_end = 0, new_start = events.size();
  while (old_end < events.size() && events[old_end].timestamp < too_old) ++old_end;
  while (expired_end < events.size() && events[expired_end].timestamp < expired) ++expired_end;
  while (new_start > 0 && events[new_start - 1].timestamp > too_new) --new_start;
  if (old_end > 0) out.too_old_end = static_cast<int>(old_end);
  if (retention_days && expired_end > 0) out.expired_end = static_cast<int>(expired_end);
  if (new_start < events.size()) out.too_new_start = static_cast<int>(new_start);
  out.keep_begin = std::max(old_end, retention_days ? expired_end : 0);
  out.keep_end = std::max(out.keep_begin, new_start);
  if (out.keep_end > out.keep_begin &&
      events[out.keep_end - 1].timestamp - events[out.keep_begin].timestamp > kDayMs) {
    return Fail("InvalidParameterException",
                "The batch of log events in a single PutLogEvents request cannot span more than "
                "24 hours.");
  }
  return out;
}

}  // namespace berth::logs
