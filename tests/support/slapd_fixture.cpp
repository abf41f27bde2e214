#include "support/slapd_fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <thread>

#include "common/bytes.h"
#include "integration/process.h"

namespace enrolld::testing {

namespace {

namespace fs = std::filesystem;

constexpr auto kStartTimeout = std::chrono::seconds(10);
constexpr auto kStopTimeout = std::chrono::seconds(10);
constexpr auto kClientTimeout = std::chrono::seconds(5);
constexpr int kPortAttempts = 3;
constexpr std::uint64_t kMaxMapSize = 100 * 1024 * 1024;  // mdb maps this much address space per database

// A port nobody listens on now: the kernel's pick for a socket bound to port 0, released again.
// Another process may take it before slapd does; the constructor then tries another one.
std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  ::sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::socklen_t length = sizeof address;
  const bool ok = ::bind(fd, reinterpret_cast<::sockaddr*>(&address), sizeof address) == 0 &&
                  ::getsockname(fd, reinterpret_cast<::sockaddr*>(&address), &length) == 0;
  ::close(fd);
  if (!ok) throw std::runtime_error("cannot find a free port on 127.0.0.1");
  return ntohs(address.sin_port);
}

}  // namespace

// slapd as our child. PR_SET_PDEATHSIG kills it when we die, so a test that crashes or that ctest
// kills for its timeout leaves no slapd behind holding a port and a temp folder.
class Slapd::Process {
 public:
  // Starts argv[0] (an absolute path) with stdout and stderr appended to `log`; throws on failure.
  Process(std::vector<std::string> argv, const fs::path& log) {
    std::vector<char*> c_argv;
    for (auto& arg : argv) c_argv.push_back(arg.data());
    c_argv.push_back(nullptr);
    const std::string log_path = log.string();
    const ::pid_t parent = ::getpid();
    m_pid = ::fork();
    if (m_pid < 0) throw std::runtime_error("fork failed");
    if (m_pid == 0) {  // only async-signal-safe calls from here to exec
      if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) ::_exit(127);
      const int out = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      const int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (out < 0 || in < 0 || ::dup2(in, STDIN_FILENO) < 0 || ::dup2(out, STDOUT_FILENO) < 0 ||
          ::dup2(out, STDERR_FILENO) < 0) {
        ::_exit(127);
      }
      ::execv(c_argv[0], c_argv.data());
      ::_exit(127);
    }
  }
  ~Process() { stop(std::chrono::seconds(0)); }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  bool running() {
    if (m_exit_code) return false;
    int status = 0;
    if (::waitpid(m_pid, &status, WNOHANG) != m_pid) return true;
    m_exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  int exit_code() { return running() ? -1 : *m_exit_code; }

  // SIGTERM, and SIGKILL when it has not exited within `timeout`; waits for it either way.
  void stop(std::chrono::milliseconds timeout) {
    if (!running()) return;
    ::kill(m_pid, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (running() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!running()) return;
    ::kill(m_pid, SIGKILL);
    int status = 0;
    ::waitpid(m_pid, &status, 0);
    m_exit_code = 128 + SIGKILL;
  }

 private:
  ::pid_t m_pid = -1;
  std::optional<int> m_exit_code;
};

Slapd::Slapd() : m_dir("enrolld-slapd") {
  if (!fs::exists(kSlapd)) {
    throw std::runtime_error(std::string(kSlapd) + " is missing: run scripts/install-deps.sh (slapd, ldap-utils)");
  }
  m_password = to_hex(random_bytes(16));
  std::ofstream(m_dir.path() / "password", std::ios::binary) << m_password;  // ldapsearch -y: no newline
  fs::create_directories(m_dir.path() / "data");
  write_config();
  for (int attempt = 1;; ++attempt) {
    m_port = free_port();
    m_url = "ldap://127.0.0.1:" + std::to_string(m_port);
    try {
      launch();
      break;
    } catch (const std::runtime_error&) {
      if (attempt == kPortAttempts) throw;
    }
  }
  add_suffix();
}

Slapd::~Slapd() {
  stop();
}

void Slapd::write_config() const {
  const std::string dir = m_dir.path().string();
  std::ofstream conf(m_dir.path() / "slapd.conf");
  conf << "include /etc/ldap/schema/core.schema\n"
          "include /etc/ldap/schema/cosine.schema\n"
          "include /etc/ldap/schema/inetorgperson.schema\n"
          "modulepath /usr/lib/ldap\n"
          "moduleload back_mdb\n"
       << "pidfile \"" << dir << "/slapd.pid\"\n"
       << "argsfile \"" << dir << "/slapd.args\"\n"
       << "database mdb\n"
       << "maxsize " << kMaxMapSize << "\n"
       << "suffix \"" << m_suffix << "\"\n"
       << "rootdn \"" << m_bind_dn << "\"\n"
       << "rootpw " << m_password << "\n"
       << "directory \"" << dir << "/data\"\n";
  if (!conf) throw std::runtime_error("cannot write " + dir + "/slapd.conf");
}

void Slapd::launch() {
  // -d 0: no debug output, and no fork, so the process we started is slapd itself.
  m_process = std::make_unique<Process>(
      std::vector<std::string>{kSlapd, "-f", (m_dir.path() / "slapd.conf").string(), "-h", m_url + "/", "-d", "0"},
      m_dir.path() / "slapd.log");
  std::vector<std::string> probe = ldap_client_args();
  probe.insert(probe.begin(), "ldapsearch");
  probe.insert(probe.end(), {"-b", "", "-s", "base", "-LLL", "(objectClass=*)", "namingContexts"});
  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!m_process->running()) {
      throw std::runtime_error("slapd exited at start (code " + std::to_string(m_process->exit_code()) + "):\n" +
                               log());
    }
    if (integration::run(probe, kClientTimeout).ok()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  m_process->stop(std::chrono::seconds(0));
  throw std::runtime_error("slapd did not answer on " + m_url + " within 10 s:\n" + log());
}

void Slapd::add_suffix() const {
  std::vector<std::string> add = ldap_client_args();
  add.insert(add.begin(), "ldapadd");
  const auto result = integration::run(
      add, kClientTimeout,
      "dn: " + m_suffix + "\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: example\n");
  if (!result.ok()) throw std::runtime_error("cannot add " + m_suffix + ":\n" + result.describe());
}

void Slapd::stop() {
  if (m_process) m_process->stop(kStopTimeout);
}

void Slapd::start() {
  if (running()) return;
  launch();
}

bool Slapd::running() {
  return m_process && m_process->running();
}

std::vector<std::string> Slapd::ldap_client_args() const {
  return {"-x", "-H", m_url, "-D", m_bind_dn, "-y", (m_dir.path() / "password").string()};
}

std::string Slapd::log() const {
  return integration::read_text(m_dir.path() / "slapd.log");
}

}  // namespace enrolld::testing
