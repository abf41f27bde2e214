// The repository pushed out (seed 004: CRLs and certificates for a CDN; issue 5: LDAP): the demo
// publishes to a directory, and, restarted with [publish.ldap], to a real slapd; ldapsearch
// reads back what it holds. A stopped slapd holds up nothing: issuance goes on, the backlog shows
// in `enrollctl status`, and the directory catches up once slapd is back.
#include <gtest/gtest.h>

#include "demo.h"
#include "support/slapd_fixture.h"

namespace enrolld::integration {
namespace {

constexpr auto kPublishWait = 15s;  // the publisher runs every second; its back-off tops out later

class PublishingTest : public DemoTest {
 protected:
  static std::string serial_of(const fs::path& cert) {
    RunResult r = openssl({"x509", "-in", cert.string(), "-noout", "-serial"});
    std::string hex = lower(trim(r.out.substr(r.out.find('=') + 1)));
    return hex.size() % 2 == 1 ? "0" + hex : hex;
  }

  // DER of a PEM certificate, as the publishers write it.
  std::string der_of(const fs::path& pem) const {
    const fs::path der = work() / (pem.stem().string() + ".der");
    RunResult r = openssl({"x509", "-in", pem.string(), "-outform", "DER", "-out", der.string()});
    EXPECT_TRUE(r.ok()) << r.describe();
    return read_text(der);
  }

  // Waits (bounded) until `done` holds.
  template <typename Done>
  static bool eventually(Done done, std::chrono::seconds limit = kPublishWait) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    do {
      if (done()) return true;
      std::this_thread::sleep_for(200ms);
    } while (std::chrono::steady_clock::now() < deadline);
    return false;
  }

  // The serials on the CRL in `der_file`, upper-case hex as openssl prints them.
  RunResult crl_text(const fs::path& der_file) const {
    return openssl({"crl", "-inform", "DER", "-in", der_file.string(), "-noout", "-text"});
  }
};

TEST_F(PublishingTest, TheDirectoryGetsCaCertificatesCrlsAndIssuedCertificates) {
  const fs::path www = endpoints().publish_dir;
  const fs::path cert = enroll_with_mac("published-to-dir");
  const fs::path published = www / "certs" / (serial_of(cert) + ".crt");
  EXPECT_TRUE(eventually([&] { return fs::exists(published); })) << published;
  EXPECT_EQ(read_text(published), der_of(cert));
  EXPECT_TRUE(eventually([&] { return fs::exists(www / "issuing.crt") && fs::exists(www / "root.crt"); }));

  ASSERT_TRUE(demo().enrollctl({"revoke", serial_of(cert), "--reason", "keyCompromise"}).ok());
  EXPECT_TRUE(eventually([&] {
    return fs::exists(www / "issuing.crl") && contains(crl_text(www / "issuing.crl").out, "Key Compromise");
  })) << crl_text(www / "issuing.crl").describe();

  RunResult status = demo().enrollctl({"status"});
  ASSERT_TRUE(status.ok()) << status.describe();
  EXPECT_TRUE(contains(status.out, "enrolld demo issuing CA")) << status.out;
  EXPECT_TRUE(contains(status.out, "CRL        full number")) << status.out;
  EXPECT_TRUE(contains(status.out, "publisher  directory: 0 waiting")) << status.out;
}

// The demo restarted with [publish.ldap] pointing at a slapd of the suite's own.
class LdapPublishingTest : public PublishingTest {
 protected:
  static constexpr const char* kBase = "ou=pki,dc=example,dc=org";

  static void SetUpTestSuite() {
    DemoTest::SetUpTestSuite();
    if (!s_start_error.empty()) return;
    try {
      s_slapd = std::make_unique<testing::Slapd>();
    } catch (const std::exception& e) {
      s_start_error = std::string("slapd: ") + e.what();
      return;
    }
    stop_demo_expecting_success(demo());
    const fs::path password = demo().dir() / "ldap-password";
    { std::ofstream(password) << s_slapd->password() << "\n"; }
    fs::permissions(password, fs::perms::owner_read | fs::perms::owner_write);
    std::ofstream(demo().config(), std::ios::app)
        << "\n[publish.ldap]\nurl = \"" << s_slapd->url() << "\"\nbind_dn = \"" << s_slapd->bind_dn()
        << "\"\npassword_file = \"ldap-password\"\nbase_dn = \"" << kBase << "\"\ncertificates = true\n"
        << "timeout_seconds = 2\n";
    s_start_error = demo().start();
  }
  static void TearDownTestSuite() {
    DemoTest::TearDownTestSuite();
    s_slapd.reset();
  }

  // `ldapsearch` for one attribute of `dn`, the value written to `out` (DER); false if absent.
  bool fetch(const std::string& dn, const std::string& attribute, const fs::path& out) const {
    std::vector<std::string> args{"ldapsearch"};
    for (const auto& a : s_slapd->ldap_client_args()) args.push_back(a);
    args.insert(args.end(), {"-LLL", "-o", "ldif-wrap=no", "-b", dn, "-s", "base", "-t", "-T", work().string(),
                             "(objectClass=*)", attribute});
    RunResult r = run(std::move(args), kCommandTimeout);
    if (!r.ok()) return false;
    // -t writes each value to a file and prints "attribute:< file://PATH".
    const auto at = r.out.find("file://");
    if (at == std::string::npos) return false;
    const fs::path file = trim(r.out.substr(at + 7, r.out.find('\n', at) - at - 7));
    std::error_code ec;
    fs::copy_file(file, out, fs::copy_options::overwrite_existing, ec);
    return !ec;
  }

  static inline std::unique_ptr<testing::Slapd> s_slapd;
};

TEST_F(LdapPublishingTest, IssuedCertificatesAndCrlsLandInTheDirectoryAndCatchUpAfterAnOutage) {
  const fs::path cert = enroll_with_mac("published-to-ldap");
  const std::string serial = serial_of(cert);
  const std::string entry = "cn=" + serial + ",ou=certificates," + kBase;
  const fs::path got = work() / "from-ldap.der";
  EXPECT_TRUE(eventually([&] { return fetch(entry, "userCertificate;binary", got); })) << s_slapd->log();
  EXPECT_EQ(read_text(got), der_of(cert));
  const fs::path ca = work() / "ca-from-ldap.der";
  EXPECT_TRUE(eventually([&] { return fetch(std::string("cn=issuing-ca,") + kBase, "cACertificate;binary", ca); }));
  RunResult ca_text = openssl({"x509", "-inform", "DER", "-in", ca.string(), "-noout", "-subject"});
  EXPECT_TRUE(contains(ca_text.out, "enrolld demo issuing CA")) << ca_text.describe();

  // slapd goes down: revocation and issuance go on, the backlog shows.
  s_slapd->stop();
  RunResult revoked = demo().enrollctl({"revoke", serial, "--reason", "superseded"});
  ASSERT_TRUE(revoked.ok()) << revoked.describe();
  const fs::path while_down = enroll_with_mac("issued-while-ldap-down");
  EXPECT_TRUE(fs::exists(while_down)) << "issuance never waits for a publisher";
  RunResult status;
  EXPECT_TRUE(eventually([&] {
    status = demo().enrollctl({"status"});
    return contains(status.out, "publisher  ldap: ") && !contains(status.out, "publisher  ldap: 0 waiting") &&
           contains(status.out, "failed attempts");
  })) << status.describe();

  // Back up: the directory catches up (the publisher's back-off is short after few attempts).
  s_slapd->start();
  const fs::path crl = work() / "crl-from-ldap.der";
  RunResult text;
  EXPECT_TRUE(eventually(
      [&] {
        if (!fetch(std::string("cn=issuing-ca,") + kBase, "certificateRevocationList;binary", crl)) return false;
        text = crl_text(crl);
        return contains(text.out, "Superseded");
      },
      60s))
      << text.describe() << demo().log();
  const fs::path later = work() / "later.der";
  EXPECT_TRUE(eventually([&] {
    return fetch("cn=" + serial_of(while_down) + ",ou=certificates," + kBase, "userCertificate;binary", later);
  }));
  EXPECT_TRUE(eventually([&] {
    status = demo().enrollctl({"status"});
    return contains(status.out, "publisher  ldap: 0 waiting");
  })) << status.describe();
}

}  // namespace
}  // namespace enrolld::integration
