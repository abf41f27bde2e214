#include "common/metrics.h"

#include <algorithm>
#include <cstdio>

namespace enrolld {

namespace {

// Label values escaped as the text format wants: backslash, double quote and line feed.
std::string escaped(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string label_text(const MetricLabels& labels, const std::string& extra = "") {
  std::string out;
  for (const auto& [key, value] : labels) {
    out += (out.empty() ? "" : ",") + key + "=\"" + escaped(value) + "\"";
  }
  if (!extra.empty()) out += (out.empty() ? "" : ",") + extra;
  return out.empty() ? "" : "{" + out + "}";
}

std::string number(double value) {
  char text[64];
  std::snprintf(text, sizeof text, "%.9g", value);
  return text;
}

}  // namespace

void Histogram::observe(std::chrono::nanoseconds duration) {
  const double seconds = std::chrono::duration<double>(duration).count();
  const auto bucket = static_cast<std::size_t>(std::lower_bound(kBounds.begin(), kBounds.end(), seconds) -
                                               kBounds.begin());  // kBounds.size(): +Inf
  m_buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  m_count.fetch_add(1, std::memory_order_relaxed);
  m_sum_ns.fetch_add(static_cast<std::uint64_t>(std::max<std::int64_t>(duration.count(), 0)),
                     std::memory_order_relaxed);
}

std::uint64_t Histogram::cumulative(std::size_t i) const {
  std::uint64_t total = 0;
  for (std::size_t b = 0; b <= i && b < m_buckets.size(); ++b) total += m_buckets[b].load(std::memory_order_relaxed);
  return total;
}

Metrics::Family& Metrics::family(const std::string& name, const std::string& help, const char* type) {
  Family& f = m_families[name];
  if (f.type.empty()) {
    f.help = help;
    f.type = type;
  }
  return f;
}

Counter& Metrics::counter(const std::string& name, const std::string& help, const MetricLabels& labels) {
  std::lock_guard lock(m_mutex);
  auto& slot = family(name, help, "counter").counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Histogram& Metrics::histogram(const std::string& name, const std::string& help, const MetricLabels& labels) {
  std::lock_guard lock(m_mutex);
  auto& slot = family(name, help, "histogram").histograms[labels];
  if (!slot) slot = std::make_unique<Histogram>();
  return *slot;
}

void Metrics::gauge(const std::string& name, const std::string& help, GaugeReader read) {
  std::lock_guard lock(m_mutex);
  family(name, help, "gauge").gauge = std::move(read);
}

std::string Metrics::render() const {
  std::lock_guard lock(m_mutex);
  std::string out;
  for (const auto& [name, f] : m_families) {
    out += "# HELP " + name + " " + f.help + "\n# TYPE " + name + " " + f.type + "\n";
    for (const auto& [labels, counter] : f.counters) {
      out += name + label_text(labels) + " " + std::to_string(counter->value()) + "\n";
    }
    for (const auto& [labels, histogram] : f.histograms) {
      for (std::size_t i = 0; i <= Histogram::kBounds.size(); ++i) {
        const std::string le = i < Histogram::kBounds.size() ? number(Histogram::kBounds[i]) : "+Inf";
        out += name + "_bucket" + label_text(labels, "le=\"" + le + "\"") + " " +
               std::to_string(histogram->cumulative(i)) + "\n";
      }
      out += name + "_sum" + label_text(labels) + " " + number(histogram->sum_seconds()) + "\n";
      out += name + "_count" + label_text(labels) + " " + std::to_string(histogram->count()) + "\n";
    }
    if (f.gauge) {
      for (const auto& [labels, value] : f.gauge()) out += name + label_text(labels) + " " + number(value) + "\n";
    }
  }
  return out;
}

}  // namespace enrolld
