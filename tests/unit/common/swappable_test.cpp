#include "common/swappable.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace enrolld {
namespace {

TEST(Swappable, AReaderKeepsTheValueItTookAcrossAReplace) {
  Swappable<std::vector<int>> value(std::vector<int>{1, 2, 3});
  const auto taken = value.get();
  value.replace({4});
  EXPECT_EQ(*taken, (std::vector<int>{1, 2, 3})) << "a request in flight keeps its snapshot";
  EXPECT_EQ(*value.get(), (std::vector<int>{4})) << "the next reader gets the new value";
}

// Readers racing a writer see one whole value or the other, never a mix (run under TSan too).
TEST(Swappable, ConcurrentReadersSeeWholeValuesOnly) {
  constexpr int kSize = 64;
  Swappable<std::vector<int>> value(std::vector<int>(kSize, 0));
  std::atomic<bool> done{false};
  std::atomic<int> mixed{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      while (!done.load()) {
        const auto seen = value.get();
        for (int v : *seen) {
          if (v != seen->front()) mixed.fetch_add(1);
        }
      }
    });
  }
  for (int generation = 1; generation <= 2000; ++generation) value.replace(std::vector<int>(kSize, generation));
  done.store(true);
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(mixed.load(), 0);
  EXPECT_EQ(value.get()->front(), 2000);
}

}  // namespace
}  // namespace enrolld
