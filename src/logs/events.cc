// Service's event operations: PutLogEvents (the hot write), GetLogEvents, FilterLogEvents.
#include <fmt/format.h>

#include <algorithm>

#include "logs/batch.h"
#include "logs/filter_pattern.h"
#include "logs/service.h"
#include "logs/service_impl.h"
#include "logs/tokens.h"
#include "logs/validation.h"

namespace berth::logs {

namespace {

OutputEvent ToOutput(StoredEvent&& e, bool with_stream) {
  OutputEvent out;
  out.timestamp = e.timestamp;
  out.ingestion_time = e.ingestion_time;
  out.message = std::move(e.message);
  if (with_stream) {
    out.stream = std::move(e.stream);
    out.event_id = EventId(e.position);
  }
  return out;
}

void CheckTimes(Validation& v, std::optional<int64_t> start, std::optional<int64_t> end) {
  v.Range("startTime", start, 0, std::numeric_limits<int64_t>::max());
  v.Range("endTime", end, 0, std::numeric_limits<int64_t>::max());
}

}  // namespace

Result<PutLogEventsResult> Service::PutLogEvents(const aws::RequestContext& ctx,
                                                 PutLogEventsRequest request) {
  GroupPlace place = BERTH_TRY(impl_->StreamInCallerAccount(ctx, request.group, request.stream));
  LoadedGroup loaded =
      BERTH_TRY(impl_->Open(ctx, place, "logs:PutLogEvents",
                            StreamArn(place.region, place.account, request.group, request.stream)));
  const int64_t now = impl_->NowMs();
  BatchVerdict verdict =
      BERTH_TRY(CheckBatch(request.events, now, loaded.group().retention_in_days));

  PutLogEventsResult out;
  out.too_new_start_index = verdict.too_new_start;
  out.too_old_end_index = verdict.too_old_end;
  out.expired_end_index = verdict.expired_end;
  out.next_sequence_token = fmt::format("{:056}", now);
  StreamRef ref{place.account, place.region, request.group, request.stream};
  std::string stream_key = StreamKey(place.account, place.region, request.group, request.stream);
  std::span<const InputEvent> kept(request.events.data() + verdict.keep_begin,
                                   verdict.keep_end - verdict.keep_begin);
  for (bool fresh : {false, true}) {
    int64_t revision = BERTH_TRY(impl_->StreamRevision(place, request.stream, fresh));
    if (revision == 0) return StreamNotFound();
    if (kept.empty()) return out;
    auto appended = impl_->events.Append(ref, stream_key, revision, loaded.entry->key, kept, now);
    if (appended) return out;
    // A cached revision of a stream deleted and created again: look again, once.
    if (appended.error().code != "ResourceNotFoundException" || fresh) {
      return Fail(appended.error());
    }
    impl_->streams.Drop(stream_key);
  }
  return StreamNotFound();
}

Result<GetLogEventsResult> Service::GetLogEvents(const aws::RequestContext& ctx,
                                                 const GetLogEventsRequest& request) {
  Validation v;
  v.StreamName("logStreamName", request.stream);
  v.Range("limit", request.limit, 1, 10000);
  CheckTimes(v, request.start_time, request.end_time);
  BERTH_CHECK(v.Done());
  GroupPlace place = BERTH_TRY(impl_->Resolve(ctx, request.group));
  std::optional<EventsToken> token;
  if (!request.next_token.empty()) token = BERTH_TRY(DecodeEventsToken(request.next_token));
  LoadedGroup loaded =
      BERTH_TRY(impl_->Open(ctx, place, "logs:GetLogEvents",
                            StreamArn(place.region, place.account, place.name, request.stream)));
  if (BERTH_TRY(impl_->StreamRevision(place, request.stream, false)) == 0) {
    return StreamNotFound();
  }
  DataKey key = BERTH_TRY(impl_->ReadKey(ctx, *loaded.entry));

  ReadRequest read;
  read.stream = StreamRef{place.account, place.region, place.name, request.stream};
  if (request.start_time) read.start = *request.start_time;
  if (request.end_time) read.end = *request.end_time;
  // A token says which way it reads; without one startFromHead does (default: the newest).
  read.forward = token ? token->forward : request.start_from_head.value_or(false);
  if (token) read.from = token->position;
  read.limit = static_cast<size_t>(request.limit.value_or(10000));
  auto events = BERTH_TRY(impl_->events.Read(read, key));
  if (!read.forward) std::reverse(events.begin(), events.end());

  GetLogEventsResult out;
  if (events.empty()) {
    // At the end: the token passed in comes back; the other one reads everything this side.
    if (token && token->forward) {
      out.next_forward_token = request.next_token;
      out.next_backward_token = EncodeEventsToken({false, JustAfter(token->position)});
    } else if (token) {
      out.next_backward_token = request.next_token;
      out.next_forward_token = EncodeEventsToken({true, HeadPosition()});
    } else {
      out.next_forward_token = EncodeEventsToken({true, HeadPosition()});
      out.next_backward_token = EncodeEventsToken({false, TailPosition()});
    }
    return out;
  }
  out.next_forward_token = EncodeEventsToken({true, events.back().position});
  out.next_backward_token = EncodeEventsToken({false, events.front().position});
  out.events.reserve(events.size());
  for (auto& e : events) out.events.push_back(ToOutput(std::move(e), false));
  return out;
}

Result<FilterLogEventsResult> Service::FilterLogEvents(const aws::RequestContext& ctx,
                                                       const FilterLogEventsRequest& request) {
  Validation v;
  if (!request.stream_names.empty()) {
    if (request.stream_names.size() > 100) {
      v.Fail("logStreamNames", std::nullopt, "have length less than or equal to 100", false);
    }
    for (const auto& s : request.stream_names) v.StreamName("logStreamNames.member", s);
  }
  if (!request.stream_prefix.empty()) v.StreamName("logStreamNamePrefix", request.stream_prefix);
  if (request.filter_pattern.size() > kMaxFilterPatternLength) {
    v.Fail("filterPattern", request.filter_pattern,
           fmt::format("have length less than or equal to {}", kMaxFilterPatternLength));
  }
  v.Range("limit", request.limit, 1, 10000);
  CheckTimes(v, request.start_time, request.end_time);
  BERTH_CHECK(v.Done());
  if (!request.stream_names.empty() && !request.stream_prefix.empty()) {
    return Fail("InvalidParameterException",
                "logStreamNames and logStreamNamePrefix are mutually exclusive parameters.");
  }
  GroupPlace place = BERTH_TRY(impl_->Resolve(ctx, request.group));
  std::optional<Position> after;
  if (!request.next_token.empty()) after = BERTH_TRY(DecodePositionToken(request.next_token));
  FilterPattern pattern = BERTH_TRY(FilterPattern::Parse(request.filter_pattern));
  LoadedGroup loaded = BERTH_TRY(impl_->Open(
      ctx, place, "logs:FilterLogEvents", StreamArn(place.region, place.account, place.name, "")));
  DataKey key = BERTH_TRY(impl_->ReadKey(ctx, *loaded.entry));

  ScanRequest scan;
  scan.group = GroupRef{place.account, place.region, place.name};
  scan.streams = request.stream_names;
  scan.stream_prefix = request.stream_prefix;
  if (request.start_time) scan.start = *request.start_time;
  if (request.end_time) scan.end = *request.end_time;
  scan.after = after;
  scan.limit = static_cast<size_t>(request.limit.value_or(10000));
  if (!pattern.MatchesEverything()) {
    scan.match = [&pattern](std::string_view message) { return pattern.Matches(message); };
    scan.required = pattern.RequiredSubstrings();
  }
  ScanResult result = BERTH_TRY(impl_->events.Scan(scan, key));
  FilterLogEventsResult out;
  if (result.more && !result.events.empty()) {
    out.next_token = EncodePositionToken(result.events.back().position);
  }
  out.events.reserve(result.events.size());
  for (auto& e : result.events) out.events.push_back(ToOutput(std::move(e), true));
  return out;
}

}  // namespace berth::logs
