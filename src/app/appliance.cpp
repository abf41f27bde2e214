#include "app/appliance.h"

#include "app/core.h"

#include <signal.h>

#include <cstdlib>

#include "common/log.h"
#include "protocols/cmp/http_binding.h"
#include "protocols/http/http_server.h"

namespace enrolld::app {

namespace {

int wait_for_termination() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int signal = 0;
  sigwait(&set, &signal);
  return signal;
}

int report(const Error& error) {
  spdlog::error("start-up failed: {} ({})", error.message, to_string(error.code));
  return 1;
}

}  // namespace

void block_termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int run(const Config& config, const RunOptions& options) {
  auto core = Core::build(config);
  if (!core) return report(core.error());

  http::ServerOptions http_options;
  http_options.bind_address = config.listen;
  http_options.port = options.http_port.value_or(config.http_port);
  http_options.threads = config.threads;
  http_options.max_body_bytes = config.max_body_bytes;
  auto server = http::HttpServer::start(http_options, cmp::http_routes((*core)->cmp()));
  if (!server) return report(server.error());

  spdlog::info("enrolld serving: ca=\"{}\" http={}:{} store={}", (*core)->ca_name(), config.listen, (*server)->port(),
               config.store_path.string());
  if (options.on_listening) options.on_listening(Listening{(*server)->port()});
  const int signal = wait_for_termination();
  spdlog::info("signal {} received: finishing requests in flight", signal);
  (*server)->stop();
  spdlog::info("enrolld stopped");
  return 0;
}

}  // namespace enrolld::app
