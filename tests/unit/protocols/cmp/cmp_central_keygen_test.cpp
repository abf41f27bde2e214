// Central key generation (RFC 9483 4.1.6) on the real stack, with crafted requests: the ip
// carries the key, encrypted to the shared secret (password recipient), inside a SignedData of
// the key generation authority; this test opens it with OpenSSL's CMS API on its own.
#include <openssl/cms.h>
#include <openssl/x509v3.h>

#include "ca/ca_certificates.h"
#include "cmp_server_fixture.h"
#include "common/der.h"
#include "hsm/software_signer.h"

namespace enrolld::cmp::test {
namespace {

using CmsPtr = std::unique_ptr<::CMS_ContentInfo, ossl::Deleter<::CMS_ContentInfo_free>>;
using BioPtr = std::unique_ptr<::BIO, ossl::Deleter<::BIO_free>>;
using X509StorePtr = std::unique_ptr<::X509_STORE, ossl::Deleter<::X509_STORE_free>>;

constexpr const char* kKeyPackageType = "2.16.840.1.101.2.1.2.78.5";  // id-ct-KP-aKeyPackage
constexpr const char* kCmKga = "1.3.6.1.5.5.7.3.32";                  // id-kp-cmKGA

// CertReqMsg { certReq { certReqId 0, certTemplate { subject, publicKey? } } }, no POP.
// `spki_content`: the publicKey field's content (algorithm, BIT STRING); nullopt leaves it out.
Bytes cert_req_msg(const std::optional<Bytes>& spki_content) {
  Bytes tmpl = der::element(0xa5, enrolld::testing::name_der(kSubject));
  if (spki_content) tmpl = concat({tmpl, der::element(0xa6, *spki_content)});
  const Bytes cert_request = der::sequence(concat({Bytes{0x02, 0x01, 0x00}, der::sequence(tmpl)}));
  return der::sequence(cert_request);
}

// publicKey with the algorithm only: "an empty subjectPublicKey" (RFC 9483 4.1.6).
Bytes algorithm_only(const ca::KeyRule& rule) {
  return concat({ca::algorithm_identifier_der(rule), Bytes{0x03, 0x01, 0x00}});
}

// The ir from `ir_der` with its CertReqMessages replaced by `crm_der`, MAC-protected again.
Bytes with_request(const Bytes& ir_der, const Bytes& crm_der) {
  return modified(
      ir_der,
      [&](ECMP_MSG& m) {
        const unsigned char* p = crm_der.data();
        OSSL_CRMF_MSG* crm = ::d2i_OSSL_CRMF_MSG(nullptr, &p, static_cast<long>(crm_der.size()));
        ASSERT_NE(crm, nullptr) << ossl::drain_errors();
        OSSL_CRMF_MSGS* msgs = sk_OSSL_CRMF_MSG_new_null();
        sk_OSSL_CRMF_MSG_push(msgs, crm);
        set_cert_requests(*m.body, msgs);
      },
      to_bytes(kSecret));
}

const ECMP_CERTIFIEDKEYPAIR* key_pair_in(const Reply& reply) {
  if (!reply.message || reply.body_type != ECMP_BODY_IP) return nullptr;
  const ECMP_CERTRESPONSE* response = sk_ECMP_CERTRESPONSE_value(reply.message->body->value.ip->response, 0);
  return response != nullptr ? response->certifiedKeyPair : nullptr;
}

// A ContentInfo of `type` around `content` (a SEQUENCE), for OpenSSL's CMS API.
CmsPtr content_info(const char* type, ByteView content) {
  const Bytes der = der::sequence(concat({oid_der(type), der::element(0xa0, content)}));
  const unsigned char* p = der.data();
  return CmsPtr(::d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(der.size())));
}

struct OpenedKey {
  Bytes content;         // what the SignedData carries
  ossl::EvpPkeyPtr key;  // read from it as a single OneAsymmetricKey
  std::string content_type;
  ossl::X509Ptr signer;
};

// Opens privateKey ([0] IMPLICIT EnvelopedData) with `secret`, verifies the SignedData inside
// against `root` and returns the key with what signed it.
std::optional<OpenedKey> open_key(const ECMP_CERTIFIEDKEYPAIR& pair, ByteView secret, ::X509* root) {
  if (pair.privateKey == nullptr || pair.privateKey->type != V_ASN1_OTHER) return std::nullopt;
  const ::ASN1_STRING* whole = pair.privateKey->value.asn1_string;
  auto implicit = der::read_element(ByteView(whole->data, static_cast<std::size_t>(whole->length)));
  if (!implicit || implicit->tag != 0xa0) return std::nullopt;
  CmsPtr enveloped = content_info("1.2.840.113549.1.7.3", der::sequence(implicit->content));
  BioPtr signed_data(::BIO_new(::BIO_s_mem()));
  if (!enveloped ||
      ::CMS_decrypt_set1_password(enveloped.get(), const_cast<unsigned char*>(secret.data()),
                                  static_cast<ossl_ssize_t>(secret.size())) != 1 ||
      ::CMS_decrypt(enveloped.get(), nullptr, nullptr, nullptr, signed_data.get(), 0) != 1) {
    ADD_FAILURE() << "cannot decrypt: " << ossl::drain_errors();
    return std::nullopt;
  }
  char* data = nullptr;
  const long length = BIO_get_mem_data(signed_data.get(), &data);
  auto sd = der::read_element(ByteView(reinterpret_cast<const std::uint8_t*>(data), static_cast<std::size_t>(length)));
  CmsPtr signed_cms = sd ? content_info("1.2.840.113549.1.7.2", sd->whole) : nullptr;
  X509StorePtr store(::X509_STORE_new());
  ::X509_STORE_add_cert(store.get(), root);
  ::X509_STORE_set_purpose(store.get(), X509_PURPOSE_ANY);
  BioPtr content(::BIO_new(::BIO_s_mem()));
  if (!signed_cms || ::CMS_verify(signed_cms.get(), nullptr, store.get(), nullptr, content.get(), CMS_BINARY) != 1) {
    ADD_FAILURE() << "the key package does not verify: " << ossl::drain_errors();
    return std::nullopt;
  }
  OpenedKey out;
  char type[80] = {};
  ::OBJ_obj2txt(type, sizeof type, ::CMS_get0_eContentType(signed_cms.get()), 1);
  out.content_type = type;
  STACK_OF(X509)* signers = ::CMS_get0_signers(signed_cms.get());  // our stack, its certificates
  if (sk_X509_num(signers) == 1) out.signer = ossl::up_ref(sk_X509_value(signers, 0));
  sk_X509_free(signers);
  char* bytes = nullptr;
  const long size = BIO_get_mem_data(content.get(), &bytes);
  out.content.assign(bytes, bytes + size);
  const unsigned char* p = out.content.data();
  out.key.reset(::d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(out.content.size())));
  return out;
}

bool has_cm_kga(::X509* cert) {
  std::unique_ptr<EXTENDED_KEY_USAGE, ossl::Deleter<::EXTENDED_KEY_USAGE_free>> ekus(
      static_cast<EXTENDED_KEY_USAGE*>(::X509_get_ext_d2i(cert, NID_ext_key_usage, nullptr, nullptr)));
  for (int i = 0; ekus && i < sk_ASN1_OBJECT_num(ekus.get()); ++i) {
    char text[40] = {};
    ::OBJ_obj2txt(text, sizeof text, sk_ASN1_OBJECT_value(ekus.get(), i), 1);
    if (std::string(text) == kCmKga) return true;
  }
  return false;
}

class CentralKeygenTest : public CmpServerTest {
 protected:
  // The key generation authority: a software key with an id-kp-cmKGA certificate from the CA.
  ra::KeyGenerationAuthority make_kga(ra::KeyPackageFormat format = ra::KeyPackageFormat::kSingleKey) {
    ossl::EvpPkeyPtr key = enrolld::testing::make_ec_key();
    auto cert = ca::make_key_generation_certificate({{{"CN", "test KGA"}}, std::chrono::hours(24), -1}, key.get(),
                                                    ca.issuing->certificate(), ca.issuing->signer());
    if (!cert) throw std::runtime_error("KGA certificate: " + cert.error().message);
    ra::KeyGenerationAuthority kga{std::make_unique<hsm::SoftwareSigner>(std::move(key)), {}, format};
    kga.chain.push_back(std::move(*cert));
    for (const auto& above : ca.issuing->chain()) kga.chain.push_back(ossl::up_ref(above.get()));
    return kga;
  }

  Reply send_central(const Bytes& request, CmpServer& to, const std::string& profile = "") {
    auto reply = to.handle(request, CmpRequestContext{profile, "test"});
    EXPECT_TRUE(reply) << reply.error().message;
    return reply ? read_reply(*reply) : Reply{};
  }

  static ::X509* certificate_in(const Reply& reply) {
    const ECMP_CERTIFIEDKEYPAIR* pair = key_pair_in(reply);
    return pair != nullptr ? pair->certOrEncCert->value.certificate : nullptr;
  }

  ra::Policy approval_policy() {
    ra::Policy policy;
    policy.approval_profiles = {"approval"};
    return policy;
  }
  static std::vector<ca::Profile> profiles() {
    ca::Profile approval;
    approval.name = "approval";
    return {ca::Profile{}, approval};
  }

  ra::EnrollmentServiceImpl central_service{*store,         *ca.issuing, profiles(), approval_policy(),
                                            system_clock(), make_kga()};
  CmpServer central_server{central_service, secrets, CmpServerOptions{}};
};

TEST_F(CentralKeygenTest, WithoutAPublicKeyTheKeyComesBackSignedByTheKgaAndEncryptedToTheSecret) {
  const Bytes request = with_request(fresh_ir(), cert_req_msg(std::nullopt));
  Reply reply = send_central(request, central_server);
  ASSERT_EQ(reply.body_type, ECMP_BODY_IP);
  EXPECT_EQ(reply.status, static_cast<long>(PkiStatus::kAccepted));
  ::X509* cert = certificate_in(reply);
  ASSERT_NE(cert, nullptr);
  auto opened = open_key(*key_pair_in(reply), to_bytes(kSecret), ca.root.get());
  ASSERT_TRUE(opened);
  ASSERT_TRUE(opened->key);
  EXPECT_EQ(::EVP_PKEY_eq(opened->key.get(), ::X509_get0_pubkey(cert)), 1) << "the key is the certificate's";
  EXPECT_EQ(::EVP_PKEY_get_bits(opened->key.get()), 256);  // the profile's first kind: P-256
  EXPECT_EQ(opened->content_type, kKeyPackageType);
  ASSERT_TRUE(opened->signer);
  EXPECT_TRUE(has_cm_kga(opened->signer.get()));

  // A resend gets the same bytes (the same key), and one certificate only.
  auto again = central_server.handle(request, CmpRequestContext{"", "test"});
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, der_of_msg(reply.message.get()));
  EXPECT_EQ(certificates().size(), 1U);
}

// [cmp] central_key_package = "asymmetric-key-package": RFC 9483 4.1.6 as written.
TEST_F(CentralKeygenTest, AsAnAsymmetricKeyPackageTheKeyIsTheOnlyElementOfASequence) {
  ra::EnrollmentServiceImpl packaging{*store,          *ca.issuing,
                                      {ca::Profile{}}, ra::Policy{},
                                      system_clock(),  make_kga(ra::KeyPackageFormat::kAsymmetricKeyPackage)};
  CmpServer packaging_server{packaging, secrets, CmpServerOptions{}};
  Reply reply = send_central(with_request(fresh_ir(), cert_req_msg(std::nullopt)), packaging_server);
  ASSERT_EQ(reply.status, static_cast<long>(PkiStatus::kAccepted));
  auto opened = open_key(*key_pair_in(reply), to_bytes(kSecret), ca.root.get());
  ASSERT_TRUE(opened);
  EXPECT_FALSE(opened->key) << "a SEQUENCE OF is no single key";
  auto package = der::read_element(opened->content);
  auto keys = package ? der::read_children(package->content) : std::nullopt;
  ASSERT_TRUE(keys && keys->size() == 1U);
  const unsigned char* p = keys->front().whole.data();
  ossl::EvpPkeyPtr key(::d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(keys->front().whole.size())));
  ASSERT_TRUE(key);
  EXPECT_EQ(::EVP_PKEY_eq(key.get(), ::X509_get0_pubkey(certificate_in(reply))), 1);
}

TEST_F(CentralKeygenTest, AnAlgorithmWithAnEmptyKeyGetsThatKindOfKey) {
  Reply reply = send_central(with_request(fresh_ir(), cert_req_msg(algorithm_only({EVP_PKEY_EC, NID_secp384r1, 0}))),
                             central_server);
  ASSERT_EQ(reply.status, static_cast<long>(PkiStatus::kAccepted));
  auto opened = open_key(*key_pair_in(reply), to_bytes(kSecret), ca.root.get());
  ASSERT_TRUE(opened && opened->key);
  EXPECT_EQ(::EVP_PKEY_get_bits(opened->key.get()), 384);
  EXPECT_EQ(::EVP_PKEY_eq(opened->key.get(), ::X509_get0_pubkey(certificate_in(reply))), 1);
}

TEST_F(CentralKeygenTest, RefusalsSayWhyAndIssueNothing) {
  const Bytes ed25519 = concat({der::sequence(oid_der("1.3.101.112")), Bytes{0x03, 0x01, 0x00}});
  struct Row {
    const char* what;
    Bytes request;
    CmpServer* server;
    std::string profile;
    int body_type;
    int bit;
  };
  const std::vector<Row> rows = {
      {"a key type the profile does not accept", with_request(fresh_ir(), cert_req_msg(ed25519)), &central_server, "",
       ECMP_BODY_IP, kBadAlg},
      {"a profile that needs approval", with_request(fresh_ir(), cert_req_msg(std::nullopt)), &central_server,
       "approval", ECMP_BODY_IP, kNotAuthorized},
      {"a server without a key generation authority", with_request(fresh_ir(), cert_req_msg(std::nullopt)), &server, "",
       ECMP_BODY_ERROR, kBadRequest},
  };
  for (const auto& row : rows) {
    Reply reply = send_central(row.request, *row.server, row.profile);
    EXPECT_EQ(reply.body_type, row.body_type) << row.what;
    EXPECT_EQ(reply.bits, std::vector<int>{row.bit}) << row.what;
    EXPECT_EQ(certificate_in(reply), nullptr) << row.what;
  }
  EXPECT_TRUE(certificates().empty());
}

}  // namespace
}  // namespace enrolld::cmp::test
