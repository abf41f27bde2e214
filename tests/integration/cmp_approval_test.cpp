// Delayed delivery with the real clients: Debian's `openssl cmp` enrolls at CMP_POLL_URL (a
// profile that needs an officer), gets status waiting and polls; an officer decides with
// `enrollctl pending/approve/reject` through the admin listener.
#include <gtest/gtest.h>

#include "demo.h"

namespace enrolld::integration {
namespace {

constexpr auto kClientTimeout = std::chrono::seconds(60);

class CmpApprovalTest : public DemoTest {
 protected:
  // Starts `openssl cmp -cmd ir` at the approval profile in the background; it polls until
  // an officer decides (the demo says checkAfter 1 s) or 60 s pass.
  std::unique_ptr<BackgroundProcess> start_held_ir(const std::string& name) {
    auto client = std::make_unique<BackgroundProcess>();
    const std::string started = client->start(
        {"/usr/bin/openssl", "cmp", "-cmd", "ir", "-server", endpoints().poll_url, "-ref", endpoints().ref, "-secret",
         "pass:" + endpoints().secret, "-newkey", make_ec_key(name + ".key").string(), "-subject", "/CN=" + name,
         "-certout", (work() / (name + ".pem")).string(), "-total_timeout", "60", "-unprotected_errors"},
        work() / (name + ".log"));
    EXPECT_TRUE(started.empty()) << started;
    return client;
  }

  // Waits (bounded) until `enrollctl pending` lists CN=`name`; returns its transaction ID.
  std::string wait_until_pending(const std::string& name) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    RunResult listed;
    while (std::chrono::steady_clock::now() < deadline) {
      listed = demo().enrollctl({"pending"});
      for (const auto& line : lines_of(listed.out)) {
        if (contains(line, "CN=" + name)) return line.substr(0, line.find(' '));
      }
      std::this_thread::sleep_for(100ms);
    }
    ADD_FAILURE() << "CN=" << name << " never appeared in enrollctl pending\n" << listed.describe();
    return "";
  }

  // Waits (bounded) for the client to exit; returns its status (-1 if it did not).
  static int wait_for_exit(BackgroundProcess& client) {
    const auto deadline = std::chrono::steady_clock::now() + kClientTimeout;
    while (client.running() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(50ms);
    return client.exit_code().value_or(-1);
  }
};

TEST_F(CmpApprovalTest, AnApprovedRequestIsDeliveredToThePollingClient) {
  auto client = start_held_ir("held-approved");
  const std::string id = wait_until_pending("held-approved");
  ASSERT_FALSE(id.empty());
  EXPECT_FALSE(fs::exists(work() / "held-approved.pem"));
  RunResult approved = demo().enrollctl({"approve", id, "--officer", "alice"});
  ASSERT_TRUE(approved.ok()) << approved.describe();
  EXPECT_EQ(wait_for_exit(*client), 0) << read_text(work() / "held-approved.log");
  const std::string client_log = read_text(work() / "held-approved.log");
  EXPECT_TRUE(contains(client_log, "received 'waiting' PKIStatus")) << client_log;
  // The client polls at once after 'waiting' and gets a pollRep, unless the officer was quicker
  // than that first pollReq: then the pollReq gets the certificate. Either way it polled.
  EXPECT_TRUE(contains(client_log, "sending POLLREQ")) << client_log;
  expect_properly_issued(demo(), work() / "held-approved.pem", work() / "held-approved.key", "CN=held-approved");
  RunResult audit = demo().enrollctl({"audit", "list"});
  EXPECT_TRUE(contains(audit.out, "officer:alice") && contains(audit.out, "txn=" + id)) << audit.describe();
  EXPECT_FALSE(contains(demo().enrollctl({"pending"}).out, id)) << "a delivered request is no longer pending";
}

TEST_F(CmpApprovalTest, ARejectedRequestFailsWithTheOfficersReason) {
  auto client = start_held_ir("held-rejected");
  const std::string id = wait_until_pending("held-rejected");
  ASSERT_FALSE(id.empty());
  RunResult rejected = demo().enrollctl({"reject", id, "--reason", "not in the fleet register"});
  ASSERT_TRUE(rejected.ok()) << rejected.describe();
  EXPECT_NE(wait_for_exit(*client), 0);
  const std::string client_log = read_text(work() / "held-rejected.log");
  EXPECT_TRUE(contains(client_log, "notAuthorized")) << client_log;
  EXPECT_TRUE(contains(client_log, "not in the fleet register")) << client_log;
  EXPECT_FALSE(fs::exists(work() / "held-rejected.pem"));
  RunResult again = demo().enrollctl({"approve", id});
  EXPECT_FALSE(again.ok());
  EXPECT_TRUE(contains(again.err, "HTTP 409") && contains(again.err, "not waiting for approval")) << again.describe();
}

TEST_F(CmpApprovalTest, TheAdminListenerWantsItsToken) {
  const std::string url = endpoints().admin_url + "/admin/pending";
  RunResult anonymous = run({"curl", "-s", "-i", url}, kCommandTimeout);
  EXPECT_TRUE(contains(anonymous.out, "HTTP/1.1 401")) << anonymous.describe();
  EXPECT_TRUE(contains(anonymous.out, "WWW-Authenticate: Bearer")) << anonymous.describe();
  RunResult wrong = run({"curl", "-s", "-i", "-H", "Authorization: Bearer not-the-token-at-all", url}, kCommandTimeout);
  EXPECT_TRUE(contains(wrong.out, "HTTP/1.1 401")) << wrong.describe();
  RunResult decide = run({"curl", "-s", "-i", "-X", "POST", "-d", "{\"officer\":\"mallory\"}",
                          endpoints().admin_url + "/admin/transactions/00ff/approve"},
                         kCommandTimeout);
  EXPECT_TRUE(contains(decide.out, "HTTP/1.1 401")) << decide.describe();
  RunResult unknown = demo().enrollctl({"approve", "00ff00ff"});
  EXPECT_FALSE(unknown.ok());
  EXPECT_TRUE(contains(unknown.err, "HTTP 404")) << unknown.describe();
  RunResult no_reason =
      run({ENROLLCTL_BIN, "--config", demo().config().string(), "--admin-url", endpoints().admin_url, "reject", "00ff"},
          kCommandTimeout);
  EXPECT_FALSE(no_reason.ok()) << "a rejection needs a reason";
  EXPECT_TRUE(contains(no_reason.err, "--reason is required")) << no_reason.describe();
}

TEST_F(CmpApprovalTest, AHeldRequestSurvivesARestartOfTheAppliance) {
  auto client = start_held_ir("held-restart");
  const std::string id = wait_until_pending("held-restart");
  ASSERT_FALSE(id.empty());
  client->stop(SIGKILL, 5s);
  stop_demo_expecting_success(demo());
  s_start_error = demo().start();
  ASSERT_TRUE(s_start_error.empty()) << s_start_error;
  EXPECT_EQ(wait_until_pending("held-restart"), id);
  RunResult approved = demo().enrollctl({"approve", id});
  ASSERT_TRUE(approved.ok()) << approved.describe();
  RunResult pending = demo().enrollctl({"pending"});
  EXPECT_TRUE(contains(pending.out, id) && contains(pending.out, "approved")) << pending.describe();
}

}  // namespace
}  // namespace enrolld::integration
