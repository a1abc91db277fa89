// IPv4 subnets of the berth bridge and the allocation of task addresses in them.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "common/error.h"

namespace berth::agent::network {

// Addresses are in host byte order.
std::optional<uint32_t> ParseIpv4(std::string_view text);
std::string FormatIpv4(uint32_t address);

struct Subnet {
  uint32_t network = 0;
  int prefix = 0;

  uint32_t Gateway() const { return network + 1; }  // the bridge's address
  uint32_t Broadcast() const { return network | (prefix == 32 ? 0 : (~0U >> prefix)); }
  std::string Cidr() const { return FormatIpv4(network) + "/" + std::to_string(prefix); }
};

// "10.213.0.0/24": a prefix of 8 to 30 bits and no host bits set; otherwise
// NetworkSetupError saying why.
Result<Subnet> ParseSubnet(std::string_view cidr);

// The lowest address of `subnet` that is neither its network, gateway nor broadcast address
// nor in `used`; NetworkSetupError when there is none.
Result<uint32_t> AllocateAddress(const Subnet& subnet, const std::set<uint32_t>& used);

}  // namespace berth::agent::network
