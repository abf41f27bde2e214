// Stopping and starting the demo: clean exits, in-flight requests, state kept across restarts.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <gtest/gtest.h>

#include "demo.h"

namespace enrolld::integration {
namespace {

class DemoLifecycleTest : public DemoTest {
 protected:
  // Issues one certificate with ir; returns its serial (empty on failure).
  std::string enroll(const std::string& cn) {
    const fs::path key = make_ec_key(cn + ".key");
    const fs::path cert = work() / (cn + ".pem");
    RunResult r =
        openssl_cmp({"ir", endpoints().cmp_url, endpoints().ref, endpoints().secret, key, "/CN=" + cn, {}, cert, {}});
    EXPECT_TRUE(r.ok()) << r.describe();
    if (!r.ok()) return "";
    return expect_properly_issued(demo(), cert, key, "CN=" + cn);
  }
};

TEST_F(DemoLifecycleTest, RestartKeepsCaAndCertificatesAndServesAgain) {
  const std::string first = enroll("before-restart");
  ASSERT_FALSE(first.empty());
  const std::string first_pem = read_text(work() / "before-restart.pem");
  const std::string issuing = read_text(demo().dir() / "ca" / "issuing.pem");
  const std::string root = read_text(demo().dir() / "ca" / "root.pem");
  const std::string config = read_text(demo().config());
  ASSERT_FALSE(issuing.empty());
  auto rows_before = demo().cert_list();
  ASSERT_TRUE(rows_before);
  const Endpoints endpoints_before = endpoints();

  stop_demo_expecting_success(demo());
  if (HasFatalFailure()) return;
  const std::string first_run_log = demo().log();
  const std::string restarted = demo().start();
  ASSERT_TRUE(restarted.empty()) << restarted;
  const std::string second_run_log = demo().log().substr(first_run_log.size());

  // Everything made on first use is reused.
  EXPECT_EQ(read_text(demo().dir() / "ca" / "issuing.pem"), issuing) << "issuing CA certificate changed";
  EXPECT_EQ(read_text(demo().dir() / "ca" / "root.pem"), root) << "root CA certificate changed";
  EXPECT_EQ(read_text(demo().config()), config) << "enrolld.toml changed";
  EXPECT_EQ(endpoints().ref, endpoints_before.ref);
  EXPECT_EQ(endpoints().secret, endpoints_before.secret);
  EXPECT_FALSE(contains(second_run_log, "demo instance created")) << second_run_log;

  // Certificates issued before are still there, unchanged.
  auto rows_after = demo().cert_list();
  ASSERT_TRUE(rows_after);
  EXPECT_EQ(rows_after->size(), rows_before->size());
  for (const auto& before : *rows_before) {
    auto it = std::find_if(rows_after->begin(), rows_after->end(),
                           [&](const CertRow& r) { return r.serial == before.serial; });
    ASSERT_NE(it, rows_after->end()) << "serial " << before.serial << " is gone after the restart";
    EXPECT_EQ(it->status, before.status);
    EXPECT_EQ(it->subject, before.subject);
  }
  RunResult show = demo().enrollctl({"cert", "show", first});
  EXPECT_TRUE(show.ok()) << show.describe();
  EXPECT_EQ(show.out, first_pem);

  // And it serves: a new ir succeeds and its certificate chains to the same CA.
  const std::string second = enroll("after-restart");
  ASSERT_FALSE(second.empty());
  EXPECT_NE(second, first);
  EXPECT_EQ(demo().cert_count(), static_cast<int>(rows_before->size()) + 1);
}

TEST_F(DemoLifecycleTest, SigintStopsWithExitStatusZero) {
  ASSERT_FALSE(enroll("before-sigint").empty());
  const int before = demo().cert_count();
  stop_demo_expecting_success(demo(), SIGINT);
  if (HasFatalFailure()) return;
  // Start it again so the suite ends with a running demo to stop with SIGTERM.
  const std::string restarted = demo().start();
  ASSERT_TRUE(restarted.empty()) << restarted;
  EXPECT_EQ(demo().cert_count(), before);
}

// A connection to 127.0.0.1:port with receive/send timeouts, closed on destruction.
class Connection {
 public:
  explicit Connection(int port) {
    m_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (m_fd < 0) return;
    timeval timeout{10, 0};
    ::setsockopt(m_fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(m_fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    ::inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    if (::connect(m_fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      ::close(m_fd);
      m_fd = -1;
    }
  }
  ~Connection() {
    if (m_fd >= 0) ::close(m_fd);
  }
  bool connected() const { return m_fd >= 0; }
  bool send_all(const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
      const ssize_t n = ::send(m_fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }
  // Reads until `until` has been seen, the peer closes, or the 10 s timeout.
  std::string receive(const std::string& until) {
    std::string data;
    char buffer[4096];
    while (!contains(data, until)) {
      const ssize_t n = ::recv(m_fd, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      data.append(buffer, static_cast<std::size_t>(n));
    }
    return data;
  }

 private:
  int m_fd = -1;
};

TEST_F(DemoLifecycleTest, SigtermFinishesTheRequestInFlightThenExitsZero) {
  Connection connection(std::stoi(endpoints().http_port));
  ASSERT_TRUE(connection.connected());
  const std::string body = "this is not a DER PKIMessage";
  // Expect: 100-continue makes the server answer once it has taken the request in, before
  // the body: from then on the request is in flight.
  ASSERT_TRUE(
      connection.send_all("POST /.well-known/cmp HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          "Content-Type: application/pkixcmp\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\nExpect: 100-continue\r\n\r\n"));
  const std::string interim = connection.receive("\r\n\r\n");
  ASSERT_EQ(interim.rfind("HTTP/1.1 100", 0), 0u) << interim;

  // Signal the demo, wait until it has seen the signal, then finish the request.
  std::optional<int> code;
  std::thread stopper([&] { code = demo().stop(SIGTERM); });
  const bool signalled = demo().wait_for_log_line({"signal 15 received"});
  std::string response;
  if (signalled) {
    EXPECT_TRUE(connection.send_all(body));
    response = connection.receive("not a DER PKIMessage");
  }
  stopper.join();
  ASSERT_TRUE(signalled) << "the demo did not log the signal\n" << demo().log();
  EXPECT_EQ(response.rfind("HTTP/1.1 400", 0), 0u) << "the request in flight was not answered: '" << response << "'";
  ASSERT_TRUE(code.has_value()) << demo().log();
  EXPECT_EQ(*code, 0) << demo().log();

  const std::string restarted = demo().start();
  ASSERT_TRUE(restarted.empty()) << restarted;
}

}  // namespace
}  // namespace enrolld::integration
