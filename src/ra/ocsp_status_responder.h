#pragma once
// The OCSP responder of the appliance's issuing CAs: certificate status from the store, responses
// signed in the HSM by each CA or its delegated responder (ca::OcspResponder). A request is
// answered for the CA its first entry names; entries for another issuer are "unknown".

#include <memory>
#include <vector>

#include "ca/ocsp_responder.h"
#include "ra/enrollment_service.h"
#include "store/store.h"

namespace enrolld::ra {

// One issuing CA as the responder answers for it.
struct OcspIssuer {
  const ca::CertificateAuthority* authority = nullptr;
  const hsm::Signer* signer = nullptr;  // the CA's own key, or its delegated responder's
  ossl::X509Ptr signer_certificate;     // the certificate of `signer`
};

// Thread-safety: answer() may be called concurrently. The store, the CAs and the signers must
// outlive this object.
class OcspStatusResponder final : public StatusResponder {
 public:
  // `issuers` must not be empty; a request naming none of them is answered by the first.
  OcspStatusResponder(store::Store& store, std::vector<OcspIssuer> issuers, std::chrono::seconds validity,
                      ca::Clock clock);
  // One CA.
  OcspStatusResponder(store::Store& store, const ca::CertificateAuthority& authority, const hsm::Signer& signer,
                      ossl::X509Ptr signer_certificate, std::chrono::seconds validity, ca::Clock clock);

  // kConfigInvalid when a signer certificate cannot sign responses for its CA (see
  // ca::OcspResponder::configuration), for start-up to refuse.
  [[nodiscard]] Status configuration() const;

  OcspReply answer(ByteView request_der) override;

 private:
  struct Answering {
    std::string issuer;  // the CA's subject as the store records it
    std::unique_ptr<ca::OcspResponder> responder;
  };
  // What the store says of the certificate with this serial, if `issuer` issued it.
  Result<ca::CertificateStatus> status_of(const std::string& serial_hex, const std::string& issuer);

  store::Store& m_store;
  std::vector<Answering> m_cas;
};

}  // namespace enrolld::ra
