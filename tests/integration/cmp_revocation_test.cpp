// rr with Debian's openssl cmp: revocation is effective at once in the store and audited.
#include <gtest/gtest.h>

#include "demo.h"

namespace enrolld::integration {
namespace {

class CmpRevocationTest : public DemoTest {
 protected:
  RunResult rr(const fs::path& cert, const std::string& reason) const {
    return openssl({"cmp", "-cmd", "rr", "-server", endpoints().cmp_url, "-ref", endpoints().ref, "-secret",
                    "pass:" + endpoints().secret, "-oldcert", cert.string(), "-revreason", reason,
                    "-unprotected_errors"});
  }

  fs::path enroll(const std::string& subject) const {
    const fs::path key = make_ec_key(subject + ".key");
    const fs::path cert = work() / (subject + ".pem");
    RunResult r = openssl({"cmp", "-cmd", "ir", "-server", endpoints().cmp_url, "-ref", endpoints().ref, "-secret",
                           "pass:" + endpoints().secret, "-newkey", key.string(), "-subject", "/CN=" + subject,
                           "-certout", cert.string()});
    EXPECT_TRUE(r.ok()) << r.describe();
    return cert;
  }

  std::string status_of(const std::string& subject) const {
    RunResult list =
        run({ENROLLCTL_BIN, "--config", (demo().dir() / "enrolld.toml").string(), "cert", "list"}, kCommandTimeout);
    EXPECT_TRUE(list.ok()) << list.describe();
    for (const auto& line : lines_of(list.out)) {
      if (contains(line, "CN=" + subject)) return contains(line, " revoked ") ? "revoked" : "valid";
    }
    return "absent";
  }
};

TEST_F(CmpRevocationTest, RevocationIsEffectiveAtOnceAndAudited) {
  const fs::path cert = enroll("revoke-me");
  ASSERT_EQ(status_of("revoke-me"), "valid");
  RunResult r = rr(cert, "1");
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_TRUE(contains(r.both(), "revocation accepted")) << r.describe();
  EXPECT_EQ(status_of("revoke-me"), "revoked");

  RunResult audit =
      run({ENROLLCTL_BIN, "--config", (demo().dir() / "enrolld.toml").string(), "audit", "list"}, kCommandTimeout);
  ASSERT_TRUE(audit.ok()) << audit.describe();
  EXPECT_TRUE(contains(audit.out, "revoke")) << audit.out;
  EXPECT_TRUE(contains(audit.out, "reason=1")) << audit.out;
  EXPECT_TRUE(contains(audit.out, "mac:" + endpoints().ref)) << audit.out;
}

TEST_F(CmpRevocationTest, RevokingAgainIsCertRevoked) {
  const fs::path cert = enroll("revoke-twice");
  ASSERT_TRUE(rr(cert, "4").ok());
  RunResult again = rr(cert, "4");
  EXPECT_FALSE(again.ok());
  EXPECT_TRUE(contains(again.both(), "certRevoked")) << again.describe();
}

TEST_F(CmpRevocationTest, WrongSecretRevokesNothing) {
  const fs::path cert = enroll("keep-me");
  RunResult r = openssl({"cmp", "-cmd", "rr", "-server", endpoints().cmp_url, "-ref", endpoints().ref, "-secret",
                         "pass:wrong", "-oldcert", cert.string(), "-unprotected_errors"});
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.both(), "badMessageCheck")) << r.describe();
  EXPECT_EQ(status_of("keep-me"), "valid");
}

}  // namespace
}  // namespace enrolld::integration

// The repository (RFC 5280 4.2.1.13): curl fetches the CRL and CA certificates over HTTP, and
// openssl verify -crl_check refuses a certificate revoked by rr a moment before.
namespace enrolld::integration {
namespace {

class RepositoryTest : public CmpRevocationTest {
 protected:
  RunResult fetch(const std::string& url, const fs::path& out) const {
    return run({"curl", "-sS", "--fail", "-o", out.string(), "-w", "%{content_type}", url}, kCommandTimeout);
  }
};

TEST_F(RepositoryTest, TheServedCrlMakesOpenSslRefuseARevokedCertificate) {
  const fs::path kept = enroll("kept-valid");
  const fs::path revoked = enroll("revoked-then-checked");
  ASSERT_TRUE(rr(revoked, "4").ok());
  // A CRL is signed at most once a second (its thisUpdate must grow), and the publisher thread
  // may have signed one in the second of the revocation: it is on the CRL of the next second.
  std::this_thread::sleep_for(1100ms);

  const fs::path crl_der = work() / "issuing.crl";
  RunResult got = fetch(endpoints().crl_url, crl_der);
  ASSERT_TRUE(got.ok()) << got.describe();
  EXPECT_EQ(got.out, "application/pkix-crl");
  const fs::path crl_pem = work() / "issuing.crl.pem";
  ASSERT_TRUE(openssl({"crl", "-inform", "DER", "-in", crl_der.string(), "-out", crl_pem.string()}).ok());

  RunResult refused =
      openssl({"verify", "-crl_check", "-CAfile", endpoints().chain, "-CRLfile", crl_pem.string(), revoked.string()});
  EXPECT_FALSE(refused.ok());
  EXPECT_TRUE(contains(refused.both(), "certificate revoked")) << refused.describe();
  RunResult accepted =
      openssl({"verify", "-crl_check", "-CAfile", endpoints().chain, "-CRLfile", crl_pem.string(), kept.string()});
  EXPECT_TRUE(accepted.ok()) << accepted.describe();

  for (const char* name : {"issuing.crt", "root.crt"}) {
    const fs::path cert = work() / name;
    RunResult ca = fetch(endpoints().repo_url + "/" + name, cert);
    ASSERT_TRUE(ca.ok()) << ca.describe();
    EXPECT_EQ(ca.out, "application/pkix-cert");
    EXPECT_TRUE(openssl({"x509", "-inform", "DER", "-in", cert.string(), "-noout"}).ok());
  }
}

}  // namespace
}  // namespace enrolld::integration

// RFC 9483 4.3.4 with OpenSSL 3.5's client: genm crlStatusList -> crls. The CRL lists what was
// revoked, verifies with the issuing CA, and a client that has it is told nothing is newer.
namespace enrolld::integration {
namespace {

class CmpCrlUpdateTest : public CmpRevocationTest {
 protected:
  static std::string openssl35() { return ENROLLD_OPENSSL35; }

  RunResult crl_genm(std::vector<std::string> extra) const {
    std::vector<std::string> args = {
        openssl35(),         "cmp",          "-cmd",          "genm",    "-server",
        endpoints().cmp_url, "-ref",         endpoints().ref, "-secret", "pass:" + endpoints().secret,
        "-infotype",         "crlStatusList"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run(std::move(args), kCommandTimeout);
  }
};

TEST_F(CmpCrlUpdateTest, TheCrlListsTheRevokedCertificateAndAnUpToDateClientGetsNothingNew) {
  if (openssl35().empty()) GTEST_SKIP() << "ENROLLD_OPENSSL35 not configured (scripts/test.sh sets it)";
  const fs::path revoked = enroll("on-the-crl");
  ASSERT_TRUE(rr(revoked, "1").ok());
  std::this_thread::sleep_for(1100ms);  // on the CRL of the next second at the latest
  const fs::path crl = work() / "crl.der";
  RunResult got = crl_genm({"-crlcert", revoked.string(), "-crlout", crl.string()});
  ASSERT_TRUE(got.ok()) << got.describe();
  ASSERT_TRUE(fs::exists(crl)) << got.describe();

  RunResult text = openssl({"crl", "-inform", "DER", "-in", crl.string(), "-noout", "-text"});
  ASSERT_TRUE(text.ok()) << text.describe();
  RunResult serial = openssl({"x509", "-in", revoked.string(), "-noout", "-serial"});
  ASSERT_TRUE(serial.ok());
  const std::string hex = trim(serial.out.substr(serial.out.find('=') + 1));
  EXPECT_TRUE(contains(text.out, hex)) << text.out;
  EXPECT_TRUE(contains(text.out, "Key Compromise")) << text.out;
  RunResult verified = openssl({"crl", "-inform", "DER", "-in", crl.string(), "-noout", "-CAfile", endpoints().chain});
  EXPECT_TRUE(contains(verified.both(), "verify OK")) << verified.describe();

  const fs::path again = work() / "crl-again.der";
  RunResult up_to_date = crl_genm({"-oldcrl", crl.string(), "-crlout", again.string()});
  ASSERT_TRUE(up_to_date.ok()) << up_to_date.describe();
  EXPECT_FALSE(fs::exists(again)) << up_to_date.describe();
}

}  // namespace
}  // namespace enrolld::integration
