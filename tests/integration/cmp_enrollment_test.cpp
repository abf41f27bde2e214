// CMP enrollment against a running `enrolld demo`, driven by Debian's `openssl cmp`.

#include <gtest/gtest.h>

#include "demo.h"

namespace enrolld::integration {
namespace {

// ---- the success path, exactly as the demo tells its user -------------------------------

class CmpEnrollmentTest : public DemoTest {};

// The lines the demo prints under "Enroll with:" (the last start's), without indentation.
std::vector<std::string> printed_instructions(const std::string& output) {
  std::vector<std::string> commands;
  bool in_block = false;
  for (const auto& line : lines_of(output)) {
    if (trim(line) == "Enroll with:") {
      commands.clear();
      in_block = true;
    } else if (in_block && line.rfind("  ", 0) == 0) {
      commands.push_back(trim(line));
    } else {
      in_block = false;
    }
  }
  return commands;
}

TEST_F(CmpEnrollmentTest, IrAsPrintedByTheDemoIssuesAVerifiableCertificate) {
  const std::vector<std::string> commands = printed_instructions(demo().log());
  ASSERT_EQ(commands.size(), 3u) << demo().log();
  // Only these known commands are run below.
  ASSERT_EQ(commands[0], ". " + (demo().dir() / "endpoints.env").string());
  ASSERT_EQ(commands[1], "openssl ecparam -genkey -name prime256v1 -out device.key");
  ASSERT_EQ(commands[2],
            "openssl cmp -cmd ir -server \"$CMP_URL\" -ref \"$CMP_REF\" -secret \"pass:$CMP_SECRET\" "
            "-newkey device.key -subject /CN=device-1 -certout device.pem");
  const int before = demo().cert_count();

  // Run them as printed, in a shell, in an empty folder.
  std::string script = "set -e\ncd '" + work().string() + "'\n";
  for (const auto& c : commands) script += c + "\n";
  RunResult r = run({"sh", "-c", script}, kCommandTimeout);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_TRUE(contains(r.both(), "sending CERTCONF")) << "the client should confirm the certificate\n" << r.describe();
  EXPECT_TRUE(contains(r.both(), "received PKICONF")) << r.describe();

  const std::string serial =
      expect_properly_issued(demo(), work() / "device.pem", work() / "device.key", "CN=device-1");
  ASSERT_FALSE(serial.empty());
  EXPECT_EQ(demo().cert_count(), before + 1);
  EXPECT_TRUE(demo().wait_for_log_line({"issued txn=", "serial=" + serial, "state=waiting-for-confirmation"}))
      << demo().log();
  EXPECT_TRUE(demo().wait_for_log_line({"confirmed txn=", "serial=" + serial})) << demo().log();
}

// RFC 6712 3.6 lets a server use any path; cmp.aliases gives firmware its built-in one.
TEST_F(CmpEnrollmentTest, AConfiguredAliasPathEnrollsLikeTheWellKnownOne) {
  const fs::path key = make_ec_key("alias.key");
  const fs::path cert = work() / "alias.pem";
  RunResult r = openssl_cmp({"ir",
                             endpoints().base_url() + "/pkix",
                             endpoints().ref,
                             endpoints().secret,
                             key,
                             "/CN=via-alias",
                             {},
                             cert,
                             {}});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_FALSE(expect_properly_issued(demo(), cert, key, "CN=via-alias").empty());
}

TEST_F(CmpEnrollmentTest, EndpointsFileNamesTheDemoCaFiles) {
  const Endpoints& ep = endpoints();
  EXPECT_EQ(ep.cmp_url, "http://127.0.0.1:" + ep.http_port + "/.well-known/cmp");
  EXPECT_GT(std::stoi(ep.http_port), 0);
  // CMP_TRUST is the root CA; CMP_CHAIN is the issuing CA followed by the root.
  EXPECT_EQ(read_text(ep.trust), read_text(demo().dir() / "ca" / "root.pem"));
  EXPECT_EQ(read_text(ep.chain),
            read_text(demo().dir() / "ca" / "issuing.pem") + read_text(demo().dir() / "ca" / "root.pem"));
  RunResult issuing = openssl({"verify", "-CAfile", ep.trust, (demo().dir() / "ca" / "issuing.pem").string()});
  EXPECT_TRUE(issuing.ok()) << issuing.describe();
}

// Serials are random; about one in eight starts with a byte below 0x10, which hex-encodes
// with a leading zero. Enroll until one does (bounded), then show it by its listed serial.
TEST_F(CmpEnrollmentTest, CertShowFindsAListedSerialThatStartsWithAZeroDigit) {
  const fs::path key = make_ec_key();
  std::string serial;  // as openssl prints it: upper case, whole bytes
  fs::path cert;
  for (int attempt = 0; attempt < 100 && serial.empty(); ++attempt) {
    cert = work() / ("leading-zero-" + std::to_string(attempt) + ".pem");
    RunResult r = openssl_cmp({"ir",
                               endpoints().cmp_url,
                               endpoints().ref,
                               endpoints().secret,
                               key,
                               "/CN=leading-zero-" + std::to_string(attempt),
                               {},
                               cert,
                               {"-implicit_confirm"}});
    ASSERT_TRUE(r.ok()) << r.describe();
    std::string failure;
    const std::string printed = x509_field(cert, "serial", &failure);
    ASSERT_TRUE(failure.empty()) << failure;
    if (printed.size() > 1 && printed[0] == '0') serial = printed;
  }
  ASSERT_FALSE(serial.empty()) << "100 random serials and none began with a byte below 0x10";

  auto rows = demo().cert_list();
  ASSERT_TRUE(rows);
  auto row = std::find_if(rows->begin(), rows->end(),
                          [&](const CertRow& r) { return canonical_serial(r.serial) == canonical_serial(serial); });
  ASSERT_NE(row, rows->end()) << "serial " << serial << " is not listed";
  RunResult show = demo().enrollctl({"cert", "show", row->serial});
  EXPECT_TRUE(show.ok()) << "enrollctl cert show " << row->serial << " (as listed; openssl prints serial=" << serial
                         << ")\n"
                         << show.describe();
  EXPECT_EQ(show.out, read_text(cert));
}

// ---- enrollctl cert show with serials nobody was given ----------------------------------

struct UnknownSerialRow {
  const char* name;
  const char* serial;
};

std::ostream& operator<<(std::ostream& out, const UnknownSerialRow& row) {
  return out << row.name;
}

class CertShowUnknownTest : public DemoTest, public ::testing::WithParamInterface<UnknownSerialRow> {};

TEST_P(CertShowUnknownTest, FailsWithNonZeroExit) {
  // Issue one so the store is not empty.
  const int before = demo().cert_count();
  const fs::path key = make_ec_key();
  RunResult issued = openssl_cmp(
      {"ir", endpoints().cmp_url, endpoints().ref, endpoints().secret, key, "/CN=show", {}, work() / "show.pem", {}});
  ASSERT_TRUE(issued.ok()) << issued.describe();
  ASSERT_EQ(demo().cert_count(), before + 1);

  RunResult r = demo().enrollctl({"cert", "show", GetParam().serial});
  EXPECT_NE(r.exit_code, 0) << r.describe();
  EXPECT_FALSE(r.timed_out) << r.describe();
  EXPECT_FALSE(contains(r.out, "BEGIN CERTIFICATE")) << r.describe();
}

INSTANTIATE_TEST_SUITE_P(Rows, CertShowUnknownTest,
                         ::testing::Values(UnknownSerialRow{"one", "1"}, UnknownSerialRow{"deadbeef", "deadbeef"},
                                           UnknownSerialRow{"max_127_bits", "7fffffffffffffffffffffffffffffff"},
                                           UnknownSerialRow{"not_hex", "not-a-serial"}),
                         [](const ::testing::TestParamInfo<UnknownSerialRow>& row_info) {
                           return std::string(row_info.param.name);
                         });

// ---- other ways to enroll -----------------------------------------------------------------

struct VariantRow {
  const char* name;
  const char* cmd;                 // ir, cr, p10cr
  const char* path;                // appended to CMP_URL ("" or "/p/default")
  const char* subject;             // as given to openssl ("/CN=...")
  const char* expected_subject;    // RFC 2253, as openssl x509 -nameopt RFC2253 and enrollctl print it
  std::vector<std::string> extra;  // more openssl cmp options
  bool implicit_confirm;           // requested (and the demo grants it)
};

std::ostream& operator<<(std::ostream& out, const VariantRow& row) {
  return out << row.name;
}

class CmpVariantTest : public DemoTest, public ::testing::WithParamInterface<VariantRow> {};

TEST_P(CmpVariantTest, IssuesAVerifiableCertificate) {
  const VariantRow& row = GetParam();
  const int before = demo().cert_count();
  const fs::path key = make_ec_key();
  CmpCall call;
  call.cmd = row.cmd;
  call.server = endpoints().cmp_url + row.path;
  call.ref = endpoints().ref;
  call.secret = endpoints().secret;
  if (std::string(row.cmd) == "p10cr") {
    call.csr = make_csr(key, row.subject);
  } else {
    call.newkey = key;
    call.subject = row.subject;
  }
  call.certout = work() / "cert.pem";
  call.extra = row.extra;
  if (row.implicit_confirm) call.extra.push_back("-implicit_confirm");

  RunResult r = openssl_cmp(call);
  ASSERT_TRUE(r.ok()) << r.describe();
  const std::string reply = std::string(row.cmd) == "ir" ? "received IP" : "received CP";
  EXPECT_TRUE(contains(r.both(), reply)) << r.describe();
  if (row.implicit_confirm) {
    EXPECT_FALSE(contains(r.both(), "CERTCONF")) << "implicit confirmation was granted: no certConf\n" << r.describe();
  } else {
    EXPECT_TRUE(contains(r.both(), "sending CERTCONF")) << r.describe();
    EXPECT_TRUE(contains(r.both(), "received PKICONF")) << r.describe();
  }

  const std::string serial = expect_properly_issued(demo(), call.certout, key, row.expected_subject);
  ASSERT_FALSE(serial.empty());
  EXPECT_EQ(demo().cert_count(), before + 1);
  if (row.implicit_confirm) {
    EXPECT_TRUE(demo().wait_for_log_line({"issued txn=", "serial=" + serial, "state=confirmed"})) << demo().log();
  } else {
    EXPECT_TRUE(demo().wait_for_log_line({"issued txn=", "serial=" + serial, "state=waiting-for-confirmation"}))
        << demo().log();
    EXPECT_TRUE(demo().wait_for_log_line({"confirmed txn=", "serial=" + serial})) << demo().log();
  }
}

// OpenSSL 3.0's `openssl cmp -mac` takes the algorithm's long name (hmacWithSHA256); the
// name "hmac-sha256" is not recognized by this client ("MAC algorithm name not recognized").
INSTANTIATE_TEST_SUITE_P(
    Rows, CmpVariantTest,
    ::testing::Values(
        VariantRow{"ir", "ir", "", "/CN=ir-device", "CN=ir-device", {}, false},
        VariantRow{"ir_multi_rdn_subject",
                   "ir",
                   "",
                   "/C=DE/O=Acme Devices/OU=Line 4/CN=sensor-17",
                   "CN=sensor-17,OU=Line 4,O=Acme Devices,C=DE",
                   {},
                   false},
        VariantRow{"cr", "cr", "", "/CN=cr-device", "CN=cr-device", {}, false},
        VariantRow{"p10cr", "p10cr", "", "/O=Acme/CN=p10-device", "CN=p10-device,O=Acme", {}, false},
        VariantRow{"ir_implicit_confirm", "ir", "", "/CN=implicit-ir", "CN=implicit-ir", {}, true},
        VariantRow{"cr_implicit_confirm", "cr", "", "/CN=implicit-cr", "CN=implicit-cr", {}, true},
        VariantRow{"p10cr_implicit_confirm", "p10cr", "", "/CN=implicit-p10", "CN=implicit-p10", {}, true},
        VariantRow{"ir_mac_hmac_sha256", "ir", "", "/CN=mac-256", "CN=mac-256", {"-mac", "hmacWithSHA256"}, false},
        VariantRow{"ir_mac_hmac_sha512_owf_sha512",
                   "ir",
                   "",
                   "/CN=mac-512",
                   "CN=mac-512",
                   {"-mac", "hmacWithSHA512", "-digest", "sha512"},
                   false},
        VariantRow{"cr_mac_hmac_sha256", "cr", "", "/CN=mac-cr", "CN=mac-cr", {"-mac", "hmacWithSHA256"}, false},
        VariantRow{"ir_profile_default", "ir", "/p/default", "/CN=profile-ir", "CN=profile-ir", {}, false},
        VariantRow{"cr_profile_default", "cr", "/p/default", "/CN=profile-cr", "CN=profile-cr", {}, false},
        VariantRow{"p10cr_profile_default", "p10cr", "/p/default", "/CN=profile-p10", "CN=profile-p10", {}, false},
        VariantRow{"ir_profile_default_implicit_confirm",
                   "ir",
                   "/p/default",
                   "/CN=profile-implicit",
                   "CN=profile-implicit",
                   {},
                   true}),
    [](const ::testing::TestParamInfo<VariantRow>& row_info) { return std::string(row_info.param.name); });

// ---- requests that must fail, and leave nothing behind ------------------------------------

enum class Credential { kGood, kWrongSecret, kSecretTruncated, kUnknownReference, kReferenceOtherCase };

struct RejectionRow {
  const char* name;
  const char* cmd;
  const char* path;
  Credential credential;
  const char* expected;  // in openssl's output
};

std::ostream& operator<<(std::ostream& out, const RejectionRow& row) {
  return out << row.name;
}

class CmpRejectionTest : public DemoTest, public ::testing::WithParamInterface<RejectionRow> {};

TEST_P(CmpRejectionTest, FailsWithTheRightReasonAndStoresNothing) {
  const RejectionRow& row = GetParam();
  const int before = demo().cert_count();
  ASSERT_GE(before, 0);
  const fs::path key = make_ec_key();
  CmpCall call;
  call.cmd = row.cmd;
  call.server = endpoints().cmp_url + row.path;
  call.ref = endpoints().ref;
  call.secret = endpoints().secret;
  switch (row.credential) {
    case Credential::kGood: break;
    case Credential::kWrongSecret: call.secret = "not-the-secret"; break;
    case Credential::kSecretTruncated: call.secret.pop_back(); break;
    case Credential::kUnknownReference: call.ref = "no-such-device"; break;
    case Credential::kReferenceOtherCase:
      for (auto& c : call.ref) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      ASSERT_NE(call.ref, endpoints().ref) << "the reference has no letters to change";
      break;
  }
  if (std::string(row.cmd) == "p10cr") {
    call.csr = make_csr(key, "/CN=rejected");
  } else {
    call.newkey = key;
    call.subject = "/CN=rejected";
  }
  call.certout = work() / "cert.pem";
  call.extra = {"-unprotected_errors"};

  RunResult r = openssl_cmp(call);
  EXPECT_NE(r.exit_code, 0) << r.describe();
  EXPECT_FALSE(r.timed_out) << r.describe();
  EXPECT_TRUE(contains(r.both(), row.expected)) << "expected '" << row.expected << "'\n" << r.describe();
  EXPECT_FALSE(fs::exists(call.certout)) << "a certificate was written";
  EXPECT_EQ(demo().cert_count(), before) << "a failed request stored a certificate";
}

INSTANTIATE_TEST_SUITE_P(
    Rows, CmpRejectionTest,
    ::testing::Values(
        RejectionRow{"ir_wrong_secret", "ir", "", Credential::kWrongSecret, "PKIFailureInfo: badMessageCheck"},
        RejectionRow{"cr_wrong_secret", "cr", "", Credential::kWrongSecret, "PKIFailureInfo: badMessageCheck"},
        RejectionRow{"p10cr_wrong_secret", "p10cr", "", Credential::kWrongSecret, "PKIFailureInfo: badMessageCheck"},
        RejectionRow{"ir_truncated_secret", "ir", "", Credential::kSecretTruncated, "PKIFailureInfo: badMessageCheck"},
        RejectionRow{"ir_unknown_reference", "ir", "", Credential::kUnknownReference,
                     "PKIFailureInfo: badMessageCheck"},
        RejectionRow{"cr_unknown_reference", "cr", "", Credential::kUnknownReference,
                     "PKIFailureInfo: badMessageCheck"},
        RejectionRow{"p10cr_unknown_reference", "p10cr", "", Credential::kUnknownReference,
                     "PKIFailureInfo: badMessageCheck"},
        RejectionRow{"ir_reference_other_case", "ir", "", Credential::kReferenceOtherCase,
                     "PKIFailureInfo: badMessageCheck"},
        RejectionRow{"ir_wrong_secret_profile_default", "ir", "/p/default", Credential::kWrongSecret,
                     "PKIFailureInfo: badMessageCheck"},
        RejectionRow{"ir_wrong_secret_unknown_profile", "ir", "/p/gold", Credential::kWrongSecret,
                     "PKIFailureInfo: badMessageCheck"},
        RejectionRow{"ir_unknown_profile", "ir", "/p/gold", Credential::kGood, "PKIFailureInfo: badCertTemplate"},
        RejectionRow{"cr_unknown_profile", "cr", "/p/gold", Credential::kGood, "PKIFailureInfo: badCertTemplate"},
        RejectionRow{"p10cr_unknown_profile", "p10cr", "/p/gold", Credential::kGood, "PKIFailureInfo: badCertTemplate"},
        RejectionRow{"ir_profile_other_case", "ir", "/p/Default", Credential::kGood, "PKIFailureInfo: badCertTemplate"},
        RejectionRow{"ir_profile_with_suffix", "ir", "/p/default2", Credential::kGood,
                     "PKIFailureInfo: badCertTemplate"},
        RejectionRow{"ir_profile_dotted", "ir", "/p/default.v2", Credential::kGood, "PKIFailureInfo: badCertTemplate"}),
    [](const ::testing::TestParamInfo<RejectionRow>& row_info) { return std::string(row_info.param.name); });

}  // namespace
}  // namespace enrolld::integration
