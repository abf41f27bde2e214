// Operating a running appliance as systemd does: the real `enrolld demo` tells a notify
// socket (NOTIFY_SOCKET, as systemd's Type=notify sets it) READY=1 once serving, RELOADING=1
// and READY=1 around a SIGHUP, STOPPING=1 on SIGTERM; and a SIGHUP re-reads the config file
// (MAC credentials, profiles, trust anchors) while connections stay open. Driven by openssl cmp
// and a raw HTTP/1.1 keep-alive socket.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "demo.h"

namespace enrolld::integration {
namespace {

constexpr auto kNotifyTimeout = std::chrono::seconds(30);

// A file descriptor closed when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : m_fd(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (m_fd >= 0) ::close(m_fd);
  }
  int get() const { return m_fd; }

 private:
  int m_fd;
};

// What systemd listens on for sd_notify: a unix datagram socket bound in the test's folder.
class NotifySocket {
 public:
  explicit NotifySocket(fs::path path)
      : m_path(std::move(path)), m_fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (m_path.string().size() >= sizeof address.sun_path) {
      m_error = "socket path too long: " + m_path.string();
      return;
    }
    std::strncpy(address.sun_path, m_path.c_str(), sizeof address.sun_path - 1);
    if (m_fd.get() < 0 || ::bind(m_fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      m_error = std::string("cannot bind ") + m_path.string() + ": " + std::strerror(errno);
    }
  }

  const std::string& error() const { return m_error; }
  std::string environment() const { return "NOTIFY_SOCKET=" + m_path.string(); }

  // The next message (its lines "KEY=value"), or nullopt if none arrives in time.
  std::optional<std::string> receive(std::chrono::milliseconds timeout = kNotifyTimeout) {
    pollfd p{m_fd.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
    char buffer[4096];
    const ssize_t n = ::recv(m_fd.get(), buffer, sizeof buffer, 0);
    if (n < 0) return std::nullopt;
    std::string message(buffer, static_cast<std::size_t>(n));
    m_received.push_back(message);
    return message;
  }

  // Receives until a message has the line `field` ("READY=1"); returns that message, or
  // nullopt (everything received is in received()) if none comes in time.
  std::optional<std::string> wait_for(const std::string& field) {
    const auto deadline = std::chrono::steady_clock::now() + kNotifyTimeout;
    while (std::chrono::steady_clock::now() < deadline) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      auto message = receive(std::max(left, std::chrono::milliseconds(1)));
      if (message && has_field(*message, field)) return message;
    }
    return std::nullopt;
  }

  static bool has_field(const std::string& message, const std::string& field) {
    auto lines = lines_of(message);
    return std::find(lines.begin(), lines.end(), field) != lines.end();
  }

  // Every message received so far, for failure messages.
  std::string received() const {
    std::string all;
    for (const auto& m : m_received) all += "[" + m + "]\n";
    return all;
  }

 private:
  fs::path m_path;
  Fd m_fd;
  std::string m_error;
  std::vector<std::string> m_received;
};

// Start-up, reload and stop as systemd sees them, on a demo of its own.
TEST(SystemdNotifyTest, ReportsReadyReloadingReadyAndStopping) {
  testing::TempDir tmp("enrolld-notify");
  NotifySocket notify(tmp.path() / "notify.sock");
  ASSERT_TRUE(notify.error().empty()) << notify.error();
  Demo demo(tmp.path() / "demo");
  const std::string started = demo.start({notify.environment()});
  ASSERT_TRUE(started.empty()) << started;

  auto ready = notify.wait_for("READY=1");
  ASSERT_TRUE(ready) << "no READY=1 after start-up; received:\n" << notify.received() << demo.log();
  EXPECT_TRUE(contains(*ready, "STATUS=serving")) << *ready;

  ASSERT_EQ(::kill(demo.pid(), SIGHUP), 0);
  auto reloading = notify.wait_for("RELOADING=1");
  ASSERT_TRUE(reloading) << "no RELOADING=1 after SIGHUP; received:\n" << notify.received() << demo.log();
  EXPECT_TRUE(contains(*reloading, "MONOTONIC_USEC=")) << *reloading;
  auto ready_again = notify.wait_for("READY=1");
  ASSERT_TRUE(ready_again) << "no READY=1 after the reload; received:\n" << notify.received() << demo.log();
  EXPECT_TRUE(demo.wait_for_log_line({"reload ok", "profiles=5", "credentials=1", "anchors=2", "ras=1"})) << demo.log();

  ASSERT_EQ(::kill(demo.pid(), SIGTERM), 0);
  auto stopping = notify.wait_for("STOPPING=1");
  EXPECT_TRUE(stopping) << "no STOPPING=1 after SIGTERM; received:\n" << notify.received() << demo.log();
  const auto code = demo.stop();
  ASSERT_TRUE(code.has_value()) << demo.log();
  EXPECT_EQ(*code, 0) << demo.log();
}

// One demo for the suite, told to notify a socket of the suite's: READY=1 after a SIGHUP says
// the reload is done. Every test starts from the demo's own config and puts it back after.
class ConfigReloadTest : public DemoTest {
 protected:
  static void SetUpTestSuite() {
    s_tmp = std::make_unique<testing::TempDir>("enrolld-reload");
    s_notify = std::make_unique<NotifySocket>(s_tmp->path() / "notify.sock");
    s_demo = std::make_unique<Demo>(s_tmp->path() / "demo");
    s_work_counter = 0;
    s_start_error = s_notify->error();
    if (!s_start_error.empty()) return;
    s_start_error = s_demo->start({s_notify->environment()});
    if (!s_start_error.empty()) return;
    if (!s_notify->wait_for("READY=1")) s_start_error = "no READY=1 after start-up:\n" + s_notify->received();
    s_original = read_text(s_demo->config());
  }

  static void TearDownTestSuite() {
    DemoTest::TearDownTestSuite();
    s_notify.reset();
  }

  void TearDown() override {
    if (m_changed && s_demo->running()) reload_with(s_original);
    DemoTest::TearDown();
  }

  // Writes `text` as the demo's config, sends SIGHUP and waits for RELOADING=1 and READY=1.
  // Returns what the daemon logged meanwhile; a reload that does not finish fails the test.
  std::string reload_with(const std::string& text) {
    m_changed = text != s_original;
    std::ofstream(demo().config(), std::ios::trunc) << text;
    const std::size_t logged = demo().log().size();
    EXPECT_EQ(::kill(demo().pid(), SIGHUP), 0);
    EXPECT_TRUE(s_notify->wait_for("RELOADING=1")) << s_notify->received();
    auto ready = s_notify->wait_for("READY=1");
    EXPECT_TRUE(ready) << "no READY=1 after the reload\n" << s_notify->received();
    return demo().log().substr(logged);
  }

  // The demo's config with `block` (TOML tables) inserted before its first [[cmp.credential]],
  // so that it belongs to no table above it.
  static std::string with_tables(const std::string& block) {
    std::string text = s_original;
    const auto at = text.find("[[cmp.credential]]");
    EXPECT_NE(at, std::string::npos) << "the demo config has no [[cmp.credential]]";
    return text.insert(at == std::string::npos ? text.size() : at, block + "\n");
  }

  // `text` (by default the demo's config) with `from` replaced by `to` (which must be there).
  static std::string with_replaced(const std::string& from, const std::string& to, std::string text = s_original) {
    const auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << "the demo config has no '" << from << "'";
    return at == std::string::npos ? text : text.replace(at, from.size(), to);
  }

  RunResult ir(const std::string& path, const std::string& ref, const std::string& secret, const fs::path& key,
               const std::string& name) const {
    return openssl_cmp({"ir",
                        endpoints().cmp_url + path,
                        ref,
                        secret,
                        key,
                        "/CN=" + name,
                        {},
                        work() / (name + ".pem"),
                        {"-unprotected_errors"}});
  }

  RunResult signed_ir(const std::string& name) const {
    const fs::path key = make_ec_key(name + ".key");
    return openssl({"cmp", "-cmd", "ir", "-server", endpoints().cmp_url, "-cert", endpoints().client_cert, "-key",
                    endpoints().client_key, "-trusted", endpoints().trust, "-unprotected_errors", "-newkey",
                    key.string(), "-subject", "/CN=" + name, "-certout", (work() / (name + ".pem")).string()});
  }

  static inline std::unique_ptr<NotifySocket> s_notify;
  static inline std::string s_original;
  bool m_changed = false;
};

constexpr const char* kNewCredential =
    "[[cmp.credential]]\nreference = \"added-on-reload\"\nsecret = \"reload-secret-0123\"\n";

TEST_F(ConfigReloadTest, AnAddedCredentialWorksAndARemovedOneIsRefused) {
  const fs::path key = make_ec_key();
  RunResult before = ir("", "added-on-reload", "reload-secret-0123", key, "before-reload");
  EXPECT_FALSE(before.ok()) << before.describe();
  EXPECT_TRUE(contains(before.both(), "PKIFailureInfo: badMessageCheck")) << before.describe();

  const std::string logged = reload_with(with_tables(kNewCredential));
  EXPECT_TRUE(contains(logged, "reload ok profiles=5 credentials=2")) << logged;
  RunResult added = ir("", "added-on-reload", "reload-secret-0123", key, "added-on-reload");
  ASSERT_TRUE(added.ok()) << added.describe() << demo().log();
  EXPECT_FALSE(expect_properly_issued(demo(), work() / "added-on-reload.pem", key, "CN=added-on-reload").empty());

  const std::string restored = reload_with(s_original);
  EXPECT_TRUE(contains(restored, "reload ok profiles=5 credentials=1")) << restored;
  RunResult removed = ir("", "added-on-reload", "reload-secret-0123", make_ec_key("removed.key"), "removed");
  EXPECT_FALSE(removed.ok()) << removed.describe();
  EXPECT_TRUE(contains(removed.both(), "PKIFailureInfo: badMessageCheck")) << removed.describe();
  EXPECT_FALSE(fs::exists(work() / "removed.pem"));
  // The credential that stayed still works.
  RunResult kept = ir("", endpoints().ref, endpoints().secret, make_ec_key("kept.key"), "kept");
  EXPECT_TRUE(kept.ok()) << kept.describe();
}

TEST_F(ConfigReloadTest, AnAddedProfileServesAndAChangedOneRefusesWhatItNoLongerAllows) {
  const fs::path key = make_ec_key();  // P-256
  RunResult unknown = ir("/p/reloaded", endpoints().ref, endpoints().secret, key, "unknown-profile");
  EXPECT_FALSE(unknown.ok()) << unknown.describe();
  EXPECT_TRUE(contains(unknown.both(), "PKIFailureInfo: badCertTemplate")) << unknown.describe();

  const std::string added = reload_with(with_tables("[[profile]]\nname = \"reloaded\"\nkey_types = [\"P-256\"]\n"));
  EXPECT_TRUE(contains(added, "reload ok profiles=6")) << added;
  RunResult allowed = ir("/p/reloaded", endpoints().ref, endpoints().secret, key, "new-profile");
  EXPECT_TRUE(allowed.ok()) << allowed.describe() << demo().log();

  const std::string changed = reload_with(with_tables("[[profile]]\nname = \"reloaded\"\nkey_types = [\"P-384\"]\n"));
  EXPECT_TRUE(contains(changed, "reload ok profiles=6")) << changed;
  RunResult refused = ir("/p/reloaded", endpoints().ref, endpoints().secret, make_ec_key("p256.key"), "now-refused");
  EXPECT_FALSE(refused.ok()) << refused.describe();
  EXPECT_TRUE(contains(refused.both(), "PKIFailureInfo: badAlg")) << refused.describe();
}

TEST_F(ConfigReloadTest, RemovedTrustAnchorsRefuseSignedRequestsUntilRestored) {
  RunResult trusted = signed_ir("vendor-before");
  ASSERT_TRUE(trusted.ok()) << trusted.describe();

  const std::string logged = reload_with(with_replaced(
      "trust_anchors = [\"vendor/manufacturer-ca.pem\"]\n# Registration", "trust_anchors = []\n# Registration"));
  EXPECT_TRUE(contains(logged, "reload ok")) << logged;
  EXPECT_TRUE(contains(logged, "anchors=1")) << "only [est] trust_anchors are left\n" << logged;
  RunResult untrusted = signed_ir("vendor-untrusted");
  EXPECT_FALSE(untrusted.ok()) << untrusted.describe();
  EXPECT_TRUE(contains(untrusted.both(), "signerNotTrusted")) << untrusted.describe();

  reload_with(s_original);
  RunResult again = signed_ir("vendor-again");
  EXPECT_TRUE(again.ok()) << again.describe();
}

TEST_F(ConfigReloadTest, ABrokenConfigIsRefusedAsAWholeAndTheOldSettingsStay) {
  // A syntax error: refused with the file and line; a credential added in the same file does
  // not count.
  const std::string broken = with_tables(std::string(kNewCredential) + "[server\n");
  const std::string syntax = reload_with(broken);
  EXPECT_TRUE(contains(syntax, "reload refused: ")) << syntax;
  EXPECT_TRUE(contains(syntax, "enrolld.toml:")) << "the refusal names file and line\n" << syntax;
  EXPECT_FALSE(contains(syntax, "reload ok")) << syntax;

  // A trust anchor file that cannot be read: refused too.
  const std::string missing = reload_with(
      with_replaced("trust_anchors = [\"vendor/manufacturer-ca.pem\"]\n# Registration",
                    "trust_anchors = [\"vendor/no-such-anchor.pem\"]\n# Registration", with_tables(kNewCredential)));
  EXPECT_TRUE(contains(missing, "reload refused: ")) << missing;
  EXPECT_TRUE(contains(missing, "no-such-anchor.pem")) << missing;

  RunResult new_credential = ir("", "added-on-reload", "reload-secret-0123", make_ec_key(), "not-added");
  EXPECT_FALSE(new_credential.ok()) << new_credential.describe();
  EXPECT_TRUE(contains(new_credential.both(), "PKIFailureInfo: badMessageCheck")) << new_credential.describe();
  RunResult old_credential = ir("", endpoints().ref, endpoints().secret, make_ec_key("old.key"), "still-served");
  EXPECT_TRUE(old_credential.ok()) << old_credential.describe();
  RunResult old_anchor = signed_ir("anchor-kept");
  EXPECT_TRUE(old_anchor.ok()) << "the refused reload dropped the old trust anchors\n" << old_anchor.describe();
}

TEST_F(ConfigReloadTest, SettingsThatNeedARestartKeepTheirRunningValuesWithAWarning) {
  const std::string logged =
      reload_with(with_replaced("threads = 2\nmax_body_bytes = 65536\n", "threads = 3\nmax_body_bytes = 70000\n"));
  EXPECT_TRUE(contains(logged, "take effect only after a restart")) << logged;
  EXPECT_TRUE(contains(logged, "server.threads,server.max_body_bytes")) << logged;
  EXPECT_TRUE(contains(logged, "reload ok")) << "the rest is still reloaded\n" << logged;
  RunResult served = ir("", endpoints().ref, endpoints().secret, make_ec_key(), "after-warning");
  EXPECT_TRUE(served.ok()) << served.describe();
}

// An HTTP/1.1 client on a socket of its own.
class KeepAliveClient {
 public:
  explicit KeepAliveClient(std::uint16_t port) : m_fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval timeout{10, 0};  // a read that hangs fails the test instead
    ::setsockopt(m_fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    m_connected = ::connect(m_fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  bool connected() const { return m_connected; }

  // GET `path` on this connection; the status line and headers, or what went wrong.
  std::string get(const std::string& path) {
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(m_fd.get(), request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
      return std::string("send failed: ") + std::strerror(errno);
    }
    std::string received;
    std::size_t header_end = std::string::npos;
    while ((header_end = received.find("\r\n\r\n")) == std::string::npos) {
      if (!read_more(received)) return "connection closed or timed out after: " + received;
    }
    const std::string head = received.substr(0, header_end);
    const std::size_t length = content_length(head);
    while (received.size() < header_end + 4 + length) {
      if (!read_more(received)) return "body cut short after: " + head;
    }
    return head;
  }

 private:
  bool read_more(std::string& received) {
    char buffer[4096];
    const ssize_t n = ::recv(m_fd.get(), buffer, sizeof buffer, 0);
    if (n <= 0) return false;
    received.append(buffer, static_cast<std::size_t>(n));
    return true;
  }
  static std::size_t content_length(const std::string& head) {
    for (const auto& line : lines_of(head)) {
      if (lower(line).rfind("content-length:", 0) == 0) return std::stoul(trim(line.substr(15)));
    }
    return 0;
  }

  Fd m_fd;
  bool m_connected = false;
};

TEST_F(ConfigReloadTest, AKeepAliveConnectionOpenedBeforeAReloadServesAfterIt) {
  KeepAliveClient client(static_cast<std::uint16_t>(std::stoi(endpoints().http_port)));
  ASSERT_TRUE(client.connected());
  const std::string first = client.get("/repo/issuing.crt");
  ASSERT_TRUE(first.rfind("HTTP/1.1 200", 0) == 0) << first;
  EXPECT_FALSE(contains(lower(first), "connection: close")) << first;

  const std::string logged = reload_with(with_tables(kNewCredential));
  ASSERT_TRUE(contains(logged, "reload ok")) << logged;

  const std::string second = client.get("/repo/issuing.crt");
  EXPECT_TRUE(second.rfind("HTTP/1.1 200", 0) == 0) << "the connection did not survive the reload: " << second;
}

}  // namespace
}  // namespace enrolld::integration
