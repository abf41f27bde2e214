#pragma once
#include <ctime>
#include <memory>
#include <vector>

#include "common/clock.h"
#include "common/openssl_util.h"
#include "common/swappable.h"
#include "ra/enrollment_service.h"
#include "store/store.h"

namespace enrolld::ra {

// Validates signer certificates against this CA (its root as anchor, its status from the store)
// and against the vendor anchors from the configuration, which a reload may replace.
// Thread-safety: validate() and replace_anchors() may run concurrently. A validation uses the
// anchors it started with; each set of anchors (an X509_STORE) is built once and only read.
class CertificateTrustImpl final : public CertificateTrust {
 public:
  // `ca_chain`: the issuing CA first, up to its root. `vendor_anchors`: self-signed or not,
  // each trusted as an anchor. `authorized_ras`: the exact certificates (DER) of registration
  // authorities, which must still validate under an anchor. The store must outlive this object.
  CertificateTrustImpl(store::Store& store, const std::vector<Bytes>& ca_chain,
                       const std::vector<Bytes>& vendor_anchors, std::vector<Bytes> authorized_ras, Clock clock);

  Result<Requester> validate(ByteView signer, const std::vector<Bytes>& untrusted) const override;
  Result<Requester> validate_decoded(::X509* signer, const std::vector<::X509*>& untrusted) const override;

  // Replaces the vendor anchors and the authorized RAs (as the constructor takes them); this
  // CA's own root stays an anchor. Validations under way finish with the previous set.
  void replace_anchors(const std::vector<Bytes>& vendor_anchors, std::vector<Bytes> authorized_ras);

 private:
  // What a reload replaces, as one immutable value.
  struct Anchors {
    std::shared_ptr<::X509_STORE> store;  // our root and the vendor anchors; never null
    std::vector<Bytes> authorized_ras;
  };
  Anchors make_anchors(const std::vector<Bytes>& vendor_anchors, std::vector<Bytes> authorized_ras) const;
  // A certificate this CA issued: its store record must hold the same bytes, not revoked, and
  // `now` within its validity.
  Result<Requester> issued_here(const ::X509* cert, std::time_t now) const;
  Result<Requester> validated_path(::X509* signer, const std::vector<::X509*>& untrusted, std::time_t now) const;
  bool chain_valid_at(std::time_t now) const;

  store::Store& m_store;
  std::vector<ossl::X509Ptr> m_ca_chain;  // before m_anchors: the anchors are built from it
  Clock m_clock;
  Swappable<Anchors> m_anchors;
};

}  // namespace enrolld::ra
