// Certificate profile selection by generalInfo certProfile (RFC 9480 2.4), which OpenSSL 3.5's
// client sends with -profile, and its agreement with the profile path.
#include <gtest/gtest.h>

#include "demo.h"

namespace enrolld::integration {
namespace {

class CmpProfileTest : public DemoTest {
 protected:
  RunResult ir35(const std::string& url, const std::string& profile, const std::string& subject) const {
    const fs::path key = make_ec_key(subject + ".key");
    return run({ENROLLD_OPENSSL35, "cmp", "-cmd", "ir", "-server", url, "-ref", endpoints().ref, "-secret",
                "pass:" + endpoints().secret, "-newkey", key.string(), "-subject", "/CN=" + subject, "-profile",
                profile, "-certout", (work() / (subject + ".pem")).string(), "-unprotected_errors"},
               kCommandTimeout);
  }
  static bool have_openssl35() { return !std::string(ENROLLD_OPENSSL35).empty(); }
};

TEST_F(CmpProfileTest, CertProfileInTheHeaderSelectsTheProfile) {
  if (!have_openssl35()) GTEST_SKIP() << "ENROLLD_OPENSSL35 not configured (scripts/test.sh sets it)";
  RunResult r = ir35(endpoints().cmp_url, "default", "by-header");
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_TRUE(fs::exists(work() / "by-header.pem"));
}

TEST_F(CmpProfileTest, AnUnknownProfileIsBadCertTemplate) {
  if (!have_openssl35()) GTEST_SKIP() << "ENROLLD_OPENSSL35 not configured (scripts/test.sh sets it)";
  RunResult r = ir35(endpoints().cmp_url, "gold", "unknown-profile");
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.both(), "badCertTemplate")) << r.describe();
}

TEST_F(CmpProfileTest, PathAndHeaderNamingDifferentProfilesIsBadRequest) {
  if (!have_openssl35()) GTEST_SKIP() << "ENROLLD_OPENSSL35 not configured (scripts/test.sh sets it)";
  RunResult r = ir35(endpoints().cmp_url + "/p/default", "gold", "conflicting-profile");
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.both(), "badRequest")) << r.describe();
  EXPECT_FALSE(fs::exists(work() / "conflicting-profile.pem"));
}

}  // namespace
}  // namespace enrolld::integration
