#include "agent/runtime/bundle.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/fd.h"
#include "common/file.h"
#include "common/json.h"

namespace berth::agent::runtime::bundle {

namespace {

using json::Json;

int64_t ToNanos(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

TimePoint FromNanos(const Json& doc, const char* key) {
  auto it = doc.find(key);
  if (it == doc.end() || !it->is_number_integer()) return TimePoint{};
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(
      std::chrono::nanoseconds(it->get<int64_t>())));
}

std::optional<Json> ReadJson(const std::string& path) {
  auto text = ReadSmallFile(path);
  if (!text || !*text) return std::nullopt;
  Json doc = Json::parse(**text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return std::nullopt;
  return doc;
}

}  // namespace

Status WriteWhole(const std::string& path, const std::string& bytes) {
  std::string tmp = path + ".tmp";
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!fd.valid())
    return InternalFailure(fmt::format("cannot create {}: {}", tmp, strerror(errno)));
  if (::write(fd.get(), bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size()) ||
      ::rename(tmp.c_str(), path.c_str()) != 0) {
    return InternalFailure(fmt::format("cannot write {}: {}", path, strerror(errno)));
  }
  return {};
}

Status WriteStarted(const std::string& dir, const Started& started) {
  Json doc = {{"pid", started.pid}, {"started_at", ToNanos(started.started_at)}};
  return WriteWhole(dir + "/" + kStarted, json::Dump(doc));
}

std::optional<Started> ReadStarted(const std::string& dir) {
  auto doc = ReadJson(dir + "/" + kStarted);
  if (!doc) return std::nullopt;
  Started out;
  out.pid = doc->value("pid", 0);
  out.started_at = FromNanos(*doc, "started_at");
  return out;
}

Status WriteExit(const std::string& dir, const Exit& exit) {
  Json doc = {{"started_at", ToNanos(exit.started_at)}, {"finished_at", ToNanos(exit.finished_at)}};
  if (exit.exit_code) doc["exit_code"] = *exit.exit_code;
  if (!exit.error.empty()) doc["error"] = exit.error;
  return WriteWhole(dir + "/" + kExit, json::Dump(doc));
}

std::optional<Exit> ReadExit(const std::string& dir) {
  auto doc = ReadJson(dir + "/" + kExit);
  if (!doc) return std::nullopt;
  Exit out;
  if (auto it = doc->find("exit_code"); it != doc->end() && it->is_number_integer()) {
    out.exit_code = it->get<int>();
  }
  out.started_at = FromNanos(*doc, "started_at");
  out.finished_at = FromNanos(*doc, "finished_at");
  if (auto it = doc->find("error"); it != doc->end() && it->is_string()) {
    out.error = it->get<std::string>();
  }
  return out;
}

bool ShimAlive(const std::string& dir) {
  Fd fd(::open((dir + "/" + kShimLock).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return false;
  if (::flock(fd.get(), LOCK_SH | LOCK_NB) == 0) return false;  // released when fd closes
  return errno == EWOULDBLOCK;
}

std::string LastRuncError(const std::string& dir) {
  auto text = ReadSmallFile(dir + "/" + kRuncLog, 4 << 20);
  if (!text || !*text) return "";
  std::string last;
  size_t pos = 0;
  const std::string& log = **text;
  while (pos < log.size()) {
    size_t nl = log.find('\n', pos);
    if (nl == std::string::npos) nl = log.size();
    std::string_view line(log.data() + pos, nl - pos);
    pos = nl + 1;
    if (line.find("level=error") == std::string_view::npos) continue;
    size_t msg = line.find("msg=\"");
    if (msg == std::string_view::npos) {
      last = std::string(line);
      continue;
    }
    // logrus quotes msg like Go's %q: \" and \\ are the escapes that matter here.
    last.clear();
    for (size_t i = msg + 5; i < line.size() && line[i] != '"'; ++i) {
      if (line[i] == '\\' && i + 1 < line.size()) ++i;
      last.push_back(line[i]);
    }
  }
  return last;
}

}  // namespace berth::agent::runtime::bundle
