// The profile as a policy: each refusal the profile makes, with its specific reason, and what
// the CA then writes into a certificate (keyUsage, extendedKeyUsage, policies, validity).
#include "ca/profile_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "support/softhsm_fixture.h"

namespace enrolld::ca {
namespace {

using ::testing::HasSubstr;

constexpr std::int64_t kNow = 1'800'000'000;

// DER Extensions from OpenSSL configuration lines, e.g. {NID_subject_alt_name, "DNS:a.example"}.
Bytes extensions(const std::vector<std::pair<int, std::string>>& wanted) {
  ossl::X509ExtensionsPtr exts(sk_X509_EXTENSION_new_null());
  for (const auto& [nid, value] : wanted) {
    ::X509_EXTENSION* ext = ::X509V3_EXT_conf_nid(nullptr, nullptr, nid, value.c_str());
    EXPECT_NE(ext, nullptr) << value;
    if (ext != nullptr) sk_X509_EXTENSION_push(exts.get(), ext);
  }
  return ossl::der_with(exts.get(), [](const auto* e, unsigned char** out) {
    return ::i2d_X509_EXTENSIONS(const_cast<STACK_OF(X509_EXTENSION)*>(e), out);
  });
}

// An extension OpenSSL knows nothing of, critical or not.
Bytes private_extension(bool critical) {
  ossl::X509ExtensionsPtr exts(sk_X509_EXTENSION_new_null());
  std::unique_ptr<::ASN1_OBJECT, ossl::Deleter<::ASN1_OBJECT_free>> oid(::OBJ_txt2obj("1.3.6.1.4.1.55555.1", 1));
  ossl::Asn1OctetStringPtr value(::ASN1_OCTET_STRING_new());
  const unsigned char payload[] = {0x05, 0x00};
  ::ASN1_OCTET_STRING_set(value.get(), payload, sizeof payload);
  sk_X509_EXTENSION_push(exts.get(), ::X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), critical ? 1 : 0, value.get()));
  return ossl::der_with(exts.get(), [](const auto* e, unsigned char** out) {
    return ::i2d_X509_EXTENSIONS(const_cast<STACK_OF(X509_EXTENSION)*>(e), out);
  });
}

class ProfilePolicyTest : public ::testing::Test {
 protected:
  CertificationInput input(const std::string& subject, Bytes exts = {}) const {
    return {testing::name_der(subject), testing::public_key_der(key.get()), std::move(exts), std::nullopt};
  }

  // Expects kBadCertTemplate with `why` in the message.
  static void expect_refused(const CertificationInput& in, const Profile& profile, const std::string& why) {
    Status checked = check_request(in, profile, kNow);
    ASSERT_FALSE(checked) << "accepted; expected: " << why;
    EXPECT_EQ(checked.error().code, ErrorCode::kBadCertTemplate) << checked.error().message;
    EXPECT_THAT(checked.error().message, HasSubstr(why));
  }

  static Profile device_profile() {
    Profile profile;
    profile.name = "device";
    profile.subject_required = {"CN", "serialNumber"};
    profile.subject_forbidden = {"O"};
    profile.san = {{"*.devices.example", "gw.example"}, {"10.0.0.0/8", "2001:db8::/32"}, {"urn:dev:"}, {"example.org"}};
    return profile;
  }

  ossl::EvpPkeyPtr key = testing::make_ec_key();
};

TEST_F(ProfilePolicyTest, ARequestInsideTheProfilePasses) {
  auto in = input("CN=d1,serialNumber=42",
                  extensions({{NID_subject_alt_name,
                               "DNS:a.devices.example,DNS:b.c.devices.example,DNS:GW.example,IP:10.1.2.3,"
                               "IP:2001:db8::1,URI:urn:dev:ops:42,email:ops@example.org"},
                              {NID_key_usage, "critical,digitalSignature"},
                              {NID_basic_constraints, "critical,CA:FALSE"},
                              {NID_ext_key_usage, "clientAuth"}}));
  Status checked = check_request(in, device_profile(), kNow);
  EXPECT_TRUE(checked) << checked.error().message;
  EXPECT_TRUE(check_request(input("CN=x", private_extension(false)), Profile{}, kNow))
      << "an unknown extension that is not critical is left out, not refused";
}

TEST_F(ProfilePolicyTest, EachRefusalSaysWhy) {
  const Profile device = device_profile();
  const Profile plain;
  struct Row {
    const char* description;
    CertificationInput in;
    const Profile& profile;
    const char* why;
  };
  const std::vector<Row> rows = {
      {"cA:TRUE", input("CN=x", extensions({{NID_basic_constraints, "critical,CA:TRUE"}})), plain, "cA:TRUE"},
      {"keyCertSign", input("CN=x", extensions({{NID_key_usage, "keyCertSign"}})), plain, "keyCertSign or cRLSign"},
      {"cRLSign", input("CN=x", extensions({{NID_key_usage, "digitalSignature,cRLSign"}})), plain,
       "keyCertSign or cRLSign"},
      {"unknown critical extension", input("CN=x", private_extension(true)), plain, "1.3.6.1.4.1.55555.1"},
      {"required attribute missing", input("CN=d1"), device, "requires a subject with serialNumber"},
      {"forbidden attribute", input("CN=d1,serialNumber=1,O=Evil"), device, "does not allow O"},
      {"DNS outside", input("CN=d1,serialNumber=1", extensions({{NID_subject_alt_name, "DNS:evil.example"}})), device,
       "DNS:evil.example"},
      {"the wildcard's own domain",
       input("CN=d1,serialNumber=1", extensions({{NID_subject_alt_name, "DNS:devices.example"}})), device,
       "DNS:devices.example"},
      {"suffix without a dot",
       input("CN=d1,serialNumber=1", extensions({{NID_subject_alt_name, "DNS:xdevices.example"}})), device,
       "DNS:xdevices.example"},
      {"IPv4 outside", input("CN=d1,serialNumber=1", extensions({{NID_subject_alt_name, "IP:192.168.1.1"}})), device,
       "IP:192.168.1.1"},
      {"IPv6 outside", input("CN=d1,serialNumber=1", extensions({{NID_subject_alt_name, "IP:2001:db9::1"}})), device,
       "IP:2001:db9::1"},
      {"URI outside", input("CN=d1,serialNumber=1", extensions({{NID_subject_alt_name, "URI:https://evil/"}})), device,
       "URI:https://evil/"},
      {"mail outside", input("CN=d1,serialNumber=1", extensions({{NID_subject_alt_name, "email:a@evil.org"}})), device,
       "email:a@evil.org"},
      {"a kind without rules", input("CN=d1,serialNumber=1", extensions({{NID_subject_alt_name, "RID:1.2.3.4"}})),
       device, "outside what profile 'device' allows"},
      {"empty subject", input(""), plain, "no usable subject"},
      {"a wildcard name", input("CN=d1,serialNumber=1", extensions({{NID_subject_alt_name, "DNS:*.devices.example"}})),
       device, "DNS:*.devices.example"},
      {"two mail domains",
       input("CN=d1,serialNumber=1", extensions({{NID_subject_alt_name, "email:a@evil.org@example.org"}})), device,
       "email:a@evil.org@example.org"},
      {"a wildcard name without namespaces", input("CN=x", extensions({{NID_subject_alt_name, "DNS:*.example.com"}})),
       plain, "DNS:*.example.com is not a host name"},
      {"a malformed name without namespaces", input("CN=x", extensions({{NID_subject_alt_name, "DNS:a..example"}})),
       plain, "DNS:a..example is not a host name"},
      {"two subjectAltNames",
       input("CN=d1,serialNumber=1",
             extensions({{NID_subject_alt_name, "DNS:a.devices.example"}, {NID_subject_alt_name, "DNS:evil.example"}})),
       device, "2.5.29.17 twice"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.description);
    expect_refused(row.in, row.profile, row.why);
  }
}

TEST_F(ProfilePolicyTest, WithoutNamespacesAnyWellFormedSanPasses) {
  EXPECT_TRUE(check_request(
      input("CN=x", extensions({{NID_subject_alt_name, "DNS:a.example,IP:192.0.2.1,URI:urn:x,email:a@b.example"}})),
      Profile{}, kNow));
}

TEST_F(ProfilePolicyTest, ASanCanBeRequiredAndTheValidityIsBounded) {
  Profile profile;
  profile.name = "tls-server";
  profile.san_required = true;
  profile.validity = std::chrono::hours(24 * 90);
  expect_refused(input("CN=x"), profile, "requires a subjectAltName");
  auto in = input("CN=x", extensions({{NID_subject_alt_name, "DNS:x.example"}}));
  in.requested_not_after = kNow + 91 * 86400;
  expect_refused(in, profile, "longer than the 90 days");
  in.requested_not_after = kNow + 89 * 86400;
  EXPECT_TRUE(check_request(in, profile, kNow));
  in.requested_not_after = kNow - 1;
  expect_refused(in, profile, "already ended");
}

TEST_F(ProfilePolicyTest, AKeyThatIsTooSmallIsBadAlgorithm) {
  ossl::EvpPkeyPtr small(::EVP_RSA_gen(1024));
  Profile profile;
  profile.keys = {{EVP_PKEY_RSA, 0, 2048}};
  Status checked =
      check_request({testing::name_der("CN=x"), testing::public_key_der(small.get()), {}, std::nullopt}, profile, kNow);
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().code, ErrorCode::kBadAlgorithm);
  EXPECT_THAT(checked.error().message, HasSubstr("1024-bit"));
}

TEST_F(ProfilePolicyTest, RequestedSansAreSpelledForReviewRules) {
  const auto sans =
      requested_san_texts(extensions({{NID_subject_alt_name, "DNS:a.example,IP:10.0.0.1,IP:::1,URI:urn:x,email:a@b"}}));
  EXPECT_EQ(sans, (std::vector<std::string>{"DNS:a.example", "IP:10.0.0.1", "IP:::1", "URI:urn:x", "email:a@b"}));
  EXPECT_TRUE(requested_san_texts({}).empty());
  // Spelled so that a review pattern cannot be dodged by case or by an IPv4-mapped address.
  EXPECT_EQ(requested_san_texts(extensions({{NID_subject_alt_name, "DNS:X.Review.Example,IP:::ffff:10.1.2.3"}})),
            (std::vector<std::string>{"DNS:x.review.example", "IP:10.1.2.3"}));
}

// What the CA writes from the profile, whatever the request asked for.
class ProfileIssuanceTest : public ProfilePolicyTest {
 protected:
  testing::SoftHsmToken token;
  testing::TestCa test_ca = testing::make_test_ca(token);
  SerialTaken never_taken = [](const std::string&) -> Result<bool> { return false; };
};

TEST_F(ProfileIssuanceTest, TheProfileSetsUsagesPoliciesAndAShorterRequestedValidity) {
  Profile profile;
  profile.name = "tls-client";
  profile.key_usage = "digitalSignature,keyAgreement";
  profile.extended_key_usage = "clientAuth";
  profile.policies = {"1.3.6.1.4.1.55555.7.1"};
  profile.requester_validity = true;
  auto in = input("CN=client", extensions({{NID_ext_key_usage, "serverAuth,codeSigning"}}));
  const auto wanted_end = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()) + 7 * 86400;
  in.requested_not_after = wanted_end;
  auto issued = test_ca.issuing->issue(in, profile, never_taken);
  ASSERT_TRUE(issued) << issued.error().message;
  ::X509* cert = issued->certificate.get();
  EXPECT_EQ(::X509_get_key_usage(cert), static_cast<std::uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_AGREEMENT));
  EXPECT_EQ(::X509_get_extended_key_usage(cert), static_cast<std::uint32_t>(XKU_SSL_CLIENT))
      << "the profile's EKU, not the requested one";
  std::unique_ptr<CERTIFICATEPOLICIES, ossl::Deleter<CERTIFICATEPOLICIES_free>> policies(
      static_cast<CERTIFICATEPOLICIES*>(::X509_get_ext_d2i(cert, NID_certificate_policies, nullptr, nullptr)));
  ASSERT_TRUE(policies);
  char oid[64] = {};
  ::OBJ_obj2txt(oid, sizeof oid, sk_POLICYINFO_value(policies.get(), 0)->policyid, 1);
  EXPECT_STREQ(oid, "1.3.6.1.4.1.55555.7.1");
  EXPECT_EQ(::ASN1_TIME_cmp_time_t(::X509_get0_notAfter(cert), wanted_end), 0) << "the shorter validity asked for";

  auto refused = test_ca.issuing->issue(input("CN=ca", extensions({{NID_basic_constraints, "critical,CA:TRUE"}})),
                                        profile, never_taken);
  ASSERT_FALSE(refused) << "issue() checks the profile itself";
  EXPECT_EQ(refused.error().code, ErrorCode::kBadCertTemplate);
}

// Without requester_validity the requester does not choose: the profile's validity is issued
// whatever shorter notAfter it asked for.
TEST_F(ProfileIssuanceTest, WithoutRequesterValidityAShorterRequestIsIgnored) {
  Profile profile;
  profile.validity = std::chrono::hours(24 * 30);
  auto in = input("CN=device");
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  in.requested_not_after = now + 7 * 86400;
  auto issued = test_ca.issuing->issue(in, profile, never_taken);
  ASSERT_TRUE(issued) << issued.error().message;
  int days = 0, seconds = 0;
  ASSERT_EQ(::ASN1_TIME_diff(&days, &seconds, nullptr, ::X509_get0_notAfter(issued->certificate.get())), 1);
  EXPECT_GE(days, 29) << "the profile's 30 days, not the 7 asked for";
}

}  // namespace
}  // namespace enrolld::ca
