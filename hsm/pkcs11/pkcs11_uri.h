#pragma once
// RFC 7512 "pkcs11:" URIs naming a key in a token, e.g.
//   pkcs11:token=enrolld;object=issuing-ca;type=private?pin-source=file:/etc/enrolld/pin
// Only the attributes enrolld uses are read; others are ignored as RFC 7512 allows.

#include <string>
#include <string_view>

#include "common/error.h"

namespace enrolld::hsm {

struct Pkcs11Uri {
  std::string token;        // path attribute "token" (the token label)
  std::string object;       // path attribute "object" (the key label)
  std::string pin_source;   // query attribute "pin-source" (file:PATH or a plain path)
  std::string pin_value;    // query attribute "pin-value"
  std::string module_path;  // query attribute "module-path"
};

// Returns the parsed URI, or kConfigInvalid naming what is wrong (scheme, a missing token or
// object, a bad %-escape).
Result<Pkcs11Uri> parse_pkcs11_uri(std::string_view uri);

// Returns the PIN named by the URI: pin-value, or the first line of the pin-source file.
Result<std::string> resolve_pin(const Pkcs11Uri& uri);

}  // namespace enrolld::hsm
