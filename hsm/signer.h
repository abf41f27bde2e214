#pragma once
// A signing key that never leaves its device. The CA, CRL and OCSP code sign through this
// interface only; which device (PKCS#11 token, later a cloud KMS) is decided at start-up.

#include <openssl/evp.h>

#include "common/bytes.h"
#include "common/error.h"

namespace enrolld::hsm {

// Thread-safety: implementations are safe for concurrent signing from many threads.
class Signer {
 public:
  virtual ~Signer() = default;

  // An OpenSSL key handle whose private-key operations run inside the device; OpenSSL's
  // X509_sign, X509_CRL_sign, OCSP_basic_sign and CMS take it directly. Never null.
  virtual ::EVP_PKEY* signing_key() const = 0;

  // The public half, for verifying what was signed and for certificates. Never null.
  virtual ::EVP_PKEY* public_key() const = 0;

  // The digest used with this key (SHA-256 for P-256 and RSA-2048).
  virtual const ::EVP_MD* digest() const = 0;

  // Signs `data` (hashing it with digest()) and verifies the signature with public_key().
  // Returns the signature in the algorithm's standard encoding (DER ECDSA-Sig-Value, PKCS#1
  // v1.5), kSystemUnavailable if the device failed, kSystemFailure if its signature is wrong.
  [[nodiscard]] Result<Bytes> sign(ByteView data) const;
};

}  // namespace enrolld::hsm
