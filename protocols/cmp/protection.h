#pragma once
// Password-based MAC protection of CMP messages (RFC 9481 6.1): PasswordBasedMac (RFC 4211 4.4,
// RFC 9481 6.1.1) and PBMAC1 (RFC 8018 7.1 and A.5, RFC 9481 6.1.2) with PBKDF2.
// The parameters come from the attacker: they are checked against limits before the KDF runs.

#include <cstdint>

#include <openssl/x509.h>

#include "common/bytes.h"
#include "common/error.h"

namespace enrolld::cmp {

struct PbmLimits {
  // The KDF's iteration count (PBM: OWF rounds; PBMAC1: PBKDF2's iterationCount).
  std::uint64_t min_iterations = 100;
  std::uint64_t max_iterations = 100000;  // CPU bound per request
  std::size_t min_salt_bytes = 8;
  std::size_t max_salt_bytes = 64;
  // PBMAC1's keyLength, the derived HMAC key. 16 octets keep HMAC at 128 bits; 64 is the
  // longest SHA-2 output. PBKDF2 runs its iterations once per PRF output block, so the longest
  // key with the shortest PRF (SHA-1) costs ceil(64 / 20) = 4 times max_iterations.
  std::size_t min_key_bytes = 16;
  std::size_t max_key_bytes = 64;
};

struct PbmParameters {
  enum class Kind {
    kPasswordBasedMac,  // id-PasswordBasedMac, PBMParameter
    kPbmac1,            // id-PBMAC1, PBMAC1-params with PBKDF2-params
  };
  Kind kind = Kind::kPasswordBasedMac;
  Bytes salt;
  std::uint64_t iterations = 0;
  // PasswordBasedMac only: the one-way function iterated over secret || salt.
  const ::EVP_MD* owf = nullptr;
  int owf_nid = 0;
  // PBMAC1 only: PBKDF2's pseudorandom function (hmacWithSHA1, the default, or a SHA-2 HMAC)
  // and keyLength, the length in octets of the key it derives.
  const ::EVP_MD* prf_digest = nullptr;  // the PRF's HMAC hash
  int prf_nid = 0;                       // the PRF's OID (hmacWithSHA1, hmacWithSHA256, ...)
  std::size_t key_length = 0;
  // Both: the MAC over the protected part, with the derived key.
  const ::EVP_MD* mac_digest = nullptr;  // HMAC's hash
  int mac_nid = 0;                       // the MAC algorithm OID (hmac-sha1, hmacWithSHA256, ...)
};

// Returns true if the algorithm identifier is a password-based MAC: PasswordBasedMac or PBMAC1;
// false for anything else, including nullptr.
bool is_password_based_mac(const ::X509_ALGOR* algorithm);

// Returns the parameters of a PasswordBasedMac or PBMAC1 AlgorithmIdentifier, or
// kBadDataFormat (parameters absent or not decodable) / kBadAlgorithm (an algorithm we do not
// accept: OWF, KDF, PRF or MAC; or iteration count, salt or key length outside the limits).
// Runs no KDF.
Result<PbmParameters> parse_pbm_parameters(const ::X509_ALGOR* algorithm, const PbmLimits& limits);

// The AlgorithmIdentifier for `params` (same OID, same parameters), for a response's
// protectionAlg; the caller owns it. nullptr on failure.
::X509_ALGOR* make_pbm_algorithm(const PbmParameters& params);

// The MAC key: BASEKEY of RFC 4211 4.4 (the OWF applied `iterations` times to secret || salt)
// or, for PBMAC1, PBKDF2(secret, salt, iterations, key_length) with the PRF. The costly part;
// callers derive it once per message exchange and reuse it for the response. Empty only if the
// digest library fails, which then fails verification like a wrong secret (see pbm_mac).
Bytes derive_pbm_key(const PbmParameters& params, ByteView secret);

// HMAC over `data` with the derived key. For an empty key (a failed derivation) or a failing
// HMAC it returns random bytes of the MAC's length: a value no one can predict, so that it
// cannot match a sent MAC, not even an empty one.
Bytes pbm_mac(const PbmParameters& params, ByteView key, ByteView data);

}  // namespace enrolld::cmp
