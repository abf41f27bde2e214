#include "app/enrollctl_ca.h"

#include <filesystem>
#include <fstream>
#include <iostream>

#include "app/ca_setup.h"
#include "app/config.h"

namespace enrolld::app {

namespace {

constexpr unsigned kRootDays = 7300;          // 20 years
constexpr unsigned kIntermediateDays = 3650;  // 10 years

int failed(const Error& error) {
  std::cerr << "enrollctl: " << error.message << "\n";
  return 1;
}

// The configuration the key URIs are read against: the file when it exists (before a CA is set
// up there may be none), else the defaults with relative paths from the working directory.
Result<Config> key_context(const std::string& config_file) {
  if (std::filesystem::exists(config_file)) return load_config(config_file);
  Config defaults;
  defaults.file = std::filesystem::current_path() / "enrollctl";
  return defaults;
}

Result<KeyLocation> key_at(const std::string& config_file, const std::string& uri) {
  auto config = key_context(config_file);
  if (!config) return tl::unexpected(config.error());
  return locate_key(*config, uri);
}

Status write_out(const std::string& file, const std::string& pem) {
  return ossl::write_file_atomically(std::filesystem::absolute(file).string(), pem, 0644);
}

// What every command that makes a key is given: the subject, the key type and where the key goes.
struct NewKey {
  std::vector<std::pair<std::string, std::string>> subject;
  hsm::KeyType type;
  KeyLocation key;
};

Result<NewKey> new_key(const std::string& config_file, const std::string& subject_text, const std::string& key_type,
                       const std::string& key_uri) {
  auto subject = parse_subject(subject_text);
  if (!subject) return tl::unexpected(subject.error());
  auto type = hsm::parse_key_type(key_type);
  if (!type) return tl::unexpected(type.error());
  auto key = key_at(config_file, key_uri);
  if (!key) return tl::unexpected(key.error());
  return NewKey{std::move(*subject), *type, std::move(*key)};
}

}  // namespace

CaSetupCommands::CaSetupCommands(CLI::App& ca) {
  const std::string key_types = "key type: p256, p384, rsa2048, rsa3072";
  m_init = ca.add_subcommand("init", "make a root CA: its key in the HSM, its self-signed certificate");
  m_init->add_option("--key", m_key, "the new root key (RFC 7512 pkcs11: URI with pin-source)")->required();
  m_init->add_option("--subject", m_subject, "e.g. /O=Example/CN=Example Root CA")->required();
  m_init->add_option("--key-type", m_key_type, key_types)->capture_default_str();
  m_init->add_option("--days", m_days, "validity (default 7300)");
  m_init->add_option("--so-pin-file", m_so_pin_file, "initialise the token first, with this security officer PIN");
  m_init->add_option("--out", m_out, "where to write the root certificate (PEM)")->required();

  m_intermediate = ca.add_subcommand("create-intermediate", "make an issuing CA under a root whose key is in the HSM");
  m_intermediate->add_option("--root-key", m_root_key, "the root's key (pkcs11: URI)")->required();
  m_intermediate->add_option("--root-cert", m_root_cert, "the root's certificate (PEM)")->required();
  m_intermediate->add_option("--label", m_label, "label of the new key, in the root key's token")->required();
  m_intermediate->add_option("--subject", m_subject, "e.g. /O=Example/CN=Example Issuing CA")->required();
  m_intermediate->add_option("--key-type", m_key_type, key_types)->capture_default_str();
  m_intermediate->add_option("--days", m_days, "validity (default 3650)");
  m_intermediate->add_option("--path-length", m_path_length, "pathLenConstraint (-1: none)")->capture_default_str();
  m_intermediate->add_option("--out", m_out, "where to write its certificate (PEM)")->required();

  m_csr = ca.add_subcommand("csr", "a CSR for an issuing CA key in the HSM, for an outside root to sign");
  m_csr->add_option("--key", m_key, "the issuing CA's new key (pkcs11: URI; a label in use is refused)")->required();
  m_csr->add_option("--subject", m_subject, "e.g. /O=Example/CN=Example Issuing CA")->required();
  m_csr->add_option("--key-type", m_key_type, key_types)->capture_default_str();
  m_csr->add_option("--out", m_out, "where to write the CSR (PEM)")->required();

  m_import = ca.add_subcommand("import", "install the certificate an outside CA issued for the key of 'ca csr'");
  m_import->add_option("--key", m_key, "the issuing CA's key (pkcs11: URI)")->required();
  m_import->add_option("--cert", m_cert, "the issued CA certificate (PEM)")->required();
  m_import->add_option("--chain", m_chain, "its issuers up to the root (PEM)")->required();
  m_import->add_option("--out", m_out, "folder for issuing.pem and chain.pem")->required();
}

bool CaSetupCommands::chosen() const {
  return *m_init || *m_intermediate || *m_csr || *m_import;
}

int CaSetupCommands::run(const std::string& config_file) const {
  m_config_file = config_file;
  if (*m_init) return init();
  if (*m_intermediate) return create_intermediate();
  if (*m_csr) return csr();
  return import();
}

int CaSetupCommands::init() const {
  auto made = new_key(m_config_file, m_subject, m_key_type, m_key);
  if (!made) return failed(made.error());
  const KeyLocation* key = &made->key;
  std::optional<std::string> so_pin;
  if (!m_so_pin_file.empty()) {
    auto pin = ossl::read_first_line(m_so_pin_file);
    if (!pin) return failed(pin.error());
    so_pin = std::move(*pin);
  }
  const ca::CaCertificateSpec spec{made->subject, std::chrono::hours(24) * (m_days != 0 ? m_days : kRootDays), -1};
  auto pem = init_root(*key, made->type, so_pin, spec);
  if (!pem) return failed(pem.error());
  if (auto ok = write_out(m_out, *pem); !ok) return failed(ok.error());
  std::cout << "root CA key '" << key->object << "' made in token '" << key->token.token_label << "'; certificate in "
            << m_out << "\n";
  return 0;
}

int CaSetupCommands::create_intermediate() const {
  auto made = new_key(m_config_file, m_subject, m_key_type, m_root_key);  // the new key goes into the root's token
  if (!made) return failed(made.error());
  auto root = ossl::read_pem_certificate(m_root_cert);
  if (!root) return failed(root.error());
  const ca::CaCertificateSpec spec{made->subject, std::chrono::hours(24) * (m_days != 0 ? m_days : kIntermediateDays),
                                   m_path_length};
  auto pem = app::create_intermediate(made->key, root->get(), m_label, made->type, spec);
  if (!pem) return failed(pem.error());
  if (auto ok = write_out(m_out, *pem); !ok) return failed(ok.error());
  std::cout << "issuing CA key '" << m_label << "' made; certificate in " << m_out
            << "\nconfigure it in [ca]: certificate = \"" << m_out << "\", chain = \"" << m_root_cert
            << "\", key = the --root-key URI with object=" << m_label << "\n";
  return 0;
}

int CaSetupCommands::csr() const {
  auto made = new_key(m_config_file, m_subject, m_key_type, m_key);
  if (!made) return failed(made.error());
  auto pem = issuing_request(made->key, made->type, made->subject);
  if (!pem) return failed(pem.error());
  if (auto ok = write_out(m_out, *pem); !ok) return failed(ok.error());
  std::cout << "CSR for key '" << made->key.object << "' in " << m_out
            << "; have the outside CA sign it as a CA certificate, then run 'enrollctl ca import'\n";
  return 0;
}

int CaSetupCommands::import() const {
  auto key = key_at(m_config_file, m_key);
  if (!key) return failed(key.error());
  if (auto ok = import_issuing(*key, m_cert, m_chain, m_out); !ok) return failed(ok.error());
  const std::filesystem::path out = std::filesystem::absolute(m_out);
  std::cout << "installed: configure [ca] with\n  certificate = \"" << (out / "issuing.pem").string()
            << "\"\n  chain = \"" << (out / "chain.pem").string() << "\"\n  key = \"" << m_key << "\"\n";
  return 0;
}

}  // namespace enrolld::app
