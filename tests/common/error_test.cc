#include "mc/common/error.h"

#include <gtest/gtest.h>

namespace mc {
namespace {

TEST(ErrorTest, RetryableKindsAreTheTransientOnes) {
  struct Case {
    ErrorKind kind;
    bool retryable;
  };
  for (auto [kind, retryable] :
       {Case{ErrorKind::TooManyRequests, true}, Case{ErrorKind::Timeout, true},
        Case{ErrorKind::Transient, true}, Case{ErrorKind::Conflict, false},
        Case{ErrorKind::Gone, false}, Case{ErrorKind::Invalid, false},
        Case{ErrorKind::Terminal, false}, Case{ErrorKind::NotFound, false}}) {
    EXPECT_EQ(makeError(kind, "x").retryable(), retryable) << toString(kind);
  }
}

TEST(ErrorTest, DescribeNamesKindStatusAndMessage) {
  EXPECT_EQ(makeError(ErrorKind::Conflict, "modified", 409).describe(), "Conflict (409): modified");
  EXPECT_EQ(makeError(ErrorKind::Transient, "connection refused").describe(),
            "Transient: connection refused");
}

TEST(ErrorTest, AFieldErrorCarriesItsFieldApartFromTheMessage) {
  Error error = fieldError("spec.strategy.canary.steps[2].setWeight", "expected an integer");
  EXPECT_EQ(error.kind, ErrorKind::Invalid);
  EXPECT_EQ(error.field, "spec.strategy.canary.steps[2].setWeight");
  EXPECT_EQ(error.message, "expected an integer") << "the message does not repeat the field";
  EXPECT_EQ(error.fieldMessage(), "spec.strategy.canary.steps[2].setWeight: expected an integer");
  EXPECT_EQ(error.describe(),
            "Invalid: spec.strategy.canary.steps[2].setWeight: expected an integer");
  EXPECT_EQ(makeError(ErrorKind::Invalid, "bad").fieldMessage(), "bad");
}

TEST(ErrorTest, ResultValueThrowsTheDescription) {
  Result<int> failed = makeError(ErrorKind::NotFound, "no such rollout", 404);
  EXPECT_FALSE(failed.has_value());
  EXPECT_THROW(
      {
        try {
          (void)failed.value();
        } catch (const std::runtime_error& e) {
          EXPECT_STREQ(e.what(), "NotFound (404): no such rollout");
          throw;
        }
      },
      std::runtime_error);
}

}  // namespace
}  // namespace mc
