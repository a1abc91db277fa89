#include "iam/policy.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <set>
#include <span>
#include <utility>

#include "common/arn.h"
#include "common/json.h"
#include "common/strings.h"

namespace berth::iam {

namespace {

using json::Json;

std::unexpected<Error> Malformed(std::string message) {
  return Fail("MalformedPolicyDocument", std::move(message));
}

// IAM answers every grammar fault with these words alone, naming neither the fault nor
// where it is; so does berth, so that clients matching on the message see AWS's.
std::unexpected<Error> Syntax() { return Malformed("Syntax errors in policy."); }

const ContextMap& EmptyContext() {
  static const ContextMap* empty = new ContextMap();
  return *empty;
}

// A statement after the syntax pass, before the semantic checks and compilation.
struct RawStatement {
  std::string sid;
  bool has_sid = false;
  std::string effect;
  bool has_action = false, not_action = false;
  std::vector<std::string> actions;
  bool has_resource = false, not_resource = false;
  std::vector<std::string> resources;
  const Json* principal = nullptr;  // Principal or NotPrincipal value
  bool not_principal = false;
  std::vector<Condition> conditions;
};

constexpr std::string_view kStatementFields[] = {
    "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction",
    "Resource", "NotResource", "Condition"};

bool IsStatementField(std::string_view name) {
  return std::find(std::begin(kStatementFields), std::end(kStatementFields), name) !=
         std::end(kStatementFields);
}

// A string or a list of strings (an empty list is allowed here; emptiness is checked later).
// With `skip_nulls`, null items of a list are dropped rather than refused.
bool StringOrList(const Json& value, std::vector<std::string>* out, bool skip_nulls = false) {
  if (value.is_string()) {
    out->push_back(value.get<std::string>());
    return true;
  }
  if (!value.is_array()) return false;
  for (const auto& item : value) {
    if (skip_nulls && item.is_null()) continue;
    if (!item.is_string()) return false;
    out->push_back(item.get<std::string>());
  }
  return true;
}

// A condition value: JSON strings, numbers and booleans, alone or in a list.
bool ScalarText(const Json& value, std::string* out) {
  if (value.is_string()) {
    *out = value.get<std::string>();
  } else if (value.is_boolean()) {
    *out = value.get<bool>() ? "true" : "false";
  } else if (value.is_number_integer()) {
    *out = value.dump();
  } else if (value.is_number()) {
    *out = value.dump();
  } else {
    return false;
  }
  return true;
}

bool ConditionValues(const Json& value, std::vector<std::string>* out) {
  std::string text;
  if (!value.is_array()) {
    if (!ScalarText(value, &text)) return false;
    out->push_back(std::move(text));
    return true;
  }
  for (const auto& item : value) {
    if (!ScalarText(item, &text)) return false;
    out->push_back(std::move(text));
  }
  return true;
}

bool IsPrincipalType(std::string_view key) {
  return key == "AWS" || key == "Service" || key == "Federated" || key == "CanonicalUser";
}

bool SyntaxOfPrincipal(const Json& value) {
  if (value.is_string()) return value.get<std::string>() == "*";
  if (!value.is_object() || value.empty()) return false;
  for (const auto& [key, entries] : value.items()) {
    if (!IsPrincipalType(key)) return false;
    std::vector<std::string> list;
    if (!StringOrList(entries, &list) || list.empty()) return false;
  }
  return true;
}

// The grammar pass: types, known elements, required Effect and Statement.
Result<std::vector<RawStatement>> ParseStatements(const Json& doc, LanguageVersion version,
                                                  std::optional<Error>* legacy_error) {
  const Json& statement = doc.at("Statement");
  std::vector<const Json*> items;
  if (statement.is_object()) {
    items.push_back(&statement);
  } else if (statement.is_array()) {
    if (statement.empty()) return Syntax();
    for (const auto& item : statement) {
      if (!item.is_object()) return Syntax();
      items.push_back(&item);
    }
  } else {
    return Syntax();
  }

  std::vector<RawStatement> out;
  for (const Json* item : items) {
    RawStatement raw;
    for (const auto& [key, value] : item->items()) {
      if (!IsStatementField(key)) return Syntax();
    }
    if ((item->contains("Action") && item->contains("NotAction")) ||
        (item->contains("Resource") && item->contains("NotResource")) ||
        (item->contains("Principal") && item->contains("NotPrincipal"))) {
      return Syntax();
    }

    // Any capitalisation passes the grammar; only "Allow"/"Deny" pass legacy parsing.
    auto effect = item->find("Effect");
    if (effect == item->end() || !effect->is_string() ||
        (!EqualsIgnoreCase(effect->get<std::string>(), "Allow") &&
         !EqualsIgnoreCase(effect->get<std::string>(), "Deny"))) {
      return Syntax();
    }
    raw.effect = effect->get<std::string>();

    if (auto sid = item->find("Sid"); sid != item->end()) {
      if (!sid->is_string()) return Syntax();
      raw.sid = sid->get<std::string>();
      raw.has_sid = true;
    }

    for (std::string_view name : {"Action", "NotAction"}) {
      auto it = item->find(name);
      if (it == item->end()) continue;
      if (!StringOrList(*it, &raw.actions)) return Syntax();
      raw.has_action = true;
      raw.not_action = name == "NotAction";
    }
    for (std::string_view name : {"Resource", "NotResource"}) {
      auto it = item->find(name);
      if (it == item->end()) continue;
      // IAM accepts null items in a Resource list (CloudFormation leaves them where a
      // condition drops an ARN); they name nothing. A list of nulls alone is empty.
      if (!StringOrList(*it, &raw.resources, /*skip_nulls=*/true)) return Syntax();
      raw.has_resource = true;
      raw.not_resource = name == "NotResource";
    }
    for (std::string_view name : {"Principal", "NotPrincipal"}) {
      auto it = item->find(name);
      if (it == item->end()) continue;
      if (!SyntaxOfPrincipal(*it)) return Syntax();
      raw.principal = &*it;
      raw.not_principal = name == "NotPrincipal";
    }

    if (auto cond = item->find("Condition"); cond != item->end()) {
      if (!cond->is_object()) return Syntax();
      for (const auto& [op, block] : cond->items()) {
        if (!block.is_object()) return Syntax();
        // IAM accepts an empty block even for an operator it does not know.
        for (const auto& [key, values] : block.items()) {
          std::vector<std::string> list;
          if (!ConditionValues(values, &list)) return Syntax();
          auto compiled = Condition::Compile(op, key, list, version);
          if (!compiled) {
            if (compiled.error().message.starts_with("Syntax errors")) return Fail(compiled.error());
            if (!*legacy_error) *legacy_error = compiled.error();
            continue;
          }
          raw.conditions.push_back(std::move(*compiled));
        }
      }
    }
    out.push_back(std::move(raw));
  }
  return out;
}

// What may follow the account in an iam ARN besides "*" and "root" (IAM's own list, which
// its refusal quotes).
constexpr std::string_view kIamResourceTypes[] = {"user/",
                                                  "federated-user/",
                                                  "role/",
                                                  "group/",
                                                  "instance-profile/",
                                                  "mfa/",
                                                  "server-certificate/",
                                                  "policy/",
                                                  "sms-mfa/",
                                                  "saml-provider/",
                                                  "oidc-provider/",
                                                  "report/",
                                                  "access-report/"};
constexpr std::string_view kIamResourcePathError =
    "IAM resource path must either be \"*\", root, or start with user/, federated-user/, "
    "role/, group/, instance-profile/, mfa/, server-certificate/, policy/, sms-mfa/, "
    "saml-provider/, oidc-provider/, report/, access-report/.";
// The S3 resource types whose ARNs name a region and an account (the Service Authorization
// Reference's regional S3 types: access points and their objects, Batch Operations jobs,
// Storage Lens, Access Grants, Multi-Region Access Point requests). Buckets and objects
// (arn:aws:s3:::bucket/key) have neither, and IAM refuses them with a region.
constexpr std::string_view kS3RegionalTypes[] = {"accesspoint/",   "job/",
                                                 "storage-lens/",  "storage-lens-group/",
                                                 "access-grants/", "async-request/"};

// IAM's resource format check (as observed by moto's validator against IAM, and IAM's
// answers quoted in users' reports): the second ':'-field is the partition, a third field
// must follow; iam ARNs have no region and name one of IAM's resource types; s3 ARNs name
// a region only for S3's regional resource types. Other services' ARNs are not checked.
std::optional<std::string> ResourceFormatError(std::string_view r) {
  if (r == "*") return std::nullopt;
  size_t first = r.find(':');
  if (first == std::string_view::npos) {
    return fmt::format("Resource {} must be in ARN format or \"*\".", r);
  }
  std::string_view rest = r.substr(first + 1);
  size_t second = rest.find(':');
  std::string_view partition = rest.substr(0, second);
  if (partition != "aws" && partition != "aws-cn" && partition != "aws-us-gov") {
    std::vector<std::string_view> remaining;
    std::string_view tail = second == std::string_view::npos ? "" : rest.substr(second + 1);
    size_t pos = 0;
    while (true) {
      size_t colon = tail.find(':', pos);
      remaining.push_back(tail.substr(pos, colon - pos));
      if (colon == std::string_view::npos) break;
      pos = colon + 1;
    }
    auto field = [&](size_t i) -> std::string {
      if (i == 0) return remaining[0].empty() && remaining.size() == 1 ? "*" : std::string(remaining[0]);
      return i < remaining.size() ? std::string(remaining[i]) : "*";
    };
    std::string last = "*";
    if (remaining.size() > 3) {
      last.clear();
      for (size_t i = 3; i < remaining.size(); ++i) {
        if (i > 3) last += ':';
        last += remaining[i];
      }
    }
    return fmt::format("Partition \"{}\" is not valid for resource \"arn:{}:{}:{}:{}:{}\".",
                       partition, partition, field(0), field(1), field(2), last);
  }
  if (second == std::string_view::npos) {
    return "Resource vendor must be fully qualified and cannot contain regexes.";
  }
  // arn:<partition>:<service>:<region>:<account>:<resource>; `resource` is empty when the
  // text has fewer fields.
  std::string_view after = rest.substr(second + 1);
  size_t third = after.find(':');
  std::string_view service = after.substr(0, third);
  std::string_view fields = third == std::string_view::npos ? "" : after.substr(third + 1);
  bool has_region = third == std::string_view::npos || !fields.starts_with(":");
  size_t region_end = fields.find(':');
  size_t account_end =
      region_end == std::string_view::npos ? region_end : fields.find(':', region_end + 1);
  std::string_view resource =
      account_end == std::string_view::npos ? "" : fields.substr(account_end + 1);
  auto starts_with_any = [&](std::span<const std::string_view> prefixes) {
    return std::any_of(prefixes.begin(), prefixes.end(),
                       [&](std::string_view p) { return resource.starts_with(p); });
  };
  if (service == "iam") {
    if (has_region) return fmt::format("IAM resource {} cannot contain region information.", r);
    if (resource != "*" && resource != "root" && !starts_with_any(kIamResourceTypes)) {
      return std::string(kIamResourcePathError);
    }
  }
  if (service == "s3" && has_region && !starts_with_any(kS3RegionalTypes)) {
    return fmt::format("Resource {} can not contain region information.", r);
  }
  return std::nullopt;
}

// IAM's older parser rejects an ARN-shaped resource with an empty service field, or one
// that uses "::" yet has fewer than six fields.
bool FailsLegacyResourceParse(std::string_view r) {
  if (r == "*") return false;
  size_t colons = std::count(r.begin(), r.end(), ':');
  if (colons < 5 && r.find("::") != std::string_view::npos) return true;
  size_t first = r.find(':');
  size_t second = r.find(':', first + 1);
  if (second == std::string_view::npos) return false;
  size_t third = r.find(':', second + 1);
  return r.substr(second + 1, third - second - 1).empty();
}

std::optional<std::string> ActionFormatError(std::string_view action) {
  size_t colons = std::count(action.begin(), action.end(), ':');
  if (colons == 0 && action != "*") {
    return "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.";
  }
  if (colons > 1) return "Actions/Condition can contain only one colon.";
  std::string_view vendor = action.substr(0, action.find(':'));
  if (vendor == "*") return std::nullopt;
  for (char c : vendor) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.';
    if (!ok) return fmt::format("Vendor {} is not valid", vendor);
  }
  return std::nullopt;
}

bool IsAssumeRoleAction(std::string_view action) {
  if (action == "*") return true;
  size_t colon = action.find(':');
  return colon != std::string_view::npos && EqualsIgnoreCase(action.substr(0, colon), "sts");
}

bool HasWildcard(std::string_view s) {
  return s.find('*') != std::string_view::npos || s.find('?') != std::string_view::npos;
}

bool IsUniqueId(std::string_view s) {
  if (s.size() < 16 || s.size() > 128) return false;
  if (!s.starts_with("AIDA") && !s.starts_with("AROA")) return false;
  for (char c : s) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

// An "AWS" principal: "*", an account id, an IAM/STS principal ARN or a unique id.
std::optional<PrincipalEntry> ParseAwsPrincipal(std::string_view text) {
  using Kind = PrincipalEntry::Kind;
  PrincipalEntry e;
  if (text == "*") {
    e.kind = Kind::kAnyone;
    e.value = "*";
    return e;
  }
  if (IsAccountId(text)) {
    e.kind = Kind::kAccount;
    e.account = std::string(text);
    e.value = fmt::format("arn:aws:iam::{}:root", text);
    return e;
  }
  if (IsUniqueId(text)) {
    e.kind = Kind::kUniqueId;
    e.value = std::string(text);
    return e;
  }
  if (HasWildcard(text)) return std::nullopt;
  auto arn = ParseArn(text);
  if (!arn || !arn->region.empty() || !IsAccountId(arn->account)) return std::nullopt;
  e.value = std::string(text);
  e.account = arn->account;
  const std::string& res = arn->resource;
  if (arn->service == "iam") {
    if (res == "root") {
      e.kind = Kind::kAccount;
      return e;
    }
    if (res.starts_with("user/") && res.size() > 5 && res.back() != '/') {
      e.kind = Kind::kUser;
      return e;
    }
    if (res.starts_with("role/") && res.size() > 5 && res.back() != '/') {
      e.kind = Kind::kRole;
      e.name = res.substr(res.rfind('/') + 1);
      return e;
    }
    return std::nullopt;
  }
  if (arn->service == "sts") {
    if (res.starts_with("assumed-role/")) {
      std::string_view rest = std::string_view(res).substr(13);
      size_t slash = rest.find('/');
      if (slash == 0 || slash == std::string_view::npos || slash + 1 == rest.size() ||
          rest.find('/', slash + 1) != std::string_view::npos) {
        return std::nullopt;
      }
      e.kind = Kind::kAssumedRole;
      return e;
    }
    if (res.starts_with("federated-user/") && res.size() > 15) {
      e.kind = Kind::kFederatedUser;
      return e;
    }
  }
  return std::nullopt;
}

bool IsServiceName(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.' || s.find('.') == std::string_view::npos) {
    return false;
  }
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

Result<std::vector<PrincipalEntry>> CompilePrincipals(const Json& value) {
  using Kind = PrincipalEntry::Kind;
  std::vector<PrincipalEntry> out;
  if (value.is_string()) {  // "*", checked by the syntax pass
    out.push_back(PrincipalEntry{Kind::kAnyone, "*", {}, {}});
    return out;
  }
  for (const auto& [type, entries] : value.items()) {
    std::vector<std::string> list;
    StringOrList(entries, &list);
    for (const auto& text : list) {
      auto invalid = [&] {
        std::string upper = type;
        for (char& c : upper) c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
        return Malformed(fmt::format("Invalid principal in policy: \"{}\":\"{}\"", upper, text));
      };
      if (type == "AWS") {
        auto entry = ParseAwsPrincipal(text);
        if (!entry) return invalid();
        out.push_back(std::move(*entry));
      } else if (type == "Service") {
        if (!IsServiceName(text)) return invalid();
        out.push_back(PrincipalEntry{Kind::kService, ToLower(text), {}, {}});
      } else if (type == "Federated") {
        if (text.empty()) return invalid();
        out.push_back(PrincipalEntry{Kind::kFederated, text, {}, {}});
      } else {  // CanonicalUser
        if (text.empty()) return invalid();
        out.push_back(PrincipalEntry{Kind::kCanonicalUser, text, {}, {}});
      }
    }
  }
  return out;
}

// The names a caller goes by, for Principal/NotPrincipal matching.
constexpr unsigned kFacetSelf = 1;     // its own ARN (user, session, root)
constexpr unsigned kFacetRole = 2;     // the role of an assumed-role session
constexpr unsigned kFacetAccount = 4;  // its account
constexpr unsigned kFacetService = 8;  // the AWS service it is
constexpr unsigned kNoFacet = 0;

unsigned Facets(const PrincipalEntry& e, const aws::Principal& caller,
                std::string_view service_principal) {
  using Kind = PrincipalEntry::Kind;
  if (e.kind == Kind::kAnyone) return kFacetSelf | kFacetRole | kFacetAccount | kFacetService;
  if (!service_principal.empty()) {
    return e.kind == Kind::kService && EqualsIgnoreCase(e.value, service_principal) ? kFacetService
                                                                                    : kNoFacet;
  }
  using PK = aws::Principal::Kind;
  switch (e.kind) {
    case Kind::kAccount:
      return e.account == caller.account ? kFacetAccount : kNoFacet;
    case Kind::kUser:
      return caller.kind == PK::kUser && e.value == caller.arn ? kFacetSelf : kNoFacet;
    case Kind::kRole:
      return caller.kind == PK::kAssumedRole && e.account == caller.account && e.name == caller.name
                 ? kFacetRole
                 : kNoFacet;
    case Kind::kAssumedRole:
      return caller.kind == PK::kAssumedRole && e.value == caller.arn ? kFacetSelf : kNoFacet;
    case Kind::kFederatedUser:
      return caller.kind == PK::kFederatedUser && e.value == caller.arn ? kFacetSelf : kNoFacet;
    case Kind::kUniqueId:
      if (caller.kind == PK::kUser && caller.user_id == e.value) return kFacetSelf;
      if (caller.kind == PK::kAssumedRole && caller.user_id.size() > e.value.size() &&
          caller.user_id.starts_with(e.value) && caller.user_id[e.value.size()] == ':') {
        return kFacetRole;
      }
      return 0;
    default:
      return 0;
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Statement matching

bool Statement::MatchesAction(std::string_view action) const {
  bool any = false;
  for (const auto& p : actions) {
    if (p.Matches(action, EmptyContext())) {
      any = true;
      break;
    }
  }
  return not_action ? !any : any;
}

bool Statement::MatchesResource(std::string_view resource, const ContextMap& context) const {
  if (!has_resource) return true;
  bool any = false;
  for (const auto& p : resources) {
    if (p.Matches(resource, context)) {
      any = true;
      break;
    }
  }
  return not_resource ? !any : any;
}

PrincipalMatch Statement::MatchPrincipal(const aws::Principal& caller,
                                         std::string_view service_principal) const {
  if (!has_principal) return PrincipalMatch::kExact;
  unsigned covered = 0;
  for (const auto& e : principals) covered |= Facets(e, caller, service_principal);
  if (not_principal) {
    unsigned required;
    if (!service_principal.empty()) {
      required = kFacetService;
    } else if (caller.kind == aws::Principal::Kind::kRoot) {
      required = kFacetAccount;
    } else if (caller.kind == aws::Principal::Kind::kUser ||
               caller.kind == aws::Principal::Kind::kFederatedUser) {
      required = kFacetSelf | kFacetAccount;
    } else {
      required = kFacetSelf | kFacetRole | kFacetAccount;
    }
    return (covered & required) == required ? PrincipalMatch::kNone : PrincipalMatch::kExact;
  }
  if (covered & (kFacetSelf | kFacetService)) return PrincipalMatch::kExact;
  if (covered & kFacetAccount) {
    // The account principal is the root user's own name.
    return service_principal.empty() && caller.kind == aws::Principal::Kind::kRoot
               ? PrincipalMatch::kExact
               : PrincipalMatch::kAccount;
  }
  if (covered & kFacetRole) return PrincipalMatch::kRole;
  return PrincipalMatch::kNone;
}

bool Statement::ConditionsHold(const ContextMap& context) const {
  for (const auto& c : conditions) {
    if (!c.Evaluate(context)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// Parsing

size_t PolicySize(std::string_view json) {
  size_t n = 0;
  for (char c : json) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || (u & 0xC0) == 0x80) continue;
    ++n;
  }
  return n;
}

Result<std::shared_ptr<const Policy>> ParsePolicy(std::string_view text, PolicyType type,
                                                  const ParseOptions& options) {
  if (options.max_size != 0 && PolicySize(text) > options.max_size) {
    return Fail("LimitExceeded",
                fmt::format("Cannot exceed quota for PolicySize: {}", options.max_size), 409);
  }
  Json doc = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Syntax();
  if (!doc.is_object()) return Syntax();
  for (const auto& [key, value] : doc.items()) {
    if (key != "Version" && key != "Id" && key != "Statement") return Syntax();
  }

  auto policy = std::make_shared<Policy>();
  policy->type = type;
  bool has_version = false;
  if (auto v = doc.find("Version"); v != doc.end()) {
    if (!v->is_string()) return Syntax();
    const std::string& version = v->get_ref<const std::string&>();
    if (version == "2012-10-17") {
      policy->version = LanguageVersion::k2012_10_17;
    } else if (version != "2008-10-17") {
      return Syntax();  // IAM knows only these two versions
    }
    has_version = true;
  }
  if (auto id = doc.find("Id"); id != doc.end()) {
    if (!id->is_string()) return Syntax();
    policy->id = id->get<std::string>();
  }
  if (!doc.contains("Statement")) return Syntax();

  std::optional<Error> legacy_error;
  auto raws = BERTH_TRY(ParseStatements(doc, policy->version, &legacy_error));

  if (options.require_version_2012 &&
      (!has_version || policy->version != LanguageVersion::k2012_10_17)) {
    return Malformed("Policy document must be version 2012-10-17 or greater.");
  }

  // Legacy parsing: exact Effect spelling, Date values, resource shapes.
  for (const auto& raw : raws) {
    if (raw.effect != "Allow" && raw.effect != "Deny") {
      return Malformed("The policy failed legacy parsing");
    }
  }
  if (legacy_error) return Fail(*legacy_error);
  std::optional<std::string> resource_error;
  for (const auto& raw : raws) {
    for (const auto& r : raw.resources) {
      auto error = ResourceFormatError(r);
      if (error) {
        if (!resource_error) resource_error = std::move(error);
      } else if (FailsLegacyResourceParse(r)) {
        return Malformed("The policy failed legacy parsing");
      }
    }
  }

  if (type == PolicyType::kIdentity || type == PolicyType::kSession || type == PolicyType::kTrust) {
    std::set<std::string_view> sids;
    for (const auto& raw : raws) {
      if (raw.sid.empty()) continue;
      if (!sids.insert(raw.sid).second) {
        return Malformed("Statement IDs (SID) in a single policy must be unique.");
      }
    }
  }

  const bool wants_principal =
      type == PolicyType::kResource || type == PolicyType::kTrust || type == PolicyType::kKeyPolicy;
  for (const auto& raw : raws) {
    if (!wants_principal && raw.principal) {
      return Malformed("Policy document should not specify a principal.");
    }
    if (wants_principal && !raw.principal) return Malformed("Missing required field Principal");
  }

  for (const auto& raw : raws) {
    if (!raw.has_action || raw.actions.empty()) {
      return Malformed("Policy statement must contain actions.");
    }
  }

  for (const auto& raw : raws) {
    if (type == PolicyType::kTrust) {
      if (raw.has_resource) {
        return Malformed(raw.not_resource ? "Has prohibited field NotResource"
                                          : "Has prohibited field Resource");
      }
    } else if (!raw.has_resource || raw.resources.empty()) {
      return Malformed("Policy statement must contain resources.");
    }
  }
  if (resource_error) return Malformed(std::move(*resource_error));

  for (const auto& raw : raws) {
    for (const auto& a : raw.actions) {
      if (auto error = ActionFormatError(a)) return Malformed(std::move(*error));
    }
  }
  if (type == PolicyType::kTrust) {
    for (const auto& raw : raws) {
      if (raw.not_action) continue;
      for (const auto& a : raw.actions) {
        if (!IsAssumeRoleAction(a)) {
          return Malformed("AssumeRole policy may only specify STS AssumeRole actions.");
        }
      }
    }
  }

  // Compile.
  const bool variables = policy->version == LanguageVersion::k2012_10_17;
  for (auto& raw : raws) {
    Statement st;
    st.sid = std::move(raw.sid);
    st.effect = raw.effect == "Allow" ? Statement::Effect::kAllow : Statement::Effect::kDeny;
    if (raw.principal) {
      st.has_principal = true;
      st.not_principal = raw.not_principal;
      st.principals = BERTH_TRY(CompilePrincipals(*raw.principal));
    }
    st.not_action = raw.not_action;
    for (const auto& a : raw.actions) {
      st.actions.push_back(
          Pattern::Compile(a, {.wildcards = true, .variables = false, .ignore_case = true}));
    }
    st.has_resource = raw.has_resource;
    st.not_resource = raw.not_resource;
    for (const auto& r : raw.resources) {
      st.resources.push_back(
          Pattern::Compile(r, {.wildcards = true, .variables = variables, .ignore_case = false}));
    }
    st.conditions = std::move(raw.conditions);
    policy->statements.push_back(std::move(st));
  }
  return std::shared_ptr<const Policy>(std::move(policy));
}

}  // namespace berth::iam
