#include "mc/runtime/writes_in_flight.h"

#include <gtest/gtest.h>

#include "mc/testing/fake_clock.h"

namespace mc::kube {
namespace {

using namespace std::chrono_literals;

TEST(WritesInFlightTest, AWriteIsInFlightWhileTheCacheHoldsTheVersionItReplaced) {
  test::FakeClock clock;
  WritesInFlight writes(clock, 10s);
  EXPECT_FALSE(writes.inFlight("rollouts/ns/web", "7")) << "nothing written yet";
  writes.wrote("rollouts/ns/web", "7");
  EXPECT_TRUE(writes.inFlight("rollouts/ns/web", "7"));
  EXPECT_FALSE(writes.inFlight("rollouts/ns/other", "7"));
  EXPECT_FALSE(writes.inFlight("rollouts/ns/web", "8")) << "the cache caught up";
  EXPECT_FALSE(writes.inFlight("rollouts/ns/web", "7")) << "and the write is forgotten";
}

TEST(WritesInFlightTest, OnlyTheSameWriteIsInFlight) {
  test::FakeClock clock;
  WritesInFlight writes(clock, 10s);
  writes.wrote("replicasets/ns/web-a", "3", R"({"spec":{"replicas":3}})");
  EXPECT_TRUE(writes.inFlight("replicasets/ns/web-a", "3", R"({"spec":{"replicas":3}})"));
  EXPECT_FALSE(writes.inFlight("replicasets/ns/web-a", "3", R"({"spec":{"replicas":5}})"))
      << "another patch is a new write";
}

TEST(WritesInFlightTest, ACreateIsInFlightWhileTheCacheHasNoObjectAndForAtMostTheGrace) {
  test::FakeClock clock;
  WritesInFlight writes(clock, 10s);
  writes.wrote("replicasets/ns/web-a", "");
  clock.advance(9s);
  EXPECT_TRUE(writes.inFlight("replicasets/ns/web-a", ""));
  clock.advance(1s);
  EXPECT_FALSE(writes.inFlight("replicasets/ns/web-a", ""))
      << "the watch event is not coming (deleted meanwhile): write again";
}

}  // namespace
}  // namespace mc::kube
