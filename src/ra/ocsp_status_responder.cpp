#include "ra/ocsp_status_responder.h"

namespace enrolld::ra {

OcspStatusResponder::OcspStatusResponder(store::Store& store, const ca::CertificateAuthority& authority,
                                         const hsm::Signer& signer, ossl::X509Ptr signer_certificate,
                                         std::chrono::seconds validity, ca::Clock clock)
    : m_store(store),
      m_issuer(authority.name()),
      m_responder(authority, signer, std::move(signer_certificate), validity, std::move(clock)) {}

Result<ca::CertificateStatus> OcspStatusResponder::status_of(const std::string& serial_hex) {
  using Kind = ca::CertificateStatus::Kind;
  auto found = m_store.find_certificate(serial_hex);
  if (!found) return tl::unexpected(found.error());
  // RFC 6960 2.2: "unknown" ... "the responder doesn't know about the certificate being
  // requested". A serial this CA never issued is one.
  if (!*found || (*found)->issuer != m_issuer) return ca::CertificateStatus{Kind::kUnknown, 0, 0};
  if ((*found)->status == "revoked") {
    return ca::CertificateStatus{Kind::kRevoked, (*found)->revoked_at, (*found)->revocation_reason};
  }
  return ca::CertificateStatus{Kind::kGood, 0, 0};
}

OcspReply OcspStatusResponder::answer(ByteView request_der) {
  ca::OcspAnswer answer =
      m_responder.respond(request_der, [this](const std::string& serial_hex) { return status_of(serial_hex); });
  return OcspReply{std::move(answer.der), answer.response_status == OCSP_RESPONSE_STATUS_SUCCESSFUL,
                   std::move(answer.problem)};
}

}  // namespace enrolld::ra
