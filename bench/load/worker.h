#pragma once
// One load worker: a thread's connection, keys and protocol state. prepare() runs before any
// timing; enroll() is one complete enrollment. A worker belongs to one thread (not thread-safe);
// the Options it reads are shared read-only.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench/load/cert_check.h"
#include "bench/load/options.h"
#include "bench/load/outcome.h"
#include "common/openssl_util.h"

namespace enrolld::load {

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

}  // namespace enrolld::load
