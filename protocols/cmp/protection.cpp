#include "protocols/cmp/protection.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>

#include "common/openssl_util.h"
#include "protocols/cmp/cmp_asn1.h"

namespace enrolld::cmp {

namespace {

using PbmParamPtr = std::unique_ptr<ECMP_PBMPARAMETER, ossl::Deleter<ECMP_PBMPARAMETER_free>>;

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

}  // namespace

bool is_password_based_mac(const ::X509_ALGOR* algorithm) {
  return algorithm != nullptr && algorithm_nid(algorithm) == NID_id_PasswordBasedMAC;
}

Result<PbmParameters> parse_pbm_parameters(const ::X509_ALGOR* algorithm, const PbmLimits& limits) {
  int param_type = 0;
  const void* param = nullptr;
  ::X509_ALGOR_get0(nullptr, &param_type, &param, algorithm);
  if (param_type != V_ASN1_SEQUENCE || param == nullptr) {
    return fail(ErrorCode::kBadDataFormat, "PasswordBasedMac without parameters");
  }
  const auto* seq = static_cast<const ::ASN1_STRING*>(param);
  const unsigned char* p = ::ASN1_STRING_get0_data(seq);
  PbmParamPtr decoded(d2i_ECMP_PBMPARAMETER(nullptr, &p, ::ASN1_STRING_length(seq)));
  if (!decoded) return fail(ErrorCode::kBadDataFormat, "PasswordBasedMac parameters are not a PBMParameter");

  PbmParameters out;
  out.salt.assign(decoded->salt->data, decoded->salt->data + decoded->salt->length);
  if (out.salt.size() < limits.min_salt_bytes || out.salt.size() > limits.max_salt_bytes) {
    return fail(ErrorCode::kBadAlgorithm,
                "PBM salt of " + std::to_string(out.salt.size()) + " bytes is outside the accepted " +
                    std::to_string(limits.min_salt_bytes) + ".." + std::to_string(limits.max_salt_bytes));
  }
  std::uint64_t iterations = 0;
  if (::ASN1_INTEGER_get_uint64(&iterations, decoded->iterationCount) != 1 || iterations < limits.min_iterations ||
      iterations > limits.max_iterations) {
    ::ERR_clear_error();
    return fail(ErrorCode::kBadAlgorithm, "PBM iterationCount is outside the accepted " +
                                              std::to_string(limits.min_iterations) + ".." +
                                              std::to_string(limits.max_iterations));
  }
  out.iterations = iterations;
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

::X509_ALGOR* make_pbm_algorithm(const PbmParameters& params) {
  PbmParamPtr pbm(ECMP_PBMPARAMETER_new());
  if (!pbm || ::ASN1_OCTET_STRING_set(pbm->salt, params.salt.data(), static_cast<int>(params.salt.size())) != 1 ||
      ::X509_ALGOR_set0(pbm->owf, ::OBJ_nid2obj(params.owf_nid), V_ASN1_UNDEF, nullptr) != 1 ||
      ::ASN1_INTEGER_set_uint64(pbm->iterationCount, params.iterations) != 1 ||
      ::X509_ALGOR_set0(pbm->mac, ::OBJ_nid2obj(params.mac_nid), V_ASN1_UNDEF, nullptr) != 1) {
    return nullptr;
  }
  unsigned char* der = nullptr;
  int len = i2d_ECMP_PBMPARAMETER(pbm.get(), &der);
  if (len <= 0) return nullptr;
  ::ASN1_STRING* seq = ::ASN1_STRING_new();
  ::X509_ALGOR* algorithm = ::X509_ALGOR_new();
  if (seq == nullptr || algorithm == nullptr) {
    ::OPENSSL_free(der);
    ::ASN1_STRING_free(seq);
    ::X509_ALGOR_free(algorithm);
    return nullptr;
  }
  ::ASN1_STRING_set0(seq, der, len);
  ::X509_ALGOR_set0(algorithm, ::OBJ_nid2obj(NID_id_PasswordBasedMAC), V_ASN1_SEQUENCE, seq);
  return algorithm;
}

Bytes derive_pbm_key(const PbmParameters& params, ByteView secret) {
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

Bytes pbm_mac(const PbmParameters& params, ByteView key, ByteView data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  ::HMAC(params.mac_digest, key.data(), static_cast<int>(key.size()), data.data(), data.size(), mac, &len);
  return Bytes(mac, mac + len);
}

}  // namespace enrolld::cmp
