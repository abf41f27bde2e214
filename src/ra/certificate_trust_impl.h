#pragma once
#include <memory>
#include <vector>

#include "common/clock.h"
#include "common/openssl_util.h"
#include "ra/enrollment_service.h"
#include "store/store.h"

namespace enrolld::ra {

// Validates signer certificates against this CA (its root as anchor, its status from the store)
// and against the vendor anchors from the configuration.
// Thread-safety: validate() may run concurrently (the X509_STORE is built once and only read).
class CertificateTrustImpl final : public CertificateTrust {
 public:
  // `ca_chain`: the issuing CA first, up to its root. `vendor_anchors`: self-signed or not,
  // each trusted as an anchor. `authorized_ras`: the exact certificates (DER) of registration
  // authorities, which must still validate under an anchor. The store must outlive this object.
  CertificateTrustImpl(store::Store& store, const std::vector<Bytes>& ca_chain,
                       const std::vector<Bytes>& vendor_anchors, std::vector<Bytes> authorized_ras, Clock clock);

  Result<Requester> validate(ByteView signer, const std::vector<Bytes>& untrusted) const override;

 private:
  Result<Requester> issued_here(const ::X509* cert) const;

  store::Store& m_store;
  std::unique_ptr<::X509_STORE, ossl::Deleter<::X509_STORE_free>> m_anchors;
  std::vector<ossl::X509Ptr> m_ca_chain;
  std::vector<Bytes> m_authorized_ras;
  Clock m_clock;
};

}  // namespace enrolld::ra
