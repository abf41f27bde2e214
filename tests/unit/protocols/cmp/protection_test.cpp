// PasswordBasedMac: our KDF + HMAC against OpenSSL's own implementation, and the parameter checks
// that must run before the KDF.

#include "protocols/cmp/protection.h"

#include <gtest/gtest.h>

#include <cctype>

#include <openssl/bn.h>
#include <openssl/crmf.h>
#include <openssl/objects.h>

#include "cmp_test_util.h"
#include "protocols/cmp/cmp_asn1.h"

namespace enrolld::cmp {
namespace {

using test::AlgorPtr;
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

}  // namespace
}  // namespace enrolld::cmp
