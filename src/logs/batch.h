// PutLogEvents' rules for a batch (ECS-FACTS §4.2), apart from the store: which events are
// refused outright, which are reported as too new / too old / expired, and which are kept.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "common/error.h"
#include "logs/event_store.h"

namespace berth::logs {

struct BatchVerdict {
  size_t keep_begin = 0, keep_end = 0;  // the events stored: [keep_begin, keep_end)
  std::optional<int> too_new_start;     // tooNewLogEventStartIndex (inclusive)
  std::optional<int> too_old_end;       // tooOldLogEventEndIndex (exclusive)
  std::optional<int> expired_end;       // expiredLogEventEndIndex (exclusive)
};

// InvalidParameterException when the batch as a whole is refused: 0 or more than 10,000
// events, an empty message or negative timestamp, an event over 1 MiB (+26), the batch over
// 1 MiB (+26 an event), timestamps out of order, or kept events spanning more than 24 h.
// Otherwise which events are kept at `now_ms`, for a group that keeps events
// `retention_days` (nullopt: for ever).
Result<BatchVerdict> CheckBatch(std::span<const InputEvent> events, int64_t now_ms,
                                std::optional<int> retention_days);

}  // namespace berth::logs
