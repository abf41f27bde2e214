// enroll-load: many concurrent, complete, real enrollments against a running enrolld (or any
// CMP/EST server), and what they cost: transactions per second, latency percentiles, errors by
// kind, the server's CPU per transaction, peak RSS and RSS before and after (with
// --server-pid), and the tool's own CPU per transaction. Human summary on stderr; one JSON line
// on stdout. Two scenarios are about the server's memory rather than its speed: open-txns
// (transactions left waiting for certConf) and rejects (requests it must refuse), both with
// RSS samples across the window.
//
// Phases, separated by barriers so that no transaction straddles a boundary:
//   prepare (connect, keys, first certificates) → warmup (--warmup s) → measured window
//   (--count and/or --duration) → report.

#include <csignal>
#include <cstdio>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cmath>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/load/http_client.h"
#include "bench/load/options.h"
#include "bench/load/process_stats.h"
#include "bench/load/worker.h"

namespace enrolld::load {
namespace {

using Clock = std::chrono::steady_clock;

std::atomic<bool> g_interrupted{false};

extern "C" void on_interrupt(int /*signal*/) {
  g_interrupted.store(true);
}

// The server's VmRSS before transaction `at` of the measured window (or after the window).
struct RssSample {
  std::uint64_t at = 0;
  std::uint64_t rss_kib = 0;
};

// What one worker thread saw in the measured window. Written by its thread only; read by main
// after join.
struct WorkerReport {
  std::vector<RssSample> rss_samples;
  std::vector<std::uint32_t> latencies_us;  // completed transactions only
  std::uint64_t errors = 0;
  std::uint64_t verified = 0;
  std::map<std::string, std::uint64_t> errors_by_kind;
  std::map<std::string, std::string> example_by_kind;
  std::optional<Failure> setup_failure;
  std::uint64_t warmup_done = 0;
};

// Shared by main and the workers. The barriers order every write by main before each phase
// against the workers' reads in it; the atomics are the only state changed inside a phase.
struct Run {
  const Options& options;
  std::barrier<> gate;
  std::atomic<bool> abort{false};
  std::atomic<std::uint64_t> next_index{0};
  Clock::time_point warmup_end;
  Clock::time_point deadline;
};

// The server's figures at one moment; `have_*` false when /proc could not tell (or no PID).
struct ServerSnapshot {
  bool have_cpu = false;
  CpuTimes cpu;
  bool have_memory = false;
  Memory memory;
};

ServerSnapshot snapshot_server(pid_t pid, bool with_memory) {
  ServerSnapshot s;
  if (pid <= 0) return s;
  if (auto cpu = process_cpu(pid)) {
    s.have_cpu = true;
    s.cpu = *cpu;
  }
  if (with_memory) {
    if (auto memory = process_memory(pid)) {
      s.have_memory = true;
      s.memory = *memory;
    }
  }
  return s;
}

double percentile(const std::vector<std::uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  // Nearest rank.
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size(), std::max<std::size_t>(rank, 1)) - 1] / 1000.0;
}

void work(Run& run, Worker& worker, WorkerReport& report) {
  const Options& o = run.options;
  if (auto ready = worker.prepare(); !ready) report.setup_failure = ready.error();
  run.gate.arrive_and_wait();  // 1: all prepared; main decides whether to go on
  run.gate.arrive_and_wait();  // 2: warmup_end set
  if (!run.abort.load() && !report.setup_failure) {
    // Warmup: bounded by its end time (and by kMaxDurationS through warmup_end).
    while (Clock::now() < run.warmup_end && !g_interrupted.load()) {
      (void)worker.warmup();
      ++report.warmup_done;
    }
  }
  run.gate.arrive_and_wait();  // 3: warmup over; main takes the start figures
  run.gate.arrive_and_wait();  // 4: deadline set, measuring
  if (run.abort.load() || report.setup_failure) return;
  report.latencies_us.reserve(o.count > 0 ? o.count / static_cast<std::uint64_t>(o.threads) + 16 : 1 << 16);
  for (;;) {
    if (g_interrupted.load() || Clock::now() >= run.deadline) break;
    const std::uint64_t index = run.next_index.fetch_add(1);
    if (o.count > 0 && index >= o.count) break;
    if (o.rss_every > 0 && o.server_pid > 0 && index % o.rss_every == 0) {
      if (auto memory = process_memory(o.server_pid)) report.rss_samples.push_back({index, memory->current_kib});
    }
    const bool verify = o.verify_every > 0 && index % o.verify_every == 0;
    const auto start = Clock::now();
    auto done = worker.enroll(verify);
    const auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
    if (done) {
      report.latencies_us.push_back(static_cast<std::uint32_t>(std::min<long long>(elapsed, UINT32_MAX)));
      if (verify) ++report.verified;
    } else {
      ++report.errors;
      auto& n = report.errors_by_kind[done.error().kind];
      if (n++ == 0) report.example_by_kind[done.error().kind] = done.error().detail;
      // A server that is not (or no longer) listening: do not spin on refused connections.
      if (done.error().kind == "transport.connect") std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
}

// The server's CMP and HTTP counters (enrolld_cmp_messages_total, enrolld_http_responses_total)
// from its Prometheus text, by series (name{labels}); nullopt when they cannot be read.
std::optional<std::map<std::string, double>> read_counters(const Options& o) {
  if (o.metrics_url.empty()) return std::nullopt;
  auto url = parse_url(o.metrics_url);
  if (!url) return std::nullopt;
  HttpConnection http(*url, nullptr, std::chrono::milliseconds(o.timeout_ms));
  auto response = http.get(false);
  if (!response || (*response)->status != 200) return std::nullopt;
  std::map<std::string, double> counters;
  std::istringstream lines((*response)->body);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("enrolld_cmp_messages_total") && !line.starts_with("enrolld_http_responses_total")) continue;
    // Not the reads of this function itself.
    if (line.find("route=\"/metrics\"") != std::string::npos) continue;
    const auto space = line.rfind(' ');
    if (space == std::string::npos) continue;
    try {
      counters[line.substr(0, space)] = std::stod(line.substr(space + 1));
    } catch (const std::exception&) {
      // Not a number: not a counter line after all.
    }
  }
  return counters;
}

std::unique_ptr<Worker> make_worker(const Options& o, int index) {
  if (o.scenario == Scenario::kRejects) return make_reject_worker(o, index);
  return is_cmp(o.scenario) ? make_cmp_worker(o, index) : make_est_worker(o, index);
}

int run_load(const Options& o) {
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < o.threads; ++i) workers.push_back(make_worker(o, i));
  std::vector<WorkerReport> reports(static_cast<std::size_t>(o.threads));
  Run run{o, std::barrier<>(o.threads + 1), {}, {}, {}, {}};
  std::vector<std::thread> threads;
  for (int i = 0; i < o.threads; ++i) {
    threads.emplace_back([&run, &workers, &reports, i] {
      work(run, *workers[static_cast<std::size_t>(i)], reports[static_cast<std::size_t>(i)]);
    });
  }
  const auto prepare_start = Clock::now();
  run.gate.arrive_and_wait();  // 1
  const double prepare_s = std::chrono::duration<double>(Clock::now() - prepare_start).count();
  for (const auto& r : reports) {
    if (r.setup_failure) {
      std::cerr << "enroll-load: preparing a worker failed: " << r.setup_failure->kind << ": "
                << r.setup_failure->detail << "\n";
      run.abort.store(true);
      break;
    }
  }
  run.warmup_end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(std::min(o.warmup_s, kMaxDurationS)));
  run.gate.arrive_and_wait();  // 2
  run.gate.arrive_and_wait();  // 3
  // The workers wait at barrier 4 now: their connection counters stand still.
  std::uint64_t connects_before = 0;
  for (const auto& w : workers) connects_before += w->connects();
  const ServerSnapshot server_start = snapshot_server(o.server_pid, true);
  const auto counters_start = read_counters(o);
  const CpuTimes own_start = own_cpu();
  const auto start = Clock::now();
  const double window = o.duration_s > 0 ? o.duration_s : kCountOnlyDeadlineS;
  run.deadline = start + std::chrono::duration_cast<Clock::duration>(
                             std::chrono::duration<double>(std::min(window, kMaxDurationS)));
  run.gate.arrive_and_wait();  // 4
  for (auto& t : threads) t.join();
  const double elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  const CpuTimes own_end = own_cpu();
  const ServerSnapshot server_end = snapshot_server(o.server_pid, true);
  if (run.abort.load()) return 2;
  // A scrape, as a monitoring system makes them: before the hold, whose samples then include
  // what reading the metrics cost the server.
  const auto counters_end = read_counters(o);
  std::vector<std::uint64_t> hold_samples;
  if (o.hold_s > 0 && o.server_pid > 0) {
    const auto hold_end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(std::min(o.hold_s, kMaxDurationS)));
    while (Clock::now() < hold_end && !g_interrupted.load()) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      if (auto memory = process_memory(o.server_pid)) hold_samples.push_back(memory->current_kib);
    }
  }
  // After the server figures: the probe closes the transactions it confirms.
  HeldProbe held;
  if (o.scenario == Scenario::kOpenTxns) {
    for (auto& w : workers) {
      const HeldProbe p = w->probe_held();
      held.held += p.held;
      held.probed += p.probed;
      held.confirmed += p.confirmed;
      if (held.failure.empty()) held.failure = p.failure;
    }
  }

  std::vector<std::uint32_t> latencies;
  std::uint64_t errors = 0;
  std::uint64_t verified = 0;
  std::uint64_t connects = 0;
  std::uint64_t warmup = 0;
  std::map<std::string, std::uint64_t> by_kind;
  std::map<std::string, std::string> examples;
  std::map<std::string, std::uint64_t> tallies;
  std::vector<RssSample> samples;
  for (std::size_t i = 0; i < reports.size(); ++i) {
    const auto& r = reports[i];
    latencies.insert(latencies.end(), r.latencies_us.begin(), r.latencies_us.end());
    errors += r.errors;
    verified += r.verified;
    warmup += r.warmup_done;
    connects += workers[i]->connects();
    for (const auto& [kind, n] : r.errors_by_kind) by_kind[kind] += n;
    for (const auto& [kind, text] : r.example_by_kind) examples.emplace(kind, text);
    for (const auto& [kind, n] : workers[i]->tallies()) tallies[kind] += n;
    samples.insert(samples.end(), r.rss_samples.begin(), r.rss_samples.end());
  }
  std::sort(samples.begin(), samples.end(), [](const RssSample& a, const RssSample& b) { return a.at < b.at; });
  if (o.rss_every > 0 && server_end.have_memory) samples.push_back({0, server_end.memory.current_kib});
  std::sort(latencies.begin(), latencies.end());
  const auto completed = static_cast<std::uint64_t>(latencies.size());
  // The last sample is the one after the window: after every transaction.
  if (o.rss_every > 0 && server_end.have_memory) samples.back().at = completed + errors;
  const double tx_per_s = elapsed_s > 0 ? static_cast<double>(completed) / elapsed_s : 0;
  double mean_ms = 0;
  for (const auto v : latencies) mean_ms += v / 1000.0;
  if (completed > 0) mean_ms /= static_cast<double>(completed);
  const double own_ms = own_end.total_ms() - own_start.total_ms();
  auto per_tx = [completed](double ms) { return completed > 0 ? ms / static_cast<double>(completed) : 0.0; };
  auto round3 = [](double v) { return std::round(v * 1000) / 1000; };

  nlohmann::json out;
  out["tool"] = "enroll-load";
  out["scenario"] = std::string(to_string(o.scenario));
  if (!o.label.empty()) out["label"] = o.label;
  out["threads"] = o.threads;
  out["window_s"] = round3(elapsed_s);
  out["prepare_s"] = round3(prepare_s);
  out["warmup_tx"] = warmup;
  out["completed"] = completed;
  out["errors"] = errors;
  out["errors_by_kind"] = by_kind;
  out["verified"] = verified;
  out["tx_per_s"] = round3(tx_per_s);
  out["latency_ms"] = {{"p50", round3(percentile(latencies, 50))},
                       {"p90", round3(percentile(latencies, 90))},
                       {"p99", round3(percentile(latencies, 99))},
                       {"max", round3(latencies.empty() ? 0 : latencies.back() / 1000.0)},
                       {"mean", round3(mean_ms)}};
  out["connections"] = connects - connects_before;
  out["client"] = {{"cpu_ms", round3(own_ms)}, {"cpu_ms_per_tx", round3(per_tx(own_ms))}};
  if (o.server_pid > 0) {
    nlohmann::json server{{"pid", o.server_pid}};
    if (server_start.have_cpu && server_end.have_cpu) {
      const double ms = server_end.cpu.total_ms() - server_start.cpu.total_ms();
      server["cpu_ms"] = round3(ms);
      server["user_ms"] = round3(server_end.cpu.user_ms - server_start.cpu.user_ms);
      server["system_ms"] = round3(server_end.cpu.system_ms - server_start.cpu.system_ms);
      server["cpu_ms_per_tx"] = round3(per_tx(ms));
      server["cpu_cores_busy"] = round3(elapsed_s > 0 ? ms / 1000.0 / elapsed_s : 0);
    }
    if (server_end.have_memory) {
      server["peak_rss_kib"] = server_end.memory.peak_kib;
      server["rss_kib"] = server_end.memory.current_kib;
      server["rss_kib_after"] = server_end.memory.current_kib;
    }
    if (server_start.have_memory) server["rss_kib_before"] = server_start.memory.current_kib;
    if (server_start.have_memory && server_end.have_memory) {
      server["rss_growth_kib"] = static_cast<std::int64_t>(server_end.memory.current_kib) -
                                 static_cast<std::int64_t>(server_start.memory.current_kib);
    }
    if (!samples.empty()) {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& sample : samples) list.push_back({{"at", sample.at}, {"rss_kib", sample.rss_kib}});
      server["rss_samples"] = list;
      server["rss_samples_growth_kib"] =
          static_cast<std::int64_t>(samples.back().rss_kib) - static_cast<std::int64_t>(samples.front().rss_kib);
    }
    if (!hold_samples.empty()) {
      server["rss_hold_samples_kib"] = hold_samples;
      server["rss_kib_hold_max"] = *std::max_element(hold_samples.begin(), hold_samples.end());
      server["rss_kib_hold_last"] = hold_samples.back();
    }
    out["server"] = server;
  }
  if (counters_start && counters_end) {
    nlohmann::json delta = nlohmann::json::object();
    for (const auto& [series, value] : *counters_end) {
      const auto before = counters_start->find(series);
      const double change = value - (before == counters_start->end() ? 0.0 : before->second);
      if (change != 0) delta[series] = change;
    }
    out["server_counters"] = delta;
  }
  if (!tallies.empty()) out["rejected_as"] = tallies;
  if (o.scenario == Scenario::kOpenTxns) {
    out["open_txns"] = {{"held", held.held}, {"probed", held.probed}, {"confirmed", held.confirmed}};
    if (!held.failure.empty()) out["open_txns"]["probe_failure"] = held.failure;
  }
  if (g_interrupted.load()) out["interrupted"] = true;

  // The human summary.
  std::fprintf(stderr, "enroll-load %s: %d threads, %.2f s measured (after %llu warmup tx)\n",
               std::string(to_string(o.scenario)).c_str(), o.threads, elapsed_s,
               static_cast<unsigned long long>(warmup));
  std::fprintf(stderr, "  completed %llu, errors %llu, verified %llu, %.1f tx/s, %llu connections\n",
               static_cast<unsigned long long>(completed), static_cast<unsigned long long>(errors),
               static_cast<unsigned long long>(verified), tx_per_s,
               static_cast<unsigned long long>(connects - connects_before));
  std::fprintf(stderr, "  latency ms: p50 %.3f  p90 %.3f  p99 %.3f  max %.3f  mean %.3f\n", percentile(latencies, 50),
               percentile(latencies, 90), percentile(latencies, 99), latencies.empty() ? 0 : latencies.back() / 1000.0,
               mean_ms);
  std::fprintf(stderr, "  load tool CPU: %.3f ms/tx\n", per_tx(own_ms));
  if (out.contains("server")) {
    const auto& s = out["server"];
    if (s.contains("cpu_ms_per_tx")) {
      std::fprintf(stderr, "  server CPU: %.3f ms/tx (%.1f ms over the window, %.2f cores busy)\n",
                   s["cpu_ms_per_tx"].get<double>(), s["cpu_ms"].get<double>(), s["cpu_cores_busy"].get<double>());
    }
    if (s.contains("peak_rss_kib")) {
      std::fprintf(stderr, "  server peak RSS (VmHWM): %.1f MiB\n",
                   static_cast<double>(server_end.memory.peak_kib) / 1024);
    }
    if (s.contains("rss_growth_kib")) {
      std::fprintf(stderr, "  server RSS (VmRSS): %.1f MiB before the window, %.1f MiB after (%+.1f MiB)\n",
                   static_cast<double>(server_start.memory.current_kib) / 1024,
                   static_cast<double>(server_end.memory.current_kib) / 1024,
                   static_cast<double>(s["rss_growth_kib"].get<std::int64_t>()) / 1024);
    }
    if (!samples.empty()) {
      std::string text;
      for (const auto& sample : samples) {
        char item[64];
        std::snprintf(item, sizeof item, " %.1f@%llu", static_cast<double>(sample.rss_kib) / 1024,
                      static_cast<unsigned long long>(sample.at));
        text += item;
      }
      std::fprintf(stderr, "  server RSS samples (MiB@transaction):%s; %+.1f MiB first to last\n", text.c_str(),
                   static_cast<double>(s["rss_samples_growth_kib"].get<std::int64_t>()) / 1024);
    }
  }
  if (!hold_samples.empty()) {
    std::fprintf(stderr, "  server RSS over %zu s after the window: max %.1f MiB, last %.1f MiB\n", hold_samples.size(),
                 static_cast<double>(*std::max_element(hold_samples.begin(), hold_samples.end())) / 1024,
                 static_cast<double>(hold_samples.back()) / 1024);
  }
  if (out.contains("server_counters")) {
    for (const auto& [series, change] : out["server_counters"].items()) {
      std::fprintf(stderr, "  server counter %s +%.0f\n", series.c_str(), change.get<double>());
    }
  }
  for (const auto& [kind, n] : tallies) {
    std::fprintf(stderr, "  rejected as %s x%llu\n", kind.c_str(), static_cast<unsigned long long>(n));
  }
  bool probe_failed = false;
  if (o.scenario == Scenario::kOpenTxns) {
    probe_failed = held.confirmed < held.probed;
    std::fprintf(stderr,
                 "  open transactions: %llu left waiting for certConf; afterwards %llu of %llu held certConfs "
                 "answered with pkiConf (still open)%s%s\n",
                 static_cast<unsigned long long>(held.held), static_cast<unsigned long long>(held.confirmed),
                 static_cast<unsigned long long>(held.probed),
                 held.failure.empty() ? "" : "; not confirmed: ", held.failure.substr(0, 300).c_str());
  }
  for (const auto& [kind, n] : by_kind) {
    std::fprintf(stderr, "  error %s x%llu, e.g.: %s\n", kind.c_str(), static_cast<unsigned long long>(n),
                 examples[kind].substr(0, 300).c_str());
  }
  std::cout << out.dump() << std::endl;
  return errors == 0 && !probe_failed ? 0 : 1;
}

}  // namespace
}  // namespace enrolld::load

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGINT, enrolld::load::on_interrupt);
  std::signal(SIGTERM, enrolld::load::on_interrupt);
  auto options = enrolld::load::parse_options(argc, argv);
  if (!options) {
    if (options.error().kind == "usage.help") {
      std::cout << options.error().detail;
      return 0;
    }
    std::cerr << "enroll-load: " << options.error().detail << "\n";
    return 2;
  }
  try {
    return enrolld::load::run_load(*options);
  } catch (const std::exception& e) {
    std::cerr << "enroll-load: " << e.what() << "\n";
    return 2;
  }
}
