#pragma once
// Operational metrics in the Prometheus text exposition format (version 0.0.4): counters and
// histograms that the code updates as it works, and gauges computed when scraped. One registry
// is made by the composition root and handed to what reports into it; nothing is global.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace enrolld {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// Thread-safety: add() from any thread, lock-free.
class Counter {
 public:
  void add(std::uint64_t n = 1) { m_value.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return m_value.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> m_value{0};
};

// Durations in fixed buckets (upper bounds in seconds). Thread-safety: observe() from any
// thread, lock-free.
class Histogram {
 public:
  static constexpr std::array<double, 12> kBounds = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02,
                                                     0.05,   0.1,   0.2,   0.5,   1.0,  5.0};
  void observe(std::chrono::nanoseconds duration);
  // Cumulative count of observations up to and including bucket `i` (kBounds.size(): +Inf).
  std::uint64_t cumulative(std::size_t i) const;
  std::uint64_t count() const { return m_count.load(std::memory_order_relaxed); }
  double sum_seconds() const { return static_cast<double>(m_sum_ns.load(std::memory_order_relaxed)) / 1e9; }

 private:
  std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> m_buckets{};  // not cumulative
  std::atomic<std::uint64_t> m_count{0};
  std::atomic<std::uint64_t> m_sum_ns{0};
};

// Measures from construction to destruction into a histogram (none when null).
class ScopedTimer {
 public:
  explicit ScopedTimer(Histogram* histogram) : m_histogram(histogram), m_start(std::chrono::steady_clock::now()) {}
  ~ScopedTimer() {
    if (m_histogram != nullptr) m_histogram->observe(std::chrono::steady_clock::now() - m_start);
  }
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;

 private:
  Histogram* m_histogram;
  std::chrono::steady_clock::time_point m_start;
};

// How many of something are busy right now, and the most that were at once (HSM sessions
// signing: how much of libp11's session pool is used). Thread-safety: lock-free.
class InUse {
 public:
  void enter() {
    const std::int64_t now = m_now.fetch_add(1, std::memory_order_relaxed) + 1;
    std::int64_t peak = m_peak.load(std::memory_order_relaxed);
    while (now > peak && !m_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
  }
  void leave() { m_now.fetch_sub(1, std::memory_order_relaxed); }
  std::int64_t now() const { return m_now.load(std::memory_order_relaxed); }
  std::int64_t peak() const { return m_peak.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> m_now{0};
  std::atomic<std::int64_t> m_peak{0};
};

// Counts itself in `in_use` while it lives; null counts nothing.
class ScopedUse {
 public:
  explicit ScopedUse(InUse* in_use) : m_in_use(in_use) {
    if (m_in_use != nullptr) m_in_use->enter();
  }
  ~ScopedUse() {
    if (m_in_use != nullptr) m_in_use->leave();
  }
  ScopedUse(const ScopedUse&) = delete;
  ScopedUse& operator=(const ScopedUse&) = delete;

 private:
  InUse* m_in_use;
};

// Thread-safety: registering and rendering take a mutex; the metrics they return are used
// without one and live as long as the registry.
class Metrics {
 public:
  // The counter `name` with `labels`, made on first use. `help` is kept from the first call.
  Counter& counter(const std::string& name, const std::string& help, const MetricLabels& labels = {});
  Histogram& histogram(const std::string& name, const std::string& help, const MetricLabels& labels = {});
  // A gauge computed when scraped: `read` returns one value per label set (empty when unknown).
  using Readings = std::vector<std::pair<MetricLabels, double>>;
  using GaugeReader = std::function<Readings()>;
  void gauge(const std::string& name, const std::string& help, GaugeReader read);

  // Everything in the Prometheus text format, families in name order.
  std::string render() const;

 private:
  struct Family {
    std::string help;
    std::string type;  // "counter", "histogram", "gauge"
    std::map<MetricLabels, std::unique_ptr<Counter>> counters;
    std::map<MetricLabels, std::unique_ptr<Histogram>> histograms;
    GaugeReader gauge;
  };
  Family& family(const std::string& name, const std::string& help, const char* type);

  mutable std::mutex m_mutex;
  std::map<std::string, Family> m_families;
};

}  // namespace enrolld
