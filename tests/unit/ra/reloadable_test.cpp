// What a reload (SIGHUP) replaces in the RA while it serves: the MAC secrets and the trust
// anchors. Certificates are made in memory (software CAs); the store is a real RocksDB.
#include <gtest/gtest.h>

#include "ca/ca_certificates.h"
#include "hsm/software_signer.h"
#include "ra/certificate_trust_impl.h"
#include "ra/static_secrets.h"
#include "store/rocksdb/rocksdb_store.h"
#include "support/softhsm_fixture.h"

namespace enrolld::ra {
namespace {

TEST(StaticSharedSecrets, ReplaceDropsWhatTheNewSetLacks) {
  StaticSharedSecrets secrets({{"device-1", to_bytes("one")}});
  ASSERT_TRUE(secrets.find_secret("device-1"));
  secrets.replace({{"device-2", to_bytes("two")}, {"device-3", to_bytes("three")}});
  EXPECT_FALSE(secrets.find_secret("device-1")) << "a removed credential is unknown at once";
  ASSERT_TRUE(secrets.find_secret("device-2"));
  EXPECT_EQ(*secrets.find_secret("device-2"), to_bytes("two"));
  EXPECT_EQ(secrets.size(), 2u);
}

// A self-signed CA with its key in memory, and one certificate it issued.
struct SoftwareCa {
  ossl::X509Ptr root;
  std::unique_ptr<ca::CertificateAuthority> authority;
};

SoftwareCa software_ca(const std::string& common_name) {
  ossl::EvpPkeyPtr key = testing::make_ec_key();
  hsm::SoftwareSigner signer(ossl::up_ref(key.get()));
  auto root = ca::make_root_certificate({{{"CN", common_name}}, std::chrono::hours(24 * 365), 0}, signer);
  EXPECT_TRUE(root) << (root ? "" : root.error().message);
  std::vector<ossl::X509Ptr> chain;
  chain.push_back(ossl::up_ref(root->get()));
  return SoftwareCa{std::move(*root),
                    std::make_unique<ca::CertificateAuthority>(
                        std::move(chain), std::make_unique<hsm::SoftwareSigner>(std::move(key)), system_clock())};
}

Bytes issue(const ca::CertificateAuthority& authority, const std::string& subject) {
  ossl::EvpPkeyPtr key = testing::make_ec_key();
  auto issued = authority.issue({testing::name_der(subject), testing::public_key_der(key.get()), {}}, ca::Profile{},
                                [](const std::string&) -> Result<bool> { return false; });
  EXPECT_TRUE(issued) << (issued ? "" : issued.error().message);
  return issued ? ossl::der_of(issued->certificate.get()) : Bytes{};
}

class CertificateTrustReloadTest : public ::testing::Test {
 protected:
  testing::TempDir dir{"enrolld-trust-reload"};
  std::unique_ptr<store::RocksDbStore> store = std::move(*store::RocksDbStore::open((dir.path() / "db").string()));
  SoftwareCa own = software_ca("our CA");
  SoftwareCa vendor = software_ca("vendor CA");
  Bytes device = issue(*vendor.authority, "CN=device");
  Bytes field_ra = issue(*vendor.authority, "CN=field RA");
  CertificateTrustImpl trust{*store, {ossl::der_of(own.root.get())}, {}, {}, system_clock()};
};

TEST_F(CertificateTrustReloadTest, ReplacedAnchorsAndRasDecideTheNextValidation) {
  EXPECT_EQ(trust.validate(device, {}).error().code, ErrorCode::kSignerNotTrusted);

  trust.replace_anchors({ossl::der_of(vendor.root.get())}, {field_ra});
  auto as_device = trust.validate(device, {});
  ASSERT_TRUE(as_device) << as_device.error().message;
  EXPECT_EQ(as_device->identity, "vendor:CN=device");
  EXPECT_FALSE(as_device->registration_authority);
  auto as_ra = trust.validate(field_ra, {});
  ASSERT_TRUE(as_ra) << as_ra.error().message;
  EXPECT_TRUE(as_ra->registration_authority);

  trust.replace_anchors({ossl::der_of(vendor.root.get())}, {});
  auto demoted = trust.validate(field_ra, {});
  ASSERT_TRUE(demoted) << demoted.error().message;
  EXPECT_FALSE(demoted->registration_authority) << "an RA removed from the configuration is a plain vendor device";

  trust.replace_anchors({}, {});
  EXPECT_EQ(trust.validate(device, {}).error().code, ErrorCode::kSignerNotTrusted);
}

}  // namespace
}  // namespace enrolld::ra
