// The EnvelopedData of central key generation (RFC 9483 4.1.6) opened with OpenSSL's CMS API:
// to a certificate by ECDH with a SHA-2 KDF (RFC 9481 4.1), and by password.
#include "protocols/cmp/central_keygen.h"

#include <gtest/gtest.h>
#include <openssl/cms.h>
#include <openssl/x509.h>

#include "common/der.h"
#include "common/openssl_util.h"

namespace enrolld::cmp {
namespace {

using CmsPtr = std::unique_ptr<::CMS_ContentInfo, ossl::Deleter<::CMS_ContentInfo_free>>;
using BioPtr = std::unique_ptr<::BIO, ossl::Deleter<::BIO_free>>;

// A self-signed certificate for a fresh P-256 key.
std::pair<ossl::X509Ptr, ossl::EvpPkeyPtr> ec_credential() {
  ossl::EvpPkeyPtr key(::EVP_EC_gen("P-256"));
  ossl::X509Ptr cert(::X509_new());
  ::X509_set_version(cert.get(), X509_VERSION_3);
  ::ASN1_INTEGER_set(::X509_get_serialNumber(cert.get()), 7);
  ::X509_NAME_add_entry_by_txt(::X509_get_subject_name(cert.get()), "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>("device"), -1, -1, 0);
  ::X509_set_issuer_name(cert.get(), ::X509_get_subject_name(cert.get()));
  ::X509_gmtime_adj(::X509_getm_notBefore(cert.get()), 0);
  ::X509_gmtime_adj(::X509_getm_notAfter(cert.get()), 3600);
  ::X509_set_pubkey(cert.get(), key.get());
  ::X509_sign(cert.get(), key.get(), ::EVP_sha256());
  return {std::move(cert), std::move(key)};
}

// EncryptedKey ([0] IMPLICIT EnvelopedData) as a ContentInfo for the CMS API.
CmsPtr as_content_info(const Bytes& encrypted_key) {
  auto implicit = der::read_element(encrypted_key);
  if (!implicit || implicit->tag != 0xa0) return nullptr;
  const Bytes oid = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03};  // envelopedData
  Bytes content = oid;
  const Bytes enveloped = der::element(0xa0, der::sequence(implicit->content));
  content.insert(content.end(), enveloped.begin(), enveloped.end());
  const Bytes whole = der::sequence(content);
  const unsigned char* p = whole.data();
  return CmsPtr(::d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(whole.size())));
}

Bytes mem_of(::BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return Bytes(data, data + size);
}

const Bytes kSignedData = der::sequence(Bytes{0x02, 0x01, 0x03});  // stands in for a SignedData

TEST(EncryptedKey, ToAnEcCertificateByEcdhWithASha256KdfThatOnlyItsKeyOpens) {
  auto [cert, key] = ec_credential();
  auto encrypted = encrypted_key(kSignedData, KeyRecipient{{}, cert.get()});
  ASSERT_TRUE(encrypted) << encrypted.error().message;
  CmsPtr cms = as_content_info(*encrypted);
  ASSERT_TRUE(cms);
  STACK_OF(CMS_RecipientInfo)* infos = ::CMS_get0_RecipientInfos(cms.get());
  ASSERT_EQ(sk_CMS_RecipientInfo_num(infos), 1);
  ::CMS_RecipientInfo* info = sk_CMS_RecipientInfo_value(infos, 0);
  ASSERT_EQ(::CMS_RecipientInfo_type(info), CMS_RECIPINFO_AGREE);
  ::X509_ALGOR* algorithm = nullptr;
  ASSERT_EQ(::CMS_RecipientInfo_kari_get0_alg(info, &algorithm, nullptr), 1);
  const ::ASN1_OBJECT* oid = nullptr;
  ::X509_ALGOR_get0(&oid, nullptr, nullptr, algorithm);
  EXPECT_EQ(::OBJ_obj2nid(oid), NID_dhSinglePass_stdDH_sha256kdf_scheme);

  BioPtr out(::BIO_new(::BIO_s_mem()));
  ASSERT_EQ(::CMS_decrypt(cms.get(), key.get(), cert.get(), nullptr, out.get(), 0), 1) << ossl::drain_errors();
  EXPECT_EQ(mem_of(out.get()), kSignedData);
  EXPECT_EQ(::OBJ_obj2nid(::CMS_get0_eContentType(cms.get())), NID_pkcs7_signed);

  auto [other_cert, other_key] = ec_credential();
  CmsPtr again = as_content_info(*encrypted);
  BioPtr none(::BIO_new(::BIO_s_mem()));
  EXPECT_NE(::CMS_decrypt(again.get(), other_key.get(), other_cert.get(), nullptr, none.get(), 0), 1);
  ossl::drain_errors();
}

TEST(EncryptedKey, ByPasswordOnlyTheSharedSecretOpensIt) {
  const Bytes secret = to_bytes("the-shared-secret");
  auto encrypted = encrypted_key(kSignedData, KeyRecipient{secret, nullptr});
  ASSERT_TRUE(encrypted) << encrypted.error().message;
  CmsPtr cms = as_content_info(*encrypted);
  ASSERT_TRUE(cms);
  ASSERT_EQ(::CMS_decrypt_set1_password(cms.get(), const_cast<unsigned char*>(secret.data()),
                                        static_cast<ossl_ssize_t>(secret.size())),
            1);
  BioPtr out(::BIO_new(::BIO_s_mem()));
  ASSERT_EQ(::CMS_decrypt(cms.get(), nullptr, nullptr, nullptr, out.get(), 0), 1) << ossl::drain_errors();
  EXPECT_EQ(mem_of(out.get()), kSignedData);

  CmsPtr again = as_content_info(*encrypted);
  const Bytes wrong = to_bytes("another-secret");
  ::CMS_decrypt_set1_password(again.get(), const_cast<unsigned char*>(wrong.data()),
                              static_cast<ossl_ssize_t>(wrong.size()));
  BioPtr none(::BIO_new(::BIO_s_mem()));
  EXPECT_NE(::CMS_decrypt(again.get(), nullptr, nullptr, nullptr, none.get(), 0), 1);
  ossl::drain_errors();
}

TEST(EncryptedKey, WithoutARecipientItRefuses) {
  EXPECT_FALSE(encrypted_key(kSignedData, KeyRecipient{}));
}

}  // namespace
}  // namespace enrolld::cmp
