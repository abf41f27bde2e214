#pragma once
// Checks what a server issued against what was asked for: the certificate's public key is the
// requested key, its subject the requested subject, and it chains to the CA's trust anchor
// through the CA certificates given. Each worker has its own checker (not shared, not
// thread-safe).

#include <string>
#include <vector>

#include <openssl/x509.h>

#include "bench/load/outcome.h"
#include "common/openssl_util.h"

namespace enrolld::load {

struct X509StoreFree {
  void operator()(::X509_STORE* store) const noexcept { ::X509_STORE_free(store); }
};
using X509StorePtr = std::unique_ptr<::X509_STORE, X509StoreFree>;

class CertificateChecker {
 public:
  // `trust_file`: the anchors (PEM); `chain_file`: intermediate CA certificates (PEM, may repeat
  // the anchor, may be empty). Failure kind: "setup.trust".
  static Outcome<CertificateChecker> load(const std::string& trust_file, const std::string& chain_file);

  // Empty success, or a failure of kind "verify.key" (another public key), "verify.subject"
  // (another subject) or "verify.chain" (X509_verify_cert refused it; the detail says why).
  // A null `requested_subject` skips the subject check.
  Done check(::X509* cert, const ::EVP_PKEY* requested_key, const ::X509_NAME* requested_subject) const;

  // A fresh store holding the anchors, for an OpenSSL CMP context to take (set0).
  X509StorePtr new_trust_store() const;
  // The intermediate certificates (owned by the checker).
  STACK_OF(X509) * untrusted() const { return m_untrusted.get(); }

 private:
  std::vector<ossl::X509Ptr> m_anchors;
  X509StorePtr m_store;
  ossl::X509StackPtr m_untrusted;
};

}  // namespace enrolld::load
