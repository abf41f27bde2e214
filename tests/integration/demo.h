#pragma once
// The integration tests' view of a running `enrolld demo`: start it in a folder, wait for its
// endpoints.env, talk to it with the real clients (openssl, curl, enrollctl), stop it.

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "process.h"
#include "support/temp_dir.h"

namespace enrolld::integration {

namespace fs = std::filesystem;

constexpr auto kCommandTimeout = std::chrono::seconds(60);
constexpr auto kStartTimeout = std::chrono::seconds(60);
constexpr auto kStopTimeout = std::chrono::seconds(30);

inline std::string trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

inline std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A hex serial as enrollctl prints it: lower case, no leading zeros.
inline std::string canonical_serial(std::string hex) {
  hex = lower(trim(std::move(hex)));
  hex.erase(0, std::min(hex.find_first_not_of('0'), hex.size() - 1));
  return hex;
}

// Number of significant bits of a hex number.
inline int serial_bits(const std::string& hex) {
  const std::string s = canonical_serial(hex);
  if (s.empty() || s == "0") return 0;
  const int first = std::stoi(s.substr(0, 1), nullptr, 16);
  int bits = 0;
  for (int v = first; v > 0; v >>= 1) ++bits;
  return bits + 4 * static_cast<int>(s.size() - 1);
}

// DIR/endpoints.env, as written by the demo.
struct Endpoints {
  std::map<std::string, std::string> values;
  std::string http_port, cmp_url, poll_url, admin_url, ref, secret, trust, chain, client_cert, client_key, ra_cert,
      ra_key, crl_url, ocsp_url, ocsp_signer_cert, repo_url, publish_dir;
  // EST (https base, without /.well-known/est), its demo user, the TLS anchor, the manufacturer
  // (bootstrap) credential and the labels of the approval and channel-binding profiles.
  std::string est_url, est_user, est_password, est_tls_trust, est_bootstrap_cert, est_bootstrap_key, est_approval_label,
      est_bound_label;

  std::string base_url() const { return "http://127.0.0.1:" + http_port; }

  // Returns an empty string if the file has every key we need, else what is missing.
  static std::string parse(const std::string& text, Endpoints& out) {
    for (const auto& raw : lines_of(text)) {
      const std::string line = trim(raw);
      if (line.empty() || line[0] == '#') continue;
      const auto eq = line.find('=');
      if (eq == std::string::npos) return "not a KEY=value line: " + line;
      out.values[line.substr(0, eq)] = line.substr(eq + 1);
    }
    std::string missing;
    auto take = [&](const char* key, std::string& field) {
      auto it = out.values.find(key);
      if (it == out.values.end() || it->second.empty()) {
        missing += std::string(missing.empty() ? "" : ", ") + key;
      } else {
        field = it->second;
      }
    };
    take("HTTP_PORT", out.http_port);
    take("CMP_URL", out.cmp_url);
    take("CMP_POLL_URL", out.poll_url);
    take("ADMIN_URL", out.admin_url);
    take("CMP_REF", out.ref);
    take("CMP_SECRET", out.secret);
    take("CMP_TRUST", out.trust);
    take("CMP_CHAIN", out.chain);
    take("CMP_CLIENT_CERT", out.client_cert);
    take("CMP_CLIENT_KEY", out.client_key);
    take("CMP_RA_CERT", out.ra_cert);
    take("CMP_RA_KEY", out.ra_key);
    take("CRL_URL", out.crl_url);
    take("OCSP_URL", out.ocsp_url);
    take("OCSP_SIGNER_CERT", out.ocsp_signer_cert);
    take("REPO_URL", out.repo_url);
    take("PUBLISH_DIR", out.publish_dir);
    take("EST_URL", out.est_url);
    take("EST_USER", out.est_user);
    take("EST_PASSWORD", out.est_password);
    take("EST_TLS_TRUST", out.est_tls_trust);
    take("EST_BOOTSTRAP_CERT", out.est_bootstrap_cert);
    take("EST_BOOTSTRAP_KEY", out.est_bootstrap_key);
    take("EST_APPROVAL_LABEL", out.est_approval_label);
    take("EST_BOUND_LABEL", out.est_bound_label);
    return missing.empty() ? "" : "endpoints.env lacks " + missing;
  }
};

// One line of `enrollctl cert list`.
struct CertRow {
  std::string serial, status, not_after, subject;
};

// A demo appliance in a folder, run in the foreground as a child process.
class Demo {
 public:
  explicit Demo(fs::path dir) : m_dir(std::move(dir)) {}

  const fs::path& dir() const { return m_dir; }
  fs::path config() const { return m_dir / "enrolld.toml"; }
  fs::path log_file() const { return m_dir.parent_path() / (m_dir.filename().string() + ".log"); }
  const Endpoints& endpoints() const { return m_endpoints; }
  std::string log() const { return read_text(log_file()); }
  bool running() { return m_process && m_process->running(); }
  // The daemon's process ID, -1 when it is not started.
  pid_t pid() const { return m_process ? m_process->pid() : -1; }

  // Starts `enrolld demo` and waits (bounded) until it has written endpoints.env. Returns an
  // empty string on success, else what went wrong (with the daemon's output). `extra_env`
  // ("NAME=value", e.g. NOTIFY_SOCKET) is added to the daemon's environment.
  std::string start(const std::vector<std::string>& extra_env = {}) {
    std::error_code ec;
    fs::remove(m_dir / "endpoints.env", ec);  // an old one from a previous run must not count
    m_endpoints = {};
    m_process = std::make_unique<BackgroundProcess>();
    const std::string spawned =
        m_process->start({ENROLLD_BIN, "demo", "--dir", m_dir.string(), "--http-port", "0"}, log_file(), extra_env);
    if (!spawned.empty()) return spawned;
    const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!m_process->running()) {
        return "enrolld demo exited with " + std::to_string(m_process->exit_code().value_or(-1)) +
               " before writing endpoints.env; its output:\n" + log();
      }
      if (fs::exists(m_dir / "endpoints.env")) {
        const std::string problem = Endpoints::parse(read_text(m_dir / "endpoints.env"), m_endpoints);
        if (problem.empty()) return check_local();
        // The file is written atomically, so a partial read means a broken file; retry once
        // more after a pause in case the writer is not atomic after all, then give up.
        std::this_thread::sleep_for(200ms);
        m_endpoints = {};
        const std::string again = Endpoints::parse(read_text(m_dir / "endpoints.env"), m_endpoints);
        if (again.empty()) return check_local();
        return again + "\n" + read_text(m_dir / "endpoints.env");
      }
      std::this_thread::sleep_for(50ms);
    }
    m_process->stop(SIGKILL, 5s);
    return "enrolld demo did not write endpoints.env within 60 s; its output:\n" + log();
  }

  // Sends `signal` and returns the exit status, or nullopt if it did not exit within 30 s.
  std::optional<int> stop(int signal = SIGTERM) {
    if (!m_process) return std::nullopt;
    auto code = m_process->stop(signal, kStopTimeout);
    m_process.reset();
    return code;
  }

  // enrollctl with this demo's config and admin listener.
  RunResult enrollctl(std::vector<std::string> args) const {
    std::vector<std::string> argv{ENROLLCTL_BIN, "--config", config().string(), "--admin-url", m_endpoints.admin_url};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(std::move(argv), kCommandTimeout);
  }

  // `enrollctl cert list`, parsed. Adds a test failure (and returns nullopt) if it fails or
  // its output does not have the documented shape.
  std::optional<std::vector<CertRow>> cert_list() const {
    const RunResult r = enrollctl({"cert", "list"});
    if (!r.ok()) {
      ADD_FAILURE() << "enrollctl cert list failed\n" << r.describe();
      return std::nullopt;
    }
    auto lines = lines_of(r.out);
    if (lines.empty() || !contains(lines.front(), "SERIAL") || !contains(lines.front(), "SUBJECT")) {
      ADD_FAILURE() << "enrollctl cert list has no header line\n" << r.describe();
      return std::nullopt;
    }
    std::vector<CertRow> rows;
    for (std::size_t i = 1; i < lines.size(); ++i) {
      if (trim(lines[i]).empty()) continue;
      std::istringstream in(lines[i]);
      CertRow row;
      in >> row.serial >> row.status >> row.not_after;
      std::getline(in, row.subject);
      row.subject = trim(row.subject);
      if (row.not_after.empty()) {
        ADD_FAILURE() << "enrollctl cert list: malformed line '" << lines[i] << "'\n" << r.describe();
        return std::nullopt;
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

  // The number of listed certificates, or -1 (with a test failure) if it cannot be listed.
  int cert_count() const {
    auto rows = cert_list();
    return rows ? static_cast<int>(rows->size()) : -1;
  }

  // Waits (bounded) until the daemon's output has a line containing all of `parts`.
  bool wait_for_log_line(const std::vector<std::string>& parts, std::chrono::milliseconds timeout = 10s) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    do {
      for (const auto& line : lines_of(log())) {
        if (std::all_of(parts.begin(), parts.end(), [&](const std::string& p) { return contains(line, p); })) {
          return true;
        }
      }
      std::this_thread::sleep_for(50ms);
    } while (std::chrono::steady_clock::now() < deadline);
    return false;
  }

 private:
  // The tests send traffic to 127.0.0.1 only: refuse endpoints anywhere else.
  std::string check_local() const {
    const std::string local = "http://127.0.0.1:" + m_endpoints.http_port + "/";
    for (const auto& url : {m_endpoints.cmp_url, m_endpoints.poll_url, m_endpoints.crl_url, m_endpoints.ocsp_url}) {
      if (url.rfind(local, 0) != 0) return url + " is not on " + local + "; not sending anything there";
    }
    if (m_endpoints.admin_url.rfind("http://127.0.0.1:", 0) != 0) {
      return "ADMIN_URL " + m_endpoints.admin_url + " is not on 127.0.0.1; not sending anything there";
    }
    return "";
  }

  fs::path m_dir;
  Endpoints m_endpoints;
  std::unique_ptr<BackgroundProcess> m_process;
};

// ---- openssl helpers -------------------------------------------------------------------

inline RunResult openssl(std::vector<std::string> args) {
  args.insert(args.begin(), "openssl");
  return run(std::move(args), kCommandTimeout);
}

// The value of a one-line `openssl x509 -noout -<field>` print ("subject=..." -> "...").
inline std::string x509_field(const fs::path& cert, const std::string& field, std::string* failure) {
  RunResult r = openssl({"x509", "-in", cert.string(), "-noout", "-" + field, "-nameopt", "RFC2253"});
  if (!r.ok()) {
    *failure += r.describe();
    return "";
  }
  std::string value = trim(r.out);
  const std::string prefix = field + "=";
  if (value.rfind(prefix, 0) == 0) value = trim(value.substr(prefix.size()));
  return value;
}

// One `openssl cmp` call. Either newkey+subject (ir, cr) or csr (p10cr).
struct CmpCall {
  std::string cmd = "ir";
  std::string server;  // full URL, path included
  std::string ref;
  std::string secret;
  fs::path newkey;
  std::string subject;
  fs::path csr;
  fs::path certout;
  std::vector<std::string> extra;
};

inline RunResult openssl_cmp(const CmpCall& call) {
  std::vector<std::string> args{
      "cmp", "-cmd", call.cmd, "-server", call.server, "-ref", call.ref, "-secret", "pass:" + call.secret};
  if (!call.csr.empty()) {
    args.insert(args.end(), {"-csr", call.csr.string()});
  } else {
    args.insert(args.end(), {"-newkey", call.newkey.string(), "-subject", call.subject});
  }
  args.insert(args.end(), {"-certout", call.certout.string()});
  args.insert(args.end(), call.extra.begin(), call.extra.end());
  return openssl(std::move(args));
}

// Checks everything the appliance promises about a certificate it issued for `key`:
// it verifies up to the demo's trust anchor, certifies that key, names `subject` (RFC 2253
// form) and the issuing CA as issuer, has a serial of at least 64 bits, is listed by
// `enrollctl cert list` as valid and printed identically by `enrollctl cert show`.
// Returns its serial as `enrollctl cert list` prints it (and the daemon logs it), or as
// openssl prints it if it is not listed, or empty if a check failed before it was known.
inline std::string expect_properly_issued(const Demo& demo, const fs::path& cert, const fs::path& key,
                                          const std::string& subject) {
  const Endpoints& ep = demo.endpoints();
  if (!fs::exists(cert)) {
    ADD_FAILURE() << "no certificate file " << cert;
    return "";
  }
  RunResult verify = openssl({"verify", "-CAfile", ep.trust, "-untrusted", ep.chain, cert.string()});
  EXPECT_TRUE(verify.ok() && contains(verify.out, ": OK")) << verify.describe();

  RunResult key_pub = openssl({"pkey", "-in", key.string(), "-pubout"});
  RunResult cert_pub = openssl({"x509", "-in", cert.string(), "-noout", "-pubkey"});
  EXPECT_TRUE(key_pub.ok()) << key_pub.describe();
  EXPECT_TRUE(cert_pub.ok()) << cert_pub.describe();
  EXPECT_TRUE(contains(key_pub.out, "BEGIN PUBLIC KEY")) << key_pub.describe();
  EXPECT_EQ(trim(cert_pub.out), trim(key_pub.out)) << "the certificate does not certify the requested key";

  std::string failure;
  EXPECT_EQ(x509_field(cert, "subject", &failure), subject);
  const std::string issuer = x509_field(cert, "issuer", &failure);
  const std::string ca_subject = x509_field(demo.dir() / "ca" / "issuing.pem", "subject", &failure);
  EXPECT_FALSE(ca_subject.empty());
  EXPECT_EQ(issuer, ca_subject) << "issuer is not the issuing CA";
  const std::string serial = canonical_serial(x509_field(cert, "serial", &failure));
  EXPECT_TRUE(failure.empty()) << failure;
  EXPECT_GE(serial_bits(serial), 64) << "serial " << serial << " has fewer than 64 bits";
  if (serial.empty()) return "";

  // Listed: the list's serial may be written with or without leading zeros, so rows are
  // matched by value; `cert show` is then given the serial exactly as the list printed it,
  // as an operator would.
  std::string listed = serial;
  auto rows = demo.cert_list();
  if (rows) {
    auto row = std::find_if(rows->begin(), rows->end(),
                            [&](const CertRow& r) { return canonical_serial(r.serial) == serial; });
    if (row == rows->end()) {
      ADD_FAILURE() << "serial " << serial << " is not in enrollctl cert list";
    } else {
      listed = row->serial;
      EXPECT_EQ(lower(row->serial), row->serial) << "serials are listed in lower-case hex";
      EXPECT_EQ(row->status, "valid");
      EXPECT_EQ(row->subject, subject);
    }
  }
  RunResult show = demo.enrollctl({"cert", "show", listed});
  EXPECT_TRUE(show.ok()) << "enrollctl cert show of serial " << listed << " as listed by enrollctl cert list\n"
                         << show.describe();
  EXPECT_EQ(show.out, read_text(cert)) << "enrollctl cert show prints another PEM than the client received";
  return listed;
}

// Every test fixture that needs a running demo derives from this: one demo per test suite,
// started in SetUpTestSuite and stopped with SIGTERM (exit status 0 expected) afterwards.
class DemoTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    s_tmp = std::make_unique<testing::TempDir>("enrolld-integ");
    s_demo = std::make_unique<Demo>(s_tmp->path() / "demo");
    s_start_error = s_demo->start();
    s_work_counter = 0;
  }

  static void TearDownTestSuite() {
    if (s_demo && s_start_error.empty()) stop_demo_expecting_success(*s_demo);
    s_demo.reset();
    s_tmp.reset();
  }

  static void stop_demo_expecting_success(Demo& demo, int signal = SIGTERM) {
    const bool was_running = demo.running();
    const auto code = demo.stop(signal);
    EXPECT_TRUE(was_running) << "enrolld demo was no longer running; its output:\n" << demo.log();
    ASSERT_TRUE(code.has_value()) << "enrolld demo did not exit within 30 s of signal " << signal << "; its output:\n"
                                  << demo.log();
    EXPECT_EQ(*code, 0) << "enrolld demo exit status after signal " << signal << "; its output:\n" << demo.log();
  }

  void SetUp() override {
    ASSERT_TRUE(s_start_error.empty()) << s_start_error;
    ASSERT_TRUE(s_demo->running()) << "enrolld demo is not running; its output:\n" << s_demo->log();
    m_work = s_tmp->path() / ("work-" + std::to_string(++s_work_counter));
    fs::create_directories(m_work);
  }

  void TearDown() override {
    if (HasFailure() && s_demo)
      std::cout << "---- enrolld demo output ----\n" << s_demo->log() << "-----------------------------\n";
  }

  static Demo& demo() { return *s_demo; }
  static const Endpoints& endpoints() { return s_demo->endpoints(); }
  const fs::path& work() const { return m_work; }

  // Fetches the DER CRL at `url` with curl and writes it as PEM to the work folder; its path.
  fs::path fetch_crl(const std::string& url, const std::string& name) const {
    const fs::path der = m_work / (name + ".der");
    RunResult got = run({"curl", "-sS", "--fail", "-o", der.string(), url}, kCommandTimeout);
    EXPECT_TRUE(got.ok()) << got.describe();
    const fs::path pem = m_work / (name + ".pem");
    RunResult converted = openssl({"crl", "-inform", "DER", "-in", der.string(), "-out", pem.string()});
    EXPECT_TRUE(converted.ok()) << converted.describe();
    return pem;
  }

  // A fresh EC P-256 key in the test's work folder.
  fs::path make_ec_key(const std::string& name = "device.key") const {
    const fs::path key = m_work / name;
    RunResult r = openssl({"ecparam", "-genkey", "-name", "prime256v1", "-out", key.string()});
    EXPECT_TRUE(r.ok()) << r.describe();
    return key;
  }

  // A certificate for /CN=`name` from openssl cmp with the demo's MAC credential (a fresh key);
  // the certificate's path. A failure fails the test.
  fs::path enroll_with_mac(const std::string& name) const {
    const fs::path key = make_ec_key(name + ".key");
    const fs::path cert = m_work / (name + ".pem");
    RunResult r =
        openssl_cmp({"ir", endpoints().cmp_url, endpoints().ref, endpoints().secret, key, "/CN=" + name, {}, cert, {}});
    EXPECT_TRUE(r.ok()) << r.describe();
    return cert;
  }

  // A PKCS#10 request for `key` with `subject` ("/CN=...").
  fs::path make_csr(const fs::path& key, const std::string& subject, const std::string& name = "device.csr") const {
    const fs::path csr = m_work / name;
    RunResult r = openssl({"req", "-new", "-key", key.string(), "-subj", subject, "-out", csr.string()});
    EXPECT_TRUE(r.ok()) << r.describe();
    return csr;
  }

  static inline std::unique_ptr<testing::TempDir> s_tmp;
  static inline std::unique_ptr<Demo> s_demo;
  static inline std::string s_start_error;
  static inline int s_work_counter = 0;

 private:
  fs::path m_work;
};

}  // namespace enrolld::integration
