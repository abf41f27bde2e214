// Signature-based protection (RFC 9483 3.2-3.3, 4.1.3, 4.2) on the real stack: OpenSSL's CMP
// client signing with a vendor (manufacturer) certificate or with one this CA issued; kur and
// rr; and signed requests taken apart with our templates, changed and signed again.

#include <functional>
#include <stdexcept>

#include <openssl/cmp.h>
#include <openssl/core_names.h>
#include <openssl/crmf.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "ca/ca_certificates.h"
#include "cmp_server_fixture.h"
#include "common/der.h"
#include "hsm/software_signer.h"
#include "ra/certificate_trust_impl.h"
#include "ra/hsm_message_signer.h"

namespace enrolld::cmp::test {
namespace {

using enrolld::testing::make_ec_key;
using enrolld::testing::name_der;
using X509StorePtr = std::unique_ptr<::X509_STORE, ossl::Deleter<::X509_STORE_free>>;

constexpr const char* kDeviceSubject = "CN=sensor-0042,O=Vendor Inc";

// A certificate and its private key.
struct Credential {
  ossl::X509Ptr cert;
  ossl::EvpPkeyPtr key;
};

// A CA outside enrolld whose key is in memory: a self-signed root that issues directly.
struct SoftwareCa {
  ossl::X509Ptr root;
  ossl::EvpPkeyPtr key;
  std::unique_ptr<ca::CertificateAuthority> authority;
};

SoftwareCa make_software_ca(std::vector<std::pair<std::string, std::string>> subject) {
  SoftwareCa out;
  out.key = make_ec_key();
  hsm::SoftwareSigner signer(ossl::up_ref(out.key.get()));
  auto root = ca::make_root_certificate({std::move(subject), std::chrono::hours(24 * 3650), 0}, signer);
  if (!root) throw std::runtime_error("software root: " + root.error().message);
  out.root = std::move(*root);
  std::vector<ossl::X509Ptr> chain;
  chain.push_back(ossl::up_ref(out.root.get()));
  out.authority = std::make_unique<ca::CertificateAuthority>(
      std::move(chain), std::make_unique<hsm::SoftwareSigner>(ossl::up_ref(out.key.get())), system_clock());
  return out;
}

// An end-entity certificate for a fresh key, issued by `authority` and recorded nowhere.
Credential issue_with(const ca::CertificateAuthority& authority, const std::string& subject) {
  Credential out{nullptr, make_ec_key()};
  auto issued = authority.issue({name_der(subject), ossl::der_of_public_key(out.key.get()), {}}, ca::Profile{},
                                [](const std::string&) -> Result<bool> { return false; });
  if (!issued) throw std::runtime_error("issue: " + issued.error().message);
  // As a client holds it: decoded from DER, with its key object (the CA's own has none).
  auto decoded = ossl::x509_from_der(ossl::der_of(issued->certificate.get()));
  if (!decoded) throw std::runtime_error("decode: " + decoded.error().message);
  out.cert = std::move(*decoded);
  return out;
}

Bytes der_of_part(const ECMP_MSG& message) {
  ECMP_PROTECTEDPART part{message.header, message.body};
  unsigned char* der = nullptr;
  const int len = i2d_ECMP_PROTECTEDPART(&part, &der);
  if (len <= 0) return {};
  Bytes out(der, der + len);
  ::OPENSSL_free(der);
  return out;
}

int protection_nid(const ECMP_MSG& message) {
  if (message.header->protectionAlg == nullptr) return NID_undef;
  const ::ASN1_OBJECT* oid = nullptr;
  ::X509_ALGOR_get0(&oid, nullptr, nullptr, message.header->protectionAlg);
  return ::OBJ_obj2nid(oid);
}

// ECDSA (or RSA) signature with SHA-256 over `data`; empty on failure.
Bytes sign_sha256(::EVP_PKEY* key, ByteView data) {
  ossl::EvpMdCtxPtr ctx(::EVP_MD_CTX_new());
  std::size_t len = 0;
  if (!ctx || ::EVP_DigestSignInit(ctx.get(), nullptr, ::EVP_sha256(), nullptr, key) != 1 ||
      ::EVP_DigestSign(ctx.get(), nullptr, &len, data.data(), data.size()) != 1) {
    return {};
  }
  Bytes signature(len);
  if (::EVP_DigestSign(ctx.get(), signature.data(), &len, data.data(), data.size()) != 1) return {};
  signature.resize(len);
  return signature;
}

// Signs ProtectedPart{header, body} with `key` (SHA-256) into the protection field.
void sign_message(ECMP_MSG& message, ::EVP_PKEY* key) {
  const Bytes covered = der_of_part(message);
  ASSERT_FALSE(covered.empty());
  Bytes signature = sign_sha256(key, covered);
  ASSERT_FALSE(signature.empty()) << ossl::drain_errors();
  ::ASN1_BIT_STRING_free(message.protection);
  message.protection = ::ASN1_BIT_STRING_new();
  ASSERT_EQ(::ASN1_BIT_STRING_set(message.protection, signature.data(), static_cast<int>(signature.size())), 1);
  message.protection->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
  message.protection->flags |= ASN1_STRING_FLAG_BITS_LEFT;
}

// Replaces the POP of the only CertReqMsg of a kur with one that signs a POPOSigningKeyInput
// (RFC 4211 4.1: required when the template has no subject) naming `sender`, for `key`.
// OpenSSL's client cannot make one, so it is written here in DER. `named` (default: `key`) is
// the key the input carries; OpenSSL's own CRMF code must accept the result exactly when it is
// the template's key, `key`.
void use_poposk_input(ECMP_MSG& message, const ::X509_NAME* sender, ::EVP_PKEY* key, ::EVP_PKEY* named = nullptr) {
  if (named == nullptr) named = key;
  const bool openssl_accepts = named == key;
  STACK_OF(ECMP_CERTREQMSG)* requests = message.body->value.kur;
  ASSERT_EQ(sk_ECMP_CERTREQMSG_num(requests), 1);
  const Bytes crm = ossl::der_with(sk_ECMP_CERTREQMSG_value(requests, 0), i2d_ECMP_CERTREQMSG);
  auto outer = der::read_element(crm);
  ASSERT_TRUE(outer);
  auto parts = der::read_children(outer->content);
  ASSERT_TRUE(parts && parts->size() >= 2);  // certReq, popo, regInfo OPTIONAL

  // POPOSigningKeyInput ::= SEQUENCE { authInfo CHOICE { sender [0] GeneralName, ... },
  //                                    publicKey SubjectPublicKeyInfo }
  const Bytes input =
      concat({der::element(0xA0, der::element(0xA4, ossl::der_of(sender))), ossl::der_of_public_key(named)});
  const Bytes signature = sign_sha256(key, der::element(0x30, input));
  ASSERT_FALSE(signature.empty());
  const Bytes ecdsa_with_sha256 = {0x30, 0x0A, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02};
  // popo: signature [1] POPOSigningKey { poposkInput [0], algorithmIdentifier, signature }
  const Bytes popo = der::element(0xA1, concat({der::element(0xA0, input), ecdsa_with_sha256,
                                                der::element(0x03, concat({Bytes{0x00}, signature}))}));
  Bytes content = concat({(*parts)[0].whole, popo});
  for (std::size_t i = 2; i < parts->size(); ++i) content = concat({content, (*parts)[i].whole});
  const Bytes replaced = der::element(0x30, content);
  const unsigned char* p = replaced.data();
  ECMP_CERTREQMSG* parsed = d2i_ECMP_CERTREQMSG(nullptr, &p, static_cast<long>(replaced.size()));
  ASSERT_NE(parsed, nullptr) << ossl::drain_errors();
  ECMP_CERTREQMSG* replaced_msg = sk_ECMP_CERTREQMSG_value(requests, 0);
  sk_ECMP_CERTREQMSG_set(requests, 0, parsed);  // returns the new element, not the old one
  ECMP_CERTREQMSG_free(replaced_msg);
  // OpenSSL's own CRMF code accepts it.
  std::unique_ptr<OSSL_CRMF_MSGS, ossl::Deleter<::OSSL_CRMF_MSGS_free>> theirs(openssl_cert_requests(*message.body));
  ASSERT_TRUE(theirs);
  ASSERT_EQ(::OSSL_CRMF_MSGS_verify_popo(theirs.get(), 0, 0, nullptr, nullptr) == 1, openssl_accepts)
      << ossl::drain_errors();
  ::ERR_clear_error();
}

// Decodes `der`, applies `change`, signs again with `key` unless it is null, re-encodes.
Bytes crafted(const Bytes& der, const std::function<void(ECMP_MSG&)>& change, ::EVP_PKEY* key) {
  MsgPtr message = decode(der);
  if (!message) throw std::runtime_error("not a PKIMessage");
  change(*message);
  if (key != nullptr) sign_message(*message, key);
  return der_of_msg(message.get());
}

void set_sender(ECMP_MSG& message, const ::X509_NAME* name) {
  ::GENERAL_NAME_free(message.header->sender);
  message.header->sender = ::GENERAL_NAME_new();
  ::GENERAL_NAME_set0_value(message.header->sender, GEN_DIRNAME, ::X509_NAME_dup(name));
}

// Makes the message claim to come from `who`: sender, senderKID and extraCerts (re-sign after).
void speak_as(ECMP_MSG& message, const ::X509* who) {
  set_sender(message, ::X509_get_subject_name(who));
  set_octets(message.header->senderKID, octets(::X509_get0_subject_key_id(const_cast<::X509*>(who))));
  sk_X509_pop_free(message.extraCerts, ::X509_free);
  message.extraCerts = sk_X509_new_null();
  sk_X509_push(message.extraCerts, ossl::up_ref(const_cast<::X509*>(who)).release());
}

// True if `der` is protected with ecdsa-with-SHA256 and the signature over
// i2d(ProtectedPart{header, body}) verifies with the public key of `signer`, which also comes
// first in extraCerts and whose SKI is the senderKID.
::testing::AssertionResult signed_by(ByteView der, const ::X509* signer) {
  MsgPtr message = decode(der);
  if (!message) return ::testing::AssertionFailure() << "not a PKIMessage";
  if (message->protection == nullptr) return ::testing::AssertionFailure() << "unprotected";
  const int nid = protection_nid(*message);
  int digest_nid = NID_undef;
  int key_nid = NID_undef;
  if (::OBJ_find_sigid_algs(nid, &digest_nid, &key_nid) != 1 || nid != NID_ecdsa_with_SHA256) {
    return ::testing::AssertionFailure() << "protectionAlg is " << ::OBJ_nid2sn(nid) << ", not ecdsa-with-SHA256";
  }
  if (sk_X509_num(message->extraCerts) < 1 ||
      ossl::der_of(sk_X509_value(message->extraCerts, 0)) != ossl::der_of(signer)) {
    return ::testing::AssertionFailure() << "the signer certificate is not first in extraCerts";
  }
  if (octets(message->header->senderKID) != octets(::X509_get0_subject_key_id(const_cast<::X509*>(signer)))) {
    return ::testing::AssertionFailure() << "senderKID is not the signer's SKI";
  }
  const Bytes covered = der_of_part(*message);
  ossl::EvpMdCtxPtr ctx(::EVP_MD_CTX_new());
  const bool ok =
      ctx &&
      ::EVP_DigestVerifyInit(ctx.get(), nullptr, ::EVP_sha256(), nullptr,
                             ::X509_get0_pubkey(const_cast<::X509*>(signer))) == 1 &&
      ::EVP_DigestVerify(ctx.get(), message->protection->data, static_cast<std::size_t>(message->protection->length),
                         covered.data(), covered.size()) == 1;
  ::ERR_clear_error();
  if (!ok) return ::testing::AssertionFailure() << "the signature does not verify";
  return ::testing::AssertionSuccess();
}

// The status of the first CertResponse of an ip, cp or kup (null otherwise).
const ECMP_PKISI* cert_status(const Reply& reply) {
  if (!reply.message) return nullptr;
  if (reply.body_type != ECMP_BODY_IP && reply.body_type != ECMP_BODY_CP && reply.body_type != ECMP_BODY_KUP) {
    return nullptr;
  }
  const ECMP_CERTREPMESSAGE* rep = reply.message->body->value.ip;
  if (sk_ECMP_CERTRESPONSE_num(rep->response) < 1) return nullptr;
  return sk_ECMP_CERTRESPONSE_value(rep->response, 0)->status;
}

long status_value(const ECMP_PKISI* status) {
  return status == nullptr ? -1 : ::ASN1_INTEGER_get(status->status);
}

constexpr long kAccepted = static_cast<long>(PkiStatus::kAccepted);
constexpr long kRejection = static_cast<long>(PkiStatus::kRejection);

class CmpSignatureTest : public CmpServerTest {
 protected:
  Bytes send_signed(const Bytes& request) {
    auto reply = signed_server.handle(request, CmpRequestContext{"", "test"});
    EXPECT_TRUE(reply) << reply.error().message;
    return reply ? *reply : Bytes{};
  }

  CmpClient::Transport to_signed_server() {
    return [this](const Bytes& request) -> std::optional<Bytes> {
      auto reply = signed_server.handle(request, CmpRequestContext{"", "test"});
      if (!reply) return std::nullopt;
      return *reply;
    };
  }

  // OpenSSL's client protecting with `as` (certificate and key) instead of the shared secret,
  // and trusting our root for the signed replies.
  std::unique_ptr<CmpClient> signing_client(const Credential& as, CmpClient::Transport transport,
                                            const std::string& subject = kSubject) {
    auto c = client(std::move(transport), kReference, kSecret, subject);
    OSSL_CMP_CTX* ctx = c->ctx();
    EXPECT_EQ(::OSSL_CMP_CTX_set1_secretValue(ctx, nullptr, 0), 1);
    EXPECT_EQ(::OSSL_CMP_CTX_set1_referenceValue(ctx, nullptr, 0), 1);
    EXPECT_EQ(::OSSL_CMP_CTX_set1_cert(ctx, as.cert.get()), 1);
    EXPECT_EQ(::OSSL_CMP_CTX_set1_pkey(ctx, as.key.get()), 1);
    X509StorePtr trusted(::X509_STORE_new());
    EXPECT_EQ(::X509_STORE_add_cert(trusted.get(), ca.root.get()), 1);
    EXPECT_EQ(::OSSL_CMP_CTX_set0_trustedStore(ctx, trusted.get()), 1);
    trusted.release();
    return c;
  }

  // A certificate (and key) from this CA, enrolled with the shared secret and confirmed.
  Credential enroll_with_mac() {
    auto c = client(to_signed_server());
    ::X509* cert = c->exec_ir();
    EXPECT_NE(cert, nullptr) << c->log();
    if (cert == nullptr) throw std::runtime_error("MAC enrollment failed");
    return Credential{ossl::up_ref(cert), ossl::up_ref(c->key())};
  }

  // An ir signed by `as` that no server has seen.
  Bytes signed_ir(const Credential& as) {
    auto c = signing_client(as, capture_only());
    EXPECT_EQ(c->exec_ir(), nullptr);
    EXPECT_EQ(c->sent().size(), 1U);
    return c->sent().empty() ? Bytes{} : c->sent().front();
  }

  static Reply last_reply(const CmpClient& c) {
    EXPECT_FALSE(c.received().empty()) << c.log();
    return c.received().empty() ? Reply{} : read_reply(c.received().back());
  }

  std::optional<store::CertificateRecord> stored(const ::X509* cert) {
    for (auto& record : certificates()) {
      if (record.der == ossl::der_of(cert)) return record;
    }
    return std::nullopt;
  }

  const ::X509* issuing_ca() const { return ca.issuing->certificate(); }

  // Expects an error message with exactly `bit`, signed by the issuing CA or unprotected.
  void expect_error(const Bytes& der, int bit, bool is_signed) {
    Reply reply = read_reply(der);
    EXPECT_EQ(reply.body_type, ECMP_BODY_ERROR);
    EXPECT_EQ(reply.status, kRejection);
    EXPECT_EQ(reply.bits, std::vector<int>{bit});
    EXPECT_EQ(reply.is_protected, is_signed);
    if (is_signed) {
      EXPECT_TRUE(signed_by(der, issuing_ca()));
    }
  }

  // Expects the certificate response `type` rejecting with exactly `bit`, signed by the CA.
  void expect_signed_rejection(const Bytes& der, int type, int bit) {
    Reply reply = read_reply(der);
    EXPECT_EQ(reply.body_type, type);
    EXPECT_EQ(status_value(cert_status(reply)), kRejection);
    EXPECT_EQ(failure_bits(cert_status(reply)), std::vector<int>{bit});
    EXPECT_TRUE(signed_by(der, issuing_ca()));
  }

  SoftwareCa vendor = make_software_ca({{"O", "Vendor Inc"}, {"CN", "Vendor Device CA"}});
  Credential device = issue_with(*vendor.authority, kDeviceSubject);
  // The registration authority the configuration names (its exact certificate).
  Credential registration_authority = issue_with(*vendor.authority, "CN=Field RA,O=Vendor Inc");
  ra::CertificateTrustImpl trust{*store,
                                 service.ca_chain(),
                                 {ossl::der_of(vendor.root.get())},
                                 {ossl::der_of(registration_authority.cert.get())},
                                 [this] { return std::chrono::system_clock::now() + clock_advance; }};
  ra::HsmMessageSigner signer{ca.issuing->signer(), service.ca_chain()};
  CmpServer signed_server{service, secrets, CmpServerOptions{}, &trust, &signer};
};

// ---- a vendor certificate enrolls ----

TEST_F(CmpSignatureTest, IrSignedByAVendorCertificateIsAcceptedAndEveryReplyIsSignedByTheIssuingCa) {
  auto c = signing_client(device, to_signed_server());
  ::X509* cert = c->exec_ir();
  ASSERT_NE(cert, nullptr) << c->log();

  // The client really signed (no MAC): its certificate first in extraCerts.
  ASSERT_EQ(c->sent().size(), 2U);  // ir, certConf
  MsgPtr ir = decode(c->sent().front());
  ASSERT_TRUE(ir);
  EXPECT_EQ(protection_nid(*ir), NID_ecdsa_with_SHA256);
  ASSERT_GE(sk_X509_num(ir->extraCerts), 1);
  EXPECT_EQ(ossl::der_of(sk_X509_value(ir->extraCerts, 0)), ossl::der_of(device.cert.get()));

  ASSERT_EQ(c->received().size(), 2U);  // ip, pkiConf
  Reply ip = read_reply(c->received()[0]);
  EXPECT_EQ(ip.body_type, ECMP_BODY_IP);
  EXPECT_EQ(ip.status, kAccepted);
  EXPECT_TRUE(ip.bits.empty());
  EXPECT_TRUE(ip.is_protected);
  EXPECT_TRUE(signed_by(c->received()[0], issuing_ca()));
  Reply conf = read_reply(c->received()[1]);
  EXPECT_EQ(conf.body_type, ECMP_BODY_PKICONF);
  EXPECT_TRUE(signed_by(c->received()[1], issuing_ca()));

  const std::string requester = "vendor:" + ossl::name_to_string(::X509_get_subject_name(device.cert.get()));
  auto records = certificates();
  ASSERT_EQ(records.size(), 1U);
  EXPECT_EQ(records.front().der, ossl::der_of(cert));
  EXPECT_EQ(records.front().requester.rfind("vendor:", 0), 0U) << records.front().requester;
  EXPECT_EQ(records.front().requester, requester);
  EXPECT_EQ(records.front().subject, ossl::name_to_string(c->subject()));
  auto txn = transaction(octets(ir->header->transactionID));
  ASSERT_TRUE(txn);
  EXPECT_EQ(txn->requester, requester);
  EXPECT_EQ(txn->state, "confirmed");
}

// ---- key update ----

TEST_F(CmpSignatureTest, KurSignedByACertificateThisCaIssuedGetsTheOldSubjectWithTheNewKey) {
  Credential old = enroll_with_mac();
  auto c = signing_client(old, to_signed_server());
  ::X509* fresh = ::OSSL_CMP_exec_KUR_ses(c->ctx());
  ASSERT_NE(fresh, nullptr) << c->log();
  ASSERT_EQ(c->received().size(), 2U);  // kup, pkiConf
  Reply kup = read_reply(c->received()[0]);
  EXPECT_EQ(kup.body_type, ECMP_BODY_KUP);
  EXPECT_EQ(status_value(cert_status(kup)), kAccepted);
  EXPECT_TRUE(failure_bits(cert_status(kup)).empty());
  EXPECT_TRUE(signed_by(c->received()[0], issuing_ca()));
  EXPECT_EQ(read_reply(c->received()[1]).body_type, ECMP_BODY_PKICONF);

  EXPECT_EQ(::X509_NAME_cmp(::X509_get_subject_name(fresh), ::X509_get_subject_name(old.cert.get())), 0);
  EXPECT_EQ(ossl::der_of_public_key(::X509_get0_pubkey(fresh)), ossl::der_of_public_key(c->key()));
  EXPECT_NE(ossl::der_of_public_key(::X509_get0_pubkey(fresh)), ossl::der_of_public_key(old.key.get()));

  auto old_record = stored(old.cert.get());
  auto new_record = stored(fresh);
  ASSERT_TRUE(old_record && new_record);
  EXPECT_EQ(certificates().size(), 2U);
  EXPECT_EQ(new_record->requester, "cert:" + old_record->serial_hex);
  EXPECT_NE(new_record->serial_hex, old_record->serial_hex);
}

TEST_F(CmpSignatureTest, KurWithoutSubjectInTheTemplateTakesTheOldCertificatesSubject) {
  // The certificate to update was itself enrolled with a vendor-signed ir.
  auto first = signing_client(device, to_signed_server(), "CN=sensor-0042.example,O=Example");
  ::X509* enrolled = first->exec_ir();
  ASSERT_NE(enrolled, nullptr) << first->log();
  Credential old{ossl::up_ref(enrolled), ossl::up_ref(first->key())};

  auto c = signing_client(old, capture_only());
  ossl::X509NamePtr empty(::X509_NAME_new());
  ASSERT_EQ(::OSSL_CMP_CTX_set1_subjectName(c->ctx(), empty.get()), 1);  // NULL-DN: leave it out
  EXPECT_EQ(::OSSL_CMP_exec_KUR_ses(c->ctx()), nullptr);
  ASSERT_EQ(c->sent().size(), 1U);
  const Bytes kur = crafted(
      c->sent().front(),
      [&](ECMP_MSG& m) {
        ASSERT_EQ(m.body->type, ECMP_BODY_KUR);
        const ECMP_CERTREQMSG* crm = sk_ECMP_CERTREQMSG_value(m.body->value.kur, 0);
        ASSERT_EQ(crm->certReq->certTemplate->subject, nullptr) << "the template should carry no subject";
        use_poposk_input(m, ::X509_get_subject_name(enrolled), c->key());
      },
      old.key.get());

  const Bytes der = send_signed(kur);
  Reply kup = read_reply(der);
  ASSERT_EQ(kup.body_type, ECMP_BODY_KUP);
  EXPECT_EQ(status_value(cert_status(kup)), kAccepted) << ::testing::PrintToString(failure_bits(cert_status(kup)));
  EXPECT_TRUE(signed_by(der, issuing_ca()));
  const ECMP_CERTRESPONSE* response = sk_ECMP_CERTRESPONSE_value(kup.message->body->value.kup->response, 0);
  ASSERT_TRUE(response->certifiedKeyPair != nullptr);
  const ::X509* fresh = response->certifiedKeyPair->certOrEncCert->value.certificate;
  ASSERT_NE(fresh, nullptr);
  EXPECT_EQ(::X509_NAME_cmp(::X509_get_subject_name(fresh), ::X509_get_subject_name(enrolled)), 0);
  EXPECT_EQ(ossl::der_of_public_key(::X509_get0_pubkey(fresh)), ossl::der_of_public_key(c->key()));
  auto old_record = stored(enrolled);
  auto new_record = stored(fresh);
  ASSERT_TRUE(old_record && new_record);
  EXPECT_EQ(old_record->requester.rfind("vendor:", 0), 0U);
  EXPECT_EQ(new_record->requester, "cert:" + old_record->serial_hex);
}

// The POPOSigningKeyInput must carry the template's key (RFC 4211 4.1), even when the template's
// key signed it: otherwise a signature over any input would pass.
TEST_F(CmpSignatureTest, KurWhosePoposkInputNamesAnotherKeyIsBadPop) {
  Credential old = enroll_with_mac();
  auto c = signing_client(old, capture_only());
  ossl::X509NamePtr empty(::X509_NAME_new());
  ASSERT_EQ(::OSSL_CMP_CTX_set1_subjectName(c->ctx(), empty.get()), 1);
  EXPECT_EQ(::OSSL_CMP_exec_KUR_ses(c->ctx()), nullptr);
  ASSERT_EQ(c->sent().size(), 1U);
  ossl::EvpPkeyPtr other = make_ec_key();
  const Bytes kur = crafted(
      c->sent().front(),
      [&](ECMP_MSG& m) { use_poposk_input(m, ::X509_get_subject_name(old.cert.get()), c->key(), other.get()); },
      old.key.get());
  expect_signed_rejection(send_signed(kur), ECMP_BODY_KUP, kBadPop);
  EXPECT_EQ(certificates().size(), 1U);
}

TEST_F(CmpSignatureTest, KurWithoutSubjectAndWithoutPoposkInputIsBadPop) {
  // RFC 4211 4.1: without a subject in the template, the POP must sign a POPOSigningKeyInput.
  // OpenSSL 3.0's client leaves the subject out for a NULL-DN but cannot add that input.
  Credential old = enroll_with_mac();
  auto c = signing_client(old, to_signed_server());
  ossl::X509NamePtr empty(::X509_NAME_new());
  ASSERT_EQ(::OSSL_CMP_CTX_set1_subjectName(c->ctx(), empty.get()), 1);
  EXPECT_EQ(::OSSL_CMP_exec_KUR_ses(c->ctx()), nullptr);
  ASSERT_EQ(c->received().size(), 1U) << c->log();
  expect_signed_rejection(c->received().front(), ECMP_BODY_KUP, kBadPop);
  EXPECT_EQ(certificates().size(), 1U);
}

TEST_F(CmpSignatureTest, KurWithTheSameKeyIsBadCertTemplate) {
  Credential old = enroll_with_mac();
  auto c = signing_client(old, to_signed_server());
  ASSERT_EQ(::OSSL_CMP_CTX_set0_newPkey(c->ctx(), 1, ossl::up_ref(old.key.get()).release()), 1);
  EXPECT_EQ(::OSSL_CMP_exec_KUR_ses(c->ctx()), nullptr);
  ASSERT_EQ(c->received().size(), 1U) << c->log();
  expect_signed_rejection(c->received().front(), ECMP_BODY_KUP, kBadCertTemplate);
  EXPECT_EQ(certificates().size(), 1U);
}

// The same key encoded otherwise (a compressed point) is the same key all the same.
TEST_F(CmpSignatureTest, KurWithTheSameKeyAsACompressedPointIsBadCertTemplate) {
  Credential old = enroll_with_mac();
  auto c = signing_client(old, to_signed_server());
  ossl::EvpPkeyPtr compressed(::EVP_PKEY_dup(old.key.get()));
  ASSERT_TRUE(compressed);
  ASSERT_EQ(
      ::EVP_PKEY_set_utf8_string_param(compressed.get(), OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed"), 1);
  ASSERT_NE(ossl::der_of_public_key(compressed.get()), ossl::der_of_public_key(old.key.get())) << "the premise";
  ASSERT_EQ(::OSSL_CMP_CTX_set0_newPkey(c->ctx(), 1, compressed.release()), 1);
  EXPECT_EQ(::OSSL_CMP_exec_KUR_ses(c->ctx()), nullptr);
  ASSERT_EQ(c->received().size(), 1U) << c->log();
  expect_signed_rejection(c->received().front(), ECMP_BODY_KUP, kBadCertTemplate);
  EXPECT_EQ(certificates().size(), 1U);
}

TEST_F(CmpSignatureTest, KurForAnotherSubjectIsBadCertTemplate) {
  Credential old = enroll_with_mac();
  auto c = signing_client(old, to_signed_server(), "CN=someone-else.example,O=Example");
  EXPECT_EQ(::OSSL_CMP_exec_KUR_ses(c->ctx()), nullptr);
  ASSERT_EQ(c->received().size(), 1U) << c->log();
  expect_signed_rejection(c->received().front(), ECMP_BODY_KUP, kBadCertTemplate);
  EXPECT_EQ(certificates().size(), 1U);
}

TEST_F(CmpSignatureTest, KurNamingAnotherCertificateInOldCertIdIsBadCertId) {
  Credential old = enroll_with_mac();
  Credential other = enroll_with_mac();  // same subject, another serial
  auto c = signing_client(old, to_signed_server());
  ASSERT_EQ(::OSSL_CMP_CTX_set1_oldCert(c->ctx(), other.cert.get()), 1);
  EXPECT_EQ(::OSSL_CMP_exec_KUR_ses(c->ctx()), nullptr);
  ASSERT_EQ(c->received().size(), 1U) << c->log();
  expect_signed_rejection(c->received().front(), ECMP_BODY_KUP, kBadCertId);
  EXPECT_EQ(certificates().size(), 2U);
}

TEST_F(CmpSignatureTest, KurSignedByAVendorCertificateIsNotAuthorized) {
  auto c = signing_client(device, to_signed_server());
  EXPECT_EQ(::OSSL_CMP_exec_KUR_ses(c->ctx()), nullptr);
  ASSERT_EQ(c->received().size(), 1U) << c->log();
  expect_signed_rejection(c->received().front(), ECMP_BODY_KUP, kNotAuthorized);
  EXPECT_TRUE(certificates().empty());
}

// ---- revocation ----

TEST_F(CmpSignatureTest, ACertificateRevokesItselfWithASignedRrAndThenCannotUpdateItsKey) {
  Credential old = enroll_with_mac();
  auto rr = signing_client(old, to_signed_server());
  ASSERT_EQ(::OSSL_CMP_CTX_set1_oldCert(rr->ctx(), old.cert.get()), 1);
  ASSERT_EQ(::OSSL_CMP_CTX_set_option(rr->ctx(), OSSL_CMP_OPT_REVOCATION_REASON, 4 /* superseded */), 1);
  ::OSSL_CMP_exec_RR_ses(rr->ctx());
  ASSERT_EQ(rr->received().size(), 1U) << rr->log();
  Reply rp = last_reply(*rr);
  ASSERT_EQ(rp.body_type, ECMP_BODY_RP);
  EXPECT_TRUE(signed_by(rr->received().front(), issuing_ca()));
  ASSERT_EQ(sk_ECMP_PKISI_num(rp.message->body->value.rp->status), 1);
  const ECMP_PKISI* status = sk_ECMP_PKISI_value(rp.message->body->value.rp->status, 0);
  EXPECT_EQ(status_value(status), kAccepted);
  EXPECT_TRUE(failure_bits(status).empty());

  auto record = stored(old.cert.get());
  ASSERT_TRUE(record);
  EXPECT_EQ(record->status, "revoked");
  EXPECT_EQ(record->revocation_reason, 4);
  auto audit = store->list_audit(10);
  ASSERT_TRUE(audit);
  ASSERT_EQ(audit->size(), 1U);
  EXPECT_EQ(audit->front().actor, "cert:" + record->serial_hex);

  // The revoked certificate still signs correctly; it is refused, and the refusal is signed.
  auto kur = signing_client(old, to_signed_server());
  EXPECT_EQ(::OSSL_CMP_exec_KUR_ses(kur->ctx()), nullptr);
  ASSERT_EQ(kur->received().size(), 1U) << kur->log();
  expect_error(kur->received().front(), kCertRevoked, true);
  EXPECT_EQ(certificates().size(), 1U);
}

// ---- crafted signed requests ----

TEST_F(CmpSignatureTest, ARequestSignedAgainWithoutAChangeIsAccepted) {
  // The control for the crafted rows below: taking a request apart and signing it again with
  // the device key keeps it valid, so each refusal below is due to its one change.
  const Bytes ir = signed_ir(device);
  const Bytes again = crafted(
      ir, [](ECMP_MSG&) {}, device.key.get());
  Reply reply = read_reply(send_signed(again));
  EXPECT_EQ(reply.body_type, ECMP_BODY_IP);
  EXPECT_EQ(reply.status, kAccepted);
  EXPECT_EQ(certificates().size(), 1U);
}

TEST_F(CmpSignatureTest, AFlippedSignatureIsBadMessageCheckAndTheErrorIsUnsigned) {
  const Bytes ir = signed_ir(device);
  const Bytes broken = crafted(
      ir, [](ECMP_MSG& m) { m.protection->data[m.protection->length / 2] ^= 0x01; }, nullptr);
  ASSERT_NE(broken, ir);
  expect_error(send_signed(broken), kBadMessageCheck, false);
  EXPECT_TRUE(certificates().empty());
  EXPECT_FALSE(transaction(octets(decode(ir)->header->transactionID)));
}

TEST_F(CmpSignatureTest, AnotherSenderSignedAgainIsBadMessageCheck) {
  const Bytes ir = signed_ir(device);
  const Bytes changed = crafted(
      ir,
      [](ECMP_MSG& m) {
        auto name = ossl::name_from_der(name_der("CN=sensor-0043,O=Vendor Inc"));
        ASSERT_TRUE(name);
        set_sender(m, name->get());
      },
      device.key.get());
  expect_error(send_signed(changed), kBadMessageCheck, false);
  EXPECT_TRUE(certificates().empty());
}

TEST_F(CmpSignatureTest, AnotherSenderKidSignedAgainIsBadMessageCheck) {
  const Bytes ir = signed_ir(device);
  ASSERT_EQ(octets(decode(ir)->header->senderKID), octets(::X509_get0_subject_key_id(device.cert.get())));
  const Bytes changed = crafted(
      ir, [](ECMP_MSG& m) { set_octets(m.header->senderKID, Bytes(20, 0x42)); }, device.key.get());
  expect_error(send_signed(changed), kBadMessageCheck, false);
  EXPECT_TRUE(certificates().empty());
}

TEST_F(CmpSignatureTest, WithoutExtraCertsTheSignatureIsBadMessageCheck) {
  const Bytes ir = signed_ir(device);
  const Bytes changed = crafted(
      ir,
      [](ECMP_MSG& m) {
        sk_X509_pop_free(m.extraCerts, ::X509_free);
        m.extraCerts = nullptr;
      },
      nullptr);  // extraCerts are not covered by the signature
  expect_error(send_signed(changed), kBadMessageCheck, false);
  EXPECT_TRUE(certificates().empty());
}

TEST_F(CmpSignatureTest, ASelfSignedCertificateNobodyTrustsIsSignerNotTrusted) {
  SoftwareCa stranger = make_software_ca({{"CN", "Nobody's Root"}});
  const Bytes changed = crafted(
      signed_ir(device), [&](ECMP_MSG& m) { speak_as(m, stranger.root.get()); }, stranger.key.get());
  expect_error(send_signed(changed), kSignerNotTrusted, true);
  EXPECT_TRUE(certificates().empty());
}

TEST_F(CmpSignatureTest, ACertificateUnderAnImpostorWithThisCasNameIsSignerNotTrusted) {
  SoftwareCa impostor = make_software_ca({{"CN", "Test Issuing CA"}});
  Credential forged = issue_with(*impostor.authority, "CN=forged.example,O=Example");
  ASSERT_EQ(::X509_NAME_cmp(::X509_get_issuer_name(forged.cert.get()), ::X509_get_subject_name(issuing_ca())), 0);
  const Bytes changed = crafted(
      signed_ir(device), [&](ECMP_MSG& m) { speak_as(m, forged.cert.get()); }, forged.key.get());
  expect_error(send_signed(changed), kSignerNotTrusted, true);
  EXPECT_TRUE(certificates().empty());
}

TEST_F(CmpSignatureTest, ACertificateThisCaSignedButNeverStoredIsSignerNotTrusted) {
  // Issued with the real issuing CA key but not through the service: it chains to our root,
  // the store does not know it.
  Credential ghost = issue_with(*ca.issuing, "CN=ghost.example,O=Example");
  ASSERT_EQ(::X509_verify(ghost.cert.get(), ::X509_get0_pubkey(issuing_ca())), 1);
  const Bytes changed = crafted(
      signed_ir(device), [&](ECMP_MSG& m) { speak_as(m, ghost.cert.get()); }, ghost.key.get());
  expect_error(send_signed(changed), kSignerNotTrusted, true);
  EXPECT_TRUE(certificates().empty());
}

TEST_F(CmpSignatureTest, AnExpiredVendorCertificateIsSignerNotTrusted) {
  const Bytes ir = signed_ir(device);
  clock_advance = std::chrono::hours(24 * 400);  // past the device certificate's year
  expect_error(send_signed(ir), kSignerNotTrusted, true);
  EXPECT_TRUE(certificates().empty());
}

TEST_F(CmpSignatureTest, AnUnsupportedProtectionAlgorithmIsBadAlg) {
  const Bytes ir = signed_ir(device);
  for (const char* oid : {"1.3.6.1.4.1.55555.1.2", "2.16.840.1.101.3.4.2.1" /* sha256: a digest only */}) {
    SCOPED_TRACE(oid);
    const Bytes changed = crafted(
        ir,
        [oid](ECMP_MSG& m) {
          ::ASN1_OBJECT* object = ::OBJ_txt2obj(oid, 1);
          ASSERT_NE(object, nullptr);
          ASSERT_EQ(::X509_ALGOR_set0(m.header->protectionAlg, object, V_ASN1_UNDEF, nullptr), 1);
        },
        nullptr);
    expect_error(send_signed(changed), kBadAlg, false);
  }
  EXPECT_TRUE(certificates().empty());
}

// The key type named by protectionAlg must fit the protection certificate's key: an ECDSA
// signature under a protectionAlg naming RSA, RSASSA-PSS or Ed25519 is refused.
TEST_F(CmpSignatureTest, AProtectionAlgForAnotherKeyTypeIsBadAlg) {
  for (int nid : {NID_sha256WithRSAEncryption, NID_rsassaPss, NID_ED25519}) {
    SCOPED_TRACE(::OBJ_nid2sn(nid));
    const Bytes changed = crafted(
        signed_ir(device),
        [nid](ECMP_MSG& m) {
          ASSERT_EQ(::X509_ALGOR_set0(m.header->protectionAlg, ::OBJ_nid2obj(nid), V_ASN1_UNDEF, nullptr), 1);
        },
        device.key.get());  // the usual ECDSA P-256 / SHA-256 signature
    expect_error(send_signed(changed), kBadAlg, false);
  }
  EXPECT_TRUE(certificates().empty());
}

// ---- without trust and signer ----

TEST_F(CmpSignatureTest, TheServerWithoutTrustAndSignerRefusesASignedRequestWithBadAlg) {
  const Bytes ir = signed_ir(device);
  expect_error(send(ir), kBadAlg, false);  // the plain CmpServerTest server
  EXPECT_TRUE(certificates().empty());
  // The very same request is fine where signatures are configured.
  EXPECT_EQ(read_reply(send_signed(ir)).status, kAccepted);
}

// One server, many clients at once, alternating protection: MAC with two references and
// signatures by two certificates. The ASan build runs this too: OpenSSL's own server context
// read freed memory when signers alternated on one context (DESIGN.md); ours keeps no
// per-client state between messages.
// ---- an RA in front: raVerified and nested messages (RFC 9483 5.2) ----

// True if the ir's only CertReqMsg carries raVerified ([0] NULL) as its proof of possession.
bool carries_ra_verified(const Bytes& ir_der) {
  MsgPtr ir = decode(ir_der);
  if (!ir || ir->body->type != ECMP_BODY_IR || sk_ECMP_CERTREQMSG_num(ir->body->value.ir) != 1) return false;
  const Bytes crm = ossl::der_with(sk_ECMP_CERTREQMSG_value(ir->body->value.ir, 0), i2d_ECMP_CERTREQMSG);
  auto outer = der::read_element(crm);
  auto parts = outer ? der::read_children(outer->content) : std::nullopt;
  return parts && parts->size() >= 2 && (*parts)[1].tag == 0x80 && (*parts)[1].content.empty();
}

// A nested message (RFC 4210 5.1.3.4) carrying `inner`, signed by `by` with its own header.
Bytes nested(const Bytes& header_source, const std::vector<Bytes>& inner, ::EVP_PKEY* by) {
  return crafted(
      header_source,
      [&](ECMP_MSG& message) {
        ECMP_BODY_free(message.body);
        message.body = ECMP_BODY_new();
        message.body->type = ECMP_BODY_NESTED;
        message.body->value.nested = sk_ECMP_MSG_new_null();
        for (const auto& der : inner) sk_ECMP_MSG_push(message.body->value.nested, decode(der).release());
      },
      by);
}

// The messages inside a nested reply, DER, in order; empty if it is not one.
std::vector<Bytes> inner_replies(const Bytes& reply_der) {
  MsgPtr reply = decode(reply_der);
  std::vector<Bytes> out;
  if (!reply || reply->body->type != ECMP_BODY_NESTED) return out;
  for (int i = 0; i < sk_ECMP_MSG_num(reply->body->value.nested); ++i) {
    out.push_back(der_of_msg(sk_ECMP_MSG_value(reply->body->value.nested, i)));
  }
  return out;
}

::X509* certificate_in(const Reply& reply) {
  const ECMP_CERTREPMESSAGE* rep = reply.message->body->value.ip;
  const ECMP_CERTRESPONSE* response = sk_ECMP_CERTRESPONSE_value(rep->response, 0);
  return response->certifiedKeyPair != nullptr ? response->certifiedKeyPair->certOrEncCert->value.certificate : nullptr;
}

// RFC 9483 5.2.3.2: an RA that checked the device's proof of possession itself signs the ir
// (replacing the device's protection) and says raVerified.
TEST_F(CmpSignatureTest, RaVerifiedFromTheAuthorizedRaIsAccepted) {
  auto c = signing_client(registration_authority, to_signed_server(), kDeviceSubject);
  ASSERT_EQ(::OSSL_CMP_CTX_set_option(c->ctx(), OSSL_CMP_OPT_POPO_METHOD, OSSL_CRMF_POPO_RAVERIFIED), 1);
  ::X509* cert = c->exec_ir();
  ASSERT_NE(cert, nullptr) << c->log();
  ASSERT_FALSE(c->sent().empty());
  EXPECT_TRUE(carries_ra_verified(c->sent().front()));
  EXPECT_EQ(ossl::der_of(::X509_get_subject_name(cert)), name_der(kDeviceSubject));
  EXPECT_EQ(::EVP_PKEY_eq(::X509_get0_pubkey(cert), c->key()), 1);
  auto record = stored(cert);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->requester, "ra:O=Vendor Inc,CN=Field RA");  // RFC 2253 order
}

TEST_F(CmpSignatureTest, RaVerifiedFromAnyOtherSignerIsBadPop) {
  const Credential ours = enroll_with_mac();
  for (const Credential* who : std::vector<const Credential*>{&device, &ours}) {
    auto c = signing_client(*who, to_signed_server(), "CN=claims-ra-verified");
    ASSERT_EQ(::OSSL_CMP_CTX_set_option(c->ctx(), OSSL_CMP_OPT_POPO_METHOD, OSSL_CRMF_POPO_RAVERIFIED), 1);
    EXPECT_EQ(c->exec_ir(), nullptr);
    ASSERT_FALSE(c->received().empty()) << c->log();
    expect_signed_rejection(c->received().front(), ECMP_BODY_IP, OSSL_CMP_PKIFAILUREINFO_badPOP);
  }
  // A MAC is no RA either.
  auto mac = client(to_signed_server(), kReference, kSecret, "CN=mac-claims-ra-verified");
  ASSERT_EQ(::OSSL_CMP_CTX_set_option(mac->ctx(), OSSL_CMP_OPT_POPO_METHOD, OSSL_CRMF_POPO_RAVERIFIED), 1);
  EXPECT_EQ(mac->exec_ir(), nullptr);
  Reply reply = last_reply(*mac);
  EXPECT_EQ(reply.body_type, ECMP_BODY_IP);
  EXPECT_EQ(reply.bits, std::vector<int>{OSSL_CMP_PKIFAILUREINFO_badPOP});
}

// RFC 9483 5.2.2.1: the RA batches requests, each keeping its own protection, and adds its
// own; every inner message is answered, in order, and a resend gets the same answers.
TEST_F(CmpSignatureTest, NestedFromTheAuthorizedRaAnswersEveryInnerMessageInOrder) {
  const Bytes from_device = signed_ir(device);
  auto mac_client = client(capture_only(), kReference, kSecret, "CN=behind-the-ra");
  EXPECT_EQ(mac_client->exec_ir(), nullptr);
  ASSERT_EQ(mac_client->sent().size(), 1U);
  const Bytes from_mac = mac_client->sent().front();
  const Bytes outer =
      nested(signed_ir(registration_authority), {from_device, from_mac}, registration_authority.key.get());
  const std::size_t before = certificates().size();

  const Bytes reply = send_signed(outer);
  EXPECT_TRUE(signed_by(reply, issuing_ca()));
  const std::vector<Bytes> answers = inner_replies(reply);
  ASSERT_EQ(answers.size(), 2U);
  Reply first = read_reply(answers[0]);
  Reply second = read_reply(answers[1]);
  ASSERT_EQ(first.body_type, ECMP_BODY_IP);
  ASSERT_EQ(second.body_type, ECMP_BODY_IP);
  EXPECT_EQ(status_value(cert_status(first)), kAccepted);
  EXPECT_EQ(status_value(cert_status(second)), kAccepted);
  EXPECT_TRUE(signed_by(answers[0], issuing_ca()));  // answered as the device asked: signed
  EXPECT_TRUE(mac_verifies(answers[1], to_bytes(kSecret)));
  EXPECT_EQ(octets(first.message->header->transactionID), octets(decode(from_device)->header->transactionID));
  EXPECT_EQ(octets(second.message->header->transactionID), octets(decode(from_mac)->header->transactionID));
  ASSERT_NE(certificate_in(first), nullptr);
  ASSERT_NE(certificate_in(second), nullptr);
  EXPECT_EQ(ossl::der_of(::X509_get_subject_name(certificate_in(first))), name_der(kSubject));
  EXPECT_EQ(ossl::der_of(::X509_get_subject_name(certificate_in(second))), name_der("CN=behind-the-ra"));
  EXPECT_EQ(certificates().size(), before + 2);

  EXPECT_EQ(inner_replies(send_signed(outer)), answers);  // a resend: the stored answers
  EXPECT_EQ(certificates().size(), before + 2);
}

TEST_F(CmpSignatureTest, ABadInnerMessageGetsItsOwnErrorAndTheOthersAreStillAnswered) {
  const Bytes forged = crafted(
      signed_ir(device), [](ECMP_MSG& message) { message.protection->data[0] ^= 0x01; }, nullptr);
  const Bytes good = signed_ir(issue_with(*vendor.authority, "CN=good-neighbour"));
  const Bytes reply =
      send_signed(nested(signed_ir(registration_authority), {forged, good}, registration_authority.key.get()));
  const std::vector<Bytes> answers = inner_replies(reply);
  ASSERT_EQ(answers.size(), 2U);
  Reply refused = read_reply(answers[0]);
  EXPECT_EQ(refused.body_type, ECMP_BODY_ERROR);
  EXPECT_EQ(refused.bits, std::vector<int>{OSSL_CMP_PKIFAILUREINFO_badMessageCheck});
  EXPECT_EQ(status_value(cert_status(read_reply(answers[1]))), kAccepted);
}

TEST_F(CmpSignatureTest, NestedFromASignerThatIsNoAuthorizedRaIsNotAuthorized) {
  const Bytes inner = signed_ir(issue_with(*vendor.authority, "CN=smuggled"));
  const std::size_t before = certificates().size();
  expect_error(send_signed(nested(signed_ir(device), {inner}, device.key.get())), OSSL_CMP_PKIFAILUREINFO_notAuthorized,
               true);
  EXPECT_EQ(certificates().size(), before);  // the inner request was not processed
}

TEST_F(CmpSignatureTest, NestedThreeDeepIsRefusedAtTheThirdLevel) {
  const Bytes ra_header = signed_ir(registration_authority);
  ::EVP_PKEY* ra_key = registration_authority.key.get();
  const Bytes level3 = nested(ra_header, {signed_ir(device)}, ra_key);
  const Bytes level2 = nested(ra_header, {level3}, ra_key);
  const std::vector<Bytes> outer = inner_replies(send_signed(nested(ra_header, {level2}, ra_key)));
  ASSERT_EQ(outer.size(), 1U);
  const std::vector<Bytes> middle = inner_replies(outer[0]);
  ASSERT_EQ(middle.size(), 1U);
  Reply refused = read_reply(middle[0]);
  EXPECT_EQ(refused.body_type, ECMP_BODY_ERROR);
  EXPECT_EQ(refused.bits, std::vector<int>{OSSL_CMP_PKIFAILUREINFO_badRequest});
}

TEST_F(CmpSignatureTest, AlternatingSignersConcurrentlyAllSucceed) {
  const Credential first = enroll_with_mac();
  const Credential second = enroll_with_mac();
  const std::size_t before = certificates().size();
  constexpr int kThreads = 4;
  constexpr int kRoundsEach = 6;
  std::atomic<int> issued{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRoundsEach; ++round) {
        const std::string subject = "CN=alt-" + std::to_string(t) + "-" + std::to_string(round);
        std::unique_ptr<CmpClient> c;
        switch ((t + round) % 4) {
          case 0: c = client(to_signed_server(), kReference, kSecret, subject); break;
          case 1: c = client(to_signed_server(), kOtherReference, kOtherSecret, subject); break;
          case 2: c = signing_client(first, to_signed_server(), subject); break;
          default: c = signing_client(second, to_signed_server(), subject); break;
        }
        if (c->exec_ir() != nullptr) ++issued;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(issued.load(), kThreads * kRoundsEach);
  EXPECT_EQ(certificates().size(), before + kThreads * kRoundsEach);
}

}  // namespace
}  // namespace enrolld::cmp::test
