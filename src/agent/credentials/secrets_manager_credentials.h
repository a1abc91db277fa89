// Registry credentials kept in a Secrets Manager secret: the ECS way for a
// private registry (a container definition's repositoryCredentials names the
// secret). As the ECS agent's asm-auth resource does, the secret
// {"username": ..., "password": ...} (keys matched ignoring case) is read once,
// AWSCURRENT, with GetSecretValue, over HTTP with SigV4 as the task's execution
// role: IAM (secretsmanager:GetSecretValue, and kms:Decrypt for a customer
// managed key) decides, as in AWS. A secret in another region or account is
// named by its full ARN, whose region is then the one signed for.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "agent/credentials/credential_source.h"
#include "aws/sigv4.h"
#include "common/clock.h"

namespace berth::agent::credentials {

struct SecretsManagerOptions {
  std::string endpoint;          // the Secrets Manager endpoint: berth's
  std::string region;            // signed for unless `secret_id` is an ARN
  aws::Credentials credentials;  // the execution role's (temporary) credentials
  std::string secret_id;         // credentialsParameter: a name or an ARN
  std::string ca_file;           // extra CA bundle for an https endpoint
};

class SecretsManagerCredentials final : public CredentialSource {
 public:
  // Reads the secret now. Errors have code "ResourceInitializationError" and
  // read as on Fargate: "unable to pull secrets or registry auth: " then the ECS
  // agent's words: "asm fetching secret from the service for <id>: <code>:
  // <message>" (the service's error, e.g. AccessDeniedException naming the
  // action), "asm fetching authorization data: unable to unmarshal secret
  // value, invalid schema" (not a JSON object of strings, or SecretBinary only),
  // "asm fetching username|password: AuthorizationData is malformed, empty
  // field". No message contains the secret's value.
  static Result<std::unique_ptr<SecretsManagerCredentials>> Fetch(
      const SecretsManagerOptions& options, TimePoint now);

  // The secret's credentials, whatever the registry (they belong to the
  // container, whose image names one registry).
  Result<std::optional<RegistryCredentials>> Lookup(const reference::Reference& ref) override;

 private:
  explicit SecretsManagerCredentials(RegistryCredentials credentials);
  RegistryCredentials credentials_;
};

}  // namespace berth::agent::credentials
