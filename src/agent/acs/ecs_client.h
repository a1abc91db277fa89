// The agent's calls to the ECS API (JSON 1.1, SigV4 with the agent's own IAM credentials),
// the ones the ECS agent makes (ECS-FACTS §1.4, §1.6): CreateCluster,
// RegisterContainerInstance, DiscoverPollEndpoint, SubmitTaskStateChange.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agent/spec/task_spec.h"
#include "aws/sigv4.h"
#include "common/clock.h"
#include "common/error.h"

namespace berth::agent::acs {

struct EcsClientOptions {
  std::string endpoint;  // berth: "https://127.0.0.1:4566"
  std::string region;
  aws::Credentials credentials;  // the agent's own
  std::string ca_file;           // extra CA bundle for https; "": system CAs
};

struct Registration {
  std::string cluster;                 // name or ARN
  std::string container_instance_arn;  // set: re-register that instance (after a restart)
  int cpu_units = 0;                   // cores x 1024
  int64_t memory_mib = 0;
  std::vector<int> reserved_ports;      // PORTS
  std::vector<int> reserved_udp_ports;  // PORTS_UDP
  std::string agent_version;            // ECS agent version reported ("1.89.0")
  std::string agent_hash;
  std::string docker_version;           // versionInfo.dockerVersion ("berth <version>")
  std::vector<std::pair<std::string, std::string>> attributes;  // value "" = name only
};

struct Registered {
  std::string container_instance_arn;
  std::string cluster_arn;
};

// DiscoverPollEndpoint's answer: URLs ("https://host:port[/path]") the sessions append /ws to.
struct PollEndpoints {
  std::string endpoint;            // ACS
  std::string telemetry_endpoint;  // TCS; "" when the server named none
};

// The ARN of the cluster a container instance's or a task's ARN names
// ("arn:aws:ecs:r:a:container-instance/<cluster>/<id>", "...:task/<cluster>/<id>" ->
// "arn:aws:ecs:r:a:cluster/<cluster>"); for the old forms without the cluster, `cluster` (a name
// or an ARN), which is also the answer when `cluster` is an ARN.
std::string ClusterArnOf(const std::string& arn, const std::string& cluster);

// Thread-safe (a connection per calling thread).
class EcsClient {
 public:
  explicit EcsClient(EcsClientOptions options, const Clock& clock = SystemClock::Instance());
  ~EcsClient();

  // The cluster's ARN (creating the cluster is idempotent).
  Result<std::string> CreateCluster(const std::string& name);

  // Registers (or re-registers) this host. As the ECS agent does, checks that every attribute
  // sent comes back with the same value; a mismatch fails with "AttributeError".
  Result<Registered> RegisterContainerInstance(const Registration& registration);

  // The ACS and TCS endpoints. Error "InvalidResponse" without `endpoint`.
  Result<PollEndpoints> DiscoverPollEndpoint(const std::string& cluster,
                                             const std::string& container_instance_arn);

  // Reasons longer than 1024 characters are cut as the ECS agent cuts them.
  Status SubmitTaskStateChange(const spec::TaskStateChange& change);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::agent::acs
