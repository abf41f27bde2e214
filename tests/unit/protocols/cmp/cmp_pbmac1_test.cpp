// PBMAC1 (RFC 9481 6.1.2) through the real CmpServer. A fresh ir from OpenSSL's client gets a
// PBMAC1 protectionAlg written here in DER and a MAC computed here with PKCS5_PBKDF2_HMAC + HMAC,
// independently of protection.cpp; the reply's protection is checked the same way.

#include <functional>
#include <optional>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>

#include <gtest/gtest.h>

#include "cmp_server_fixture.h"
#include "common/der.h"

namespace enrolld::cmp::test {
namespace {

// AlgorithmIdentifier { the OID of `nid`, `params` }; HMACs get NULL (RFC 4231 3.1).
Bytes algorithm_der(int nid, const Bytes& params = {0x05, 0x00}) {
  return der::sequence(concat({oid_der(nid), params}));
}

const ::EVP_MD* hmac_hash(int nid) {
  switch (nid) {
    case NID_hmacWithSHA1: return ::EVP_sha1();
    case NID_hmacWithSHA256: return ::EVP_sha256();
    case NID_hmacWithSHA384: return ::EVP_sha384();
    case NID_hmacWithSHA512: return ::EVP_sha512();
    default: return nullptr;
  }
}

// A request's PBMAC1 choice.
struct Pbmac1 {
  Bytes salt = random_bytes(16);
  std::int64_t iterations = 1000;
  std::optional<std::int64_t> key_length = 32;
  int prf_nid = NID_hmacWithSHA256;  // NID_hmacWithSHA1 is left out: the DEFAULT
  int mac_nid = NID_hmacWithSHA256;
  int kdf_nid = NID_id_pbkdf2;
};

// AlgorithmIdentifier { id-PBMAC1, PBMAC1-params { { id-PBKDF2, PBKDF2-params }, mac } }, DER.
Bytes pbmac1_algorithm_der(const Pbmac1& p) {
  Bytes pbkdf2 = concat({der::element(0x04, p.salt), integer_der(p.iterations)});
  if (p.key_length) pbkdf2 = concat({pbkdf2, integer_der(*p.key_length)});
  if (p.prf_nid != NID_hmacWithSHA1) pbkdf2 = concat({pbkdf2, algorithm_der(p.prf_nid)});
  const Bytes kdf = algorithm_der(p.kdf_nid, der::sequence(pbkdf2));
  return algorithm_der(NID_pbmac1, der::sequence(concat({kdf, algorithm_der(p.mac_nid)})));
}

// RFC 8018 7.1.1: "DK = KDF (P, S, c, dkLen)", then the MAC of `data` under DK.
Bytes pbmac1_mac(const Pbmac1& p, ByteView secret, ByteView data) {
  Bytes key(static_cast<std::size_t>(p.key_length.value_or(32)));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (::PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(secret.data()), static_cast<int>(secret.size()), p.salt.data(),
                          static_cast<int>(p.salt.size()), static_cast<int>(p.iterations), hmac_hash(p.prf_nid),
                          static_cast<int>(key.size()), key.data()) != 1 ||
      ::HMAC(hmac_hash(p.mac_nid), key.data(), static_cast<int>(key.size()), data.data(), data.size(), mac, &len) ==
          nullptr) {
    return {};
  }
  return Bytes(mac, mac + len);
}

// ProtectedPart ::= SEQUENCE { header, body } (RFC 4210 5.1.3), from a PKIMessage's own bytes.
Bytes protected_part(ByteView message_der) {
  auto outer = der::read_element(message_der);
  auto parts = outer ? der::read_children(outer->content) : std::nullopt;
  if (!parts || parts->size() < 2) return {};
  return der::sequence(concat({(*parts)[0].whole, (*parts)[1].whole}));
}

void set_protection(ECMP_MSG& message, const Bytes& value) {
  ::ASN1_BIT_STRING_free(message.protection);
  message.protection = ::ASN1_BIT_STRING_new();
  ASSERT_NE(message.protection, nullptr);
  ASSERT_EQ(::ASN1_BIT_STRING_set(message.protection, const_cast<unsigned char*>(value.data()),
                                  static_cast<int>(value.size())),
            1);
  // Whole octets, no unused bits (else i2d would trim trailing zero octets of the MAC).
  message.protection->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
  message.protection->flags |= ASN1_STRING_FLAG_BITS_LEFT;
}

// `ir` with protectionAlg `p` and as protection what `mac` makes of the protected part.
Bytes with_pbmac1(const Bytes& ir, const Pbmac1& p, const std::function<Bytes(ByteView covered)>& mac) {
  MsgPtr message = decode(ir);
  EXPECT_TRUE(message);
  if (!message) return {};
  const Bytes algorithm = pbmac1_algorithm_der(p);
  const unsigned char* in = algorithm.data();
  ::X509_ALGOR_free(message->header->protectionAlg);
  message->header->protectionAlg = ::d2i_X509_ALGOR(nullptr, &in, static_cast<long>(algorithm.size()));
  EXPECT_NE(message->header->protectionAlg, nullptr);
  ::ASN1_BIT_STRING_free(message->protection);
  message->protection = nullptr;
  set_protection(*message, mac(protected_part(der_of_msg(message.get()))));
  return der_of_msg(message.get());
}

// ---- accepted: the reply carries the same PBMAC1 and verifies ----

struct Accepted {
  const char* name;
  int prf_nid;
  int mac_nid;
  std::int64_t iterations;
  std::int64_t key_length;
};

// NOLINTNEXTLINE(readability-identifier-naming): gtest finds its printer by this name
void PrintTo(const Accepted& row, std::ostream* os) {
  *os << row.name;
}

class Pbmac1Accepted : public CmpServerTest, public ::testing::WithParamInterface<Accepted> {};

// RFC 9481 6.1.2; RFC 9483 3.2: the response to a MAC-protected request uses the same secret.
TEST_P(Pbmac1Accepted, IrIsAnsweredWithAnIpUnderTheSamePbmac1) {
  const Accepted& row = GetParam();
  Pbmac1 p;
  p.prf_nid = row.prf_nid;
  p.mac_nid = row.mac_nid;
  p.iterations = row.iterations;
  p.key_length = row.key_length;
  const Bytes request =
      with_pbmac1(fresh_ir(), p, [&](ByteView covered) { return pbmac1_mac(p, secret(kSecret), covered); });
  ASSERT_FALSE(request.empty());

  const Bytes der = send(request);
  Reply reply = read_reply(der);
  ASSERT_TRUE(reply.message) << "the reply does not decode with our templates";
  EXPECT_EQ(openssl_body_type(der), OSSL_CMP_PKIBODY_IP);
  EXPECT_EQ(reply.body_type, ECMP_BODY_IP);
  EXPECT_EQ(reply.status, static_cast<long>(PkiStatus::kAccepted));
  EXPECT_TRUE(reply.bits.empty());
  ASSERT_TRUE(reply.is_protected);
  EXPECT_EQ(to_hex(ossl::der_with(reply.message->header->protectionAlg, ::i2d_X509_ALGOR)),
            to_hex(pbmac1_algorithm_der(p)))
      << "the reply must carry the request's PBMAC1 parameters";
  const ::ASN1_BIT_STRING* protection = reply.message->protection;
  const Bytes mac(protection->data, protection->data + protection->length);
  EXPECT_EQ(to_hex(mac), to_hex(pbmac1_mac(p, secret(kSecret), protected_part(der))));
  EXPECT_EQ(mac.size(), static_cast<std::size_t>(::EVP_MD_get_size(hmac_hash(p.mac_nid))));
  EXPECT_EQ(certificates().size(), 1U);
}

INSTANTIATE_TEST_SUITE_P(
    Algorithms, Pbmac1Accepted,
    ::testing::Values(Accepted{"PrfSha256_HmacSha256", NID_hmacWithSHA256, NID_hmacWithSHA256, 1000, 32},
                      Accepted{"DefaultPrfSha1_HmacSha512", NID_hmacWithSHA1, NID_hmacWithSHA512, 1000, 64},
                      Accepted{"PrfSha512_HmacSha384", NID_hmacWithSHA512, NID_hmacWithSHA384, 500, 48}),
    [](const ::testing::TestParamInfo<Accepted>& param_info) { return std::string(param_info.param.name); });

// ---- refused: one failure bit, unprotected, nothing stored ----

struct Refused {
  const char* name;
  std::function<void(Pbmac1&)> change;
  // The request's MAC: made with this secret, or random bytes if null (running a refused KDF
  // here would cost the time the server must not spend).
  const char* mac_secret;
  int bit;
};

// NOLINTNEXTLINE(readability-identifier-naming): gtest finds its printer by this name
void PrintTo(const Refused& row, std::ostream* os) {
  *os << row.name;
}

const Refused kRefused[] = {
    {"WrongSecret", [](Pbmac1&) {}, "not-the-secret", kBadMessageCheck},
    {"OtherDevicesSecret", [](Pbmac1&) {}, kOtherSecret, kBadMessageCheck},
    // A hundred million PBKDF2 rounds would take the server a minute or more: the limit must
    // refuse them first (badAlg, not badMessageCheck for the random MAC).
    {"IterationsOverTheLimit", [](Pbmac1& p) { p.iterations = 100'000'000; }, nullptr, kBadAlg},
    {"IterationsUnderTheLimit", [](Pbmac1& p) { p.iterations = 99; }, kSecret, kBadAlg},
    {"KeyLengthMissing", [](Pbmac1& p) { p.key_length = std::nullopt; }, nullptr, kBadAlg},
    {"KeyLengthOverTheLimit", [](Pbmac1& p) { p.key_length = 65; }, kSecret, kBadAlg},
    {"MacHmacWithSha1", [](Pbmac1& p) { p.mac_nid = NID_hmacWithSHA1; }, kSecret, kBadAlg},
    {"KdfIsScrypt", [](Pbmac1& p) { p.kdf_nid = NID_id_scrypt; }, nullptr, kBadAlg},
};

class Pbmac1Refused : public CmpServerTest, public ::testing::WithParamInterface<Refused> {};

TEST_P(Pbmac1Refused, IsAnsweredWithExactlyOneFailureBitAndStoresNothing) {
  const Refused& row = GetParam();
  Pbmac1 p;
  row.change(p);
  const Bytes request = with_pbmac1(fresh_ir(), p, [&](ByteView covered) {
    return row.mac_secret != nullptr ? pbmac1_mac(p, secret(row.mac_secret), covered) : random_bytes(32);
  });
  ASSERT_FALSE(request.empty());

  const Bytes der = send(request);
  Reply reply = read_reply(der);
  ASSERT_TRUE(reply.message) << "the reply does not decode with our templates";
  EXPECT_EQ(openssl_body_type(der), OSSL_CMP_PKIBODY_ERROR);
  EXPECT_EQ(reply.body_type, ECMP_BODY_ERROR);
  EXPECT_EQ(reply.status, static_cast<long>(PkiStatus::kRejection));
  EXPECT_EQ(reply.bits, std::vector<int>{row.bit});
  EXPECT_FALSE(reply.is_protected) << "no MAC was verified, so the error cannot be protected with it";
  EXPECT_TRUE(certificates().empty());
}

INSTANTIATE_TEST_SUITE_P(Rows, Pbmac1Refused, ::testing::ValuesIn(kRefused),
                         [](const ::testing::TestParamInfo<Refused>& param_info) {
                           return std::string(param_info.param.name);
                         });

}  // namespace
}  // namespace enrolld::cmp::test
