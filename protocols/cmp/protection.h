#pragma once
// PasswordBasedMac (RFC 4211 4.4, profiled by RFC 9481 6.1.1) for CMP message protection.
// The parameters come from the attacker: they are checked against limits before the KDF runs.

#include <cstdint>

#include <openssl/x509.h>

#include "common/bytes.h"
#include "common/error.h"

namespace enrolld::cmp {

struct PbmLimits {
  std::uint64_t min_iterations = 100;
  std::uint64_t max_iterations = 100000;  // CPU bound per request
  std::size_t min_salt_bytes = 8;
  std::size_t max_salt_bytes = 64;
};

struct PbmParameters {
  Bytes salt;
  const ::EVP_MD* owf = nullptr;  // the one-way function iterated over secret || salt
  int owf_nid = 0;
  std::uint64_t iterations = 0;
  const ::EVP_MD* mac_digest = nullptr;  // HMAC's hash
  int mac_nid = 0;                       // the MAC algorithm OID (hmac-sha1, hmacWithSHA256, ...)
};

// Returns true if the algorithm identifier is id-PasswordBasedMac.
bool is_password_based_mac(const ::X509_ALGOR* algorithm);

// Returns the parameters of a PasswordBasedMac AlgorithmIdentifier, or kBadDataFormat (not
// decodable) / kBadAlgorithm (unknown OWF or MAC, iteration count or salt outside the limits).
Result<PbmParameters> parse_pbm_parameters(const ::X509_ALGOR* algorithm, const PbmLimits& limits);

// The AlgorithmIdentifier for `params`, for a response's protectionAlg; nullptr on failure.
::X509_ALGOR* make_pbm_algorithm(const PbmParameters& params);

// BASEKEY of RFC 4211 4.4: the OWF applied `iterations` times to secret || salt. The costly
// part; callers derive it once per message exchange and reuse it for the response. Empty only
// if the digest library fails, which then fails verification like a wrong secret.
Bytes derive_pbm_key(const PbmParameters& params, ByteView secret);

// HMAC over `data` with the derived key.
Bytes pbm_mac(const PbmParameters& params, ByteView key, ByteView data);

}  // namespace enrolld::cmp
