// RevocationLists on the real stack (SoftHSM, RocksDB): a CRL is signed only when something
// changed or half its validity has passed, and every new one has a greater cRLNumber.
#include "ra/revocation_lists.h"

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "ra/enrollment_service_impl.h"
#include "store/rocksdb/rocksdb_store.h"
#include "support/softhsm_fixture.h"

namespace enrolld::ra {
namespace {

using CrlPtr = std::unique_ptr<::X509_CRL, ossl::Deleter<::X509_CRL_free>>;

CrlPtr crl_from(const Bytes& der) {
  const unsigned char* p = der.data();
  return CrlPtr(::d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
}

long crl_number(const Bytes& der) {
  CrlPtr crl = crl_from(der);
  ossl::Asn1IntegerPtr number(
      static_cast<::ASN1_INTEGER*>(::X509_CRL_get_ext_d2i(crl.get(), NID_crl_number, nullptr, nullptr)));
  return number ? ::ASN1_INTEGER_get(number.get()) : -1;
}

std::vector<std::string> serials_on(const Bytes& der) {
  CrlPtr crl = crl_from(der);
  std::vector<std::string> out;
  const STACK_OF(X509_REVOKED)* entries = ::X509_CRL_get_REVOKED(crl.get());
  for (int i = 0; i < sk_X509_REVOKED_num(entries); ++i) {
    out.push_back(ossl::integer_hex(::X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(entries, i))));
  }
  return out;
}

class RevocationListsTest : public ::testing::Test {
 protected:
  // Issues a certificate (confirmed) and returns its serial.
  std::string enroll(const std::string& subject) {
    CertificationRequest request;
    request.transaction_id_hex = to_hex(random_bytes(16));
    request.requester = Requester{"mac:tester", ""};
    request.subject_der = testing::name_der(subject);
    request.public_key_der = testing::public_key_der(key.get());
    request.fingerprint = random_bytes(32);
    std::string serial;
    auto reply = service.submit(request, {}, [&](const Decision& decision) -> Result<Bytes> {
      auto cert = ossl::x509_from_der(std::get<IssuedCertificate>(decision).certificate_der);
      serial = ossl::integer_hex(::X509_get0_serialNumber(cert->get()));
      return to_bytes("reply");
    });
    EXPECT_TRUE(reply);
    return serial;
  }

  void revoke(const std::string& serial, int reason) {
    auto revoked = service.revoke({to_hex(random_bytes(16)), Requester{"mac:tester", ""}, serial, {}, reason});
    ASSERT_TRUE(revoked) << revoked.error().message;
  }

  RevocationList current() {
    auto crl = lists.current();
    EXPECT_TRUE(crl) << (crl ? "" : crl.error().message);
    return crl ? *crl : RevocationList{};
  }

  testing::SoftHsmToken token;
  testing::TestCa ca = testing::make_test_ca(token);
  testing::TempDir dir{"enrolld-crl-test"};
  std::unique_ptr<store::RocksDbStore> store = std::move(*store::RocksDbStore::open((dir.path() / "db").string()));
  std::chrono::seconds advance{0};
  ca::Clock clock = [this] { return std::chrono::system_clock::now() + advance; };
  EnrollmentServiceImpl service{*store, *ca.issuing, {ca::Profile{}}, Policy{}, clock};
  RevocationLists lists{*store, *ca.issuing, std::chrono::hours(24), clock};
  ossl::EvpPkeyPtr key = testing::make_ec_key();
};

TEST_F(RevocationListsTest, TheSameCrlIsReturnedUntilSomethingIsRevoked) {
  const RevocationList first = current();
  CrlPtr crl = crl_from(first.der);
  ASSERT_TRUE(crl);
  EXPECT_EQ(::X509_CRL_verify(crl.get(), ::X509_get0_pubkey(ca.issuing->certificate())), 1);
  EXPECT_TRUE(serials_on(first.der).empty());
  const std::string serial = enroll("CN=still-valid");
  EXPECT_EQ(current().der, first.der);  // an issuance changes nothing on a CRL

  revoke(serial, 1);
  advance = std::chrono::seconds(1);  // at most one CRL per second
  const RevocationList second = current();
  EXPECT_NE(second.der, first.der);
  EXPECT_EQ(serials_on(second.der), std::vector<std::string>{serial});
  EXPECT_GT(crl_number(second.der), crl_number(first.der));
  EXPECT_GT(second.this_update, first.this_update);  // newer by thisUpdate
  EXPECT_EQ(current().der, second.der);
}

TEST_F(RevocationListsTest, PastHalfItsValidityTheCrlIsSignedAgainWithTheSameEntries) {
  revoke(enroll("CN=gone"), 0);
  const RevocationList first = current();
  advance = std::chrono::hours(11);
  EXPECT_EQ(current().der, first.der);
  advance = std::chrono::hours(13);
  const RevocationList renewed = current();
  EXPECT_NE(renewed.der, first.der);
  EXPECT_EQ(serials_on(renewed.der), serials_on(first.der));
  EXPECT_GT(crl_number(renewed.der), crl_number(first.der));
  CrlPtr crl = crl_from(renewed.der);
  int days = 0;
  int seconds = 0;
  ASSERT_EQ(
      ::ASN1_TIME_diff(&days, &seconds, ::X509_CRL_get0_lastUpdate(crl.get()), ::X509_CRL_get0_nextUpdate(crl.get())),
      1);
  EXPECT_EQ(days * 86400 + seconds, 24 * 3600);
}

}  // namespace
}  // namespace enrolld::ra
