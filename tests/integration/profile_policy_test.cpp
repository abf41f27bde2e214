// Profile policy with real clients, against the demo's tls-server profile (names below
// devices.example or loopback addresses, 90 days, P-256 or RSA-2048, serverAuth): every refusal
// of the issue's list comes back with its specific reason over CMP (openssl cmp) and EST
// (curl), and nothing is issued; what passes is issued as the profile says; a request that the
// review list matches waits for an officer.
#include <gtest/gtest.h>

#include "est_client.h"

namespace enrolld::integration {
namespace {

struct PolicyRow {
  const char* name;
  std::vector<std::string> csr_extensions;  // openssl req -addext values
  const char* key;                          // "ec" or "rsa1024"
  const char* cmp_failure;                  // PKIFailureInfo openssl cmp prints
  const char* reason;                       // what the refusal says (CMP statusString, EST body)
};

class ProfilePolicyTest : public EstTest, public ::testing::WithParamInterface<PolicyRow> {
 protected:
  fs::path key_for(const PolicyRow& row, const std::string& name) const {
    if (std::string(row.key) == "ec") return make_ec_key(name + ".key");
    const fs::path key = work() / (name + ".key");
    RunResult r = openssl({"genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", key.string()});
    EXPECT_TRUE(r.ok()) << r.describe();
    return key;
  }

  fs::path csr_for(const PolicyRow& row, const fs::path& key, const std::string& name) const {
    std::vector<std::string> extra;
    for (const auto& ext : row.csr_extensions) extra.insert(extra.end(), {"-addext", ext});
    return make_der_csr(key, "/CN=" + name, name + ".csr.der", extra);
  }
};

TEST_P(ProfilePolicyTest, CmpAndEstRefuseWithTheSpecificReasonAndIssueNothing) {
  const PolicyRow& row = GetParam();
  const int before = demo().cert_count();
  ASSERT_GE(before, 0);
  const fs::path key = key_for(row, row.name);
  const fs::path csr = csr_for(row, key, row.name);

  CmpCall call{"p10cr",
               endpoints().cmp_url + "/p/tls-server",
               endpoints().ref,
               endpoints().secret,
               {},
               {},
               csr,
               work() / "cmp.pem",
               {"-unprotected_errors"}};
  RunResult cmp = openssl_cmp(call);
  EXPECT_NE(cmp.exit_code, 0) << cmp.describe();
  EXPECT_TRUE(contains(cmp.both(), std::string("PKIFailureInfo: ") + row.cmp_failure)) << cmp.describe();
  EXPECT_TRUE(contains(cmp.both(), row.reason)) << cmp.describe();

  HttpReply est = post_basic("simpleenroll", base64_of(csr), "tls-server");
  EXPECT_EQ(est.status, 403) << est.describe();
  EXPECT_TRUE(contains(est.body, row.reason)) << est.describe();

  EXPECT_EQ(demo().cert_count(), before) << "a refused request issues nothing";
}

INSTANTIATE_TEST_SUITE_P(
    Rows, ProfilePolicyTest,
    ::testing::Values(
        PolicyRow{"ca_true",
                  {"subjectAltName=DNS:a.devices.example", "basicConstraints=critical,CA:TRUE"},
                  "ec",
                  "badCertTemplate",
                  "cA:TRUE"},
        PolicyRow{"key_cert_sign",
                  {"subjectAltName=DNS:a.devices.example", "keyUsage=keyCertSign"},
                  "ec",
                  "badCertTemplate",
                  "keyCertSign or cRLSign"},
        PolicyRow{"crl_sign",
                  {"subjectAltName=DNS:a.devices.example", "keyUsage=digitalSignature,cRLSign"},
                  "ec",
                  "badCertTemplate",
                  "keyCertSign or cRLSign"},
        PolicyRow{"unknown_critical",
                  {"subjectAltName=DNS:a.devices.example", "1.3.6.1.4.1.55555.9=critical,DER:0500"},
                  "ec",
                  "badCertTemplate",
                  "1.3.6.1.4.1.55555.9"},
        PolicyRow{
            "dns_outside", {"subjectAltName=DNS:www.evil.example"}, "ec", "badCertTemplate", "DNS:www.evil.example"},
        PolicyRow{"ip_outside", {"subjectAltName=IP:192.0.2.1"}, "ec", "badCertTemplate", "IP:192.0.2.1"},
        PolicyRow{"no_san", {}, "ec", "badCertTemplate", "requires a subjectAltName"},
        PolicyRow{"key_too_small", {"subjectAltName=DNS:a.devices.example"}, "rsa1024", "badAlg", "1024-bit"}),
    [](const ::testing::TestParamInfo<PolicyRow>& row_info) { return std::string(row_info.param.name); });

class ProfileIssuanceTest : public EstTest {};

// RFC 4211 5: the requester's OptionalValidity; the profile allows 90 days.
TEST_F(ProfileIssuanceTest, AValidityBeyondTheProfileIsRefusedAndAShorterOneHonoured) {
  const fs::path key = make_ec_key("validity.key");
  CmpCall call{"ir",
               endpoints().cmp_url + "/p/tls-server",
               endpoints().ref,
               endpoints().secret,
               key,
               "/CN=validity",
               {},
               work() / "long.pem",
               {"-sans", "v.devices.example", "-days", "400", "-unprotected_errors"}};
  RunResult too_long = openssl_cmp(call);
  EXPECT_NE(too_long.exit_code, 0) << too_long.describe();
  EXPECT_TRUE(contains(too_long.both(), "PKIFailureInfo: badCertTemplate")) << too_long.describe();
  EXPECT_TRUE(contains(too_long.both(), "longer than the 90 days")) << too_long.describe();

  call.certout = work() / "short.pem";
  call.extra = {"-sans", "v.devices.example", "-days", "30"};
  RunResult shorter = openssl_cmp(call);
  ASSERT_TRUE(shorter.ok()) << shorter.describe();
  RunResult within = openssl({"x509", "-in", call.certout.string(), "-noout", "-checkend", std::to_string(31 * 86400)});
  EXPECT_FALSE(within.ok()) << "expires within 31 days: the 30 asked for, not the profile's 90\n" << within.describe();
  RunResult text = openssl({"x509", "-in", call.certout.string(), "-noout", "-ext", "extendedKeyUsage,keyUsage"});
  EXPECT_TRUE(contains(text.out, "TLS Web Server Authentication")) << text.describe();
  EXPECT_TRUE(contains(text.out, "Key Encipherment")) << text.describe();
}

// Seed 004's manual review list: a name below review.devices.example waits for an officer even
// under a profile that issues at once.
TEST_F(ProfileIssuanceTest, ARequestTheReviewListMatchesWaitsForAnOfficer) {
  auto [key, csr] = key_and_csr("reviewed", "/CN=reviewed", {"-addext", "subjectAltName=DNS:x.review.devices.example"});
  HttpReply held = post_basic("simpleenroll", csr, "tls-server");
  EXPECT_EQ(held.status, 202) << held.describe();
  EXPECT_TRUE(held.header("Retry-After").has_value()) << held.describe();
  RunResult pending = demo().enrollctl({"pending"});
  EXPECT_TRUE(contains(pending.out, "CN=reviewed")) << pending.describe();

  auto [other_key, other_csr] =
      key_and_csr("not-reviewed", "/CN=not-reviewed", {"-addext", "subjectAltName=DNS:x.devices.example"});
  HttpReply issued = post_basic("simpleenroll", other_csr, "tls-server");
  EXPECT_EQ(issued.status, 200) << issued.describe();
}

}  // namespace
}  // namespace enrolld::integration
