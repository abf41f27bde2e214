// What is read from a certificate's DER without decoding it must be what OpenSSL's decoding
// gives: ossl::subject_of_certificate (subject Name, SubjectPublicKeyInfo) and
// ossl::signature_digest_of_certificate (X509_digest_sig, the certHash of RFC 4210).
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <utility>
#include <vector>

#include "common/openssl_util.h"

namespace enrolld::ossl {
namespace {

// Self-signed with `key` (a P-256 key when null), hashing with `md` (null for EdDSA).
X509Ptr certificate(long version, ::EVP_PKEY* key = nullptr, const ::EVP_MD* md = ::EVP_sha256()) {
  EvpPkeyPtr p256(::EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (key == nullptr) key = p256.get();
  X509Ptr cert(::X509_new());
  ::X509_set_version(cert.get(), version);
  ::ASN1_INTEGER_set(::X509_get_serialNumber(cert.get()), 9);
  ::X509_NAME_add_entry_by_txt(::X509_get_subject_name(cert.get()), "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>("device-9"), -1, -1, 0);
  ::X509_NAME_add_entry_by_txt(::X509_get_issuer_name(cert.get()), "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>("Issuing CA"), -1, -1, 0);
  ::X509_gmtime_adj(::X509_getm_notBefore(cert.get()), 0);
  ::X509_gmtime_adj(::X509_getm_notAfter(cert.get()), 3600);
  ::X509_set_pubkey(cert.get(), key);
  EXPECT_GT(::X509_sign(cert.get(), key, md), 0);
  return cert;
}

Bytes bytes(ByteView view) {
  return Bytes(view.begin(), view.end());
}

TEST(SubjectOfCertificate, FindsWhatDecodingGivesWithAndWithoutTheVersionField) {
  for (long version : {X509_VERSION_3, X509_VERSION_1}) {
    const X509Ptr cert = certificate(version);
    const Bytes der = der_of(cert.get());
    auto subject = subject_of_certificate(der);
    ASSERT_TRUE(subject) << "version " << version;
    EXPECT_EQ(bytes(subject->name), der_of(::X509_get_subject_name(cert.get())));
    EXPECT_EQ(bytes(subject->public_key), der_of_public_key(::X509_get0_pubkey(cert.get())));
  }
}

TEST(SubjectOfCertificate, RefusesWhatIsNotShapedAsACertificate) {
  const Bytes der = der_of(certificate(X509_VERSION_3).get());
  Bytes trailing = der;
  trailing.push_back(0);
  EXPECT_FALSE(subject_of_certificate(trailing));
  EXPECT_FALSE(subject_of_certificate(Bytes(der.begin(), der.end() - 1)));
  EXPECT_FALSE(subject_of_certificate(Bytes{0x30, 0x03, 0x02, 0x01, 0x01}));
  EXPECT_FALSE(subject_of_certificate({}));
}

// ECDSA and RSA name their hash in the signature algorithm; Ed25519 does not, and is left to
// X509_digest_sig (SHA-512).
TEST(SignatureDigestOfCertificate, IsWhatX509DigestSigGives) {
  EvpPkeyPtr p384(::EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
  EvpPkeyPtr rsa(::EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
  EvpPkeyPtr ed25519(::EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  const std::vector<std::pair<X509Ptr, std::size_t>> cases = [&] {
    std::vector<std::pair<X509Ptr, std::size_t>> out;
    out.emplace_back(certificate(X509_VERSION_3), 32);
    out.emplace_back(certificate(X509_VERSION_3, p384.get(), ::EVP_sha384()), 48);
    out.emplace_back(certificate(X509_VERSION_3, rsa.get(), ::EVP_sha512()), 64);
    out.emplace_back(certificate(X509_VERSION_3, ed25519.get(), nullptr), 64);
    return out;
  }();
  for (const auto& [cert, length] : cases) {
    Asn1OctetStringPtr reference(::X509_digest_sig(cert.get(), nullptr, nullptr));
    ASSERT_TRUE(reference);
    auto digest = signature_digest_of_certificate(der_of(cert.get()));
    ASSERT_TRUE(digest) << digest.error().message;
    EXPECT_EQ(*digest, Bytes(reference->data, reference->data + reference->length));
    EXPECT_EQ(digest->size(), length);
  }
  auto refused = signature_digest_of_certificate(Bytes{0x30, 0x03, 0x02, 0x01, 0x01});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kSystemFailure);
}

}  // namespace
}  // namespace enrolld::ossl
