#include "secrets/stages.h"

#include <fmt/format.h>

#include <algorithm>

namespace berth::secrets {

namespace {

void Remove(std::vector<std::string>& values, std::string_view value) {
  values.erase(std::remove(values.begin(), values.end(), value), values.end());
}

}  // namespace

bool Contains(const std::vector<std::string>& values, std::string_view value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

const Version* Secret::WithStage(const std::string& stage) const {
  for (const auto& v : versions) {
    if (Contains(v.stages, stage)) return &v;
  }
  return nullptr;
}

const Version* Secret::FindVersion(const std::string& id) const {
  for (const auto& v : versions) {
    if (v.id == id) return &v;
  }
  return nullptr;
}

void MoveStage(Secret& s, const std::string& stage, const std::string& to) {
  Version* holder = nullptr;
  Version* target = nullptr;
  for (auto& v : s.versions) {
    if (Contains(v.stages, stage)) holder = &v;
    if (v.id == to) target = &v;
  }
  if (target == nullptr || holder == target) return;
  if (holder != nullptr) Remove(holder->stages, stage);
  target->stages.push_back(stage);
  if (stage == kCurrent && holder != nullptr) {
    for (auto& v : s.versions) Remove(v.stages, kPrevious);
    holder->stages.push_back(kPrevious);
  }
}

void LabelNewVersion(Secret& s, const std::string& version_id, std::vector<std::string> wanted) {
  if (s.WithStage(kCurrent) == nullptr && !Contains(wanted, kCurrent)) wanted.push_back(kCurrent);
  for (const auto& stage : wanted) MoveStage(s, stage, version_id);
}

std::vector<std::string> DropOldVersions(Secret& s) {
  std::vector<std::string> dropped;
  while (s.versions.size() > kMaxVersions) {
    auto oldest = std::find_if(s.versions.begin(), s.versions.end(),
                               [](const Version& v) { return v.stages.empty(); });
    if (oldest == s.versions.end()) break;
    dropped.push_back(oldest->id);
    s.versions.erase(oldest);
  }
  return dropped;
}

Status UpdateStage(Secret& s, const std::string& stage, const std::string& remove_from,
                   const std::string& move_to) {
  for (const std::string* id : {&remove_from, &move_to}) {
    if (!id->empty() && s.FindVersion(*id) == nullptr) {
      return Fail("InvalidParameterException",
                  fmt::format("The secret doesn't have a version {}.", *id));
    }
  }
  const Version* holder = s.WithStage(stage);
  std::string holder_id = holder != nullptr ? holder->id : "";
  if (!remove_from.empty() && holder_id != remove_from) {
    return Fail(
        "InvalidParameterException",
        fmt::format("The staging label {} isn't attached to version {}.", stage, remove_from));
  }
  if (!move_to.empty()) {
    if (!holder_id.empty() && holder_id != move_to && remove_from != holder_id) {
      return Fail("InvalidParameterException",
                  fmt::format("The parameter RemoveFromVersionId can't be empty. Staging label "
                              "{} is currently attached to version {}, so you must explicitly "
                              "reference that version in RemoveFromVersionId.",
                              stage, holder_id));
    }
    MoveStage(s, stage, move_to);
    return {};
  }
  if (stage == kCurrent) {
    return Fail("InvalidParameterException",
                "You can only move staging label AWSCURRENT to a different secret version. It "
                "can't be completely removed.");
  }
  for (auto& v : s.versions) {
    if (v.id == remove_from) Remove(v.stages, stage);
  }
  return {};
}

}  // namespace berth::secrets
