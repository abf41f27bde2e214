#pragma once
// An OCSP responder (RFC 6960) for the certificates of one CA: DER OCSPRequest in, DER
// OCSPResponse out, signed with a key in the HSM and checked before it leaves. No transport
// here: the HTTP binding (RFC 6960 Appendix A) calls respond() with the request's bytes.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <openssl/ocsp.h>

#include "ca/certificate_authority.h"
#include "common/bytes.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/openssl_util.h"
#include "hsm/signer.h"

namespace enrolld::ca {

// What the store says of one certificate of this issuer.
struct CertificateStatus {
  enum class Kind { kGood, kRevoked, kUnknown };
  Kind kind = Kind::kUnknown;
  std::int64_t revoked_at = 0;  // seconds since the epoch, when kRevoked
  int reason = 0;               // RFC 5280 CRLReason, when kRevoked; 0 (unspecified) puts no reason in the response

  bool operator==(const CertificateStatus&) const = default;
};

// Looks a serial (lower-case hex, as ossl::integer_hex gives it) up; errors pass through
// (kSystemUnavailable when the store is down).
using StatusLookup = std::function<Result<CertificateStatus>(const std::string& serial_hex)>;

struct OcspAnswer {
  Bytes der;  // a DER OCSPResponse, always present: successful, or an error status without responseBytes
  int response_status = OCSP_RESPONSE_STATUS_INTERNALERROR;  // OCSP_RESPONSE_STATUS_SUCCESSFUL, _MALFORMEDREQUEST,
                                                             // _INTERNALERROR or _TRYLATER
  std::string problem;  // why it is not successful (for the log); empty when successful
  bool from_cache = false;
};

// Thread-safety: respond() may be called concurrently from many threads; the cache is guarded by
// a mutex that is never held while the HSM signs or the store is asked.
class OcspResponder {
 public:
  // `issuer`: the CA whose certificates it answers for. `signer` + `signer_certificate`: who
  // signs the responses, either the CA itself (`issuer.signer()` and the CA's certificate) or a
  // delegated responder (RFC 6960 4.2.2.2): a certificate issued by the CA with extended key
  // usage id-kp-OCSPSigning (see make_ocsp_signing_certificate) whose key is in the HSM. Neither
  // `issuer` nor `signer` is owned: both must outlive the responder. `validity`: nextUpdate -
  // thisUpdate. `clock` may be called from several threads at once. `cache_entries`: how many
  // signed responses to nonce-less requests are kept (0: none; when full, all are dropped).
  // A signer certificate that does not fit (not the signer's key; delegated but not issued by the
  // CA or without id-kp-OCSPSigning) or a validity that is not positive makes every answer
  // internalError; configuration() says why, for start-up to refuse.
  OcspResponder(const CertificateAuthority& issuer, const hsm::Signer& signer, ossl::X509Ptr signer_certificate,
                std::chrono::seconds validity, Clock clock, std::size_t cache_entries = 10000);

  // Returns kConfigInvalid naming what is wrong with the signer certificate or the validity.
  [[nodiscard]] Status configuration() const;

  // Answers one DER OCSPRequest (RFC 6960 4.1). Returns a signed successful response with one
  // SingleResponse per request entry, in order (good / revoked with time and reason / unknown; an
  // entry for another issuer or hashed with an algorithm other than SHA-1 or SHA-2 is unknown),
  // with the request's nonce copied. Unsigned error responses otherwise:
  //   malformedRequest: not a DER OCSPRequest (or bytes after it), no entries, more than 16,
  //                     a nonce that is not an OCTET STRING of 1..32 octets (RFC 8954);
  //   tryLater:         the lookup returned kSystemUnavailable, or the HSM could not sign;
  //   internalError:    any other lookup error, a signature that does not verify, a bad
  //                     configuration, an unexpected OpenSSL failure.
  // A request without a nonce may be answered from the cache (from_cache): the statuses are looked
  // up every time, and the cached bytes are served only while all of them are unchanged and less
  // than half the validity has passed since their thisUpdate.
  [[nodiscard]] OcspAnswer respond(ByteView request_der, const StatusLookup& lookup);

  // Whether the first entry of a DER OCSPRequest names this CA as its issuer: of an appliance's
  // CAs, the one to answer it. False for what is not a request.
  [[nodiscard]] bool answers_for(ByteView request_der) const;

 private:
  using CertIdPtr = std::unique_ptr<::OCSP_CERTID, ossl::Deleter<::OCSP_CERTID_free>>;

  struct CachedResponse {
    Bytes der;
    std::vector<CertificateStatus> statuses;  // per request entry, in order
    std::chrono::system_clock::time_point this_update;
  };

  // The answer for a decoded, well-formed request (statuses looked up, signed or from the cache).
  OcspAnswer answer(::OCSP_REQUEST* request, bool has_nonce, ByteView request_der, const StatusLookup& lookup);
  Result<std::vector<CertificateStatus>> look_up(::OCSP_REQUEST* request, const StatusLookup& lookup) const;
  Result<CertificateStatus> status_of(const ::OCSP_CERTID* id, const StatusLookup& lookup) const;
  bool names_issuer(const ::OCSP_CERTID* id) const;
  // The DER OCSPResponse for `statuses`, signed and checked.
  Result<Bytes> sign(::OCSP_REQUEST* request, const std::vector<CertificateStatus>& statuses,
                     std::chrono::system_clock::time_point now) const;
  Status sign_basic(::OCSP_BASICRESP* basic, std::chrono::system_clock::time_point now) const;
  // The cached response for `key` if it still says `statuses` and is fresh enough at `now`.
  std::optional<Bytes> cached(const std::string& key, const std::vector<CertificateStatus>& statuses,
                              std::chrono::system_clock::time_point now) const;
  void remember(const std::string& key, CachedResponse response);

  const hsm::Signer& m_signer;
  ossl::X509Ptr m_signer_certificate;
  bool m_delegated = false;  // signer_certificate is not the CA's own: it goes into the response
  std::chrono::seconds m_validity;
  Clock m_clock;
  std::size_t m_cache_entries;
  std::vector<CertIdPtr> m_issuer_ids;  // the CA's issuerNameHash/issuerKeyHash per accepted digest
  std::string m_configuration_problem;  // empty when the signer and validity are usable

  mutable std::mutex m_cache_mutex;
  std::unordered_map<std::string, CachedResponse> m_cache;  // by SHA-256 of the request DER
};

}  // namespace enrolld::ca
