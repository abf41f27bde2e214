#include "app/root_rollover.h"

#include "app/hsm_keys.h"
#include "ca/ca_certificates.h"
#include "hsm/pkcs11/token.h"

namespace enrolld::app {

namespace {

// The root the configured chain ends with.
Result<ossl::X509Ptr> configured_root(const Config& config) {
  auto certs = ossl::read_pem_certificates(config.ca_chain.value_or(config.ca_certificate).string());
  if (!certs) return tl::unexpected(certs.error());
  if (certs->empty()) return fail(ErrorCode::kConfigInvalid, "the CA chain file holds no certificate");
  return std::move(certs->back());
}

bool signed_by(::X509* cert, ::EVP_PKEY* key) {
  const bool ok = ::X509_verify(cert, key) == 1;
  ossl::drain_errors();
  return ok;
}

}  // namespace

Status roll_root_over(const Config& config, const std::string& root_key_uri, const std::string& new_key_label,
                      const std::filesystem::path& out_dir, std::chrono::seconds validity) {
  auto root = configured_root(config);
  if (!root) return tl::unexpected(root.error());
  auto location = locate_key(config, root_key_uri);
  if (!location) return tl::unexpected(location.error());
  auto made = hsm::ensure_key_pair(location->token, new_key_label, hsm::KeyType::kEcP256);
  if (!made) return tl::unexpected(made.error());
  // An existing key may be the root's own, the issuing CA's or another role's: never reuse one.
  if (!*made) {
    return fail(ErrorCode::kConfigInvalid, "a key labelled '" + new_key_label + "' exists already; pick a new label");
  }
  auto token = hsm::Pkcs11Token::open(location->token);
  if (!token) return tl::unexpected(token.error());
  auto old_signer = (*token)->signer(location->object);
  if (!old_signer) return tl::unexpected(old_signer.error());
  if (::EVP_PKEY_eq((*old_signer)->public_key(), ::X509_get0_pubkey(root->get())) != 1) {
    return fail(ErrorCode::kConfigInvalid, "the key " + root_key_uri + " is not the key of the configured root CA");
  }
  auto new_signer = (*token)->signer(new_key_label);
  if (!new_signer) return tl::unexpected(new_signer.error());
  auto rollover = ca::make_root_rollover(root->get(), **old_signer, **new_signer, validity);
  if (!rollover) return tl::unexpected(rollover.error());
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return fail(ErrorCode::kSystemUnavailable, "cannot create " + out_dir.string() + ": " + ec.message());
  for (auto [file, cert] : {std::pair{kNewWithNewFile, rollover->new_with_new.get()},
                            std::pair{kNewWithOldFile, rollover->new_with_old.get()},
                            std::pair{kOldWithNewFile, rollover->old_with_new.get()}}) {
    if (auto ok = ossl::write_file_atomically((out_dir / file).string(), ossl::pem_of(cert), 0644); !ok) return ok;
  }
  return {};
}

Result<ra::RootCaUpdate> load_root_update(const std::filesystem::path& dir, const ::X509* old_root) {
  ossl::X509Ptr certs[3];
  const char* files[3] = {kNewWithNewFile, kNewWithOldFile, kOldWithNewFile};
  for (int i = 0; i < 3; ++i) {
    auto cert = ossl::read_pem_certificate((dir / files[i]).string());
    if (!cert) return fail(ErrorCode::kConfigInvalid, "ca.root_update: " + cert.error().message);
    certs[i] = std::move(*cert);
  }
  ::EVP_PKEY* old_key = ::X509_get0_pubkey(const_cast<::X509*>(old_root));
  ::EVP_PKEY* new_key = ::X509_get0_pubkey(certs[0].get());
  const bool new_ok = signed_by(certs[0].get(), new_key) && ::EVP_PKEY_eq(new_key, old_key) != 1;
  const bool new_with_old_ok =
      signed_by(certs[1].get(), old_key) && ::EVP_PKEY_eq(::X509_get0_pubkey(certs[1].get()), new_key) == 1;
  const bool old_with_new_ok =
      signed_by(certs[2].get(), new_key) && ::EVP_PKEY_eq(::X509_get0_pubkey(certs[2].get()), old_key) == 1;
  for (auto [ok, file, what] :
       {std::tuple{new_ok, kNewWithNewFile, "is not a self-signed root with a new key"},
        std::tuple{new_with_old_ok, kNewWithOldFile, "is not the new root's key signed by the current root"},
        std::tuple{old_with_new_ok, kOldWithNewFile, "is not the current root's key signed by the new root"}}) {
    if (!ok) return fail(ErrorCode::kConfigInvalid, "ca.root_update: " + (dir / file).string() + " " + what);
  }
  return ra::RootCaUpdate{ossl::der_of(certs[0].get()), ossl::der_of(certs[1].get()), ossl::der_of(certs[2].get())};
}

}  // namespace enrolld::app
