#pragma once
// Keys in the HSM as the configuration names them: RFC 7512 pkcs11: URIs whose pin-source is
// relative to the configuration file.

#include <string>

#include "app/config.h"
#include "common/error.h"
#include "hsm/pkcs11/provisioner.h"

namespace enrolld::app {

struct KeyLocation {
  hsm::TokenAccess token;  // module, token label, user PIN
  std::string object;      // the key's label
};

// Resolves `key_uri` against `config` (module default, SOFTHSM2_CONF, relative pin-source) and
// reads the PIN. Errors: kConfigInvalid (not a pkcs11: URI, no PIN), kSystemUnavailable.
[[nodiscard]] Result<KeyLocation> locate_key(const Config& config, const std::string& key_uri);

}  // namespace enrolld::app
