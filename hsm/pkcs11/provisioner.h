#pragma once
// Token set-up through raw PKCS#11: initialising a token and generating key pairs inside it.
// libp11 0.4.12 (Debian 12) can only generate RSA keys, so EC key generation calls
// C_GenerateKeyPair directly. Each call initialises and finalises the module itself, unless a
// Pkcs11Token in this process already holds it initialised.

#include <string>
#include <string_view>

#include "common/error.h"

namespace enrolld::hsm {

struct TokenAccess {
  std::string module_path;  // e.g. /usr/lib/softhsm/libsofthsm2.so
  std::string token_label;
  std::string user_pin;
};

enum class KeyType { kEcP256, kEcP384, kRsa2048, kRsa3072 };

// Returns the key type named "p256", "p384", "rsa2048", "rsa3072", or kConfigInvalid.
Result<KeyType> parse_key_type(std::string_view name);

// Makes sure a token labelled `access.token_label` exists with `access.user_pin` as its user
// PIN, initialising a free slot if none has that label. Returns kSystemUnavailable when the
// module cannot be loaded or has no free slot.
[[nodiscard]] Status ensure_token(const TokenAccess& access, std::string_view so_pin);

// Makes sure a private key labelled `key_label` exists in the token, generating a key pair of
// `type` inside the token (sensitive, not extractable) if absent.
// Returns true if a key was generated, false if one was already there.
[[nodiscard]] Result<bool> ensure_key_pair(const TokenAccess& access, std::string_view key_label, KeyType type);

}  // namespace enrolld::hsm
