// Offline (file) enrollment, seed 003: a request file recorded by openssl cmp, answered by
// `enrollctl cmp process` through the same CMP handler while the daemon is stopped.
#include <fstream>

#include <gtest/gtest.h>

#include "demo.h"

namespace enrolld::integration {
namespace {

class CmpOfflineTest : public DemoTest {
 protected:
  // An ir written to a file by openssl cmp without any network (-rspin: a dummy "response").
  fs::path record_ir(const std::string& subject) const {
    const fs::path key = make_ec_key(subject + ".key");
    const fs::path dummy = work() / "dummy.der";
    std::ofstream(dummy) << "x";
    const fs::path request = work() / (subject + "-ir.der");
    RunResult r =
        openssl({"cmp", "-cmd", "ir", "-server", "127.0.0.1:1", "-ref", endpoints().ref, "-secret",
                 "pass:" + endpoints().secret, "-newkey", key.string(), "-subject", "/CN=" + subject, "-certout",
                 (work() / "unused.pem").string(), "-reqout", request.string(), "-rspin", dummy.string()});
    EXPECT_TRUE(fs::exists(request)) << r.describe();
    return request;
  }

  RunResult process(const fs::path& in, const fs::path& out) const {
    return run({ENROLLCTL_BIN, "--config", (demo().dir() / "enrolld.toml").string(), "cmp", "process", "--in",
                in.string(), "--out", out.string()},
               kCommandTimeout);
  }
};

TEST_F(CmpOfflineTest, ARequestFileIsAnsweredWhileTheDaemonIsStopped) {
  const fs::path request = record_ir("offline-device");
  const fs::path response = work() / "offline-device-ip.der";

  // While enrolld runs, the store is its own: refused with a hint, nothing written.
  RunResult busy = process(request, response);
  EXPECT_FALSE(busy.ok());
  EXPECT_TRUE(contains(busy.both(), "is enrolld running")) << busy.describe();
  EXPECT_FALSE(fs::exists(response));

  stop_demo_expecting_success(demo());
  if (HasFatalFailure()) return;
  RunResult done = process(request, response);
  ASSERT_TRUE(done.ok()) << done.describe();
  ASSERT_TRUE(fs::exists(response));
  RunResult parsed = openssl({"asn1parse", "-inform", "DER", "-in", response.string()});
  ASSERT_TRUE(parsed.ok()) << parsed.describe();
  EXPECT_TRUE(contains(parsed.out, "offline-device")) << "the response carries no certificate for the request";
  auto rows = demo().cert_list();
  ASSERT_TRUE(rows);
  bool listed = false;
  for (const auto& row : *rows) listed = listed || contains(row.subject, "CN=offline-device");
  EXPECT_TRUE(listed);

  // Not a CMP message: refused, nothing written.
  const fs::path junk = work() / "junk.der";
  std::ofstream(junk) << "not cmp";
  RunResult refused = process(junk, work() / "junk-rsp.der");
  EXPECT_FALSE(refused.ok());
  EXPECT_FALSE(fs::exists(work() / "junk-rsp.der"));

  ASSERT_TRUE(demo().start().empty());  // the suite's teardown stops it again
}

}  // namespace
}  // namespace enrolld::integration
