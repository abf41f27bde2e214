// EnrollmentServiceImpl on the real stack (SoftHSM, RocksDB): key updates and what happens to
// the certificate they replace; revocation, holds and the officer's revocations.
#include "ra/enrollment_service_impl.h"

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "store/rocksdb/rocksdb_store.h"
#include "support/softhsm_fixture.h"

namespace enrolld::ra {
namespace {

class EnrollmentServiceTest : public ::testing::Test {
 protected:
  // Issues and confirms a certificate for `key` and `subject`; returns its serial.
  std::string enroll(EnrollmentServiceImpl& service, ::EVP_PKEY* key, const std::string& subject,
                     const std::string& replaces = "") {
    CertificationRequest request;
    request.transaction_id_hex = to_hex(random_bytes(16));
    request.protocol = "test";
    request.requester = Requester{"mac:tester", ""};
    request.subject_der = testing::name_der(subject);
    request.public_key_der = testing::public_key_der(key);
    request.fingerprint = random_bytes(32);
    request.replaces_serial_hex = replaces;
    std::string serial;
    auto reply = service.submit(request, {}, [&](const Decision& decision) -> Result<Bytes> {
      auto cert = ossl::x509_from_der(std::get<IssuedCertificate>(decision).certificate_der);
      serial = ossl::integer_hex(::X509_get0_serialNumber(cert->get()));
      return to_bytes("reply");
    });
    EXPECT_TRUE(reply) << (reply ? "" : reply.error().message);
    if (!reply) return "";
    auto confirmed = service.confirm(request.transaction_id_hex, true, random_bytes(32), to_bytes("pkiconf"));
    EXPECT_TRUE(confirmed) << (confirmed ? "" : confirmed.error().message);
    return serial;
  }

  Result<Bytes> try_update(EnrollmentServiceImpl& service, ::EVP_PKEY* key, const std::string& subject,
                           const std::string& replaces) {
    CertificationRequest request;
    request.transaction_id_hex = to_hex(random_bytes(16));
    request.requester = Requester{"cert:" + replaces, replaces};
    request.subject_der = testing::name_der(subject);
    request.public_key_der = testing::public_key_der(key);
    request.fingerprint = random_bytes(32);
    request.replaces_serial_hex = replaces;
    return service.submit(request, {}, [](const Decision&) -> Result<Bytes> { return to_bytes("r"); });
  }

  store::CertificateRecord certificate(const std::string& serial) {
    auto found = store->find_certificate(serial);
    EXPECT_TRUE(found && *found);
    return found && *found ? **found : store::CertificateRecord{};
  }

  EnrollmentServiceImpl service_with(bool revoke_replaced) {
    Policy policy;
    policy.revoke_replaced_certificate = revoke_replaced;
    return EnrollmentServiceImpl(*store, *ca.issuing, {ca::Profile{}}, policy, system_clock());
  }

  testing::SoftHsmToken token;
  testing::TestCa ca = testing::make_test_ca(token);
  testing::TempDir dir{"enrolld-service-test"};
  std::unique_ptr<store::RocksDbStore> store = std::move(*store::RocksDbStore::open((dir.path() / "db").string()));
  ossl::EvpPkeyPtr old_key = testing::make_ec_key();
  ossl::EvpPkeyPtr new_key = testing::make_ec_key();
};

TEST_F(EnrollmentServiceTest, WithThePolicyAConfirmedKeyUpdateRevokesTheReplacedCertificate) {
  auto service = service_with(true);
  const std::string old_serial = enroll(service, old_key.get(), "CN=device");
  const std::string new_serial = enroll(service, new_key.get(), "CN=device", old_serial);
  ASSERT_FALSE(new_serial.empty());
  const store::CertificateRecord old = certificate(old_serial);
  EXPECT_EQ(old.status, "revoked");
  EXPECT_EQ(old.revocation_reason, 4);  // superseded
  EXPECT_EQ(certificate(new_serial).status, "valid");
  auto audit = store->list_audit(10);
  ASSERT_TRUE(audit);
  ASSERT_EQ(audit->size(), 1U);
  EXPECT_EQ(audit->front().subject, "serial=" + old_serial);
  EXPECT_NE(audit->front().detail.find("superseded by serial=" + new_serial), std::string::npos);
}

TEST_F(EnrollmentServiceTest, WithoutThePolicyTheReplacedCertificateStaysValid) {
  auto service = service_with(false);
  const std::string old_serial = enroll(service, old_key.get(), "CN=device");
  const std::string new_serial = enroll(service, new_key.get(), "CN=device", old_serial);
  ASSERT_FALSE(new_serial.empty());
  EXPECT_EQ(certificate(old_serial).status, "valid");
  EXPECT_TRUE(store->list_audit(10)->empty());
}

TEST_F(EnrollmentServiceTest, AKeyUpdateNeedsTheSameSubjectANewKeyAndAValidCertificate) {
  auto service = service_with(true);
  const std::string old_serial = enroll(service, old_key.get(), "CN=device");
  EXPECT_EQ(try_update(service, old_key.get(), "CN=device", old_serial).error().code, ErrorCode::kBadCertTemplate);
  EXPECT_EQ(try_update(service, new_key.get(), "CN=other", old_serial).error().code, ErrorCode::kBadCertTemplate);
  EXPECT_EQ(try_update(service, new_key.get(), "CN=device", "0bad").error().code, ErrorCode::kBadCertId);
  ASSERT_TRUE(service.revoke(RevocationRequest{"t", Requester{"mac:tester", ""}, old_serial, {}, 1}));
  EXPECT_EQ(try_update(service, new_key.get(), "CN=device", old_serial).error().code, ErrorCode::kCertRevoked);
}

// RFC 5280 5.3.1: certificateHold "is reversible"; removeFromCRL lifts it, and a held
// certificate may still be revoked for good.
TEST_F(EnrollmentServiceTest, AHeldCertificateIsReleasedOrRevokedForGood) {
  auto service = service_with(false);
  const std::string serial = enroll(service, old_key.get(), "CN=held");
  auto as_requester = [&](int reason) {
    return service.revoke(RevocationRequest{"t", Requester{"mac:tester", ""}, serial, {}, reason});
  };
  EXPECT_EQ(service.revoke_by_officer(serial, 8, "alice").error().code, ErrorCode::kUnexpectedMessage)
      << "not on hold: nothing to release";
  ASSERT_TRUE(as_requester(6));
  EXPECT_EQ(certificate(serial).status, "revoked");
  EXPECT_EQ(as_requester(6).error().code, ErrorCode::kCertRevoked) << "already on hold";
  EXPECT_EQ(as_requester(8).error().code, ErrorCode::kNotAuthorized) << "only an officer lifts a hold";
  EXPECT_EQ(certificate(serial).status, "revoked");
  ASSERT_TRUE(service.revoke_by_officer(serial, 8, "alice"));
  store::CertificateRecord released = certificate(serial);
  EXPECT_EQ(released.status, "valid");
  EXPECT_EQ(released.revocation_reason, 0);
  EXPECT_NE(released.hold_released_at, 0);

  ASSERT_TRUE(as_requester(6));
  ASSERT_TRUE(as_requester(1)) << "a held certificate may be revoked for good";
  EXPECT_EQ(certificate(serial).revocation_reason, 1);
  EXPECT_EQ(service.revoke_by_officer(serial, 8, "alice").error().code, ErrorCode::kUnexpectedMessage)
      << "a final revocation cannot be lifted";
  EXPECT_EQ(as_requester(4).error().code, ErrorCode::kCertRevoked);
  EXPECT_EQ(as_requester(7).error().code, ErrorCode::kUnsupportedRequest) << "7 is not a CRLReason";

  auto audit = store->list_audit(10);
  ASSERT_TRUE(audit);
  std::vector<std::string> actions;
  for (const auto& record : *audit) actions.push_back(record.action);
  EXPECT_EQ(actions, (std::vector<std::string>{"revoke", "release-hold", "revoke", "revoke"}));
}

TEST_F(EnrollmentServiceTest, AnOfficerRevokesAnyCertificateAndIsNamedInTheAudit) {
  auto service = service_with(false);
  const std::string serial = enroll(service, old_key.get(), "CN=someone-elses");
  EXPECT_EQ(service.revoke(RevocationRequest{"t", Requester{"mac:other", ""}, serial, {}, 1}).error().code,
            ErrorCode::kNotAuthorized);
  EXPECT_EQ(service.revoke_by_officer("0bad", 1, "alice").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(service.revoke_by_officer(serial, 11, "alice").error().code, ErrorCode::kUnsupportedRequest);
  ASSERT_TRUE(service.revoke_by_officer(serial, 6, "alice"));
  ASSERT_TRUE(service.revoke_by_officer(serial, 8, "bob"));
  ASSERT_TRUE(service.revoke_by_officer(serial, 3, "carol"));
  EXPECT_EQ(certificate(serial).revocation_reason, 3);
  auto audit = store->list_audit(10);
  ASSERT_TRUE(audit);
  ASSERT_EQ(audit->size(), 3U);
  EXPECT_EQ(audit->at(0).actor, "officer:alice");
  EXPECT_EQ(audit->at(1).actor, "officer:bob");
  EXPECT_EQ(audit->at(1).action, "release-hold");
  EXPECT_EQ(audit->at(2).detail, "reason=3 enrollctl");
}

// Seed 004's manual review list: patterns on subject, requested SANs and requester hold a
// request for an officer whatever its profile; case and address forms do not dodge them.
TEST_F(EnrollmentServiceTest, TheReviewListHoldsMatchingRequestsForAnOfficer) {
  Policy policy;
  policy.review = {{"*CN=admin*"}, {"DNS:*.bank.example", "IP:10.*"}, {"vendor:*"}};
  EnrollmentServiceImpl service(*store, *ca.issuing, {ca::Profile{}}, policy, system_clock());
  auto held = [&](const std::string& subject, const std::string& requester, const std::string& san) {
    CertificationRequest request;
    request.transaction_id_hex = to_hex(random_bytes(16));
    request.requester = Requester{requester, ""};
    request.subject_der = testing::name_der(subject);
    request.public_key_der = testing::public_key_der(old_key.get());
    request.fingerprint = random_bytes(32);
    if (!san.empty()) {
      ossl::X509ExtensionsPtr exts(sk_X509_EXTENSION_new_null());
      sk_X509_EXTENSION_push(exts.get(), ::X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, san.c_str()));
      request.extensions_der = ossl::der_with(exts.get(), [](const auto* e, unsigned char** out) {
        return ::i2d_X509_EXTENSIONS(const_cast<STACK_OF(X509_EXTENSION)*>(e), out);
      });
    }
    bool waiting = false;
    auto reply = service.submit(request, {}, [&](const Decision& decision) -> Result<Bytes> {
      waiting = std::holds_alternative<HeldForApproval>(decision);
      return to_bytes("reply");
    });
    EXPECT_TRUE(reply) << (reply ? "" : reply.error().message);
    return waiting;
  };
  EXPECT_TRUE(held("CN=Admin-Console", "mac:tester", ""));
  EXPECT_TRUE(held("CN=teller", "mac:tester", "DNS:Teller.BANK.example"));
  EXPECT_TRUE(held("CN=teller", "mac:tester", "IP:::ffff:10.0.0.7"));
  EXPECT_TRUE(held("CN=sensor", "vendor:CN=Acme CA", ""));
  EXPECT_FALSE(held("CN=sensor", "mac:tester", "DNS:sensor.plant.example"));
}

// A certificate put on hold while its key update waits for confirmation is revoked for good when
// the update is confirmed: a later release of the hold must not bring it back.
TEST_F(EnrollmentServiceTest, AConfirmedKeyUpdateRevokesAHeldReplacedCertificateForGood) {
  auto service = service_with(true);
  const std::string old_serial = enroll(service, old_key.get(), "CN=device");
  CertificationRequest update;
  update.transaction_id_hex = to_hex(random_bytes(16));
  update.requester = Requester{"cert:" + old_serial, old_serial};
  update.subject_der = testing::name_der("CN=device");
  update.public_key_der = testing::public_key_der(new_key.get());
  update.fingerprint = random_bytes(32);
  update.replaces_serial_hex = old_serial;
  ASSERT_TRUE(service.submit(update, {}, [](const Decision&) -> Result<Bytes> { return to_bytes("kup"); }));
  ASSERT_TRUE(service.revoke_by_officer(old_serial, 6, "alice"));
  ASSERT_TRUE(service.confirm(update.transaction_id_hex, true, random_bytes(32), to_bytes("pkiconf")));
  EXPECT_EQ(certificate(old_serial).status, "revoked");
  EXPECT_EQ(certificate(old_serial).revocation_reason, 4) << "superseded, no longer on hold";
  EXPECT_EQ(service.revoke_by_officer(old_serial, 8, "alice").error().code, ErrorCode::kUnexpectedMessage);
}

// A reload swaps the profiles and the rules that follow from them: the next request sees them.
TEST_F(EnrollmentServiceTest, ReplacedProfilesDecideTheNextRequest) {
  auto service = service_with(false);
  EXPECT_EQ(service.profile("added").error().code, ErrorCode::kBadCertTemplate);

  ca::Profile added;
  added.name = "added";
  Policy policy;
  policy.approval_profiles.insert("added");
  policy.review.subjects.push_back("*CN=reviewed*");
  ASSERT_TRUE(service.replace_profiles({ca::Profile{}, added}, policy));
  auto info = service.profile("added");
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_TRUE(info->requires_approval);

  // The new review rule holds a request under the default profile.
  CertificationRequest request;
  request.transaction_id_hex = to_hex(random_bytes(16));
  request.requester = Requester{"mac:tester", ""};
  request.subject_der = testing::name_der("CN=reviewed device");
  request.public_key_der = testing::public_key_der(old_key.get());
  request.fingerprint = random_bytes(32);
  bool held = false;
  auto reply = service.submit(request, {}, [&](const Decision& decision) -> Result<Bytes> {
    held = std::holds_alternative<HeldForApproval>(decision);
    return to_bytes("reply");
  });
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_TRUE(held);

  EXPECT_EQ(service.replace_profiles({}, Policy{}).error().code, ErrorCode::kConfigInvalid);
  EXPECT_TRUE(service.profile("added")) << "a refused replacement changes nothing";
  ASSERT_TRUE(service.replace_profiles({ca::Profile{}}, Policy{}));
  EXPECT_EQ(service.profile("added").error().code, ErrorCode::kBadCertTemplate);
  EXPECT_FALSE(service.profile("").value().requires_approval);
}

// A protocol that looked the profile up hands its snapshot on: the request is issued under the
// version its checks read, even when a reload came in between; without one, the current.
TEST_F(EnrollmentServiceTest, ARequestMeetsTheProfileVersionItWasCheckedAgainst) {
  auto service = service_with(false);
  ca::Profile short_lived;
  short_lived.name = "p";
  short_lived.validity = std::chrono::hours(24);
  ASSERT_TRUE(service.replace_profiles({ca::Profile{}, short_lived}, Policy{}));
  auto checked = service.profile("p");
  ASSERT_TRUE(checked) << checked.error().message;
  ASSERT_TRUE(checked->snapshot);

  ca::Profile held = short_lived;
  held.validity = std::chrono::hours(48);
  Policy approval;
  approval.approval_profiles.insert("p");
  ASSERT_TRUE(service.replace_profiles({ca::Profile{}, held}, approval));

  auto issue = [&](std::shared_ptr<const ProfileSnapshot> snapshot) {
    CertificationRequest request;
    request.transaction_id_hex = to_hex(random_bytes(16));
    request.requester = Requester{"mac:tester", ""};
    request.profile = "p";
    request.profile_snapshot = std::move(snapshot);
    request.subject_der = testing::name_der("CN=device");
    request.public_key_der = testing::public_key_der(old_key.get());
    request.fingerprint = random_bytes(32);
    Decision seen = HeldForApproval{};
    auto reply = service.submit(request, {}, [&](const Decision& decision) -> Result<Bytes> {
      seen = decision;
      return to_bytes("reply");
    });
    EXPECT_TRUE(reply) << reply.error().message;
    return seen;
  };
  const Decision with_snapshot = issue(checked->snapshot);
  ASSERT_TRUE(std::holds_alternative<IssuedCertificate>(with_snapshot)) << "the checked version needs no approval";
  auto cert = ossl::x509_from_der(std::get<IssuedCertificate>(with_snapshot).certificate_der);
  ASSERT_TRUE(cert);
  const ::ASN1_TIME* not_before = ::X509_get0_notBefore(cert->get());
  const ::ASN1_TIME* not_after = ::X509_get0_notAfter(cert->get());
  int days = 0, seconds = 0;
  ASSERT_EQ(::ASN1_TIME_diff(&days, &seconds, not_before, not_after), 1);
  EXPECT_LT(days, 2) << "one day (and the backdate), as the checked version says";

  EXPECT_TRUE(std::holds_alternative<HeldForApproval>(issue(nullptr))) << "the current version holds it";
}

}  // namespace
}  // namespace enrolld::ra
