#include "bench/load/options.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <fstream>

#include "bench/load/http_client.h"

namespace enrolld::load {
namespace {

const std::map<std::string, Scenario> kScenarios = {{"ir-mac", Scenario::kIrMac},
                                                    {"ir-sig", Scenario::kIrSig},
                                                    {"kur", Scenario::kKur},
                                                    {"p10cr", Scenario::kP10cr},
                                                    {"est-keepalive", Scenario::kEstKeepAlive},
                                                    {"est-handshake", Scenario::kEstHandshake},
                                                    {"open-txns", Scenario::kOpenTxns},
                                                    {"rejects", Scenario::kRejects}};

void fill(std::string& field, const std::map<std::string, std::string>& env, const char* key) {
  if (!field.empty()) return;
  if (auto it = env.find(key); it != env.end()) field = it->second;
}

}  // namespace

std::string_view to_string(Scenario scenario) {
  for (const auto& [name, value] : kScenarios) {
    if (value == scenario) return name;
  }
  return "?";
}

bool is_cmp(Scenario scenario) {
  return scenario != Scenario::kEstKeepAlive && scenario != Scenario::kEstHandshake;
}

Outcome<std::map<std::string, std::string>> read_endpoints(const std::string& path) {
  std::ifstream in(path);
  if (!in) return failure("usage.endpoints", "cannot read " + path);
  std::map<std::string, std::string> values;
  int lines = 0;
  for (std::string line; std::getline(in, line) && lines < 10000; ++lines) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos || eq == 0) return failure("usage.endpoints", path + ": not a KEY=value line: " + line);
    values[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return values;
}

Outcome<Options> parse_options(int argc, char** argv) {
  Options o;
  CLI::App cli{
      "enroll-load: many concurrent, complete enrollments (CMP over keep-alive HTTP, EST over TLS) against a "
      "running enrolld; prints a human summary on stderr and one JSON line on stdout"};
  std::string scenario = "ir-mac";
  std::string endpoints;
  std::string est_auth = "basic";
  bool no_keep_alive = false;
  int implicit_confirm = -1;
  cli.add_option("--scenario", scenario,
                 "ir-mac | ir-sig | kur | p10cr | est-keepalive | est-handshake | open-txns (ir-mac, certConf never "
                 "sent: the server holds each transaction open; default --count 10000) | rejects (wrong MAC, "
                 "unknown reference, undecodable bodies; default --count 100000)")
      ->check(CLI::IsMember(
          {"ir-mac", "ir-sig", "kur", "p10cr", "est-keepalive", "est-handshake", "open-txns", "rejects"}));
  cli.add_option("--endpoints", endpoints, "the demo's endpoints.env: defaults for URLs and credentials");
  cli.add_option("--url,--server", o.cmp_url, "CMP URL (http://127.0.0.1:PORT/.well-known/cmp) [CMP_URL]");
  cli.add_option("--est-url", o.est_url, "EST base URL (https://127.0.0.1:PORT) [EST_URL]");
  cli.add_option("--est-label", o.est_label, "EST label (profile), none by default");
  cli.add_option("--ref", o.ref, "CMP MAC reference [CMP_REF]");
  cli.add_option("--secret", o.secret, "CMP MAC secret [CMP_SECRET]");
  cli.add_option("--cert", o.cmp_cert, "ir-sig/kur: sign with this certificate instead of one enrolled first by MAC");
  cli.add_option("--key", o.cmp_key, "the private key of --cert");
  cli.add_option("--trust", o.trust, "trust anchors for signed replies and issued certificates [CMP_TRUST]");
  cli.add_option("--chain", o.chain, "CA certificates up to the anchors [CMP_CHAIN]");
  cli.add_option("--implicit-confirm", implicit_confirm,
                 "1: request implicit confirmation, 0: send certConf "
                 "(default: 1 for ir-mac, 0 otherwise)")
      ->check(CLI::Range(0, 1));
  cli.add_flag("--accept-any-cert", o.accept_any_cert,
               "CMP: take any certificate the server returns (OpenSSL's mock server returns a canned one); "
               "no certificate checks");
  cli.add_flag("--no-keep-alive", no_keep_alive, "CMP: a new TCP connection per HTTP request");
  cli.add_option("--est-auth", est_auth, "basic (HTTP Basic user/password) or cert (TLS client certificate)")
      ->check(CLI::IsMember({"basic", "cert"}));
  cli.add_option("--user", o.est_user, "EST user [EST_USER]");
  cli.add_option("--password", o.est_password, "EST password [EST_PASSWORD]");
  cli.add_option("--est-cert", o.est_cert, "EST TLS client certificate [EST_BOOTSTRAP_CERT]");
  cli.add_option("--est-key", o.est_key, "EST TLS client key [EST_BOOTSTRAP_KEY]");
  cli.add_option("--tls-trust", o.tls_trust, "trust anchors for the EST server's TLS certificate [EST_TLS_TRUST]");
  cli.add_option("--threads", o.threads, "worker threads, each with its own connection")->check(CLI::Range(1, 1024));
  cli.add_option("--duration", o.duration_s, "measured window in seconds")->check(CLI::Range(0.0, kMaxDurationS));
  cli.add_option("--count", o.count, "transactions in the measured window")->check(CLI::Range(0ull, 1000000000ull));
  cli.add_option("--warmup", o.warmup_s, "seconds of load before the measured window")
      ->check(CLI::Range(0.0, kMaxDurationS));
  cli.add_option("--key-pool", o.key_pool,
                 "P-256 keys made per worker before the run (default: enough for --count, "
                 "else 256; reused round-robin)")
      ->check(CLI::Range(0, 1000000));
  cli.add_option("--verify-every", o.verify_every, "check transaction 0, N, 2N, ... (key, subject, chain); 0: none");
  cli.add_option("--timeout-ms", o.timeout_ms, "bound on each socket operation")->check(CLI::Range(100, 600000));
  cli.add_option("--server-pid", o.server_pid,
                 "the server's PID: its CPU over the window, its peak RSS (VmHWM) and its RSS (VmRSS) before and "
                 "after the window");
  cli.add_option("--rss-every", o.rss_every,
                 "with --server-pid: read the server's VmRSS before transaction 0, N, 2N, ... and after the window "
                 "(default: count/10 for open-txns and rejects, else none)");
  cli.add_option("--hold", o.hold_s,
                 "with --server-pid: after the window (and the metrics read after it, a scrape), read the server's "
                 "VmRSS every second for this many seconds (open-txns: the transactions still open) and report "
                 "the samples")
      ->check(CLI::Range(0.0, 3600.0));
  cli.add_option("--metrics-url", o.metrics_url,
                 "the server's Prometheus metrics: CMP and HTTP counters reported as differences over the window "
                 "[ADMIN_URL/metrics]");
  cli.add_option("--label", o.label, "free text copied into the JSON line");
  cli.add_flag("--allow-remote", o.allow_remote, "allow a server that is not on a loopback address");
  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return failure("usage.help", cli.help());
  } catch (const CLI::ParseError& e) {
    return failure("usage", std::string(e.what()) + "\n(run with --help)");
  }
  o.scenario = kScenarios.at(scenario);
  o.est_auth = est_auth == "cert" ? EstAuth::kCertificate : EstAuth::kBasic;
  o.cmp_keep_alive = !no_keep_alive;
  if (implicit_confirm >= 0) o.implicit_confirm = implicit_confirm == 1;

  if (!endpoints.empty()) {
    auto env = read_endpoints(endpoints);
    if (!env) return tl::unexpected(env.error());
    fill(o.cmp_url, *env, "CMP_URL");
    fill(o.ref, *env, "CMP_REF");
    fill(o.secret, *env, "CMP_SECRET");
    fill(o.trust, *env, "CMP_TRUST");
    fill(o.chain, *env, "CMP_CHAIN");
    fill(o.est_url, *env, "EST_URL");
    fill(o.est_user, *env, "EST_USER");
    fill(o.est_password, *env, "EST_PASSWORD");
    fill(o.tls_trust, *env, "EST_TLS_TRUST");
    fill(o.est_cert, *env, "EST_BOOTSTRAP_CERT");
    fill(o.est_key, *env, "EST_BOOTSTRAP_KEY");
    if (o.metrics_url.empty()) {
      if (auto it = env->find("ADMIN_URL"); it != env->end() && !it->second.empty()) {
        o.metrics_url = it->second + "/metrics";
      }
    }
  }

  // What each scenario cannot do without.
  const std::string url = is_cmp(o.scenario) ? o.cmp_url : o.est_url;
  if (url.empty())
    return failure("usage",
                   is_cmp(o.scenario) ? "no CMP URL (--url or --endpoints)" : "no EST URL (--est-url or --endpoints)");
  auto parsed = parse_url(url);
  if (!parsed) return failure("usage", parsed.error().detail);
  if (!o.allow_remote && !is_loopback(parsed->host)) {
    return failure("usage", "refusing to load " + parsed->host + ", which is not a loopback address (--allow-remote)");
  }
  if (!o.metrics_url.empty()) {
    auto metrics = parse_url(o.metrics_url);
    if (!metrics) return failure("usage", metrics.error().detail);
    if (metrics->tls) return failure("usage", "--metrics-url must be http://");
    if (!o.allow_remote && !is_loopback(metrics->host)) {
      return failure("usage", "refusing to read metrics from " + metrics->host + ", which is not a loopback address");
    }
  }
  if (o.scenario == Scenario::kOpenTxns && o.implicit_confirm.value_or(false)) {
    return failure("usage", "open-txns leaves transactions waiting for certConf: no --implicit-confirm 1");
  }
  if (o.scenario == Scenario::kRejects) {
    // Nothing is issued: no certificates to check; the secret is not used (a wrong one is).
    if (o.ref.empty()) return failure("usage", "rejects needs a CMP reference (--ref) to send wrong MACs for");
    o.verify_every = 0;
  } else if (is_cmp(o.scenario)) {
    const bool own_signer = !o.cmp_cert.empty();
    if (own_signer && o.cmp_key.empty()) return failure("usage", "--cert needs --key");
    const bool needs_mac = o.scenario == Scenario::kIrMac || o.scenario == Scenario::kP10cr ||
                           o.scenario == Scenario::kOpenTxns || !own_signer;
    if (needs_mac && (o.ref.empty() || o.secret.empty()))
      return failure("usage", "no CMP MAC credential (--ref/--secret)");
    if ((o.scenario == Scenario::kIrSig || o.scenario == Scenario::kKur) && o.trust.empty()) {
      return failure("usage", o.scenario == Scenario::kKur ? "kur needs --trust for the signed replies"
                                                           : "ir-sig needs --trust for the signed replies");
    }
  } else {
    if (!parsed->tls) return failure("usage", "the EST URL must be https://");
    if (o.tls_trust.empty()) return failure("usage", "no TLS trust anchors (--tls-trust)");
    if (o.est_auth == EstAuth::kBasic && (o.est_user.empty() || o.est_password.empty())) {
      return failure("usage", "--est-auth basic needs --user and --password");
    }
    if (o.est_auth == EstAuth::kCertificate && (o.est_cert.empty() || o.est_key.empty())) {
      return failure("usage", "--est-auth cert needs --est-cert and --est-key");
    }
  }
  if (o.accept_any_cert) o.verify_every = 0;
  if (o.verify_every > 0 && o.trust.empty())
    return failure("usage", "checking certificates needs --trust (or --verify-every 0)");
  if (o.duration_s == 0 && o.count == 0) {
    if (o.scenario == Scenario::kOpenTxns) {
      o.count = kDefaultOpenTxns;
    } else if (o.scenario == Scenario::kRejects) {
      o.count = kDefaultRejects;
    } else {
      o.duration_s = 10;
    }
  }
  if (o.rss_every == 0 && (o.scenario == Scenario::kOpenTxns || o.scenario == Scenario::kRejects)) {
    o.rss_every = o.count > 0 ? std::max<std::uint64_t>(o.count / 10, 1) : 10'000;
  }
  return o;
}

}  // namespace enrolld::load
