#include "mc/runtime/workqueue.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <mutex>
#include <set>
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
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

// Hands out every ready key, marking each done, in the order the queue gave them.
std::vector<std::string> takeAll(WorkQueue& queue) {
  std::vector<std::string> keys;
  while (std::optional<std::string> key = queue.tryGet()) {
    keys.push_back(*key);
    queue.done(*key);
  }
  return keys;
}

// How long after now the first waiting key becomes ready.
nanoseconds readyIn(const WorkQueue& queue, const Clock& clock) {
  std::optional<Clock::TimePoint> at = queue.nextReadyAt();
  return at ? *at - clock.now() : nanoseconds(-1);
}

TEST(WorkQueueTest, QueuedKeysAreDeduplicatedAndHandedOutInFifoOrder) {
  struct Case {
    std::vector<std::string> adds;
    std::vector<std::string> out;
  };
  for (const Case& c : {
           Case{{"ns/a"}, {"ns/a"}},
           Case{{"ns/a", "ns/a", "ns/a"}, {"ns/a"}},
           Case{{"ns/a", "ns/b", "ns/a"}, {"ns/a", "ns/b"}},
           Case{{"ns/c", "ns/b", "ns/a", "ns/b", "ns/c"}, {"ns/c", "ns/b", "ns/a"}},
           Case{{}, {}},
       }) {
    test::FakeClock clock;
    WorkQueue queue(clock);
    for (const std::string& key : c.adds) {
      queue.add(key);
    }
    EXPECT_EQ(queue.size(), c.out.size());
    EXPECT_EQ(queue.addsTotal(), c.out.size());
    EXPECT_THAT(takeAll(queue), ElementsAreArray(c.out));
    EXPECT_EQ(queue.size(), 0u);
  }
}

TEST(WorkQueueTest, KeyAddedWhileProcessingIsRequeuedOnlyAfterDone) {
  test::FakeClock clock;
  WorkQueue queue(clock);
  queue.add("ns/a");
  queue.add("ns/b");
  ASSERT_EQ(queue.tryGet(), "ns/a");

  // Twice, to show a dirty key is remembered once.
  queue.add("ns/a");
  queue.add("ns/a");
  EXPECT_EQ(queue.size(), 1u);
  // A second worker gets the other key, never the one being processed.
  EXPECT_EQ(queue.tryGet(), "ns/b");
  EXPECT_EQ(queue.tryGet(), std::nullopt);

  queue.done("ns/a");
  EXPECT_EQ(queue.size(), 1u);
  EXPECT_EQ(queue.tryGet(), "ns/a");
  queue.done("ns/a");
  queue.done("ns/b");
  EXPECT_EQ(queue.tryGet(), std::nullopt);
}

TEST(WorkQueueTest, RequeuedKeyGoesToTheBack) {
  test::FakeClock clock;
  WorkQueue queue(clock);
  queue.add("ns/a");
  ASSERT_EQ(queue.tryGet(), "ns/a");
  queue.add("ns/a");
  queue.add("ns/b");
  queue.add("ns/c");
  queue.done("ns/a");
  EXPECT_THAT(takeAll(queue), ElementsAre("ns/b", "ns/c", "ns/a"));
}

TEST(WorkQueueTest, DoneOfAKeyNotHandedOutChangesNothing) {
  test::FakeClock clock;
  WorkQueue queue(clock);
  queue.add("ns/a");
  queue.done("ns/a");
  EXPECT_EQ(queue.size(), 1u);
  EXPECT_THAT(takeAll(queue), ElementsAre("ns/a"));
}

TEST(WorkQueueTest, DelayedKeysBecomeReadyInOrderOfReadyTime) {
  struct Add {
    std::string key;
    nanoseconds delay;
  };
  struct Step {
    nanoseconds advance;
    std::vector<std::string> ready;
  };
  struct Case {
    std::string name;
    std::vector<Add> adds;
    std::vector<Step> steps;
  };
  for (const Case& c : std::vector<Case>{
           {"zero and negative delays are immediate",
            {{"ns/a", nanoseconds(0)}, {"ns/b", milliseconds(-5)}},
            {{nanoseconds(0), {"ns/a", "ns/b"}}}},
           {"sorted by ready time, not add order",
            {{"ns/a", seconds(3)}, {"ns/b", seconds(1)}, {"ns/c", seconds(2)}},
            {{nanoseconds(0), {}},
             {seconds(1), {"ns/b"}},
             {milliseconds(999), {}},
             {milliseconds(1), {"ns/c"}},
             {seconds(5), {"ns/a"}}}},
           {"equal ready times keep add order",
            {{"ns/b", seconds(1)}, {"ns/a", seconds(1)}, {"ns/c", seconds(1)}},
            {{seconds(1), {"ns/b", "ns/a", "ns/c"}}}},
           {"several due at once come out by ready time",
            {{"ns/a", seconds(3)}, {"ns/b", seconds(2)}, {"ns/c", seconds(1)}},
            {{seconds(10), {"ns/c", "ns/b", "ns/a"}}}},
           {"an earlier time replaces a later one",
            {{"ns/a", seconds(10)}, {"ns/a", seconds(1)}},
            {{seconds(1), {"ns/a"}}, {seconds(20), {}}}},
           {"a later time does not postpone an earlier one",
            {{"ns/a", seconds(1)}, {"ns/a", seconds(10)}},
            {{seconds(1), {"ns/a"}}, {seconds(20), {}}}},
           {"a queued key that also waits is not duplicated when it comes due",
            {{"ns/a", seconds(0)}, {"ns/a", seconds(1)}},
            {{seconds(1), {"ns/a"}}}},
       }) {
    SCOPED_TRACE(c.name);
    test::FakeClock clock;
    WorkQueue queue(clock);
    for (const Add& add : c.adds) {
      queue.addAfter(add.key, add.delay);
    }
    for (const Step& step : c.steps) {
      clock.advance(step.advance);
      EXPECT_THAT(takeAll(queue), ElementsAreArray(step.ready));
    }
    EXPECT_EQ(queue.waitingSize(), 0u);
  }
}

TEST(WorkQueueTest, DelayedKeyComingDueWhileProcessingWaitsForDone) {
  test::FakeClock clock;
  WorkQueue queue(clock);
  queue.add("ns/a");
  ASSERT_EQ(queue.tryGet(), "ns/a");
  queue.addAfter("ns/a", seconds(1));
  clock.advance(seconds(1));
  EXPECT_EQ(queue.tryGet(), std::nullopt);
  EXPECT_EQ(queue.waitingSize(), 0u);
  queue.done("ns/a");
  EXPECT_EQ(queue.tryGet(), "ns/a");
}

TEST(WorkQueueTest, NextReadyAtIsTheEarliestWaitingTime) {
  test::FakeClock clock;
  WorkQueue queue(clock);
  Clock::TimePoint start = clock.now();
  EXPECT_EQ(queue.nextReadyAt(), std::nullopt);

  queue.add("ns/ready");  // ready keys do not count: nothing to sleep for
  EXPECT_EQ(queue.nextReadyAt(), std::nullopt);

  queue.addAfter("ns/a", seconds(5));
  EXPECT_EQ(queue.nextReadyAt(), start + seconds(5));
  queue.addAfter("ns/b", seconds(2));
  EXPECT_EQ(queue.nextReadyAt(), start + seconds(2));
  queue.addAfter("ns/c", seconds(9));
  EXPECT_EQ(queue.nextReadyAt(), start + seconds(2));
  EXPECT_EQ(queue.waitingSize(), 3u);

  clock.advance(seconds(2));
  EXPECT_THAT(takeAll(queue), ElementsAre("ns/ready", "ns/b"));
  EXPECT_EQ(queue.nextReadyAt(), start + seconds(5));

  queue.shutDown();
  EXPECT_EQ(queue.nextReadyAt(), std::nullopt);
}

TEST(WorkQueueTest, BackoffDoublesPerFailureUpToTheCap) {
  struct Case {
    std::string name;
    WorkQueueOptions options;
    std::vector<nanoseconds> delays;
  };
  std::vector<nanoseconds> defaults;
  for (int i = 0; i < 18; ++i) {
    defaults.push_back(milliseconds(5) * (1 << i));  // 5ms, 10ms, ... 655.36s
  }
  defaults.push_back(seconds(1000));
  defaults.push_back(seconds(1000));
  for (const Case& c : std::vector<Case>{
           {"client-go defaults", {}, defaults},
           {"small cap",
            {.baseDelay = milliseconds(1), .maxDelay = milliseconds(10)},
            {milliseconds(1), milliseconds(2), milliseconds(4), milliseconds(8), milliseconds(10),
             milliseconds(10)}},
           {"cap below base",
            {.baseDelay = seconds(1), .maxDelay = milliseconds(500)},
            {milliseconds(500), milliseconds(500)}},
       }) {
    SCOPED_TRACE(c.name);
    test::FakeClock clock;
    WorkQueue queue(clock, c.options);
    int requeues = 0;
    for (nanoseconds delay : c.delays) {
      queue.addRateLimited("ns/a");
      EXPECT_EQ(queue.numRequeues("ns/a"), ++requeues);
      EXPECT_EQ(readyIn(queue, clock), delay) << "after " << requeues << " failures";
      clock.advance(delay);
      EXPECT_THAT(takeAll(queue), ElementsAre("ns/a"));
    }
    EXPECT_EQ(queue.retriesTotal(), c.delays.size());
  }
}

TEST(WorkQueueTest, BackoffIsPerKeyAndForgetResetsIt) {
  test::FakeClock clock;
  WorkQueue queue(clock);
  for (int i = 0; i < 3; ++i) {
    queue.addRateLimited("ns/a");
    clock.advance(seconds(1));
    takeAll(queue);
  }
  EXPECT_EQ(queue.numRequeues("ns/a"), 3);
  EXPECT_EQ(queue.numRequeues("ns/b"), 0);

  queue.addRateLimited("ns/b");
  EXPECT_EQ(readyIn(queue, clock), milliseconds(5));
  clock.advance(milliseconds(5));
  takeAll(queue);

  queue.addRateLimited("ns/a");
  EXPECT_EQ(readyIn(queue, clock), milliseconds(40));
  clock.advance(milliseconds(40));
  takeAll(queue);

  queue.forget("ns/a");
  EXPECT_EQ(queue.numRequeues("ns/a"), 0);
  EXPECT_EQ(queue.numRequeues("ns/b"), 1);
  queue.addRateLimited("ns/a");
  EXPECT_EQ(readyIn(queue, clock), milliseconds(5));
}

TEST(WorkQueueTest, TokenBucketSpreadsRetriesBeyondTheBurst) {
  test::FakeClock clock;
  WorkQueue queue(clock);
  Clock::TimePoint start = clock.now();
  // 110 distinct keys failing at one instant: each key's own backoff is 5 ms, the first 100 fit
  // the burst, and the rest follow at 10 per second.
  for (int i = 0; i < 110; ++i) {
    queue.addRateLimited("ns/k" + std::to_string(i));
  }
  EXPECT_EQ(queue.nextReadyAt(), start + milliseconds(5));

  struct Step {
    nanoseconds at;  // since start
    std::size_t ready;
  };
  for (Step step : {Step{milliseconds(5), 100}, Step{milliseconds(99), 0},
                    Step{milliseconds(100), 1}, Step{milliseconds(250), 1},
                    Step{milliseconds(999), 7}, Step{milliseconds(1000), 1}, Step{seconds(5), 0}}) {
    clock.set(start + step.at);
    EXPECT_EQ(takeAll(queue).size(), step.ready) << "at " << step.at.count() << "ns";
  }
  EXPECT_EQ(queue.waitingSize(), 0u);

  // The bucket refills at 10 per second after repaying its debt of 10 tokens: at 5 s it holds
  // 40, so the 41st retry waits a tenth of a second.
  for (int i = 0; i < 40; ++i) {
    queue.addRateLimited("ns/later" + std::to_string(i));
  }
  EXPECT_EQ(readyIn(queue, clock), milliseconds(5));
  queue.addRateLimited("ns/last");
  clock.advance(milliseconds(5));
  EXPECT_EQ(takeAll(queue).size(), 40u);
  EXPECT_EQ(readyIn(queue, clock), milliseconds(95));
}

TEST(WorkQueueTest, TokenBucketCanBeTurnedOff) {
  test::FakeClock clock;
  WorkQueue queue(clock, {.qps = 0});
  for (int i = 0; i < 500; ++i) {
    queue.addRateLimited("ns/k" + std::to_string(i));
  }
  clock.advance(milliseconds(5));
  EXPECT_EQ(takeAll(queue).size(), 500u);
}

TEST(WorkQueueTest, MetricsCountAcceptedAddsAndRetries) {
  test::FakeClock clock;
  WorkQueue queue(clock);
  queue.add("ns/a");
  queue.add("ns/a");                   // deduplicated: not an add
  queue.addAfter("ns/b", seconds(1));  // counted when it comes due
  queue.addRateLimited("ns/c");
  EXPECT_EQ(queue.addsTotal(), 1u);
  EXPECT_EQ(queue.retriesTotal(), 1u);
  clock.advance(seconds(1));
  EXPECT_EQ(takeAll(queue).size(), 3u);
  EXPECT_EQ(queue.addsTotal(), 3u);
  EXPECT_EQ(queue.retriesTotal(), 1u);
}

TEST(WorkQueueTest, ReadyListenerIsCalledWhenThereIsMoreToDo) {
  test::FakeClock clock;
  WorkQueue queue(clock);
  int calls = 0;
  queue.setReadyListener([&] { ++calls; });

  struct Step {
    std::string name;
    std::function<void()> action;
    int calls;  // added by this step
  };
  for (const Step& step : std::vector<Step>{
           {"add", [&] { queue.add("ns/a"); }, 1},
           {"add of a queued key", [&] { queue.add("ns/a"); }, 0},
           {"addAfter, first waiting key", [&] { queue.addAfter("ns/b", seconds(5)); }, 1},
           {"addAfter, later than the first", [&] { queue.addAfter("ns/c", seconds(9)); }, 0},
           {"addAfter, earlier than the first", [&] { queue.addAfter("ns/c", seconds(1)); }, 1},
           {"addAfter with no delay", [&] { queue.addAfter("ns/d", seconds(0)); }, 1},
           {"get", [&] { (void)queue.tryGet(); }, 0},
           {"add while processing", [&] { queue.add("ns/a"); }, 0},
           {"done re-queues", [&] { queue.done("ns/a"); }, 1},
           {"keys coming due together",
            [&] {
              clock.advance(seconds(5));
              (void)queue.tryGet();
            },
            1},
           {"shutdown", [&] { queue.shutDown(); }, 1},
           {"add after shutdown", [&] { queue.add("ns/e"); }, 0},
       }) {
    int before = calls;
    step.action();
    EXPECT_EQ(calls - before, step.calls) << step.name;
  }
}

TEST(WorkQueueTest, ReadyListenerMayCallBackIntoTheQueue) {
  test::FakeClock clock;
  WorkQueue queue(clock);
  std::vector<std::string> got;
  queue.setReadyListener([&] {
    if (std::optional<std::string> key = queue.tryGet()) {
      got.push_back(*key);
    }
  });
  queue.add("ns/a");
  EXPECT_THAT(got, ElementsAre("ns/a"));
}

TEST(WorkQueueTest, ShutDownStopsHandingOutKeys) {
  test::FakeClock clock;
  WorkQueue queue(clock);
  queue.add("ns/a");
  queue.shutDown();
  EXPECT_TRUE(queue.shuttingDown());
  EXPECT_EQ(queue.tryGet(), std::nullopt);
  EXPECT_EQ(queue.get(), std::nullopt);
  queue.add("ns/b");
  queue.addAfter("ns/c", seconds(1));
  queue.addRateLimited("ns/d");
  EXPECT_EQ(queue.waitingSize(), 0u);
  EXPECT_EQ(queue.retriesTotal(), 0u);
}

TEST(WorkQueueTest, ShutDownReleasesABlockedGet) {
  test::FakeClock clock;
  WorkQueue queue(clock);
  queue.addAfter("ns/later", hours(1));  // get() must not sleep through shutdown either
  std::future<std::optional<std::string>> got =
      std::async(std::launch::async, [&] { return queue.get(); });
  queue.shutDown();
  EXPECT_EQ(got.get(), std::nullopt);
}

TEST(WorkQueueTest, BlockedGetWakesOnAdd) {
  test::FakeClock clock;
  WorkQueue queue(clock);
  std::future<std::optional<std::string>> got =
      std::async(std::launch::async, [&] { return queue.get(); });
  queue.add("ns/a");
  EXPECT_EQ(got.get(), "ns/a");
  queue.shutDown();
}

TEST(WorkQueueTest, BlockedGetWakesAtTheReadyTimeOfADelayedKey) {
  // The real clock: with a fake one, get() would wait in real time for fake time to pass.
  WorkQueue queue(systemClock());
  Clock::TimePoint start = systemClock().now();
  queue.addAfter("ns/a", milliseconds(20));
  EXPECT_EQ(queue.get(), "ns/a");
  EXPECT_GE(systemClock().now() - start, milliseconds(20));
}

TEST(WorkQueueTest, BlockedGetRecomputesItsWaitWhenAnEarlierKeyArrives) {
  WorkQueue queue(systemClock());
  queue.addAfter("ns/late", hours(1));
  // get() may already sleep toward the hour-long deadline or not have started yet; either way
  // the earlier key must be handed out when it comes due, not after the hour.
  std::future<std::optional<std::string>> got =
      std::async(std::launch::async, [&] { return queue.get(); });
  queue.addAfter("ns/early", milliseconds(10));
  EXPECT_EQ(got.get(), "ns/early");
  queue.shutDown();
}

TEST(WorkQueueTest, ShutDownWithDrainWaitsForKeysBeingProcessed) {
  test::FakeClock clock;
  WorkQueue queue(clock);
  queue.add("ns/a");
  queue.add("ns/b");
  ASSERT_EQ(queue.tryGet(), "ns/a");

  std::promise<void> shuttingDown;
  queue.setReadyListener([&] { shuttingDown.set_value(); });
  std::future<void> drained = std::async(std::launch::async, [&] { queue.shutDownWithDrain(); });
  shuttingDown.get_future().wait();

  // No new keys while draining, and the drain cannot end while "ns/a" is held.
  EXPECT_EQ(queue.tryGet(), std::nullopt);
  EXPECT_EQ(drained.wait_for(seconds(0)), std::future_status::timeout);
  queue.add("ns/a");  // ignored: the queue is shutting down
  queue.done("ns/a");
  drained.get();
  EXPECT_EQ(queue.tryGet(), std::nullopt);
}

TEST(WorkQueueTest, ShutDownWithDrainReturnsAtOnceWhenIdle) {
  test::FakeClock clock;
  WorkQueue queue(clock);
  queue.add("ns/a");
  queue.shutDownWithDrain();
  EXPECT_EQ(queue.tryGet(), std::nullopt);
}

TEST(WorkQueueTest, ConcurrentWorkersNeverShareAKeyAndNeverLoseAnAdd) {
  constexpr int kKeys = 8;
  constexpr int kAdds = 4000;
  constexpr int kWorkers = 4;
  test::FakeClock clock;
  WorkQueue queue(clock);

  // The producer bumps a key's version as it adds it; a worker records the version it sees
  // when it takes the key. Never losing an add means every key is last seen at its last version.
  std::mutex mutex;
  std::vector<int> version(kKeys, 0);
  std::vector<int> seen(kKeys, 0);
  std::set<int> inFlight;
  int overlaps = 0;
  bool producerDone = false;
  bool complete = false;
  std::promise<void> allSeen;
  auto checkComplete = [&] {  // mutex held
    if (complete || !producerDone || seen != version) {
      return;
    }
    complete = true;
    allSeen.set_value();
  };

  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&] {
      while (std::optional<std::string> key = queue.get()) {
        int k = std::stoi(key->substr(4));
        {
          std::lock_guard lock(mutex);
          if (!inFlight.insert(k).second) {
            ++overlaps;
          }
          seen[k] = version[k];
        }
        std::this_thread::yield();
        {
          std::lock_guard lock(mutex);
          inFlight.erase(k);
        }
        queue.done(*key);
        std::lock_guard lock(mutex);
        checkComplete();
      }
    });
  }
  for (int i = 0; i < kAdds; ++i) {
    int k = i % kKeys;
    // Bumped with the add under one lock, so a worker that sees a version took its key after
    // that add, or while it was being made (when the queue must re-queue the key anyway).
    std::lock_guard lock(mutex);
    queue.add("ns/k" + std::to_string(k));
    ++version[k];
  }
  {
    std::lock_guard lock(mutex);
    producerDone = true;
    checkComplete();
  }
  // A safety net so a lost add fails the test instead of hanging it; not a timing assertion.
  EXPECT_EQ(allSeen.get_future().wait_for(seconds(60)), std::future_status::ready);
  queue.shutDownWithDrain();
  for (std::thread& worker : workers) {
    worker.join();
  }
  EXPECT_EQ(overlaps, 0);
}

}  // namespace
}  // namespace mc
