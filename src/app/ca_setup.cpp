#include "app/ca_setup.h"

#include <openssl/pem.h>

#include "hsm/pkcs11/token.h"

namespace enrolld::app {

namespace {

// A new key pair: a label already in the token may be another CA's key, never reuse it.
Status make_fresh_key(const KeyLocation& key, hsm::KeyType type) {
  auto made = hsm::ensure_key_pair(key.token, key.object, type);
  if (!made) return tl::unexpected(made.error());
  if (!*made) {
    return fail(ErrorCode::kConfigInvalid, "a key labelled '" + key.object + "' exists already in token '" +
                                               key.token.token_label + "'; pick a new label");
  }
  return {};
}

Result<std::unique_ptr<hsm::Signer>> signer_for(const KeyLocation& key) {
  auto token = hsm::Pkcs11Token::open(key.token);
  if (!token) return tl::unexpected(token.error());
  return (*token)->signer(key.object);
}

std::string pem_of_request(const ::X509_REQ* request) {
  ossl::BioPtr bio(::BIO_new(::BIO_s_mem()));
  if (!bio || ::PEM_write_bio_X509_REQ(bio.get(), request) != 1) return {};
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

}  // namespace

Result<std::vector<std::pair<std::string, std::string>>> parse_subject(std::string_view text) {
  if (text.size() < 2 || text.front() != '/') {
    return fail(ErrorCode::kConfigInvalid, "a subject is written /ATTRIBUTE=value/..., e.g. /O=Example/CN=Root CA");
  }
  std::vector<std::pair<std::string, std::string>> parts;
  for (std::size_t start = 1; start <= text.size();) {
    const std::size_t end = std::min(text.find('/', start), text.size());
    const std::string_view part = text.substr(start, end - start);
    const std::size_t eq = part.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == part.size()) {
      return fail(ErrorCode::kConfigInvalid, "subject part '" + std::string(part) + "' is not ATTRIBUTE=value");
    }
    parts.emplace_back(std::string(part.substr(0, eq)), std::string(part.substr(eq + 1)));
    start = end + 1;
  }
  return parts;
}

Result<std::string> init_root(const KeyLocation& key, hsm::KeyType type, const std::optional<std::string>& so_pin,
                              const ca::CaCertificateSpec& spec) {
  if (so_pin) {
    if (auto ok = hsm::ensure_token(key.token, *so_pin); !ok) return tl::unexpected(ok.error());
  }
  if (auto ok = make_fresh_key(key, type); !ok) return tl::unexpected(ok.error());
  auto signer = signer_for(key);
  if (!signer) return tl::unexpected(signer.error());
  auto root = ca::make_root_certificate(spec, **signer);
  if (!root) return tl::unexpected(root.error());
  return ossl::pem_of(root->get());
}

Result<std::string> create_intermediate(const KeyLocation& root_key, const ::X509* root, const std::string& key_label,
                                        hsm::KeyType type, const ca::CaCertificateSpec& spec) {
  const KeyLocation key{root_key.token, key_label};
  // Checked before a key is made: a wrong root key must leave nothing behind in the token.
  auto root_signer = signer_for(root_key);
  if (!root_signer) return tl::unexpected(root_signer.error());
  if (::EVP_PKEY_eq((*root_signer)->public_key(), ::X509_get0_pubkey(root)) != 1) {
    return fail(ErrorCode::kConfigInvalid,
                "the root key '" + root_key.object + "' is not the key of the root certificate");
  }
  root_signer->reset();
  if (auto ok = make_fresh_key(key, type); !ok) return tl::unexpected(ok.error());
  auto token = hsm::Pkcs11Token::open(root_key.token);
  if (!token) return tl::unexpected(token.error());
  auto issuer = (*token)->signer(root_key.object);
  if (!issuer) return tl::unexpected(issuer.error());
  auto subject = (*token)->signer(key_label);
  if (!subject) return tl::unexpected(subject.error());
  auto cert = ca::make_subordinate_certificate(spec, (*subject)->public_key(), root, **issuer);
  if (!cert) return tl::unexpected(cert.error());
  return ossl::pem_of(cert->get());
}

Result<std::string> issuing_request(const KeyLocation& key, hsm::KeyType type,
                                    const std::vector<std::pair<std::string, std::string>>& subject) {
  if (auto ok = make_fresh_key(key, type); !ok) return tl::unexpected(ok.error());
  auto signer = signer_for(key);
  if (!signer) return tl::unexpected(signer.error());
  auto request = ca::make_ca_request(subject, **signer);
  if (!request) return tl::unexpected(request.error());
  std::string pem = pem_of_request(request->get());
  if (pem.empty()) return fail(ErrorCode::kSystemFailure, "cannot write the request as PEM");
  return pem;
}

Status import_issuing(const KeyLocation& key, const std::filesystem::path& cert_file,
                      const std::filesystem::path& chain_file, const std::filesystem::path& out_dir) {
  auto cert = ossl::read_pem_certificate(cert_file.string());
  if (!cert) return tl::unexpected(cert.error());
  auto chain = ossl::read_pem_certificates(chain_file.string());
  if (!chain) return tl::unexpected(chain.error());
  auto signer = signer_for(key);
  if (!signer) return tl::unexpected(signer.error());
  if (auto ok = ca::check_issuing_certificate(cert->get(), *chain, **signer); !ok) {
    return fail(ErrorCode::kConfigInvalid, cert_file.string() + ": " + ok.error().message);
  }
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return fail(ErrorCode::kSystemUnavailable, "cannot create " + out_dir.string() + ": " + ec.message());
  std::string chain_pem;
  for (const auto& above : *chain) chain_pem += ossl::pem_of(above.get());
  if (auto ok = ossl::write_file_atomically((out_dir / "issuing.pem").string(), ossl::pem_of(cert->get())); !ok) {
    return ok;
  }
  return ossl::write_file_atomically((out_dir / "chain.pem").string(), chain_pem);
}

}  // namespace enrolld::app
