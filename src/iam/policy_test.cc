#include "iam/policy.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "iam/condition.h"

namespace berth::iam {
namespace {

constexpr char kSyntax[] = "Syntax errors in policy.";
constexpr char kIamPathError[] =
    "IAM resource path must either be \"*\", root, or start with user/, federated-user/, role/, "
    "group/, instance-profile/, mfa/, server-certificate/, policy/, sms-mfa/, saml-provider/, "
    "oidc-provider/, report/, access-report/.";

// ---------------------------------------------------------------------------------------
// Rejected documents: every error path, exact code and message.

struct BadDoc {
  const char* name;
  PolicyType type;
  const char* json;
  const char* message;  // code is MalformedPolicyDocument
};

const BadDoc kBadDocs[] = {
    // --- grammar: "Syntax errors in policy.", naming neither the fault nor where it is (IAM)
    {"NotJson", PolicyType::kIdentity, "This is not a json document", kSyntax},
    {"TruncatedJson", PolicyType::kIdentity, R"({"Version":"2012-10-17","Statement":[)", kSyntax},
    {"Empty", PolicyType::kIdentity, "", kSyntax},
    {"TopLevelArray", PolicyType::kIdentity, "[]", kSyntax},
    {"TopLevelString", PolicyType::kIdentity, R"("x")", kSyntax},
    {"UnknownTopField", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"},"Extra field":"value"})",
     kSyntax},
    {"MissingStatement", PolicyType::kIdentity, R"({"Version":"2012-10-17"})", kSyntax},
    {"EmptyStatementList", PolicyType::kIdentity, R"({"Version":"2012-10-17","Statement":[]})",
     kSyntax},
    {"StatementListOfStrings", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":["afd"]})",
     kSyntax},
    {"StatementString", PolicyType::kIdentity, R"({"Version":"2012-10-17","Statement":"x"})",
     kSyntax},
    {"UnknownVersion", PolicyType::kIdentity,
     R"({"Version":"2013-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}})",
     kSyntax},
    {"VersionNotString", PolicyType::kIdentity,
     R"({"Version":2012,"Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}})",
     kSyntax},
    {"IdList", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Id":["x"],"Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}})",
     kSyntax},
    {"IdObject", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Id":{},"Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}})",
     kSyntax},
    {"UnknownStatementField", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Extra":"value"}})",
     kSyntax},
    {"StatementFieldWrongCase", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"effect":"Allow","Action":"s3:ListBucket","Resource":"*"}})",
     kSyntax},
    {"MissingEffect", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Action":"s3:ListBucket","Resource":"*"}})",
     kSyntax},
    {"InvalidEffect", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"invalid","Action":"s3:ListBucket","Resource":"*"}})",
     kSyntax},
    {"EffectNotString", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":true,"Action":"s3:ListBucket","Resource":"*"}})",
     kSyntax},
    {"ActionAndNotAction", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:dsf","NotAction":"s3:ListBucket","Resource":"*"}})",
     kSyntax},
    {"ResourceAndNotResource", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","NotResource":"*"}})",
     kSyntax},
    {"PrincipalAndNotPrincipal", PolicyType::kResource,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","NotPrincipal":"*","Action":"s3:ListBucket","Resource":"*"}})",
     kSyntax},
    {"ActionObject", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":{},"Resource":"*"}})",
     kSyntax},
    {"ActionNestedList", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":[[]],"Resource":"*"}})",
     kSyntax},
    {"NotActionNumber", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":5,"Resource":"*"}})",
     kSyntax},
    {"ResourceObject", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":{"a":"arn:aws:s3:::b"}}})",
     kSyntax},
    {"ResourceListWithObject", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"s3:ListBucket","Resource":["adfdf",{}]}})",
     kSyntax},
    // null is accepted only as an item of a Resource/NotResource list.
    {"ResourceNull", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":null}})",
     kSyntax},
    {"ActionListWithNull", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:ListBucket",null],"Resource":"*"}})",
     kSyntax},
    {"SidObject", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Sid":{},"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}})",
     kSyntax},
    {"SidList", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Sid":[],"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}})",
     kSyntax},
    {"ConditionList", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":[]}})",
     kSyntax},
    {"ConditionString", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":"a"}})",
     kSyntax},
    {"ConditionOperatorString", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"DateGreaterThan":"b"}}})",
     kSyntax},
    {"ConditionOperatorList", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"DateGreaterThan":[]}}})",
     kSyntax},
    {"ConditionValueObject", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"DateGreaterThan":{"a":{}}}}})",
     kSyntax},
    {"ConditionValueNull", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"StringEquals":{"a":null}}}})",
     kSyntax},
    {"UnknownConditionOperator", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"StringEqualz":{"a":"1"}}}})",
     kSyntax},
    {"ConditionOperatorDoubleColon", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"ForAnyValue::StringEqualsIfExists":{"a":"asf"}}}})",
     kSyntax},
    {"ConditionOperatorWrongCase", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"stringequals":{"a":"1"}}}})",
     kSyntax},
    {"UnknownQualifier", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"ForSomeValues:StringEquals":{"a":"1"}}}})",
     kSyntax},
    {"PrincipalStringNotStar", PolicyType::kResource,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"arn:aws:iam::111122223333:root","Action":"s3:ListBucket","Resource":"*"}})",
     kSyntax},
    {"PrincipalUnknownType", PolicyType::kResource,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Foo":"x"},"Action":"s3:ListBucket","Resource":"*"}})",
     kSyntax},
    {"PrincipalEmptyList", PolicyType::kResource,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":[]},"Action":"s3:ListBucket","Resource":"*"}})",
     kSyntax},
    {"NotPrincipalEmptyObject", PolicyType::kResource,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Deny","NotPrincipal":{},"Action":"s3:ListBucket","Resource":"*"}})",
     kSyntax},

    // --- legacy parsing
    {"EffectLowerCase", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"allow","Action":"s3:ListBucket","Resource":"*"}})",
     "The policy failed legacy parsing"},
    {"EffectMixedCase", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"denY","Action":"s3:ListBucket","Resource":"*"}})",
     "The policy failed legacy parsing"},
    {"DateNotADate", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"sdfdsf"}}}})",
     "The policy failed legacy parsing"},
    {"DateBadMonth", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"DateLessThanEquals":{"aws:CurrentTime":"2016-13-01"}}}})",
     "The policy failed legacy parsing"},
    {"DateBadZone", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"2016-12-13T02:00:00+1"}}}})",
     "The policy failed legacy parsing"},
    {"DateSpaceForT", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2019-07-16 12:00:00"}}}})",
     "The policy failed legacy parsing"},
    {"DateTenFractionDigits", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"DateLessThanEquals":{"a":"2016-12-13t2:00:00.1999999999+10:59"}}}})",
     "The policy failed legacy parsing"},
    {"DateShortMonth13", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"DateLessThanEquals":{"a":["2019-07-16","234-13"]}}}})",
     "The policy failed legacy parsing"},
    {"DateFractionalNumber", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"DateLessThan":{"aws:EpochTime":1563278400.5}}}})",
     "The policy failed legacy parsing"},
    {"DateEpochTooBig", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"DateLessThan":{"aws:EpochTime":"9223372036854775808"}}}})",
     "The policy failed legacy parsing"},
    {"ResourceDoubleColonShort", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3::example_bucket"}})",
     "The policy failed legacy parsing"},
    {"ResourceEmptyService", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"s3:ListBucket","Resource":"arn:aws::::example_bucket"}})",
     "The policy failed legacy parsing"},
    {"NotResourceDoubleColonShort", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","NotResource":"arn:aws:s3::example_bucket"}})",
     "The policy failed legacy parsing"},

    // --- Sid uniqueness (IAM policy types)
    {"DuplicateSid", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":[{"Sid":"sdf","Effect":"Allow","Action":"s3:ListBucket","Resource":"*"},{"Sid":"sdf","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]})",
     "Statement IDs (SID) in a single policy must be unique."},
    {"DuplicateSidTrust", PolicyType::kTrust,
     R"({"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"},{"Sid":"A","Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]})",
     "Statement IDs (SID) in a single policy must be unique."},

    // --- principals by policy type
    {"IdentityWithPrincipal", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"*"}})",
     "Policy document should not specify a principal."},
    {"IdentityWithNotPrincipal", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"s3:ListBucket","Resource":"*"}})",
     "Policy document should not specify a principal."},
    {"SessionWithPrincipal", PolicyType::kSession,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"*"}})",
     "Policy document should not specify a principal."},
    {"ResourceWithoutPrincipal", PolicyType::kResource,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"}})",
     "Missing required field Principal"},
    {"TrustWithoutPrincipal", PolicyType::kTrust,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}})",
     "Missing required field Principal"},
    {"KeyPolicyWithoutPrincipal", PolicyType::kKeyPolicy,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}})",
     "Missing required field Principal"},

    // --- actions and resources present
    {"NoAction", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Resource":"arn:aws:s3:::example_bucket"}})",
     "Policy statement must contain actions."},
    {"EmptyActionList", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":[],"Resource":"*"}})",
     "Policy statement must contain actions."},
    {"EmptyNotActionList", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":[],"Resource":"*"}})",
     "Policy statement must contain actions."},
    {"SecondStatementNoAction", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":[{"Effect":"Deny"},{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]})",
     "Policy statement must contain actions."},
    {"NoResource", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket"}})",
     "Policy statement must contain resources."},
    {"EmptyResourceList", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":[]}})",
     "Policy statement must contain resources."},
    {"NoResourceBeforeActionFormat", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"invalid"}})",
     "Policy statement must contain resources."},
    {"ResourcePolicyNoResource", PolicyType::kResource,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue"}})",
     "Policy statement must contain resources."},
    {"SessionNoResource", PolicyType::kSession,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*"}})",
     "Policy statement must contain resources."},
    {"ResourceListOfNulls", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":[null,null]}})",
     "Policy statement must contain resources."},
    {"TrustWithNullResourceList", PolicyType::kTrust,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole","Resource":[null]}})",
     "Has prohibited field Resource"},
    {"TrustWithResource", PolicyType::kTrust,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole","Resource":"*"}})",
     "Has prohibited field Resource"},
    {"TrustWithNotResource", PolicyType::kTrust,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole","NotResource":"*"}})",
     "Has prohibited field NotResource"},

    // --- resource format
    {"ResourceNotArn", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"invalid resource"}})",
     "Resource invalid resource must be in ARN format or \"*\"."},
    {"ResourceEmptyString", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":""}})",
     "Resource  must be in ARN format or \"*\"."},
    {"ResourceListNotArn", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":["adf"]}})",
     "Resource adf must be in ARN format or \"*\"."},
    {"ResourceBadPartitionShort", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"s3s:ListBucket","Resource":"a:bsdfdsafsad"}})",
     "Partition \"bsdfdsafsad\" is not valid for resource \"arn:bsdfdsafsad:*:*:*:*\"."},
    {"ResourceBadPartitionThreeParts", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"s3s:ListBucket","Resource":"a:b:cadfsdf"}})",
     "Partition \"b\" is not valid for resource \"arn:b:cadfsdf:*:*:*\"."},
    {"ResourceBadPartitionLong", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"s3s:ListBucket","Resource":"a:b:c:d:e:f:g:h"}})",
     "Partition \"b\" is not valid for resource \"arn:b:c:d:e:f:g:h\"."},
    {"ResourceMissingArnPrefix", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"aws:s3:::example_bucket"}})",
     "Partition \"s3\" is not valid for resource \"arn:s3:::example_bucket:*\"."},
    {"ResourcePartitionError", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":["arn:error:s3:::example_bucket","arn:error:s3::example_bucket"]}})",
     "Partition \"error\" is not valid for resource \"arn:error:s3:::example_bucket\"."},
    {"ResourceNoVendor", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws"}})",
     "Resource vendor must be fully qualified and cannot contain regexes."},
    {"IamResourceWithRegion", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam:us-east-1::user/x"}})",
     "IAM resource arn:aws:iam:us-east-1::user/x cannot contain region information."},
    {"S3ResourceWithRegion", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:us-east-1::example_bucket"}})",
     "Resource arn:aws:s3:us-east-1::example_bucket can not contain region information."},
    // A region and an account do not make a bucket ARN regional (IAM's answer to an
    // Athena output location written with both, aws-cdk#22445).
    {"S3BucketWithRegionAndAccount", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:us-west-2:123456789012:test/athena"}})",
     "Resource arn:aws:s3:us-west-2:123456789012:test/athena can not contain region information."},
    {"S3RegionWithoutResource", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:us-west-2"}})",
     "Resource arn:aws:s3:us-west-2 can not contain region information."},
    {"IamResourceWithRegionBeforePath", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam:us-east-1::example_bucket"}})",
     "IAM resource arn:aws:iam:us-east-1::example_bucket cannot contain region information."},
    // An iam ARN names "*", root or one of IAM's resource types after the account.
    {"IamResourceNotAResourceType", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:iam:::example_bucket"}})",
     kIamPathError},
    {"IamResourceGlobBeforeType", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::123456789012:*/cdk-*"}})",
     kIamPathError},
    {"IamResourceTypeWithoutSlash", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetRole","Resource":["arn:aws:iam::123456789012:role/a","arn:aws:iam::123456789012:role"]}})",
     kIamPathError},
    {"IamNotResourceEmptyPath", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"iam:*","NotResource":"arn:aws:iam::123456789012:"}})",
     kIamPathError},
    {"IamResourcePathBeforeActionFormat", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"invalid","Resource":"arn:aws:iam::123456789012:users/x"}})",
     kIamPathError},

    // --- action format
    {"ActionWithoutVendor", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"invalid","Resource":"*"}})",
     "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."},
    {"NotActionEmptyString", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"","Resource":"*"}})",
     "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."},
    {"ActionTwoColons", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:List:Bucket","Resource":"*"}})",
     "Actions/Condition can contain only one colon."},
    {"ActionTwoColonsSecondStatement", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3s:ListBucket","Resource":"*"},{"Effect":"Allow","Action":"s:3s:ListBucket","Resource":"*"}]})",
     "Actions/Condition can contain only one colon."},
    {"ActionVendorWithSpace", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"a a:ListBucket","Resource":"*"}})",
     "Vendor a a is not valid"},
    {"TrustNonStsAction", PolicyType::kTrust,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":["sts:AssumeRole","s3:GetObject"]}})",
     "AssumeRole policy may only specify STS AssumeRole actions."},

    // --- principal values
    {"PrincipalBadAccount", PolicyType::kResource,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"12345"},"Action":"s3:ListBucket","Resource":"*"}})",
     "Invalid principal in policy: \"AWS\":\"12345\""},
    {"PrincipalWildcardArn", PolicyType::kTrust,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/*"},"Action":"sts:AssumeRole"}})",
     "Invalid principal in policy: \"AWS\":\"arn:aws:iam::111122223333:role/*\""},
    {"PrincipalNotIamArn", PolicyType::kResource,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":["111122223333","arn:aws:s3:::bucket"]},"Action":"s3:ListBucket","Resource":"*"}})",
     "Invalid principal in policy: \"AWS\":\"arn:aws:s3:::bucket\""},
    {"PrincipalIamGroup", PolicyType::kResource,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:group/admins"},"Action":"s3:ListBucket","Resource":"*"}})",
     "Invalid principal in policy: \"AWS\":\"arn:aws:iam::111122223333:group/admins\""},
    {"PrincipalAssumedRoleWithoutSession", PolicyType::kResource,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::111122223333:assumed-role/app"},"Action":"s3:ListBucket","Resource":"*"}})",
     "Invalid principal in policy: \"AWS\":\"arn:aws:sts::111122223333:assumed-role/app\""},
    {"ServicePrincipalNotDns", PolicyType::kTrust,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"lambda"},"Action":"sts:AssumeRole"}})",
     "Invalid principal in policy: \"SERVICE\":\"lambda\""},
    {"ServicePrincipalEmpty", PolicyType::kTrust,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":""},"Action":"sts:AssumeRole"}})",
     "Invalid principal in policy: \"SERVICE\":\"\""},
    {"ServicePrincipalStar", PolicyType::kTrust,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"*"},"Action":"sts:AssumeRole"}})",
     "Invalid principal in policy: \"SERVICE\":\"*\""},
    {"FederatedEmpty", PolicyType::kTrust,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Federated":""},"Action":"sts:AssumeRoleWithWebIdentity"}})",
     "Invalid principal in policy: \"FEDERATED\":\"\""},
};

class BadDocTest : public testing::TestWithParam<BadDoc> {};

TEST_P(BadDocTest, RejectedWithAwsMessage) {
  const BadDoc& c = GetParam();
  auto parsed = ParsePolicy(c.json, c.type);
  ASSERT_FALSE(parsed.has_value()) << c.json;
  EXPECT_EQ(parsed.error().code, "MalformedPolicyDocument");
  EXPECT_EQ(parsed.error().message, c.message);
  EXPECT_EQ(parsed.error().http_status, 400);
}

INSTANTIATE_TEST_SUITE_P(Policy, BadDocTest, testing::ValuesIn(kBadDocs),
                         [](const testing::TestParamInfo<BadDoc>& info) { return info.param.name; });

// ---------------------------------------------------------------------------------------
// Accepted documents.

struct GoodDoc {
  const char* name;
  PolicyType type;
  const char* json;
};

const GoodDoc kGoodDocs[] = {
    {"StatementObject", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":["arn:aws:s3:::example_bucket"]}})"},
    {"OddActionName", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam: asdf safdsf af ","Resource":"arn:aws:s3:::b"}})"},
    {"ResourceListWithStar", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":["arn:aws:s3:::b","*"]}})"},
    {"ActionStar", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}})"},
    {"VendorStar", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*:Get*","Resource":"*"}})"},
    {"DateConditions", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"service-prefix:action-name","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2017-07-01T00:00:00Z"},"DateLessThan":{"aws:CurrentTime":"2017-12-31T23:59:59Z"}}}})"},
    {"DateFormsIamAccepts", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{
       "DateGreaterThan":{"aws:CurrentTime":["2019-07-16T12:00:00Z","2019-07-16","2019-07-16T12:00:00.000Z",
         "2019-07-16T12:00:00+01:00","2019-07-16T12:00Z","1563278400","2016-12-13t2:00:00.593194+23","01T"]},
       "DateLessThan":{"aws:EpochTime":[1563278400,"-292275054","2016-12-13T21:20:37.593194+00:00"]}}}})"},
    {"UnknownServiceResource", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:invalid-service:us-east-1::b"}})"},
    // Regional ARNs: S3's regional resource types, and other services' ARNs with a region
    // (with or without an account, wildcards in any field).
    {"S3AccessPoint", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:us-west-2:123456789012:accesspoint/x"}})"},
    {"S3AccessPointObjects", PolicyType::kResource,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"s3:GetObject","Resource":["arn:aws:s3:us-west-2:123456789012:accesspoint/x/object/*","arn:aws:s3:*:123456789012:accesspoint/*"]}})"},
    {"S3RegionalTypes", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","NotResource":["arn:aws:s3:us-east-1:123456789012:job/*","arn:aws:s3:us-east-1:123456789012:storage-lens/d","arn:aws:s3:us-east-1:123456789012:storage-lens-group/g","arn:aws:s3:us-east-1:123456789012:access-grants/default","arn:aws:s3:us-east-1:123456789012:async-request/mrap/*"]}})"},
    {"RegionalArnsOfOtherServices", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":["arn:aws:ec2:us-east-1:123456789012:instance/i-1","arn:aws:ec2:us-east-1::image/ami-1","arn:aws:sns:eu-west-1:123456789012:topic","arn:aws:logs:us-east-1:123456789012:log-group:/ecs/app:*","arn:aws:secretsmanager:*:*:secret:db-??????","arn:aws-cn:kms:cn-north-1:123456789012:key/k","arn:aws:s3-object-lambda:us-east-1:123456789012:accesspoint/x","arn:aws:dynamodb:*:*:table/MyTable"]}})"},
    {"IamResourceTypes", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:*","Resource":["arn:aws:iam::123456789012:root","arn:aws:iam::123456789012:*","arn:aws:iam::*:user/${aws:username}","arn:aws:iam::aws:policy/AdministratorAccess","arn:aws:iam:::user/example_bucket","arn:aws:iam::123456789012:role/path/*","arn:aws:iam::123456789012:group/g","arn:aws:iam::123456789012:instance-profile/p","arn:aws:iam::*:mfa/${aws:username}","arn:aws:iam::123456789012:server-certificate/c","arn:aws:iam::123456789012:sms-mfa/m","arn:aws:iam::123456789012:saml-provider/s","arn:aws:iam::123456789012:oidc-provider/o","arn:aws:iam::123456789012:federated-user/f","arn:aws:iam::123456789012:report/r","arn:aws:iam::123456789012:access-report/a"]}})"},
    {"ShortArnWithoutDoubleColon", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:fdsasf"}})"},
    {"EmptyCondition", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{}}})"},
    {"EmptyOperatorBlock", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"DateGreaterThan":{}}}})"},
    {"UnknownOperatorEmptyBlock", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"a":{}}}})"},
    {"EmptyValueList", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"DateGreaterThan":{"a":[]}}}})"},
    {"ForAllValues", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":"Department"}}}})"},
    {"BoolAndNumberValues", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":true},"NumericLessThan":{"s3:max-keys":[10,2.5]}}}})"},
    {"EveryOperator", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{
       "StringEquals":{"k":"v"},"StringNotEquals":{"k":"v"},"StringEqualsIgnoreCase":{"k":"v"},
       "StringNotEqualsIgnoreCase":{"k":"v"},"StringLike":{"k":"v*"},"StringNotLike":{"k":"v?"},
       "NumericEquals":{"k":"1"},"NumericNotEquals":{"k":"1"},"NumericLessThan":{"k":"1"},
       "NumericLessThanEquals":{"k":"1"},"NumericGreaterThan":{"k":"1"},"NumericGreaterThanEquals":{"k":"1"},
       "DateEquals":{"k":"2020-01-01"},"DateNotEquals":{"k":"2020-01-01"},"DateLessThan":{"k":"1577836800"},
       "DateLessThanEquals":{"k":"2020-01-01T00:00Z"},"DateGreaterThan":{"k":"2020-01-01T00:00:00.5+01:00"},
       "DateGreaterThanEquals":{"k":"2020-02-29"},"Bool":{"k":"true"},"BinaryEquals":{"k":"QmluYXJ5"},
       "IpAddress":{"k":"10.0.0.0/8"},"NotIpAddress":{"k":"2001:db8::/32"},"ArnEquals":{"k":"arn:aws:s3:::b"},
       "ArnLike":{"k":"arn:aws:s3:::*"},"ArnNotEquals":{"k":"arn:aws:s3:::b"},"ArnNotLike":{"k":"arn:*"},
       "Null":{"k":"true"},"StringEqualsIfExists":{"k":"v"},"ForAnyValue:StringLikeIfExists":{"k":"v"},
       "ForAllValues:ArnLike":{"k":"arn:*"}}}})"},
    {"NoVersionInline", PolicyType::kIdentity,
     R"({"Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}})"},
    {"Version2008", PolicyType::kIdentity,
     R"({"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}})"},
    {"TrustService", PolicyType::kTrust,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}})"},
    {"TrustServiceList", PolicyType::kTrust,
     R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["elasticmapreduce.amazonaws.com","datapipeline.amazonaws.com"]},"Action":"sts:AssumeRole"}]})"},
    {"TrustAwsAccountAndExternalId", PolicyType::kTrust,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":["sts:AssumeRole","sts:TagSession"],"Condition":{"StringEquals":{"sts:ExternalId":"xyz"}}}})"},
    {"TrustFederated", PolicyType::kTrust,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity"}})"},
    {"TrustStarAction", PolicyType::kTrust,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"*"}})"},
    {"ResourceAllPrincipalForms", PolicyType::kResource,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":["*","111122223333","arn:aws:iam::111122223333:root","arn:aws:iam::111122223333:user/a/b","arn:aws:iam::111122223333:role/r","arn:aws:sts::111122223333:assumed-role/r/s","arn:aws:sts::111122223333:federated-user/f","AIDAJQABLZS4A3QDU576Q"],"CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}})"},
    {"KeyPolicyDuplicateSids", PolicyType::kKeyPolicy,
     R"({"Version":"2012-10-17","Id":"auto-secretsmanager-2","Statement":[{"Sid":"Allow access through AWS Secrets Manager","Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*"},{"Sid":"Allow access through AWS Secrets Manager","Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:GenerateDataKey*","Resource":"*"}]})"},
    {"NotPrincipalDeny", PolicyType::kResource,
     R"({"Version":"2012-10-17","Statement":{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:user/bob","111122223333"]},"Action":"s3:*","Resource":"*"}})"},
    {"EmptySidsNotDuplicates", PolicyType::kIdentity,
     R"({"Version":"2012-10-17","Statement":[{"Sid":"","Effect":"Allow","Action":"s3:A","Resource":"*"},{"Sid":"","Effect":"Allow","Action":"s3:B","Resource":"*"}]})"},
    {"WhitespaceAndUnicode", PolicyType::kIdentity,
     "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": {\n    \"Sid\": \"caf\xc3\xa9\",\n"
     "    \"Effect\": \"Allow\", \"Action\": \"s3:ListBucket\", \"Resource\": \"*\"\n  }\n}\n"},
};

class GoodDocTest : public testing::TestWithParam<GoodDoc> {};

TEST_P(GoodDocTest, Accepted) {
  auto parsed = ParsePolicy(GetParam().json, GetParam().type);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_FALSE((*parsed)->statements.empty());
}

INSTANTIATE_TEST_SUITE_P(Policy, GoodDocTest, testing::ValuesIn(kGoodDocs),
                         [](const testing::TestParamInfo<GoodDoc>& info) { return info.param.name; });

// ---------------------------------------------------------------------------------------
// The compiled form.

TEST(ParsePolicyTest, CompiledFields) {
  auto parsed = ParsePolicy(R"({
    "Version": "2012-10-17", "Id": "doc-1",
    "Statement": [
      {"Sid": "One", "Effect": "Allow", "Action": ["S3:GetObject", "s3:List*"],
       "Resource": "arn:aws:s3:::b/${aws:username}/*"},
      {"Effect": "Deny", "NotAction": "iam:*", "NotResource": ["arn:aws:s3:::b"],
       "Condition": {"Bool": {"aws:SecureTransport": "false"}, "StringLike": {"s3:prefix": ["a*", "b*"]}}}
    ]})",
                            PolicyType::kIdentity);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  const Policy& p = **parsed;
  EXPECT_EQ(p.type, PolicyType::kIdentity);
  EXPECT_EQ(p.version, LanguageVersion::k2012_10_17);
  EXPECT_EQ(p.id, "doc-1");
  ASSERT_EQ(p.statements.size(), 2u);
  const Statement& one = p.statements[0];
  EXPECT_EQ(one.sid, "One");
  EXPECT_EQ(one.effect, Statement::Effect::kAllow);
  EXPECT_FALSE(one.not_action);
  ASSERT_EQ(one.actions.size(), 2u);
  EXPECT_EQ(one.actions[0].source(), "S3:GetObject");
  EXPECT_TRUE(one.MatchesAction("s3:getobject"));
  EXPECT_TRUE(one.MatchesAction("S3:LISTBUCKET"));
  EXPECT_FALSE(one.MatchesAction("s3:PutObject"));
  EXPECT_TRUE(one.has_resource);
  EXPECT_FALSE(one.has_principal);
  const Statement& two = p.statements[1];
  EXPECT_EQ(two.sid, "");
  EXPECT_EQ(two.effect, Statement::Effect::kDeny);
  EXPECT_TRUE(two.not_action);
  EXPECT_TRUE(two.not_resource);
  ASSERT_EQ(two.conditions.size(), 2u);
  EXPECT_EQ(two.conditions[0].key(), "aws:SecureTransport");
  EXPECT_EQ(two.conditions[0].op(), Condition::Operator::kBool);
  EXPECT_EQ(two.conditions[1].op(), Condition::Operator::kStringLike);
}

// CloudFormation templates leave null items in Resource lists (AWS's own Instance Scheduler
// template does; IAM accepts it, see getmoto/moto#9715): they are dropped, match nothing,
// and the other items still get the resource checks.
TEST(ParsePolicyTest, NullItemsOfResourceListsAreDropped) {
  auto parsed = ParsePolicy(R"({"Version":"2012-10-17","Statement":[
    {"Effect":"Allow","Action":"s3:GetObject","Resource":["arn:aws:s3:::b/*",null]},
    {"Effect":"Deny","Action":"s3:GetObject","NotResource":[null,"arn:aws:s3:::b/public/*"]}]})",
                            PolicyType::kIdentity);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  const Statement& allow = (*parsed)->statements[0];
  ASSERT_EQ(allow.resources.size(), 1u);
  EXPECT_EQ(allow.resources[0].source(), "arn:aws:s3:::b/*");
  EXPECT_TRUE(allow.MatchesResource("arn:aws:s3:::b/x", {}));
  EXPECT_FALSE(allow.MatchesResource("arn:aws:s3:::c/x", {}));
  const Statement& deny = (*parsed)->statements[1];
  ASSERT_EQ(deny.resources.size(), 1u);
  EXPECT_TRUE(deny.MatchesResource("arn:aws:s3:::b/private/x", {}));
  EXPECT_FALSE(deny.MatchesResource("arn:aws:s3:::b/public/x", {}));

  auto bad = ParsePolicy(
      R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":[null,"bucket"]}})",
      PolicyType::kIdentity);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, "MalformedPolicyDocument");
  EXPECT_EQ(bad.error().message, "Resource bucket must be in ARN format or \"*\".");
}

TEST(ParsePolicyTest, VersionDefaultsTo2008) {
  auto parsed = ParsePolicy(R"({"Statement":{"Effect":"Allow","Action":"s3:A","Resource":"*"}})",
                            PolicyType::kIdentity);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ((*parsed)->version, LanguageVersion::k2008_10_17);
}

TEST(ParsePolicyTest, PrincipalsNormalised) {
  auto parsed = ParsePolicy(R"({"Version":"2012-10-17","Statement":{"Effect":"Allow",
    "Principal":{"AWS":["111122223333","arn:aws:iam::444455556666:role/path/to/app",
                        "arn:aws:sts::111122223333:assumed-role/app/s1"],
                 "Service":"ECS-Tasks.amazonaws.com"},
    "Action":"sts:AssumeRole"}})",
                            PolicyType::kTrust);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  const auto& entries = (*parsed)->statements[0].principals;
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0].kind, PrincipalEntry::Kind::kAccount);
  EXPECT_EQ(entries[0].value, "arn:aws:iam::111122223333:root");
  EXPECT_EQ(entries[0].account, "111122223333");
  EXPECT_EQ(entries[1].kind, PrincipalEntry::Kind::kRole);
  EXPECT_EQ(entries[1].name, "app");
  EXPECT_EQ(entries[1].account, "444455556666");
  EXPECT_EQ(entries[2].kind, PrincipalEntry::Kind::kAssumedRole);
  EXPECT_EQ(entries[3].kind, PrincipalEntry::Kind::kService);
  EXPECT_EQ(entries[3].value, "ecs-tasks.amazonaws.com");
  EXPECT_FALSE((*parsed)->statements[0].has_resource);
}

TEST(ParsePolicyTest, ManagedPoliciesRequireVersion2012) {
  ParseOptions managed;
  managed.require_version_2012 = true;
  const char* kNoVersion = R"({"Statement":{"Effect":"Allow","Action":"s3:A","Resource":"*"}})";
  const char* k2008 =
      R"({"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"s3:A","Resource":"*"}})";
  for (const char* doc : {kNoVersion, k2008}) {
    auto parsed = ParsePolicy(doc, PolicyType::kIdentity, managed);
    ASSERT_FALSE(parsed.has_value()) << doc;
    EXPECT_EQ(parsed.error().code, "MalformedPolicyDocument");
    EXPECT_EQ(parsed.error().message, "Policy document must be version 2012-10-17 or greater.");
    EXPECT_TRUE(ParsePolicy(doc, PolicyType::kIdentity).has_value()) << "inline accepts " << doc;
  }
  // The version check comes after the grammar, before legacy parsing.
  auto bad_effect =
      ParsePolicy(R"({"Statement":{"Effect":"denY","Action":"s3:A","Resource":"*"}})",
                  PolicyType::kIdentity, managed);
  ASSERT_FALSE(bad_effect.has_value());
  EXPECT_EQ(bad_effect.error().message, "Policy document must be version 2012-10-17 or greater.");
  auto bad_syntax = ParsePolicy(R"({"Statement":{"Action":"s3:A","Resource":"*"}})",
                                PolicyType::kIdentity, managed);
  ASSERT_FALSE(bad_syntax.has_value());
  EXPECT_EQ(bad_syntax.error().message, kSyntax);
}

TEST(ParsePolicyTest, SizeLimitCountsNonWhitespaceCharacters) {
  const std::string doc =
      R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:A","Resource":"*"}})";
  const size_t size = doc.size();  // no white space in it
  EXPECT_EQ(PolicySize(doc), size);
  ParseOptions options;
  options.max_size = size;
  EXPECT_TRUE(ParsePolicy(doc, PolicyType::kIdentity, options).has_value());
  // White space does not count.
  std::string spaced = "  \n" + doc + "\t\r\n  ";
  EXPECT_EQ(PolicySize(spaced), size);
  EXPECT_TRUE(ParsePolicy(spaced, PolicyType::kIdentity, options).has_value());
  // One character more is over.
  options.max_size = size - 1;
  auto over = ParsePolicy(doc, PolicyType::kIdentity, options);
  ASSERT_FALSE(over.has_value());
  EXPECT_EQ(over.error().code, "LimitExceeded");
  EXPECT_EQ(over.error().message, "Cannot exceed quota for PolicySize: " + std::to_string(size - 1));
  EXPECT_EQ(over.error().http_status, 409);
  // The limit applies before parsing: an oversized non-JSON body is LimitExceeded too.
  options.max_size = 3;
  EXPECT_EQ(ParsePolicy("not json", PolicyType::kIdentity, options).error().code, "LimitExceeded");
  // A multi-byte character counts once.
  EXPECT_EQ(PolicySize("\"caf\xc3\xa9\""), 6u);
}

TEST(ParsePolicyTest, InlineRoleLimit10240) {
  std::string actions;
  for (int i = 0; i < 700; ++i) actions += "\"s3:GetObjectVersion" + std::to_string(i) + "\",";
  actions.pop_back();
  std::string doc = R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":[)" +
                    actions + R"(],"Resource":"*"}})";
  ASSERT_GT(PolicySize(doc), 10240u);
  ParseOptions role;
  role.max_size = 10240;
  EXPECT_EQ(ParsePolicy(doc, PolicyType::kIdentity, role).error().message,
            "Cannot exceed quota for PolicySize: 10240");
  EXPECT_TRUE(ParsePolicy(doc, PolicyType::kIdentity).has_value());
}

// ---------------------------------------------------------------------------------------
// Patterns.

struct PatternCase {
  const char* pattern;
  Pattern::Options options;
  const char* text;
  bool match;
};

constexpr Pattern::Options kResourceOpts{.wildcards = true, .variables = true, .ignore_case = false};
constexpr Pattern::Options kActionOpts{.wildcards = true, .variables = false, .ignore_case = true};
constexpr Pattern::Options kLiteralOpts{.wildcards = false, .variables = true, .ignore_case = false};
constexpr Pattern::Options kNoVarOpts{.wildcards = true, .variables = false, .ignore_case = false};

const PatternCase kPatternCases[] = {
    {"*", kResourceOpts, "", true},
    {"*", kResourceOpts, "anything:at/all", true},
    {"abc", kResourceOpts, "abc", true},
    {"abc", kResourceOpts, "abcd", false},
    {"abc", kResourceOpts, "ABC", false},
    {"abc*", kResourceOpts, "abc", true},
    {"abc*", kResourceOpts, "abc:def/ghi", true},
    {"abc*", kResourceOpts, "ab", false},
    {"*c", kResourceOpts, "abc", true},
    {"*c", kResourceOpts, "abd", false},
    {"a*c*e", kResourceOpts, "abcde", true},
    {"a*c*e", kResourceOpts, "ace", true},
    {"a*c*e", kResourceOpts, "acd", false},
    {"a*b*b", kResourceOpts, "abbbb", true},
    {"a**b", kResourceOpts, "ab", true},
    {"a?c", kResourceOpts, "abc", true},
    {"a?c", kResourceOpts, "ac", false},
    {"a?c", kResourceOpts, "abbc", false},
    {"??", kResourceOpts, "ab", true},
    {"??", kResourceOpts, "a", false},
    {"*?", kResourceOpts, "", false},
    {"*?", kResourceOpts, "x", true},
    {"arn:aws:s3:::b/*", kResourceOpts, "arn:aws:s3:::b/x/y", true},
    {"arn:*:secret:db-??????", kResourceOpts, "arn:aws:secretsmanager:us-east-1:1:secret:db-AbCdEf",
     true},
    {"arn:*:secret:db-??????", kResourceOpts, "arn:aws:secretsmanager:us-east-1:1:secret:db-AbCdE",
     false},
    {"s3:Get*", kActionOpts, "S3:GETOBJECT", true},
    {"S3:GET?BJECT", kActionOpts, "s3:getobject", true},
    {"s3:Get*", kActionOpts, "s3:PutObject", false},
    {"a${*}b", kResourceOpts, "a*b", true},
    {"a${*}b", kResourceOpts, "axb", false},
    {"a${?}b", kResourceOpts, "a?b", true},
    {"a${?}b", kResourceOpts, "axb", false},
    {"a${$}b", kResourceOpts, "a$b", true},
    {"home/${aws:username}/*", kResourceOpts, "home/alice/x", true},
    {"home/${aws:username}/*", kResourceOpts, "home/bob/x", false},
    {"home/${AWS:USERNAME}", kResourceOpts, "home/alice", true},
    {"home/${aws:username}", kNoVarOpts, "home/${aws:username}", true},
    {"home/${aws:username}", kNoVarOpts, "home/alice", false},
    {"home/${missing}", kResourceOpts, "home/", false},
    {"home/${missing, 'nobody'}", kResourceOpts, "home/nobody", true},
    {"home/${missing,'nobody'}", kResourceOpts, "home/nobody", true},
    {"home/${aws:username, 'nobody'}", kResourceOpts, "home/alice", true},
    {"home/${multi}", kResourceOpts, "home/a", false},
    {"home/${", kResourceOpts, "home/${", true},
    {"home/${}", kResourceOpts, "home/${}", true},
    {"*${aws:username}*", kResourceOpts, "x-alice-y", true},
    {"${aws:username}*", kResourceOpts, "alicex", true},
    {"${aws:username}*", kResourceOpts, "bob", false},
    {"a*", kLiteralOpts, "a*", true},
    {"a*", kLiteralOpts, "ab", false},
    {"${empty}x", kResourceOpts, "x", true},
};

TEST(PatternTest, Table) {
  ContextMap ctx;
  ctx["aws:username"] = {"alice"};
  ctx["multi"] = {"a", "b"};
  ctx["empty"] = {""};
  for (const auto& c : kPatternCases) {
    Pattern p = Pattern::Compile(c.pattern, c.options);
    EXPECT_EQ(p.Matches(c.text, ctx), c.match) << c.pattern << " vs " << c.text;
    EXPECT_EQ(p.source(), c.pattern);
  }
  EXPECT_TRUE(Pattern::Compile("*", kResourceOpts).MatchesEverything());
  EXPECT_FALSE(Pattern::Compile("a*", kResourceOpts).MatchesEverything());
}

TEST(PatternTest, LongTextsStayLinear) {
  std::string text(5000, 'a');
  Pattern p = Pattern::Compile("*a*a*a*a*a*a*b", kNoVarOpts);
  EXPECT_FALSE(p.Matches(text, {}));
  EXPECT_TRUE(p.Matches(text + "b", {}));
}

// Patterns of literals and '*' take a linear path of their own; on lower-case
// texts it must agree with the general matcher (which ignore_case selects).
TEST(PatternTest, StarPatternsAgreeWithTheGeneralMatcher) {
  std::mt19937 rng(11);
  auto random_text = [&](const char* alphabet, size_t max) {
    std::string out;
    for (size_t n = rng() % (max + 1); n > 0; --n)
      out.push_back(alphabet[rng() % strlen(alphabet)]);
    return out;
  };
  const Pattern::Options fast{.wildcards = true, .variables = false, .ignore_case = false};
  const Pattern::Options general{.wildcards = true, .variables = false, .ignore_case = true};
  int matched = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string pattern = random_text("ab:*", 7);
    std::string text = random_text("ab:", 9);
    bool a = Pattern::Compile(pattern, fast).Matches(text, {});
    bool b = Pattern::Compile(pattern, general).Matches(text, {});
    ASSERT_EQ(a, b) << "pattern " << pattern << " text " << text;
    matched += a;
  }
  EXPECT_GT(matched, 1000);  // the cases cover matches as well as misses
  ContextMap none;
  auto p = Pattern::Compile("arn:aws:secretsmanager:*:*:secret:prod/*", fast);
  EXPECT_TRUE(p.Matches("arn:aws:secretsmanager:us-east-1:1:secret:prod/db-AbCdEf", none));
  EXPECT_FALSE(p.Matches("arn:aws:secretsmanager:us-east-1:1:secret:registry/x", none));
  EXPECT_FALSE(p.Matches("arn:aws:secretsmanager:us-east-1:1:secret:Prod/x", none));
  EXPECT_TRUE(Pattern::Compile("*:secret:*-??????", fast).Matches("a:secret:x-AbCdEf", none));
}

// Thousands of own keys (a KMS encryption context may carry them) go through an
// index: building and reading stay linear, and case is still ignored.
TEST(ContextMapTest, ManyKeysAreIndexed) {
  ContextMap ctx;
  constexpr int kKeys = 50000;
  for (int i = 0; i < kKeys; ++i)
    ctx["kms:EncryptionContext:k" + std::to_string(i)] = {std::to_string(i)};
  ASSERT_EQ(ctx.size(), size_t(kKeys));
  for (int i : {0, 15, 16, 17, 4321, kKeys - 1}) {
    const auto* v = ctx.Find("KMS:ENCRYPTIONCONTEXT:K" + std::to_string(i));
    ASSERT_NE(v, nullptr) << i;
    EXPECT_EQ(v->front(), std::to_string(i));
  }
  EXPECT_EQ(ctx.Find("kms:EncryptionContext:k" + std::to_string(kKeys)), nullptr);
  ctx["KMS:EncryptionContext:K7"] = {"replaced"};  // the same key, other case
  EXPECT_EQ(ctx.size(), size_t(kKeys));
  EXPECT_EQ(ctx.Find("kms:encryptioncontext:k7")->front(), "replaced");
  ctx.Erase("kms:encryptioncontext:k8");
  EXPECT_EQ(ctx.Find("kms:EncryptionContext:k8"), nullptr);
  EXPECT_EQ(ctx.Find("kms:EncryptionContext:k9")->front(), "9");  // positions re-indexed
  ContextMap copy = ctx;
  EXPECT_EQ(copy.Find("kms:EncryptionContext:k49999")->front(), "49999");
}

TEST(ContextMapTest, KeysIgnoreCase) {
  ContextMap ctx;
  ctx["aws:SourceIp"] = {"10.0.0.1"};
  EXPECT_NE(ctx.Find("AWS:SOURCEIP"), nullptr);
  EXPECT_NE(ctx.Find(std::string_view("aws:sourceip")), nullptr);
  ctx["AWS:SOURCEIP"] = {"10.0.0.2"};
  EXPECT_EQ(ctx.size(), 1u);
  EXPECT_EQ(ctx.begin()->second.front(), "10.0.0.2");
}

TEST(ContextMapTest, OwnKeysThenBaseThenGlobals) {
  ContextMap base;
  base["kms:ViaService"] = {"secretsmanager.us-east-1.amazonaws.com"};
  base["aws:SourceIp"] = {"from-base"};
  ContextMap ctx;
  ContextMap::Globals g;
  g.caller = ContextMap::Globals::Caller::kAssumedRole;
  g.account = "111111111111";
  g.name = "exec";
  g.user_id = "AROAEXAMPLE:task";
  g.source_ip = "10.0.0.9";
  ctx.SetGlobals(g);
  ctx.SetBase(&base);
  // The base's keys come before the globals; the map's own before both.
  EXPECT_EQ(ctx.Find("AWS:SOURCEIP")->front(), "from-base");
  ctx["aws:sourceip"] = {"own"};
  EXPECT_EQ(ctx.Find("aws:SourceIp")->front(), "own");
  EXPECT_EQ(ctx.Find("kms:viaservice")->front(), "secretsmanager.us-east-1.amazonaws.com");
  // Globals are computed when asked for, and only those that apply exist.
  EXPECT_EQ(ctx.Find("aws:PrincipalArn")->front(), "arn:aws:iam::111111111111:role/exec");
  EXPECT_EQ(ctx.Find("aws:PrincipalType")->front(), "AssumedRole");
  EXPECT_EQ(ctx.Find("aws:username"), nullptr);
  EXPECT_EQ(ctx.Find("aws:PrincipalServiceName"), nullptr);
  EXPECT_EQ(ctx.Find("aws:PrincipalIsAWSService")->front(), "false");
  EXPECT_EQ(ctx.Find("aws:NoSuchKey"), nullptr);
  // A pointer stays valid while other globals are computed.
  const auto* arn = ctx.Find("aws:PrincipalArn");
  for (std::string_view k : {"aws:CurrentTime", "aws:EpochTime", "aws:userid"}) {
    EXPECT_NE(ctx.Find(k), nullptr) << k;
  }
  EXPECT_EQ(arn, ctx.Find("aws:PrincipalArn"));
  // Setting the globals replaces own values of those keys.
  ctx.SetGlobals(g);
  EXPECT_EQ(ctx.Find("aws:SourceIp")->front(), "from-base");
  ctx.SetBase(nullptr);
  EXPECT_EQ(ctx.Find("aws:SourceIp")->front(), "10.0.0.9");
  EXPECT_EQ(ctx.Find("kms:ViaService"), nullptr);
  ctx["x"] = {"1"};
  ctx.Erase("X");
  EXPECT_TRUE(ctx.empty());
}

// ---------------------------------------------------------------------------------------
// Dates.

TEST(ConditionDateTest, Forms) {
  double t = 0;
  ASSERT_TRUE(ParseConditionDate("2026-11-26T16:55:06Z", &t));
  EXPECT_EQ(t, 1795712106.0);
  ASSERT_TRUE(ParseConditionDate("2026-11-26t16:55:06z", &t));
  EXPECT_EQ(t, 1795712106.0);
  ASSERT_TRUE(ParseConditionDate("1795712106", &t));
  EXPECT_EQ(t, 1795712106.0);
  ASSERT_TRUE(ParseConditionDate("2026-11-26", &t));
  EXPECT_EQ(t, 1795651200.0);
  ASSERT_TRUE(ParseConditionDate("2026-11-26T17:55:06+01:00", &t));
  EXPECT_EQ(t, 1795712106.0);
  ASSERT_TRUE(ParseConditionDate("2026-11-26T15:55:06-0100", &t));
  EXPECT_EQ(t, 1795712106.0);
  ASSERT_TRUE(ParseConditionDate("2026-11-26T16:55Z", &t));
  EXPECT_EQ(t, 1795712100.0);
  ASSERT_TRUE(ParseConditionDate("2026-11-26T16:55:06.250Z", &t));
  EXPECT_DOUBLE_EQ(t, 1795712106.25);
  ASSERT_TRUE(ParseConditionDate("1970-01-01T00:00:00Z", &t));
  EXPECT_EQ(t, 0.0);
  ASSERT_TRUE(ParseConditionDate("2024-02-29", &t));
  for (const char* bad : {"", "sdfdsf", "2023-02-29", "2026-13-01", "2026-11-26T24:00:00Z",
                          "2026-11-26T16:60Z", "2026-11-26T16:55:06+1", "2026-11-26 16:55:06Z",
                          "2026-11-26T16:55:06Zx", "9223372036854775808", "26-11-26x"}) {
    EXPECT_FALSE(ParseConditionDate(bad, &t)) << bad;
  }
}

// The ISO 8601 forms IAM accepts beyond the W3C profile (moto's cases, checked against
// IAM), and what each stands for.
TEST(ConditionDateTest, LenientIsoForms) {
  struct Case {
    const char* text;
    double epoch;
  };
  const Case kCases[] = {
      {"2019-07-16T12:00:00Z", 1563278400},
      {"2019-07-16T12:00:00.000Z", 1563278400},
      {"2019-07-16T12:00:00+01:00", 1563274800},
      {"2019-07-16T12:00Z", 1563278400},
      {"2019-07-16T12Z", 1563278400},
      {"2019-07-16T12", 1563278400},
      {"2019-07-16T", 1563235200},
      {"2019-07-16TZ", 1563235200},
      {"2019-7-6", 1562371200},
      {"2019-07", 1561939200},
      {"2016-12-13t2:00:00.593194+23", 1481511600.593194},
      {"2016-12-13T21:20:37.593194+00:00", 1481664037.593194},
      {"2016-12-13T21:20:37.999999999Z", 1481664037.999999999},
      {"01T", -62135596800},              // year 1
      {"26-11-26", -61318252800},         // year 26, not 2026
      {"-5", -721354.0 * 86400},          // year 5 BC (ISO year -5), not epoch seconds
      {"-292275054", -9223372017043200},  // Joda-Time's first year
      {"292278993-12-31T23:59:59Z", 9223372017129599.0},  // and its last second
      {"9223372036854775807", 9223372036854775807.0},     // the largest epoch value
  };
  for (const auto& c : kCases) {
    double t = 0;
    ASSERT_TRUE(ParseConditionDate(c.text, &t)) << c.text;
    EXPECT_DOUBLE_EQ(t, c.epoch) << c.text;
  }
  for (const char* bad : {"2019-07-16 12:00:00",
                          "2019-07-16T12:00:00.1999999999+10:59",
                          "234-13",
                          "-292275055",
                          "292278994-01-01",
                          "1234567890-01-01",
                          "2019-07-16Z",
                          "T12:00",
                          "2019-197",
                          "2019-W29-2",
                          "2019-07-16T12:00:00,5Z",
                          "2019-07-16T12.5",
                          "2019-07-16T12:00:00+1",
                          "2019-07-16T12:00:00+01:0",
                          "2019-07-16T12:00:00+24:00",
                          "2019-07-16T1:2:3:4",
                          "+5",
                          "--5",
                          "2019--07",
                          "2019-07-"}) {
    double t = 0;
    EXPECT_FALSE(ParseConditionDate(bad, &t)) << bad;
  }
}

}  // namespace
}  // namespace berth::iam
