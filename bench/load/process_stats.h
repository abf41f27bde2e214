#pragma once
// CPU time and memory of processes, read from the kernel: the server's (by PID, from /proc) and
// the load tool's own (getrusage). Plain functions; nothing is cached or shared.

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace enrolld::load {

struct CpuTimes {
  double user_ms = 0;
  double system_ms = 0;
  double total_ms() const { return user_ms + system_ms; }
};

// utime+stime of process `pid` (all its threads, live and exited) from /proc/PID/stat; nullopt
// if the process is gone or the file cannot be read. Resolution: one clock tick (10 ms).
std::optional<CpuTimes> process_cpu(pid_t pid);

// VmHWM (peak resident set since the process started) and VmRSS of `pid`, in KiB, from
// /proc/PID/status; nullopt if unreadable.
struct Memory {
  std::uint64_t peak_kib = 0;
  std::uint64_t current_kib = 0;
};
std::optional<Memory> process_memory(pid_t pid);

// This process's user and system CPU so far (getrusage RUSAGE_SELF, microsecond resolution).
CpuTimes own_cpu();

}  // namespace enrolld::load
