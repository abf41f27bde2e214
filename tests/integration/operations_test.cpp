// What monitoring sees of a running appliance: /healthz, /readyz and /metrics on the admin
// listener (no token needed), scraped with curl around a real enrollment by openssl cmp: the
// counters and histograms the enrollment touches move, and the gauges are there.
#include <gtest/gtest.h>

#include "demo.h"

namespace enrolld::integration {
namespace {

class OperationsTest : public DemoTest {
 protected:
  RunResult get(const std::string& path) const {
    return run({"curl", "-sS", "-w", "\n%{http_code}", endpoints().admin_url + path}, kCommandTimeout);
  }

  // The value of the sample whose line starts with `series` (name and labels exactly as
  // rendered), -1 when there is none.
  static double sample(const std::string& text, const std::string& series) {
    for (const auto& line : lines_of(text)) {
      if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
    }
    return -1;
  }

  std::string scrape() const {
    RunResult r = get("/metrics");
    EXPECT_TRUE(r.ok()) << r.describe();
    EXPECT_TRUE(r.out.ends_with("\n200")) << r.describe();
    return r.out;
  }
};

TEST_F(OperationsTest, HealthAndReadinessAnswerWithoutAToken) {
  RunResult health = get("/healthz");
  EXPECT_TRUE(health.out.ends_with("\n200")) << health.describe();
  RunResult ready = get("/readyz");
  EXPECT_TRUE(ready.out.ends_with("\n200")) << ready.describe();
  EXPECT_TRUE(contains(ready.out, "ready")) << ready.describe();
  RunResult status = get("/admin/status");
  EXPECT_TRUE(status.out.ends_with("\n401")) << "the admin routes still want the token\n" << status.describe();
}

TEST_F(OperationsTest, AnEnrollmentMovesTheCountersItTouches) {
  const std::string before = scrape();
  const fs::path key = make_ec_key();
  RunResult enrolled = openssl_cmp({"ir",
                                    endpoints().cmp_url,
                                    endpoints().ref,
                                    endpoints().secret,
                                    key,
                                    "/CN=metered",
                                    {},
                                    work() / "metered.pem",
                                    {}});
  ASSERT_TRUE(enrolled.ok()) << enrolled.describe();
  const std::string after = scrape();

  struct Moved {
    const char* series;
    double at_least;
  };
  for (const auto& [series, at_least] : std::vector<Moved>{
           {"enrolld_cmp_messages_total{type=\"ir\",outcome=\"answered\"}", 1},
           {"enrolld_cmp_messages_total{type=\"certConf\",outcome=\"answered\"}", 1},
           {"enrolld_certificates_issued_total{protocol=\"cmp\",profile=\"default\"}", 1},
           {"enrolld_issuance_seconds_count", 1},
           {"enrolld_hsm_sign_seconds_count{operation=\"certificate\"}", 1},
           {"enrolld_store_commit_seconds_count", 2},
           {"enrolld_http_responses_total{listener=\"main\",route=\"/.well-known/cmp\",status=\"200\"}", 2},
       }) {
    const double was = std::max(0.0, sample(before, series));
    EXPECT_GE(sample(after, series) - was, at_least) << series << "\n" << after;
  }
  EXPECT_GT(sample(after, "enrolld_http_request_seconds_count{listener=\"main\"}"), 0) << after;
  EXPECT_GE(sample(after, "enrolld_hsm_signing_peak"), 1) << "the issuance used an HSM session\n" << after;
  EXPECT_EQ(sample(after, "enrolld_hsm_signing_now"), 0) << "and gave it back\n" << after;
  EXPECT_GE(sample(after, "enrolld_pending_approvals"), 0) << after;
  EXPECT_GE(sample(after, "enrolld_publisher_backlog{publisher=\"directory\"}"), 0) << after;
  EXPECT_TRUE(contains(after, "# TYPE enrolld_issuance_seconds histogram")) << after;
}

// enrollctl status probes the HSM (a test signature with the CA key) and the store (a read and
// RocksDB's estimates) of the running appliance and prints one line for each.
TEST_F(OperationsTest, StatusShowsTheHsmAndTheStore) {
  enroll_with_mac("status-probe");  // the store holds at least a certificate and a transaction
  RunResult status = demo().enrollctl({"status"});
  ASSERT_TRUE(status.ok()) << status.describe();
  std::string hsm, store;
  for (const auto& line : lines_of(status.out)) {
    if (line.rfind("HSM ", 0) == 0) hsm = line;
    if (line.rfind("store ", 0) == 0) store = line;
  }
  EXPECT_TRUE(contains(hsm, "/usr/lib/softhsm/libsofthsm2.so, token \"enrolld-demo\": signs (test signature in "))
      << status.describe();
  EXPECT_TRUE(hsm.ends_with(" ms)")) << status.describe();
  const std::string reads = (demo().dir() / "db").string() + ": reads, ~";
  ASSERT_TRUE(contains(store, reads)) << status.describe();
  const std::size_t records = std::stoul(store.substr(store.find(reads) + reads.size()));
  EXPECT_GE(records, 2u) << status.describe();
  EXPECT_TRUE(contains(store, " records, ~") && store.ends_with(" KiB")) << status.describe();
}

}  // namespace
}  // namespace enrolld::integration
