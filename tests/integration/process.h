#pragma once
// Small process helpers for the integration tests: run a command with a timeout and capture
// its output, or keep a long-running process (the daemon) in the background with its output
// going to a log file. Header-only; POSIX (posix_spawn, poll, waitpid).

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace enrolld::integration {

using namespace std::chrono_literals;

// The outcome of one command. exit_code is the exit status, 128+N for a signal N, -1 if the
// command could not be started or timed out.
struct RunResult {
  std::vector<std::string> argv;
  int exit_code = -1;
  bool timed_out = false;
  std::string spawn_error;
  std::string out;  // stdout
  std::string err;  // stderr

  bool ok() const { return exit_code == 0 && !timed_out && spawn_error.empty(); }
  std::string both() const { return out + err; }
  // Everything needed to understand a failure, for assertion messages.
  std::string describe() const {
    std::ostringstream text;
    text << "command:";
    for (const auto& a : argv) text << " '" << a << "'";
    text << "\nexit code: " << exit_code << (timed_out ? " (timed out, killed)" : "");
    if (!spawn_error.empty()) text << "\nspawn error: " << spawn_error;
    text << "\n--- stdout ---\n" << out << "\n--- stderr ---\n" << err << "\n--------------\n";
    return text.str();
  }
};

namespace detail {

// The environment for children: ours without proxy settings, so that clients (openssl cmp,
// curl) talk to 127.0.0.1 directly.
inline std::vector<std::string> child_environment() {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry(*e);
    std::string name = entry.substr(0, entry.find('='));
    std::string lower;
    for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "http_proxy" || lower == "https_proxy" || lower == "all_proxy" || lower == "no_proxy") continue;
    env.push_back(entry);
  }
  return env;
}

inline std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

inline int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace detail

// Runs argv[0] (looked up in PATH) with stdin from /dev/null, or fed with `input` if given,
// and waits at most `timeout`; a command still running then is killed.
inline RunResult run(std::vector<std::string> argv, std::chrono::milliseconds timeout = 60s,
                     std::optional<std::string> input = std::nullopt) {
  RunResult result;
  result.argv = argv;
  int out_pipe[2] = {-1, -1};
  int err_pipe[2] = {-1, -1};
  int in_pipe[2] = {-1, -1};
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0 ||
      (input && ::pipe2(in_pipe, O_CLOEXEC) != 0)) {
    result.spawn_error = std::string("pipe: ") + std::strerror(errno);
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1], in_pipe[0], in_pipe[1]}) {
      if (fd >= 0) ::close(fd);
    }
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (input) {
    posix_spawn_file_actions_adddup2(&actions, in_pipe[0], STDIN_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  std::vector<std::string> env = detail::child_environment();
  auto c_argv = detail::c_strings(argv);
  auto c_env = detail::c_strings(env);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, c_argv[0], &actions, nullptr, c_argv.data(), c_env.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (input) ::close(in_pipe[0]);
  if (rc != 0) {
    result.spawn_error = std::string("posix_spawnp: ") + std::strerror(rc);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    if (input) ::close(in_pipe[1]);
    return result;
  }
  if (input) {
    // Small inputs only (the pipe buffer holds 64 KiB); the child reads it at its pace.
    ::fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
  }

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t written = 0;
  int in_fd = input ? in_pipe[1] : -1;
  std::vector<pollfd> fds;
  bool out_open = true, err_open = true;
  while (out_open || err_open) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    fds.clear();
    if (out_open) fds.push_back({out_pipe[0], POLLIN, 0});
    if (err_open) fds.push_back({err_pipe[0], POLLIN, 0});
    if (in_fd >= 0) fds.push_back({in_fd, POLLOUT, 0});
    const int n = ::poll(fds.data(), fds.size(), static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (n < 0 && errno != EINTR) break;
    for (const auto& p : fds) {
      if (p.revents == 0) continue;
      if (p.fd == in_fd) {
        const ssize_t w = ::write(in_fd, input->data() + written, input->size() - written);
        if (w > 0) written += static_cast<std::size_t>(w);
        if (w < 0 && errno != EAGAIN) written = input->size();
        if (written >= input->size()) {
          ::close(in_fd);
          in_fd = -1;
        }
        continue;
      }
      char buffer[8192];
      const ssize_t r = ::read(p.fd, buffer, sizeof buffer);
      if (r > 0) {
        (p.fd == out_pipe[0] ? result.out : result.err).append(buffer, static_cast<std::size_t>(r));
      } else if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
        (p.fd == out_pipe[0] ? out_open : err_open) = false;
      }
    }
  }
  if (in_fd >= 0) ::close(in_fd);
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  // The pipes are closed: the child has exited, or closed them and runs on; the deadline
  // still holds for it.
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, result.timed_out ? 0 : WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) break;
    if (r == 0 && std::chrono::steady_clock::now() >= deadline) {
      result.timed_out = true;
      ::kill(pid, SIGKILL);
      continue;
    }
    if (r == 0) std::this_thread::sleep_for(5ms);
  }
  result.exit_code = result.timed_out ? -1 : detail::decode_status(status);
  return result;
}

inline std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A process left running in the background, its stdout and stderr appended to a log file.
// The destructor kills it if it is still running (a failed test must not leave it behind).
class BackgroundProcess {
 public:
  BackgroundProcess() = default;
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;
  ~BackgroundProcess() {
    if (running()) {
      ::kill(m_pid, SIGKILL);
      int status = 0;
      ::waitpid(m_pid, &status, 0);
    }
  }

  // Returns an empty string on success, else what went wrong. `extra_env` ("NAME=value") is
  // added to the child's environment.
  std::string start(std::vector<std::string> argv, const std::filesystem::path& log_file,
                    const std::vector<std::string>& extra_env = {}) {
    m_log = log_file;
    m_exit_code.reset();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    std::vector<std::string> env = detail::child_environment();
    env.insert(env.end(), extra_env.begin(), extra_env.end());
    auto c_argv = detail::c_strings(argv);
    auto c_env = detail::c_strings(env);
    const int rc = ::posix_spawn(&m_pid, c_argv[0], &actions, nullptr, c_argv.data(), c_env.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      m_pid = -1;
      return std::string("posix_spawn ") + argv[0] + ": " + std::strerror(rc);
    }
    return "";
  }

  bool running() {
    if (m_pid <= 0 || m_exit_code) return false;
    int status = 0;
    const pid_t r = ::waitpid(m_pid, &status, WNOHANG);
    if (r == m_pid) {
      m_exit_code = detail::decode_status(status);
      return false;
    }
    return r == 0;
  }

  // Sends `signal` and waits at most `timeout` for the exit; returns the exit code (128+N
  // for death by signal N), or nullopt if it did not exit in time (it is then killed).
  std::optional<int> stop(int signal = SIGTERM, std::chrono::milliseconds timeout = 30s) {
    if (!running()) return m_exit_code;
    ::kill(m_pid, signal);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!running()) return m_exit_code;
      std::this_thread::sleep_for(20ms);
    }
    ::kill(m_pid, SIGKILL);
    int status = 0;
    ::waitpid(m_pid, &status, 0);
    m_pid = -1;
    return std::nullopt;
  }

  std::optional<int> exit_code() {
    running();
    return m_exit_code;
  }
  pid_t pid() const { return m_pid; }
  std::string log() const { return read_text(m_log); }

 private:
  pid_t m_pid = -1;
  std::optional<int> m_exit_code;
  std::filesystem::path m_log;
};

}  // namespace enrolld::integration
