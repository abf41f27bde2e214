// PKIMessage codec: what encode_message builds is what OpenSSL's CMP implementation reads, and
// parse_message takes exactly one DER PKIMessage and nothing else.

#include "protocols/cmp/message.h"

#include <gtest/gtest.h>

#include <openssl/cmp.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include "cmp_test_util.h"
#include "common/der.h"
#include "protocols/cmp/failure_info.h"
#include "support/softhsm_fixture.h"

namespace enrolld::cmp {
namespace {

using namespace test;  // NOLINT(google-build-using-namespace): CmpClient, helpers, OSSL_CMP_PKIBODY_*

const Bytes kSecret = to_bytes("message-test-secret");

ossl::X509NamePtr name(const std::string& text) {
  auto parsed = ossl::name_from_der(enrolld::testing::name_der(text));
  return parsed ? std::move(*parsed) : nullptr;
}

ResponseHeader sample_header() {
  ResponseHeader rh;
  rh.pvno = kPvno2000;
  rh.sender = name("CN=Responder,O=Test");
  auto recipient = name("CN=Device,O=Test");
  rh.recipient.reset(::GENERAL_NAME_new());
  ::GENERAL_NAME_set0_value(rh.recipient.get(), GEN_DIRNAME, recipient.release());
  rh.transaction_id = random_bytes(16);
  rh.sender_nonce = random_bytes(16);
  rh.recipient_nonce = random_bytes(16);
  return rh;
}

MacProtection sample_protection() {
  PbmParameters params;
  params.salt = random_bytes(16);
  params.owf_nid = NID_sha256;
  params.owf = ::EVP_sha256();
  params.iterations = 500;
  params.mac_nid = NID_hmac_sha1;
  params.mac_digest = ::EVP_sha1();
  Bytes key = derive_pbm_key(params, kSecret);
  return MacProtection{std::move(params), std::move(key), to_bytes("device-ref"), {}};
}

// A self-signed certificate made in software, to carry in a response.
Bytes sample_certificate() {
  ossl::EvpPkeyPtr key = enrolld::testing::make_ec_key();
  ossl::X509Ptr cert(::X509_new());
  ::X509_set_version(cert.get(), 2);
  ::ASN1_INTEGER_set(::X509_get_serialNumber(cert.get()), 42);
  auto subject = name("CN=Sample");
  ::X509_set_subject_name(cert.get(), subject.get());
  ::X509_set_issuer_name(cert.get(), subject.get());
  ::X509_gmtime_adj(::X509_getm_notBefore(cert.get()), 0);
  ::X509_gmtime_adj(::X509_getm_notAfter(cert.get()), 3600);
  ::X509_set_pubkey(cert.get(), key.get());
  EXPECT_GT(::X509_sign(cert.get(), key.get(), ::EVP_sha256()), 0);
  return ossl::der_of(cert.get());
}

BodyPtr pkiconf_body() {
  BodyPtr body(ECMP_BODY_new());
  body->type = ECMP_BODY_PKICONF;
  body->value.pkiconf = ::ASN1_NULL_new();
  return body;
}

BodyPtr error_body(int bit) {
  BodyPtr body(ECMP_BODY_new());
  body->type = ECMP_BODY_ERROR;
  body->value.error = ECMP_ERRORMSG_new();
  ECMP_PKISI_free(body->value.error->pKIStatusInfo);
  body->value.error->pKIStatusInfo = make_status_info(PkiStatus::kRejection, bit, "no").release();
  return body;
}

BodyPtr cert_rep_body(int type, const Bytes& cert_der) {
  BodyPtr body(ECMP_BODY_new());
  body->type = type;
  body->value.ip = ECMP_CERTREPMESSAGE_new();
  ECMP_CERTRESPONSE* response = ECMP_CERTRESPONSE_new();
  sk_ECMP_CERTRESPONSE_push(body->value.ip->response, response);
  ::ASN1_INTEGER_set(response->certReqId, 0);
  ECMP_PKISI_free(response->status);
  if (cert_der.empty()) {
    response->status = make_status_info(PkiStatus::kRejection, kBadPop, "bad pop").release();
  } else {
    response->status = make_status_info(PkiStatus::kAccepted, -1, "").release();
    response->certifiedKeyPair = ECMP_CERTIFIEDKEYPAIR_new();
    response->certifiedKeyPair->certOrEncCert->type = 0;
    response->certifiedKeyPair->certOrEncCert->value.certificate = ossl::x509_from_der(cert_der)->release();
  }
  return body;
}

OsslMsgPtr openssl_decode(const Bytes& der) {
  const unsigned char* p = der.data();
  OsslMsgPtr message(::d2i_OSSL_CMP_MSG(nullptr, &p, static_cast<long>(der.size())));
  if (message && p != der.data() + der.size()) return nullptr;
  return message;
}

Bytes openssl_encode(const OSSL_CMP_MSG* message) {
  unsigned char* der = nullptr;
  const int len = ::i2d_OSSL_CMP_MSG(message, &der);
  if (len <= 0) return {};
  Bytes out(der, der + len);
  ::OPENSSL_free(der);
  return out;
}

// OpenSSL's verdict on a message's PBM protection, given `secret`.
bool openssl_validates(const OSSL_CMP_MSG* message, const Bytes& secret) {
  CmpCtxPtr ctx(::OSSL_CMP_CTX_new(nullptr, nullptr));
  ::OSSL_CMP_CTX_set_log_verbosity(ctx.get(), OSSL_CMP_LOG_EMERG);
  ::OSSL_CMP_CTX_set1_secretValue(ctx.get(), secret.data(), static_cast<int>(secret.size()));
  const bool ok = ::OSSL_CMP_validate_msg(ctx.get(), message) == 1;
  ossl::drain_errors();
  return ok;
}

// ---- encode_message, read by OpenSSL ----

struct EncodeCase {
  const char* name;
  int our_type;
  int openssl_type;
  bool with_certificate;
  bool protect;
};

// NOLINTNEXTLINE(readability-identifier-naming): gtest finds its printer by this name
void PrintTo(const EncodeCase& c, std::ostream* os) {
  *os << c.name;
}

class EncodeMessage : public ::testing::TestWithParam<EncodeCase> {};

TEST_P(EncodeMessage, OpenSslDecodesItWithTheRightBodyTypeAndHeader) {
  const EncodeCase c = GetParam();
  const Bytes cert = c.with_certificate ? sample_certificate() : Bytes{};
  BodyPtr body;
  if (c.our_type == ECMP_BODY_PKICONF) {
    body = pkiconf_body();
  } else if (c.our_type == ECMP_BODY_ERROR) {
    body = error_body(kBadMessageCheck);
  } else {
    body = cert_rep_body(c.our_type, cert);
  }
  const ResponseHeader rh = sample_header();
  const Protection protection = sample_protection();
  std::vector<Bytes> extra;
  if (c.with_certificate) extra.push_back(cert);
  auto der = encode_message(rh, std::move(body), extra, c.protect ? &protection : nullptr);
  ASSERT_TRUE(der) << der.error().message;

  OsslMsgPtr message = openssl_decode(*der);
  ASSERT_TRUE(message) << ossl::drain_errors();
  EXPECT_EQ(::OSSL_CMP_MSG_get_bodytype(message.get()), c.openssl_type);
  // OpenSSL's templates re-encode it to the very same bytes: both agree on every field.
  EXPECT_EQ(openssl_encode(message.get()), *der);

  OSSL_CMP_PKIHEADER* header = ::OSSL_CMP_MSG_get0_header(message.get());
  ASSERT_NE(header, nullptr);
  EXPECT_EQ(octets(::OSSL_CMP_HDR_get0_transactionID(header)), rh.transaction_id);
  EXPECT_EQ(octets(::OSSL_CMP_HDR_get0_recipNonce(header)), rh.recipient_nonce);

  if (c.protect) {
    EXPECT_TRUE(openssl_validates(message.get(), kSecret)) << "OpenSSL does not accept our PBM protection";
    EXPECT_FALSE(openssl_validates(message.get(), to_bytes("another secret")));
    EXPECT_TRUE(test::mac_verifies(*der, kSecret));
  } else {
    EXPECT_FALSE(openssl_validates(message.get(), kSecret));
    MsgPtr ours = test::decode(*der);
    ASSERT_TRUE(ours);
    EXPECT_EQ(ours->protection, nullptr);
    EXPECT_EQ(ours->header->protectionAlg, nullptr);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Bodies, EncodeMessage,
    ::testing::Values(EncodeCase{"IpWithCertificate", ECMP_BODY_IP, OSSL_CMP_PKIBODY_IP, true, true},
                      EncodeCase{"CpWithCertificate", ECMP_BODY_CP, OSSL_CMP_PKIBODY_CP, true, true},
                      EncodeCase{"IpRejected", ECMP_BODY_IP, OSSL_CMP_PKIBODY_IP, false, true},
                      EncodeCase{"PkiConf", ECMP_BODY_PKICONF, OSSL_CMP_PKIBODY_PKICONF, false, true},
                      EncodeCase{"ErrorProtected", ECMP_BODY_ERROR, OSSL_CMP_PKIBODY_ERROR, false, true},
                      EncodeCase{"ErrorUnprotected", ECMP_BODY_ERROR, OSSL_CMP_PKIBODY_ERROR, false, false}),
    [](const ::testing::TestParamInfo<EncodeCase>& param_info) { return std::string(param_info.param.name); });

TEST(EncodeMessage, CarriesImplicitConfirmAndTheFailureBit) {
  ResponseHeader rh = sample_header();
  rh.implicit_confirm = true;
  rh.pvno = kPvno2021;
  auto der = encode_message(rh, error_body(kBadSenderNonce), {}, nullptr);
  ASSERT_TRUE(der);
  OsslMsgPtr message = openssl_decode(*der);
  ASSERT_TRUE(message);
  EXPECT_EQ(openssl_encode(message.get()), *der);
  MsgPtr ours = test::decode(*der);
  ASSERT_TRUE(ours);
  EXPECT_TRUE(has_implicit_confirm(*ours->header));
  EXPECT_EQ(::ASN1_INTEGER_get(ours->header->pvno), kPvno2021);
  EXPECT_EQ(test::failure_bits(test::reply_status(*ours)), std::vector<int>{kBadSenderNonce});

  rh.implicit_confirm = false;
  auto plain = encode_message(rh, error_body(kBadSenderNonce), {}, nullptr);
  ASSERT_TRUE(plain);
  EXPECT_FALSE(has_implicit_confirm(*test::decode(*plain)->header));
}

// A MAC that ends in zero octets must keep them: the BIT STRING carries whole octets.
TEST(EncodeMessage, ProtectionKeepsEveryMacOctet) {
  const ResponseHeader rh = sample_header();
  const Protection protection = sample_protection();
  for (int i = 0; i < 64; ++i) {
    ResponseHeader copy = sample_header();
    copy.transaction_id = rh.transaction_id;
    copy.transaction_id[0] = static_cast<std::uint8_t>(i);
    auto der = encode_message(copy, pkiconf_body(), {}, &protection);
    ASSERT_TRUE(der);
    MsgPtr ours = test::decode(*der);
    ASSERT_TRUE(ours && ours->protection);
    ASSERT_EQ(ours->protection->length, 20) << "iteration " << i;
    ASSERT_TRUE(test::mac_verifies(*der, kSecret)) << "iteration " << i;
  }
}

// ---- parse_message ----

// A real request from OpenSSL's client: an ir, PBM-protected with kSecret.
Bytes openssl_ir() {
  test::CmpClient client("device-ref", "message-test-secret", "CN=Device,O=Test", test::capture_only());
  EXPECT_EQ(client.exec_ir(), nullptr);
  EXPECT_EQ(client.sent().size(), 1U);
  return client.sent().empty() ? Bytes{} : client.sent().front();
}

TEST(ParseMessage, ReadsAnOpenSslRequestAndItsProtectedPart) {
  const Bytes der = openssl_ir();
  ASSERT_FALSE(der.empty());
  auto parsed = parse_message(der);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->message->body->type, ECMP_BODY_IR);
  EXPECT_EQ(octets(parsed->message->header->senderKID), to_bytes("device-ref"));

  ECMP_PROTECTEDPART part{parsed->message->header, parsed->message->body};
  unsigned char* p = nullptr;
  const int len = i2d_ECMP_PROTECTEDPART(&part, &p);
  ASSERT_GT(len, 0);
  EXPECT_EQ(parsed->protected_part, Bytes(p, p + len));
  ::OPENSSL_free(p);

  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  ASSERT_EQ(::EVP_Digest(der.data(), der.size(), digest, &digest_len, ::EVP_sha256(), nullptr), 1);
  EXPECT_EQ(parsed->fingerprint, Bytes(digest, digest + digest_len));

  // OpenSSL's MAC verifies with our KDF + HMAC over the protected part, and fails for another secret.
  EXPECT_TRUE(test::mac_verifies(der, kSecret));
  EXPECT_FALSE(test::mac_verifies(der, to_bytes("wrong")));
}

TEST(ParseMessage, RejectsTrailingBytes) {
  Bytes der = openssl_ir();
  ASSERT_TRUE(parse_message(der));
  for (const Bytes& tail : {Bytes{0x00}, Bytes{0x30, 0x00}, Bytes{0x05, 0x00}}) {
    Bytes longer = der;
    longer.insert(longer.end(), tail.begin(), tail.end());
    auto parsed = parse_message(longer);
    ASSERT_FALSE(parsed) << "accepted " << tail.size() << " trailing bytes";
    EXPECT_EQ(parsed.error().code, ErrorCode::kBadDataFormat);
  }
}

TEST(ParseMessage, RejectsEveryTruncation) {
  const Bytes der = openssl_ir();
  ASSERT_TRUE(parse_message(der));
  for (std::size_t n = 0; n < der.size(); ++n) {
    auto parsed = parse_message(ByteView(der.data(), n));
    ASSERT_FALSE(parsed) << "accepted the first " << n << " of " << der.size() << " bytes";
    EXPECT_EQ(parsed.error().code, ErrorCode::kBadDataFormat);
  }
}

TEST(ParseMessage, RejectsWhatIsNotAPkiMessage) {
  const Bytes der = openssl_ir();
  Bytes as_set = der;
  as_set[0] = 0x31;  // SET instead of SEQUENCE
  Bytes as_octets = der;
  as_octets[0] = 0x04;
  const std::vector<std::pair<const char*, Bytes>> cases = {
      {"SET", as_set},
      {"OCTET STRING", as_octets},
      {"INTEGER", Bytes{0x02, 0x01, 0x05}},
      {"empty SEQUENCE", Bytes{0x30, 0x00}},
      {"SEQUENCE of one", Bytes{0x30, 0x03, 0x02, 0x01, 0x02}},
      {"SEQUENCE of two INTEGERs", Bytes{0x30, 0x06, 0x02, 0x01, 0x02, 0x02, 0x01, 0x03}},
      {"indefinite length", Bytes{0x30, 0x80, 0x02, 0x01, 0x02, 0x00, 0x00}},
      {"text", to_bytes("POST /.well-known/cmp HTTP/1.1")},
  };
  for (const auto& [label, bytes] : cases) {
    auto parsed = parse_message(bytes);
    ASSERT_FALSE(parsed) << label << " was accepted";
    EXPECT_EQ(parsed.error().code, ErrorCode::kBadDataFormat) << label;
  }
  auto empty = parse_message(ByteView());
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, ErrorCode::kBadDataFormat);
}

// extraCerts are decoded apart from the rest: in order, those the server knows taken as they
// are (no second decoding), the others decoded; anything else there is refused.
TEST(ParseMessage, ExtraCertsAreTheKnownOnesOrDecodedInOrder) {
  const Bytes first = sample_certificate(), second = sample_certificate();
  auto der = encode_message(sample_header(), pkiconf_body(), {first, second}, nullptr);
  ASSERT_TRUE(der) << der.error().message;
  const KnownCertificates known({second});

  for (const KnownCertificates* with : {static_cast<const KnownCertificates*>(nullptr), &known}) {
    auto parsed = parse_message(*der, with);
    ASSERT_TRUE(parsed) << parsed.error().message;
    ASSERT_EQ(sk_X509_num(parsed->message->extraCerts), 2);
    EXPECT_EQ(ossl::der_of(sk_X509_value(parsed->message->extraCerts, 0)), first);
    EXPECT_EQ(ossl::der_of(sk_X509_value(parsed->message->extraCerts, 1)), second);
    if (with != nullptr) {
      EXPECT_EQ(sk_X509_value(parsed->message->extraCerts, 1), known.find(second));
    }
    EXPECT_EQ(parsed->fingerprint, ossl::sha256(*der));
  }
}

// A certificate that came with a recent request is decoded once: the certConf that follows
// gets the very object its request got.
TEST(ParseMessage, ExtraCertsOfRecentRequestsAreDecodedOnce) {
  const Bytes signer = sample_certificate();
  auto der = encode_message(sample_header(), pkiconf_body(), {signer}, nullptr);
  ASSERT_TRUE(der) << der.error().message;
  ossl::RecentCertificates recent;
  auto first = parse_message(*der, nullptr, &recent);
  auto second = parse_message(*der, nullptr, &recent);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(sk_X509_value(first->message->extraCerts, 0), sk_X509_value(second->message->extraCerts, 0));
  EXPECT_EQ(ossl::der_of(sk_X509_value(second->message->extraCerts, 0)), signer);
  EXPECT_EQ(recent.size(), 1U);
}

TEST(ParseMessage, RefusesMalformedOrDoubledExtraCerts) {
  auto der = encode_message(sample_header(), pkiconf_body(), {sample_certificate()}, nullptr);
  ASSERT_TRUE(der);
  auto outer = der::read_element(*der);
  auto parts = der::read_children(outer->content);
  ASSERT_TRUE(parts && parts->size() == 3 && parts->back().tag == 0xa1);
  Bytes header_and_body((*parts)[0].whole.begin(), (*parts)[0].whole.end());
  header_and_body.insert(header_and_body.end(), (*parts)[1].whole.begin(), (*parts)[1].whole.end());
  auto with = [&](const std::vector<Bytes>& tail) {
    Bytes content = header_and_body;
    for (const auto& element : tail) content.insert(content.end(), element.begin(), element.end());
    return der::sequence(content);
  };
  const Bytes extra((*parts)[2].whole.begin(), (*parts)[2].whole.end());
  const Bytes integer_for_a_certificate = der::element(0xa1, der::sequence(Bytes{0x02, 0x01, 0x01}));
  const Bytes no_list = der::element(0xa1, Bytes{0x02, 0x01, 0x01});
  for (const auto& [label, message] :
       std::vector<std::pair<const char*, Bytes>>{{"two extraCerts", with({extra, extra})},
                                                  {"an INTEGER for a certificate", with({integer_for_a_certificate})},
                                                  {"extraCerts without its SEQUENCE OF", with({no_list})}}) {
    auto parsed = parse_message(message);
    ASSERT_FALSE(parsed) << label << " was accepted";
    EXPECT_EQ(parsed.error().code, ErrorCode::kBadDataFormat) << label;
  }
  EXPECT_TRUE(parse_message(with({extra}))) << "the test's own re-assembly is sound";
}

TEST(ResponseHeaderFor, AnswersTheRequest) {
  const Bytes der = openssl_ir();
  auto parsed = parse_message(der);
  ASSERT_TRUE(parsed);
  const ECMP_HEADER& request = *parsed->message->header;
  auto responder = name("CN=Responder");
  ResponseHeader rh = response_header_for(request, responder.get());
  EXPECT_EQ(rh.pvno, kPvno2000);
  EXPECT_EQ(rh.transaction_id, octets(request.transactionID));
  EXPECT_EQ(rh.recipient_nonce, octets(request.senderNonce));
  EXPECT_EQ(rh.sender_nonce.size(), 16U);
  EXPECT_NE(rh.sender_nonce, rh.recipient_nonce);
  EXPECT_NE(rh.sender_nonce, response_header_for(request, responder.get()).sender_nonce) << "nonce not fresh";
  EXPECT_EQ(::X509_NAME_cmp(rh.sender.get(), responder.get()), 0);
  ASSERT_TRUE(rh.recipient);
  EXPECT_EQ(::GENERAL_NAME_cmp(rh.recipient.get(), request.sender), 0);
}

}  // namespace
}  // namespace enrolld::cmp
