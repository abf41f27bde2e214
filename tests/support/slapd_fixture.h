#pragma once
// A real OpenLDAP slapd on 127.0.0.1 and a free port, in a private temp folder with a throwaway
// slapd.conf: core, cosine and inetorgperson schema, one mdb database for dc=example,dc=org whose
// rootdn binds with a random password. No mock: tests read back what they wrote with the real
// ldapsearch (ldap_client_args()).

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "support/temp_dir.h"

namespace enrolld::testing {

inline constexpr const char* kSlapd = "/usr/sbin/slapd";

// Thread-safety: construct and use from one thread.
class Slapd {
 public:
  // Starts slapd and adds the suffix entry (dcObject + organization). Throws std::runtime_error,
  // with slapd's log, when /usr/sbin/slapd is missing (scripts/install-deps.sh installs it) or
  // does not answer within 10 s.
  Slapd();
  ~Slapd();  // stops it
  Slapd(const Slapd&) = delete;
  Slapd& operator=(const Slapd&) = delete;

  // SIGTERM, and SIGKILL if it has not exited after 10 s. The data stays for start().
  void stop();
  // Starts it again on the same port with the same data; throws like the constructor.
  void start();
  bool running();

  const std::string& url() const { return m_url; }  // ldap://127.0.0.1:<port>
  std::uint16_t port() const { return m_port; }
  const std::string& bind_dn() const { return m_bind_dn; }
  const std::string& password() const { return m_password; }
  const std::string& suffix() const { return m_suffix; }
  // {"-x", "-H", url, "-D", bind_dn, "-y", <file holding the password>}: the arguments that let
  // ldapsearch, ldapadd... bind as the rootdn without the password on their command line.
  std::vector<std::string> ldap_client_args() const;
  std::string log() const;  // what slapd wrote, for assertion messages

 private:
  void write_config() const;
  void launch();  // starts slapd and waits until it answers; throws
  void add_suffix() const;

  TempDir m_dir;
  std::uint16_t m_port = 0;
  std::string m_url;
  std::string m_bind_dn = "cn=admin,dc=example,dc=org";
  std::string m_password;
  std::string m_suffix = "dc=example,dc=org";
  class Process;  // slapd as our child, killed when we die
  std::unique_ptr<Process> m_process;
};

}  // namespace enrolld::testing
