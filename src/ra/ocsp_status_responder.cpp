#include "ra/ocsp_status_responder.h"

namespace enrolld::ra {

namespace {

std::vector<OcspIssuer> one_issuer(const ca::CertificateAuthority& authority, const hsm::Signer& signer,
                                   ossl::X509Ptr signer_certificate) {
  std::vector<OcspIssuer> issuers;
  issuers.push_back({&authority, &signer, std::move(signer_certificate)});
  return issuers;
}

}  // namespace

OcspStatusResponder::OcspStatusResponder(store::Store& store, std::vector<OcspIssuer> issuers,
                                         std::chrono::seconds validity, ca::Clock clock)
    : m_store(store) {
  for (auto& issuer : issuers) {
    m_cas.push_back({issuer.authority->name(),
                     std::make_unique<ca::OcspResponder>(*issuer.authority, *issuer.signer,
                                                         std::move(issuer.signer_certificate), validity, clock)});
  }
}

OcspStatusResponder::OcspStatusResponder(store::Store& store, const ca::CertificateAuthority& authority,
                                         const hsm::Signer& signer, ossl::X509Ptr signer_certificate,
                                         std::chrono::seconds validity, ca::Clock clock)
    : OcspStatusResponder(store, one_issuer(authority, signer, std::move(signer_certificate)), validity,
                          std::move(clock)) {}

Status OcspStatusResponder::configuration() const {
  for (const auto& ca : m_cas) {
    if (auto ok = ca.responder->configuration(); !ok) return ok;
  }
  return {};
}

Result<ca::CertificateStatus> OcspStatusResponder::status_of(const std::string& serial_hex, const std::string& issuer) {
  using Kind = ca::CertificateStatus::Kind;
  auto found = m_store.find_certificate(serial_hex);
  if (!found) return tl::unexpected(found.error());
  // RFC 6960 2.2: "unknown" ... "the responder doesn't know about the certificate being
  // requested". A serial this CA never issued is one.
  if (!*found || (*found)->issuer != issuer) return ca::CertificateStatus{Kind::kUnknown, 0, 0};
  if ((*found)->status == "revoked") {
    return ca::CertificateStatus{Kind::kRevoked, (*found)->revoked_at, (*found)->revocation_reason};
  }
  return ca::CertificateStatus{Kind::kGood, 0, 0};
}

OcspReply OcspStatusResponder::answer(ByteView request_der) {
  const Answering* chosen = &m_cas.front();
  if (m_cas.size() > 1) {
    for (const auto& ca : m_cas) {
      if (ca.responder->answers_for(request_der)) {
        chosen = &ca;
        break;
      }
    }
  }
  ca::OcspAnswer answer = chosen->responder->respond(
      request_der, [this, chosen](const std::string& serial_hex) { return status_of(serial_hex, chosen->issuer); });
  return OcspReply{std::move(answer.der), answer.response_status == OCSP_RESPONSE_STATUS_SUCCESSFUL,
                   std::move(answer.problem)};
}

}  // namespace enrolld::ra
