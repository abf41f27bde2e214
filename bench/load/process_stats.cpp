#include "bench/load/process_stats.h"

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace enrolld::load {

std::optional<CpuTimes> process_cpu(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return std::nullopt;
  // The command name (field 2) is in parentheses and may hold blanks: count from the last ')'.
  const auto close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(close + 2));
  // Fields from 3 (state) on; utime and stime are fields 14 and 15.
  std::string skip;
  for (int field = 3; field < 14; ++field) fields >> skip;
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  if (!(fields >> utime >> stime)) return std::nullopt;
  const double ms_per_tick = 1000.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
  return CpuTimes{static_cast<double>(utime) * ms_per_tick, static_cast<double>(stime) * ms_per_tick};
}

std::optional<Memory> process_memory(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  if (!in) return std::nullopt;
  Memory memory;
  bool found = false;
  for (std::string line; std::getline(in, line);) {
    auto value = [&line] { return std::stoull(line.substr(line.find(':') + 1)); };
    if (line.starts_with("VmHWM:")) {
      memory.peak_kib = value();
      found = true;
    } else if (line.starts_with("VmRSS:")) {
      memory.current_kib = value();
    }
  }
  if (!found) return std::nullopt;
  return memory;
}

CpuTimes own_cpu() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto ms = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) * 1e3 + static_cast<double>(tv.tv_usec) / 1e3;
  };
  return CpuTimes{ms(usage.ru_utime), ms(usage.ru_stime)};
}

}  // namespace enrolld::load
