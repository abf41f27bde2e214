// The metrics registry and its Prometheus text format (exposition format 0.0.4).
#include "common/metrics.h"

#include <atomic>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace enrolld {
namespace {

using ::testing::HasSubstr;

TEST(Metrics, CountersAreRenderedPerLabelSetWithHelpAndType) {
  Metrics metrics;
  metrics.counter("enrolld_test_total", "Things counted", {{"kind", "a"}}).add();
  metrics.counter("enrolld_test_total", "ignored: the first help stays", {{"kind", "a"}}).add(2);
  metrics.counter("enrolld_test_total", "", {{"kind", "b\"\\\n"}}).add();
  const std::string text = metrics.render();
  EXPECT_THAT(text, HasSubstr("# HELP enrolld_test_total Things counted\n# TYPE enrolld_test_total counter\n"));
  EXPECT_THAT(text, HasSubstr("enrolld_test_total{kind=\"a\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("enrolld_test_total{kind=\"b\\\"\\\\\\n\"} 1\n")) << "label values are escaped";
}

TEST(Metrics, HistogramsHaveCumulativeBucketsSumAndCount) {
  Metrics metrics;
  Histogram& h = metrics.histogram("enrolld_test_seconds", "Durations");
  h.observe(std::chrono::microseconds(300));  // <= 0.0005
  h.observe(std::chrono::milliseconds(3));    // <= 0.005
  h.observe(std::chrono::seconds(10));        // +Inf only
  const std::string text = metrics.render();
  EXPECT_THAT(text, HasSubstr("# TYPE enrolld_test_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("enrolld_test_seconds_bucket{le=\"0.0005\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("enrolld_test_seconds_bucket{le=\"0.002\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("enrolld_test_seconds_bucket{le=\"0.005\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("enrolld_test_seconds_bucket{le=\"5\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("enrolld_test_seconds_bucket{le=\"+Inf\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("enrolld_test_seconds_count 3\n"));
  EXPECT_THAT(text, HasSubstr("enrolld_test_seconds_sum 10.0033\n"));
}

TEST(Metrics, GaugesAreReadWhenRendered) {
  Metrics metrics;
  int reads = 0;
  metrics.gauge("enrolld_test_backlog", "Waiting", [&reads] {
    ++reads;
    return std::vector<std::pair<MetricLabels, double>>{{{{"publisher", "ldap"}}, 4}, {{{"publisher", "dir"}}, 0}};
  });
  EXPECT_EQ(reads, 0);
  const std::string text = metrics.render();
  EXPECT_EQ(reads, 1);
  EXPECT_THAT(text, HasSubstr("# TYPE enrolld_test_backlog gauge\n"));
  EXPECT_THAT(text, HasSubstr("enrolld_test_backlog{publisher=\"ldap\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("enrolld_test_backlog{publisher=\"dir\"} 0\n"));
}

TEST(Metrics, ConcurrentUpdatesAreAllCounted) {
  Metrics metrics;
  Counter& counter = metrics.counter("enrolld_test_total", "Concurrent");
  Histogram& histogram = metrics.histogram("enrolld_test_seconds", "Concurrent");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10'000; ++i) {
        counter.add();
        histogram.observe(std::chrono::microseconds(i % 100));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(counter.value(), 40'000u);
  EXPECT_EQ(histogram.count(), 40'000u);
  EXPECT_EQ(histogram.cumulative(Histogram::kBounds.size()), 40'000u);
}

// Pool use: what is busy now and the most that were busy at once, from many threads.
TEST(Metrics, InUseCountsWhatIsBusyAndRemembersThePeak) {
  InUse in_use;
  {
    ScopedUse first(&in_use);
    ScopedUse second(&in_use);
    EXPECT_EQ(in_use.now(), 2);
  }
  EXPECT_EQ(in_use.now(), 0);
  EXPECT_EQ(in_use.peak(), 2);

  constexpr int kThreads = 4;
  std::atomic<int> inside{0};
  std::atomic<bool> all_in{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      ScopedUse use(&in_use);
      if (inside.fetch_add(1) + 1 == kThreads) all_in = true;
      for (int spin = 0; spin < 1'000'000 && !all_in; ++spin) std::this_thread::yield();
    });
  }
  for (auto& thread : threads) thread.join();
  ASSERT_TRUE(all_in) << "the threads never were inside at once";
  EXPECT_EQ(in_use.now(), 0);
  EXPECT_EQ(in_use.peak(), kThreads);
  ScopedUse nothing(nullptr);  // counts nothing, and does not crash
}

}  // namespace
}  // namespace enrolld
