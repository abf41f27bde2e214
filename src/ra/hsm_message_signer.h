#pragma once
#include <vector>

#include "hsm/signer.h"
#include "ra/enrollment_service.h"

namespace enrolld::ra {

// A MessageSigner over an HSM key and its certificate chain.
// Thread-safety: as hsm::Signer (concurrent signing). The signer must outlive this object.
class HsmMessageSigner final : public MessageSigner {
 public:
  // `chain`: the signer's certificate first (its public key must be the signer's), then issuers.
  HsmMessageSigner(const hsm::Signer& signer, std::vector<Bytes> chain);

  Result<Bytes> sign(ByteView data) const override { return m_signer.sign(data); }
  const Bytes& algorithm() const override { return m_algorithm; }
  const std::vector<Bytes>& certificates() const override { return m_chain; }
  const Bytes& key_identifier() const override { return m_key_identifier; }

 private:
  const hsm::Signer& m_signer;
  std::vector<Bytes> m_chain;
  Bytes m_algorithm;
  Bytes m_key_identifier;
};

}  // namespace enrolld::ra
