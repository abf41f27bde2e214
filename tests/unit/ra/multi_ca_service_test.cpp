// EnrollmentServiceImpl with two issuing CAs on the real stack (SoftHSM, RocksDB): a profile's
// CA signs its certificates and hands out its chain, and each CA's CRL lists its own revocations.
#include <thread>

#include <gtest/gtest.h>

#include "ca/ca_certificates.h"
#include "ra/enrollment_service_impl.h"
#include "store/rocksdb/rocksdb_store.h"
#include "support/softhsm_fixture.h"

namespace enrolld::ra {
namespace {

using CrlPtr = std::unique_ptr<::X509_CRL, ossl::Deleter<::X509_CRL_free>>;

class MultiCaServiceTest : public ::testing::Test {
 protected:
  MultiCaServiceTest() {
    auto root_signer = token.signer("root");
    auto devices_signer = token.signer("devices");
    auto cert = ca::make_subordinate_certificate({{{"CN", "Test Devices CA"}}, std::chrono::hours(24 * 365), 0},
                                                 devices_signer->public_key(), ca.root.get(), *root_signer);
    EXPECT_TRUE(cert) << cert.error().message;
    std::vector<ossl::X509Ptr> chain;
    chain.push_back(std::move(*cert));
    chain.push_back(ossl::up_ref(ca.root.get()));
    devices = std::make_unique<ca::CertificateAuthority>(std::move(chain), std::move(devices_signer), system_clock());
    ca::Profile iot;
    iot.name = "iot";
    iot.issuing_ca = "devices";
    service = std::make_unique<EnrollmentServiceImpl>(
        *store,
        std::vector<IssuingAuthority>{{ca::kFirstIssuingCa, ca.issuing.get(), {}}, {"devices", devices.get(), {}}},
        std::vector<ca::Profile>{ca::Profile{}, iot}, Policy{}, system_clock());
  }

  // Issues under `profile` (implicitly confirmed); the decision's certificate and chain.
  IssuedCertificate enroll(const std::string& profile, const std::string& subject) {
    CertificationRequest request;
    request.transaction_id_hex = to_hex(random_bytes(16));
    request.protocol = "test";
    request.requester = Requester{"mac:tester", ""};
    request.profile = profile;
    request.subject_der = testing::name_der(subject);
    request.public_key_der = testing::public_key_der(key.get());
    request.fingerprint = random_bytes(32);
    request.confirmation_supported = false;
    IssuedCertificate issued;
    auto reply = service->submit(request, {}, [&](const Decision& decision) -> Result<Bytes> {
      issued = std::get<IssuedCertificate>(decision);
      return to_bytes("reply");
    });
    EXPECT_TRUE(reply) << (reply ? "" : reply.error().message);
    return issued;
  }

  static std::string serial_of(const IssuedCertificate& issued) {
    auto cert = ossl::x509_from_der(issued.certificate_der);
    return cert ? ossl::integer_hex(::X509_get0_serialNumber(cert->get())) : "";
  }

  // The serials a CRL lists.
  static std::vector<std::string> listed(const Bytes& der) {
    const unsigned char* p = der.data();
    CrlPtr crl(::d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
    std::vector<std::string> serials;
    const STACK_OF(X509_REVOKED)* revoked = crl ? ::X509_CRL_get_REVOKED(crl.get()) : nullptr;
    for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
      serials.push_back(ossl::integer_hex(::X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i))));
    }
    return serials;
  }

  static std::string issuer_of_crl(const Bytes& der) {
    const unsigned char* p = der.data();
    CrlPtr crl(::d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
    return crl ? ossl::name_to_string(::X509_CRL_get_issuer(crl.get())) : "";
  }

  testing::SoftHsmToken token{
      {{"root", hsm::KeyType::kEcP256}, {"issuing", hsm::KeyType::kEcP256}, {"devices", hsm::KeyType::kEcP256}}};
  testing::TestCa ca = testing::make_test_ca(token);
  std::unique_ptr<ca::CertificateAuthority> devices;
  testing::TempDir dir{"enrolld-multi-ca-test"};
  std::unique_ptr<store::RocksDbStore> store = std::move(*store::RocksDbStore::open((dir.path() / "db").string()));
  std::unique_ptr<EnrollmentServiceImpl> service;
  ossl::EvpPkeyPtr key = testing::make_ec_key();
};

TEST_F(MultiCaServiceTest, AProfileIsSignedByItsCaAndGetsThatCasChain) {
  const IssuedCertificate iot = enroll("iot", "CN=sensor");
  const IssuedCertificate plain = enroll("", "CN=router");
  const Bytes devices_der = ossl::der_of(devices->certificate());
  const Bytes issuing_der = ossl::der_of(ca.issuing->certificate());
  ASSERT_EQ(iot.chain_der.size(), 2U);
  EXPECT_EQ(iot.chain_der.front(), devices_der);
  EXPECT_EQ(plain.chain_der.front(), issuing_der);
  auto cert = ossl::x509_from_der(iot.certificate_der);
  ASSERT_TRUE(cert);
  EXPECT_EQ(::X509_check_issued(const_cast<::X509*>(devices->certificate()), cert->get()), X509_V_OK);
  auto record = store->find_certificate(serial_of(iot));
  ASSERT_TRUE(record && *record);
  EXPECT_EQ((*record)->issuer, devices->name());

  ASSERT_EQ(service->issuing_cas().size(), 2U);
  EXPECT_EQ(service->issuing_cas()[1].name, "devices");
  EXPECT_EQ(service->ca_chain().front(), issuing_der) << "the first CA stays the appliance's own";
  auto profile = service->profile("iot");
  ASSERT_TRUE(profile);
  ASSERT_NE(profile->issuing_ca, nullptr);
  EXPECT_EQ(profile->issuing_ca->name, "devices");
  EXPECT_EQ(profile->issuing_ca->chain.front(), devices_der);
}

TEST_F(MultiCaServiceTest, EachCaListsItsOwnRevocationsUnderItsOwnStoreKey) {
  const std::string iot = serial_of(enroll("iot", "CN=sensor"));
  const std::string plain = serial_of(enroll("", "CN=router"));
  ASSERT_TRUE(service->revoke_by_officer(iot, 1, "officer"));

  auto devices_crl = service->current_crl("devices");
  ASSERT_TRUE(devices_crl) << devices_crl.error().message;
  EXPECT_EQ(listed(devices_crl->der), std::vector<std::string>{iot});
  EXPECT_EQ(issuer_of_crl(devices_crl->der), devices->name());
  auto issuing_crl = service->current_crl(ca::kFirstIssuingCa);
  ASSERT_TRUE(issuing_crl);
  EXPECT_EQ(listed(issuing_crl->der), std::vector<std::string>{});
  EXPECT_EQ(issuer_of_crl(issuing_crl->der), ca.issuing->name());

  // Stored apart: the first CA under the keys of a single-CA store, the other under its name.
  auto stored = store->find_crl("devices/full");
  ASSERT_TRUE(stored && *stored);
  EXPECT_EQ((*stored)->der, devices_crl->der);
  auto first = store->find_crl("full");
  ASSERT_TRUE(first && *first);
  EXPECT_EQ((*first)->der, issuing_crl->der);

  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // at most one CRL a second
  ASSERT_TRUE(service->revoke_by_officer(plain, 1, "officer"));
  EXPECT_EQ(listed(service->current_crl(ca::kFirstIssuingCa)->der), std::vector<std::string>{plain});
  EXPECT_EQ(listed(service->current_crl("devices")->der), std::vector<std::string>{iot});
}

TEST_F(MultiCaServiceTest, AnUnknownCaIsRefused) {
  auto crl = service->current_crl("elsewhere");
  ASSERT_FALSE(crl);
  EXPECT_EQ(crl.error().code, ErrorCode::kNotFound);
  ca::Profile stray;
  stray.name = "stray";
  stray.issuing_ca = "elsewhere";
  auto replaced = service->replace_profiles({ca::Profile{}, stray}, Policy{});
  ASSERT_FALSE(replaced);
  EXPECT_EQ(replaced.error().code, ErrorCode::kConfigInvalid);
  EXPECT_NE(replaced.error().message.find("elsewhere"), std::string::npos);
  EXPECT_FALSE(service->profile("stray")) << "nothing was replaced";
}

}  // namespace
}  // namespace enrolld::ra
