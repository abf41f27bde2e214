#include "ca/certificate_authority.h"

#include <map>

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "ca/ca_certificates.h"
#include "hsm/software_signer.h"
#include "support/faulty_signer.h"
#include "support/softhsm_fixture.h"

namespace enrolld::ca {
namespace {

class CertificateAuthorityTest : public ::testing::Test {
 protected:
  testing::SoftHsmToken token;
  testing::TestCa test_ca = testing::make_test_ca(token);
  ossl::EvpPkeyPtr device_key = testing::make_ec_key();
  SerialTaken never_taken = [](const std::string&) -> Result<bool> { return false; };

  CertificationInput input(const std::string& subject = "CN=device-1,O=Example") {
    return {testing::name_der(subject), testing::public_key_der(device_key.get()), {}};
  }
};

// The certificate is handed out as built, not decoded again: whatever OpenSSL reads from it
// (its encoding, fingerprints, the certConf hash, extension flags) must be what the DER gives.
TEST_F(CertificateAuthorityTest, TheIssuedCertificateReadsAsItsDerDoes) {
  Profile profile;
  profile.extended_key_usage = "clientAuth";
  auto issued = test_ca.issuing->issue(input(), profile, never_taken);
  ASSERT_TRUE(issued) << issued.error().message;
  ::X509* cert = issued->certificate.get();
  const Bytes der = ossl::der_of(cert);
  auto decoded = ossl::x509_from_der(der);
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(to_hex(ossl::der_of(cert)), to_hex(der)) << "encoded the same way every time";
  EXPECT_EQ(to_hex(ossl::der_of(decoded->get())), to_hex(der));
  for (const ::EVP_MD* md : {::EVP_sha1(), ::EVP_sha256()}) {
    unsigned char built[EVP_MAX_MD_SIZE], read[EVP_MAX_MD_SIZE];
    unsigned int built_size = 0, read_size = 0;
    ASSERT_EQ(::X509_digest(cert, md, built, &built_size), 1);
    ASSERT_EQ(::X509_digest(decoded->get(), md, read, &read_size), 1);
    EXPECT_EQ(to_hex(ByteView(built, built_size)), to_hex(ByteView(read, read_size))) << ::EVP_MD_get0_name(md);
  }
  ossl::Asn1OctetStringPtr built_hash(::X509_digest_sig(cert, nullptr, nullptr));
  ossl::Asn1OctetStringPtr read_hash(::X509_digest_sig(decoded->get(), nullptr, nullptr));
  ASSERT_TRUE(built_hash && read_hash);
  EXPECT_EQ(::ASN1_OCTET_STRING_cmp(built_hash.get(), read_hash.get()), 0) << "the certConf certHash";
  EXPECT_EQ(::X509_get_extension_flags(cert), ::X509_get_extension_flags(decoded->get()));
  EXPECT_EQ(::X509_get_extended_key_usage(cert), static_cast<std::uint32_t>(XKU_SSL_CLIENT));
  EXPECT_EQ(::X509_cmp(cert, decoded->get()), 0);
  EXPECT_EQ(to_hex(testing::public_key_der(::X509_get0_pubkey(decoded->get()))),
            to_hex(testing::public_key_der(device_key.get())));
}

TEST_F(CertificateAuthorityTest, IssuesACertificateForTheRequestedKeyAndSubject) {
  auto issued = test_ca.issuing->issue(input(), Profile{}, never_taken);
  ASSERT_TRUE(issued) << issued.error().message;
  ::X509* cert = issued->certificate.get();
  auto decoded = ossl::x509_from_der(ossl::der_of(cert));
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(::EVP_PKEY_eq(::X509_get0_pubkey(decoded->get()), device_key.get()), 1);
  EXPECT_EQ(ossl::name_to_string(::X509_get_subject_name(cert)), "O=Example,CN=device-1");
  EXPECT_EQ(::X509_NAME_cmp(::X509_get_issuer_name(cert), ::X509_get_subject_name(test_ca.issuing->certificate())), 0);
  EXPECT_EQ(::X509_verify(cert, ::X509_get0_pubkey(test_ca.issuing->certificate())), 1);
  EXPECT_EQ(::X509_check_ca(cert), 0) << "an end-entity certificate must not be a CA";
  // AKI points at the issuing CA's SKI.
  const ::ASN1_OCTET_STRING* aki = ::X509_get0_authority_key_id(cert);
  const ::ASN1_OCTET_STRING* ski = ::X509_get0_subject_key_id(const_cast<::X509*>(test_ca.issuing->certificate()));
  ASSERT_NE(aki, nullptr);
  ASSERT_NE(ski, nullptr);
  EXPECT_EQ(::ASN1_OCTET_STRING_cmp(aki, ski), 0);
}

TEST_F(CertificateAuthorityTest, TheChainVerifiesWithOpenSsl) {
  auto issued = test_ca.issuing->issue(input(), Profile{}, never_taken);
  ASSERT_TRUE(issued);
  std::unique_ptr<::X509_STORE, ossl::Deleter<::X509_STORE_free>> store(::X509_STORE_new());
  ::X509_STORE_add_cert(store.get(), test_ca.root.get());
  ossl::X509StackPtr untrusted(sk_X509_new_null());
  sk_X509_push(untrusted.get(), ossl::up_ref(const_cast<::X509*>(test_ca.issuing->certificate())).release());
  std::unique_ptr<::X509_STORE_CTX, ossl::Deleter<::X509_STORE_CTX_free>> ctx(::X509_STORE_CTX_new());
  // Path validation needs the leaf's key object: as relying parties do, it reads the DER.
  auto leaf = ossl::x509_from_der(ossl::der_of(issued->certificate.get()));
  ASSERT_TRUE(leaf);
  ::X509_STORE_CTX_init(ctx.get(), store.get(), leaf->get(), untrusted.get());
  EXPECT_EQ(::X509_verify_cert(ctx.get()), 1) << ::X509_verify_cert_error_string(::X509_STORE_CTX_get_error(ctx.get()));
}

TEST_F(CertificateAuthorityTest, SerialIsPositiveSixteenOctetsAndRandom) {
  auto a = test_ca.issuing->issue(input(), Profile{}, never_taken);
  auto b = test_ca.issuing->issue(input(), Profile{}, never_taken);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->serial_hex.size(), 32u);
  EXPECT_NE(a->serial_hex, b->serial_hex);
  ossl::BignumPtr bn(::ASN1_INTEGER_to_BN(::X509_get0_serialNumber(a->certificate.get()), nullptr));
  EXPECT_FALSE(::BN_is_negative(bn.get()));
  EXPECT_GE(::BN_num_bits(bn.get()), 64);
}

TEST(RandomSerial, HasTopBitClearAndNonZeroFirstOctet) {
  for (int i = 0; i < 200; ++i) {
    Bytes serial = random_serial();
    ASSERT_EQ(serial.size(), 16u);
    EXPECT_EQ(serial[0] & 0x80, 0);
    EXPECT_NE(serial[0], 0);
  }
}

TEST_F(CertificateAuthorityTest, DrawsAgainWhenASerialIsTakenAndGivesUpAfterSeveralDraws) {
  int calls = 0;
  SerialTaken first_taken = [&](const std::string&) -> Result<bool> { return ++calls == 1; };
  ASSERT_TRUE(test_ca.issuing->issue(input(), Profile{}, first_taken));
  EXPECT_EQ(calls, 2);

  SerialTaken always_taken = [](const std::string&) -> Result<bool> { return true; };
  auto refused = test_ca.issuing->issue(input(), Profile{}, always_taken);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kSystemFailure);

  SerialTaken store_down = [](const std::string&) -> Result<bool> {
    return fail(ErrorCode::kSystemUnavailable, "disk gone");
  };
  EXPECT_EQ(test_ca.issuing->issue(input(), Profile{}, store_down).error().code, ErrorCode::kSystemUnavailable);
}

TEST_F(CertificateAuthorityTest, CopiesTheRequestedSubjectAltName) {
  ossl::X509ExtensionsPtr exts(sk_X509_EXTENSION_new_null());
  ossl::X509ExtensionPtr san(::X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, "DNS:device-1.example"));
  sk_X509_EXTENSION_push(exts.get(), san.release());
  unsigned char* der = nullptr;
  int len = ::i2d_X509_EXTENSIONS(exts.get(), &der);
  CertificationInput with_san = input();
  with_san.extensions_der.assign(der, der + len);
  ::OPENSSL_free(der);

  auto issued = test_ca.issuing->issue(with_san, Profile{}, never_taken);
  ASSERT_TRUE(issued) << issued.error().message;
  EXPECT_EQ(::X509_check_host(issued->certificate.get(), "device-1.example", 0, 0, nullptr), 1);

  Profile without_san;
  without_san.copy_subject_alt_name = false;  // the requester may not choose its names here
  auto bare = test_ca.issuing->issue(with_san, without_san, never_taken);
  ASSERT_TRUE(bare) << bare.error().message;
  EXPECT_LT(::X509_get_ext_by_NID(bare->certificate.get(), NID_subject_alt_name, -1), 0);
}

// RFC 5280 4.2.1.13 and 4.2.2.1: where relying parties fetch the CRL, ask OCSP and find the
// issuer, as the profile says; nothing when it says nothing.
TEST_F(CertificateAuthorityTest, WritesTheProfilesCrlAndAuthorityInformationUrls) {
  Profile profile;
  profile.crl_url = "http://pki.example/issuing.crl";
  profile.ocsp_url = "http://pki.example/ocsp";
  profile.ca_issuers_url = "http://pki.example/issuing.crt";
  auto issued = test_ca.issuing->issue(input(), profile, never_taken);
  ASSERT_TRUE(issued) << issued.error().message;
  ::X509* cert = issued->certificate.get();
  std::unique_ptr<STACK_OF(DIST_POINT), ossl::Deleter<CRL_DIST_POINTS_free>> points(
      static_cast<STACK_OF(DIST_POINT)*>(::X509_get_ext_d2i(cert, NID_crl_distribution_points, nullptr, nullptr)));
  ASSERT_TRUE(points);
  ASSERT_EQ(sk_DIST_POINT_num(points.get()), 1);
  const GENERAL_NAMES* names = sk_DIST_POINT_value(points.get(), 0)->distpoint->name.fullname;
  ASSERT_EQ(sk_GENERAL_NAME_num(names), 1);
  const ::ASN1_IA5STRING* uri = sk_GENERAL_NAME_value(names, 0)->d.uniformResourceIdentifier;
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(uri->data), uri->length), profile.crl_url);

  std::unique_ptr<AUTHORITY_INFO_ACCESS, ossl::Deleter<AUTHORITY_INFO_ACCESS_free>> access(
      static_cast<AUTHORITY_INFO_ACCESS*>(::X509_get_ext_d2i(cert, NID_info_access, nullptr, nullptr)));
  ASSERT_TRUE(access);
  std::map<int, std::string> by_method;
  for (int i = 0; i < sk_ACCESS_DESCRIPTION_num(access.get()); ++i) {
    const ACCESS_DESCRIPTION* description = sk_ACCESS_DESCRIPTION_value(access.get(), i);
    const ::ASN1_IA5STRING* location = description->location->d.uniformResourceIdentifier;
    by_method[::OBJ_obj2nid(description->method)] =
        std::string(reinterpret_cast<const char*>(location->data), location->length);
  }
  EXPECT_EQ(by_method[NID_ad_OCSP], profile.ocsp_url);
  EXPECT_EQ(by_method[NID_ad_ca_issuers], profile.ca_issuers_url);

  auto plain = test_ca.issuing->issue(input(), Profile{}, never_taken);
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_LT(::X509_get_ext_by_NID(plain->certificate.get(), NID_crl_distribution_points, -1), 0);
  EXPECT_LT(::X509_get_ext_by_NID(plain->certificate.get(), NID_info_access, -1), 0);
}

TEST_F(CertificateAuthorityTest, NeverOutlivesTheIssuingCa) {
  Profile long_lived;
  long_lived.validity = std::chrono::hours(24 * 365 * 100);
  auto issued = test_ca.issuing->issue(input(), long_lived, never_taken);
  ASSERT_TRUE(issued);
  EXPECT_EQ(::ASN1_TIME_compare(::X509_get0_notAfter(issued->certificate.get()),
                                ::X509_get0_notAfter(test_ca.issuing->certificate())),
            0);
}

TEST_F(CertificateAuthorityTest, RefusesAnEmptySubjectAndAnUndecodableKey) {
  CertificationInput no_subject = input();
  no_subject.subject_der = testing::name_der("");
  EXPECT_EQ(test_ca.issuing->issue(no_subject, Profile{}, never_taken).error().code, ErrorCode::kBadCertTemplate);

  CertificationInput bad_key = input();
  bad_key.public_key_der = to_bytes("not a key");
  EXPECT_EQ(test_ca.issuing->issue(bad_key, Profile{}, never_taken).error().code, ErrorCode::kBadAlgorithm);

  CertificationInput bad_extensions = input();
  bad_extensions.extensions_der = to_bytes("junk");
  EXPECT_EQ(test_ca.issuing->issue(bad_extensions, Profile{}, never_taken).error().code, ErrorCode::kBadCertTemplate);
}

TEST_F(CertificateAuthorityTest, AcceptsOnlyTheKeyTypesOfTheProfile) {
  struct Case {
    ossl::EvpPkeyPtr key;
    bool accepted;
  };
  std::vector<Case> cases;
  cases.push_back({ossl::EvpPkeyPtr(::EVP_EC_gen("P-256")), true});
  cases.push_back({ossl::EvpPkeyPtr(::EVP_EC_gen("P-384")), true});
  cases.push_back({ossl::EvpPkeyPtr(::EVP_RSA_gen(2048)), true});
  cases.push_back({ossl::EvpPkeyPtr(::EVP_EC_gen("P-521")), false});
  cases.push_back({ossl::EvpPkeyPtr(::EVP_RSA_gen(1024)), false});
  for (const auto& c : cases) {
    CertificationInput request{testing::name_der("CN=key-test"), testing::public_key_der(c.key.get()), {}};
    auto issued = test_ca.issuing->issue(request, Profile{}, never_taken);
    const std::string what =
        std::to_string(::EVP_PKEY_get_bits(c.key.get())) + "-bit " + ::OBJ_nid2sn(::EVP_PKEY_get_base_id(c.key.get()));
    EXPECT_EQ(issued.has_value(), c.accepted) << what;
    if (!c.accepted && !issued) {
      EXPECT_EQ(issued.error().code, ErrorCode::kBadAlgorithm) << what;
    }
  }
}

TEST(KeyRules, AlgorithmIdentifiersNameTheKeyType) {
  for (const auto& rule : Profile{}.keys) {
    Bytes der = algorithm_identifier_der(rule);
    const unsigned char* p = der.data();
    std::unique_ptr<::X509_ALGOR, ossl::Deleter<::X509_ALGOR_free>> algorithm(
        ::d2i_X509_ALGOR(nullptr, &p, static_cast<long>(der.size())));
    ASSERT_TRUE(algorithm);
    const ::ASN1_OBJECT* oid = nullptr;
    int param_type = 0;
    const void* param = nullptr;
    ::X509_ALGOR_get0(&oid, &param_type, &param, algorithm.get());
    if (rule.type == EVP_PKEY_EC) {
      EXPECT_EQ(::OBJ_obj2nid(oid), NID_X9_62_id_ecPublicKey);
      ASSERT_EQ(param_type, V_ASN1_OBJECT);
      EXPECT_EQ(::OBJ_obj2nid(static_cast<const ::ASN1_OBJECT*>(param)), rule.curve_nid);
    } else {
      EXPECT_EQ(::OBJ_obj2nid(oid), NID_rsaEncryption);
    }
  }
}

TEST_F(CertificateAuthorityTest, CaCertificatesAreCasWithTheirPathLength) {
  EXPECT_EQ(::X509_check_ca(test_ca.root.get()), 1);
  EXPECT_EQ(::X509_check_ca(const_cast<::X509*>(test_ca.issuing->certificate())), 1);
  EXPECT_EQ(::X509_get_pathlen(const_cast<::X509*>(test_ca.issuing->certificate())), 0);
  EXPECT_EQ(::X509_verify(const_cast<::X509*>(test_ca.issuing->certificate()), ::X509_get0_pubkey(test_ca.root.get())),
            1);
  EXPECT_EQ(::X509_check_issued(test_ca.root.get(), test_ca.root.get()), X509_V_OK);
}

}  // namespace
}  // namespace enrolld::ca

// ---- CRLs (RFC 5280 5) ----

namespace enrolld::ca {
namespace {

using CrlPtr = std::unique_ptr<::X509_CRL, ossl::Deleter<::X509_CRL_free>>;

CrlPtr crl_from(const Bytes& der) {
  const unsigned char* p = der.data();
  return CrlPtr(::d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
}

// OpenSSL's own path validation with CRL checking: X509_V_OK or why not.
int verify_with_crl(const testing::TestCa& test_ca, ::X509* cert, ::X509_CRL* crl) {
  std::unique_ptr<::X509_STORE, ossl::Deleter<::X509_STORE_free>> store(::X509_STORE_new());
  ::X509_STORE_add_cert(store.get(), test_ca.root.get());
  ::X509_STORE_add_crl(store.get(), crl);
  ::X509_STORE_set_flags(store.get(), X509_V_FLAG_CRL_CHECK | X509_V_FLAG_PARTIAL_CHAIN);
  ::X509_STORE_add_cert(store.get(), const_cast<::X509*>(test_ca.issuing->certificate()));
  std::unique_ptr<::X509_STORE_CTX, ossl::Deleter<::X509_STORE_CTX_free>> ctx(::X509_STORE_CTX_new());
  auto leaf = ossl::x509_from_der(ossl::der_of(cert));  // with its key object, as a relying party has it
  if (!leaf) return X509_V_ERR_UNSPECIFIED;
  ::X509_STORE_CTX_init(ctx.get(), store.get(), leaf->get(), nullptr);
  ::X509_verify_cert(ctx.get());
  return ::X509_STORE_CTX_get_error(ctx.get());
}

TEST_F(CertificateAuthorityTest, ACrlRevokesWhatItListsForOpenSslsPathValidation) {
  auto revoked = test_ca.issuing->issue(input("CN=revoked"), Profile{}, never_taken);
  auto unspecified = test_ca.issuing->issue(input("CN=unspecified"), Profile{}, never_taken);
  auto valid = test_ca.issuing->issue(input("CN=valid"), Profile{}, never_taken);
  ASSERT_TRUE(revoked && unspecified && valid);
  const auto now = std::chrono::system_clock::now();
  CrlInput crl_input{{{revoked->serial_hex, 1700000000, 1}, {unspecified->serial_hex, 1700000100, 0}},
                     now - std::chrono::minutes(1),
                     now + std::chrono::hours(24),
                     4242};
  auto der = test_ca.issuing->sign_crl(crl_input);
  ASSERT_TRUE(der) << der.error().message;
  CrlPtr crl = crl_from(*der);
  ASSERT_TRUE(crl);

  EXPECT_EQ(::X509_CRL_get_version(crl.get()), X509_CRL_VERSION_2);
  EXPECT_EQ(::X509_CRL_verify(crl.get(), ::X509_get0_pubkey(test_ca.issuing->certificate())), 1);
  EXPECT_EQ(verify_with_crl(test_ca, revoked->certificate.get(), crl.get()), X509_V_ERR_CERT_REVOKED);
  EXPECT_EQ(verify_with_crl(test_ca, unspecified->certificate.get(), crl.get()), X509_V_ERR_CERT_REVOKED);
  EXPECT_EQ(verify_with_crl(test_ca, valid->certificate.get(), crl.get()), X509_V_OK);

  int critical = 0;
  ossl::Asn1IntegerPtr number(
      static_cast<::ASN1_INTEGER*>(::X509_CRL_get_ext_d2i(crl.get(), NID_crl_number, &critical, nullptr)));
  ASSERT_TRUE(number);
  EXPECT_EQ(::ASN1_INTEGER_get(number.get()), 4242);
  EXPECT_NE(::X509_CRL_get_ext_by_NID(crl.get(), NID_authority_key_identifier, -1), -1);

  // RFC 5280 5.3.1: reasonCode for keyCompromise; none for unspecified.
  ::X509_REVOKED* entry = nullptr;
  ASSERT_EQ(::X509_CRL_get0_by_serial(
                crl.get(), &entry, const_cast<::ASN1_INTEGER*>(::X509_get0_serialNumber(revoked->certificate.get()))),
            1);
  std::unique_ptr<::ASN1_ENUMERATED, ossl::Deleter<::ASN1_ENUMERATED_free>> reason(
      static_cast<::ASN1_ENUMERATED*>(::X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, &critical, nullptr)));
  ASSERT_TRUE(reason);
  EXPECT_EQ(::ASN1_ENUMERATED_get(reason.get()), 1);
  ASSERT_EQ(
      ::X509_CRL_get0_by_serial(crl.get(), &entry,
                                const_cast<::ASN1_INTEGER*>(::X509_get0_serialNumber(unspecified->certificate.get()))),
      1);
  EXPECT_EQ(::X509_REVOKED_get_ext_by_NID(entry, NID_crl_reason, -1), -1);
}

TEST_F(CertificateAuthorityTest, AnEmptyCrlIsValidAndASerialThatIsNotHexIsRefused) {
  const auto now = std::chrono::system_clock::now();
  auto empty = test_ca.issuing->sign_crl({{}, now, now + std::chrono::hours(1), 1});
  ASSERT_TRUE(empty) << empty.error().message;
  CrlPtr crl = crl_from(*empty);
  ASSERT_TRUE(crl);
  const STACK_OF(X509_REVOKED)* entries = ::X509_CRL_get_REVOKED(crl.get());
  EXPECT_TRUE(entries == nullptr || sk_X509_REVOKED_num(entries) == 0);
  for (const char* serial : {"", "xyz", "12 34"}) {
    auto bad = test_ca.issuing->sign_crl({{{serial, 0, 0}}, now, now + std::chrono::hours(1), 2});
    ASSERT_FALSE(bad) << serial;
    EXPECT_EQ(bad.error().code, ErrorCode::kBadCertId);
  }
}

}  // namespace
}  // namespace enrolld::ca

// ---- root CA key update (RFC 4210 4.4.1) ----

namespace enrolld::ca {
namespace {

TEST(RootRollover, TheTransitionCertificatesLinkTheOldAndTheNewRoot) {
  hsm::SoftwareSigner old_signer(testing::make_ec_key());
  hsm::SoftwareSigner new_signer(testing::make_ec_key());
  auto old_root =
      make_root_certificate({{{"O", "Example"}, {"CN", "Example Root"}}, std::chrono::hours(24 * 365), -1}, old_signer);
  ASSERT_TRUE(old_root);
  auto rollover = make_root_rollover(old_root->get(), old_signer, new_signer, std::chrono::hours(24 * 730));
  ASSERT_TRUE(rollover) << rollover.error().message;

  ::X509* nwn = rollover->new_with_new.get();
  ::X509* nwo = rollover->new_with_old.get();
  ::X509* own = rollover->old_with_new.get();
  EXPECT_EQ(::X509_verify(nwn, new_signer.public_key()), 1);
  EXPECT_EQ(::X509_check_ca(nwn), 1);
  EXPECT_EQ(ossl::der_of(::X509_get_subject_name(nwn)), ossl::der_of(::X509_get_subject_name(old_root->get())));
  EXPECT_EQ(ossl::der_of(::X509_get_subject_name(nwo)), ossl::der_of(::X509_get_subject_name(old_root->get())));
  EXPECT_EQ(::X509_verify(nwo, old_signer.public_key()), 1);
  EXPECT_EQ(::EVP_PKEY_eq(::X509_get0_pubkey(nwo), new_signer.public_key()), 1);
  EXPECT_EQ(::X509_verify(own, new_signer.public_key()), 1);
  EXPECT_EQ(::EVP_PKEY_eq(::X509_get0_pubkey(own), old_signer.public_key()), 1);
  // The transition certificates end with the old root.
  EXPECT_EQ(::ASN1_TIME_compare(::X509_get0_notAfter(nwo), ::X509_get0_notAfter(old_root->get())), 0);

  // A CA under the new root validates for a party that still trusts only the old root, with
  // NewWithOld as the link.
  hsm::SoftwareSigner sub_signer(testing::make_ec_key());
  auto sub = make_subordinate_certificate({{{"CN", "Issuing under the new root"}}, std::chrono::hours(24), 0},
                                          sub_signer.public_key(), nwn, new_signer);
  ASSERT_TRUE(sub);
  std::unique_ptr<::X509_STORE, ossl::Deleter<::X509_STORE_free>> store(::X509_STORE_new());
  ::X509_STORE_add_cert(store.get(), old_root->get());
  ossl::X509StackPtr untrusted(sk_X509_new_null());
  sk_X509_push(untrusted.get(), ossl::up_ref(nwo).release());
  std::unique_ptr<::X509_STORE_CTX, ossl::Deleter<::X509_STORE_CTX_free>> ctx(::X509_STORE_CTX_new());
  ::X509_STORE_CTX_init(ctx.get(), store.get(), sub->get(), untrusted.get());
  EXPECT_EQ(::X509_verify_cert(ctx.get()), 1) << ::X509_verify_cert_error_string(::X509_STORE_CTX_get_error(ctx.get()));

  auto same_key = make_root_rollover(old_root->get(), old_signer, old_signer, std::chrono::hours(24));
  ASSERT_FALSE(same_key);
  EXPECT_EQ(same_key.error().code, ErrorCode::kConfigInvalid);
}

// A device that signs wrongly: its certificates and CRLs never leave (kSystemFailure), and the
// serial drawn for the certificate is not stored anywhere by the CA.
TEST_F(CertificateAuthorityTest, WhatAFaultyHsmSignsIsRefusedBeforeItLeaves) {
  ::EVP_PKEY* ca_key = ::X509_get0_pubkey(test_ca.issuing->certificate());
  std::vector<ossl::X509Ptr> chain;
  for (const auto& cert : test_ca.issuing->chain()) chain.push_back(ossl::up_ref(cert.get()));
  CertificateAuthority faulty(std::move(chain),
                              std::make_unique<testing::FaultySigner>(testing::mismatched_key_pair(ca_key), ca_key),
                              [] { return std::chrono::system_clock::now(); });
  auto issued = faulty.issue(input(), Profile{}, never_taken);
  ASSERT_FALSE(issued);
  EXPECT_EQ(issued.error().code, ErrorCode::kSystemFailure);
  EXPECT_NE(issued.error().message.find("does not verify"), std::string::npos) << issued.error().message;

  const auto now = std::chrono::system_clock::now();
  auto crl = faulty.sign_crl({{}, now, now + std::chrono::hours(1), 1});
  ASSERT_FALSE(crl);
  EXPECT_EQ(crl.error().code, ErrorCode::kSystemFailure);

  auto signature = faulty.signer().sign(to_bytes("a CMP message's protected part"));
  ASSERT_FALSE(signature) << "every signature the device makes is checked, message protection too";
  EXPECT_EQ(signature.error().code, ErrorCode::kSystemFailure);
  EXPECT_TRUE(test_ca.issuing->signer().sign(to_bytes("a CMP message's protected part")));
}

}  // namespace
}  // namespace enrolld::ca
