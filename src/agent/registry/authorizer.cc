#include "agent/registry/authorizer.h"

#include <fmt/format.h>

#include <algorithm>

#include "agent/registry/errors.h"
#include "common/json.h"
#include "common/log.h"
#include "common/strings.h"

namespace berth::agent::registry {
namespace {

constexpr size_t kMaxTokenReply = 1 << 20;
// expires_in when the token server does not say (the distribution token spec).
constexpr std::chrono::seconds kDefaultTokenLifetime{60};
// A token is renewed this long before it expires, so it does not lapse in flight.
constexpr std::chrono::seconds kTokenRenewMargin{5};

bool IsTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// A cursor over a WWW-Authenticate value.
class ChallengeLexer {
 public:
  explicit ChallengeLexer(std::string_view text) : text_(text) {}

  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }
  void Advance() { ++pos_; }
  size_t pos() const { return pos_; }
  void Reset(size_t pos) { pos_ = pos; }

  void SkipSpace() {
    while (!AtEnd() && (Peek() == ' ' || Peek() == '\t')) ++pos_;
  }
  void SkipSpaceAndCommas() {
    while (!AtEnd() && (Peek() == ' ' || Peek() == '\t' || Peek() == ',')) ++pos_;
  }
  std::string_view Token() {
    size_t start = pos_;
    while (!AtEnd() && IsTokenChar(Peek())) ++pos_;
    return text_.substr(start, pos_ - start);
  }
  // quoted-string with backslash escapes; the opening quote is at pos_.
  std::string Quoted() {
    std::string out;
    ++pos_;
    while (!AtEnd() && Peek() != '"') {
      if (Peek() == '\\' && pos_ + 1 < text_.size()) ++pos_;
      out += text_[pos_++];
    }
    if (!AtEnd()) ++pos_;  // closing quote
    return out;
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

std::vector<std::string> SplitScopes(std::string_view scopes) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < scopes.size()) {
    size_t end = std::min(scopes.find(' ', start), scopes.size());
    if (end > start) out.emplace_back(scopes.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// Tokens end up in a header line: refuse anything that could break out of it.
bool IsHeaderSafe(std::string_view value) {
  return !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
    return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f;
  });
}

std::string CacheKey(std::string_view registry, std::string_view scope) {
  return fmt::format("{}\n{}", registry, scope);
}

}  // namespace

std::string Challenge::Param(std::string_view name) const {
  for (const auto& [key, value] : params) {
    if (key == name) return value;
  }
  return "";
}

std::vector<Challenge> ParseChallenges(std::string_view header_value) {
  std::vector<Challenge> challenges;
  ChallengeLexer lex(header_value);
  while (true) {
    lex.SkipSpaceAndCommas();
    if (lex.AtEnd()) break;
    std::string_view scheme = lex.Token();
    if (scheme.empty()) {
      lex.Advance();  // not a token character: skip it
      continue;
    }
    Challenge challenge{ToLower(scheme), {}};
    while (true) {
      size_t start = lex.pos();
      lex.SkipSpaceAndCommas();
      std::string_view name = lex.Token();
      lex.SkipSpace();
      if (name.empty() || lex.Peek() != '=') {
        lex.Reset(start);  // the next challenge's scheme, or the end
        break;
      }
      lex.Advance();
      lex.SkipSpace();
      std::string value = lex.Peek() == '"' ? lex.Quoted() : std::string(lex.Token());
      challenge.params.emplace_back(ToLower(name), std::move(value));
      lex.SkipSpace();
      if (lex.Peek() != ',') break;
    }
    challenges.push_back(std::move(challenge));
  }
  return challenges;
}

std::string PullScope(std::string_view repository) {
  return fmt::format("repository:{}:pull", repository);
}

Authorizer::Authorizer(std::optional<credentials::RegistryCredentials> credentials,
                       TransportOptions options, RetryPolicy retry, const Clock& clock,
                       ChallengeMemory* memory)
    : credentials_(std::move(credentials)),
      retry_(retry),
      clock_(clock),
      memory_(memory),
      transport_(std::move(options)) {}

Authorizer::~Authorizer() = default;

void ChallengeMemory::Remember(std::string_view registry, const Challenge& challenge) {
  std::lock_guard lock(mu_);
  challenges_.insert_or_assign(std::string(registry), challenge);
}

std::optional<Challenge> ChallengeMemory::Recall(std::string_view registry) const {
  std::lock_guard lock(mu_);
  auto it = challenges_.find(registry);
  if (it == challenges_.end()) return std::nullopt;
  return it->second;
}

void ChallengeMemory::Forget(std::string_view registry) {
  std::lock_guard lock(mu_);
  if (auto it = challenges_.find(registry); it != challenges_.end()) challenges_.erase(it);
}

std::string Authorizer::BasicHeader() const {
  return "Basic " + Base64Encode(credentials_->username + ":" + credentials_->password);
}

Result<std::optional<std::string>> Authorizer::HeaderFor(std::string_view registry,
                                                         std::string_view scope) {
  std::lock_guard lock(mu_);
  if (auto it = tokens_.find(CacheKey(registry, scope)); it != tokens_.end()) {
    if (clock_.Now() + kTokenRenewMargin < it->second.expires) {
      return std::optional<std::string>(it->second.header);
    }
    tokens_.erase(it);
  }
  if (bearer_.contains(std::string(registry))) {
    return std::optional<std::string>(BERTH_TRY(FetchToken(registry, scope)));
  }
  if (basic_.contains(registry) && credentials_ && !credentials_->username.empty()) {
    return std::optional<std::string>(BasicHeader());
  }
  // Not challenged by this pull yet: what the registry asked an earlier one for.
  std::optional<Challenge> known = memory_ ? memory_->Recall(registry) : std::nullopt;
  if (known && known->scheme == "bearer") {
    bearer_[std::string(registry)] = *known;
    if (auto token = FetchToken(registry, scope)) return std::optional<std::string>(*token);
    bearer_.erase(std::string(registry));
    memory_->Forget(registry);
  } else if (known && known->scheme == "basic" && credentials_ &&
             !credentials_->username.empty()) {
    basic_.emplace(registry);
    return std::optional<std::string>(BasicHeader());
  }
  return std::optional<std::string>();
}

Status Authorizer::Answer(std::string_view registry, std::string_view scope,
                          const TransportResponse& response,
                          std::string_view rejected_authorization) {
  std::lock_guard lock(mu_);
  if (auto it = tokens_.find(CacheKey(registry, scope)); it != tokens_.end()) {
    if (it->second.header != rejected_authorization &&
        clock_.Now() + kTokenRenewMargin < it->second.expires) {
      return {};
    }
    tokens_.erase(it);
  }
  std::vector<Challenge> challenges;
  for (std::string_view value : response.HeaderValues("www-authenticate")) {
    std::vector<Challenge> parsed = ParseChallenges(value);
    challenges.insert(challenges.end(), parsed.begin(), parsed.end());
  }
  std::string what = fmt::format("authenticating to {}", registry);
  auto find = [&](std::string_view scheme) {
    return std::find_if(challenges.begin(), challenges.end(),
                        [&](const Challenge& c) { return c.scheme == scheme; });
  };
  if (auto bearer = find("bearer"); bearer != challenges.end()) {
    if (bearer->Param("realm").empty()) {
      return Fail(PullError(what, "the registry's Bearer challenge names no realm"));
    }
    bearer_[std::string(registry)] = *bearer;
    BERTH_CHECK(FetchToken(registry, scope));
    if (memory_) memory_->Remember(registry, *bearer);
    return {};
  }
  if (auto basic = find("basic"); basic != challenges.end()) {
    if (memory_) memory_->Remember(registry, *basic);
    if (!credentials_ || credentials_->username.empty()) {
      return Fail(AuthRequiredError(what, registry, response));
    }
    basic_.emplace(registry);
    return {};
  }
  if (challenges.empty()) {
    if (!credentials_) return Fail(AuthRequiredError(what, registry, response));
    return Fail(PullError(what, "the registry answered 401 without an authentication challenge"));
  }
  return Fail(PullError(what, fmt::format("unsupported authentication scheme {:?}",
                                          challenges.front().scheme.substr(0, 32))));
}

Error Authorizer::Unauthorized(std::string_view what, std::string_view registry,
                               const TransportResponse& response) const {
  if (!credentials_) return AuthRequiredError(what, registry, response);
  return RegistryReplyError(what, response);
}

Result<std::string> Authorizer::FetchToken(std::string_view registry, std::string_view scope) {
  const Challenge& challenge = bearer_.at(std::string(registry));
  std::string realm = challenge.Param("realm");
  std::string service = challenge.Param("service");
  std::vector<std::string> scopes = SplitScopes(challenge.Param("scope"));
  if (std::find(scopes.begin(), scopes.end(), scope) == scopes.end()) {
    scopes.emplace_back(scope);
  }
  std::string what = fmt::format("token request to {}", OriginOf(realm));
  if (Status allowed = CheckUrlAllowed(realm, transport_.options()); !allowed) {
    return Fail(PullError(what, allowed.error().message, allowed.error().http_status));
  }

  TransportRequest request;
  if (credentials_ && !credentials_->identity_token.empty()) {
    // OAuth2 refresh-token grant, as Docker does with an identity token.
    std::string joined;
    for (const std::string& s : scopes) joined += (joined.empty() ? "" : " ") + s;
    request.method = "POST";
    request.url = realm;
    request.headers.push_back({"Content-Type", "application/x-www-form-urlencoded"});
    request.body = fmt::format(
        "grant_type=refresh_token&client_id=berth&service={}&scope={}"
        "&refresh_token={}",
        UriEncode(service), UriEncode(joined), UriEncode(credentials_->identity_token));
  } else {
    std::string query = "service=" + UriEncode(service);
    for (const std::string& s : scopes) query += "&scope=" + UriEncode(s);
    request.url = realm + (realm.find('?') == std::string::npos ? "?" : "&") + query;
    if (credentials_ && !credentials_->username.empty()) {
      request.headers.push_back({"Authorization", BasicHeader()});
    }
  }

  Result<TransportResponse> reply = SendWithRetry(transport_, request, kMaxTokenReply, retry_);
  if (!reply) return Fail(PullError(what, reply.error().message, reply.error().http_status));
  if (reply->status == 401 || reply->status == 403) {
    if (!credentials_) return Fail(AuthRequiredError(what, registry, *reply));
    return Fail(RegistryReplyError(what, *reply));
  }
  if (reply->status != 200) return Fail(RegistryReplyError(what, *reply));

  json::Json parsed = json::Json::parse(reply->body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return Fail(PullError(what, "the token server's reply is not a JSON object"));
  }
  std::string token;
  for (const char* key : {"token", "access_token"}) {
    auto it = parsed.find(key);
    if (it != parsed.end() && it->is_string() && !it->get<std::string>().empty()) {
      token = it->get<std::string>();
      break;
    }
  }
  if (token.empty()) {
    return Fail(PullError(what, "the token server's reply has no \"token\" or \"access_token\""));
  }
  if (!IsHeaderSafe(token)) {
    return Fail(PullError(what,
                          "the token server's token contains characters not allowed in "
                          "an HTTP header"));
  }
  std::chrono::seconds lifetime = kDefaultTokenLifetime;
  if (auto it = parsed.find("expires_in"); it != parsed.end() && it->is_number()) {
    double seconds = it->get<double>();
    if (seconds > 0 && seconds < 1e9)
      lifetime = std::chrono::seconds(static_cast<int64_t>(seconds));
  }
  std::string header = "Bearer " + token;
  tokens_[CacheKey(registry, scope)] = Token{header, clock_.Now() + lifetime};
  log::Debug("registry token obtained",
             {{"registry", registry}, {"scope", scope}, {"expires_in", lifetime.count()}});
  return header;
}

}  // namespace berth::agent::registry
