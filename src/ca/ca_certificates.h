#pragma once
// Certificates for the CAs themselves: a self-signed root and subordinate CAs, each signed by a
// key inside the HSM.

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/openssl_util.h"
#include "hsm/signer.h"

namespace enrolld::ca {

struct CaCertificateSpec {
  std::vector<std::pair<std::string, std::string>> subject;  // e.g. {{"O", "Example"}, {"CN", "Root CA"}}
  std::chrono::seconds validity = std::chrono::hours(24 * 365 * 10);
  int path_length = -1;  // -1: no pathLenConstraint
};

// Returns a self-signed CA certificate for the signer's key, or kSystemUnavailable (HSM) /
// kSystemFailure (signature does not verify).
Result<ossl::X509Ptr> make_root_certificate(const CaCertificateSpec& spec, const hsm::Signer& signer);

// Returns a CA certificate for `subject_key`, issued by `issuer` and signed by its signer.
Result<ossl::X509Ptr> make_subordinate_certificate(const CaCertificateSpec& spec, ::EVP_PKEY* subject_key,
                                                   const ::X509* issuer, const hsm::Signer& issuer_signer);

// Returns the certificate of a key generation authority (central key generation, RFC 9483
// 4.1.6) for `subject_key`: an end entity with extended key usage id-kp-cmKGA, issued by
// `issuer` and signed by its signer. `spec.path_length` is ignored.
Result<ossl::X509Ptr> make_key_generation_certificate(const CaCertificateSpec& spec, ::EVP_PKEY* subject_key,
                                                      const ::X509* issuer, const hsm::Signer& issuer_signer);

// Returns the certificate of a delegated OCSP responder (RFC 6960 4.2.2.2) for `subject_key`: an
// end entity with extended key usage id-kp-OCSPSigning and id-pkix-ocsp-nocheck (clients do not
// check its own revocation, RFC 6960 4.2.2.2.1: keep `spec.validity` short), issued by `issuer`
// and signed by its signer. `spec.path_length` is ignored. Errors: kSystemUnavailable (HSM),
// kSystemFailure (a subject that cannot be built, a signature that does not verify).
Result<ossl::X509Ptr> make_ocsp_signing_certificate(const CaCertificateSpec& spec, ::EVP_PKEY* subject_key,
                                                    const ::X509* issuer, const hsm::Signer& issuer_signer);

// Returns a PKCS#10 request for the CA key of `signer` with `subject`, asking for a CA
// certificate (basicConstraints cA:TRUE, keyUsage keyCertSign and cRLSign), signed in the HSM and
// checked: what an outside CA signs when enrolld's issuing CA lives under an existing root.
// Errors: kConfigInvalid (bad subject), kSystemUnavailable (HSM), kSystemFailure.
Result<ossl::X509ReqPtr> make_ca_request(const std::vector<std::pair<std::string, std::string>>& subject,
                                         const hsm::Signer& signer);

// Checks that `cert` may serve as an issuing CA for the key of `signer`: it certifies that key,
// is a CA (basicConstraints cA:TRUE, keyUsage keyCertSign) valid now, and `chain` (its issuers,
// ending with a self-signed root) validates it. Errors: kConfigInvalid saying what is wrong.
[[nodiscard]] Status check_issuing_certificate(const ::X509* cert, const std::vector<ossl::X509Ptr>& chain,
                                               const hsm::Signer& signer);

// The certificates of a root CA key update (RFC 4210 4.4.1): the new root (NewWithNew), the new
// root's key certified by the old root (NewWithOld: relying parties that trust the old root
// reach the new one), and the old root's key certified by the new root (OldWithNew). All keep
// the old root's subject; the transition certificates end with the old root.
struct RootRollover {
  ossl::X509Ptr new_with_new;
  ossl::X509Ptr new_with_old;
  ossl::X509Ptr old_with_new;
};

// Returns the rollover from `old_root` (key in `old_signer`) to the key in `new_signer`, the
// new root valid for `validity`. Errors: kSystemUnavailable (HSM), kSystemFailure.
Result<RootRollover> make_root_rollover(const ::X509* old_root, const hsm::Signer& old_signer,
                                        const hsm::Signer& new_signer, std::chrono::seconds validity);

}  // namespace enrolld::ca
