#pragma once
// The OCSP responder of the issuing CA: certificate status from the store, responses signed in
// the HSM by the CA or a delegated responder (ca::OcspResponder).

#include <memory>

#include "ca/ocsp_responder.h"
#include "ra/enrollment_service.h"
#include "store/store.h"

namespace enrolld::ra {

// Thread-safety: answer() may be called concurrently. The store, the CA and the signer must
// outlive this object.
class OcspStatusResponder final : public StatusResponder {
 public:
  OcspStatusResponder(store::Store& store, const ca::CertificateAuthority& authority, const hsm::Signer& signer,
                      ossl::X509Ptr signer_certificate, std::chrono::seconds validity, ca::Clock clock);

  // kConfigInvalid when the signer certificate cannot sign responses for this CA (see
  // ca::OcspResponder::configuration), for start-up to refuse.
  [[nodiscard]] Status configuration() const { return m_responder.configuration(); }

  OcspReply answer(ByteView request_der) override;

 private:
  // What the store says of the certificate with this serial.
  Result<ca::CertificateStatus> status_of(const std::string& serial_hex);

  store::Store& m_store;
  std::string m_issuer;  // the CA's subject as the store records it
  ca::OcspResponder m_responder;
};

}  // namespace enrolld::ra
