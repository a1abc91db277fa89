// Accounts and access keys: who may sign requests to berth.
//
// The server hosts many accounts (12-digit ids). Each access key belongs to
// an account's root or to an IAM user; its secret is sealed with the root key
// in the store. Resolve() is on every request's path: resolved keys are
// cached in memory and the cache is invalidated by a store watch, so a key
// deleted or deactivated by any replica stops working at once.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "aws/identity.h"
#include "common/clock.h"
#include "common/ids.h"
#include "crypto/root_key.h"
#include "store/kv.h"
#include "store/watched_cache.h"

namespace berth::iam {

class IdentityStore final : public aws::CredentialResolver {
 public:
  // All references must outlive the store.
  IdentityStore(store::Kv& kv, const crypto::RootKey& root_key, Ids& ids, const Clock& clock);
  ~IdentityStore() override;

  // Creates the account if it does not exist; true when it was created.
  // InvalidParameterException unless `account_id` is 12 digits.
  Result<bool> EnsureAccount(const std::string& account_id);
  Result<bool> AccountExists(const std::string& account_id);
  Result<std::vector<std::string>> ListAccounts();

  // The account's root access key, creating a random one when it has none.
  // With `fixed`, the root key is exactly that one (replacing any other).
  Result<aws::Credentials> EnsureRootAccessKey(const std::string& account_id,
                                               const std::optional<aws::Credentials>& fixed);

  Result<aws::SigningSecret> Resolve(std::string_view access_key_id,
                                     std::string_view session_token) override;

  // IAM users' access keys (at most 2 per user, as in IAM).
  struct AccessKeyInfo {
    std::string access_key_id;
    std::string user_name;
    std::string status;  // "Active" | "Inactive"
    TimePoint created;
  };
  Result<std::pair<AccessKeyInfo, std::string /*secret*/>> CreateAccessKey(
      const std::string& account, const std::string& user_name, const std::string& user_id);
  Result<std::vector<AccessKeyInfo>> ListAccessKeys(const std::string& account,
                                                    const std::string& user_name);
  Status UpdateAccessKey(const std::string& account, const std::string& user_name,
                         const std::string& access_key_id, const std::string& status);
  Status DeleteAccessKey(const std::string& account, const std::string& user_name,
                         const std::string& access_key_id);

  // Temporary credentials of an assumed role (STS). The session token is
  // random; only its SHA-256 is stored, with the secret sealed.
  struct Session {
    // "role" (AssumeRole), "user" / "root" (GetSessionToken: the same
    // principal with temporary credentials), or "federated" (GetFederationToken:
    // the user's permissions narrowed by the session policy; session_name is
    // the federated user's name).
    std::string kind = "role";
    std::string user_name, user_id;  // kinds "user" and "federated"
    std::string account, role_name, role_id, role_arn, session_name;
    std::string session_policy;  // empty: none
    TimePoint expiration;
  };
  Result<aws::Credentials> CreateSession(const Session& session);
  // The session policy of temporary credentials; empty when it has none or the
  // key is not a session's.
  Result<std::string> GetSessionPolicy(std::string_view access_key_id);
  // The account an access key (long-term or temporary) belongs to; nullopt
  // for a key this server does not hold.
  Result<std::optional<std::string>> AccountOfKey(std::string_view access_key_id);

 private:
  Result<aws::Credentials> PutRootKey(const std::string& account_id, aws::Credentials creds,
                                      const std::optional<std::string>& old_key_id);
  Result<std::optional<aws::SigningSecret>> Load(std::string_view access_key_id);
  Result<aws::SigningSecret> ResolveSession(std::string_view access_key_id,
                                            std::string_view session_token);

  store::Kv& kv_;
  const crypto::RootKey& root_key_;
  Ids& ids_;
  const Clock& clock_;

  // Resolved long-term keys by access key id, watched on accesskeys/; this
  // store's own writes drop theirs at once.
  store::WatchedCache<aws::SigningSecret> keys_;

  // Sessions are immutable once created: cached after the first request
  // (secret unsealed, record parsed), checked against the token's SHA-256 and
  // the expiration on every request; evicted by a watch on sessions/.
  struct CachedSession {
    aws::SigningSecret secret;
    std::string token_sha256;
    TimePoint expiration;
    Session session;
    // The token once it matched token_sha256 (in memory only, like `secret`):
    // later requests compare with it instead of hashing theirs.
    mutable std::mutex verified_mu;
    mutable std::string verified_token;
  };
  Result<std::shared_ptr<CachedSession>> LoadSession(std::string_view access_key_id);
  store::WatchedCache<CachedSession> sessions_;  // by access key id
};

// Valid access key id: 16-128 characters of [A-Z0-9] (AWS's documented shape).
bool IsValidAccessKeyId(std::string_view id);

}  // namespace berth::iam
