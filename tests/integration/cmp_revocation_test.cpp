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
