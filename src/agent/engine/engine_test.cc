#include "agent/engine/engine.h"

#include <gtest/gtest.h>

namespace berth::agent::engine {
namespace {
TEST(EngineTest, Placeholder) {}
}  // namespace
}  // namespace berth::agent::engine
