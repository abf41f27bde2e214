// ossl::subject_of_certificate: the subject Name and SubjectPublicKeyInfo as a certificate
// encodes them, found without decoding it; they must be what OpenSSL's decoding gives.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/openssl_util.h"

namespace enrolld::ossl {
namespace {

X509Ptr certificate(long version) {
  EvpPkeyPtr key(::EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  X509Ptr cert(::X509_new());
  ::X509_set_version(cert.get(), version);
  ::ASN1_INTEGER_set(::X509_get_serialNumber(cert.get()), 9);
  ::X509_NAME_add_entry_by_txt(::X509_get_subject_name(cert.get()), "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>("device-9"), -1, -1, 0);
  ::X509_NAME_add_entry_by_txt(::X509_get_issuer_name(cert.get()), "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>("Issuing CA"), -1, -1, 0);
  ::X509_gmtime_adj(::X509_getm_notBefore(cert.get()), 0);
  ::X509_gmtime_adj(::X509_getm_notAfter(cert.get()), 3600);
  ::X509_set_pubkey(cert.get(), key.get());
  EXPECT_GT(::X509_sign(cert.get(), key.get(), ::EVP_sha256()), 0);
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

}  // namespace
}  // namespace enrolld::ossl
