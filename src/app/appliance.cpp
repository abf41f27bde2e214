#include "app/appliance.h"

#include "app/core.h"

#include <signal.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <sstream>

#include <openssl/crypto.h>
#include <thread>

#include "common/log.h"
#include "protocols/admin/admin_routes.h"
#include "protocols/cmp/http_binding.h"
#include "protocols/http/http_server.h"
#include "protocols/repository/repository_routes.h"

namespace enrolld::app {

namespace {

// The signals the main thread waits for; prepare_signals() blocks them in every thread.
sigset_t handled_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

// Tells systemd (Type=notify) how the service is doing. Without NOTIFY_SOCKET, i.e. outside
// systemd, sd_notify does nothing.
void notify(const std::string& state) {
  if (const int rc = ::sd_notify(0, state.c_str()); rc < 0) {
    spdlog::warn("cannot notify systemd: {}", std::strerror(-rc));
  }
}

// systemd >= 253 (Type=notify-reload) wants the CLOCK_MONOTONIC time with RELOADING=1; older
// ones ignore the field, so it is always sent.
std::string reloading_state() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const long long micros = static_cast<long long>(now.tv_sec) * 1'000'000 + now.tv_nsec / 1000;
  return "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(micros) + "\nSTATUS=reloading the configuration";
}

// SIGHUP: re-reads the configuration file and swaps in what can change while serving. A file
// that does not load, or names a file that cannot be read, is refused as a whole: the old
// settings stay. Settings that need a restart keep their running values. Returns the status
// line for systemd.
std::string reload(const Config& running, Core& core) {
  auto fresh = load_config(running.file);
  if (!fresh) {
    spdlog::error("reload refused: {}", fresh.error().message);
    return "serving; reload refused (see the log)";
  }
  if (auto fixed = restart_only_changes(running, *fresh); !fixed.empty()) {
    std::string names;
    for (const auto& name : fixed) names += (names.empty() ? "" : ",") + name;
    spdlog::warn("reload: changed settings that take effect only after a restart, running values kept: {}", names);
  }
  auto reloaded = core.reload(*fresh);
  if (!reloaded) {
    spdlog::error("reload refused: {}", reloaded.error().message);
    return "serving; reload refused (see the log)";
  }
  spdlog::info("reload ok profiles={} credentials={} anchors={} ras={}", reloaded->profiles, reloaded->credentials,
               reloaded->anchors, reloaded->ras);
  return "serving; configuration reloaded";
}

// Serves until SIGTERM or SIGINT, which it returns; every SIGHUP in between is a reload.
// `running`: the configuration the appliance started with (what needs a restart stays so).
int serve_until_terminated(const Config& running, Core& core) {
  const sigset_t set = handled_signals();
  for (;;) {
    int signal = 0;
    if (::sigwait(&set, &signal) != 0 || signal != SIGHUP) return signal;
    spdlog::info("signal {} received: reloading {}", signal, running.file.string());
    notify(reloading_state());
    const std::string status = reload(running, core);
    notify("READY=1\nSTATUS=" + status);
  }
}

int report(const Error& error) {
  spdlog::error("start-up failed: {} ({})", error.message, to_string(error.code));
  return 1;
}

constexpr std::size_t kMinTokenLength = 16;

Result<std::string> read_admin_token(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string token;
  if (!in || !std::getline(in, token))
    return fail(ErrorCode::kConfigInvalid, "cannot read admin token " + file.string());
  token.erase(token.find_last_not_of(" \t\r") + 1);
  if (token.size() < kMinTokenLength) {
    return fail(ErrorCode::kConfigInvalid, "admin token in " + file.string() + " is shorter than 16 characters");
  }
  return token;
}

// Runs `work` every `interval` on a thread of its own until destroyed.
class Periodic {
 public:
  Periodic(std::chrono::seconds interval, std::function<void()> work)
      : m_thread([interval, work = std::move(work)](std::stop_token stop) { run(interval, work, stop); }) {}

 private:
  static void run(std::chrono::seconds interval, const std::function<void()>& work, std::stop_token stop) {
    std::mutex mutex;
    std::condition_variable_any wake;
    std::unique_lock lock(mutex);
    for (;;) {
      wake.wait_for(lock, stop, interval, [] { return false; });  // wakes early only when stopped
      if (stop.stop_requested()) return;
      work();
    }
  }
  std::jthread m_thread;  // asked to stop and joined when destroyed
};

// Expires overdue transactions, so that an unconfirmed certificate is revoked on time even if
// its requester never comes back, and signs the CRLs the schedule asks for, so that they are
// current (and on their way to the publishers) before anybody fetches them.
void sweep(Core& core) {
  auto expired = core.expire_overdue();
  if (!expired) spdlog::error("deadline sweep failed: {}", expired.error().message);
  if (expired && *expired > 0) spdlog::info("deadline sweep expired {} transaction(s)", *expired);
  // With publishers, their thread keeps the CRLs current every second.
  if (core.has_publishers()) return;
  if (auto crls = core.refresh_crls(); !crls) spdlog::error("scheduled CRL signing failed: {}", crls.error().message);
}

// Signs the CRL a revocation made due, and hands the publishers what the outbox holds; a
// publisher that is down waits out its back-off.
void publish(Core& core) {
  if (auto crls = core.refresh_crls(); !crls) spdlog::error("CRL signing failed: {}", crls.error().message);
  if (auto published = core.publish_outbox(); !published) {
    spdlog::error("publishing failed: {}", published.error().message);
  }
}

constexpr std::chrono::seconds kPublishInterval{1};  // how late a publisher learns of a change

// Often enough that a deadline is kept within a quarter of the confirmation wait.
std::chrono::seconds sweep_interval(const Config& config) {
  return std::chrono::seconds(std::clamp(config.confirm_wait_seconds / 4, 1u, 30u));
}

Result<std::unique_ptr<http::HttpServer>> start_admin(const Config& config, const RunOptions& options, Core& core) {
  if (!config.admin_token_file) return std::unique_ptr<http::HttpServer>();
  auto token = read_admin_token(*config.admin_token_file);
  if (!token) return tl::unexpected(token.error());
  http::ServerOptions admin;
  admin.bind_address = config.admin_listen;
  admin.port = options.admin_port.value_or(config.admin_port);
  admin.threads = 2;  // an operator's occasional request; libmicrohttpd wants a pool of 2 or more
  admin.metrics = &core.metrics();
  admin.listener = "admin";
  return http::HttpServer::start(admin, admin::admin_routes({core.approvals(), core.passwords(), core.revocations(),
                                                             core.operations(), core.metrics()},
                                                            std::move(*token)));
}

Result<std::string> read_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return fail(ErrorCode::kConfigInvalid, "cannot read " + file.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The certificates a client is asked for: the manufacturer anchors and this CA's chain.
Result<std::string> client_ca_pem(const Config& config) {
  std::string pem;
  std::vector<std::filesystem::path> files = config.est.trust_anchors;
  files.push_back(config.ca_certificate);
  if (config.ca_chain) files.push_back(*config.ca_chain);
  for (const auto& file : files) {
    auto text = read_text(file);
    if (!text) return text;
    pem += *text;
  }
  return pem;
}

// EST over HTTPS, when [est] has a TLS credential.
Result<std::unique_ptr<http::HttpServer>> start_est(const Config& config, const RunOptions& options, Core& core) {
  if (!config.est.tls_certificate) return std::unique_ptr<http::HttpServer>();
  http::TlsOptions tls;
  auto chain = read_text(*config.est.tls_certificate);
  if (!chain) return tl::unexpected(chain.error());
  auto key = read_text(*config.est.tls_key);
  if (!key) return tl::unexpected(key.error());
  auto client_cas = client_ca_pem(config);
  if (!client_cas) return tl::unexpected(client_cas.error());
  tls.certificate_chain_pem = std::move(*chain);
  tls.private_key_pem = std::move(*key);
  tls.client_ca_pem = std::move(*client_cas);
  http::ServerOptions est_options;
  est_options.bind_address = config.est.listen;
  est_options.port = options.est_port.value_or(config.est.port);
  est_options.threads = config.threads;
  est_options.max_body_bytes = config.max_body_bytes;
  est_options.tls = std::move(tls);
  est_options.metrics = &core.metrics();
  est_options.listener = "est";
  auto server = http::HttpServer::start(est_options, est::est_routes(core.est()));
  ::OPENSSL_cleanse(est_options.tls->private_key_pem.data(), est_options.tls->private_key_pem.size());
  return server;
}

}  // namespace

void prepare_signals() {
  // A peer that closed its connection (an LDAP server, a client) must cost a failed write, never
  // the process.
  ::signal(SIGPIPE, SIG_IGN);
  const sigset_t set = handled_signals();
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
  http_options.metrics = &(*core)->metrics();
  http_options.listener = "main";
  std::vector<cmp::HttpAlias> aliases;
  for (const auto& alias : config.cmp_aliases) aliases.push_back({alias.path, alias.profile});
  std::vector<http::Route> routes = cmp::http_routes((*core)->cmp(), aliases);
  for (auto& route : repository::repository_routes((*core)->enrollment(), (*core)->status()))
    routes.push_back(std::move(route));
  auto server = http::HttpServer::start(http_options, std::move(routes));
  if (!server) return report(server.error());
  auto admin = start_admin(config, options, **core);
  if (!admin) return report(admin.error());
  const std::uint16_t admin_port = *admin ? (*admin)->port() : 0;
  auto est_server = start_est(config, options, **core);
  if (!est_server) return report(est_server.error());
  const std::uint16_t est_port = *est_server ? (*est_server)->port() : 0;
  Periodic sweeper(sweep_interval(config), [&core] { sweep(**core); });
  std::optional<Periodic> publisher;
  if ((*core)->has_publishers()) publisher.emplace(kPublishInterval, [&core] { publish(**core); });

  spdlog::info(
      "enrolld serving: ca=\"{}\" http={}:{} est={} admin={} store={}", (*core)->ca_name(), config.listen,
      (*server)->port(), est_port != 0 ? "https://" + config.est.listen + ":" + std::to_string(est_port) : "off",
      admin_port != 0 ? config.admin_listen + ":" + std::to_string(admin_port) : "off", config.store_path.string());
  if (options.on_listening) options.on_listening(Listening{(*server)->port(), admin_port, est_port});
  notify("READY=1\nSTATUS=serving http port " + std::to_string((*server)->port()));
  const int signal = serve_until_terminated(config, **core);
  spdlog::info("signal {} received: finishing requests in flight", signal);
  notify("STOPPING=1\nSTATUS=finishing requests in flight");
  (*server)->stop();
  if (*est_server) (*est_server)->stop();
  if (*admin) (*admin)->stop();
  spdlog::info("enrolld stopped");
  return 0;
}

}  // namespace enrolld::app
