// Test support: iam/test_world.h's world with KMS over it, for the services
// that seal with KMS (Secrets Manager, CloudWatch Logs).
#pragma once

#include <initializer_list>
#include <memory>

#include "iam/test_world.h"
#include "kms/service.h"

namespace berth::kms::testing {

class WorldTest : public iam::testing::WorldTest {
 protected:
  using iam::testing::WorldTest::WorldTest;

  // The IAM world, then KMS over it.
  void BuildWorld(std::initializer_list<const char*> accounts) {
    iam::testing::WorldTest::BuildWorld(accounts);
    kms_ = std::make_unique<kms::Service>(*kv_, *root_key_, *access_, ids_, clock_);
  }

  std::unique_ptr<kms::Service> kms_;
};

}  // namespace berth::kms::testing
