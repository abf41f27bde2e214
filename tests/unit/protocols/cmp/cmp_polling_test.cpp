// Delayed delivery (RFC 9483 4.4) through the CMP handler: an ir under a profile that needs an
// officer is answered with status waiting, OpenSSL's client polls with pollReq (driven one step
// at a time with OSSL_CMP_try_certreq, so no test sleeps for checkAfter), and the certificate
// arrives in the ip that answers the first pollReq after approval.
#include "cmp_server_fixture.h"

namespace enrolld::cmp::test {
namespace {

constexpr const char* kApprovalProfile = "approval";
constexpr int kBodyPollReq = 25;  // PKIBody CHOICE position (RFC 4210 5.1.2)
constexpr int kBodyPollRep = 26;

class CmpPollingTest : public ::testing::Test {
 protected:
  static ra::Policy approval_policy() {
    ra::Policy policy;
    policy.approval_profiles = {kApprovalProfile};
    policy.check_after = std::chrono::seconds(7);
    return policy;
  }
  static std::vector<ca::Profile> profiles() {
    ca::Profile approval;
    approval.name = kApprovalProfile;
    return {ca::Profile{}, approval};
  }

  CmpClient::Transport to_profile(const std::string& profile) {
    return [this, profile](const Bytes& request) -> std::optional<Bytes> {
      auto reply = server.handle(request, CmpRequestContext{profile, "test"});
      if (!reply) return std::nullopt;
      return *reply;
    };
  }

  // One step of OpenSSL's client: 1 enrolled, -1 still waiting (check_after set), 0 failed.
  static int try_ir(CmpClient& client, int& check_after) {
    return ::OSSL_CMP_try_certreq(client.ctx(), OSSL_CMP_PKIBODY_IR, nullptr, &check_after);
  }

  std::string pending_id() {
    auto pending = service.pending(10);
    EXPECT_TRUE(pending && pending->size() == 1U);
    return pending && !pending->empty() ? pending->front().transaction_id_hex : "";
  }

  enrolld::testing::SoftHsmToken token;
  enrolld::testing::TestCa ca = enrolld::testing::make_test_ca(token);
  enrolld::testing::TempDir store_dir{"enrolld-cmp-poll-store"};
  std::unique_ptr<store::RocksDbStore> store = open_store(store_dir);
  ra::EnrollmentServiceImpl service{*store, *ca.issuing, profiles(), approval_policy(), system_clock()};
  ra::StaticSharedSecrets secrets{{{kReference, to_bytes(kSecret)}}};
  CmpServer server{service, secrets, CmpServerOptions{}};
};

TEST_F(CmpPollingTest, WaitingThenPollRepUntilApprovedThenTheCertificate) {
  CmpClient client(kReference, kSecret, kSubject, to_profile(kApprovalProfile));
  int check_after = 0;
  ASSERT_EQ(try_ir(client, check_after), -1) << client.log();
  EXPECT_EQ(check_after, 7) << "the client takes checkAfter from the pollRep to its first pollReq";
  ASSERT_GE(client.received().size(), 2U);
  const Reply waiting = read_reply(client.received().front());
  EXPECT_EQ(waiting.body_type, ECMP_BODY_IP);
  EXPECT_EQ(waiting.status, static_cast<long>(PkiStatus::kWaiting));
  EXPECT_TRUE(waiting.is_protected);
  EXPECT_EQ(read_reply(client.received()[1]).body_type, kBodyPollRep);
  EXPECT_TRUE(store->list_certificates(10)->empty()) << "nothing is signed before an officer decides";

  ASSERT_EQ(try_ir(client, check_after), -1) << client.log();  // still undecided
  EXPECT_EQ(read_reply(client.received().back()).body_type, kBodyPollRep);

  ASSERT_TRUE(service.approve(pending_id(), "alice"));
  ASSERT_EQ(try_ir(client, check_after), 1) << client.log();
  ::X509* cert = ::OSSL_CMP_CTX_get0_newCert(client.ctx());
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(::EVP_PKEY_eq(::X509_get0_pubkey(cert), client.key()), 1);
  EXPECT_EQ(::X509_NAME_cmp(::X509_get_subject_name(cert), client.subject()), 0);
  // The ip came in answer to a pollReq; the certConf that followed echoed its nonce.
  EXPECT_EQ(openssl_body_type(client.sent().back()), OSSL_CMP_PKIBODY_CERTCONF);
  EXPECT_EQ(openssl_body_type(client.received().back()), OSSL_CMP_PKIBODY_PKICONF);
  auto txn = service.find(to_hex(octets(decode(client.sent().front())->header->transactionID)));
  ASSERT_TRUE(txn && *txn);
  EXPECT_EQ((*txn)->state, "confirmed");
}

TEST_F(CmpPollingTest, ARejectionReachesTheClientWithTheOfficersReason) {
  CmpClient client(kReference, kSecret, kSubject, to_profile(kApprovalProfile));
  int check_after = 0;
  ASSERT_EQ(try_ir(client, check_after), -1) << client.log();
  ASSERT_TRUE(service.reject(pending_id(), "bob", "unknown serial number in the fleet register"));
  EXPECT_EQ(try_ir(client, check_after), 0);
  const Reply rejected = read_reply(client.received().back());
  EXPECT_EQ(rejected.body_type, ECMP_BODY_IP);
  EXPECT_EQ(rejected.status, static_cast<long>(PkiStatus::kRejection));
  EXPECT_EQ(rejected.bits, std::vector<int>{failure_bit(ErrorCode::kNotAuthorized)});
  const ECMP_PKISI* status = reply_status(*rejected.message);
  ASSERT_TRUE(status != nullptr && sk_ASN1_UTF8STRING_num(status->statusString) == 1);
  const ::ASN1_UTF8STRING* text = sk_ASN1_UTF8STRING_value(status->statusString, 0);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(text->data), static_cast<std::size_t>(text->length)),
            "an officer rejected the request: unknown serial number in the fleet register");
  EXPECT_TRUE(store->list_certificates(10)->empty());
}

class CmpPollCraftedTest : public CmpPollingTest {
 protected:
  void SetUp() override {
    CmpClient client(kReference, kSecret, kSubject, to_profile(kApprovalProfile));
    int check_after = 0;
    ASSERT_EQ(try_ir(client, check_after), -1) << client.log();
    ASSERT_GE(client.sent().size(), 2U);
    poll_req = client.sent()[1];
    ASSERT_EQ(read_reply(poll_req).body_type, kBodyPollReq);
    last_nonce = octets(decode(client.received().back())->header->senderNonce);  // of the pollRep
  }
  // The client's pollReq, answering the last pollRep (recipNonce), then changed by `change`.
  Reply send_modified(const std::function<void(ECMP_MSG&)>& change) {
    auto next_poll = [&](ECMP_MSG& m) {
      set_octets(m.header->recipNonce, last_nonce);
      change(m);
    };
    auto reply = server.handle(modified(poll_req, next_poll, to_bytes(kSecret)), CmpRequestContext{"", "test"});
    EXPECT_TRUE(reply) << reply.error().message;
    return reply ? read_reply(*reply) : Reply{};
  }
  Bytes poll_req;
  Bytes last_nonce;
};

TEST_F(CmpPollCraftedTest, AWrongCertReqIdIsBadCertId) {
  Reply reply = send_modified(
      [](ECMP_MSG& m) { ::ASN1_INTEGER_set(sk_ECMP_POLLREQ_value(m.body->value.pollReq, 0)->certReqId, 5); });
  EXPECT_EQ(reply.body_type, ECMP_BODY_ERROR);
  EXPECT_EQ(reply.bits, std::vector<int>{failure_bit(ErrorCode::kBadCertId)});
}

TEST_F(CmpPollCraftedTest, AnUnknownTransactionIsBadRequest) {
  Reply reply = send_modified([](ECMP_MSG& m) { set_octets(m.header->transactionID, random_bytes(16)); });
  EXPECT_EQ(reply.body_type, ECMP_BODY_ERROR);
  EXPECT_EQ(reply.bits, std::vector<int>{failure_bit(ErrorCode::kUnknownTransaction)});
}

TEST_F(CmpPollCraftedTest, PollingARequestAnsweredAtOnceIsBadRequest) {
  CmpClient at_once(kReference, kSecret, "CN=at-once", to_profile(""));
  ASSERT_NE(at_once.exec_ir(), nullptr) << at_once.log();
  const Bytes answered_id = octets(decode(at_once.sent().front())->header->transactionID);
  const Bytes its_nonce = octets(decode(at_once.received().front())->header->senderNonce);
  Reply reply = send_modified([&](ECMP_MSG& m) {
    set_octets(m.header->transactionID, answered_id);
    set_octets(m.header->recipNonce, its_nonce);
  });
  EXPECT_EQ(reply.body_type, ECMP_BODY_ERROR);
  EXPECT_EQ(reply.bits, std::vector<int>{failure_bit(ErrorCode::kUnexpectedMessage)});
}

// RFC 9483 3.5: recipNonce echoes the senderNonce of the last reply (here the pollRep).
TEST_F(CmpPollCraftedTest, ARecipNonceThatIsNotTheLastReplysIsBadRecipientNonce) {
  for (const std::optional<Bytes>& nonce : {std::optional<Bytes>(random_bytes(16)), std::optional<Bytes>()}) {
    Reply reply = send_modified([&](ECMP_MSG& m) { set_octets(m.header->recipNonce, nonce); });
    EXPECT_EQ(reply.body_type, ECMP_BODY_ERROR);
    EXPECT_EQ(reply.bits, std::vector<int>{failure_bit(ErrorCode::kBadRecipientNonce)});
  }
  // The client's own poll still fits.
  Reply fine = send_modified([](ECMP_MSG&) {});
  EXPECT_EQ(fine.body_type, kBodyPollRep);
}

TEST_F(CmpPollCraftedTest, TwoCertReqIdsInOnePollReqAreRefused) {
  Reply reply = send_modified([](ECMP_MSG& m) {
    ECMP_POLLREQ* second = ECMP_POLLREQ_new();
    ::ASN1_INTEGER_set(second->certReqId, 0);
    sk_ECMP_POLLREQ_push(m.body->value.pollReq, second);
  });
  EXPECT_EQ(reply.body_type, ECMP_BODY_ERROR);
  EXPECT_EQ(reply.bits, std::vector<int>{failure_bit(ErrorCode::kUnsupportedRequest)});
}

}  // namespace
}  // namespace enrolld::cmp::test
