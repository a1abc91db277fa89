#include "agent/network/record.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/file.h"
#include "common/json.h"
#include "common/log.h"

namespace berth::agent::network {

std::string EncodeRecord(const TaskRecord& record) {
  json::Json bindings = json::Json::array();
  for (const auto& binding : record.bindings) {
    bindings.push_back({{"containerPort", binding.container_port},
                        {"hostPort", binding.host_port},
                        {"protocol", binding.protocol}});
  }
  json::Json rules = json::Json::array();
  for (const auto& rule : record.rules) {
    rules.push_back({{"table", rule.table}, {"chain", rule.chain}, {"spec", rule.spec}});
  }
  return json::Dump({{"taskId", record.task_id},
                     {"mode", record.mode},
                     {"bridge", record.bridge},
                     {"netns", record.netns},
                     {"veth", record.veth},
                     {"ipv4", record.ipv4},
                     {"gateway", record.gateway},
                     {"bindings", bindings},
                     {"rules", rules}});
}

Result<TaskRecord> DecodeRecord(std::string_view text) {
  auto object = json::ParseObject(text);
  if (!object) return InternalFailure("network record: " + object.error().message);
  try {
    const json::Json& j = *object;
    TaskRecord record;
    record.task_id = j.at("taskId").get<std::string>();
    record.mode = j.at("mode").get<std::string>();
    record.bridge = j.value("bridge", "");
    record.netns = j.at("netns").get<std::string>();
    record.veth = j.value("veth", "");
    record.ipv4 = j.value("ipv4", "");
    record.gateway = j.value("gateway", "");
    for (const auto& b : j.value("bindings", json::Json::array())) {
      record.bindings.push_back({"0.0.0.0", b.at("containerPort").get<int>(),
                                 b.at("hostPort").get<int>(), b.at("protocol").get<std::string>()});
    }
    for (const auto& r : j.value("rules", json::Json::array())) {
      record.rules.push_back({r.at("table").get<std::string>(), r.at("chain").get<std::string>(),
                              r.at("spec").get<std::vector<std::string>>()});
    }
    return record;
  } catch (const json::Json::exception& e) {
    return InternalFailure(std::string("network record: ") + e.what());
  }
}

TaskNetwork NetworkOf(const TaskRecord& record) {
  return {record.mode, "/run/netns/" + record.netns, record.ipv4, record.gateway, record.bindings};
}

std::string RecordStore::Path(const std::string& task_id) const {
  return dir_ + "/" + task_id + ".json";
}

Status RecordStore::Write(const TaskRecord& record) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return InternalFailure("create " + dir_ + ": " + ec.message());
  // No fsync: what a record names (namespaces, links, rules) is kernel state that a host
  // crash, the only thing that could lose the write, removes too.
  BERTH_TRY(WriteFileAtomically(Path(record.task_id), EncodeRecord(record), 0600,
                                Existing::kReplace, Durability::kUnsynced));
  return {};
}

Result<std::optional<TaskRecord>> RecordStore::Read(const std::string& task_id) {
  auto text = BERTH_TRY(ReadSmallFile(Path(task_id)));
  if (!text) return std::optional<TaskRecord>();
  return std::optional<TaskRecord>(BERTH_TRY(DecodeRecord(*text)));
}

Result<std::vector<TaskRecord>> RecordStore::List() {
  std::vector<TaskRecord> records;
  std::error_code ec;
  if (!std::filesystem::exists(dir_, ec)) return records;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    std::string name = entry.path().filename();
    if (!name.ends_with(".json")) continue;
    auto record = Read(name.substr(0, name.size() - 5));
    if (!record || !*record) {
      log::Warn("skipping unreadable network record",
                {{"path", entry.path().string()},
                 {"error", record ? std::string("gone") : record.error().message}});
      continue;
    }
    records.push_back(std::move(**record));
  }
  if (ec) return InternalFailure("list " + dir_ + ": " + ec.message());
  return records;
}

Status RecordStore::Remove(const std::string& task_id) {
  if (::unlink(Path(task_id).c_str()) != 0 && errno != ENOENT) {
    return InternalFailure("remove " + Path(task_id) + ": " + std::strerror(errno));
  }
  return {};
}

}  // namespace berth::agent::network
