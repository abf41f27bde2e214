#include "hsm/pkcs11/token.h"

#include <libp11.h>

#include "common/openssl_util.h"

namespace enrolld::hsm {

namespace {

class Pkcs11Signer final : public Signer {
 public:
  Pkcs11Signer(std::shared_ptr<Pkcs11Token> token, ossl::EvpPkeyPtr private_key, ossl::EvpPkeyPtr public_key)
      : m_token(std::move(token)), m_private(std::move(private_key)), m_public(std::move(public_key)) {}

  ::EVP_PKEY* signing_key() const override { return m_private.get(); }
  ::EVP_PKEY* public_key() const override { return m_public.get(); }
  const ::EVP_MD* digest() const override {
    // RFC 5480: SHA-384 pairs with P-384; SHA-256 with P-256 and RSA up to 3072 bits.
    return ::EVP_PKEY_get_bits(m_public.get()) == 384 ? ::EVP_sha384() : ::EVP_sha256();
  }

 private:
  std::shared_ptr<Pkcs11Token> m_token;  // keeps the module loaded and the slot logged in
  ossl::EvpPkeyPtr m_private;
  ossl::EvpPkeyPtr m_public;
};

PKCS11_KEY* find_key(PKCS11_KEY* keys, unsigned int count, std::string_view label) {
  for (unsigned int i = 0; i < count; ++i) {
    if (keys[i].label != nullptr && label == keys[i].label) return &keys[i];
  }
  return nullptr;
}

}  // namespace

Result<std::shared_ptr<Pkcs11Token>> Pkcs11Token::open(const TokenAccess& access) {
  std::shared_ptr<Pkcs11Token> token(new Pkcs11Token());
  token->m_ctx = ::PKCS11_CTX_new();
  if (token->m_ctx == nullptr) return fail(ErrorCode::kSystemFailure, "PKCS11_CTX_new failed");
  if (::PKCS11_CTX_load(token->m_ctx, access.module_path.c_str()) != 0) {
    return fail(ErrorCode::kSystemUnavailable, "cannot load PKCS#11 module " + access.module_path);
  }
  token->m_loaded = true;
  if (::PKCS11_enumerate_slots(token->m_ctx, &token->m_slots, &token->m_slot_count) != 0) {
    return fail(ErrorCode::kSystemUnavailable, "cannot list PKCS#11 slots");
  }
  for (unsigned int i = 0; i < token->m_slot_count; ++i) {
    PKCS11_TOKEN* t = token->m_slots[i].token;
    if (t != nullptr && t->initialized && t->label != nullptr && access.token_label == t->label) {
      token->m_slot = &token->m_slots[i];
      break;
    }
  }
  if (token->m_slot == nullptr) {
    return fail(ErrorCode::kConfigInvalid, "no PKCS#11 token labelled '" + access.token_label + "'");
  }
  if (::PKCS11_open_session(token->m_slot, 0) != 0 || ::PKCS11_login(token->m_slot, 0, access.user_pin.c_str()) != 0) {
    return fail(ErrorCode::kConfigInvalid,
                "cannot log in to token '" + access.token_label + "' (wrong PIN?): " + ossl::drain_errors());
  }
  return token;
}

Pkcs11Token::~Pkcs11Token() {
  if (m_slots != nullptr) ::PKCS11_release_all_slots(m_ctx, m_slots, m_slot_count);
  if (m_loaded) ::PKCS11_CTX_unload(m_ctx);
  if (m_ctx != nullptr) ::PKCS11_CTX_free(m_ctx);
}

Result<std::unique_ptr<Signer>> Pkcs11Token::signer(std::string_view key_label) {
  PKCS11_KEY* keys = nullptr;
  unsigned int count = 0;
  if (::PKCS11_enumerate_keys(m_slot->token, &keys, &count) != 0) {
    return fail(ErrorCode::kSystemUnavailable, "cannot list keys: " + ossl::drain_errors());
  }
  PKCS11_KEY* key = find_key(keys, count, key_label);
  if (key == nullptr)
    return fail(ErrorCode::kConfigInvalid, "no private key labelled '" + std::string(key_label) + "'");
  ossl::EvpPkeyPtr private_key(::PKCS11_get_private_key(key));
  ossl::EvpPkeyPtr token_public(::PKCS11_get_public_key(key));
  if (!private_key || !token_public) {
    return fail(ErrorCode::kSystemUnavailable,
                "cannot load key '" + std::string(key_label) + "': " + ossl::drain_errors());
  }
  // Re-import the public half as a plain OpenSSL key: verification then runs in software,
  // without a round trip through the token's key methods.
  auto public_key = ossl::public_key_from_der(ossl::der_of_public_key(token_public.get()));
  if (!public_key) return tl::unexpected(public_key.error());
  return std::unique_ptr<Signer>(new Pkcs11Signer(shared_from_this(), std::move(private_key), std::move(*public_key)));
}

}  // namespace enrolld::hsm
