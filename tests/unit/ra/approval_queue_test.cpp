// Delayed delivery on the real stack (SoftHSM, RocksDB): requests under a profile that needs an
// officer are held, approved or rejected through the ApprovalQueue, collected by polling, and
// expired by the deadline sweep.
#include <gtest/gtest.h>

#include "ra/enrollment_service_impl.h"
#include "store/rocksdb/rocksdb_store.h"
#include "support/softhsm_fixture.h"

namespace enrolld::ra {
namespace {

constexpr const char* kRequester = "mac:device-ref";

class ApprovalQueueTest : public ::testing::Test {
 protected:
  std::unique_ptr<EnrollmentServiceImpl> make_service() {
    ca::Profile open_profile;
    ca::Profile manual;
    manual.name = "manual";
    Policy policy;
    policy.approval_profiles = {"manual"};
    policy.check_after = std::chrono::seconds(3);
    policy.confirm_wait = std::chrono::seconds(60);
    policy.approval_wait = std::chrono::hours(1);
    return std::make_unique<EnrollmentServiceImpl>(*store, *ca.issuing, std::vector<ca::Profile>{open_profile, manual},
                                                   policy,
                                                   [this] { return std::chrono::system_clock::now() + advance; });
  }

  CertificationRequest request(const std::string& profile) {
    CertificationRequest r;
    r.transaction_id_hex = to_hex(random_bytes(16));
    r.protocol = "test";
    r.requester = Requester{kRequester, ""};
    r.profile = profile;
    r.subject_der = testing::name_der("CN=held-device");
    r.public_key_der = testing::public_key_der(key.get());
    r.fingerprint = random_bytes(32);
    return r;
  }

  // An encoder that records what was decided and answers with a tag naming it.
  ReplyEncoder recording_encoder() {
    return [this](const Decision& decision) -> Result<Bytes> {
      last_decision = decision;
      return to_bytes(std::holds_alternative<HeldForApproval>(decision) ? "held" : "issued");
    };
  }

  Result<Bytes> poll(EnrollmentServiceImpl& service, const std::string& id, const std::string& requester = kRequester) {
    return service.collect(id, Requester{requester, ""}, random_bytes(32), to_bytes("poll-state"), recording_encoder());
  }

  std::string state_of(const std::string& id) {
    auto found = store->find_transaction(id);
    return found && *found ? (*found)->state : "(none)";
  }

  std::size_t certificate_count() { return store->list_certificates(100)->size(); }

  testing::SoftHsmToken token;
  testing::TestCa ca = testing::make_test_ca(token);
  testing::TempDir dir{"enrolld-approval-test"};
  std::unique_ptr<store::RocksDbStore> store = std::move(*store::RocksDbStore::open((dir.path() / "db").string()));
  ossl::EvpPkeyPtr key = testing::make_ec_key();
  std::chrono::seconds advance{0};
  std::optional<Decision> last_decision;
};

TEST_F(ApprovalQueueTest, AHeldRequestIsIssuedWhenTheRequesterPollsAfterApproval) {
  auto service = make_service();
  const auto req = request("manual");
  auto reply = service->submit(req, to_bytes("state"), recording_encoder());
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_EQ(*reply, to_bytes("held"));
  ASSERT_TRUE(last_decision && std::holds_alternative<HeldForApproval>(*last_decision));
  EXPECT_EQ(std::get<HeldForApproval>(*last_decision).check_after, std::chrono::seconds(3));
  EXPECT_EQ(certificate_count(), 0U) << "nothing is signed before an officer decides";
  EXPECT_EQ(state_of(req.transaction_id_hex), "waiting-for-approval");

  auto pending = service->pending(10);
  ASSERT_TRUE(pending);
  ASSERT_EQ(pending->size(), 1U);
  EXPECT_EQ(pending->front().transaction_id_hex, req.transaction_id_hex);
  EXPECT_EQ(pending->front().subject, "CN=held-device");
  EXPECT_EQ(pending->front().profile, "manual");
  EXPECT_EQ(pending->front().requester, kRequester);

  auto early = poll(*service, req.transaction_id_hex);
  ASSERT_TRUE(early) << early.error().message;
  EXPECT_EQ(*early, to_bytes("held"));

  ASSERT_TRUE(service->approve(req.transaction_id_hex, "alice"));
  EXPECT_EQ(state_of(req.transaction_id_hex), "approved");
  EXPECT_EQ(certificate_count(), 0U) << "issued when collected, not when approved";

  auto collected = poll(*service, req.transaction_id_hex);
  ASSERT_TRUE(collected) << collected.error().message;
  EXPECT_EQ(*collected, to_bytes("issued"));
  ASSERT_TRUE(last_decision && std::holds_alternative<IssuedCertificate>(*last_decision));
  auto cert = ossl::x509_from_der(std::get<IssuedCertificate>(*last_decision).certificate_der);
  ASSERT_TRUE(cert);
  EXPECT_EQ(::EVP_PKEY_eq(::X509_get0_pubkey(cert->get()), key.get()), 1);
  EXPECT_EQ(ossl::name_to_string(::X509_get_subject_name(cert->get())), "CN=held-device");
  EXPECT_EQ(state_of(req.transaction_id_hex), "waiting-for-confirmation");
  EXPECT_EQ(certificate_count(), 1U);
  EXPECT_TRUE(service->pending(10)->empty());

  auto audit = store->list_audit(10);
  ASSERT_TRUE(audit);
  ASSERT_EQ(audit->size(), 1U);
  EXPECT_EQ(audit->front().actor, "officer:alice");
  EXPECT_EQ(audit->front().action, "approve");
  EXPECT_EQ(audit->front().subject, "txn=" + req.transaction_id_hex);

  auto confirmed = service->confirm(req.transaction_id_hex, true, random_bytes(32), to_bytes("pkiconf"));
  ASSERT_TRUE(confirmed) << confirmed.error().message;
  EXPECT_EQ(state_of(req.transaction_id_hex), "confirmed");
}

TEST_F(ApprovalQueueTest, AResentPollGetsTheStoredReplyAndNoSecondCertificate) {
  auto service = make_service();
  const auto req = request("manual");
  ASSERT_TRUE(service->submit(req, {}, recording_encoder()));
  ASSERT_TRUE(service->approve(req.transaction_id_hex, "alice"));
  const Bytes fingerprint = random_bytes(32);
  auto first =
      service->collect(req.transaction_id_hex, Requester{kRequester, ""}, fingerprint, {}, recording_encoder());
  ASSERT_TRUE(first);
  last_decision.reset();
  auto again =
      service->collect(req.transaction_id_hex, Requester{kRequester, ""}, fingerprint, {}, recording_encoder());
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *first);
  EXPECT_FALSE(last_decision.has_value()) << "a resend is answered from the store, not encoded again";
  // A new poll after issuance (the reply was lost) delivers the same certificate again.
  auto lost = poll(*service, req.transaction_id_hex);
  ASSERT_TRUE(lost);
  ASSERT_TRUE(last_decision && std::holds_alternative<IssuedCertificate>(*last_decision));
  EXPECT_EQ(certificate_count(), 1U);
}

TEST_F(ApprovalQueueTest, ARejectedRequestTellsTheRequesterWhy) {
  auto service = make_service();
  const auto req = request("manual");
  ASSERT_TRUE(service->submit(req, {}, recording_encoder()));
  ASSERT_TRUE(service->reject(req.transaction_id_hex, "bob", "not in the fleet register"));
  EXPECT_EQ(state_of(req.transaction_id_hex), "refused");
  auto polled = poll(*service, req.transaction_id_hex);
  ASSERT_FALSE(polled);
  EXPECT_EQ(polled.error().code, ErrorCode::kNotAuthorized);
  EXPECT_NE(polled.error().message.find("not in the fleet register"), std::string::npos) << polled.error().message;
  EXPECT_EQ(service->approve(req.transaction_id_hex, "alice").error().code, ErrorCode::kUnexpectedMessage);
  EXPECT_EQ(certificate_count(), 0U);
  EXPECT_TRUE(service->pending(10)->empty());
  auto audit = store->list_audit(10);
  ASSERT_TRUE(audit && audit->size() == 1U);
  EXPECT_EQ(audit->front().action, "reject");
  EXPECT_EQ(audit->front().detail, "reason=not in the fleet register");
}

TEST_F(ApprovalQueueTest, DecisionsNeedAHeldRequest) {
  auto service = make_service();
  EXPECT_EQ(service->approve("00ff", "alice").error().code, ErrorCode::kUnknownTransaction);
  const auto at_once = request("");
  ASSERT_TRUE(service->submit(at_once, {}, recording_encoder()));
  ASSERT_TRUE(last_decision && std::holds_alternative<IssuedCertificate>(*last_decision));
  EXPECT_EQ(service->approve(at_once.transaction_id_hex, "alice").error().code, ErrorCode::kUnexpectedMessage);
  EXPECT_EQ(service->reject(at_once.transaction_id_hex, "alice", "x").error().code, ErrorCode::kUnexpectedMessage);
  EXPECT_EQ(poll(*service, at_once.transaction_id_hex).error().code, ErrorCode::kUnexpectedMessage)
      << "a request answered at once has nothing to poll for";
  EXPECT_EQ(poll(*service, "00ff").error().code, ErrorCode::kUnknownTransaction);
  EXPECT_EQ(service->submit(request("no-such-profile"), {}, recording_encoder()).error().code,
            ErrorCode::kBadCertTemplate);
}

TEST_F(ApprovalQueueTest, OnlyTheRequesterMayCollect) {
  auto service = make_service();
  const auto req = request("manual");
  ASSERT_TRUE(service->submit(req, {}, recording_encoder()));
  ASSERT_TRUE(service->approve(req.transaction_id_hex, "alice"));
  EXPECT_EQ(poll(*service, req.transaction_id_hex, "mac:someone-else").error().code, ErrorCode::kNotAuthorized);
  EXPECT_EQ(certificate_count(), 0U);
}

TEST_F(ApprovalQueueTest, AHeldRequestSurvivesARestart) {
  const auto req = request("manual");
  {
    auto service = make_service();
    ASSERT_TRUE(service->submit(req, {}, recording_encoder()));
  }
  store.reset();
  store = std::move(*store::RocksDbStore::open((dir.path() / "db").string()));
  auto service = make_service();
  auto pending = service->pending(10);
  ASSERT_TRUE(pending && pending->size() == 1U);
  ASSERT_TRUE(service->approve(req.transaction_id_hex, "alice"));
  auto collected = poll(*service, req.transaction_id_hex);
  ASSERT_TRUE(collected) << collected.error().message;
  EXPECT_EQ(*collected, to_bytes("issued"));
}

TEST_F(ApprovalQueueTest, TheSweepExpiresOverdueTransactionsAndRevokesUnconfirmedCertificates) {
  auto service = make_service();
  const auto unconfirmed = request("");
  ASSERT_TRUE(service->submit(unconfirmed, {}, recording_encoder()));
  const auto held = request("manual");
  ASSERT_TRUE(service->submit(held, {}, recording_encoder()));
  const auto confirmed = request("");
  ASSERT_TRUE(service->submit(confirmed, {}, recording_encoder()));
  ASSERT_TRUE(service->confirm(confirmed.transaction_id_hex, true, random_bytes(32), {}));

  auto none = service->expire_overdue();
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, 0U) << "nothing is due yet";

  advance = std::chrono::seconds(61);  // past confirm_wait, not approval_wait
  auto first = service->expire_overdue();
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(*first, 1U);
  EXPECT_EQ(state_of(unconfirmed.transaction_id_hex), "expired");
  EXPECT_EQ(state_of(held.transaction_id_hex), "waiting-for-approval");
  EXPECT_EQ(state_of(confirmed.transaction_id_hex), "confirmed");
  auto certs = store->list_certificates(10);
  ASSERT_TRUE(certs);
  for (const auto& cert : *certs) {
    EXPECT_EQ(cert.status, cert.transaction_id_hex == unconfirmed.transaction_id_hex ? "revoked" : "valid");
    if (cert.status == "revoked") {
      EXPECT_GT(cert.revoked_at, cert.issued_at - 1);  // when, for the CRL
    }
  }

  advance = std::chrono::hours(2);  // past approval_wait
  auto second = service->expire_overdue();
  ASSERT_TRUE(second);
  EXPECT_EQ(*second, 1U);
  EXPECT_EQ(state_of(held.transaction_id_hex), "expired");
  EXPECT_TRUE(store->list_open_transactions(10)->empty());
  EXPECT_TRUE(store->list_held_transactions(10)->empty()) << "an expired request leaves the approval queue's index";
  EXPECT_EQ(poll(*service, held.transaction_id_hex).error().code, ErrorCode::kUnexpectedMessage);
  EXPECT_EQ(*service->expire_overdue(), 0U);
}

// The sweep reads what is overdue in rounds: a backlog larger than one round (1,000) is all
// expired in one sweep, earliest deadline first.
TEST_F(ApprovalQueueTest, TheSweepExpiresABacklogLargerThanOneRound) {
  auto service = make_service();
  const auto unconfirmed = request("");
  ASSERT_TRUE(service->submit(unconfirmed, {}, recording_encoder()));
  auto original = store->find_transaction(unconfirmed.transaction_id_hex);
  ASSERT_TRUE(original && *original);
  store::WriteSet backlog;
  for (int i = 0; i < 1200; ++i) {
    store::TransactionRecord copy = **original;  // the same state, without a certificate to revoke
    copy.id_hex = to_hex(random_bytes(16));
    copy.certificate_serial_hex.clear();
    copy.deadline -= 1 + i % 7;
    backlog.transactions.push_back(std::move(copy));
  }
  ASSERT_TRUE(store->commit(backlog));
  advance = std::chrono::seconds(61);
  auto expired = service->expire_overdue();
  ASSERT_TRUE(expired) << expired.error().message;
  EXPECT_EQ(*expired, 1201U);
  EXPECT_TRUE(store->list_open_transactions(10)->empty());
  EXPECT_EQ(state_of(backlog.transactions.back().id_hex), "expired");
  EXPECT_EQ(*service->expire_overdue(), 0U);
}

}  // namespace
}  // namespace enrolld::ra
