#include "aws/credentials_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "common/strings.h"

namespace berth::aws {

namespace {

// The section name of a "[name]" line, or "" when the line is not a header.
std::string SectionOf(std::string_view line) {
  line = Trim(line);
  if (line.size() >= 2 && line.front() == '[' && line.back() == ']') {
    return std::string(Trim(line.substr(1, line.size() - 2)));
  }
  return {};
}

Result<std::vector<std::string>> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  if (!in) {
    if (errno == ENOENT) return lines;
    return InternalFailure(fmt::format("cannot read {}: {}", path, strerror(errno)));
  }
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

}  // namespace

Result<Credentials> ReadProfile(const std::string& path, const std::string& profile) {
  auto lines = BERTH_TRY(ReadLines(path));
  Credentials creds;
  bool in_section = false, found = false;
  for (const auto& line : lines) {
    std::string section = SectionOf(line);
    if (!section.empty()) {
      in_section = section == profile;
      found = found || in_section;
      continue;
    }
    if (!in_section) continue;
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = ToLower(Trim(std::string_view(line).substr(0, eq)));
    std::string value(Trim(std::string_view(line).substr(eq + 1)));
    if (key == "aws_access_key_id") creds.access_key_id = value;
    if (key == "aws_secret_access_key") creds.secret_access_key = value;
    if (key == "aws_session_token") creds.session_token = value;
  }
  if (!found || creds.access_key_id.empty() || creds.secret_access_key.empty()) {
    return Fail("NoSuchProfile", fmt::format("profile '{}' not found in {}", profile, path), 404);
  }
  return creds;
}

Status WriteProfile(const std::string& path, const std::string& profile,
                    const Credentials& credentials) {
  auto lines = BERTH_TRY(ReadLines(path));
  std::string section = fmt::format("[{}]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
                                    profile, credentials.access_key_id,
                                    credentials.secret_access_key);
  if (!credentials.session_token.empty()) {
    section += fmt::format("aws_session_token = {}\n", credentials.session_token);
  }
  std::string out;
  bool skipping = false, written = false;
  for (const auto& line : lines) {
    std::string name = SectionOf(line);
    if (!name.empty()) {
      skipping = name == profile;
      if (skipping && !written) {
        out += section;
        written = true;
      }
    }
    if (!skipping) out += line + "\n";
  }
  if (!written) {
    if (!out.empty() && !out.ends_with("\n\n")) out += "\n";
    out += section;
  }
  std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return InternalFailure(fmt::format("cannot write {}: {}", tmp, strerror(errno)));
  fchmod(fd, 0600);
  bool ok = write(fd, out.data(), out.size()) == static_cast<ssize_t>(out.size()) && fsync(fd) == 0;
  close(fd);
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    unlink(tmp.c_str());
    return InternalFailure(fmt::format("cannot write {}", path));
  }
  return {};
}

Result<Credentials> CredentialsFromChain(const std::string& profile_flag,
                                         const std::string& credentials_file,
                                         const std::string& fallback_file) {
  auto env = [](const char* name) -> std::string {
    const char* value = std::getenv(name);
    return value ? value : "";
  };
  std::string key = env("AWS_ACCESS_KEY_ID");
  if (profile_flag.empty() && !key.empty()) {
    std::string secret = env("AWS_SECRET_ACCESS_KEY");
    if (secret.empty()) {
      return Fail("InvalidCredentials",
                  "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
    }
    return Credentials{key, secret, env("AWS_SESSION_TOKEN")};
  }
  std::string profile = !profile_flag.empty() ? profile_flag : env("AWS_PROFILE");
  if (profile.empty()) profile = "default";
  std::string file = !credentials_file.empty() ? credentials_file : env("AWS_SHARED_CREDENTIALS_FILE");
  if (file.empty()) file = fallback_file;
  auto read = ReadProfile(file, profile);
  if (!read) return Fail("InvalidCredentials", read.error().message);
  return *read;
}

}  // namespace berth::aws
