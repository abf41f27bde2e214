#pragma once
// Signers that misbehave the way a broken HSM or driver could, for tests that nothing such a
// device signs leaves the appliance.

#include "common/openssl_util.h"
#include "hsm/signer.h"

namespace enrolld::testing {

// A signer whose signing key is not what it claims: a device that cannot sign (only a public key
// inside) or that signs wrongly (see mismatched_key_pair). public_key() is the real one.
class FaultySigner final : public hsm::Signer {
 public:
  FaultySigner(ossl::EvpPkeyPtr signing_key, ::EVP_PKEY* public_key)
      : m_signing_key(std::move(signing_key)), m_public_key(public_key) {}
  ::EVP_PKEY* signing_key() const override { return m_signing_key.get(); }
  ::EVP_PKEY* public_key() const override { return m_public_key; }
  const ::EVP_MD* digest() const override { return ::EVP_sha256(); }

 private:
  ossl::EvpPkeyPtr m_signing_key;
  ::EVP_PKEY* m_public_key;
};

// `public_key`'s P-256 point with another key's private scalar: OpenSSL takes it for the same
// key (the public halves are equal), but its signatures do not verify. Null on failure.
ossl::EvpPkeyPtr mismatched_key_pair(::EVP_PKEY* public_key);

}  // namespace enrolld::testing
