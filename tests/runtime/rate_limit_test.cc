#include "mc/runtime/rate_limit.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "mc/testing/fake_clock.h"

namespace mc {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

// `n` reservations at one instant.
std::vector<nanoseconds> reserveMany(TokenBucket& bucket, int n) {
  std::vector<nanoseconds> waits;
  for (int i = 0; i < n; ++i) {
    waits.push_back(bucket.reserve());
  }
  return waits;
}

TEST(TokenBucketTest, BurstIsFreeThenReservationsQueueAtOneOverQps) {
  struct Case {
    std::string name;
    double qps;
    int burst;
    std::vector<nanoseconds> waits;  // of reservations made at one instant
  };
  for (const Case& c : std::vector<Case>{
           {"burst of three at 10/s",
            10,
            3,
            {nanoseconds(0), nanoseconds(0), nanoseconds(0), milliseconds(100), milliseconds(200),
             milliseconds(300)}},
           {"burst of one at 2/s", 2, 1, {nanoseconds(0), milliseconds(500), seconds(1)}},
           {"a burst below one is one", 4, 0, {nanoseconds(0), milliseconds(250)}},
           {"negative burst is one too", 4, -5, {nanoseconds(0), milliseconds(250)}},
           // A third of a second is 333333333.33 ns, two thirds 666666666.67: rounded, not cut.
           {"rounded to the nearest nanosecond",
            3,
            1,
            {nanoseconds(0), nanoseconds(333333333), nanoseconds(666666667), seconds(1)}},
           {"fractional qps", 0.5, 2, {nanoseconds(0), nanoseconds(0), seconds(2), seconds(4)}},
       }) {
    SCOPED_TRACE(c.name);
    test::FakeClock clock;
    TokenBucket bucket(c.qps, c.burst, clock);
    EXPECT_EQ(reserveMany(bucket, static_cast<int>(c.waits.size())), c.waits);
  }
}

TEST(TokenBucketTest, CallersThatWaitAsToldAreSpacedAtOneOverQps) {
  test::FakeClock clock;
  TokenBucket bucket(20, 2, clock);
  Clock::TimePoint start = clock.now();
  std::vector<nanoseconds> sentAt;  // since start
  for (int i = 0; i < 6; ++i) {
    clock.advance(bucket.reserve());
    sentAt.push_back(clock.now() - start);
  }
  EXPECT_EQ(sentAt,
            (std::vector<nanoseconds>{nanoseconds(0), nanoseconds(0), milliseconds(50),
                                      milliseconds(100), milliseconds(150), milliseconds(200)}));
}

TEST(TokenBucketTest, RefillsOverTimeUpToTheBurst) {
  struct Case {
    nanoseconds idle;      // after draining the burst
    int free;              // reservations without a wait
    nanoseconds nextWait;  // of the first one that waits
  };
  // 10/s, burst 5.
  for (const Case& c : {
           Case{nanoseconds(0), 0, milliseconds(100)},
           Case{milliseconds(50), 0, milliseconds(50)},
           Case{milliseconds(100), 1, milliseconds(100)},
           Case{milliseconds(250), 2, milliseconds(50)},
           Case{milliseconds(500), 5, milliseconds(100)},
           // Capped: idling longer than burst/qps does not buy a bigger burst.
           Case{seconds(1), 5, milliseconds(100)},
           Case{hours(24), 5, milliseconds(100)},
       }) {
    SCOPED_TRACE(testing::Message() << "idle " << c.idle.count() << "ns");
    test::FakeClock clock;
    TokenBucket bucket(10, 5, clock);
    ASSERT_EQ(reserveMany(bucket, 5), std::vector<nanoseconds>(5, nanoseconds(0)));
    clock.advance(c.idle);
    int free = 0;
    nanoseconds wait;
    while ((wait = bucket.reserve()) == nanoseconds(0)) {
      ++free;
    }
    EXPECT_EQ(free, c.free);
    EXPECT_EQ(wait, c.nextWait);
  }
}

TEST(TokenBucketTest, DebtAccumulatesForCallersThatReserveAhead) {
  test::FakeClock clock;
  TokenBucket bucket(10, 2, clock);
  EXPECT_EQ(reserveMany(bucket, 5),
            (std::vector<nanoseconds>{nanoseconds(0), nanoseconds(0), milliseconds(100),
                                      milliseconds(200), milliseconds(300)}));
  // 150 ms repay 1.5 of the 3 tokens owed; the next reservation queues behind the rest.
  clock.advance(milliseconds(150));
  EXPECT_EQ(bucket.reserve(), milliseconds(250));
  // Once the debt is repaid the bucket fills again, to the burst and no further.
  clock.advance(seconds(10));
  EXPECT_EQ(reserveMany(bucket, 3),
            (std::vector<nanoseconds>{nanoseconds(0), nanoseconds(0), milliseconds(100)}));
}

TEST(TokenBucketTest, HugeDebtIsCappedInsteadOfOverflowing) {
  test::FakeClock clock;
  // One token in 10^12 seconds: the second reservation would wait 10^21 ns, past int64.
  TokenBucket bucket(1e-12, 1, clock);
  EXPECT_EQ(bucket.reserve(), nanoseconds(0));
  EXPECT_EQ(bucket.reserve(), nanoseconds(1'000'000'000'000'000'000));
  EXPECT_EQ(bucket.reserve(), nanoseconds(1'000'000'000'000'000'000));
}

TEST(TokenBucketTest, ZeroOrNegativeQpsIsUnlimited) {
  for (double qps : {0.0, -1.0, -std::numeric_limits<double>::infinity(),
                     std::numeric_limits<double>::quiet_NaN()}) {
    SCOPED_TRACE(testing::Message() << "qps " << qps);
    test::FakeClock clock;
    TokenBucket bucket(qps, 1, clock);
    EXPECT_EQ(reserveMany(bucket, 1000), std::vector<nanoseconds>(1000, nanoseconds(0)));
    clock.advance(hours(1));
    EXPECT_EQ(reserveMany(bucket, 1000), std::vector<nanoseconds>(1000, nanoseconds(0)));
  }
}

TEST(TokenBucketTest, InfiniteQpsNeverWaits) {
  test::FakeClock clock;
  TokenBucket bucket(std::numeric_limits<double>::infinity(), 1, clock);
  EXPECT_EQ(reserveMany(bucket, 100), std::vector<nanoseconds>(100, nanoseconds(0)));
  clock.advance(nanoseconds(1));
  EXPECT_EQ(reserveMany(bucket, 100), std::vector<nanoseconds>(100, nanoseconds(0)));
}

TEST(TokenBucketTest, AClockThatGoesBackNeitherRefillsNorDrains) {
  test::FakeClock clock;
  Clock::TimePoint start = clock.now();
  TokenBucket bucket(10, 1, clock);
  EXPECT_EQ(bucket.reserve(), nanoseconds(0));
  clock.set(start - hours(1));
  EXPECT_EQ(bucket.reserve(), milliseconds(100));
  // Refilling resumes from the latest time seen, not from the earlier reading.
  clock.set(start + milliseconds(200));
  EXPECT_EQ(bucket.reserve(), nanoseconds(0));
  EXPECT_EQ(bucket.reserve(), milliseconds(100));
}

TEST(TokenBucketTest, ConcurrentReservationsEachGetTheirOwnSlot) {
  test::FakeClock clock;
  TokenBucket bucket(1000, 10, clock);
  constexpr int kThreads = 4;
  constexpr int kEach = 50;
  std::vector<std::vector<nanoseconds>> waits(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&bucket, &out = waits[t]] { out = reserveMany(bucket, kEach); });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  std::vector<nanoseconds> all;
  for (const auto& some : waits) {
    all.insert(all.end(), some.begin(), some.end());
  }
  std::sort(all.begin(), all.end());
  std::vector<nanoseconds> expected(10, nanoseconds(0));
  for (int i = 1; i <= kThreads * kEach - 10; ++i) {
    expected.push_back(milliseconds(i));
  }
  EXPECT_EQ(all, expected);
}

}  // namespace
}  // namespace mc
