#pragma once
// enrollctl's `ca init`, `ca create-intermediate`, `ca csr` and `ca import` (see app/ca_setup.h):
// their options, and running whichever was chosen.

#include <string>

#include <CLI/CLI.hpp>

namespace enrolld::app {

class CaSetupCommands {
 public:
  // Adds the four subcommands to `ca`.
  explicit CaSetupCommands(CLI::App& ca);

  // Whether one of them was chosen on the command line.
  bool chosen() const;

  // Runs the chosen one; `config_file` (if it exists) gives the HSM module, SOFTHSM2_CONF and
  // the folder relative pin-sources are read from. Returns the exit status.
  int run(const std::string& config_file) const;

 private:
  int init() const;
  int create_intermediate() const;
  int csr() const;
  int import() const;

  CLI::App* m_init = nullptr;
  CLI::App* m_intermediate = nullptr;
  CLI::App* m_csr = nullptr;
  CLI::App* m_import = nullptr;
  std::string m_key;        // pkcs11: URI of the key made or used
  std::string m_root_key;   // create-intermediate: the root's key (URI)
  std::string m_root_cert;  // create-intermediate: the root's certificate
  std::string m_label;      // create-intermediate: label of the new key
  std::string m_subject;    // "/O=.../CN=..."
  std::string m_key_type = "p256";
  std::string m_so_pin_file;  // init: make the token with this security officer PIN
  std::string m_cert;         // import
  std::string m_chain;        // import
  std::string m_out;
  unsigned m_days = 0;
  int m_path_length = 0;
  mutable std::string m_config_file;
};

}  // namespace enrolld::app
