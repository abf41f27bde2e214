// The deadline sweep in a running appliance: a certificate whose requester never sends certConf
// is revoked once the confirmation wait is over, without any further request (RFC 4210 5.3.18).
#include <fstream>

#include <gtest/gtest.h>

#include "demo.h"

namespace enrolld::integration {
namespace {

class CmpDeadlineTest : public DemoTest {
 protected:
  // Restarts the demo with a confirmation wait of `seconds` instead of the demo's 300.
  void restart_with_confirm_wait(int seconds) {
    stop_demo_expecting_success(demo());
    std::string config = read_text(demo().config());
    const std::string demo_setting = "confirm_wait_seconds = 300";
    const auto at = config.find(demo_setting);
    ASSERT_NE(at, std::string::npos) << config;
    config.replace(at, demo_setting.size(), "confirm_wait_seconds = " + std::to_string(seconds));
    std::ofstream(demo().config(), std::ios::trunc) << config;
    s_start_error = demo().start();
    ASSERT_TRUE(s_start_error.empty()) << s_start_error;
  }

  // An ir recorded by openssl cmp without a network, so that nobody answers its ip with certConf.
  fs::path record_ir(const std::string& subject) const {
    const fs::path dummy = work() / "dummy.der";
    std::ofstream(dummy) << "x";
    const fs::path request = work() / (subject + "-ir.der");
    RunResult r = openssl({"cmp", "-cmd", "ir", "-server", "127.0.0.1:1", "-ref", endpoints().ref, "-secret",
                           "pass:" + endpoints().secret, "-newkey", make_ec_key(subject + ".key").string(), "-subject",
                           "/CN=" + subject, "-certout", (work() / "unused.pem").string(), "-reqout", request.string(),
                           "-rspin", dummy.string()});
    EXPECT_TRUE(fs::exists(request)) << r.describe();
    return request;
  }

  std::string status_of(const std::string& subject) {
    auto rows = demo().cert_list();
    if (!rows) return "";
    for (const auto& row : *rows) {
      if (row.subject == subject) return row.status;
    }
    return "(not listed)";
  }
};

TEST_F(CmpDeadlineTest, AnUnconfirmedCertificateIsRevokedOnceItsConfirmationWaitIsOver) {
  restart_with_confirm_wait(2);
  if (HasFatalFailure()) return;
  const fs::path request = record_ir("never-confirmed");
  const fs::path reply = work() / "never-confirmed-ip.der";
  RunResult posted = run({"curl", "-s", "-f", "--data-binary", "@" + request.string(), "-H",
                          "Content-Type: application/pkixcmp", "-o", reply.string(), endpoints().cmp_url},
                         kCommandTimeout);
  ASSERT_TRUE(posted.ok()) << posted.describe();
  RunResult parsed = openssl({"asn1parse", "-inform", "DER", "-in", reply.string()});
  EXPECT_TRUE(contains(parsed.out, "never-confirmed")) << "the ip carries no certificate\n" << parsed.describe();
  EXPECT_EQ(status_of("CN=never-confirmed"), "valid") << "issued, waiting for certConf";

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (status_of("CN=never-confirmed") != "revoked" && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_EQ(status_of("CN=never-confirmed"), "revoked") << demo().log();
  EXPECT_TRUE(demo().wait_for_log_line({"expired txn=", "unconfirmed certificate was revoked"})) << demo().log();
}

}  // namespace
}  // namespace enrolld::integration
