#include "common/fd.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <type_traits>
#include <utility>

namespace berth {
namespace {

// True while `fd` names an open descriptor of this process.
bool IsOpen(int fd) { return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

int OpenNull() { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

static_assert(!std::is_copy_constructible_v<Fd> && !std::is_copy_assignable_v<Fd>);
static_assert(std::is_nothrow_move_constructible_v<Fd> && std::is_nothrow_move_assignable_v<Fd>);

TEST(FdTest, ClosesOnDestruction) {
  int raw = OpenNull();
  ASSERT_GE(raw, 0);
  {
    Fd fd(raw);
    EXPECT_TRUE(fd.valid());
    EXPECT_EQ(fd.get(), raw);
  }
  EXPECT_FALSE(IsOpen(raw));
}

TEST(FdTest, DefaultAndFailedOpenHoldNothing) {
  Fd none;
  EXPECT_FALSE(none.valid());
  EXPECT_EQ(none.get(), -1);
  Fd failed(::open("/nonexistent/berth-fd-test", O_RDONLY));
  EXPECT_FALSE(failed.valid());
}

TEST(FdTest, MoveTransfersOwnershipAndEmptiesTheSource) {
  int raw = OpenNull();
  ASSERT_GE(raw, 0);
  Fd a(raw);
  Fd b(std::move(a));
  EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): the contract under test
  EXPECT_EQ(b.get(), raw);
  EXPECT_TRUE(IsOpen(raw));
  {
    Fd c;
    c = std::move(b);
    EXPECT_FALSE(b.valid());  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(c.get(), raw);
  }
  EXPECT_FALSE(IsOpen(raw));
}

TEST(FdTest, MoveAssignmentClosesWhatTheTargetHeld) {
  int first = OpenNull(), second = OpenNull();
  ASSERT_GE(first, 0);
  ASSERT_GE(second, 0);
  Fd target(first);
  target = Fd(second);
  EXPECT_FALSE(IsOpen(first));
  EXPECT_EQ(target.get(), second);
  Fd& same = target;
  target = std::move(same);  // self-move keeps the descriptor open
  EXPECT_EQ(target.get(), second);
  EXPECT_TRUE(IsOpen(second));
}

TEST(FdTest, ResetClosesAndReleaseGivesUpOwnership) {
  int first = OpenNull(), second = OpenNull();
  ASSERT_GE(first, 0);
  ASSERT_GE(second, 0);
  Fd fd(first);
  fd.Reset(second);
  EXPECT_FALSE(IsOpen(first));
  EXPECT_EQ(fd.get(), second);
  int released = fd.Release();
  EXPECT_EQ(released, second);
  EXPECT_FALSE(fd.valid());
  fd.Reset();
  EXPECT_TRUE(IsOpen(second));  // released: not closed by the Fd
  ::close(released);
}

}  // namespace
}  // namespace berth
