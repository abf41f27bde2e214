#pragma once
// The composition root: builds every module from the configuration, serves until SIGTERM or
// SIGINT, then drains requests in flight. SIGHUP reloads the configuration file (see
// Core::reload for what changes). Under systemd (Type=notify) it reports READY=1 once serving,
// RELOADING=1 and READY=1 around a reload, and STOPPING=1 before draining.

#include <cstdint>
#include <functional>
#include <optional>

#include "app/config.h"

namespace enrolld::app {

struct Listening {
  std::uint16_t http_port = 0;
  std::uint16_t admin_port = 0;  // 0: no admin listener ([admin] token_file not set)
  std::uint16_t est_port = 0;    // 0: no EST listener ([est] has no TLS credential)
};

struct RunOptions {
  std::optional<std::uint16_t> http_port;              // overrides [server] http_port
  std::optional<std::uint16_t> admin_port;             // overrides [admin] port
  std::optional<std::uint16_t> est_port;               // overrides [est] port
  std::function<void(const Listening&)> on_listening;  // called once serving
};

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (run() waits for them) and ignores
// SIGPIPE; call before any other thread starts.
void prepare_signals();

// Runs the appliance. Returns the process exit status: 0 after a clean shutdown, 1 if
// start-up failed (the reason is logged).
int run(const Config& config, const RunOptions& options);

}  // namespace enrolld::app
