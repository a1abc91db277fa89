#include "agent/network/subnet.h"

#include <arpa/inet.h>

#include <charconv>

namespace berth::agent::network {

std::optional<uint32_t> ParseIpv4(std::string_view text) {
  std::string copy(text);
  in_addr address{};
  if (::inet_pton(AF_INET, copy.c_str(), &address) != 1) return std::nullopt;
  return ntohl(address.s_addr);
}

std::string FormatIpv4(uint32_t address) {
  return std::to_string(address >> 24) + "." + std::to_string((address >> 16) & 0xff) + "." +
         std::to_string((address >> 8) & 0xff) + "." + std::to_string(address & 0xff);
}

Result<Subnet> ParseSubnet(std::string_view cidr) {
  auto slash = cidr.find('/');
  auto address = ParseIpv4(cidr.substr(0, slash));
  int prefix = -1;
  if (slash != std::string_view::npos) {
    auto digits = cidr.substr(slash + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (ec != std::errc() || end != digits.data() + digits.size()) prefix = -1;
  }
  if (!address || prefix < 0) {
    return Fail("NetworkSetupError", "subnet '" + std::string(cidr) + "' is not a.b.c.d/prefix",
                500);
  }
  if (prefix < 8 || prefix > 30) {
    return Fail("NetworkSetupError",
                "subnet '" + std::string(cidr) + "' must have a prefix of 8 to 30 bits", 500);
  }
  Subnet subnet{*address, prefix};
  if ((*address & ~(~0U << (32 - prefix))) != 0) {
    return Fail("NetworkSetupError", "subnet '" + std::string(cidr) + "' has host bits set", 500);
  }
  return subnet;
}

Result<uint32_t> AllocateAddress(const Subnet& subnet, const std::set<uint32_t>& used) {
  for (uint32_t address = subnet.Gateway() + 1; address < subnet.Broadcast(); ++address) {
    if (!used.contains(address)) return address;
  }
  return Fail("NetworkSetupError", "no free address in subnet " + subnet.Cidr(), 500);
}

}  // namespace berth::agent::network
