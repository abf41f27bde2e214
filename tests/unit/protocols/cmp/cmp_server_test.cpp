// CmpServer driven by OpenSSL's real CMP client (OSSL_CMP_CTX), in-process: the transfer
// callback hands the client's DER to CmpServer::handle and the reply back to the client.

#include "protocols/cmp/cmp_server.h"

#include <openssl/cmp.h>
#include <openssl/objects.h>
#include <openssl/x509_vfy.h>

#include "cmp_server_fixture.h"

namespace enrolld::cmp::test {
namespace {

using StorePtr = std::unique_ptr<::X509_STORE, ossl::Deleter<::X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<::X509_STORE_CTX, ossl::Deleter<::X509_STORE_CTX_free>>;

class CmpServerClientTest : public CmpServerTest {
 protected:
  // The certificate has the client's key and subject and chains to the test root through the
  // test issuing CA.
  void expect_issued_to(const CmpClient& c, ::X509* cert) {
    ASSERT_NE(cert, nullptr);
    EXPECT_EQ(::EVP_PKEY_eq(::X509_get0_pubkey(cert), c.key()), 1) << "not the requested key";
    EXPECT_EQ(::X509_NAME_cmp(::X509_get_subject_name(cert), c.subject()), 0)
        << ossl::name_to_string(::X509_get_subject_name(cert));
    auto* issuing = const_cast<::X509*>(ca.issuing->certificate());
    EXPECT_EQ(::X509_check_issued(issuing, cert), X509_V_OK);
    EXPECT_EQ(::X509_verify(cert, ::X509_get0_pubkey(issuing)), 1);

    StorePtr trusted(::X509_STORE_new());
    ASSERT_EQ(::X509_STORE_add_cert(trusted.get(), ca.root.get()), 1);
    ossl::X509StackPtr untrusted(sk_X509_new_null());
    sk_X509_push(untrusted.get(), ossl::up_ref(issuing).release());
    StoreCtxPtr verify(::X509_STORE_CTX_new());
    ASSERT_EQ(::X509_STORE_CTX_init(verify.get(), trusted.get(), cert, untrusted.get()), 1);
    EXPECT_EQ(::X509_verify_cert(verify.get()), 1)
        << ::X509_verify_cert_error_string(::X509_STORE_CTX_get_error(verify.get()));
  }

  // The one stored certificate is `cert`, valid, requested by device-1.
  void expect_stored(::X509* cert) {
    auto stored = certificates();
    ASSERT_EQ(stored.size(), 1U);
    EXPECT_EQ(stored[0].der, ossl::der_of(cert));
    EXPECT_EQ(stored[0].status, "valid");
    EXPECT_EQ(stored[0].requester, std::string("mac:") + kReference);
  }

  static Bytes transaction_id_of(const Bytes& request) {
    MsgPtr message = decode(request);
    return message ? octets(message->header->transactionID) : Bytes{};
  }

  static std::vector<int> body_types(const std::vector<Bytes>& messages) {
    std::vector<int> types;
    for (const auto& m : messages) types.push_back(openssl_body_type(m));
    return types;
  }
};

TEST_F(CmpServerClientTest, IrAndCertConfIssueTheRequestedCertificate) {
  auto c = client(to_server());
  ::X509* cert = c->exec_ir();
  ASSERT_NE(cert, nullptr) << c->log();
  EXPECT_EQ(::OSSL_CMP_CTX_get_status(c->ctx()), OSSL_CMP_PKISTATUS_accepted);
  EXPECT_EQ(::OSSL_CMP_CTX_get_failInfoCode(c->ctx()), 0);
  expect_issued_to(*c, cert);

  EXPECT_EQ(body_types(c->sent()), (std::vector<int>{OSSL_CMP_PKIBODY_IR, OSSL_CMP_PKIBODY_CERTCONF}));
  EXPECT_EQ(body_types(c->received()), (std::vector<int>{OSSL_CMP_PKIBODY_IP, OSSL_CMP_PKIBODY_PKICONF}));
  for (const auto& reply : c->received()) EXPECT_TRUE(mac_verifies(reply, secret(kSecret)));

  expect_stored(cert);
  auto txn = transaction(transaction_id_of(c->sent().front()));
  ASSERT_TRUE(txn);
  EXPECT_EQ(txn->state, "confirmed");
  EXPECT_EQ(txn->requester, std::string("mac:") + kReference);
}

// RFC 9481 6.1.1's SHA-2 choice instead of OpenSSL's hmac-sha1 default: the replies are protected
// with the request's own PBM parameters, which the client verifies.
TEST_F(CmpServerClientTest, IrWithSha512OwfAndHmacWithSha256) {
  auto c = client(to_server());
  ASSERT_EQ(::OSSL_CMP_CTX_set_option(c->ctx(), OSSL_CMP_OPT_OWF_ALGNID, NID_sha512), 1);
  ASSERT_EQ(::OSSL_CMP_CTX_set_option(c->ctx(), OSSL_CMP_OPT_MAC_ALGNID, NID_hmacWithSHA256), 1);
  ::X509* cert = c->exec_ir();
  ASSERT_NE(cert, nullptr) << c->log();
  expect_issued_to(*c, cert);
  ASSERT_EQ(c->received().size(), 2U);
  for (const auto& reply : c->received()) {
    MsgPtr message = decode(reply);
    ASSERT_TRUE(message);
    const PbmParameters params = pbm_parameters_of(*message);
    EXPECT_EQ(params.owf_nid, NID_sha512);
    EXPECT_EQ(params.mac_nid, NID_hmacWithSHA256);
    EXPECT_TRUE(mac_verifies(reply, secret(kSecret)));
  }
}

TEST_F(CmpServerClientTest, ImplicitConfirmNeedsNoCertConf) {
  auto c = client(to_server());
  ASSERT_EQ(::OSSL_CMP_CTX_set_option(c->ctx(), OSSL_CMP_OPT_IMPLICIT_CONFIRM, 1), 1);
  ::X509* cert = c->exec_ir();
  ASSERT_NE(cert, nullptr) << c->log();
  expect_issued_to(*c, cert);
  EXPECT_EQ(body_types(c->sent()), std::vector<int>{OSSL_CMP_PKIBODY_IR});
  ASSERT_EQ(c->received().size(), 1U);
  MsgPtr ip = decode(c->received().front());
  ASSERT_TRUE(ip);
  EXPECT_TRUE(has_implicit_confirm(*ip->header)) << "the ip must grant implicitConfirm";

  expect_stored(cert);
  auto txn = transaction(transaction_id_of(c->sent().front()));
  ASSERT_TRUE(txn);
  EXPECT_EQ(txn->state, "confirmed");
}

TEST_F(CmpServerClientTest, WithoutImplicitConfirmTheIpDoesNotGrantIt) {
  auto c = client(to_server_first(1));
  EXPECT_EQ(c->exec_ir(), nullptr);  // certConf goes unanswered
  ASSERT_EQ(c->received().size(), 1U);
  MsgPtr ip = decode(c->received().front());
  ASSERT_TRUE(ip);
  EXPECT_FALSE(has_implicit_confirm(*ip->header));
  auto txn = transaction(transaction_id_of(c->sent().front()));
  ASSERT_TRUE(txn);
  EXPECT_EQ(txn->state, "waiting-for-confirmation");
}

// RFC 9483 3.6.4: the requester reports that it cannot use the certificate with an error
// message instead of certConf; the transaction ends with the certificate revoked, and pkiConf.
TEST_F(CmpServerClientTest, AnErrorMessageFromTheRequesterEndsTheTransactionWithPkiConf) {
  auto c = client(to_server_first(1));
  EXPECT_EQ(c->exec_ir(), nullptr);
  ASSERT_EQ(c->sent().size(), 2U);  // ir, and the certConf the server never saw
  auto as_error = [](const std::string& text) {
    return [text](ECMP_MSG& m) {
      ECMP_BODY_free(m.body);
      m.body = ECMP_BODY_new();
      m.body->type = ECMP_BODY_ERROR;
      m.body->value.error = ECMP_ERRORMSG_new();
      ECMP_PKISI_free(m.body->value.error->pKIStatusInfo);
      m.body->value.error->pKIStatusInfo = make_status_info(PkiStatus::kRejection, -1, text).release();
    };
  };
  // Like a certConf it must echo our ip's senderNonce.
  const Bytes stale = modified(
      c->sent()[1],
      [&](ECMP_MSG& m) {
        as_error("stale")(m);
        set_octets(m.header->recipNonce, random_bytes(16));
      },
      to_bytes(kSecret));
  EXPECT_EQ(read_reply(send(stale)).bits, std::vector<int>{failure_bit(ErrorCode::kBadRecipientNonce)});
  EXPECT_EQ(certificates().front().status, "valid");

  const Bytes error =
      modified(c->sent()[1], as_error("cannot store the certificate\nFAKE LOG LINE"), to_bytes(kSecret));
  const Bytes reply = send(error);
  Reply pki_conf = read_reply(reply);
  EXPECT_EQ(pki_conf.body_type, ECMP_BODY_PKICONF);
  EXPECT_TRUE(mac_verifies(reply, to_bytes(kSecret)));
  auto txn = transaction(transaction_id_of(c->sent().front()));
  ASSERT_TRUE(txn);
  EXPECT_EQ(txn->state, "rejected");
  ASSERT_EQ(certificates().size(), 1U);
  EXPECT_EQ(certificates().front().status, "revoked");
  // Revoked now: the CRL's revocationDate is this moment, not the epoch.
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  EXPECT_NEAR(static_cast<double>(certificates().front().revoked_at), static_cast<double>(now), 60.0);
  EXPECT_EQ(send(error), reply);  // a resend: the same pkiConf

  // An error about a transaction we do not know ends nothing, and is acknowledged too.
  const Bytes stray = modified(
      c->sent()[1],
      [&](ECMP_MSG& m) {
        as_error("lost")(m);
        set_octets(m.header->transactionID, random_bytes(16));
      },
      to_bytes(kSecret));
  EXPECT_EQ(read_reply(send(stray)).body_type, ECMP_BODY_PKICONF);
}

TEST_F(CmpServerClientTest, CrIssuesWithCp) {
  auto c = client(to_server());
  ::X509* cert = c->exec_cr();
  ASSERT_NE(cert, nullptr) << c->log();
  EXPECT_EQ(::OSSL_CMP_CTX_get_status(c->ctx()), OSSL_CMP_PKISTATUS_accepted);
  expect_issued_to(*c, cert);
  EXPECT_EQ(body_types(c->sent()), (std::vector<int>{OSSL_CMP_PKIBODY_CR, OSSL_CMP_PKIBODY_CERTCONF}));
  EXPECT_EQ(body_types(c->received()), (std::vector<int>{OSSL_CMP_PKIBODY_CP, OSSL_CMP_PKIBODY_PKICONF}));
  expect_stored(cert);
  auto txn = transaction(transaction_id_of(c->sent().front()));
  ASSERT_TRUE(txn);
  EXPECT_EQ(txn->state, "confirmed");
}

TEST_F(CmpServerClientTest, P10crIssuesWithCpAndCertReqIdMinusOne) {
  auto c = client(to_server());
  ::X509* cert = c->exec_p10cr();
  ASSERT_NE(cert, nullptr) << c->log();
  expect_issued_to(*c, cert);
  EXPECT_EQ(body_types(c->sent()), (std::vector<int>{OSSL_CMP_PKIBODY_P10CR, OSSL_CMP_PKIBODY_CERTCONF}));
  EXPECT_EQ(body_types(c->received()), (std::vector<int>{OSSL_CMP_PKIBODY_CP, OSSL_CMP_PKIBODY_PKICONF}));
  MsgPtr cp = decode(c->received().front());
  ASSERT_TRUE(cp);
  EXPECT_EQ(::ASN1_INTEGER_get(sk_ECMP_CERTRESPONSE_value(cp->body->value.cp->response, 0)->certReqId), -1);
  expect_stored(cert);
  auto txn = transaction(transaction_id_of(c->sent().front()));
  ASSERT_TRUE(txn);
  EXPECT_EQ(txn->state, "confirmed");
}

TEST_F(CmpServerClientTest, WrongSecretIsBadMessageCheck) {
  auto c = client(to_server(), kReference, "not-the-secret");
  EXPECT_EQ(c->exec_ir(), nullptr);
  EXPECT_EQ(::OSSL_CMP_CTX_get_status(c->ctx()), OSSL_CMP_PKISTATUS_rejection) << c->log();
  EXPECT_EQ(::OSSL_CMP_CTX_get_failInfoCode(c->ctx()), 1 << OSSL_CMP_PKIFAILUREINFO_badMessageCheck) << c->log();
  ASSERT_EQ(c->received().size(), 1U);
  Reply reply = read_reply(c->received().front());
  EXPECT_EQ(reply.body_type, ECMP_BODY_ERROR);
  EXPECT_FALSE(reply.is_protected) << "an error to a request whose MAC failed must go unprotected";
  EXPECT_TRUE(certificates().empty());
  EXPECT_FALSE(transaction(transaction_id_of(c->sent().front())));
}

TEST_F(CmpServerClientTest, UnknownReferenceIsBadMessageCheck) {
  auto c = client(to_server(), "nobody-knows-me", kSecret);
  EXPECT_EQ(c->exec_ir(), nullptr);
  EXPECT_EQ(::OSSL_CMP_CTX_get_status(c->ctx()), OSSL_CMP_PKISTATUS_rejection) << c->log();
  EXPECT_EQ(::OSSL_CMP_CTX_get_failInfoCode(c->ctx()), 1 << OSSL_CMP_PKIFAILUREINFO_badMessageCheck) << c->log();
  ASSERT_EQ(c->received().size(), 1U);
  EXPECT_FALSE(read_reply(c->received().front()).is_protected);
  EXPECT_TRUE(certificates().empty());
}

TEST_F(CmpServerClientTest, TwoDevicesEnrollIndependently) {
  auto first = client(to_server());
  auto second = client(to_server(), kOtherReference, kOtherSecret, "CN=device-2.example,O=Example");
  ::X509* cert1 = first->exec_ir();
  ASSERT_NE(cert1, nullptr) << first->log();
  ::X509* cert2 = second->exec_ir();
  ASSERT_NE(cert2, nullptr) << second->log();
  expect_issued_to(*second, cert2);
  EXPECT_NE(::ASN1_INTEGER_cmp(::X509_get0_serialNumber(cert1), ::X509_get0_serialNumber(cert2)), 0);
  EXPECT_EQ(certificates().size(), 2U);
  for (const auto& reply : second->received()) EXPECT_TRUE(mac_verifies(reply, secret(kOtherSecret)));
}

TEST_F(CmpServerClientTest, NotAPkiMessageIsBadDataFormatWithoutAReply) {
  auto reply = server.handle(to_bytes("hello"), CmpRequestContext{});
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code, ErrorCode::kBadDataFormat);
  Bytes ir = fresh_ir();
  ir.push_back(0x00);
  auto trailing = server.handle(ir, CmpRequestContext{});
  ASSERT_FALSE(trailing);
  EXPECT_EQ(trailing.error().code, ErrorCode::kBadDataFormat);
  EXPECT_TRUE(certificates().empty());
}

}  // namespace
}  // namespace enrolld::cmp::test
