#include "hsm/pkcs11/pkcs11_uri.h"

#include <cstdlib>
#include <fstream>

namespace enrolld::hsm {

namespace {

Result<std::string> percent_decode(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) {
      return fail(ErrorCode::kConfigInvalid, "truncated %-escape in pkcs11 URI");
    }
    const std::string hex(in.substr(i + 1, 2));
    char* end = nullptr;
    long value = std::strtol(hex.c_str(), &end, 16);
    if (hex.size() != 2 || end != hex.c_str() + 2) {
      return fail(ErrorCode::kConfigInvalid, "bad %-escape in pkcs11 URI");
    }
    out.push_back(static_cast<char>(value));
    i += 2;
  }
  return out;
}

// Calls fn(name, value) for each "name=value" in `part`, split at `separator`.
template <typename Fn>
Status for_each_attribute(std::string_view part, char separator, Fn fn) {
  while (!part.empty()) {
    std::size_t end = part.find(separator);
    std::string_view item = part.substr(0, end);
    std::size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return fail(ErrorCode::kConfigInvalid, "pkcs11 URI attribute without '=': " + std::string(item));
    }
    auto value = percent_decode(item.substr(eq + 1));
    if (!value) return tl::unexpected(value.error());
    fn(item.substr(0, eq), *value);
    part = end == std::string_view::npos ? std::string_view() : part.substr(end + 1);
  }
  return {};
}

}  // namespace

Result<Pkcs11Uri> parse_pkcs11_uri(std::string_view uri) {
  constexpr std::string_view kScheme = "pkcs11:";
  if (uri.substr(0, kScheme.size()) != kScheme) {
    return fail(ErrorCode::kConfigInvalid, "not a pkcs11: URI: " + std::string(uri));
  }
  uri.remove_prefix(kScheme.size());
  std::size_t query_at = uri.find('?');
  Pkcs11Uri out;
  auto path = for_each_attribute(uri.substr(0, query_at), ';', [&](std::string_view name, std::string value) {
    if (name == "token") out.token = std::move(value);
    if (name == "object") out.object = std::move(value);
  });
  if (!path) return tl::unexpected(path.error());
  if (query_at != std::string_view::npos) {
    auto query = for_each_attribute(uri.substr(query_at + 1), '&', [&](std::string_view name, std::string value) {
      if (name == "pin-source") out.pin_source = std::move(value);
      if (name == "pin-value") out.pin_value = std::move(value);
      if (name == "module-path") out.module_path = std::move(value);
    });
    if (!query) return tl::unexpected(query.error());
  }
  if (out.token.empty() || out.object.empty()) {
    return fail(ErrorCode::kConfigInvalid, "pkcs11 URI must name token= and object=");
  }
  return out;
}

Result<std::string> resolve_pin(const Pkcs11Uri& uri) {
  if (!uri.pin_value.empty()) return uri.pin_value;
  if (uri.pin_source.empty()) return fail(ErrorCode::kConfigInvalid, "pkcs11 URI has no pin-source or pin-value");
  std::string path = uri.pin_source;
  if (path.rfind("file:", 0) == 0) path = path.substr(5);
  std::ifstream in(path);
  std::string pin;
  if (!in || !std::getline(in, pin) || pin.empty()) {
    return fail(ErrorCode::kConfigInvalid, "cannot read a PIN from " + path);
  }
  return pin;
}

}  // namespace enrolld::hsm
