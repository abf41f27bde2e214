#pragma once
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/openssl_util.h"
#include "common/swappable.h"
#include "ra/enrollment_service.h"
#include "store/store.h"

namespace enrolld::ra {

// Validates signer certificates against this appliance's CAs (their roots as anchors, the status
// of what they issued from the store)
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
  // The same for an appliance with several issuing CAs: `ca_chains` holds each one's chain.
  CertificateTrustImpl(store::Store& store, const std::vector<std::vector<Bytes>>& ca_chains,
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
  // Path validation; for a vendor certificate, `valid_until` gets the first notAfter of the chain.
  Result<Requester> validated_path(::X509* signer, const std::vector<::X509*>& untrusted, std::time_t now,
                                   std::time_t* valid_until) const;
  // The chain of the CA of ours that issued `cert`, or null.
  const std::vector<ossl::X509Ptr>* own_chain_of(::X509* cert) const;
  static bool chain_valid_at(const std::vector<ossl::X509Ptr>& chain, std::time_t now);
  Result<Requester> validate_and_remember(::X509* signer, const std::vector<::X509*>& untrusted,
                                          const std::string& key) const;

  // Vendor chains validated before, by chain_key: an EST client presents the same chain on every
  // request, and decoding and verifying it again is most of a request's cost.
  struct Validated {
    std::shared_ptr<const Anchors> anchors;  // the set it validated under; a reload makes a new one
    std::time_t valid_until = 0;             // the first notAfter in its chain
    Requester requester;
  };
  static constexpr std::size_t kValidatedLimit = 4096;
  static std::string chain_key(ByteView signer, const std::vector<ByteView>& untrusted);
  std::optional<Requester> remembered(const std::string& key) const;
  void remember(const std::string& key, Validated validated) const;

  store::Store& m_store;
  std::vector<std::vector<ossl::X509Ptr>> m_ca_chains;  // before m_anchors: the anchors are built from them
  Clock m_clock;
  Swappable<Anchors> m_anchors;
  mutable std::mutex m_validated_mutex;
  mutable std::unordered_map<std::string, Validated> m_validated;  // by chain_key
};

}  // namespace enrolld::ra
