#pragma once
// Central key generation (RFC 9483 4.1.6): key pairs for requesters that cannot make their own,
// and the private key as a key package that the key generation authority signs in the HSM.

#include <vector>

#include "ca/certificate_authority.h"
#include "common/bytes.h"
#include "common/error.h"
#include "common/openssl_util.h"

namespace enrolld::ra {

// A fresh key pair of the kind `algorithm_der` names (a DER AlgorithmIdentifier:
// ecPublicKey with a named curve, or rsaEncryption), or of the profile's first kind when it
// is empty. Errors: kBadAlgorithm (undecodable, or a kind the profile does not accept),
// kSystemFailure.
[[nodiscard]] Result<ossl::EvpPkeyPtr> generate_key_pair(const ca::Profile& profile, ByteView algorithm_der);

// How the generated key goes into the SignedData. RFC 9483 4.1.6 asks for an
// AsymmetricKeyPackage (SEQUENCE OF OneAsymmetricKey); OpenSSL 3.5, the reference client (whose
// authors wrote the profile), reads a single OneAsymmetricKey and fails on the SEQUENCE OF, and
// its own server sends the key alone. The operator picks what the fleet's clients read.
enum class KeyPackageFormat { kSingleKey, kAsymmetricKeyPackage };

// CMS SignedData (DER, without ContentInfo) whose content is `key` as a OneAsymmetricKey
// (RFC 5958, PKCS#8) in `format`, eContentType id-ct-KP-aKeyPackage, signed by
// `signer` (the key in the HSM) with `chain` (signer certificate first) included.
// Errors: kSystemUnavailable (HSM), kSystemFailure.
[[nodiscard]] Result<Bytes> sign_key_package(::EVP_PKEY* key, KeyPackageFormat format, const hsm::Signer& signer,
                                             const std::vector<ossl::X509Ptr>& chain);

}  // namespace enrolld::ra
