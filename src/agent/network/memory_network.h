// A Network in memory (the engine's tests; `berth agent --hollow`): no namespace, link or
// rule. Setup hands out 10.213.0.<n> and, in bridge mode, publishes each port on its fixed
// host port or the next ephemeral one from 49153.
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "agent/network/network.h"

namespace berth::agent::network {

class MemoryNetwork final : public Network {
 public:
  Result<TaskNetwork> Setup(const TaskNetworkRequest& request) override {
    std::lock_guard lock(mu_);
    requests_.push_back(request);
    TaskNetwork net;
    net.mode = request.mode;
    if (request.mode != "host") {
      net.netns_path = "/run/netns/berth-" + request.task_id;
      net.ipv4 = "10.213.0." + std::to_string(next_address_++);
      net.gateway = "10.213.0.1";
    }
    if (request.mode == "bridge") {
      for (const auto& port : request.ports) {
        int host_port = port.host_port != 0 ? port.host_port : next_port_++;
        net.bindings.push_back({"0.0.0.0", port.container_port, host_port, port.protocol});
      }
    }
    networks_[request.task_id] = net;
    return net;
  }
  Status Teardown(const std::string& task_id) override {
    std::lock_guard lock(mu_);
    torn_down_.insert(task_id);
    networks_.erase(task_id);
    return {};
  }
  Result<std::map<std::string, TaskNetwork>> Recover(
      const std::set<std::string>& keep) override {
    std::lock_guard lock(mu_);
    kept_ = keep;
    std::map<std::string, TaskNetwork> out;
    for (const auto& [id, net] : networks_) {
      if (keep.contains(id)) out[id] = net;
    }
    return out;
  }

  std::vector<TaskNetworkRequest> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  std::set<std::string> torn_down() const {
    std::lock_guard lock(mu_);
    return torn_down_;
  }
  std::set<std::string> kept() const {
    std::lock_guard lock(mu_);
    return kept_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<TaskNetworkRequest> requests_;
  std::map<std::string, TaskNetwork> networks_;
  std::set<std::string> torn_down_, kept_;
  int next_address_ = 2;
  int next_port_ = 49153;
};

}  // namespace berth::agent::network
