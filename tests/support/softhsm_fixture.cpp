#include "support/softhsm_fixture.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <openssl/ec.h>

#include "ca/ca_certificates.h"
#include "common/openssl_util.h"

namespace enrolld::testing {

namespace {
void check(const Status& status, const char* what) {
  if (!status) throw std::runtime_error(std::string(what) + ": " + status.error().message);
}
}  // namespace

SoftHsmToken::SoftHsmToken(const std::vector<KeySpec>& keys) : m_dir("enrolld-softhsm") {
  std::filesystem::create_directories(dir() / "tokens");
  const auto conf = dir() / "softhsm2.conf";
  std::ofstream(conf) << "directories.tokendir = " << (dir() / "tokens").string()
                      << "\nobjectstore.backend = file\nlog.level = ERROR\n";
  ::setenv("SOFTHSM2_CONF", conf.c_str(), 1);
  m_access = hsm::TokenAccess{kSoftHsmModule, "test-token", "1234"};
  check(hsm::ensure_token(m_access, "5678"), "ensure_token");
  for (const auto& [label, type] : keys) {
    auto made = hsm::ensure_key_pair(m_access, label, type);
    if (!made) throw std::runtime_error("ensure_key_pair: " + made.error().message);
  }
  auto token = hsm::Pkcs11Token::open(m_access);
  if (!token) throw std::runtime_error("open token: " + token.error().message);
  m_token = *token;
}

std::unique_ptr<hsm::Signer> SoftHsmToken::signer(const std::string& label) {
  auto signer = m_token->signer(label);
  if (!signer) throw std::runtime_error("signer: " + signer.error().message);
  return std::move(*signer);
}

TestCa make_test_ca(SoftHsmToken& token) {
  auto root_signer = token.signer("root");
  auto issuing_signer = token.signer("issuing");
  auto root = ca::make_root_certificate({{{"CN", "Test Root CA"}}, std::chrono::hours(24 * 3650), 1}, *root_signer);
  if (!root) throw std::runtime_error("root: " + root.error().message);
  auto issuing = ca::make_subordinate_certificate({{{"CN", "Test Issuing CA"}}, std::chrono::hours(24 * 365), 0},
                                                  issuing_signer->public_key(), root->get(), *root_signer);
  if (!issuing) throw std::runtime_error("issuing: " + issuing.error().message);
  std::vector<ossl::X509Ptr> chain;
  chain.push_back(std::move(*issuing));
  chain.push_back(ossl::up_ref(root->get()));
  auto authority = std::make_unique<ca::CertificateAuthority>(std::move(chain), std::move(issuing_signer),
                                                              [] { return std::chrono::system_clock::now(); });
  return TestCa{std::move(*root), std::move(authority)};
}

ossl::EvpPkeyPtr make_ec_key() {
  return ossl::EvpPkeyPtr(::EVP_EC_gen("P-256"));
}

Bytes public_key_der(const ::EVP_PKEY* key) {
  return ossl::der_of_public_key(key);
}

Bytes name_der(const std::string& text) {
  ossl::X509NamePtr name(::X509_NAME_new());
  std::stringstream parts(text);
  std::string part;
  while (std::getline(parts, part, ',')) {
    auto eq = part.find('=');
    ::X509_NAME_add_entry_by_txt(name.get(), part.substr(0, eq).c_str(), MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(part.substr(eq + 1).c_str()), -1, -1, 0);
  }
  return ossl::der_of(name.get());
}

}  // namespace enrolld::testing
