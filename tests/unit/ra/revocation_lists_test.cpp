// RevocationLists on the real stack (SoftHSM, RocksDB): a CRL is signed only when it is due, every
// new one has a greater cRLNumber (also after a restart), holds come and go, and delta CRLs list
// what changed since their base.
#include "ra/revocation_lists.h"

#include <list>

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

long extension_integer(const Bytes& der, int nid, int* critical = nullptr) {
  CrlPtr crl = crl_from(der);
  ossl::Asn1IntegerPtr value(static_cast<::ASN1_INTEGER*>(::X509_CRL_get_ext_d2i(crl.get(), nid, critical, nullptr)));
  return value ? ::ASN1_INTEGER_get(value.get()) : -1;
}

// The reasonCode of the entry for `serial` (0 when it has none), -1 when it is not listed.
int reason_on(const Bytes& der, const std::string& serial) {
  CrlPtr crl = crl_from(der);
  const STACK_OF(X509_REVOKED)* entries = ::X509_CRL_get_REVOKED(crl.get());
  for (int i = 0; i < sk_X509_REVOKED_num(entries); ++i) {
    ::X509_REVOKED* entry = sk_X509_REVOKED_value(entries, i);
    if (ossl::integer_hex(::X509_REVOKED_get0_serialNumber(entry)) != serial) continue;
    std::unique_ptr<::ASN1_ENUMERATED, ossl::Deleter<::ASN1_ENUMERATED_free>> reason(
        static_cast<::ASN1_ENUMERATED*>(::X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, nullptr, nullptr)));
    return reason ? static_cast<int>(::ASN1_ENUMERATED_get(reason.get())) : 0;
  }
  return -1;
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
    advance += std::chrono::seconds(1);  // each change in a second of its own, as in life
    // Only an officer lifts a hold.
    auto revoked = reason == ca::kReasonRemoveFromCrl
                       ? service.revoke_by_officer(serial, reason, "officer")
                       : service.revoke({to_hex(random_bytes(16)), Requester{"mac:tester", ""}, serial, {}, reason});
    ASSERT_TRUE(revoked) << revoked.error().message;
    for (auto& watching : m_lists) watching.note_change();  // as the service tells its own
  }

  // A RevocationLists on the test's store, told of every revocation revoke() makes.
  RevocationLists& lists_with(const CrlSchedule& schedule) {
    return m_lists.emplace_back(*store, *ca.issuing, schedule, clock);
  }

  RevocationList current() {
    auto crl = lists.current();
    EXPECT_TRUE(crl) << (crl ? "" : crl.error().message);
    return crl ? *crl : RevocationList{};
  }

  RevocationList delta(RevocationLists& from) {
    auto crl = from.current_delta();
    EXPECT_TRUE(crl) << (crl ? "" : crl.error().message);
    EXPECT_TRUE(crl && *crl) << "no delta CRL";
    return crl && *crl ? **crl : RevocationList{};
  }

  // Full CRLs on a schedule, revocations on delta CRLs in between.
  static CrlSchedule with_deltas() {
    CrlSchedule schedule;
    schedule.on_revocation = false;
    schedule.delta_validity = std::chrono::hours(1);
    schedule.delta_url = "http://127.0.0.1/repo/issuing-delta.crl";
    return schedule;
  }

  testing::SoftHsmToken token;
  testing::TestCa ca = testing::make_test_ca(token);
  testing::TempDir dir{"enrolld-crl-test"};
  std::unique_ptr<store::RocksDbStore> store = std::move(*store::RocksDbStore::open((dir.path() / "db").string()));
  // A stopped clock that moves only when a test says so: a slow run (ASan) crossing a real second
  // boundary must not change which CRL number a test sees.
  const std::chrono::system_clock::time_point started =
      std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  std::chrono::seconds advance{0};
  ca::Clock clock = [this] { return started + advance; };
  EnrollmentServiceImpl service{*store, *ca.issuing, {ca::Profile{}}, Policy{}, clock};
  std::list<RevocationLists> m_lists;
  RevocationLists& lists = lists_with(CrlSchedule{});
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
  advance += std::chrono::hours(11);
  EXPECT_EQ(current().der, first.der);
  advance += std::chrono::hours(2);
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

TEST_F(RevocationListsTest, RevocationsInTheSecondOfASignedCrlWaitForTheNextSecond) {
  const RevocationList first = current();
  const std::string serial = enroll("CN=quick");
  ASSERT_TRUE(service.revoke({to_hex(random_bytes(16)), Requester{"mac:tester", ""}, serial, {}, 1}));
  lists.note_change();
  EXPECT_EQ(current().der, first.der) << "a second CRL within the same second";
  advance += std::chrono::seconds(1);
  EXPECT_EQ(serials_on(current().der), std::vector<std::string>{serial});
}

// RFC 5280 5.2.3: "CRL numbers MUST be ... monotonically increasing", across restarts too: a
// new process reads the last number from the store, even with the clock set back.
TEST_F(RevocationListsTest, ARestartServesTheStoredCrlAndKeepsNumbersIncreasing) {
  revoke(enroll("CN=before-restart"), 1);
  const RevocationList before = current();
  RevocationLists restarted{*store, *ca.issuing, CrlSchedule{}, clock};
  auto again = restarted.current();
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->der, before.der) << "nothing changed: the stored CRL is served, not a new signature";

  // The clock went back an hour while the process was down: the revocation is still signed at
  // once, and the number follows the stored one, not the clock.
  advance -= std::chrono::hours(1);
  revoke(enroll("CN=after-restart"), 1);
  RevocationLists later{*store, *ca.issuing, CrlSchedule{}, clock};
  auto after = later.current();
  ASSERT_TRUE(after) << after.error().message;
  EXPECT_EQ(serials_on(after->der).size(), 2u);
  EXPECT_EQ(crl_number(after->der), crl_number(before.der) + 1);
}

// The service tells its own lists of what it revokes: no one else has to.
TEST_F(RevocationListsTest, TheServicesOwnCrlSeesItsRevocations) {
  const RevocationList first = *service.current_crl(ca::kFirstIssuingCa);
  const std::string serial = enroll("CN=through-the-service");
  ASSERT_TRUE(service.revoke({to_hex(random_bytes(16)), Requester{"mac:tester", ""}, serial, {}, 1}));
  advance += std::chrono::seconds(1);
  const RevocationList second = *service.current_crl(ca::kFirstIssuingCa);
  EXPECT_EQ(serials_on(second.der), std::vector<std::string>{serial});
  EXPECT_EQ(crl_number(second.der), crl_number(first.der) + 1);
}

// A change stamped in the very second its base was signed, or before it but committed after it,
// is on the delta: deltas are made from the base's own entries, not from timestamps.
TEST_F(RevocationListsTest, ARevocationInTheBasesOwnSecondIsOnTheDelta) {
  RevocationLists& deltas = lists_with(with_deltas());
  const Bytes base = deltas.current()->der;
  const std::string serial = enroll("CN=same-second");
  advance -= std::chrono::seconds(10);  // stamped before the base, as by a thread that read the clock earlier
  ASSERT_TRUE(service.revoke({to_hex(random_bytes(16)), Requester{"mac:tester", ""}, serial, {}, 1}));
  deltas.note_change();
  advance += std::chrono::seconds(11);
  const RevocationList delta_crl = delta(deltas);
  EXPECT_EQ(extension_integer(delta_crl.der, NID_delta_crl), crl_number(base));
  EXPECT_EQ(serials_on(delta_crl.der), std::vector<std::string>{serial});
}

TEST_F(RevocationListsTest, WithoutOnRevocationARevocationWaitsForTheSchedule) {
  CrlSchedule schedule;
  schedule.on_revocation = false;
  schedule.refresh = std::chrono::hours(1);
  RevocationLists& scheduled = lists_with(schedule);
  const Bytes first = scheduled.current()->der;
  revoke(enroll("CN=waits"), 1);
  advance += std::chrono::minutes(30);
  EXPECT_EQ(scheduled.current()->der, first);
  advance += std::chrono::minutes(31);
  EXPECT_EQ(serials_on(scheduled.current()->der).size(), 1u);
}

// A hold suspends (certificateHold on the CRL); lifting it takes the certificate off the full
// CRL, and the delta CRL says removeFromCRL (RFC 5280 5.3.1).
TEST_F(RevocationListsTest, AHoldIsListedAndALiftedHoldIsRemoveFromCrlOnTheDelta) {
  RevocationLists& lists_with_deltas = lists_with(with_deltas());
  const std::string held = enroll("CN=held");
  revoke(held, ca::kReasonCertificateHold);
  advance += std::chrono::seconds(1);
  const RevocationList full = *lists_with_deltas.current();
  EXPECT_EQ(reason_on(full.der, held), ca::kReasonCertificateHold);

  revoke(held, ca::kReasonRemoveFromCrl);
  const RevocationList lifted = delta(lists_with_deltas);
  EXPECT_EQ(reason_on(lifted.der, held), ca::kReasonRemoveFromCrl);
  advance += std::chrono::seconds(1);
  EXPECT_EQ(reason_on(current().der, held), -1) << "a lifted hold leaves the full CRL";
}

TEST_F(RevocationListsTest, ADeltaCrlNamesItsBaseAndListsOnlyWhatChangedSince) {
  RevocationLists& lists_with_deltas = lists_with(with_deltas());
  const std::string old_one = enroll("CN=old");
  revoke(old_one, 1);
  advance += std::chrono::seconds(1);
  const RevocationList full = *lists_with_deltas.current();
  CrlPtr full_crl = crl_from(full.der);
  std::unique_ptr<STACK_OF(DIST_POINT), ossl::Deleter<CRL_DIST_POINTS_free>> freshest(
      static_cast<STACK_OF(DIST_POINT)*>(::X509_CRL_get_ext_d2i(full_crl.get(), NID_freshest_crl, nullptr, nullptr)));
  EXPECT_TRUE(freshest) << "a full CRL points at its deltas (freshestCRL)";

  const std::string new_one = enroll("CN=new");
  revoke(new_one, 1);
  const RevocationList first_delta = delta(lists_with_deltas);
  int critical = 0;
  EXPECT_EQ(extension_integer(first_delta.der, NID_delta_crl, &critical), crl_number(full.der));
  EXPECT_EQ(critical, 1) << "RFC 5280 5.2.4: the delta CRL indicator is critical";
  EXPECT_EQ(serials_on(first_delta.der), std::vector<std::string>{new_one});
  EXPECT_GT(crl_number(first_delta.der), crl_number(full.der)) << "one number sequence for full and delta CRLs";
  EXPECT_EQ(delta(lists_with_deltas).der, first_delta.der) << "nothing changed: the same delta";

  // Half the delta's validity later it is signed again, against the same base.
  advance += std::chrono::minutes(31);
  const RevocationList renewed = delta(lists_with_deltas);
  EXPECT_NE(renewed.der, first_delta.der);
  EXPECT_GT(crl_number(renewed.der), crl_number(first_delta.der));
  EXPECT_EQ(extension_integer(renewed.der, NID_delta_crl), crl_number(full.der));
}

// Nothing noted, nothing read: a CRL request costs no store scan until a status changes.
TEST_F(RevocationListsTest, AChangeNobodyNotedIsSeenOnlyAtTheNextRefresh) {
  CrlSchedule schedule;
  schedule.refresh = std::chrono::minutes(10);
  RevocationLists unnoticed{*store, *ca.issuing, schedule, clock};
  const Bytes first = unnoticed.current()->der;
  const std::string serial = enroll("CN=unnoticed");
  ASSERT_TRUE(service.revoke({to_hex(random_bytes(16)), Requester{"mac:tester", ""}, serial, {}, 1}));
  advance += std::chrono::seconds(2);
  EXPECT_EQ(unnoticed.current()->der, first) << "not told, not looked at";
  unnoticed.note_change();
  EXPECT_EQ(serials_on(unnoticed.current()->der), std::vector<std::string>{serial});
}

TEST_F(RevocationListsTest, WithoutDeltaCrlsThereIsNone) {
  auto none = lists.current_delta();
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_FALSE(*none);
}

}  // namespace
}  // namespace enrolld::ra
