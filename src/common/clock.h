#pragma once
#include <chrono>
#include <functional>

namespace enrolld {

// Wall-clock time, injected so that tests can move it (deadlines, message times, validity).
using Clock = std::function<std::chrono::system_clock::time_point()>;

inline Clock system_clock() {
  return [] { return std::chrono::system_clock::now(); };
}

}  // namespace enrolld
