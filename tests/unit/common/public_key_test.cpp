// ossl::public_key_from_der: EC and RSA keys are built from their parameters instead of
// OpenSSL 3.0's decoder framework; the result must be the key d2i_PUBKEY reads, and whatever
// d2i_PUBKEY refuses must be refused too.
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <thread>

#include "common/openssl_util.h"

namespace enrolld::ossl {
namespace {

EvpPkeyPtr generate(const char* type, const char* parameter = nullptr, unsigned bits = 0) {
  if (std::string(type) == "EC") return EvpPkeyPtr(::EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", parameter));
  if (std::string(type) == "RSA") return EvpPkeyPtr(::EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{bits}));
  return EvpPkeyPtr(::EVP_PKEY_Q_keygen(nullptr, nullptr, type));
}

// What OpenSSL's own decoder makes of `der`.
EvpPkeyPtr reference_decode(const Bytes& der) {
  const unsigned char* p = der.data();
  return EvpPkeyPtr(::d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
}

struct KeyCase {
  const char* name;
  const char* type;
  const char* parameter;
  unsigned bits;
};

class PublicKeyFromDer : public ::testing::TestWithParam<KeyCase> {};

TEST_P(PublicKeyFromDer, ReadsTheKeyD2iReads) {
  const KeyCase& c = GetParam();
  EvpPkeyPtr original = generate(c.type, c.parameter, c.bits);
  ASSERT_TRUE(original);
  const Bytes der = der_of_public_key(original.get());
  auto key = public_key_from_der(der);
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(::EVP_PKEY_eq(key->get(), original.get()), 1);
  EXPECT_EQ(::EVP_PKEY_get_base_id(key->get()), ::EVP_PKEY_get_base_id(original.get()));
  EXPECT_EQ(::EVP_PKEY_get_bits(key->get()), ::EVP_PKEY_get_bits(original.get()));
  EXPECT_EQ(der_of_public_key(key->get()), der) << "it encodes back to the same SubjectPublicKeyInfo";
  EXPECT_EQ(::ERR_peek_error(), 0u) << "no error is left behind";
}

INSTANTIATE_TEST_SUITE_P(Keys, PublicKeyFromDer,
                         ::testing::Values(KeyCase{"P256", "EC", "P-256", 0}, KeyCase{"P384", "EC", "P-384", 0},
                                           KeyCase{"P521", "EC", "P-521", 0}, KeyCase{"RSA2048", "RSA", nullptr, 2048},
                                           KeyCase{"Ed25519", "ED25519", nullptr, 0},
                                           KeyCase{"Brainpool", "EC", "brainpoolP256r1", 0}),
                         [](const auto& test) { return std::string(test.param.name); });

// A compressed point is not what the fast path reads: the general way reads it.
TEST(PublicKeyFromDerCases, ACompressedPointIsReadTheGeneralWay) {
  EvpPkeyPtr compressed = generate("EC", "P-256");
  ASSERT_EQ(
      ::EVP_PKEY_set_utf8_string_param(compressed.get(), OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed"), 1);
  const Bytes der = der_of_public_key(compressed.get());
  ASSERT_EQ(der.size(), 59u) << "a 33-octet point";
  auto key = public_key_from_der(der);
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(::EVP_PKEY_eq(key->get(), reference_decode(der).get()), 1);
}

TEST(PublicKeyFromDerCases, WhatD2iRefusesIsRefused) {
  EvpPkeyPtr p256 = generate("EC", "P-256");
  const Bytes good = der_of_public_key(p256.get());

  Bytes off_curve = good;
  off_curve.back() ^= 0x01;  // the last octet of y: the point leaves the curve
  EXPECT_FALSE(reference_decode(off_curve)) << "the test's premise";
  EXPECT_FALSE(public_key_from_der(off_curve));

  Bytes truncated(good.begin(), good.end() - 1);
  EXPECT_FALSE(public_key_from_der(truncated));

  Bytes not_a_key = {0x30, 0x03, 0x02, 0x01, 0x01};
  auto refused = public_key_from_der(not_a_key);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kBadDataFormat);
  EXPECT_FALSE(public_key_from_der({}));
}

// One enrollment asks for its key several times on one thread: the same bytes give the same
// key object again (for the two latest keys), other bytes their own key, and a refused key is
// never handed out later.
TEST(PublicKeyFromDerCases, TheKeyLastDecodedOnAThreadIsDecodedOnce) {
  EvpPkeyPtr first_key = generate("EC", "P-256");
  EvpPkeyPtr second_key = generate("RSA", nullptr, 2048);
  const Bytes first = der_of_public_key(first_key.get()), second = der_of_public_key(second_key.get());
  auto a = public_key_from_der(first);
  auto again = public_key_from_der(first);
  ASSERT_TRUE(a && again);
  EXPECT_EQ(a->get(), again->get());

  auto b = public_key_from_der(second);
  ASSERT_TRUE(b);
  EXPECT_EQ(::EVP_PKEY_eq(b->get(), second_key.get()), 1);
  Bytes off_curve = first;
  off_curve.back() ^= 0x01;
  EXPECT_FALSE(public_key_from_der(off_curve));
  auto b_again = public_key_from_der(second);
  ASSERT_TRUE(b_again);
  EXPECT_EQ(b_again->get(), b->get()) << "the refused key did not replace it";
  auto a_again = public_key_from_der(first);
  ASSERT_TRUE(a_again);
  EXPECT_EQ(a_again->get(), a->get()) << "the two latest are kept (a key update asks for two)";

  EvpPkeyPtr third_key = generate("EC", "P-384");
  ASSERT_TRUE(public_key_from_der(der_of_public_key(third_key.get())));
  auto b_later = public_key_from_der(second);  // the third pushed out the older of the two
  ASSERT_TRUE(b_later);
  EXPECT_NE(b_later->get(), b->get());
  EXPECT_EQ(::EVP_PKEY_eq(b_later->get(), second_key.get()), 1);

  std::thread([&] {
    auto elsewhere = public_key_from_der(second);
    ASSERT_TRUE(elsewhere);
    EXPECT_NE(elsewhere->get(), b->get()) << "each thread keeps its own";
  }).join();
}

}  // namespace
}  // namespace enrolld::ossl
