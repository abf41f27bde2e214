#include "app/hsm_keys.h"

#include <cstdlib>

#include "hsm/pkcs11/pkcs11_uri.h"

namespace enrolld::app {

Result<KeyLocation> locate_key(const Config& config, const std::string& key_uri) {
  if (config.softhsm2_conf) ::setenv("SOFTHSM2_CONF", config.softhsm2_conf->c_str(), 1);
  auto uri = hsm::parse_pkcs11_uri(key_uri);
  if (!uri) return tl::unexpected(uri.error());
  // A relative pin-source is relative to the config file, like every other path in it.
  std::string pin_path = uri->pin_source.rfind("file:", 0) == 0 ? uri->pin_source.substr(5) : uri->pin_source;
  if (!pin_path.empty() && std::filesystem::path(pin_path).is_relative()) {
    uri->pin_source = (config.file.parent_path() / pin_path).string();
  }
  auto pin = hsm::resolve_pin(*uri);
  if (!pin) return tl::unexpected(pin.error());
  const std::string module = uri->module_path.empty() ? config.hsm_module : uri->module_path;
  return KeyLocation{{module, uri->token, *pin}, uri->object};
}

}  // namespace enrolld::app
