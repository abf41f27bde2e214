#pragma once
// A Signer over a key held in memory. Not for CA keys: the demo uses it for the simulated
// device manufacturer (whose CA lives outside enrolld), and tests for requesters.

#include "common/openssl_util.h"
#include "hsm/signer.h"

namespace enrolld::hsm {

// Thread-safety: concurrent signing is safe (OpenSSL keys are read-only when signing).
class SoftwareSigner final : public Signer {
 public:
  explicit SoftwareSigner(ossl::EvpPkeyPtr key) : m_key(std::move(key)) {}
  ::EVP_PKEY* signing_key() const override { return m_key.get(); }
  ::EVP_PKEY* public_key() const override { return m_key.get(); }
  const ::EVP_MD* digest() const override {
    return ::EVP_PKEY_get_bits(m_key.get()) == 384 ? ::EVP_sha384() : ::EVP_sha256();
  }

 private:
  ossl::EvpPkeyPtr m_key;
};

}  // namespace enrolld::hsm
