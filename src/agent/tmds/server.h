// The endpoint a task's containers ask for their task role's credentials and their metadata,
// as the ECS agent serves it (ECS-FACTS §3.4, §3.5): an HTTP server on 127.0.0.1 that task
// namespaces reach at 169.254.170.2:80 (network/ DNATs it here, keeping the task's source
// address) and host-network containers reach directly.
//
//   GET /v2/credentials/<credentials id>  {"RoleArn","AccessKeyId","SecretAccessKey","Token",
//                                          "Expiration"}; errors {"code","message"}:
//                                          NoIdInRequest 400, InvalidIdInRequest 400
//   GET /v1/credentials?id=<id>           the same
//   GET /v4/<endpoint id>                 the container's metadata document
//   GET /v4/<endpoint id>/task            the task's (Containers[] with every container)
//   GET /v4/<endpoint id>/taskWithTags    the same (berth has no tags to add)
//   (v4 unknown id: 404, the body a JSON string as the agent's: "V4 container metadata
//   handler: ..." / "V4 task metadata handler: ..."; documents.h has the documents' keys)
// Only GET (else 405); other paths 404. Each source address may make 40 requests a second
// with bursts of 60 (ECS_TASK_METADATA_RPS_LIMIT's default); past that 429.
//
// Only task role credentials are ever put here (never the execution role's: PutCredentials
// ignores role_type "TaskExecution"). A task with its own address (bridge, awsvpc) is answered
// only when the request comes from that address, so a task cannot read another task's
// credentials or metadata even knowing their ids; a task without one (host network) is
// answered for any local address except another task's own. A refused request is answered as
// an unknown id (400 InvalidIdInRequest, 404). Credentials are served only while their task's
// metadata is put (PutTask), since its address decides who may read them. Credential values
// are never logged (ids, ARNs and peer addresses only).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/spec/task_spec.h"
#include "common/clock.h"
#include "common/error.h"

namespace berth::agent::tmds {

struct ContainerMetadata {
  std::string endpoint_id;  // the /v4/<id> path component (random, per container)
  std::string name;
  std::string runtime_id;  // DockerId
  std::string image;
  std::string image_digest;  // ImageID
  std::string desired_status;
  std::string known_status;  // NONE | PULLED | CREATED | RUNNING | STOPPED
  std::optional<int> exit_code;
  int cpu = 0;
  int64_t memory_mib = 0;
  std::optional<TimePoint> created_at, started_at, finished_at;
  std::map<std::string, std::string> labels;
  std::vector<spec::NetworkBinding> ports;
  std::string container_arn;
};

struct TaskMetadata {
  std::string cluster;  // cluster ARN
  std::string task_arn;
  std::string family;
  std::string revision;
  std::string desired_status;
  std::string known_status;
  std::string launch_type;
  std::string network_mode;
  std::string ipv4;  // the task's own address; "": host network (requests from anywhere local)
  double cpu = 0;
  int64_t memory_mib = 0;
  std::optional<TimePoint> pull_started_at, pull_stopped_at, execution_stopped_at;
  std::string availability_zone;
  std::vector<ContainerMetadata> containers;
};

class MetadataServer {
 public:
  // Listens on `listen` ("127.0.0.1:0" picks a free port). Errors: "BindFailed".
  static Result<std::unique_ptr<MetadataServer>> Start(const std::string& listen);
  virtual ~MetadataServer() = default;

  // "127.0.0.1:<port>" as bound.
  virtual std::string Address() const = 0;

  // Adds or replaces a task's metadata (the engine calls it on every state change).
  virtual void PutTask(const TaskMetadata& task) = 0;
  // The task role's credentials of a task (replacing earlier ones: refresh). Credentials
  // with role_type "TaskExecution" or no credentials_id are ignored (logged, not served).
  virtual void PutCredentials(const std::string& task_arn, const spec::RoleCredentials& creds) = 0;
  // Forgets the task and its credentials.
  virtual void RemoveTask(const std::string& task_arn) = 0;
};

}  // namespace berth::agent::tmds
