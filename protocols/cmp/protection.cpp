#include "protocols/cmp/protection.h"

#include <climits>
#include <optional>
#include <string_view>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>

#include "common/openssl_util.h"
#include "protocols/cmp/cmp_asn1.h"
#include "protocols/cmp/pbmac1_asn1.h"

namespace enrolld::cmp {

namespace {

using Kind = PbmParameters::Kind;
using AlgorPtr = std::unique_ptr<::X509_ALGOR, ossl::Deleter<::X509_ALGOR_free>>;
using Asn1StringPtr = std::unique_ptr<::ASN1_STRING, ossl::Deleter<::ASN1_STRING_free>>;
using PbmParamPtr = std::unique_ptr<ECMP_PBMPARAMETER, ossl::Deleter<ECMP_PBMPARAMETER_free>>;
using Pbmac1ParamPtr = std::unique_ptr<ECMP_PBMAC1PARAM, ossl::Deleter<ECMP_PBMAC1PARAM_free>>;
using Pbkdf2ParamPtr = std::unique_ptr<::PBKDF2PARAM, ossl::Deleter<::PBKDF2PARAM_free>>;

// ---- algorithms ----

// RFC 9481 6.1.1 names HMAC-SHA1 (legacy, OpenSSL's default) and the SHA-2 HMACs.
const ::EVP_MD* hmac_digest(int nid) {
  switch (nid) {
    case NID_hmac_sha1: return ::EVP_sha1();
    case NID_hmacWithSHA224: return ::EVP_sha224();
    case NID_hmacWithSHA256: return ::EVP_sha256();
    case NID_hmacWithSHA384: return ::EVP_sha384();
    case NID_hmacWithSHA512: return ::EVP_sha512();
    default: return nullptr;
  }
}

// RFC 9481 6.2.1: "The HMAC algorithm used with SHA2 message digest algorithms is identified by
// the following OIDs": id-hmacWithSHA224, -SHA256, -SHA384, -SHA512. PBMAC1 is new in CMP, so
// its messageAuthScheme gets these only, without the legacy HMAC-SHA1.
const ::EVP_MD* sha2_hmac_digest(int nid) {
  return nid == NID_hmac_sha1 ? nullptr : hmac_digest(nid);
}

// PBKDF2's PRF: RFC 8018 A.2's DEFAULT algid-hmacWithSHA1, or a SHA-2 HMAC of RFC 9481 6.2.1,
// which lists the "prf field of PBKDF2-params" among the places of its MAC identifiers.
const ::EVP_MD* prf_digest(int nid) {
  return nid == NID_hmacWithSHA1 ? ::EVP_sha1() : sha2_hmac_digest(nid);
}

const ::EVP_MD* owf_digest(int nid) {
  switch (nid) {
    case NID_sha1: return ::EVP_sha1();
    case NID_sha224: return ::EVP_sha224();
    case NID_sha256: return ::EVP_sha256();
    case NID_sha384: return ::EVP_sha384();
    case NID_sha512: return ::EVP_sha512();
    default: return nullptr;
  }
}

int algorithm_nid(const ::X509_ALGOR* algorithm) {
  const ::ASN1_OBJECT* oid = nullptr;
  ::X509_ALGOR_get0(&oid, nullptr, nullptr, algorithm);
  return ::OBJ_obj2nid(oid);
}

// The algorithm's OID in dotted form, for messages that tell the sender what we refused.
std::string oid_text(const ::X509_ALGOR* algorithm) {
  const ::ASN1_OBJECT* oid = nullptr;
  ::X509_ALGOR_get0(&oid, nullptr, nullptr, algorithm);
  char text[80] = {};
  if (oid == nullptr || ::OBJ_obj2txt(text, sizeof text, oid, 1) <= 0) return "(none)";
  return text;
}

// RFC 4231 3.1: for the HMAC-SHA-2 OIDs the "'parameter' component SHOULD be present but have
// type NULL"; absent parameters are accepted too, anything else is not an HMAC identifier.
Status check_hmac_parameters(const ::X509_ALGOR* algorithm, std::string_view field) {
  int type = V_ASN1_UNDEF;
  ::X509_ALGOR_get0(nullptr, &type, nullptr, algorithm);
  if (type == V_ASN1_UNDEF || type == V_ASN1_NULL) return {};
  return fail(ErrorCode::kBadAlgorithm, std::string(field) + " " + oid_text(algorithm) +
                                            " has parameters; an HMAC's must be NULL or absent (RFC 4231 3.1)");
}

// ---- DER ----

// The DER of the algorithm's parameters if they are a SEQUENCE; nullopt if absent or another type.
std::optional<ByteView> sequence_parameter(const ::X509_ALGOR* algorithm) {
  int type = V_ASN1_UNDEF;
  const void* value = nullptr;
  ::X509_ALGOR_get0(nullptr, &type, &value, algorithm);
  if (type != V_ASN1_SEQUENCE || value == nullptr) return std::nullopt;
  const auto* seq = static_cast<const ::ASN1_STRING*>(value);
  return ByteView(::ASN1_STRING_get0_data(seq), static_cast<std::size_t>(::ASN1_STRING_length(seq)));
}

// Decodes exactly one structure from `der`: null if it does not decode or bytes are left over.
template <typename Ptr, typename D2i>
Ptr decode_exactly(ByteView der, D2i d2i) {
  const unsigned char* p = der.data();
  Ptr decoded(d2i(nullptr, &p, static_cast<long>(der.size())));
  if (decoded && p != der.data() + der.size()) decoded.reset();
  ::ERR_clear_error();
  return decoded;
}

// Sets `algorithm` to { the OID of `nid`, the SEQUENCE `der` }; false if `der` is empty or on
// failure.
bool set_sequence_parameter(::X509_ALGOR* algorithm, int nid, const Bytes& der) {
  Asn1StringPtr seq(::ASN1_STRING_type_new(V_ASN1_SEQUENCE));
  if (der.empty() || !seq || ::ASN1_STRING_set(seq.get(), der.data(), static_cast<int>(der.size())) != 1 ||
      ::X509_ALGOR_set0(algorithm, ::OBJ_nid2obj(nid), V_ASN1_SEQUENCE, seq.get()) != 1) {
    return false;
  }
  static_cast<void>(seq.release());  // owned by `algorithm` now
  return true;
}

// ---- limits, all checked before any KDF runs ----

std::string range(std::uint64_t min, std::uint64_t max) {
  return std::to_string(min) + ".." + std::to_string(max);
}

Status check_salt(std::size_t bytes, const PbmLimits& limits, std::string_view scheme) {
  if (bytes >= limits.min_salt_bytes && bytes <= limits.max_salt_bytes) return {};
  return fail(ErrorCode::kBadAlgorithm, std::string(scheme) + " salt of " + std::to_string(bytes) +
                                            " bytes is outside the accepted " +
                                            range(limits.min_salt_bytes, limits.max_salt_bytes));
}

Result<std::uint64_t> checked_iterations(const ::ASN1_INTEGER* count, const PbmLimits& limits,
                                         std::string_view scheme) {
  std::uint64_t iterations = 0;
  if (::ASN1_INTEGER_get_uint64(&iterations, count) != 1 || iterations < limits.min_iterations ||
      iterations > limits.max_iterations) {
    ::ERR_clear_error();
    return fail(ErrorCode::kBadAlgorithm, std::string(scheme) + " iterationCount is outside the accepted " +
                                              range(limits.min_iterations, limits.max_iterations));
  }
  return iterations;
}

Result<std::size_t> checked_key_length(const ::ASN1_INTEGER* length, const PbmLimits& limits) {
  // RFC 8018 A.2: "keyLength, an optional field, is the length in octets of the derived key."
  // RFC 8018 7.1.2 step 2: "Obtain the key length in octets, dkLen, for the derived key for the
  // underlying message authentication scheme." RFC 9481 6.1.2 defers to RFC 8018 and names no
  // default, and HMAC "has a variable key length" (RFC 8018 B.3.1): without keyLength the
  // verifier cannot know dkLen, so PBMAC1 in CMP needs it.
  const std::string accepted = range(limits.min_key_bytes, limits.max_key_bytes);
  if (length == nullptr) {
    return fail(ErrorCode::kBadAlgorithm,
                "PBMAC1's PBKDF2-params lack keyLength, the HMAC key length the KDF must derive; send keyLength "
                "(" +
                    accepted + " octets, e.g. 32)");
  }
  std::uint64_t octets = 0;
  if (::ASN1_INTEGER_get_uint64(&octets, length) != 1 || octets < limits.min_key_bytes ||
      octets > limits.max_key_bytes) {
    ::ERR_clear_error();
    return fail(ErrorCode::kBadAlgorithm, "PBKDF2 keyLength is outside the accepted " + accepted + " octets");
  }
  return static_cast<std::size_t>(octets);
}

// ---- PasswordBasedMac (RFC 4211 4.4) ----

Result<PbmParameters> parse_password_based_mac(const ::X509_ALGOR* algorithm, const PbmLimits& limits) {
  const auto der = sequence_parameter(algorithm);
  if (!der) return fail(ErrorCode::kBadDataFormat, "PasswordBasedMac without parameters");
  const auto decoded = decode_exactly<PbmParamPtr>(*der, d2i_ECMP_PBMPARAMETER);
  if (!decoded) return fail(ErrorCode::kBadDataFormat, "PasswordBasedMac parameters are not a PBMParameter");

  PbmParameters out;
  out.kind = Kind::kPasswordBasedMac;
  out.salt.assign(decoded->salt->data, decoded->salt->data + decoded->salt->length);
  if (auto salt = check_salt(out.salt.size(), limits, "PBM"); !salt) return tl::unexpected(salt.error());
  auto iterations = checked_iterations(decoded->iterationCount, limits, "PBM");
  if (!iterations) return tl::unexpected(iterations.error());
  out.iterations = *iterations;
  out.owf_nid = algorithm_nid(decoded->owf);
  out.owf = owf_digest(out.owf_nid);
  out.mac_nid = algorithm_nid(decoded->mac);
  out.mac_digest = hmac_digest(out.mac_nid);
  if (out.owf == nullptr) return fail(ErrorCode::kBadAlgorithm, "unsupported PBM one-way function");
  if (out.mac_digest == nullptr) {
    return fail(ErrorCode::kBadAlgorithm, "unsupported PBM MAC (use hmac-sha1 or hmacWithSHA256)");
  }
  return out;
}

Bytes password_based_mac_der(const PbmParameters& params) {
  PbmParamPtr pbm(ECMP_PBMPARAMETER_new());
  if (!pbm || ::ASN1_OCTET_STRING_set(pbm->salt, params.salt.data(), static_cast<int>(params.salt.size())) != 1 ||
      ::X509_ALGOR_set0(pbm->owf, ::OBJ_nid2obj(params.owf_nid), V_ASN1_UNDEF, nullptr) != 1 ||
      ::ASN1_INTEGER_set_uint64(pbm->iterationCount, params.iterations) != 1 ||
      ::X509_ALGOR_set0(pbm->mac, ::OBJ_nid2obj(params.mac_nid), V_ASN1_UNDEF, nullptr) != 1) {
    return {};
  }
  return ossl::der_with(pbm.get(), i2d_ECMP_PBMPARAMETER);
}

Bytes password_based_mac_key(const PbmParameters& params, ByteView secret) {
  // One digest context for all iterations: EVP_Digest() would fetch and free one per round,
  // which costs more than the hash of a few dozen bytes itself.
  ossl::EvpMdCtxPtr ctx(::EVP_MD_CTX_new());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!ctx || ::EVP_DigestInit_ex2(ctx.get(), params.owf, nullptr) != 1 ||
      ::EVP_DigestUpdate(ctx.get(), secret.data(), secret.size()) != 1 ||
      ::EVP_DigestUpdate(ctx.get(), params.salt.data(), params.salt.size()) != 1 ||
      ::EVP_DigestFinal_ex(ctx.get(), digest, &len) != 1) {
    return {};
  }
  for (std::uint64_t i = 1; i < params.iterations; ++i) {
    if (::EVP_DigestInit_ex2(ctx.get(), nullptr, nullptr) != 1 || ::EVP_DigestUpdate(ctx.get(), digest, len) != 1 ||
        ::EVP_DigestFinal_ex(ctx.get(), digest, &len) != 1) {
      return {};
    }
  }
  Bytes key(digest, digest + len);
  ::OPENSSL_cleanse(digest, sizeof digest);
  return key;
}

// ---- PBMAC1 (RFC 8018 7.1, A.5) with PBKDF2 (RFC 8018 5.2, A.2) ----

Status parse_pbkdf2_salt(const ::ASN1_TYPE& salt, const PbmLimits& limits, PbmParameters& out) {
  // RFC 8018 A.2: salt is "either an octet string or an algorithm ID with an OID in the set
  // PBKDF2-SaltSources, which is reserved for future versions of PKCS #5."
  if (salt.type == V_ASN1_SEQUENCE) {
    return fail(ErrorCode::kBadAlgorithm,
                "PBKDF2 salt must be the 'specified' OCTET STRING; the otherSource "
                "AlgorithmIdentifier is reserved (RFC 8018 A.2)");
  }
  if (salt.type != V_ASN1_OCTET_STRING) {
    return fail(ErrorCode::kBadDataFormat, "PBKDF2 salt is neither an OCTET STRING nor an AlgorithmIdentifier");
  }
  const ::ASN1_OCTET_STRING* octets = salt.value.octet_string;
  out.salt.assign(octets->data, octets->data + octets->length);
  return check_salt(out.salt.size(), limits, "PBMAC1");
}

Status parse_pbkdf2_prf(const ::X509_ALGOR* prf, PbmParameters& out) {
  // RFC 8018 A.2: "prf AlgorithmIdentifier {{PBKDF2-PRFs}} DEFAULT algid-hmacWithSHA1".
  out.prf_nid = prf == nullptr ? NID_hmacWithSHA1 : algorithm_nid(prf);
  out.prf_digest = prf_digest(out.prf_nid);
  if (out.prf_digest == nullptr) {
    return fail(ErrorCode::kBadAlgorithm, "unsupported PBKDF2 prf " + oid_text(prf) +
                                              " (use hmacWithSHA256, hmacWithSHA384, hmacWithSHA512, "
                                              "hmacWithSHA224 or leave it out for hmacWithSHA1)");
  }
  return prf == nullptr ? Status{} : check_hmac_parameters(prf, "PBKDF2 prf");
}

Status parse_pbkdf2(const ::X509_ALGOR* kdf, const PbmLimits& limits, PbmParameters& out) {
  // RFC 8018 A.5: "PBMAC1-KDFs ALGORITHM-IDENTIFIER ::= { {PBKDF2-params IDENTIFIED BY
  // id-PBKDF2}, ... }"
  if (algorithm_nid(kdf) != NID_id_pbkdf2) {
    return fail(ErrorCode::kBadAlgorithm,
                "unsupported PBMAC1 keyDerivationFunc " + oid_text(kdf) + " (use id-PBKDF2, 1.2.840.113549.1.5.12)");
  }
  const auto der = sequence_parameter(kdf);
  const auto decoded = der ? decode_exactly<Pbkdf2ParamPtr>(*der, d2i_PBKDF2PARAM) : nullptr;
  if (!decoded) return fail(ErrorCode::kBadDataFormat, "PBMAC1's PBKDF2 parameters are not a PBKDF2-params");
  if (auto salt = parse_pbkdf2_salt(*decoded->salt, limits, out); !salt) return salt;
  auto iterations = checked_iterations(decoded->iter, limits, "PBMAC1");
  if (!iterations) return tl::unexpected(iterations.error());
  out.iterations = *iterations;
  auto key_length = checked_key_length(decoded->keylength, limits);
  if (!key_length) return tl::unexpected(key_length.error());
  out.key_length = *key_length;
  return parse_pbkdf2_prf(decoded->prf, out);
}

Status parse_pbmac1_mac(const ::X509_ALGOR* mac, PbmParameters& out) {
  out.mac_nid = algorithm_nid(mac);
  out.mac_digest = sha2_hmac_digest(out.mac_nid);
  if (out.mac_digest == nullptr) {
    return fail(ErrorCode::kBadAlgorithm, "unsupported PBMAC1 messageAuthScheme " + oid_text(mac) +
                                              " (use hmacWithSHA256, hmacWithSHA384, hmacWithSHA512 or "
                                              "hmacWithSHA224, RFC 9481 6.2.1)");
  }
  return check_hmac_parameters(mac, "PBMAC1 messageAuthScheme");
}

// RFC 9481 6.1.2: "PBMAC1 combines a password-based key derivation function, like PBKDF2 [...],
// with an underlying symmetric key-based message authentication scheme."
Result<PbmParameters> parse_pbmac1(const ::X509_ALGOR* algorithm, const PbmLimits& limits) {
  const auto der = sequence_parameter(algorithm);
  if (!der) return fail(ErrorCode::kBadDataFormat, "PBMAC1 without parameters (a PBMAC1-params SEQUENCE)");
  const auto decoded = decode_exactly<Pbmac1ParamPtr>(*der, d2i_ECMP_PBMAC1PARAM);
  if (!decoded) return fail(ErrorCode::kBadDataFormat, "PBMAC1 parameters are not a PBMAC1-params");

  PbmParameters out;
  out.kind = Kind::kPbmac1;
  if (auto kdf = parse_pbkdf2(decoded->keyDerivationFunc, limits, out); !kdf) return tl::unexpected(kdf.error());
  if (auto mac = parse_pbmac1_mac(decoded->messageAuthScheme, out); !mac) return tl::unexpected(mac.error());
  return out;
}

Bytes pbkdf2_params_der(const PbmParameters& params) {
  Pbkdf2ParamPtr pbkdf2(::PBKDF2PARAM_new());
  ossl::Asn1OctetStringPtr salt(::ASN1_OCTET_STRING_new());
  if (!pbkdf2 || pbkdf2->salt == nullptr || !salt ||
      ::ASN1_OCTET_STRING_set(salt.get(), params.salt.data(), static_cast<int>(params.salt.size())) != 1) {
    return {};
  }
  ::ASN1_TYPE_set(pbkdf2->salt, V_ASN1_OCTET_STRING, salt.release());
  pbkdf2->keylength = ::ASN1_INTEGER_new();
  if (::ASN1_INTEGER_set_uint64(pbkdf2->iter, params.iterations) != 1 || pbkdf2->keylength == nullptr ||
      ::ASN1_INTEGER_set_uint64(pbkdf2->keylength, params.key_length) != 1) {
    return {};
  }
  // DER leaves out a DEFAULT value: the prf only when it is not hmacWithSHA1.
  if (params.prf_nid != NID_hmacWithSHA1) {
    pbkdf2->prf = ::X509_ALGOR_new();
    if (pbkdf2->prf == nullptr ||
        ::X509_ALGOR_set0(pbkdf2->prf, ::OBJ_nid2obj(params.prf_nid), V_ASN1_NULL, nullptr) != 1) {
      return {};
    }
  }
  return ossl::der_with(pbkdf2.get(), i2d_PBKDF2PARAM);
}

Bytes pbmac1_params_der(const PbmParameters& params) {
  Pbmac1ParamPtr pbmac1(ECMP_PBMAC1PARAM_new());
  if (!pbmac1 || !set_sequence_parameter(pbmac1->keyDerivationFunc, NID_id_pbkdf2, pbkdf2_params_der(params)) ||
      ::X509_ALGOR_set0(pbmac1->messageAuthScheme, ::OBJ_nid2obj(params.mac_nid), V_ASN1_NULL, nullptr) != 1) {
    return {};
  }
  return ossl::der_with(pbmac1.get(), i2d_ECMP_PBMAC1PARAM);
}

// RFC 8018 7.1.2 step 3: "DK = KDF (P, S, c, dkLen)".
Bytes pbkdf2_key(const PbmParameters& params, ByteView secret) {
  if (params.iterations > INT_MAX || params.key_length > INT_MAX || secret.size() > INT_MAX) return {};
  Bytes key(params.key_length);
  if (::PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(secret.data()), static_cast<int>(secret.size()),
                          params.salt.data(), static_cast<int>(params.salt.size()), static_cast<int>(params.iterations),
                          params.prf_digest, static_cast<int>(key.size()), key.data()) != 1) {
    ::OPENSSL_cleanse(key.data(), key.size());
    return {};
  }
  return key;
}

}  // namespace

bool is_password_based_mac(const ::X509_ALGOR* algorithm) {
  if (algorithm == nullptr) return false;
  const int nid = algorithm_nid(algorithm);
  return nid == NID_id_PasswordBasedMAC || nid == NID_pbmac1;
}

Result<PbmParameters> parse_pbm_parameters(const ::X509_ALGOR* algorithm, const PbmLimits& limits) {
  if (algorithm == nullptr) return fail(ErrorCode::kBadDataFormat, "no protectionAlg");
  if (algorithm_nid(algorithm) == NID_pbmac1) return parse_pbmac1(algorithm, limits);
  return parse_password_based_mac(algorithm, limits);
}

::X509_ALGOR* make_pbm_algorithm(const PbmParameters& params) {
  const bool pbmac1 = params.kind == Kind::kPbmac1;
  const Bytes der = pbmac1 ? pbmac1_params_der(params) : password_based_mac_der(params);
  AlgorPtr algorithm(::X509_ALGOR_new());
  if (!algorithm || !set_sequence_parameter(algorithm.get(), pbmac1 ? NID_pbmac1 : NID_id_PasswordBasedMAC, der)) {
    return nullptr;
  }
  return algorithm.release();
}

Bytes derive_pbm_key(const PbmParameters& params, ByteView secret) {
  return params.kind == Kind::kPbmac1 ? pbkdf2_key(params, secret) : password_based_mac_key(params, secret);
}

Bytes pbm_mac(const PbmParameters& params, ByteView key, ByteView data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!key.empty() && params.mac_digest != nullptr &&
      ::HMAC(params.mac_digest, key.data(), static_cast<int>(key.size()), data.data(), data.size(), mac, &len) !=
          nullptr) {
    return Bytes(mac, mac + len);
  }
  // An empty key would give an HMAC anyone can compute, and an empty result would equal an empty
  // sent MAC: a failure must never verify, so it yields bytes no one can predict.
  const int size = params.mac_digest != nullptr ? ::EVP_MD_get_size(params.mac_digest) : 0;
  return random_bytes(size > 0 ? static_cast<std::size_t>(size) : EVP_MAX_MD_SIZE);
}

}  // namespace enrolld::cmp
