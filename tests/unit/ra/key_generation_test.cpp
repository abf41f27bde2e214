// The key generation authority's key package (RFC 9483 4.1.6): signed in SoftHSM, read back
// with OpenSSL's CMS API as a client would, and never sent when the device signed wrongly.
#include "ra/key_generation.h"

#include <gtest/gtest.h>
#include <openssl/cms.h>
#include <openssl/x509.h>

#include "common/der.h"
#include "support/faulty_signer.h"
#include "support/softhsm_fixture.h"

namespace enrolld::ra {
namespace {

using CmsPtr = std::unique_ptr<::CMS_ContentInfo, ossl::Deleter<::CMS_ContentInfo_free>>;

// SignedData (as sign_key_package returns it) inside a ContentInfo, for the CMS API.
CmsPtr as_content_info(const Bytes& signed_data) {
  Bytes content = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02};  // signedData
  const Bytes explicit_content = der::element(0xa0, signed_data);
  content.insert(content.end(), explicit_content.begin(), explicit_content.end());
  const Bytes whole = der::sequence(content);
  const unsigned char* p = whole.data();
  return CmsPtr(::d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(whole.size())));
}

class KeyPackageTest : public ::testing::Test {
 protected:
  // The issuing CA stands in for the key generation authority: its certificate and HSM key.
  std::vector<ossl::X509Ptr> authority_chain() const {
    std::vector<ossl::X509Ptr> chain;
    chain.push_back(ossl::up_ref(const_cast<::X509*>(test_ca.issuing->certificate())));
    return chain;
  }

  testing::SoftHsmToken token;
  testing::TestCa test_ca = testing::make_test_ca(token);
  ossl::EvpPkeyPtr key = testing::make_ec_key();
};

TEST_F(KeyPackageTest, ThePackageVerifiesWithTheAuthoritysCertificateAndHoldsTheKey) {
  auto package =
      sign_key_package(key.get(), KeyPackageFormat::kSingleKey, test_ca.issuing->signer(), authority_chain());
  ASSERT_TRUE(package) << package.error().message;
  CmsPtr cms = as_content_info(*package);
  ASSERT_TRUE(cms) << ossl::drain_errors();
  char type[64] = {};
  ::OBJ_obj2txt(type, sizeof type, ::CMS_get0_eContentType(cms.get()), 1);
  EXPECT_STREQ(type, "2.16.840.1.101.2.1.2.78.5");
  ossl::BioPtr out(::BIO_new(::BIO_s_mem()));
  ASSERT_EQ(::CMS_verify(cms.get(), nullptr, nullptr, nullptr, out.get(), CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY), 1)
      << ossl::drain_errors();
  char* data = nullptr;
  const long size = BIO_get_mem_data(out.get(), &data);
  const auto* p = reinterpret_cast<const unsigned char*>(data);
  std::unique_ptr<::PKCS8_PRIV_KEY_INFO, ossl::Deleter<::PKCS8_PRIV_KEY_INFO_free>> info(
      ::d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, size));
  ASSERT_TRUE(info);
  ossl::EvpPkeyPtr read(::EVP_PKCS82PKEY(info.get()));
  ASSERT_TRUE(read);
  EXPECT_EQ(::EVP_PKEY_eq(read.get(), key.get()), 1);
}

TEST_F(KeyPackageTest, AFaultySignatureIsNeverSent) {
  ::EVP_PKEY* authority_key = ::X509_get0_pubkey(test_ca.issuing->certificate());
  testing::FaultySigner faulty(testing::mismatched_key_pair(authority_key), authority_key);
  auto package = sign_key_package(key.get(), KeyPackageFormat::kSingleKey, faulty, authority_chain());
  ASSERT_FALSE(package);
  EXPECT_EQ(package.error().code, ErrorCode::kSystemFailure);
  EXPECT_NE(package.error().message.find("does not verify"), std::string::npos) << package.error().message;
}

TEST_F(KeyPackageTest, ACertificateThatIsNotTheSignersIsRefused) {
  // Signed by the root's key, but named as the issuing CA's: a recipient could not verify it.
  auto root_signer = token.signer("root");
  auto package = sign_key_package(key.get(), KeyPackageFormat::kAsymmetricKeyPackage, *root_signer, authority_chain());
  EXPECT_FALSE(package) << "nothing to send";
}

}  // namespace
}  // namespace enrolld::ra
