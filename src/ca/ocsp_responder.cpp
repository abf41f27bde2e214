// OcspResponder: RFC 6960 responses for one CA's certificates, signed in the HSM and checked.
#include "ca/ocsp_responder.h"

#include <openssl/x509v3.h>

namespace enrolld::ca {

namespace {

using RequestPtr = std::unique_ptr<::OCSP_REQUEST, ossl::Deleter<::OCSP_REQUEST_free>>;
using ResponsePtr = std::unique_ptr<::OCSP_RESPONSE, ossl::Deleter<::OCSP_RESPONSE_free>>;
using BasicResponsePtr = std::unique_ptr<::OCSP_BASICRESP, ossl::Deleter<::OCSP_BASICRESP_free>>;

// RFC 6960 sets no bound; ours keeps one request from costing many store lookups.
constexpr int kMaxEntries = 16;
// RFC 8954 2.1: "A server MUST reject any OCSP request that has a nonce in the Nonce extension
// with a length of either 0 octets or more than 32 octets with the malformedRequest
// OCSPResponseStatus".
constexpr int kMaxNonceOctets = 32;
// RFC 5280 4.1.2.2: "Conforming CAs MUST NOT use serialNumber values longer than 20 octets."
constexpr int kMaxSerialOctets = 20;
constexpr int kReasonUnspecified = 0;

std::int64_t seconds_of(std::chrono::system_clock::time_point at) {
  return std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count();
}

ossl::Asn1TimePtr asn1_time(std::int64_t seconds) {
  return ossl::Asn1TimePtr(::ASN1_TIME_set(nullptr, static_cast<std::time_t>(seconds)));
}

// Error → OCSPResponseStatus, the one table (RFC 6960 4.2.1).
int response_status_for(ErrorCode code) {
  switch (code) {
    // RFC 6960 2.3: "A server produces the "malformedRequest" response if the request received
    // does not conform to the OCSP syntax."
    case ErrorCode::kBadDataFormat: return OCSP_RESPONSE_STATUS_MALFORMEDREQUEST;
    // RFC 6960 2.3: "The response "tryLater" indicates that the service exists but is
    // temporarily unable to respond."
    case ErrorCode::kSystemUnavailable: return OCSP_RESPONSE_STATUS_TRYLATER;
    default: return OCSP_RESPONSE_STATUS_INTERNALERROR;
  }
}

// An OCSPResponse with an error status: no responseBytes, so nothing to sign.
Bytes error_response_der(int status) {
  ResponsePtr response(::OCSP_response_create(status, nullptr));
  Bytes der = ossl::der_with(response.get(), ::i2d_OCSP_RESPONSE);
  if (!der.empty()) return der;
  // Out of memory: OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED }, written out, so that
  // the caller always has an answer to send.
  return {0x30, 0x03, 0x0a, 0x01, static_cast<std::uint8_t>(status)};
}

OcspAnswer successful(Bytes der, bool from_cache) {
  return OcspAnswer{std::move(der), OCSP_RESPONSE_STATUS_SUCCESSFUL, {}, from_cache};
}

OcspAnswer refusal(const Error& error) {
  const int status = response_status_for(error.code);
  return OcspAnswer{error_response_der(status), status, error.message, false};
}

Result<RequestPtr> decode_request(ByteView der) {
  const unsigned char* p = der.data();
  RequestPtr request(::d2i_OCSP_REQUEST(nullptr, &p, static_cast<long>(der.size())));
  if (!request) return fail(ErrorCode::kBadDataFormat, "not a DER OCSPRequest: " + ossl::drain_errors());
  if (p != der.data() + der.size()) return fail(ErrorCode::kBadDataFormat, "bytes after the OCSPRequest");
  const int entries = ::OCSP_request_onereq_count(request.get());
  if (entries <= 0) return fail(ErrorCode::kBadDataFormat, "the OCSPRequest asks about no certificate");
  if (entries > kMaxEntries) {
    return fail(ErrorCode::kBadDataFormat, "the OCSPRequest asks about " + std::to_string(entries) +
                                               " certificates, more than " + std::to_string(kMaxEntries));
  }
  return request;
}

// Returns whether the request carries a nonce, or kBadDataFormat when it carries one that
// RFC 8954 does not allow. The extnValue holds a DER OCTET STRING whose content is the nonce:
// what OpenSSL sends, and the encoding RFC 9654 spells out.
Result<bool> nonce_present(::OCSP_REQUEST* request) {
  const int at = ::OCSP_REQUEST_get_ext_by_NID(request, NID_id_pkix_OCSP_Nonce, -1);
  if (at < 0) return false;
  if (::OCSP_REQUEST_get_ext_by_NID(request, NID_id_pkix_OCSP_Nonce, at) >= 0) {
    // RFC 5280 4.2: "A certificate MUST NOT include more than one instance of a particular
    // extension"; OCSP uses the same Extensions syntax.
    return fail(ErrorCode::kBadDataFormat, "the OCSPRequest has two nonces");
  }
  const ::ASN1_OCTET_STRING* value = ::X509_EXTENSION_get_data(::OCSP_REQUEST_get_ext(request, at));
  const unsigned char* begin = ::ASN1_STRING_get0_data(value);
  const long length = ::ASN1_STRING_length(value);
  const unsigned char* p = begin;
  ossl::Asn1OctetStringPtr nonce(::d2i_ASN1_OCTET_STRING(nullptr, &p, length));
  if (!nonce || p != begin + length) {
    ossl::drain_errors();
    return fail(ErrorCode::kBadDataFormat, "the nonce is not an OCTET STRING");
  }
  const int octets = ::ASN1_STRING_length(nonce.get());
  if (octets < 1 || octets > kMaxNonceOctets) {
    return fail(ErrorCode::kBadDataFormat, "a nonce of " + std::to_string(octets) + " octets (RFC 8954: 1 to " +
                                               std::to_string(kMaxNonceOctets) + ")");
  }
  return true;
}

// The serial a CertID asks about, as the store writes it; empty when it cannot be one of ours
// (zero, negative, longer than RFC 5280 allows).
std::string serial_hex(const ::OCSP_CERTID* id) {
  ::ASN1_INTEGER* serial = nullptr;
  if (::OCSP_id_get0_info(nullptr, nullptr, nullptr, &serial, const_cast<::OCSP_CERTID*>(id)) != 1 ||
      serial == nullptr || ::ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER ||
      ::ASN1_STRING_length(serial) > kMaxSerialOctets) {
    return {};
  }
  return ossl::integer_hex(serial);
}

// The key of the cache: SHA-256 of the request's DER.
std::string cache_key(ByteView der) {
  const Bytes digest = ossl::sha256(der);
  return std::string(digest.begin(), digest.end());
}

// The issuer ids (RFC 6960 4.1.1 CertID without its serial) of `ca` for the digests we accept:
// SHA-1, what most clients hash with (RFC 5019 and OpenSSL's default), and SHA-2. A request
// hashed otherwise matches none, and its entries are unknown.
std::vector<std::unique_ptr<::OCSP_CERTID, ossl::Deleter<::OCSP_CERTID_free>>> issuer_ids(const ::X509* ca) {
  std::vector<std::unique_ptr<::OCSP_CERTID, ossl::Deleter<::OCSP_CERTID_free>>> ids;
  for (const ::EVP_MD* md : {::EVP_sha1(), ::EVP_sha256(), ::EVP_sha384(), ::EVP_sha512()}) {
    ::OCSP_CERTID* id = ::OCSP_cert_id_new(md, ::X509_get_subject_name(ca), ::X509_get0_pubkey_bitstr(ca), nullptr);
    if (id != nullptr) ids.emplace_back(id);
  }
  ossl::drain_errors();
  return ids;
}

// What is wrong with signing as `certificate` with `signer` for `ca`; empty when nothing is.
std::string signer_problem(const ::X509* ca, const hsm::Signer& signer, ::X509* certificate) {
  if (certificate == nullptr) return "no OCSP signer certificate";
  if (::EVP_PKEY_eq(::X509_get0_pubkey(certificate), signer.public_key()) != 1) {
    return "the OCSP signer certificate is not for the signer's key";
  }
  if (::X509_cmp(certificate, ca) == 0) return {};
  // RFC 6960 4.2.2.2: "OCSP signing delegation SHALL be designated by the inclusion of
  // id-kp-OCSPSigning in an extended key usage certificate extension included in the OCSP
  // response signer's certificate. This certificate MUST be issued directly by the CA that is
  // identified in the request."
  if (::X509_check_issued(const_cast<::X509*>(ca), certificate) != X509_V_OK ||
      ::X509_verify(certificate, ::X509_get0_pubkey(ca)) != 1) {
    ossl::drain_errors();
    return "the OCSP signer certificate is not issued by " + ossl::name_to_string(::X509_get_subject_name(ca));
  }
  if ((::X509_get_extension_flags(certificate) & EXFLAG_XKUSAGE) == 0 ||
      (::X509_get_extended_key_usage(certificate) & XKU_OCSP_SIGN) == 0) {
    return "the OCSP signer certificate lacks extended key usage id-kp-OCSPSigning";
  }
  // Clients refuse every response signed under a delegation that has ended (or not begun).
  if (::X509_cmp_current_time(::X509_get0_notAfter(certificate)) <= 0 ||
      ::X509_cmp_current_time(::X509_get0_notBefore(certificate)) >= 0) {
    return "the OCSP signer certificate is not valid now; issue a new one";
  }
  return {};
}

Status add_status(::OCSP_BASICRESP* basic, ::OCSP_CERTID* id, const CertificateStatus& status, ::ASN1_TIME* this_update,
                  ::ASN1_TIME* next_update) {
  ::OCSP_SINGLERESP* added = nullptr;
  switch (status.kind) {
    case CertificateStatus::Kind::kGood:
      added = ::OCSP_basic_add1_status(basic, id, V_OCSP_CERTSTATUS_GOOD, 0, nullptr, this_update, next_update);
      break;
    case CertificateStatus::Kind::kUnknown:
      added = ::OCSP_basic_add1_status(basic, id, V_OCSP_CERTSTATUS_UNKNOWN, 0, nullptr, this_update, next_update);
      break;
    case CertificateStatus::Kind::kRevoked: {
      ossl::Asn1TimePtr revoked_at = asn1_time(status.revoked_at);
      // As on the CRL (RFC 5280 5.3.1): no reason rather than unspecified (0).
      const int reason = status.reason != kReasonUnspecified ? status.reason : OCSP_REVOKED_STATUS_NOSTATUS;
      if (revoked_at) {
        added = ::OCSP_basic_add1_status(basic, id, V_OCSP_CERTSTATUS_REVOKED, reason, revoked_at.get(), this_update,
                                         next_update);
      }
      break;
    }
  }
  if (added == nullptr) return fail(ErrorCode::kSystemFailure, "cannot add a SingleResponse: " + ossl::drain_errors());
  return {};
}

// One SingleResponse per request entry, in the request's order, each with the request's CertID.
Status add_statuses(::OCSP_BASICRESP* basic, ::OCSP_REQUEST* request, const std::vector<CertificateStatus>& statuses,
                    std::int64_t this_update, std::int64_t next_update) {
  ossl::Asn1TimePtr this_time = asn1_time(this_update);
  ossl::Asn1TimePtr next_time = asn1_time(next_update);
  if (!this_time || !next_time) return fail(ErrorCode::kSystemFailure, "out of memory");
  for (std::size_t i = 0; i < statuses.size(); ++i) {
    ::OCSP_CERTID* id = ::OCSP_onereq_get0_id(::OCSP_request_onereq_get0(request, static_cast<int>(i)));
    if (auto added = add_status(basic, id, statuses[i], this_time.get(), next_time.get()); !added) return added;
  }
  return {};
}

bool signature_verifies(const ::OCSP_BASICRESP* basic, ::EVP_PKEY* key) {
  return ::ASN1_item_verify(ASN1_ITEM_rptr(OCSP_RESPDATA), ::OCSP_resp_get0_tbs_sigalg(basic),
                            ::OCSP_resp_get0_signature(basic), ::OCSP_resp_get0_respdata(basic), key) == 1;
}

}  // namespace

OcspResponder::OcspResponder(const CertificateAuthority& issuer, const hsm::Signer& signer,
                             ossl::X509Ptr signer_certificate, std::chrono::seconds validity, Clock clock,
                             std::size_t cache_entries)
    : m_signer(signer),
      m_signer_certificate(std::move(signer_certificate)),
      m_validity(validity),
      m_clock(std::move(clock)),
      m_cache_entries(cache_entries),
      m_issuer_ids(issuer_ids(issuer.certificate())),
      m_configuration_problem(signer_problem(issuer.certificate(), signer, m_signer_certificate.get())) {
  if (m_validity <= std::chrono::seconds::zero()) m_configuration_problem = "the OCSP validity must be positive";
  if (m_issuer_ids.empty()) m_configuration_problem = "cannot hash the CA's name and key";
  m_delegated = m_signer_certificate && ::X509_cmp(m_signer_certificate.get(), issuer.certificate()) != 0;
}

Status OcspResponder::configuration() const {
  if (m_configuration_problem.empty()) return {};
  return fail(ErrorCode::kConfigInvalid, m_configuration_problem);
}

OcspAnswer OcspResponder::respond(ByteView request_der, const StatusLookup& lookup) {
  if (auto usable = configuration(); !usable) return refusal(usable.error());
  auto request = decode_request(request_der);
  if (!request) return refusal(request.error());
  auto has_nonce = nonce_present(request->get());
  if (!has_nonce) return refusal(has_nonce.error());
  return answer(request->get(), *has_nonce, request_der, lookup);
}

OcspAnswer OcspResponder::answer(::OCSP_REQUEST* request, bool has_nonce, ByteView request_der,
                                 const StatusLookup& lookup) {
  auto statuses = look_up(request, lookup);
  if (!statuses) return refusal(statuses.error());
  const auto now = m_clock();
  // RFC 6960 4.4.1: "The nonce cryptographically binds a request and a response to prevent replay
  // attacks." A request with one always gets a response signed for it.
  const std::string key = has_nonce ? std::string() : cache_key(request_der);
  if (!key.empty()) {
    if (auto der = cached(key, *statuses, now)) return successful(std::move(*der), true);
  }
  auto der = sign(request, *statuses, now);
  if (!der) return refusal(der.error());
  if (!key.empty()) remember(key, CachedResponse{*der, *statuses, now});
  return successful(std::move(*der), false);
}

Result<std::vector<CertificateStatus>> OcspResponder::look_up(::OCSP_REQUEST* request,
                                                              const StatusLookup& lookup) const {
  std::vector<CertificateStatus> statuses;
  const int entries = ::OCSP_request_onereq_count(request);
  for (int i = 0; i < entries; ++i) {
    auto status = status_of(::OCSP_onereq_get0_id(::OCSP_request_onereq_get0(request, i)), lookup);
    if (!status) return tl::unexpected(status.error());
    statuses.push_back(*status);
  }
  return statuses;
}

Result<CertificateStatus> OcspResponder::status_of(const ::OCSP_CERTID* id, const StatusLookup& lookup) const {
  // RFC 6960 2.2: "The "unknown" state indicates that the responder doesn't know about the
  // certificate being requested, usually because the request indicates an unrecognized issuer
  // that is not served by this responder."
  if (!names_issuer(id)) return CertificateStatus{};
  const std::string serial = serial_hex(id);
  if (serial.empty()) return CertificateStatus{};
  auto status = lookup(serial);
  if (status || status.error().code == ErrorCode::kSystemUnavailable) return status;
  // Anything but "the store is down" is our fault, never the requester's: internalError.
  return fail(ErrorCode::kSystemFailure, "status lookup failed: " + status.error().message);
}

bool OcspResponder::answers_for(ByteView request_der) const {
  auto request = decode_request(request_der);
  if (!request || ::OCSP_request_onereq_count(request->get()) < 1) return false;
  return names_issuer(::OCSP_onereq_get0_id(::OCSP_request_onereq_get0(request->get(), 0)));
}

bool OcspResponder::names_issuer(const ::OCSP_CERTID* id) const {
  for (const auto& ours : m_issuer_ids) {
    // Compares hashAlgorithm, issuerNameHash and issuerKeyHash; the serial is left out.
    if (::OCSP_id_issuer_cmp(ours.get(), id) == 0) return true;
  }
  return false;
}

Result<Bytes> OcspResponder::sign(::OCSP_REQUEST* request, const std::vector<CertificateStatus>& statuses,
                                  std::chrono::system_clock::time_point now) const {
  BasicResponsePtr basic(::OCSP_BASICRESP_new());
  if (!basic) return fail(ErrorCode::kSystemFailure, "out of memory");
  // RFC 6960 4.2.2.1: thisUpdate is "The most recent time at which the status being indicated
  // is known by the responder to have been correct" (now: we just asked the store), nextUpdate
  // "The time at or before which newer information will be available".
  const std::int64_t this_update = seconds_of(now);
  if (auto added = add_statuses(basic.get(), request, statuses, this_update, this_update + m_validity.count());
      !added) {
    return tl::unexpected(added.error());
  }
  // RFC 6960 4.4.1: the nonce "is included as one of the requestExtensions in requests, while in
  // responses it would be included as one of the responseExtensions".
  if (::OCSP_copy_nonce(basic.get(), request) <= 0) {
    return fail(ErrorCode::kSystemFailure, "cannot copy the nonce: " + ossl::drain_errors());
  }
  if (auto signed_basic = sign_basic(basic.get(), now); !signed_basic) return tl::unexpected(signed_basic.error());
  ResponsePtr response(::OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, basic.get()));
  Bytes der = ossl::der_with(response.get(), ::i2d_OCSP_RESPONSE);
  if (der.empty()) return fail(ErrorCode::kSystemFailure, "cannot encode the OCSPResponse: " + ossl::drain_errors());
  return der;
}

Status OcspResponder::sign_basic(::OCSP_BASICRESP* basic, std::chrono::system_clock::time_point now) const {
  // OCSP_basic_sign would take producedAt from the system clock; with OCSP_NOTIME it leaves the
  // field alone, and we set it from the injected clock like thisUpdate. The accessor is const
  // only by API: the BasicOCSPResponse is ours and not yet signed.
  auto* produced_at = const_cast<::ASN1_GENERALIZEDTIME*>(::OCSP_resp_get0_produced_at(basic));
  if (produced_at == nullptr ||
      ::ASN1_GENERALIZEDTIME_set(produced_at, static_cast<std::time_t>(seconds_of(now))) == nullptr) {
    return fail(ErrorCode::kSystemFailure, "cannot set producedAt: " + ossl::drain_errors());
  }
  // RFC 6960 4.2.1: "KeyHash ::= OCTET STRING -- SHA-1 hash of responder's public key". A
  // delegated responder's certificate goes along so that clients can check its delegation; the
  // CA's own they have already (they hashed it into the CertID).
  unsigned long flags = OCSP_RESPID_KEY | OCSP_NOTIME;
  if (!m_delegated) flags |= OCSP_NOCERTS;
  ::X509* certificate = m_signer_certificate.get();
  if (::OCSP_basic_sign(basic, certificate, m_signer.signing_key(), m_signer.digest(), nullptr, flags) != 1) {
    return fail(ErrorCode::kSystemUnavailable, "HSM could not sign the OCSP response: " + ossl::drain_errors());
  }
  // A faulty HSM must not put a bad signature into the world.
  if (!signature_verifies(basic, m_signer.public_key())) {
    return fail(ErrorCode::kSystemFailure,
                "HSM signature on the OCSP response does not verify: " + ossl::drain_errors());
  }
  return {};
}

std::optional<Bytes> OcspResponder::cached(const std::string& key, const std::vector<CertificateStatus>& statuses,
                                           std::chrono::system_clock::time_point now) const {
  std::lock_guard lock(m_cache_mutex);
  const auto found = m_cache.find(key);
  if (found == m_cache.end()) return std::nullopt;
  const CachedResponse& entry = found->second;
  // Re-signed once half the validity has passed, so that what is served has at least half of it
  // left; and never served with a thisUpdate ahead of the clock (the clock went back).
  const bool fresh = entry.this_update <= now && now - entry.this_update < m_validity / 2;
  if (!fresh || entry.statuses != statuses) return std::nullopt;
  return entry.der;
}

void OcspResponder::remember(const std::string& key, CachedResponse response) {
  if (m_cache_entries == 0) return;
  std::lock_guard lock(m_cache_mutex);
  // Full: start over rather than track ages. Flushing it costs an attacker no more than sending
  // nonces, which are never cached anyway.
  if (m_cache.size() >= m_cache_entries && !m_cache.contains(key)) m_cache.clear();
  m_cache.insert_or_assign(key, std::move(response));
}

}  // namespace enrolld::ca
