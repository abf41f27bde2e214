#pragma once
// A real SoftHSM2 token in a private temp folder (its own softhsm2.conf), for tests of the HSM,
// the CA and everything above them. No mock: signatures are made inside SoftHSM via libp11.

#include <memory>
#include <string>
#include <vector>

#include "ca/certificate_authority.h"
#include "hsm/pkcs11/token.h"
#include "support/temp_dir.h"

namespace enrolld::testing {

inline constexpr const char* kSoftHsmModule = "/usr/lib/softhsm/libsofthsm2.so";

// Thread-safety: construct and use from one thread. Sets SOFTHSM2_CONF for the process.
class SoftHsmToken {
 public:
  using KeySpec = std::pair<std::string, hsm::KeyType>;

  // Creates and initialises the token and generates `keys` inside it (all before libp11 opens
  // the token: two libp11 contexts on one module would finalise each other). Throws on failure.
  explicit SoftHsmToken(const std::vector<KeySpec>& keys = {{"root", hsm::KeyType::kEcP256},
                                                            {"issuing", hsm::KeyType::kEcP256}});
  const hsm::TokenAccess& access() const { return m_access; }
  const std::filesystem::path& dir() const { return m_dir.path(); }

  // Returns a signer for a key made by the constructor; throws if there is none.
  std::unique_ptr<hsm::Signer> signer(const std::string& label);

 private:
  TempDir m_dir;
  hsm::TokenAccess m_access;
  std::shared_ptr<hsm::Pkcs11Token> m_token;
};

// A root CA and an issuing CA whose keys live in `token`; the issuing CA is ready to issue.
struct TestCa {
  ossl::X509Ptr root;
  std::unique_ptr<ca::CertificateAuthority> issuing;
};
TestCa make_test_ca(SoftHsmToken& token);

// A software key pair for a requester (device), and its DER SubjectPublicKeyInfo.
ossl::EvpPkeyPtr make_ec_key();
Bytes public_key_der(const ::EVP_PKEY* key);
// DER Name from "CN=x,O=y" style text (comma-separated, no escapes).
Bytes name_der(const std::string& text);

}  // namespace enrolld::testing
