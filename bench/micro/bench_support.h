#pragma once
// What the micro benchmark files share: one SoftHSM token for the whole run and a CA whose keys
// live in it, and how a benchmark reports time per record. Set-up is not what is measured.

#include <benchmark/benchmark.h>

#include <cstdint>

#include "support/softhsm_fixture.h"

namespace enrolld::bench {

// The run's one token, with P-256 keys "root" and "issuing" and an RSA-2048 key "rsa". One
// for all files: two libp11 contexts on one module would finalise each other. Made on first
// use (thread-safe), destroyed at exit after everything made from it later.
testing::SoftHsmToken& shared_token();

// A root and an issuing CA with their keys in shared_token(), made on first use.
testing::TestCa& shared_ca();

// Reports `records` handled by this thread in this run: items_per_second, and `per_record`,
// the seconds per record over all threads (Google Benchmark sums the threads' counts and
// divides by the run's time: wall time with UseRealTime). Printed with an SI prefix:
// per_record=1.5m is 1.5 ms.
inline void report_records(benchmark::State& state, double records) {
  state.SetItemsProcessed(static_cast<std::int64_t>(records));
  state.counters["per_record"] = benchmark::Counter(records, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

}  // namespace enrolld::bench
