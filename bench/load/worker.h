#pragma once
// One load worker: a thread's connection, keys and protocol state. prepare() runs before any
// timing; enroll() is one complete enrollment. A worker belongs to one thread (not thread-safe);
// the Options it reads are shared read-only.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench/load/cert_check.h"
#include "bench/load/options.h"
#include "bench/load/outcome.h"
#include "common/openssl_util.h"

namespace enrolld::load {

// RFC 4210 5.1.2 PKIBody: the CHOICE index of each body type, as OSSL_CMP_MSG_get_bodytype
// returns it (OpenSSL 3.0 keeps its own names for them private).
inline constexpr int kBodyIp = 1;
inline constexpr int kBodyPkiConf = 19;
inline constexpr int kBodyError = 23;
inline constexpr int kBodyCertConf = 24;

// open-txns: the certConf messages a worker held back, and what became of those it sent after
// the measured window.
struct HeldProbe {
  std::uint64_t held = 0;       // transactions left waiting for certConf
  std::uint64_t probed = 0;     // held certConfs sent after the window
  std::uint64_t confirmed = 0;  // of those, answered with pkiConf: the transaction was still open
  std::string failure;          // why one was not confirmed (the first such), empty if all were
};

class Worker {
 public:
  virtual ~Worker() = default;

  // Connects, makes the key pool and whatever the scenario needs first (a certificate to sign
  // or update with). Failures: "setup.*", or what enroll() can fail with.
  virtual Done prepare() = 0;

  // One complete enrollment (for CMP with certConf/pkiConf unless implicitly confirmed). With
  // `verify`, the issued certificate is checked against the request and the CA chain.
  // Failures: "transport.*", "http.<status>", "cmp.rejected.<failInfo>", "cmp.client.<reason>",
  // "est.*", "verify.*".
  virtual Done enroll(bool verify) = 0;

  // One transaction of the warmup, not counted. By default enroll(false); open-txns warms up
  // with implicitly confirmed enrollments, so that the warmup leaves nothing open.
  virtual Done warmup() { return enroll(false); }

  // How the measured transactions that succeeded came out, by kind, where there is more than
  // one way to succeed (rejects: "cmp.error", "http.400"); empty by default.
  virtual std::map<std::string, std::uint64_t> tallies() const { return {}; }

  // open-txns, after the measured window and the server figures: sends a few of the held
  // certConf messages (the worker's first and last) to show the server still held their
  // transactions open. Closes those few. Empty by default.
  virtual HeldProbe probe_held() { return {}; }

  // TCP connections opened so far.
  virtual std::uint64_t connects() const = 0;
};

// What one enrollment asks for: a key made ahead of time, a subject, and for p10cr/EST the
// PKCS#10 request for both.
struct Device {
  ossl::EvpPkeyPtr key;
  ossl::X509NamePtr subject;
  ossl::X509ReqPtr csr;
  std::string csr_base64;  // EST body
};

// How many keys a worker makes ahead: --key-pool, else enough for its share of --count (at
// most 4096), else 256.
int key_pool_size(const Options& options);

// The checker for issued certificates when --trust is given, else none.
Outcome<std::optional<CertificateChecker>> load_checker(const Options& options);

// `size` devices for worker `worker`, with subjects CN=enroll-load-<scenario>-<pid>-w<worker>-<i>.
Outcome<std::vector<Device>> make_devices(const Options& options, int worker, int size, bool with_csr);

std::unique_ptr<Worker> make_cmp_worker(const Options& options, int index);
std::unique_ptr<Worker> make_est_worker(const Options& options, int index);
std::unique_ptr<Worker> make_reject_worker(const Options& options, int index);

}  // namespace enrolld::load
