#pragma once
// Issues certificates: applies a profile to a request, picks a serial, signs in the HSM and
// checks the signature before anything leaves.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <openssl/obj_mac.h>
#include "common/bytes.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/metrics.h"

#include "ca/revocation_list.h"
#include "common/openssl_util.h"
#include "hsm/signer.h"

namespace enrolld::ca {

// What a requester asks to have certified, already authenticated and proven (POP) upstream.
struct CertificationInput {
  Bytes subject_der;     // DER Name
  Bytes public_key_der;  // DER SubjectPublicKeyInfo
  Bytes extensions_der;  // DER Extensions (SEQUENCE OF Extension); empty when none requested
  // The notAfter the requester asked for (CMP certTemplate validity), seconds since the epoch.
  std::optional<std::int64_t> requested_not_after{};
};

// A kind of subject key a profile accepts: an EC key on a named curve, or RSA of some size.
struct KeyRule {
  int type = EVP_PKEY_EC;  // EVP_PKEY_EC or EVP_PKEY_RSA
  int curve_nid = 0;       // EC: the named curve
  int min_bits = 0;        // RSA: the smallest modulus

  bool operator==(const KeyRule&) const = default;
};

// Returns whether `key` satisfies one of `rules`.
bool key_allowed(::EVP_PKEY* key, const std::vector<KeyRule>& rules);

// DER AlgorithmIdentifier naming the rule's key type (ecPublicKey with its curve,
// rsaEncryption), as CMP's signKeyPairTypes lists them.
Bytes algorithm_identifier_der(const KeyRule& rule);

// The subject alternative names a profile allows. With no rule at all, any SAN is taken; with
// any rule, a name of a kind without rules is refused.
struct SanRules {
  std::vector<std::string> dns;    // "host.example.com" exactly, or "*.example.com": any name below it
  std::vector<std::string> ip;     // CIDR ranges: "10.0.0.0/8", "2001:db8::/32"
  std::vector<std::string> uri;    // prefixes: "urn:dev:ops:", "https://devices.example.com/"
  std::vector<std::string> email;  // mail domains: "example.com"

  bool restricted() const { return !dns.empty() || !ip.empty() || !uri.empty() || !email.empty(); }
};

// The name of an appliance's first issuing CA (the configuration's [ca]); others are named by
// the operator.
inline constexpr const char* kFirstIssuingCa = "issuing";

// The certificate profile: what the CA sets, and what it takes from the request.
struct Profile {
  std::string name = "default";
  // The issuing CA that signs under it, by its name in the appliance.
  std::string issuing_ca = kFirstIssuingCa;
  std::vector<KeyRule> keys = {
      {EVP_PKEY_EC, NID_X9_62_prime256v1, 0}, {EVP_PKEY_EC, NID_secp384r1, 0}, {EVP_PKEY_RSA, 0, 2048}};
  std::chrono::seconds validity = std::chrono::hours(24 * 365);
  std::chrono::seconds backdate = std::chrono::minutes(5);  // tolerance for device clock skew
  bool copy_subject_alt_name = true;                        // take SAN from the request
  // Where relying parties find revocation status and the issuer (RFC 5280 4.2.1.13, 4.2.2.1);
  // each is left out when empty.
  std::string crl_url;         // cRLDistributionPoints
  std::string ocsp_url;        // authorityInfoAccess id-ad-ocsp
  std::string ca_issuers_url;  // authorityInfoAccess id-ad-caIssuers

  // What the subject must and must not hold: attribute short names (CN, O, OU, serialNumber, ...).
  std::vector<std::string> subject_required;
  std::vector<std::string> subject_forbidden;
  SanRules san;
  bool san_required = false;
  // What the CA always sets, whatever the request says (OpenSSL's configuration syntax). Empty
  // key_usage: digitalSignature (and keyEncipherment for RSA); empty extended_key_usage: none.
  std::string key_usage;              // "digitalSignature,keyAgreement"
  std::string extended_key_usage;     // "serverAuth,clientAuth"
  std::vector<std::string> policies;  // certificatePolicies OIDs
  // The requester may ask for a shorter validity (CMP certTemplate notAfter); a longer one is
  // refused either way.
  bool requester_validity = false;
};

// Returns whether a serial (lower-case hex) is already used; errors pass through.
using SerialTaken = std::function<Result<bool>(const std::string& serial_hex)>;
using Clock = enrolld::Clock;

struct IssuedCertificate {
  // The signed certificate. Its public key went in as its encoding (ossl::set_public_key):
  // X509_get0_pubkey() gives null here; the key is in X509_get_X509_PUBKEY() and in the DER.
  ossl::X509Ptr certificate;
  std::string serial_hex;
};

// Thread-safety: issue() may run concurrently from many threads.
class CertificateAuthority {
 public:
  // `chain` holds the CA's own certificate first, then its issuers up to the root.
  // `metrics`, when given, gets the HSM signing latency (enrolld_hsm_sign_seconds) and how many
  // signatures are in the HSM at once (enrolld_hsm_signing_now, enrolld_hsm_signing_peak).
  // CAs whose keys share one HSM share `hsm_in_use` (null: a count of this CA's own), so that
  // the gauges count every signature in it.
  CertificateAuthority(std::vector<ossl::X509Ptr> chain, std::unique_ptr<hsm::Signer> signer, Clock clock,
                       Metrics* metrics = nullptr, std::shared_ptr<InUse> hsm_in_use = nullptr);

  // Returns the signed certificate, or: kBadCertTemplate (subject or extensions undecodable,
  // empty subject), kBadAlgorithm (public key undecodable or not one the profile accepts), kSystemUnavailable
  // (HSM), kSystemFailure (signature did not verify, no free serial after several draws).
  [[nodiscard]] Result<IssuedCertificate> issue(const CertificationInput& input, const Profile& profile,
                                                const SerialTaken& serial_taken) const;

  // Returns a v2 CRL (DER) with authorityKeyIdentifier, cRLNumber and a reasonCode per entry
  // (none for unspecified, RFC 5280 5.3.1), signed in the HSM and checked. Errors:
  // kBadCertId (a serial that is not hex), kSystemUnavailable (HSM), kSystemFailure.
  [[nodiscard]] Result<Bytes> sign_crl(const CrlInput& input) const;

  const ::X509* certificate() const { return m_chain.front().get(); }
  const std::vector<ossl::X509Ptr>& chain() const { return m_chain; }
  // The CA's key in the HSM, e.g. to sign protocol responses in the CA's name.
  const hsm::Signer& signer() const { return *m_signer; }
  std::string name() const;

 private:
  std::vector<ossl::X509Ptr> m_chain;
  std::unique_ptr<hsm::Signer> m_signer;
  Clock m_clock;
  Histogram* m_sign_certificate = nullptr;  // null without metrics
  Histogram* m_sign_crl = nullptr;
  std::shared_ptr<InUse> m_signing;  // shared with the gauges that read it; null without metrics
};

// A fresh serial: 16 bytes from the CSPRNG, made positive (top bit clear) and non-zero in its
// first byte so the DER INTEGER is exactly 16 octets. Leaves 127 bits of randomness
// (CA/B Forum asks for >= 64).
Bytes random_serial();

}  // namespace enrolld::ca
