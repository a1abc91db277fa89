// BlockPublicPolicy: does a resource policy grant a secret to everyone?
//
// berth's approximation of AWS's automated reasoning (Zelkova), deliberately
// conservative. A policy is public when some Allow statement
//  * names everyone: Principal "*" or {"AWS": "*"} (also in a list), or uses
//    NotPrincipal (an Allow with NotPrincipal grants to all others), and
//  * has no condition that pins the caller down: a positive operator
//    (StringEquals, StringEqualsIgnoreCase, StringLike, ArnEquals, ArnLike,
//    IpAddress; optionally ForAnyValue:, never ...IfExists, ForAllValues:,
//    negated operators or Null) on one of aws:PrincipalAccount,
//    aws:PrincipalArn, aws:PrincipalOrgID, aws:PrincipalOrgPaths,
//    aws:SourceAccount, aws:SourceArn, aws:SourceOwner, aws:SourceVpc,
//    aws:SourceVpce, aws:SourceIp or aws:userid, with values that are all
//    specific: no '*' or '?' (in ARNs: none in the account field), no /0 range.
#pragma once

#include <string_view>

namespace berth::secrets {

// `document` must already have parsed as a resource policy (iam::ParsePolicy);
// a document that is not JSON counts as public.
bool IsPublicPolicy(std::string_view document);

}  // namespace berth::secrets
