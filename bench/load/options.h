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

enum class Scenario { kIrMac, kIrSig, kKur, kP10cr, kEstKeepAlive, kEstHandshake };

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
  bool allow_remote = false;
};

// The longest a run may take, whatever was asked: every loop stops here at the latest.
constexpr double kMaxDurationS = 3600;
// A run with a count but no duration still ends after this long.
constexpr double kCountOnlyDeadlineS = 600;

// KEY=value lines (as the demo writes them); '#' comments and blank lines skipped. Failure kind
// "usage.endpoints".
Outcome<std::map<std::string, std::string>> read_endpoints(const std::string& path);

// Parses argv; fills what the command line leaves empty from --endpoints FILE. On --help the
// failure kind is "usage.help" with the help text as detail; other failures are "usage".
Outcome<Options> parse_options(int argc, char** argv);

}  // namespace enrolld::load
