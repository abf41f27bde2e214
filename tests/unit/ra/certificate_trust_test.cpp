// CertificateTrustImpl on a certificate this CA issued: known byte for byte from the store, it
// is accepted without path validation, but only while its record says it is valid: same bytes,
// not revoked, within its dates. A vendor chain, once validated, is remembered until the first
// of its certificates expires or the anchors change.
#include <gtest/gtest.h>

#include "ra/certificate_trust_impl.h"
#include "store/rocksdb/rocksdb_store.h"
#include "support/softhsm_fixture.h"

namespace enrolld::ra {
namespace {

class OwnCertificateTrustTest : public ::testing::Test {
 protected:
  // Issues a certificate and records it as the service would; returns it decoded.
  ossl::X509Ptr issue_and_store(const std::string& subject, const std::string& status = "valid") {
    ossl::EvpPkeyPtr key = testing::make_ec_key();
    auto issued = ca.issuing->issue({testing::name_der(subject), testing::public_key_der(key.get()), {}}, ca::Profile{},
                                    [](const std::string&) -> Result<bool> { return false; });
    EXPECT_TRUE(issued) << (issued ? "" : issued.error().message);
    store::CertificateRecord record;
    record.serial_hex = issued->serial_hex;
    record.der = ossl::der_of(issued->certificate.get());
    record.not_before = now() - 60;
    record.not_after = now() + 86400;
    record.status = status;
    store::WriteSet writes;
    writes.new_certificates.push_back(record);
    EXPECT_TRUE(store->commit(writes));
    return std::move(issued->certificate);
  }

  static std::int64_t now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  CertificateTrustImpl trust_at(std::chrono::seconds advance) {
    std::vector<Bytes> chain;
    for (const auto& cert : ca.issuing->chain()) chain.push_back(ossl::der_of(cert.get()));
    return CertificateTrustImpl(*store, chain, {}, {},
                                [advance] { return std::chrono::system_clock::now() + advance; });
  }

  testing::SoftHsmToken token;
  testing::TestCa ca = testing::make_test_ca(token);
  testing::TempDir dir{"enrolld-own-trust"};
  std::unique_ptr<store::RocksDbStore> store = std::move(*store::RocksDbStore::open((dir.path() / "db").string()));
};

TEST_F(OwnCertificateTrustTest, AStoredValidCertificateIsTheRequesterItNames) {
  ossl::X509Ptr cert = issue_and_store("CN=device-1");
  auto trust = trust_at(std::chrono::seconds(0));
  auto requester = trust.validate_decoded(cert.get(), {});
  ASSERT_TRUE(requester) << requester.error().message;
  const std::string serial = ossl::integer_hex(::X509_get0_serialNumber(cert.get()));
  EXPECT_EQ(requester->identity, "cert:" + serial);
  auto from_der = trust.validate(ossl::der_of(cert.get()), {});
  ASSERT_TRUE(from_der) << from_der.error().message;
  EXPECT_EQ(from_der->identity, requester->identity) << "both entry points agree";
}

TEST_F(OwnCertificateTrustTest, ARevokedOneIsCertRevoked) {
  ossl::X509Ptr cert = issue_and_store("CN=device-2", "revoked");
  auto refused = trust_at(std::chrono::seconds(0)).validate_decoded(cert.get(), {});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kCertRevoked);
}

TEST_F(OwnCertificateTrustTest, OutsideItsRecordedValidityItIsNotTrusted) {
  ossl::X509Ptr cert = issue_and_store("CN=device-3");
  auto later = trust_at(std::chrono::hours(48)).validate_decoded(cert.get(), {});
  ASSERT_FALSE(later);
  EXPECT_EQ(later.error().code, ErrorCode::kSignerNotTrusted);
  EXPECT_NE(later.error().message.find("expired"), std::string::npos) << later.error().message;
}

TEST_F(OwnCertificateTrustTest, OneThisCaSignedButNeverStoredIsNotTrusted) {
  ossl::EvpPkeyPtr key = testing::make_ec_key();
  auto unrecorded = ca.issuing->issue({testing::name_der("CN=ghost"), testing::public_key_der(key.get()), {}},
                                      ca::Profile{}, [](const std::string&) -> Result<bool> { return false; });
  ASSERT_TRUE(unrecorded);
  auto refused = trust_at(std::chrono::seconds(0)).validate_decoded(unrecorded->certificate.get(), {});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kSignerNotTrusted);
}

TEST_F(OwnCertificateTrustTest, ARevocationCountsAtOnceEvenAfterAnAcceptedValidation) {
  ossl::X509Ptr cert = issue_and_store("CN=device-4");
  auto trust = trust_at(std::chrono::seconds(0));
  ASSERT_TRUE(trust.validate(ossl::der_of(cert.get()), {}));
  auto record = store->find_certificate(ossl::integer_hex(::X509_get0_serialNumber(cert.get())));
  ASSERT_TRUE(record && *record);
  store::CertificateRecord revoked = **record;
  revoked.status = "revoked";
  store::WriteSet writes;
  writes.updated_certificates.push_back(revoked);
  ASSERT_TRUE(store->commit(writes));
  auto refused = trust.validate(ossl::der_of(cert.get()), {});
  ASSERT_FALSE(refused) << "our own certificates are never taken from memory";
  EXPECT_EQ(refused.error().code, ErrorCode::kCertRevoked);
}

// The test CA as a manufacturer: its root a vendor anchor, its issuing CA an intermediate the
// client sends, and a device certificate valid for a day.
class VendorChainTrustTest : public OwnCertificateTrustTest {
 protected:
  CertificateTrustImpl vendor_trust() {
    return CertificateTrustImpl(*store, std::vector<Bytes>{}, {ossl::der_of(ca.root.get())}, {},
                                [this] { return std::chrono::system_clock::now() + advance; });
  }
  Bytes device_for_a_day() {
    ossl::EvpPkeyPtr key = testing::make_ec_key();
    ca::Profile day;
    day.validity = std::chrono::hours(24);
    auto issued = ca.issuing->issue({testing::name_der("CN=factory-device"), testing::public_key_der(key.get()), {}},
                                    day, [](const std::string&) -> Result<bool> { return false; });
    EXPECT_TRUE(issued);
    return issued ? ossl::der_of(issued->certificate.get()) : Bytes{};
  }
  Bytes intermediate() const { return ossl::der_of(ca.issuing->certificate()); }
  std::chrono::seconds advance{0};
};

TEST_F(VendorChainTrustTest, ARememberedChainStillExpires) {
  const Bytes device = device_for_a_day();
  auto trust = vendor_trust();
  for (int use = 0; use < 2; ++use) {
    auto requester = trust.validate(device, {intermediate()});
    ASSERT_TRUE(requester) << requester.error().message;
    EXPECT_EQ(requester->identity, "vendor:CN=factory-device");
  }
  advance = std::chrono::hours(48);
  auto expired = trust.validate(device, {intermediate()});
  ASSERT_FALSE(expired) << "accepted from memory past its notAfter";
  EXPECT_EQ(expired.error().code, ErrorCode::kSignerNotTrusted);
}

TEST_F(VendorChainTrustTest, ARememberedChainIsForgottenWhenTheAnchorsChange) {
  const Bytes device = device_for_a_day();
  auto trust = vendor_trust();
  ASSERT_TRUE(trust.validate(device, {intermediate()}));
  trust.replace_anchors({}, {});
  auto refused = trust.validate(device, {intermediate()});
  ASSERT_FALSE(refused) << "accepted from memory under anchors that no longer hold";
  EXPECT_EQ(refused.error().code, ErrorCode::kSignerNotTrusted);
  auto other = vendor_trust();
  ASSERT_TRUE(other.validate(device, {intermediate()}));
  EXPECT_FALSE(other.validate(device, {})) << "a chain is remembered whole, not by its signer alone";
}

}  // namespace
}  // namespace enrolld::ra
