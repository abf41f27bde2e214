// rr/rp (RFC 4210 5.3.9-10, RFC 9483 4.2) with OpenSSL's CMP client against the real stack.
#include <gtest/gtest.h>

#include "cmp_server_fixture.h"

namespace enrolld::cmp::test {
namespace {

class RevocationTest : public CmpServerTest {
 protected:
  // Enrolls a certificate for `reference` and returns it (owned by the test).
  ossl::X509Ptr enroll(const std::string& reference = kReference, const std::string& secret = kSecret) {
    auto c = client(to_server(), reference, secret);
    ::X509* cert = c->exec_ir();
    EXPECT_NE(cert, nullptr) << c->log();
    return ossl::up_ref(cert);
  }

  // Sends an rr for `cert` with `reason` (-1: none) as `reference`; returns the rp.
  Reply revoke(::X509* cert, int reason, const std::string& reference = kReference,
               const std::string& secret = kSecret) {
    auto c = client(to_server(), reference, secret);
    EXPECT_EQ(::OSSL_CMP_CTX_set1_oldCert(c->ctx(), cert), 1);
    if (reason >= 0) {
      EXPECT_EQ(::OSSL_CMP_CTX_set_option(c->ctx(), OSSL_CMP_OPT_REVOCATION_REASON, reason), 1);
    }
    ::OSSL_CMP_exec_RR_ses(c->ctx());
    EXPECT_FALSE(c->received().empty()) << c->log();
    return c->received().empty() ? Reply{} : read_reply(c->received().back());
  }

  store::CertificateRecord stored(::X509* cert) {
    for (auto& record : certificates()) {
      if (record.der == ossl::der_of(cert)) return record;
    }
    ADD_FAILURE() << "certificate not stored";
    return {};
  }

  static const ECMP_PKISI* rp_status(const Reply& reply) {
    if (!reply.message || reply.body_type != ECMP_BODY_RP) return nullptr;
    return sk_ECMP_PKISI_value(reply.message->body->value.rp->status, 0);
  }
};

TEST_F(RevocationTest, TheRequesterRevokesItsCertificateWithAReasonAndItIsAudited) {
  ossl::X509Ptr cert = enroll();
  Reply rp = revoke(cert.get(), 1 /* keyCompromise */);
  ASSERT_EQ(rp.body_type, ECMP_BODY_RP);
  EXPECT_TRUE(rp.is_protected);
  const ECMP_PKISI* status = rp_status(rp);
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(::ASN1_INTEGER_get(status->status), static_cast<long>(PkiStatus::kAccepted));

  store::CertificateRecord record = stored(cert.get());
  EXPECT_EQ(record.status, "revoked");
  EXPECT_EQ(record.revocation_reason, 1);
  EXPECT_GT(record.revoked_at, 0);
  auto audit = store->list_audit(10);
  ASSERT_TRUE(audit);
  ASSERT_EQ(audit->size(), 1U);
  EXPECT_EQ(audit->front().action, "revoke");
  EXPECT_EQ(audit->front().actor, std::string("mac:") + kReference);
  EXPECT_EQ(audit->front().subject, "serial=" + record.serial_hex);
  EXPECT_NE(audit->front().detail.find("reason=1"), std::string::npos);
}

TEST_F(RevocationTest, WithoutAReasonTheReasonIsUnspecified) {
  ossl::X509Ptr cert = enroll();
  Reply rp = revoke(cert.get(), -1);
  ASSERT_NE(rp_status(rp), nullptr);
  EXPECT_EQ(::ASN1_INTEGER_get(rp_status(rp)->status), static_cast<long>(PkiStatus::kAccepted));
  EXPECT_EQ(stored(cert.get()).revocation_reason, 0);
}

TEST_F(RevocationTest, RevokingTwiceIsCertRevoked) {
  ossl::X509Ptr cert = enroll();
  Reply accepted = revoke(cert.get(), 4);
  const ECMP_PKISI* first = rp_status(accepted);
  ASSERT_NE(first, nullptr);
  ASSERT_EQ(::ASN1_INTEGER_get(first->status), static_cast<long>(PkiStatus::kAccepted));
  Reply again = revoke(cert.get(), 4);
  ASSERT_EQ(again.body_type, ECMP_BODY_RP);
  EXPECT_EQ(failure_bits(rp_status(again)), std::vector<int>{kCertRevoked});
  EXPECT_EQ(store->list_audit(10)->size(), 1U);
}

TEST_F(RevocationTest, AnotherRequesterMayNotRevokeIt) {
  ossl::X509Ptr cert = enroll();
  Reply rp = revoke(cert.get(), 1, kOtherReference, kOtherSecret);
  EXPECT_EQ(failure_bits(rp_status(rp)), std::vector<int>{kNotAuthorized});
  EXPECT_EQ(stored(cert.get()).status, "valid");
  EXPECT_TRUE(store->list_audit(10)->empty());
}

TEST_F(RevocationTest, UnknownSerialIsBadCertIdAndReasonSevenIsBadRequest) {
  ossl::X509Ptr cert = enroll();
  // A certificate this CA never issued: same issuer name, another serial.
  ossl::X509Ptr foreign(::X509_dup(cert.get()));
  ossl::Asn1IntegerPtr serial(::ASN1_INTEGER_new());
  ::ASN1_INTEGER_set(serial.get(), 4242);
  ::X509_set_serialNumber(foreign.get(), serial.get());
  EXPECT_EQ(failure_bits(rp_status(revoke(foreign.get(), 1))), std::vector<int>{kBadCertId});

  // RFC 5280: reason code 7 is not used.
  EXPECT_EQ(failure_bits(rp_status(revoke(cert.get(), 7))), std::vector<int>{kBadRequest});
  EXPECT_EQ(stored(cert.get()).status, "valid");
}

TEST_F(RevocationTest, AWrongSecretIsBadMessageCheckAndRevokesNothing) {
  ossl::X509Ptr cert = enroll();
  Reply reply = revoke(cert.get(), 1, kReference, "not-the-secret");
  EXPECT_EQ(reply.body_type, ECMP_BODY_ERROR);
  EXPECT_EQ(reply.bits, std::vector<int>{kBadMessageCheck});
  EXPECT_EQ(stored(cert.get()).status, "valid");
}

}  // namespace
}  // namespace enrolld::cmp::test
