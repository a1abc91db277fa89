// `berth up`'s agents: an EC2 agent and a Fargate agent on this machine, each a `berth agent`
// child process with an IAM identity made for it (admin CreateAgentCredentials), logging to
// DATA_DIR/agents/<name>.log.
#pragma once

#include <string>
#include <sys/types.h>
#include <vector>

#include "common/error.h"

namespace berth::cli {

struct UpAgentOptions {
  std::string berth_binary;
  std::string endpoint;
  std::string data_dir;          // the server's
  std::string credentials_file;  // holds the root's profile "default"; the agents' is added
  std::string ca_file;           // the endpoint's CA ("" for plain HTTP)
  std::vector<std::string> insecure_registries;
  std::string registry_ca_file;
  std::vector<std::string> bridges = {"berth0", "berth1"};  // EC2 agent's, Fargate agent's
  std::vector<std::string> subnets = {"10.213.0.0/24", "10.213.1.0/24"};
};

struct UpAgent {
  std::string name;  // "ec2" | "fargate"
  pid_t pid = 0;
  std::string log_file;
};

// Why agents cannot run here ("" when they can): they need root and runc.
std::string AgentsUnavailableReason();

// Creates the agents' identity (profile "berth-agent") and starts both agents.
Result<std::vector<UpAgent>> StartUpAgents(const UpAgentOptions& options);

// `berth up --clean-up`: `berth agent --clean-up` for each of the two agents (their data dirs
// under options.data_dir, options.bridges). Refused for an agent that runs. The exit code.
int CleanUpUpAgents(const UpAgentOptions& options);

// SIGTERM to each agent, then waits for it (containers keep running; the next `berth up`'s
// agents adopt them).
void StopUpAgents(const std::vector<UpAgent>& agents);

}  // namespace berth::cli
