// PasswordBasedMac: our KDF + HMAC against OpenSSL's own implementation, and the parameter checks
// that must run before the KDF. PBMAC1 (RFC 9481 6.1.2): our PBKDF2 + HMAC against an independent
// computation and published PBKDF2 vectors, and its parameters written out by hand in DER.

#include "protocols/cmp/protection.h"

#include <gtest/gtest.h>

#include <cctype>
#include <functional>
#include <optional>
#include <string_view>

#include <openssl/bn.h>
#include <openssl/crmf.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>

#include "cmp_test_util.h"
#include "common/der.h"
#include "protocols/cmp/cmp_asn1.h"

namespace enrolld::cmp {
namespace {

using test::AlgorPtr;
using test::concat;
using test::integer_der;
using test::oid_der;
using PbmParamPtr = std::unique_ptr<ECMP_PBMPARAMETER, ossl::Deleter<ECMP_PBMPARAMETER_free>>;
using OsslPbmpPtr = std::unique_ptr<OSSL_CRMF_PBMPARAMETER, ossl::Deleter<OSSL_CRMF_PBMPARAMETER_free>>;

// An id-PasswordBasedMac AlgorithmIdentifier whose parameters are `param_der` as a SEQUENCE.
AlgorPtr pbm_algorithm_with(const Bytes& param_der, int param_type = V_ASN1_SEQUENCE) {
  ::ASN1_STRING* value = ::ASN1_STRING_type_new(param_type);
  ::ASN1_STRING_set(value, param_der.data(), static_cast<int>(param_der.size()));
  AlgorPtr algorithm(::X509_ALGOR_new());
  ::X509_ALGOR_set0(algorithm.get(), ::OBJ_nid2obj(NID_id_PasswordBasedMAC), param_type, value);
  return algorithm;
}

// A PBMParameter built by hand, so that any value can go in, even ones OpenSSL would refuse.
AlgorPtr pbm_algorithm(std::size_t salt_bytes, int owf_nid, const ::ASN1_INTEGER& iterations, int mac_nid) {
  PbmParamPtr pbm(ECMP_PBMPARAMETER_new());
  const Bytes salt(salt_bytes, 0x5a);
  EXPECT_EQ(::ASN1_OCTET_STRING_set(pbm->salt, salt.data(), static_cast<int>(salt.size())), 1);
  EXPECT_EQ(::X509_ALGOR_set0(pbm->owf, ::OBJ_nid2obj(owf_nid), V_ASN1_UNDEF, nullptr), 1);
  ::ASN1_INTEGER_free(pbm->iterationCount);
  pbm->iterationCount = ::ASN1_INTEGER_dup(&iterations);
  EXPECT_EQ(::X509_ALGOR_set0(pbm->mac, ::OBJ_nid2obj(mac_nid), V_ASN1_UNDEF, nullptr), 1);
  unsigned char* der = nullptr;
  const int len = i2d_ECMP_PBMPARAMETER(pbm.get(), &der);
  EXPECT_GT(len, 0);
  Bytes bytes(der, der + len);
  ::OPENSSL_free(der);
  return pbm_algorithm_with(bytes);
}

AlgorPtr pbm_algorithm(std::size_t salt_bytes, int owf_nid, std::int64_t iterations, int mac_nid) {
  ossl::Asn1IntegerPtr count(::ASN1_INTEGER_new());
  ::ASN1_INTEGER_set_int64(count.get(), iterations);
  return pbm_algorithm(salt_bytes, owf_nid, *count, mac_nid);
}

Bytes der_of(const OSSL_CRMF_PBMPARAMETER* pbmp) {
  unsigned char* der = nullptr;
  const int len = ::i2d_OSSL_CRMF_PBMPARAMETER(const_cast<OSSL_CRMF_PBMPARAMETER*>(pbmp), &der);
  if (len <= 0) return {};
  Bytes out(der, der + len);
  ::OPENSSL_free(der);
  return out;
}

Bytes openssl_pbm(const OSSL_CRMF_PBMPARAMETER* pbmp, ByteView message, ByteView secret) {
  unsigned char* mac = nullptr;
  std::size_t len = 0;
  if (::OSSL_CRMF_pbm_new(nullptr, nullptr, pbmp, message.data(), message.size(), secret.data(), secret.size(), &mac,
                          &len) != 1) {
    return {};
  }
  Bytes out(mac, mac + len);
  ::OPENSSL_free(mac);
  return out;
}

// ---- our PBM equals OpenSSL's ----

struct PbmCase {
  int owf_nid;
  int mac_nid;
  std::size_t iterations;
};

// NOLINTNEXTLINE(readability-identifier-naming): gtest finds its printer by this name
void PrintTo(const PbmCase& c, std::ostream* os) {
  *os << ::OBJ_nid2sn(c.owf_nid) << "/" << ::OBJ_nid2sn(c.mac_nid) << "/" << c.iterations;
}

std::string case_name(const ::testing::TestParamInfo<PbmCase>& info) {
  std::string name = std::string(::OBJ_nid2sn(info.param.owf_nid)) + "_" + ::OBJ_nid2sn(info.param.mac_nid) + "_" +
                     std::to_string(info.param.iterations);
  for (char& c : name) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0) c = '_';
  }
  return name;
}

class PbmMatchesOpenSsl : public ::testing::TestWithParam<PbmCase> {};

TEST_P(PbmMatchesOpenSsl, DerivedKeyAndMacEqualOsslCrmfPbmNew) {
  const PbmCase c = GetParam();
  OsslPbmpPtr pbmp(::OSSL_CRMF_pbmp_new(nullptr, 16, c.owf_nid, c.iterations, c.mac_nid));
  ASSERT_TRUE(pbmp) << ossl::drain_errors();
  // OpenSSL's own encoding of the parameters goes through our parser.
  AlgorPtr algorithm = pbm_algorithm_with(der_of(pbmp.get()));
  ASSERT_TRUE(is_password_based_mac(algorithm.get()));
  auto params = parse_pbm_parameters(algorithm.get(), PbmLimits{});
  ASSERT_TRUE(params) << params.error().message;
  EXPECT_EQ(params->iterations, c.iterations);
  EXPECT_EQ(params->owf_nid, c.owf_nid);
  EXPECT_EQ(params->mac_nid, c.mac_nid);
  EXPECT_EQ(params->salt.size(), 16U);

  const Bytes secret = to_bytes("correct horse battery staple");
  Bytes message(1000);
  for (std::size_t i = 0; i < message.size(); ++i) message[i] = static_cast<std::uint8_t>(i * 7 + 3);

  const Bytes expected = openssl_pbm(pbmp.get(), message, secret);
  ASSERT_FALSE(expected.empty()) << ossl::drain_errors();
  const Bytes key = derive_pbm_key(*params, secret);
  EXPECT_EQ(key.size(), static_cast<std::size_t>(::EVP_MD_get_size(params->owf)));
  EXPECT_EQ(pbm_mac(*params, key, message), expected);

  // And a different secret or message gives a different MAC (the comparison means something).
  EXPECT_NE(pbm_mac(*params, derive_pbm_key(*params, to_bytes("correct horse battery stapler")), message), expected);
  message.back() ^= 0x01;
  EXPECT_NE(pbm_mac(*params, key, message), expected);
}

INSTANTIATE_TEST_SUITE_P(
    Algorithms, PbmMatchesOpenSsl,
    ::testing::Values(PbmCase{NID_sha256, NID_hmac_sha1, 500},  // OpenSSL's CMP client default
                      PbmCase{NID_sha256, NID_hmac_sha1, 100}, PbmCase{NID_sha1, NID_hmac_sha1, 1000},
                      PbmCase{NID_sha256, NID_hmacWithSHA256, 100}, PbmCase{NID_sha256, NID_hmacWithSHA256, 777},
                      PbmCase{NID_sha256, NID_hmacWithSHA256, 10000}, PbmCase{NID_sha512, NID_hmacWithSHA512, 1000},
                      PbmCase{NID_sha384, NID_hmacWithSHA384, 256}),
    case_name);

TEST(PbmMac, HmacSha1AndHmacSha256DifferOnTheSameKey) {
  OsslPbmpPtr sha1(::OSSL_CRMF_pbmp_new(nullptr, 16, NID_sha256, 500, NID_hmac_sha1));
  ASSERT_TRUE(sha1);
  auto params = parse_pbm_parameters(pbm_algorithm_with(der_of(sha1.get())).get(), PbmLimits{});
  ASSERT_TRUE(params);
  const Bytes key = derive_pbm_key(*params, to_bytes("s"));
  const Bytes mac1 = pbm_mac(*params, key, to_bytes("data"));
  EXPECT_EQ(mac1.size(), 20U);
  params->mac_nid = NID_hmacWithSHA256;
  params->mac_digest = ::EVP_sha256();
  EXPECT_EQ(pbm_mac(*params, key, to_bytes("data")).size(), 32U);
}

// ---- limits, checked before any KDF ----

TEST(ParsePbmParameters, AcceptsTheLimitsThemselves) {
  const PbmLimits limits;
  for (std::int64_t iterations :
       {static_cast<std::int64_t>(limits.min_iterations), static_cast<std::int64_t>(limits.max_iterations)}) {
    auto params = parse_pbm_parameters(pbm_algorithm(16, NID_sha256, iterations, NID_hmac_sha1).get(), limits);
    ASSERT_TRUE(params) << iterations << ": " << params.error().message;
    EXPECT_EQ(params->iterations, static_cast<std::uint64_t>(iterations));
  }
  for (std::size_t salt : {limits.min_salt_bytes, limits.max_salt_bytes}) {
    auto params = parse_pbm_parameters(pbm_algorithm(salt, NID_sha256, 500, NID_hmac_sha1).get(), limits);
    ASSERT_TRUE(params) << salt << ": " << params.error().message;
    EXPECT_EQ(params->salt, Bytes(salt, 0x5a));
  }
}

struct RefusalCase {
  const char* name;
  std::size_t salt_bytes;
  int owf_nid;
  std::int64_t iterations;
  int mac_nid;
};

// NOLINTNEXTLINE(readability-identifier-naming): gtest finds its printer by this name
void PrintTo(const RefusalCase& c, std::ostream* os) {
  *os << c.name;
}

class ParsePbmRefuses : public ::testing::TestWithParam<RefusalCase> {};

TEST_P(ParsePbmRefuses, WithBadAlgorithm) {
  const RefusalCase c = GetParam();
  auto params =
      parse_pbm_parameters(pbm_algorithm(c.salt_bytes, c.owf_nid, c.iterations, c.mac_nid).get(), PbmLimits{});
  ASSERT_FALSE(params) << c.name << " was accepted";
  EXPECT_EQ(params.error().code, ErrorCode::kBadAlgorithm) << params.error().message;
}

INSTANTIATE_TEST_SUITE_P(Limits, ParsePbmRefuses,
                         ::testing::Values(RefusalCase{"IterationsBelowMinimum", 16, NID_sha256, 99, NID_hmac_sha1},
                                           RefusalCase{"IterationsAboveMaximum", 16, NID_sha256, 100001, NID_hmac_sha1},
                                           RefusalCase{"IterationsOneMillion", 16, NID_sha256, 1000000, NID_hmac_sha1},
                                           RefusalCase{"IterationsZero", 16, NID_sha256, 0, NID_hmac_sha1},
                                           RefusalCase{"IterationsNegative", 16, NID_sha256, -500, NID_hmac_sha1},
                                           RefusalCase{"SaltTooShort", 7, NID_sha256, 500, NID_hmac_sha1},
                                           RefusalCase{"SaltEmpty", 0, NID_sha256, 500, NID_hmac_sha1},
                                           RefusalCase{"SaltTooLong", 65, NID_sha256, 500, NID_hmac_sha1},
                                           RefusalCase{"UnknownOwfMd5", 16, NID_md5, 500, NID_hmac_sha1},
                                           RefusalCase{"OwfIsNotADigest", 16, NID_rsaEncryption, 500, NID_hmac_sha1},
                                           RefusalCase{"UnknownMacHmacMd5", 16, NID_sha256, 500, NID_hmac_md5},
                                           RefusalCase{"MacIsAPlainDigest", 16, NID_sha256, 500, NID_sha256}),
                         [](const ::testing::TestParamInfo<RefusalCase>& param_info) {
                           return std::string(param_info.param.name);
                         });

TEST(ParsePbmParameters, RefusesAnIterationCountBeyond64Bits) {
  ossl::BignumPtr huge(::BN_new());
  ASSERT_EQ(::BN_set_bit(huge.get(), 70), 1);
  ossl::Asn1IntegerPtr count(::BN_to_ASN1_INTEGER(huge.get(), nullptr));
  ASSERT_TRUE(count);
  auto params = parse_pbm_parameters(pbm_algorithm(16, NID_sha256, *count, NID_hmac_sha1).get(), PbmLimits{});
  ASSERT_FALSE(params);
  EXPECT_EQ(params.error().code, ErrorCode::kBadAlgorithm);
}

TEST(ParsePbmParameters, AppliesTheConfiguredLimits) {
  PbmLimits strict;
  strict.min_iterations = 1000;
  strict.max_iterations = 2000;
  strict.min_salt_bytes = 16;
  strict.max_salt_bytes = 16;
  EXPECT_TRUE(parse_pbm_parameters(pbm_algorithm(16, NID_sha256, 1500, NID_hmac_sha1).get(), strict));
  auto few = parse_pbm_parameters(pbm_algorithm(16, NID_sha256, 500, NID_hmac_sha1).get(), strict);
  ASSERT_FALSE(few);
  EXPECT_EQ(few.error().code, ErrorCode::kBadAlgorithm);
  auto many = parse_pbm_parameters(pbm_algorithm(16, NID_sha256, 2001, NID_hmac_sha1).get(), strict);
  ASSERT_FALSE(many);
  EXPECT_EQ(many.error().code, ErrorCode::kBadAlgorithm);
  auto salt = parse_pbm_parameters(pbm_algorithm(17, NID_sha256, 1500, NID_hmac_sha1).get(), strict);
  ASSERT_FALSE(salt);
  EXPECT_EQ(salt.error().code, ErrorCode::kBadAlgorithm);
}

// ---- undecodable parameters ----

TEST(ParsePbmParameters, RefusesGarbageWithBadDataFormat) {
  const std::vector<std::pair<const char*, AlgorPtr>> cases = [] {
    std::vector<std::pair<const char*, AlgorPtr>> v;
    v.emplace_back("random bytes", pbm_algorithm_with(Bytes{0xde, 0xad, 0xbe, 0xef}));
    v.emplace_back("empty SEQUENCE", pbm_algorithm_with(Bytes{0x30, 0x00}));
    v.emplace_back("SEQUENCE { INTEGER }", pbm_algorithm_with(Bytes{0x30, 0x03, 0x02, 0x01, 0x05}));
    v.emplace_back("truncated", pbm_algorithm_with(Bytes{0x30, 0x20, 0x04, 0x10, 0x01, 0x02}));
    v.emplace_back("OCTET STRING instead of SEQUENCE",
                   pbm_algorithm_with(Bytes{0x01, 0x02, 0x03}, V_ASN1_OCTET_STRING));
    AlgorPtr absent(::X509_ALGOR_new());
    ::X509_ALGOR_set0(absent.get(), ::OBJ_nid2obj(NID_id_PasswordBasedMAC), V_ASN1_UNDEF, nullptr);
    v.emplace_back("no parameters", std::move(absent));
    AlgorPtr null_param(::X509_ALGOR_new());
    ::X509_ALGOR_set0(null_param.get(), ::OBJ_nid2obj(NID_id_PasswordBasedMAC), V_ASN1_NULL, nullptr);
    v.emplace_back("NULL parameters", std::move(null_param));
    return v;
  }();
  for (const auto& [name, algorithm] : cases) {
    auto params = parse_pbm_parameters(algorithm.get(), PbmLimits{});
    ASSERT_FALSE(params) << name << " was accepted";
    EXPECT_EQ(params.error().code, ErrorCode::kBadDataFormat) << name << ": " << params.error().message;
  }
}

// ---- our AlgorithmIdentifier ----

TEST(MakePbmAlgorithm, RoundTripsThroughParse) {
  PbmParameters params;
  params.salt = random_bytes(24);
  params.owf_nid = NID_sha256;
  params.owf = ::EVP_sha256();
  params.iterations = 4321;
  params.mac_nid = NID_hmacWithSHA256;
  params.mac_digest = ::EVP_sha256();
  AlgorPtr algorithm(make_pbm_algorithm(params));
  ASSERT_TRUE(algorithm);
  EXPECT_TRUE(is_password_based_mac(algorithm.get()));
  auto parsed = parse_pbm_parameters(algorithm.get(), PbmLimits{});
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->salt, params.salt);
  EXPECT_EQ(parsed->owf_nid, params.owf_nid);
  EXPECT_EQ(parsed->iterations, params.iterations);
  EXPECT_EQ(parsed->mac_nid, params.mac_nid);
  EXPECT_EQ(::EVP_MD_get_type(parsed->owf), NID_sha256);
  EXPECT_EQ(::EVP_MD_get_type(parsed->mac_digest), NID_sha256);
}

TEST(MakePbmAlgorithm, IsUnderstoodByOpenSsl) {
  PbmParameters params;
  params.salt = random_bytes(16);
  params.owf_nid = NID_sha256;
  params.owf = ::EVP_sha256();
  params.iterations = 500;
  params.mac_nid = NID_hmac_sha1;
  params.mac_digest = ::EVP_sha1();
  AlgorPtr algorithm(make_pbm_algorithm(params));
  ASSERT_TRUE(algorithm);
  int type = 0;
  const void* value = nullptr;
  ::X509_ALGOR_get0(nullptr, &type, &value, algorithm.get());
  ASSERT_EQ(type, V_ASN1_SEQUENCE);
  const auto* seq = static_cast<const ::ASN1_STRING*>(value);
  const unsigned char* p = ::ASN1_STRING_get0_data(seq);
  OsslPbmpPtr pbmp(::d2i_OSSL_CRMF_PBMPARAMETER(nullptr, &p, ::ASN1_STRING_length(seq)));
  ASSERT_TRUE(pbmp) << ossl::drain_errors();
  const Bytes secret = to_bytes("s3cret");
  const Bytes data = to_bytes("protected part");
  EXPECT_EQ(pbm_mac(params, derive_pbm_key(params, secret), data), openssl_pbm(pbmp.get(), data, secret));
}

TEST(IsPasswordBasedMac, OnlyForThePbmOid) {
  EXPECT_FALSE(is_password_based_mac(nullptr));
  AlgorPtr other(::X509_ALGOR_new());
  ::X509_ALGOR_set0(other.get(), ::OBJ_nid2obj(NID_ecdsa_with_SHA256), V_ASN1_UNDEF, nullptr);
  EXPECT_FALSE(is_password_based_mac(other.get()));
  EXPECT_TRUE(is_password_based_mac(pbm_algorithm(16, NID_sha256, 500, NID_hmac_sha1).get()));
}

// ==== PBMAC1 (RFC 9481 6.1.2; RFC 8018 7.1, A.2 and A.5) ====

Bytes integer_der(const ::ASN1_INTEGER& value) {
  return ossl::der_with(&value, ::i2d_ASN1_INTEGER);
}

// 2^70: no 64-bit count holds it.
Bytes huge_integer_der() {
  ossl::BignumPtr huge(::BN_new());
  ::BN_set_bit(huge.get(), 70);
  ossl::Asn1IntegerPtr integer(::BN_to_ASN1_INTEGER(huge.get(), nullptr));
  return integer_der(*integer);
}

const Bytes kNull = {0x05, 0x00};

// AlgorithmIdentifier { the OID of `nid`, `params` } (empty `params`: absent).
Bytes algorithm_der(int nid, const Bytes& params = kNull) {
  return der::sequence(concat({oid_der(nid), params}));
}

// An AlgorithmIdentifier with the OID of `nid` whose parameters are `param_der` of `param_type`.
AlgorPtr algorithm_with(int nid, const Bytes& param_der, int param_type = V_ASN1_SEQUENCE) {
  ::ASN1_STRING* value = ::ASN1_STRING_type_new(param_type);
  ::ASN1_STRING_set(value, param_der.data(), static_cast<int>(param_der.size()));
  AlgorPtr algorithm(::X509_ALGOR_new());
  ::X509_ALGOR_set0(algorithm.get(), ::OBJ_nid2obj(nid), param_type, value);
  return algorithm;
}

// PBMAC1-params written out by hand in DER, so that any value can go in. Each field is one
// element; std::nullopt leaves an OPTIONAL one out. The defaults are a valid set.
struct Pbmac1Der {
  Bytes salt = der::element(0x04, Bytes(16, 0x5a));  // the `specified` OCTET STRING
  Bytes iterations = integer_der(1000);
  std::optional<Bytes> key_length = integer_der(32);
  std::optional<Bytes> prf = algorithm_der(NID_hmacWithSHA256);  // nullopt: DEFAULT hmacWithSHA1
  Bytes pbkdf2_extra;                                            // elements after prf
  int kdf_nid = NID_id_pbkdf2;
  std::optional<Bytes> kdf_params;  // replaces the PBKDF2-params above (empty: absent)
  Bytes mac = algorithm_der(NID_hmacWithSHA256);
  Bytes pbmac1_extra;  // elements after messageAuthScheme
};

Bytes pbkdf2_params_der(const Pbmac1Der& d) {
  if (d.kdf_params) return *d.kdf_params;
  Bytes content = concat({d.salt, d.iterations});
  if (d.key_length) content = concat({content, *d.key_length});
  if (d.prf) content = concat({content, *d.prf});
  return der::sequence(concat({content, d.pbkdf2_extra}));
}

Bytes pbmac1_params_der(const Pbmac1Der& d) {
  return der::sequence(concat({algorithm_der(d.kdf_nid, pbkdf2_params_der(d)), d.mac, d.pbmac1_extra}));
}

AlgorPtr pbmac1_algorithm(const Pbmac1Der& d) {
  return algorithm_with(NID_pbmac1, pbmac1_params_der(d));
}

AlgorPtr pbmac1_algorithm(const std::function<void(Pbmac1Der&)>& change) {
  Pbmac1Der d;
  change(d);
  return pbmac1_algorithm(d);
}

// The hash of an HMAC OID, written down here independently of protection.cpp.
const ::EVP_MD* hmac_hash(int nid) {
  switch (nid) {
    case NID_hmacWithSHA1: return ::EVP_sha1();
    case NID_hmacWithSHA224: return ::EVP_sha224();
    case NID_hmacWithSHA256: return ::EVP_sha256();
    case NID_hmacWithSHA384: return ::EVP_sha384();
    case NID_hmacWithSHA512: return ::EVP_sha512();
    default: return nullptr;
  }
}

// RFC 8018 5.2 PBKDF2 and RFC 2104 HMAC, straight from OpenSSL.
Bytes pbkdf2(ByteView secret, ByteView salt, std::int64_t iterations, const ::EVP_MD* prf, std::size_t key_length) {
  Bytes key(key_length);
  if (::PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(secret.data()), static_cast<int>(secret.size()), salt.data(),
                          static_cast<int>(salt.size()), static_cast<int>(iterations), prf,
                          static_cast<int>(key.size()), key.data()) != 1) {
    return {};
  }
  return key;
}

Bytes hmac(const ::EVP_MD* md, ByteView key, ByteView data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (::HMAC(md, key.data(), static_cast<int>(key.size()), data.data(), data.size(), mac, &len) == nullptr) return {};
  return Bytes(mac, mac + len);
}

PbmParameters pbmac1_parameters(int prf_nid, int mac_nid) {
  PbmParameters params;
  params.kind = PbmParameters::Kind::kPbmac1;
  params.salt = random_bytes(24);
  params.iterations = 4321;
  params.key_length = 32;
  params.prf_nid = prf_nid;
  params.prf_digest = hmac_hash(prf_nid);
  params.mac_nid = mac_nid;
  params.mac_digest = hmac_hash(mac_nid);
  return params;
}

// ---- our PBKDF2 + HMAC equal PKCS5_PBKDF2_HMAC + HMAC ----

struct Pbmac1Case {
  const char* name;
  std::optional<int> prf_nid;  // nullopt: left out, the DEFAULT hmacWithSHA1
  int mac_nid;
  std::int64_t iterations;
  std::int64_t key_length;
};

// NOLINTNEXTLINE(readability-identifier-naming): gtest finds its printer by this name
void PrintTo(const Pbmac1Case& c, std::ostream* os) {
  *os << c.name;
}

class Pbmac1MatchesPbkdf2AndHmac : public ::testing::TestWithParam<Pbmac1Case> {};

// RFC 8018 7.1.2: "DK = KDF (P, S, c, dkLen)", then the MAC under DK.
TEST_P(Pbmac1MatchesPbkdf2AndHmac, DerivedKeyAndMacEqualAnIndependentComputation) {
  const Pbmac1Case c = GetParam();
  const Bytes salt = random_bytes(16);
  Pbmac1Der d;
  d.salt = der::element(0x04, salt);
  d.iterations = integer_der(c.iterations);
  d.key_length = integer_der(c.key_length);
  d.prf = c.prf_nid ? std::optional<Bytes>(algorithm_der(*c.prf_nid)) : std::nullopt;
  d.mac = algorithm_der(c.mac_nid);
  AlgorPtr algorithm = pbmac1_algorithm(d);
  ASSERT_TRUE(is_password_based_mac(algorithm.get()));
  auto params = parse_pbm_parameters(algorithm.get(), PbmLimits{});
  ASSERT_TRUE(params) << params.error().message;
  EXPECT_EQ(params->kind, PbmParameters::Kind::kPbmac1);
  EXPECT_EQ(params->salt, salt);
  EXPECT_EQ(params->iterations, static_cast<std::uint64_t>(c.iterations));
  EXPECT_EQ(params->key_length, static_cast<std::size_t>(c.key_length));
  const int prf_nid = c.prf_nid.value_or(NID_hmacWithSHA1);
  EXPECT_EQ(params->prf_nid, prf_nid);
  EXPECT_EQ(params->mac_nid, c.mac_nid);

  const Bytes secret = to_bytes("correct horse battery staple");
  Bytes message(1000);
  for (std::size_t i = 0; i < message.size(); ++i) message[i] = static_cast<std::uint8_t>(i * 7 + 3);

  const Bytes expected_key = pbkdf2(secret, salt, c.iterations, hmac_hash(prf_nid), params->key_length);
  ASSERT_EQ(expected_key.size(), static_cast<std::size_t>(c.key_length)) << ossl::drain_errors();
  const Bytes expected_mac = hmac(hmac_hash(c.mac_nid), expected_key, message);
  ASSERT_EQ(expected_mac.size(), static_cast<std::size_t>(::EVP_MD_get_size(hmac_hash(c.mac_nid))));
  const Bytes key = derive_pbm_key(*params, secret);
  EXPECT_EQ(key, expected_key);
  EXPECT_EQ(pbm_mac(*params, key, message), expected_mac);

  // And a different secret or message gives a different result (the comparison means something).
  EXPECT_NE(derive_pbm_key(*params, to_bytes("correct horse battery stapler")), expected_key);
  message.back() ^= 0x01;
  EXPECT_NE(pbm_mac(*params, key, message), expected_mac);
}

INSTANTIATE_TEST_SUITE_P(
    Algorithms, Pbmac1MatchesPbkdf2AndHmac,
    ::testing::Values(Pbmac1Case{"DefaultPrf_HmacSha256", std::nullopt, NID_hmacWithSHA256, 1000, 32},
                      Pbmac1Case{"DefaultPrf_HmacSha512", std::nullopt, NID_hmacWithSHA512, 1000, 64},
                      Pbmac1Case{"DefaultPrf_HmacSha256_Key25", std::nullopt, NID_hmacWithSHA256, 4096, 25},
                      Pbmac1Case{"WrittenOutPrfSha1_HmacSha256", NID_hmacWithSHA1, NID_hmacWithSHA256, 100, 16},
                      Pbmac1Case{"PrfSha256_HmacSha256", NID_hmacWithSHA256, NID_hmacWithSHA256, 1000, 32},
                      Pbmac1Case{"PrfSha256_HmacSha512", NID_hmacWithSHA256, NID_hmacWithSHA512, 2048, 64},
                      Pbmac1Case{"PrfSha256_HmacSha512_Key32", NID_hmacWithSHA256, NID_hmacWithSHA512, 777, 32},
                      Pbmac1Case{"PrfSha512_HmacSha384", NID_hmacWithSHA512, NID_hmacWithSHA384, 500, 48},
                      Pbmac1Case{"PrfSha224_HmacSha224", NID_hmacWithSHA224, NID_hmacWithSHA224, 100, 28}),
    [](const ::testing::TestParamInfo<Pbmac1Case>& param_info) { return std::string(param_info.param.name); });

// ---- published PBKDF2 vectors ----

struct Pbkdf2Vector {
  const char* name;
  std::string_view password;
  std::string_view salt;
  std::optional<int> prf_nid;  // nullopt: left out, the DEFAULT hmacWithSHA1
  std::int64_t iterations;
  const char* derived_hex;  // its length is dkLen, sent as keyLength
};

// NOLINTNEXTLINE(readability-identifier-naming): gtest finds its printer by this name
void PrintTo(const Pbkdf2Vector& v, std::ostream* os) {
  *os << v.name;
}

class Pbmac1KnownAnswer : public ::testing::TestWithParam<Pbkdf2Vector> {};

TEST_P(Pbmac1KnownAnswer, DerivedKeyIsThePublishedPbkdf2Output) {
  const Pbkdf2Vector& v = GetParam();
  bool ok = false;
  const Bytes expected = from_hex(v.derived_hex, &ok);
  ASSERT_TRUE(ok);
  Pbmac1Der d;
  d.salt = der::element(0x04, to_bytes(v.salt));
  d.iterations = integer_der(v.iterations);
  d.key_length = integer_der(static_cast<std::int64_t>(expected.size()));
  d.prf = v.prf_nid ? std::optional<Bytes>(algorithm_der(*v.prf_nid)) : std::nullopt;
  PbmLimits limits;
  limits.min_salt_bytes = 4;  // the published vectors use short salts ("salt", "NaCl")
  auto params = parse_pbm_parameters(pbmac1_algorithm(d).get(), limits);
  ASSERT_TRUE(params) << params.error().message;
  EXPECT_EQ(to_hex(derive_pbm_key(*params, to_bytes(v.password))), v.derived_hex);
}

using std::string_view_literals::operator""sv;

INSTANTIATE_TEST_SUITE_P(Published, Pbmac1KnownAnswer,
                         ::testing::Values(
                             // RFC 6070 2: PBKDF2 HMAC-SHA1 test vectors.
                             Pbkdf2Vector{"Rfc6070_Password_Salt_4096", "password", "salt", std::nullopt, 4096,
                                          "4b007901b765489abead49d926f721d065a429c1"},
                             Pbkdf2Vector{"Rfc6070_LongPasswordAndSalt_4096", "passwordPASSWORDpassword",
                                          "saltSALTsaltSALTsaltSALTsaltSALTsalt", std::nullopt, 4096,
                                          "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038"},
                             Pbkdf2Vector{"Rfc6070_EmbeddedNul_4096", "pass\0word"sv, "sa\0lt"sv, std::nullopt, 4096,
                                          "56fa6aa75548099dcc37d7f03425e0c3"},
                             // The same with hmacWithSHA1 written out instead of left to the DEFAULT.
                             Pbkdf2Vector{"Rfc6070_WrittenOutPrf", "password", "salt", NID_hmacWithSHA1, 4096,
                                          "4b007901b765489abead49d926f721d065a429c1"},
                             // RFC 7914 11: PBKDF2-HMAC-SHA256 test vector.
                             Pbkdf2Vector{"Rfc7914_Password_NaCl_80000", "Password", "NaCl", NID_hmacWithSHA256, 80000,
                                          "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
                                          "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d"}),
                         [](const ::testing::TestParamInfo<Pbkdf2Vector>& param_info) {
                           return std::string(param_info.param.name);
                         });

// ---- our AlgorithmIdentifier for the response ----

TEST(MakePbmAlgorithm, Pbmac1RoundTripsThroughParse) {
  const Bytes secret = to_bytes("s3cret");
  for (const auto& [prf_nid, mac_nid] : std::vector<std::pair<int, int>>{{NID_hmacWithSHA1, NID_hmacWithSHA256},
                                                                         {NID_hmacWithSHA256, NID_hmacWithSHA256},
                                                                         {NID_hmacWithSHA512, NID_hmacWithSHA384}}) {
    SCOPED_TRACE(std::string(::OBJ_nid2sn(prf_nid)) + "/" + ::OBJ_nid2sn(mac_nid));
    const PbmParameters params = pbmac1_parameters(prf_nid, mac_nid);
    AlgorPtr algorithm(make_pbm_algorithm(params));
    ASSERT_TRUE(algorithm);
    EXPECT_TRUE(is_password_based_mac(algorithm.get()));
    const ::ASN1_OBJECT* oid = nullptr;
    ::X509_ALGOR_get0(&oid, nullptr, nullptr, algorithm.get());
    EXPECT_EQ(::OBJ_obj2nid(oid), NID_pbmac1);
    auto parsed = parse_pbm_parameters(algorithm.get(), PbmLimits{});
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->kind, PbmParameters::Kind::kPbmac1);
    EXPECT_EQ(parsed->salt, params.salt);
    EXPECT_EQ(parsed->iterations, params.iterations);
    EXPECT_EQ(parsed->key_length, params.key_length);
    EXPECT_EQ(parsed->prf_nid, params.prf_nid);
    EXPECT_EQ(parsed->mac_nid, params.mac_nid);
    EXPECT_EQ(::EVP_MD_get_type(parsed->prf_digest), ::EVP_MD_get_type(params.prf_digest));
    EXPECT_EQ(::EVP_MD_get_type(parsed->mac_digest), ::EVP_MD_get_type(params.mac_digest));
    // So the response's MAC uses the key derived for the request.
    EXPECT_EQ(derive_pbm_key(*parsed, secret), derive_pbm_key(params, secret));
  }
}

// RFC 8018 A.2: prf "DEFAULT algid-hmacWithSHA1", which DER leaves out; RFC 4231 3.1: the HMAC
// identifiers' "'parameter' component SHOULD be present but have type NULL".
TEST(MakePbmAlgorithm, Pbmac1IsTheDerWrittenByHand) {
  for (int prf_nid : {NID_hmacWithSHA1, NID_hmacWithSHA256}) {
    SCOPED_TRACE(::OBJ_nid2sn(prf_nid));
    const PbmParameters params = pbmac1_parameters(prf_nid, NID_hmacWithSHA512);
    Pbmac1Der d;
    d.salt = der::element(0x04, params.salt);
    d.iterations = integer_der(4321);
    d.key_length = integer_der(32);
    d.prf = prf_nid == NID_hmacWithSHA1 ? std::nullopt : std::optional<Bytes>(algorithm_der(prf_nid));
    d.mac = algorithm_der(NID_hmacWithSHA512);
    AlgorPtr algorithm(make_pbm_algorithm(params));
    ASSERT_TRUE(algorithm);
    EXPECT_EQ(to_hex(ossl::der_with(algorithm.get(), ::i2d_X509_ALGOR)),
              to_hex(algorithm_der(NID_pbmac1, pbmac1_params_der(d))));
  }
}

// ---- parameters accepted ----

TEST(ParsePbmac1Parameters, AcceptsTheLimitsThemselvesAndEveryAllowedAlgorithm) {
  const std::vector<std::pair<const char*, std::function<void(Pbmac1Der&)>>> accepted = {
      {"salt 8 bytes", [](Pbmac1Der& d) { d.salt = der::element(0x04, Bytes(8, 1)); }},
      {"salt 64 bytes", [](Pbmac1Der& d) { d.salt = der::element(0x04, Bytes(64, 1)); }},
      {"100 iterations", [](Pbmac1Der& d) { d.iterations = integer_der(100); }},
      {"100000 iterations", [](Pbmac1Der& d) { d.iterations = integer_der(100000); }},
      {"keyLength 16", [](Pbmac1Der& d) { d.key_length = integer_der(16); }},
      {"keyLength 64", [](Pbmac1Der& d) { d.key_length = integer_der(64); }},
      {"prf left out", [](Pbmac1Der& d) { d.prf = std::nullopt; }},
      {"prf hmacWithSHA1", [](Pbmac1Der& d) { d.prf = algorithm_der(NID_hmacWithSHA1); }},
      {"prf hmacWithSHA224", [](Pbmac1Der& d) { d.prf = algorithm_der(NID_hmacWithSHA224); }},
      {"prf hmacWithSHA384", [](Pbmac1Der& d) { d.prf = algorithm_der(NID_hmacWithSHA384); }},
      {"prf hmacWithSHA512", [](Pbmac1Der& d) { d.prf = algorithm_der(NID_hmacWithSHA512); }},
      {"prf parameters absent", [](Pbmac1Der& d) { d.prf = algorithm_der(NID_hmacWithSHA256, {}); }},
      {"mac hmacWithSHA224", [](Pbmac1Der& d) { d.mac = algorithm_der(NID_hmacWithSHA224); }},
      {"mac hmacWithSHA384", [](Pbmac1Der& d) { d.mac = algorithm_der(NID_hmacWithSHA384); }},
      {"mac hmacWithSHA512", [](Pbmac1Der& d) { d.mac = algorithm_der(NID_hmacWithSHA512); }},
      {"mac parameters absent", [](Pbmac1Der& d) { d.mac = algorithm_der(NID_hmacWithSHA256, {}); }},
  };
  for (const auto& [name, change] : accepted) {
    auto params = parse_pbm_parameters(pbmac1_algorithm(change).get(), PbmLimits{});
    EXPECT_TRUE(params) << name << ": " << params.error().message;
  }
}

TEST(ParsePbmac1Parameters, LeftOutPrfIsHmacWithSha1) {
  auto params = parse_pbm_parameters(pbmac1_algorithm([](Pbmac1Der& d) { d.prf = std::nullopt; }).get(), PbmLimits{});
  ASSERT_TRUE(params) << params.error().message;
  EXPECT_EQ(params->prf_nid, NID_hmacWithSHA1);
  EXPECT_EQ(::EVP_MD_get_type(params->prf_digest), NID_sha1);
}

TEST(ParsePbmac1Parameters, AppliesTheConfiguredLimits) {
  PbmLimits strict;
  strict.min_iterations = 1000;
  strict.max_iterations = 2000;
  strict.min_salt_bytes = 16;
  strict.max_salt_bytes = 16;
  strict.min_key_bytes = 32;
  strict.max_key_bytes = 32;
  EXPECT_TRUE(parse_pbm_parameters(pbmac1_algorithm(Pbmac1Der{}).get(), strict));
  const std::vector<std::pair<const char*, std::function<void(Pbmac1Der&)>>> refused = {
      {"999 iterations", [](Pbmac1Der& d) { d.iterations = integer_der(999); }},
      {"2001 iterations", [](Pbmac1Der& d) { d.iterations = integer_der(2001); }},
      {"salt 15 bytes", [](Pbmac1Der& d) { d.salt = der::element(0x04, Bytes(15, 1)); }},
      {"salt 17 bytes", [](Pbmac1Der& d) { d.salt = der::element(0x04, Bytes(17, 1)); }},
      {"keyLength 31", [](Pbmac1Der& d) { d.key_length = integer_der(31); }},
      {"keyLength 33", [](Pbmac1Der& d) { d.key_length = integer_der(33); }},
  };
  for (const auto& [name, change] : refused) {
    auto params = parse_pbm_parameters(pbmac1_algorithm(change).get(), strict);
    ASSERT_FALSE(params) << name << " was accepted";
    EXPECT_EQ(params.error().code, ErrorCode::kBadAlgorithm) << name << ": " << params.error().message;
  }
}

// ---- parameters refused, each with its exact error ----

struct Pbmac1Refusal {
  const char* name;
  std::function<AlgorPtr()> algorithm;
  ErrorCode code;
};

// NOLINTNEXTLINE(readability-identifier-naming): gtest finds its printer by this name
void PrintTo(const Pbmac1Refusal& r, std::ostream* os) {
  *os << r.name;
}

std::function<AlgorPtr()> changed(std::function<void(Pbmac1Der&)> change) {
  return [change = std::move(change)] { return pbmac1_algorithm(change); };
}

std::function<AlgorPtr()> parameters(Bytes der, int type = V_ASN1_SEQUENCE) {
  return [der = std::move(der), type] { return algorithm_with(NID_pbmac1, der, type); };
}

std::function<AlgorPtr()> parameters_of_type(int type) {
  return [type] {
    AlgorPtr algorithm(::X509_ALGOR_new());
    ::X509_ALGOR_set0(algorithm.get(), ::OBJ_nid2obj(NID_pbmac1), type, nullptr);
    return algorithm;
  };
}

Bytes truncated(Bytes der) {
  der.resize(der.size() - 3);
  return der;
}

const Pbmac1Refusal kPbmac1Refusals[] = {
    // Not decodable as RFC 8018 A.5 / A.2 say: kBadDataFormat.
    {"NoParameters", parameters_of_type(V_ASN1_UNDEF), ErrorCode::kBadDataFormat},
    {"NullParameters", parameters_of_type(V_ASN1_NULL), ErrorCode::kBadDataFormat},
    {"ParametersAreAnOctetString", parameters(Bytes{0x01, 0x02, 0x03}, V_ASN1_OCTET_STRING), ErrorCode::kBadDataFormat},
    {"EmptySequence", parameters(Bytes{0x30, 0x00}), ErrorCode::kBadDataFormat},
    {"OnlyKeyDerivationFunc", parameters(der::sequence(algorithm_der(NID_id_pbkdf2, pbkdf2_params_der(Pbmac1Der{})))),
     ErrorCode::kBadDataFormat},
    {"Truncated", parameters(truncated(pbmac1_params_der(Pbmac1Der{}))), ErrorCode::kBadDataFormat},
    {"TrailingGarbage", parameters(concat({pbmac1_params_der(Pbmac1Der{}), kNull})), ErrorCode::kBadDataFormat},
    {"ThirdElementInPbmac1Params", changed([](Pbmac1Der& d) { d.pbmac1_extra = integer_der(1); }),
     ErrorCode::kBadDataFormat},
    {"MacIsNotAnAlgorithmIdentifier", changed([](Pbmac1Der& d) { d.mac = integer_der(1); }), ErrorCode::kBadDataFormat},
    {"Pbkdf2ParamsAbsent", changed([](Pbmac1Der& d) { d.kdf_params = Bytes{}; }), ErrorCode::kBadDataFormat},
    {"Pbkdf2ParamsNull", changed([](Pbmac1Der& d) { d.kdf_params = kNull; }), ErrorCode::kBadDataFormat},
    {"Pbkdf2ParamsAreAnOctetString", changed([](Pbmac1Der& d) { d.kdf_params = der::element(0x04, Bytes(16, 1)); }),
     ErrorCode::kBadDataFormat},
    {"Pbkdf2ParamsEmptySequence", changed([](Pbmac1Der& d) {
       d.kdf_params = Bytes{0x30, 0x00};
     }),
     ErrorCode::kBadDataFormat},
    {"FifthElementInPbkdf2Params", changed([](Pbmac1Der& d) { d.pbkdf2_extra = der::element(0x04, Bytes{1}); }),
     ErrorCode::kBadDataFormat},
    {"SaltIsAnInteger", changed([](Pbmac1Der& d) { d.salt = integer_der(5); }), ErrorCode::kBadDataFormat},
    {"PrfIsNotAnAlgorithmIdentifier", changed([](Pbmac1Der& d) { d.prf = der::element(0x04, Bytes{1}); }),
     ErrorCode::kBadDataFormat},
    // Decodable, but not what we accept: kBadAlgorithm.
    {"KdfIsScrypt", changed([](Pbmac1Der& d) { d.kdf_nid = NID_id_scrypt; }), ErrorCode::kBadAlgorithm},
    {"KdfIsPbes2", changed([](Pbmac1Der& d) { d.kdf_nid = NID_pbes2; }), ErrorCode::kBadAlgorithm},
    {"SaltIsOtherSource", changed([](Pbmac1Der& d) { d.salt = algorithm_der(NID_sha256); }), ErrorCode::kBadAlgorithm},
    {"SaltTooShort", changed([](Pbmac1Der& d) { d.salt = der::element(0x04, Bytes(7, 1)); }), ErrorCode::kBadAlgorithm},
    {"SaltEmpty", changed([](Pbmac1Der& d) { d.salt = der::element(0x04, Bytes{}); }), ErrorCode::kBadAlgorithm},
    {"SaltTooLong", changed([](Pbmac1Der& d) { d.salt = der::element(0x04, Bytes(65, 1)); }), ErrorCode::kBadAlgorithm},
    {"IterationsBelowMinimum", changed([](Pbmac1Der& d) { d.iterations = integer_der(99); }), ErrorCode::kBadAlgorithm},
    {"IterationsAboveMaximum", changed([](Pbmac1Der& d) { d.iterations = integer_der(100001); }),
     ErrorCode::kBadAlgorithm},
    {"IterationsZero", changed([](Pbmac1Der& d) { d.iterations = integer_der(0); }), ErrorCode::kBadAlgorithm},
    {"IterationsNegative", changed([](Pbmac1Der& d) { d.iterations = integer_der(-1000); }), ErrorCode::kBadAlgorithm},
    {"IterationsBeyond64Bits", changed([](Pbmac1Der& d) { d.iterations = huge_integer_der(); }),
     ErrorCode::kBadAlgorithm},
    {"KeyLengthMissing", changed([](Pbmac1Der& d) { d.key_length = std::nullopt; }), ErrorCode::kBadAlgorithm},
    {"KeyLengthBelowMinimum", changed([](Pbmac1Der& d) { d.key_length = integer_der(15); }), ErrorCode::kBadAlgorithm},
    {"KeyLengthAboveMaximum", changed([](Pbmac1Der& d) { d.key_length = integer_der(65); }), ErrorCode::kBadAlgorithm},
    {"KeyLengthZero", changed([](Pbmac1Der& d) { d.key_length = integer_der(0); }), ErrorCode::kBadAlgorithm},
    {"KeyLengthNegative", changed([](Pbmac1Der& d) { d.key_length = integer_der(-32); }), ErrorCode::kBadAlgorithm},
    {"KeyLengthBeyond64Bits", changed([](Pbmac1Der& d) { d.key_length = huge_integer_der(); }),
     ErrorCode::kBadAlgorithm},
    {"PrfHmacMd5", changed([](Pbmac1Der& d) { d.prf = algorithm_der(NID_hmac_md5); }), ErrorCode::kBadAlgorithm},
    {"PrfHmacSha1OfIpsec", changed([](Pbmac1Der& d) { d.prf = algorithm_der(NID_hmac_sha1); }),
     ErrorCode::kBadAlgorithm},
    {"PrfHmacSha512_256", changed([](Pbmac1Der& d) { d.prf = algorithm_der(NID_hmacWithSHA512_256); }),
     ErrorCode::kBadAlgorithm},
    {"PrfIsAPlainDigest", changed([](Pbmac1Der& d) { d.prf = algorithm_der(NID_sha256); }), ErrorCode::kBadAlgorithm},
    {"PrfWithIntegerParameters",
     changed([](Pbmac1Der& d) { d.prf = algorithm_der(NID_hmacWithSHA256, integer_der(1)); }),
     ErrorCode::kBadAlgorithm},
    {"MacHmacWithSha1", changed([](Pbmac1Der& d) { d.mac = algorithm_der(NID_hmacWithSHA1); }),
     ErrorCode::kBadAlgorithm},
    {"MacHmacSha1OfIpsec", changed([](Pbmac1Der& d) { d.mac = algorithm_der(NID_hmac_sha1); }),
     ErrorCode::kBadAlgorithm},
    {"MacHmacMd5", changed([](Pbmac1Der& d) { d.mac = algorithm_der(NID_hmac_md5); }), ErrorCode::kBadAlgorithm},
    {"MacHmacSha512_256", changed([](Pbmac1Der& d) { d.mac = algorithm_der(NID_hmacWithSHA512_256); }),
     ErrorCode::kBadAlgorithm},
    {"MacIsAPlainDigest", changed([](Pbmac1Der& d) { d.mac = algorithm_der(NID_sha256); }), ErrorCode::kBadAlgorithm},
    {"MacIsPbmac1", changed([](Pbmac1Der& d) { d.mac = algorithm_der(NID_pbmac1); }), ErrorCode::kBadAlgorithm},
    {"MacWithIntegerParameters",
     changed([](Pbmac1Der& d) { d.mac = algorithm_der(NID_hmacWithSHA256, integer_der(1)); }),
     ErrorCode::kBadAlgorithm},
};

class ParsePbmac1Refuses : public ::testing::TestWithParam<Pbmac1Refusal> {};

TEST_P(ParsePbmac1Refuses, WithTheExactErrorCode) {
  const Pbmac1Refusal& r = GetParam();
  AlgorPtr algorithm = r.algorithm();
  ASSERT_TRUE(algorithm);
  ASSERT_TRUE(is_password_based_mac(algorithm.get()));
  auto params = parse_pbm_parameters(algorithm.get(), PbmLimits{});
  ASSERT_FALSE(params) << r.name << " was accepted";
  EXPECT_EQ(params.error().code, r.code) << params.error().message;
  EXPECT_FALSE(params.error().message.empty());
}

INSTANTIATE_TEST_SUITE_P(Rows, ParsePbmac1Refuses, ::testing::ValuesIn(kPbmac1Refusals),
                         [](const ::testing::TestParamInfo<Pbmac1Refusal>& param_info) {
                           return std::string(param_info.param.name);
                         });

// The messages say what to send instead.
TEST(ParsePbmac1Parameters, RefusalsSayWhatToSend) {
  auto no_key_length =
      parse_pbm_parameters(pbmac1_algorithm([](Pbmac1Der& d) { d.key_length = std::nullopt; }).get(), PbmLimits{});
  ASSERT_FALSE(no_key_length);
  EXPECT_NE(no_key_length.error().message.find("keyLength"), std::string::npos) << no_key_length.error().message;
  auto scrypt =
      parse_pbm_parameters(pbmac1_algorithm([](Pbmac1Der& d) { d.kdf_nid = NID_id_scrypt; }).get(), PbmLimits{});
  ASSERT_FALSE(scrypt);
  EXPECT_NE(scrypt.error().message.find("PBKDF2"), std::string::npos) << scrypt.error().message;
  auto mac = parse_pbm_parameters(pbmac1_algorithm([](Pbmac1Der& d) { d.mac = algorithm_der(NID_hmacWithSHA1); }).get(),
                                  PbmLimits{});
  ASSERT_FALSE(mac);
  EXPECT_NE(mac.error().message.find("hmacWithSHA256"), std::string::npos) << mac.error().message;
}

// ---- what the server relies on ----

TEST(IsPasswordBasedMac, ForPbmac1TooButNotForPbes2) {
  EXPECT_TRUE(is_password_based_mac(pbmac1_algorithm(Pbmac1Der{}).get()));
  EXPECT_TRUE(is_password_based_mac(parameters_of_type(V_ASN1_UNDEF)().get()));
  EXPECT_FALSE(is_password_based_mac(algorithm_with(NID_pbes2, pbmac1_params_der(Pbmac1Der{})).get()));
}

TEST(PbmMac, AFailedDerivationNeverGivesAPredictableMac) {
  const PbmParameters params = pbmac1_parameters(NID_hmacWithSHA256, NID_hmacWithSHA256);
  const Bytes data = to_bytes("protected part");
  const Bytes first = pbm_mac(params, Bytes{}, data);
  EXPECT_EQ(first.size(), 32U);
  EXPECT_NE(first, hmac(::EVP_sha256(), Bytes{}, data)) << "the HMAC under an empty key is anyone's to compute";
  EXPECT_NE(first, pbm_mac(params, Bytes{}, data));
}

TEST(DerivePbmKey, Pbmac1GivesNoKeyForCountsPkcs5CannotTake) {
  PbmParameters params = pbmac1_parameters(NID_hmacWithSHA256, NID_hmacWithSHA256);
  params.iterations = 1ULL << 32;
  EXPECT_TRUE(derive_pbm_key(params, to_bytes("s")).empty());
}

}  // namespace
}  // namespace enrolld::cmp
