// Messages no client sends: a real request from OpenSSL's client, taken apart with our templates,
// one thing changed, protected again with our PBM functions and handed to CmpServer::handle.

#include "protocols/cmp/cmp_server.h"

#include <optional>
#include <thread>
#include <utility>

#include <openssl/crmf.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "cmp_server_fixture.h"

namespace enrolld::cmp::test {
namespace {

using CrmfMsgsPtr = std::unique_ptr<OSSL_CRMF_MSGS, ossl::Deleter<::OSSL_CRMF_MSGS_free>>;

bool pop_verifies(const OSSL_CRMF_MSGS* requests) {
  const bool ok = ::OSSL_CRMF_MSGS_verify_popo(requests, 0, 0, nullptr, nullptr) == 1;
  ::ERR_clear_error();
  return ok;
}

// Flips one bit in the POP signature. The signature (an ECDSA-Sig-Value in a BIT STRING) is the
// last element of the only CertReqMsg, so the last octet of its DER is the last octet of s.
// Checked before and after with OpenSSL's own CRMF code.
void corrupt_pop_signature(ECMP_MSG& message) {
  CrmfMsgsPtr before(openssl_cert_requests(*message.body));
  ASSERT_TRUE(before && pop_verifies(before.get())) << "the captured request's POP should verify before we break it";
  Bytes bytes = ossl::der_with(sk_ECMP_CERTREQMSG_value(message.body->value.ir, 0), i2d_ECMP_CERTREQMSG);
  bytes.back() ^= 0x01;
  const unsigned char* p = bytes.data();
  ECMP_CERTREQMSG* corrupted = d2i_ECMP_CERTREQMSG(nullptr, &p, static_cast<long>(bytes.size()));
  ASSERT_NE(corrupted, nullptr);
  ECMP_CERTREQMSG* original = sk_ECMP_CERTREQMSG_value(message.body->value.ir, 0);
  sk_ECMP_CERTREQMSG_set(message.body->value.ir, 0, corrupted);  // returns the new element, not the old one
  ECMP_CERTREQMSG_free(original);
  CrmfMsgsPtr after(openssl_cert_requests(*message.body));
  ASSERT_TRUE(after);
  ASSERT_FALSE(pop_verifies(after.get())) << "the change did not break the POP signature";
}

// The ir with its only CertReqMsg's signature POP kept or dropped, and `key_encipherment` (taken
// over; null: none) added as a keyEncipherment POP.
Bytes with_pop(const Bytes& ir, ByteView secret, bool keep_signature, ::ASN1_TYPE* key_encipherment) {
  return modified(
      ir,
      [&](ECMP_MSG& message) {
        ECMP_CERTREQMSG* crm = sk_ECMP_CERTREQMSG_value(message.body->value.ir, 0);
        ASSERT_NE(crm, nullptr);
        ASSERT_NE(crm->signature, nullptr) << "OpenSSL's client proves possession by signature";
        if (!keep_signature) {
          ECMP_POPOSIGNINGKEY_free(crm->signature);
          crm->signature = nullptr;
        }
        crm->keyEncipherment = key_encipherment;
      },
      secret);
}

// popo keyEncipherment [2] thisMessage [0] BIT STRING: an encrypted private key, not offered here.
::ASN1_TYPE* key_encipherment_pop() {
  ::ASN1_TYPE* pop = ::ASN1_TYPE_new();
  ::ASN1_STRING* encoded = ::ASN1_STRING_type_new(V_ASN1_SEQUENCE);
  const unsigned char this_message[] = {0x80, 0x02, 0x00, 0x00};
  ::ASN1_STRING_set(encoded, this_message, sizeof this_message);
  ::ASN1_TYPE_set(pop, V_ASN1_OTHER, encoded);
  return pop;
}

// A krr (key recovery request), a body type this server does not offer.
void set_krr_body(ECMP_MSG& message) {
  ECMP_BODY_free(message.body);
  message.body = ECMP_BODY_new();
  message.body->type = ECMP_BODY_KRR;
  message.body->value.other = ::ASN1_TYPE_new();
  ::ASN1_TYPE_set(message.body->value.other, V_ASN1_NULL, nullptr);
}

// One CertReqMsg made with OpenSSL's CRMF API: `template_key` and `subject` (either may be null)
// in the template, POP signed with `pop_key`.
// `extension`, when given, is an OpenSSL configuration line for the template's extensions
// ({NID_subject_alt_name, "DNS:x"}).
OSSL_CRMF_MSG* crmf_request(::EVP_PKEY* template_key, const ::X509_NAME* subject, ::EVP_PKEY* pop_key,
                            int cert_req_id = 0, std::optional<std::pair<int, const char*>> extension = {}) {
  OSSL_CRMF_MSG* crm = ::OSSL_CRMF_MSG_new();
  EXPECT_NE(crm, nullptr);
  EXPECT_EQ(::OSSL_CRMF_MSG_set_certReqId(crm, cert_req_id), 1);
  EXPECT_EQ(::OSSL_CRMF_CERTTEMPLATE_fill(::OSSL_CRMF_MSG_get0_tmpl(crm), template_key, subject, nullptr, nullptr), 1);
  if (extension) {
    X509_EXTENSIONS* exts = sk_X509_EXTENSION_new_null();
    sk_X509_EXTENSION_push(exts, ::X509V3_EXT_conf_nid(nullptr, nullptr, extension->first, extension->second));
    EXPECT_EQ(::OSSL_CRMF_MSG_set0_extensions(crm, exts), 1);  // signed by the POP below
  }
  EXPECT_EQ(::OSSL_CRMF_MSG_create_popo(OSSL_CRMF_POPO_SIGNATURE, crm, pop_key, ::EVP_sha256(), nullptr, nullptr), 1)
      << ossl::drain_errors();
  return crm;
}

// Replaces the ir's CertReqMessages with `requests`.
void set_requests(ECMP_MSG& message, const std::vector<OSSL_CRMF_MSG*>& requests) {
  OSSL_CRMF_MSGS* msgs = sk_OSSL_CRMF_MSG_new_null();
  for (OSSL_CRMF_MSG* crm : requests) sk_OSSL_CRMF_MSG_push(msgs, crm);
  set_cert_requests(*message.body, msgs);
}

ossl::X509NamePtr subject_name(const std::string& text) {
  auto name = ossl::name_from_der(enrolld::testing::name_der(text));
  return name ? std::move(*name) : nullptr;
}

Bytes with_requests(
    const Bytes& ir, ByteView secret,
    const std::function<std::vector<OSSL_CRMF_MSG*>(::EVP_PKEY* key, const ::X509_NAME* subject)>& make) {
  ossl::EvpPkeyPtr key = enrolld::testing::make_ec_key();
  ossl::X509NamePtr subject = subject_name(kSubject);
  return modified(
      ir, [&](ECMP_MSG& m) { set_requests(m, make(key.get(), subject.get())); }, secret);
}

// The ir with one CertReqMsg asking for the extension `value` (OpenSSL configuration syntax).
Bytes with_template_extension(const Bytes& ir, ByteView secret, int nid, const char* value) {
  return with_requests(ir, secret, [&](::EVP_PKEY* key, const ::X509_NAME* subject) {
    return std::vector<OSSL_CRMF_MSG*>{crmf_request(key, subject, key, 0, std::pair{nid, value})};
  });
}

// ---- one thing wrong: exactly one failure bit, nothing stored ----

struct Row {
  const char* name;
  std::function<Bytes(const Bytes& ir, ByteView secret)> craft;
  int body_type;
  int bit;
  bool reply_protected;  // only once the request's MAC has verified
};

// NOLINTNEXTLINE(readability-identifier-naming): gtest finds its printer by this name
void PrintTo(const Row& row, std::ostream* os) {
  *os << row.name;
}

Bytes with_header_change(const Bytes& ir, ByteView secret, const std::function<void(ECMP_HEADER&)>& change) {
  return modified(
      ir, [&](ECMP_MSG& m) { change(*m.header); }, secret);
}

const Row kRows[] = {
    {"Pvno5",
     [](const Bytes& ir, ByteView s) {
       return with_header_change(ir, s, [](ECMP_HEADER& h) { ::ASN1_INTEGER_set(h.pvno, 5); });
     },
     ECMP_BODY_ERROR, kUnsupportedVersion, false},
    {"Pvno1",
     [](const Bytes& ir, ByteView s) {
       return with_header_change(ir, s, [](ECMP_HEADER& h) { ::ASN1_INTEGER_set(h.pvno, 1); });
     },
     ECMP_BODY_ERROR, kUnsupportedVersion, false},
    {"NoProtection",
     [](const Bytes& ir, ByteView) {
       MsgPtr m = decode(ir);
       ::X509_ALGOR_free(m->header->protectionAlg);
       m->header->protectionAlg = nullptr;
       ::ASN1_BIT_STRING_free(m->protection);
       m->protection = nullptr;
       return der_of_msg(m.get());
     },
     ECMP_BODY_ERROR, kBadMessageCheck, false},
    {"MacOfOtherBytes",
     [](const Bytes& ir, ByteView s) {
       MsgPtr m = decode(ir);
       reprotect(*m, s);
       m->protection->data[0] ^= 0x80;
       return der_of_msg(m.get());
     },
     ECMP_BODY_ERROR, kBadMessageCheck, false},
    {"SenderKidMissing",
     [](const Bytes& ir, ByteView s) {
       return with_header_change(ir, s, [](ECMP_HEADER& h) { set_octets(h.senderKID, std::nullopt); });
     },
     ECMP_BODY_ERROR, kBadMessageCheck, false},
    {"IterationCountOneMillion",
     [](const Bytes& ir, ByteView s) {
       MsgPtr m = decode(ir);
       PbmParameters params = pbm_parameters_of(*m);
       params.iterations = 1000000;
       return protect(*m, params, s);  // correctly protected: only the limit can refuse it
     },
     ECMP_BODY_ERROR, kBadAlg, false},
    {"SaltTooLong",
     [](const Bytes& ir, ByteView s) {
       MsgPtr m = decode(ir);
       PbmParameters params = pbm_parameters_of(*m);
       params.salt = random_bytes(65);
       return protect(*m, params, s);
     },
     ECMP_BODY_ERROR, kBadAlg, false},
    {"SignatureProtectionAlg",
     [](const Bytes& ir, ByteView s) {
       MsgPtr m = decode(ir);
       reprotect(*m, s);
       ::X509_ALGOR_set0(m->header->protectionAlg, ::OBJ_nid2obj(NID_ecdsa_with_SHA256), V_ASN1_UNDEF, nullptr);
       return der_of_msg(m.get());
     },
     ECMP_BODY_ERROR, kBadAlg, false},
    {"SenderNonceMissing",
     [](const Bytes& ir, ByteView s) {
       return with_header_change(ir, s, [](ECMP_HEADER& h) { set_octets(h.senderNonce, std::nullopt); });
     },
     ECMP_BODY_ERROR, kBadSenderNonce, false},
    {"SenderNonceShort",
     [](const Bytes& ir, ByteView s) {
       return with_header_change(ir, s, [](ECMP_HEADER& h) { set_octets(h.senderNonce, random_bytes(15)); });
     },
     ECMP_BODY_ERROR, kBadSenderNonce, false},
    {"SenderNonceLong",
     [](const Bytes& ir, ByteView s) {
       return with_header_change(ir, s, [](ECMP_HEADER& h) { set_octets(h.senderNonce, random_bytes(65)); });
     },
     ECMP_BODY_ERROR, kBadSenderNonce, false},
    {"TransactionIdMissing",
     [](const Bytes& ir, ByteView s) {
       return with_header_change(ir, s, [](ECMP_HEADER& h) { set_octets(h.transactionID, std::nullopt); });
     },
     ECMP_BODY_ERROR, kBadDataFormat, false},
    {"TransactionIdShort",
     [](const Bytes& ir, ByteView s) {
       return with_header_change(ir, s, [](ECMP_HEADER& h) { set_octets(h.transactionID, random_bytes(8)); });
     },
     ECMP_BODY_ERROR, kBadDataFormat, false},
    {"TransactionIdLong",
     [](const Bytes& ir, ByteView s) {
       return with_header_change(ir, s, [](ECMP_HEADER& h) { set_octets(h.transactionID, random_bytes(65)); });
     },
     ECMP_BODY_ERROR, kBadDataFormat, false},
    // RFC 9483 3.1: messageTime outside the server's window -> badTime (after authentication,
    // so the error is protected).
    {"MessageTimeAnHourAgo",
     [](const Bytes& ir, ByteView s) {
       return with_header_change(ir, s, [](ECMP_HEADER& h) {
         ::ASN1_GENERALIZEDTIME_free(h.messageTime);
         h.messageTime = ::ASN1_GENERALIZEDTIME_adj(nullptr, ::time(nullptr), 0, -3600);
       });
     },
     ECMP_BODY_ERROR, kBadTime, true},
    {"MessageTimeAnHourAhead",
     [](const Bytes& ir, ByteView s) {
       return with_header_change(ir, s, [](ECMP_HEADER& h) {
         ::ASN1_GENERALIZEDTIME_free(h.messageTime);
         h.messageTime = ::ASN1_GENERALIZEDTIME_adj(nullptr, ::time(nullptr), 0, 3600);
       });
     },
     ECMP_BODY_ERROR, kBadTime, true},
    {"KeyRecoveryRequest", [](const Bytes& ir, ByteView s) { return modified(ir, set_krr_body, s); }, ECMP_BODY_ERROR,
     kBadRequest, true},
    {"CorruptedPopSignature", [](const Bytes& ir, ByteView s) { return modified(ir, corrupt_pop_signature, s); },
     ECMP_BODY_IP, kBadPop, true},
    {"NoProofOfPossession", [](const Bytes& ir, ByteView s) { return with_pop(ir, s, false, nullptr); }, ECMP_BODY_IP,
     kBadPop, true},
    {"KeyEnciphermentPop", [](const Bytes& ir, ByteView s) { return with_pop(ir, s, false, key_encipherment_pop()); },
     ECMP_BODY_IP, kBadPop, true},
    {"TwoProofsOfPossession", [](const Bytes& ir, ByteView s) { return with_pop(ir, s, true, key_encipherment_pop()); },
     ECMP_BODY_IP, kBadPop, true},
    {"PopSignedByAnotherKey",
     [](const Bytes& ir, ByteView s) {
       return with_requests(ir, s, [](::EVP_PKEY* key, const ::X509_NAME* subject) {
         ossl::EvpPkeyPtr other = enrolld::testing::make_ec_key();
         return std::vector<OSSL_CRMF_MSG*>{crmf_request(key, subject, other.get())};
       });
     },
     ECMP_BODY_IP, kBadPop, true},
    {"TemplateWithoutSubject",
     [](const Bytes& ir, ByteView s) {
       return with_requests(ir, s, [](::EVP_PKEY* key, const ::X509_NAME*) {
         return std::vector<OSSL_CRMF_MSG*>{crmf_request(key, nullptr, key)};
       });
     },
     ECMP_BODY_IP, kBadCertTemplate, true},
    {"TemplateWithEmptySubject",
     [](const Bytes& ir, ByteView s) {
       return with_requests(ir, s, [](::EVP_PKEY* key, const ::X509_NAME*) {
         ossl::X509NamePtr empty(::X509_NAME_new());
         return std::vector<OSSL_CRMF_MSG*>{crmf_request(key, empty.get(), key)};
       });
     },
     ECMP_BODY_IP, kBadCertTemplate, true},
    // RFC 9483 4.1.6: no public key asks for central key generation, which has no POP.
    {"TemplateWithoutPublicKeyButWithAPop",
     [](const Bytes& ir, ByteView s) {
       return with_requests(ir, s, [](::EVP_PKEY* key, const ::X509_NAME* subject) {
         return std::vector<OSSL_CRMF_MSG*>{crmf_request(nullptr, subject, key)};
       });
     },
     ECMP_BODY_IP, kBadPop, true},
    // The profile's refusals reach an ir's template as they reach a p10cr (integration tests).
    {"TemplateAsksForACaCertificate",
     [](const Bytes& ir, ByteView s) {
       return with_template_extension(ir, s, NID_basic_constraints, "critical,CA:TRUE");
     },
     ECMP_BODY_IP, kBadCertTemplate, true},
    {"TemplateAsksForAWildcardName",
     [](const Bytes& ir, ByteView s) {
       return with_template_extension(ir, s, NID_subject_alt_name, "DNS:*.example.com");
     },
     ECMP_BODY_IP, kBadCertTemplate, true},
    {"TwoCertReqMsgs",
     [](const Bytes& ir, ByteView s) {
       return with_requests(ir, s, [](::EVP_PKEY* key, const ::X509_NAME* subject) {
         return std::vector<OSSL_CRMF_MSG*>{crmf_request(key, subject, key), crmf_request(key, subject, key, 1)};
       });
     },
     ECMP_BODY_ERROR, kBadRequest, true},
    {"CertReqIdOne",
     [](const Bytes& ir, ByteView s) {
       return with_requests(ir, s, [](::EVP_PKEY* key, const ::X509_NAME* subject) {
         return std::vector<OSSL_CRMF_MSG*>{crmf_request(key, subject, key, 1)};
       });
     },
     ECMP_BODY_ERROR, kBadCertId, true},
};

class CraftedRequest : public CmpServerTest, public ::testing::WithParamInterface<Row> {};

TEST_P(CraftedRequest, IsAnsweredWithExactlyOneFailureBitAndStoresNothing) {
  const Row& row = GetParam();
  const Bytes ir = fresh_ir();
  ASSERT_FALSE(ir.empty());
  const Bytes crafted = row.craft(ir, secret(kSecret));
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  ASSERT_FALSE(crafted.empty());
  ASSERT_NE(crafted, ir);

  const Bytes der = send(crafted);
  Reply reply = read_reply(der);
  ASSERT_TRUE(reply.message) << "the reply does not decode with our templates";
  EXPECT_EQ(openssl_body_type(der), row.body_type) << "OpenSSL reads another body type";
  EXPECT_EQ(reply.body_type, row.body_type);
  EXPECT_EQ(reply.status, static_cast<long>(PkiStatus::kRejection));
  EXPECT_EQ(reply.bits, std::vector<int>{row.bit});
  EXPECT_EQ(reply.is_protected, row.reply_protected);
  if (row.reply_protected) {
    EXPECT_TRUE(mac_verifies(der, secret(kSecret)));
  }

  EXPECT_TRUE(certificates().empty()) << "a refused request must store no certificate";
  MsgPtr request = decode(crafted);
  if (request->header->transactionID != nullptr) {
    EXPECT_FALSE(transaction(octets(request->header->transactionID))) << "a refused request must store nothing";
  }
}

INSTANTIATE_TEST_SUITE_P(Rows, CraftedRequest, ::testing::ValuesIn(kRows),
                         [](const ::testing::TestParamInfo<Row>& param_info) {
                           return std::string(param_info.param.name);
                         });

// The unchanged request, protected again by our functions, is accepted: the rows above fail
// for the one thing they change, not for the re-protection.
TEST_F(CmpServerTest, ReprotectedUnchangedRequestIsAccepted) {
  const Bytes ir = fresh_ir();
  const Bytes again = modified(
      ir, [](ECMP_MSG&) {}, secret(kSecret));
  Reply reply = read_reply(send(again));
  EXPECT_EQ(reply.body_type, ECMP_BODY_IP);
  EXPECT_EQ(reply.status, static_cast<long>(PkiStatus::kAccepted));
  EXPECT_TRUE(reply.bits.empty());
  EXPECT_EQ(certificates().size(), 1U);
}

TEST_F(CmpServerTest, MessageTimeWithinTheWindowAndAbsentAreAccepted) {
  for (long offset : {-300L, 300L}) {
    const Bytes ir = modified(
        fresh_ir(),
        [offset](ECMP_MSG& m) {
          ::ASN1_GENERALIZEDTIME_free(m.header->messageTime);
          m.header->messageTime = ::ASN1_GENERALIZEDTIME_adj(nullptr, ::time(nullptr), 0, offset);
        },
        secret(kSecret));
    EXPECT_EQ(read_reply(send(ir)).status, static_cast<long>(PkiStatus::kAccepted)) << offset;
  }
  const Bytes without = modified(
      fresh_ir(),
      [](ECMP_MSG& m) {
        ::ASN1_GENERALIZEDTIME_free(m.header->messageTime);
        m.header->messageTime = nullptr;
      },
      secret(kSecret));
  EXPECT_EQ(read_reply(send(without)).status, static_cast<long>(PkiStatus::kAccepted));
  EXPECT_EQ(certificates().size(), 3U);
}

// The CRMF builder the rows above use makes requests the server accepts when nothing is wrong.
TEST_F(CmpServerTest, HandBuiltCrmfRequestIsAccepted) {
  ossl::EvpPkeyPtr key = enrolld::testing::make_ec_key();
  ossl::X509NamePtr subject = subject_name("CN=hand-built,O=Example");
  const Bytes crafted = modified(
      fresh_ir(), [&](ECMP_MSG& m) { set_requests(m, {crmf_request(key.get(), subject.get(), key.get())}); },
      secret(kSecret));
  Reply reply = read_reply(send(crafted));
  ASSERT_EQ(reply.body_type, ECMP_BODY_IP);
  EXPECT_EQ(reply.status, static_cast<long>(PkiStatus::kAccepted));
  const ECMP_CERTRESPONSE* response = sk_ECMP_CERTRESPONSE_value(reply.message->body->value.ip->response, 0);
  ASSERT_NE(response->certifiedKeyPair, nullptr);
  ::X509* cert = response->certifiedKeyPair->certOrEncCert->value.certificate;
  EXPECT_EQ(::EVP_PKEY_eq(::X509_get0_pubkey(cert), key.get()), 1);
  EXPECT_EQ(::X509_NAME_cmp(::X509_get_subject_name(cert), subject.get()), 0);
  EXPECT_EQ(certificates().size(), 1U);
}

// cmp2021 (RFC 9480): a pvno 3 request is answered with pvno 3.
TEST_F(CmpServerTest, Pvno3IsAnsweredWithPvno3) {
  const Bytes crafted = modified(
      fresh_ir(), [](ECMP_MSG& m) { ::ASN1_INTEGER_set(m.header->pvno, 3); }, secret(kSecret));
  Reply reply = read_reply(send(crafted));
  ASSERT_EQ(reply.body_type, ECMP_BODY_IP);
  EXPECT_EQ(reply.status, static_cast<long>(PkiStatus::kAccepted));
  EXPECT_EQ(::ASN1_INTEGER_get(reply.message->header->pvno), 3);
  EXPECT_EQ(certificates().size(), 1U);
}

// transactionID and senderNonce of 16 and of 64 octets are both fine.
TEST_F(CmpServerTest, NonceAndTransactionIdLengthsOf16And64AreAccepted) {
  for (std::size_t length : {16U, 64U}) {
    const Bytes crafted = modified(
        fresh_ir(),
        [length](ECMP_MSG& m) {
          set_octets(m.header->transactionID, random_bytes(length));
          set_octets(m.header->senderNonce, random_bytes(length));
        },
        secret(kSecret));
    Reply reply = read_reply(send(crafted));
    EXPECT_EQ(reply.body_type, ECMP_BODY_IP) << length;
    EXPECT_EQ(reply.status, static_cast<long>(PkiStatus::kAccepted)) << length;
    // The reply echoes them.
    EXPECT_EQ(octets(reply.message->header->transactionID), octets(decode(crafted)->header->transactionID));
    EXPECT_EQ(octets(reply.message->header->recipNonce), octets(decode(crafted)->header->senderNonce));
  }
  EXPECT_EQ(certificates().size(), 2U);
}

TEST_F(CmpServerTest, UnknownProfileIsRejectedWithBadCertTemplate) {
  auto der = server.handle(fresh_ir(), CmpRequestContext{"no-such-profile", "test"});
  ASSERT_TRUE(der) << der.error().message;
  Reply reply = read_reply(*der);
  EXPECT_EQ(reply.body_type, ECMP_BODY_IP);
  EXPECT_EQ(reply.status, static_cast<long>(PkiStatus::kRejection));
  EXPECT_EQ(reply.bits, std::vector<int>{kBadCertTemplate});
  EXPECT_TRUE(mac_verifies(*der, secret(kSecret)));
  EXPECT_TRUE(certificates().empty());
}

TEST_F(CmpServerTest, P10crWithBrokenSignatureIsCpRejectionWithBadPop) {
  auto c = client(capture_only());
  EXPECT_EQ(c->exec_p10cr(), nullptr);
  ASSERT_EQ(c->sent().size(), 1U);
  const Bytes p10cr = c->sent().front();
  const Bytes crafted = modified(
      p10cr,
      [](ECMP_MSG& m) {
        ASSERT_EQ(m.body->type, ECMP_BODY_P10CR);
        ::ASN1_BIT_STRING* signature = m.body->value.p10cr->signature;
        ASSERT_NE(signature, nullptr);
        signature->data[signature->length - 1] ^= 0x01;
      },
      secret(kSecret));
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  Reply reply = read_reply(send(crafted));
  ASSERT_EQ(reply.body_type, ECMP_BODY_CP);
  EXPECT_EQ(reply.status, static_cast<long>(PkiStatus::kRejection));
  EXPECT_EQ(reply.bits, std::vector<int>{kBadPop});
  EXPECT_EQ(::ASN1_INTEGER_get(sk_ECMP_CERTRESPONSE_value(reply.message->body->value.cp->response, 0)->certReqId), -1);
  EXPECT_TRUE(certificates().empty());
  // The unchanged p10cr goes through.
  EXPECT_EQ(read_reply(send(p10cr)).status, static_cast<long>(PkiStatus::kAccepted));
}

// ---- resends and transaction IDs ----

TEST_F(CmpServerTest, IdenticalIrResentGetsTheByteIdenticalReplyAndOneCertificate) {
  const Bytes ir = fresh_ir();
  const Bytes first = send(ir);
  const Bytes second = send(ir);
  Reply reply = read_reply(first);
  ASSERT_EQ(reply.body_type, ECMP_BODY_IP);
  EXPECT_EQ(reply.status, static_cast<long>(PkiStatus::kAccepted));
  EXPECT_EQ(second, first);
  EXPECT_EQ(send(ir), first);
  EXPECT_EQ(certificates().size(), 1U);
}

// Resends racing each other (a client retrying on a timeout while the first is in flight).
TEST_F(CmpServerTest, IdenticalIrsAtTheSameTimeGetOneCertificate) {
  const Bytes ir = fresh_ir();
  constexpr int kThreads = 4;
  std::vector<Result<Bytes>> replies(kThreads, Bytes{});
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { replies[i] = server.handle(ir, CmpRequestContext{"", "thread"}); });
  }
  for (auto& t : threads) t.join();
  for (const auto& reply : replies) {
    ASSERT_TRUE(reply) << reply.error().message;
    EXPECT_EQ(*reply, *replies[0]);
  }
  EXPECT_EQ(read_reply(*replies[0]).status, static_cast<long>(PkiStatus::kAccepted));
  EXPECT_EQ(certificates().size(), 1U);
}

TEST_F(CmpServerTest, SameTransactionIdWithAnotherRequestIsTransactionIdInUse) {
  const Bytes ir = fresh_ir();
  const Bytes transaction_id = octets(decode(ir)->header->transactionID);

  // A second, genuine request from OpenSSL's client for another subject, reusing the ID.
  auto other = client(capture_only(), kReference, kSecret, "CN=other.example,O=Example");
  ossl::Asn1OctetStringPtr id(::ASN1_OCTET_STRING_new());
  ASSERT_EQ(::ASN1_OCTET_STRING_set(id.get(), transaction_id.data(), static_cast<int>(transaction_id.size())), 1);
  ASSERT_EQ(::OSSL_CMP_CTX_set1_transactionID(other->ctx(), id.get()), 1);
  EXPECT_EQ(other->exec_ir(), nullptr);
  ASSERT_EQ(other->sent().size(), 1U);
  const Bytes other_ir = other->sent().front();
  ASSERT_EQ(octets(decode(other_ir)->header->transactionID), transaction_id);

  const Bytes first = send(ir);
  ASSERT_EQ(read_reply(first).body_type, ECMP_BODY_IP);
  Reply reply = read_reply(send(other_ir));
  EXPECT_EQ(reply.body_type, ECMP_BODY_ERROR);
  EXPECT_EQ(reply.status, static_cast<long>(PkiStatus::kRejection));
  EXPECT_EQ(reply.bits, std::vector<int>{kTransactionIdInUse});
  EXPECT_TRUE(reply.is_protected);

  auto stored = certificates();
  ASSERT_EQ(stored.size(), 1U);
  EXPECT_EQ(stored[0].subject.find("other"), std::string::npos) << stored[0].subject;
  EXPECT_EQ(send(ir), first) << "the first request's stored reply must be untouched";
}

TEST_F(CmpServerTest, SameTransactionIdWithAnotherNonceIsTransactionIdInUse) {
  const Bytes ir = fresh_ir();
  ASSERT_EQ(read_reply(send(ir)).body_type, ECMP_BODY_IP);
  const Bytes changed = modified(
      ir, [](ECMP_MSG& m) { set_octets(m.header->senderNonce, random_bytes(16)); }, secret(kSecret));
  EXPECT_EQ(read_reply(send(changed)).bits, std::vector<int>{kTransactionIdInUse});
  EXPECT_EQ(certificates().size(), 1U);
}

// ---- certConf, checked against the persisted transaction ----

class CertConfTest : public CmpServerTest {
 protected:
  void SetUp() override {
    // OpenSSL's client: the ir reaches the server, its certConf is only captured.
    auto c = client(to_server_first(1));
    EXPECT_EQ(c->exec_ir(), nullptr);
    ASSERT_EQ(c->sent().size(), 2U) << c->log();
    ASSERT_EQ(c->received().size(), 1U);
    ir = c->sent()[0];
    cert_conf = c->sent()[1];
    ip = c->received()[0];
    ASSERT_EQ(openssl_body_type(cert_conf), OSSL_CMP_PKIBODY_CERTCONF);
    ASSERT_EQ(read_reply(ip).status, static_cast<long>(PkiStatus::kAccepted));
    transaction_id = octets(decode(ir)->header->transactionID);
    expect_untouched();
  }

  // The transaction still waits for its certConf and the certificate is still valid.
  void expect_untouched() {
    auto txn = transaction(transaction_id);
    ASSERT_TRUE(txn);
    EXPECT_EQ(txn->state, "waiting-for-confirmation");
    auto stored = certificates();
    ASSERT_EQ(stored.size(), 1U);
    EXPECT_EQ(stored[0].status, "valid");
  }

  ECMP_CERTSTATUS& cert_status(ECMP_MSG& message) { return *sk_ECMP_CERTSTATUS_value(message.body->value.certConf, 0); }

  Bytes ir, ip, cert_conf, transaction_id;
};

TEST_F(CertConfTest, OpenSslCertConfIsAnsweredWithPkiConf) {
  const Bytes der = send(cert_conf);
  Reply reply = read_reply(der);
  EXPECT_EQ(reply.body_type, ECMP_BODY_PKICONF);
  EXPECT_EQ(openssl_body_type(der), OSSL_CMP_PKIBODY_PKICONF);
  EXPECT_TRUE(mac_verifies(der, secret(kSecret)));
  // The pkiConf answers the certConf: its recipNonce is the certConf's senderNonce.
  EXPECT_EQ(octets(reply.message->header->recipNonce), octets(decode(cert_conf)->header->senderNonce));
  auto txn = transaction(transaction_id);
  ASSERT_TRUE(txn);
  EXPECT_EQ(txn->state, "confirmed");
  EXPECT_EQ(certificates().at(0).status, "valid");
}

TEST_F(CertConfTest, ResentAfterPkiConfGetsTheIdenticalPkiConf) {
  const Bytes first = send(cert_conf);
  ASSERT_EQ(read_reply(first).body_type, ECMP_BODY_PKICONF);
  const Bytes second = send(cert_conf);
  EXPECT_EQ(second, first);
  EXPECT_EQ(transaction(transaction_id)->state, "confirmed");
  EXPECT_EQ(certificates().size(), 1U);
}

TEST_F(CertConfTest, RejectingCertConfRevokesTheCertificate) {
  const Bytes rejecting = modified(
      cert_conf,
      [this](ECMP_MSG& m) {
        ECMP_CERTSTATUS& status = cert_status(m);
        ECMP_PKISI_free(status.statusInfo);
        status.statusInfo =
            make_status_info(PkiStatus::kRejection, kIncorrectData, "not the key I asked for").release();
      },
      secret(kSecret));
  Reply reply = read_reply(send(rejecting));
  EXPECT_EQ(reply.body_type, ECMP_BODY_PKICONF);
  auto stored = certificates();
  ASSERT_EQ(stored.size(), 1U);
  EXPECT_EQ(stored[0].status, "revoked");
  EXPECT_EQ(transaction(transaction_id)->state, "rejected");
}

TEST_F(CertConfTest, EmptyCertConfRejectsTheCertificate) {
  const Bytes empty = modified(
      cert_conf,
      [](ECMP_MSG& m) {
        while (sk_ECMP_CERTSTATUS_num(m.body->value.certConf) > 0) {
          ECMP_CERTSTATUS_free(sk_ECMP_CERTSTATUS_pop(m.body->value.certConf));
        }
      },
      secret(kSecret));
  EXPECT_EQ(read_reply(send(empty)).body_type, ECMP_BODY_PKICONF);
  EXPECT_EQ(certificates().at(0).status, "revoked");
  EXPECT_EQ(transaction(transaction_id)->state, "rejected");
}

TEST_F(CertConfTest, AnotherCertConfAfterPkiConfIsBadRequest) {
  ASSERT_EQ(read_reply(send(cert_conf)).body_type, ECMP_BODY_PKICONF);
  const Bytes again = modified(
      cert_conf, [](ECMP_MSG& m) { set_octets(m.header->senderNonce, random_bytes(16)); }, secret(kSecret));
  Reply reply = read_reply(send(again));
  EXPECT_EQ(reply.body_type, ECMP_BODY_ERROR);
  EXPECT_EQ(reply.bits, std::vector<int>{kBadRequest});
  EXPECT_EQ(transaction(transaction_id)->state, "confirmed");
  EXPECT_EQ(certificates().at(0).status, "valid");
}

// RFC 9480 2.10: certConf may name its hash algorithm (hashAlg) instead of using the signature's.
TEST_F(CertConfTest, ExplicitHashAlgIsHonoured) {
  MsgPtr reply = decode(ip);
  ASSERT_TRUE(reply);
  ::X509* cert = sk_ECMP_CERTRESPONSE_value(reply->body->value.ip->response, 0)
                     ->certifiedKeyPair->certOrEncCert->value.certificate;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  ASSERT_EQ(::X509_digest(cert, ::EVP_sha512(), digest, &len), 1);
  const Bytes sha512(digest, digest + len);
  auto with_hash_alg = [&](int nid, const Bytes& hash) {
    return modified(
        cert_conf,
        [&](ECMP_MSG& m) {
          ECMP_CERTSTATUS& status = cert_status(m);
          status.hashAlg = ::X509_ALGOR_new();
          ::X509_ALGOR_set0(status.hashAlg, ::OBJ_nid2obj(nid), V_ASN1_UNDEF, nullptr);
          set_octets(status.certHash, hash);
        },
        secret(kSecret));
  };
  // The SHA-256 hash OpenSSL sent no longer matches once hashAlg says SHA-512 ...
  const Bytes sha256_hash = octets(cert_status(*decode(cert_conf)).certHash);
  EXPECT_EQ(read_reply(send(with_hash_alg(NID_sha512, sha256_hash))).bits, std::vector<int>{kBadCertId});
  expect_untouched();
  // ... and the SHA-512 hash does.
  EXPECT_EQ(read_reply(send(with_hash_alg(NID_sha512, sha512))).body_type, ECMP_BODY_PKICONF);
  EXPECT_EQ(transaction(transaction_id)->state, "confirmed");
}

TEST_F(CertConfTest, UnknownHashAlgIsBadAlg) {
  const Bytes crafted = modified(
      cert_conf,
      [this](ECMP_MSG& m) {
        ECMP_CERTSTATUS& status = cert_status(m);
        status.hashAlg = ::X509_ALGOR_new();
        ::X509_ALGOR_set0(status.hashAlg, ::OBJ_nid2obj(NID_rsaEncryption), V_ASN1_UNDEF, nullptr);
      },
      secret(kSecret));
  Reply reply = read_reply(send(crafted));
  EXPECT_EQ(reply.body_type, ECMP_BODY_ERROR);
  EXPECT_EQ(reply.bits, std::vector<int>{kBadAlg});
  expect_untouched();
}

// PRODUCT BUG (reported, disabled until fixed): ra::Policy::confirm_wait ("how long a certConf
// may take") is written into TransactionRecord::deadline but nothing ever enforces it, so a
// certConf that arrives long after the deadline still confirms the certificate.
TEST_F(CertConfTest, CertConfAfterTheConfirmationDeadlineExpiresAndRevokes) {
  clock_advance = ra::Policy{}.confirm_wait + std::chrono::hours(24);
  Reply reply = read_reply(send(cert_conf));
  EXPECT_EQ(reply.body_type, ECMP_BODY_ERROR) << "a certConf a day after the deadline was answered with pkiConf";
  EXPECT_EQ(reply.bits, std::vector<int>{kBadRequest});
  auto txn = transaction(transaction_id);
  ASSERT_TRUE(txn);
  EXPECT_EQ(txn->state, "expired");
  EXPECT_EQ(certificates().at(0).status, "revoked");
  // The transaction is over: sending the certConf again changes nothing.
  EXPECT_EQ(read_reply(send(cert_conf)).body_type, ECMP_BODY_ERROR);
  EXPECT_EQ(transaction(transaction_id)->state, "expired");
}

struct CertConfRow {
  const char* name;
  std::function<void(ECMP_MSG&)> change;
  const char* secret;
  int bit;
};

// NOLINTNEXTLINE(readability-identifier-naming): gtest finds its printer by this name
void PrintTo(const CertConfRow& row, std::ostream* os) {
  *os << row.name;
}

class CertConfRefused : public CertConfTest, public ::testing::WithParamInterface<CertConfRow> {};

TEST_P(CertConfRefused, WithAnErrorMessageAndTheTransactionUntouched) {
  const CertConfRow& row = GetParam();
  const Bytes crafted = modified(cert_conf, row.change, secret(row.secret));
  Reply reply = read_reply(send(crafted));
  EXPECT_EQ(reply.body_type, ECMP_BODY_ERROR);
  EXPECT_EQ(reply.status, static_cast<long>(PkiStatus::kRejection));
  EXPECT_EQ(reply.bits, std::vector<int>{row.bit});
  expect_untouched();
  // The genuine certConf still goes through afterwards.
  EXPECT_EQ(read_reply(send(cert_conf)).body_type, ECMP_BODY_PKICONF);
  EXPECT_EQ(transaction(transaction_id)->state, "confirmed");
}

const CertConfRow kCertConfRows[] = {
    {"WrongCertHash",
     [](ECMP_MSG& m) {
       ::ASN1_OCTET_STRING* hash = sk_ECMP_CERTSTATUS_value(m.body->value.certConf, 0)->certHash;
       hash->data[hash->length - 1] ^= 0x01;
     },
     kSecret, kBadCertId},
    {"WrongCertReqId",
     [](ECMP_MSG& m) { ::ASN1_INTEGER_set(sk_ECMP_CERTSTATUS_value(m.body->value.certConf, 0)->certReqId, 1); },
     kSecret, kBadCertId},
    {"WrongRecipNonce", [](ECMP_MSG& m) { set_octets(m.header->recipNonce, random_bytes(16)); }, kSecret,
     kBadRecipientNonce},
    {"MissingRecipNonce", [](ECMP_MSG& m) { set_octets(m.header->recipNonce, std::nullopt); }, kSecret,
     kBadRecipientNonce},
    {"UnknownTransactionId", [](ECMP_MSG& m) { set_octets(m.header->transactionID, random_bytes(16)); }, kSecret,
     kBadRequest},
    {"FromSecondReference", [](ECMP_MSG& m) { set_octets(m.header->senderKID, to_bytes(kOtherReference)); },
     kOtherSecret, kNotAuthorized},
};

INSTANTIATE_TEST_SUITE_P(Rows, CertConfRefused, ::testing::ValuesIn(kCertConfRows),
                         [](const ::testing::TestParamInfo<CertConfRow>& param_info) {
                           return std::string(param_info.param.name);
                         });

TEST_F(CertConfTest, RefusalToTheSecondReferenceIsProtectedWithItsSecret) {
  const Bytes crafted = modified(
      cert_conf, [](ECMP_MSG& m) { set_octets(m.header->senderKID, to_bytes(kOtherReference)); }, secret(kOtherSecret));
  const Bytes der = send(crafted);
  EXPECT_EQ(read_reply(der).bits, std::vector<int>{kNotAuthorized});
  EXPECT_TRUE(mac_verifies(der, secret(kOtherSecret)));
  EXPECT_FALSE(mac_verifies(der, secret(kSecret)));
}

}  // namespace
}  // namespace enrolld::cmp::test
