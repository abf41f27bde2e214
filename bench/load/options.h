#pragma once
// enroll-load's command line and the demo's endpoints.env, resolved once into Options before
// any thread starts; read-only afterwards (shared by the workers without locking).

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "bench/load/outcome.h"

namespace enrolld::load {

// kOpenTxns: ir-mac without implicit confirmation whose certConf is never sent, so that the
// server holds each transaction open until its certConf deadline. kRejects: requests the
// server must refuse (wrong MAC, unknown reference, undecodable bodies).
enum class Scenario { kIrMac, kIrSig, kKur, kP10cr, kEstKeepAlive, kEstHandshake, kOpenTxns, kRejects };

std::string_view to_string(Scenario scenario);
bool is_cmp(Scenario scenario);

enum class EstAuth { kBasic, kCertificate };

struct Options {
  Scenario scenario = Scenario::kIrMac;
  std::string label;  // free text copied into the result line (e.g. "enrolld" or "openssl-mock")

  // CMP
  std::string cmp_url;                   // full URL with path (CMP_URL)
  std::string ref, secret;               // MAC credential (CMP_REF, CMP_SECRET)
  std::string cmp_cert, cmp_key;         // a signing credential to use instead of one enrolled first
  bool cmp_keep_alive = true;            // one connection per worker, reused
  std::optional<bool> implicit_confirm;  // unset: requested for ir-mac only
  // Accept whatever certificate comes back (OpenSSL's mock server returns one canned
  // certificate, not one for the requested key); implies verify_every = 0.
  bool accept_any_cert = false;

  // Checking replies and issued certificates
  std::string trust;  // anchors (CMP_TRUST)
  std::string chain;  // CA certificates between them and the issued ones (CMP_CHAIN)

  // EST
  std::string est_url;  // https://host:port (EST_URL)
  std::string est_label;
  EstAuth est_auth = EstAuth::kBasic;
  std::string est_user, est_password;  // EST_USER, EST_PASSWORD
  std::string est_cert, est_key;       // TLS client credential (EST_BOOTSTRAP_CERT/KEY)
  std::string tls_trust;               // EST_TLS_TRUST

  // Load shape
  int threads = 2;
  double duration_s = 0;    // measured window; 0 with a count: until the count is done
  std::uint64_t count = 0;  // transactions in the measured window; 0: until the duration ends
  double warmup_s = 0;
  int key_pool = 0;                  // keys per worker; 0: sized from count, else 256
  std::uint64_t verify_every = 100;  // check transaction 0, N, 2N, ...; 0: none
  int timeout_ms = 10000;            // per socket operation
  pid_t server_pid = 0;              // 0: no server figures
  // The server's VmRSS is read before transaction 0, N, 2N, ... of the measured window and once
  // after it; 0: no samples. Default: count/10 for open-txns and rejects, else 0.
  std::uint64_t rss_every = 0;
  // After the window and the metrics read after it, the server's VmRSS is read every second for
  // this long (open-txns: with the transactions still open, so that a deadline sweep or two runs
  // over them); 0: not.
  double hold_s = 0;
  // The server's Prometheus text (ADMIN_URL/metrics): its CMP and HTTP counters before and
  // after the window are reported as differences; empty: not read.
  std::string metrics_url;
  bool allow_remote = false;
};

// The longest a run may take, whatever was asked: every loop stops here at the latest.
constexpr double kMaxDurationS = 3600;
// A run with a count but no duration still ends after this long.
constexpr double kCountOnlyDeadlineS = 600;
// What open-txns and rejects do without --count or --duration.
constexpr std::uint64_t kDefaultOpenTxns = 10'000;
constexpr std::uint64_t kDefaultRejects = 100'000;

// KEY=value lines (as the demo writes them); '#' comments and blank lines skipped. Failure kind
// "usage.endpoints".
Outcome<std::map<std::string, std::string>> read_endpoints(const std::string& path);

// Parses argv; fills what the command line leaves empty from --endpoints FILE. On --help the
// failure kind is "usage.help" with the help text as detail; other failures are "usage".
Outcome<Options> parse_options(int argc, char** argv);

}  // namespace enrolld::load
