#include "app/config.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include <arpa/inet.h>

#include <charconv>

#include <openssl/objects.h>
#include <toml++/toml.h>

#include "ca/certificate_authority.h"
#include "common/openssl_util.h"

namespace enrolld::app {

namespace {

// One checker per table: the keys it knows, each read into the Config by a setter that
// returns an error text (empty when the value is good).
using Setter = std::function<std::string(const toml::node&, Config&)>;
using TableSchema = std::map<std::string, Setter>;

std::string where(const Config& config, const toml::source_region& source) {
  return config.file.string() + ":" + std::to_string(source.begin.line);
}

std::filesystem::path resolve(const Config& config, const std::string& value) {
  std::filesystem::path path(value);
  return path.is_absolute() ? path : config.file.parent_path() / path;
}

// The part of the Config a table fills: most tables fill the Config itself, [est] its `est`.
template <typename Owner>
Owner& part(Config& config) {
  if constexpr (std::is_same_v<Owner, EstConfig>) {
    return config.est;
  } else {
    return config;
  }
}

template <typename Owner, typename T>
Setter integer(T Owner::*field, std::int64_t min, std::int64_t max) {
  return [=](const toml::node& node, Config& config) -> std::string {
    auto value = node.value<std::int64_t>();
    if (!node.is_integer() || !value || *value < min || *value > max) {
      return "must be an integer from " + std::to_string(min) + " to " + std::to_string(max);
    }
    part<Owner>(config).*field = static_cast<T>(*value);
    return {};
  };
}

template <typename Owner>
Setter text(std::string Owner::*field, std::function<std::string(const std::string&)> check = nullptr) {
  return [=](const toml::node& node, Config& config) -> std::string {
    if (!node.is_string()) return "must be a string";
    std::string value = *node.value<std::string>();
    if (check) {
      if (auto problem = check(value); !problem.empty()) return problem;
    }
    part<Owner>(config).*field = std::move(value);
    return {};
  };
}

Setter path(std::filesystem::path Config::*field) {
  return [=](const toml::node& node, Config& config) -> std::string {
    if (!node.is_string() || node.value<std::string>()->empty()) return "must be a non-empty path";
    config.*field = resolve(config, *node.value<std::string>());
    return {};
  };
}

Setter optional_pkcs11_uri(std::optional<std::string> Config::*field) {
  return [=](const toml::node& node, Config& config) -> std::string {
    if (!node.is_string() || node.value<std::string>()->rfind("pkcs11:", 0) != 0) {
      return "must be an RFC 7512 pkcs11: URI";
    }
    config.*field = *node.value<std::string>();
    return {};
  };
}

template <typename Owner>
Setter optional_path(std::optional<std::filesystem::path> Owner::*field) {
  return [=](const toml::node& node, Config& config) -> std::string {
    if (!node.is_string() || node.value<std::string>()->empty()) return "must be a non-empty path";
    part<Owner>(config).*field = resolve(config, *node.value<std::string>());
    return {};
  };
}

template <typename Owner>
Setter path_list(std::vector<std::filesystem::path> Owner::*field) {
  return [=](const toml::node& node, Config& config) -> std::string {
    const toml::array* list = node.as_array();
    if (list == nullptr) return "must be a list of paths";
    std::vector<std::filesystem::path> paths;
    for (const auto& item : *list) {
      if (!item.is_string() || item.value<std::string>()->empty()) return "must be a list of non-empty paths";
      paths.push_back(resolve(config, *item.value<std::string>()));
    }
    part<Owner>(config).*field = std::move(paths);
    return {};
  };
}

Setter review_patterns(std::vector<std::string> ReviewConfig::*field) {
  return [=](const toml::node& node, Config& config) -> std::string {
    const toml::array* list = node.as_array();
    if (list == nullptr) return "must be a list of patterns";
    std::vector<std::string> patterns;
    for (const auto& item : *list) {
      if (!item.is_string() || item.value<std::string>()->empty()) return "must be a list of non-empty patterns";
      patterns.push_back(*item.value<std::string>());
    }
    config.review.*field = std::move(patterns);
    return {};
  };
}

template <typename Owner>
Setter boolean(bool Owner::*field) {
  return [=](const toml::node& node, Config& config) -> std::string {
    if (!node.is_boolean()) return "must be true or false";
    part<Owner>(config).*field = *node.value<bool>();
    return {};
  };
}

Setter pbm_limit(std::uint64_t cmp::PbmLimits::*field, std::int64_t min, std::int64_t max) {
  return [=](const toml::node& node, Config& config) -> std::string {
    auto value = node.value<std::int64_t>();
    if (!node.is_integer() || !value || *value < min || *value > max) {
      return "must be an integer from " + std::to_string(min) + " to " + std::to_string(max);
    }
    config.pbm.*field = static_cast<std::uint64_t>(*value);
    return {};
  };
}

std::string check_log_level(const std::string& value) {
  static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error"};
  return kLevels.count(value) ? "" : "must be one of trace, debug, info, warn, error";
}

std::string check_key_package(const std::string& value) {
  return value == "single-key" || value == "asymmetric-key-package" ? ""
                                                                    : "must be single-key or asymmetric-key-package";
}

std::string check_pkcs11_uri(const std::string& value) {
  return value.rfind("pkcs11:", 0) == 0 ? "" : "must be an RFC 7512 pkcs11: URI";
}

// A URL that relying parties fetch: RFC 5280 4.2.1.13 and RFC 6960 point at http, and a
// CRL fetched over https would need revocation checking of its own.
std::string check_http_url(const std::string& value) {
  const bool printable = std::all_of(value.begin(), value.end(), [](char c) { return c > 0x20 && c < 0x7f; });
  return value.rfind("http://", 0) == 0 && value.size() > 7 && value.size() <= 512 && printable &&
                 value.find_first_of(",;") == std::string::npos
             ? ""
             : "must be an http:// URL (no spaces, commas or semicolons)";
}

template <typename T>
Setter optional_integer(std::optional<T> Config::*field, std::int64_t min, std::int64_t max) {
  return [=](const toml::node& node, Config& config) -> std::string {
    auto value = node.value<std::int64_t>();
    if (!node.is_integer() || !value || *value < min || *value > max) {
      return "must be an integer from " + std::to_string(min) + " to " + std::to_string(max);
    }
    config.*field = static_cast<T>(*value);
    return {};
  };
}

const std::map<std::string, TableSchema>& schema() {
  static const std::map<std::string, TableSchema> kSchema = {
      {"server",
       {{"listen", text(&Config::listen)},
        {"http_port", integer(&Config::http_port, 0, 65535)},
        {"threads", integer(&Config::threads, 1, 256)},
        {"max_body_bytes", integer(&Config::max_body_bytes, 1024, 16 * 1024 * 1024)}}},
      {"log", {{"level", text(&Config::log_level, check_log_level)}}},
      {"store", {{"path", path(&Config::store_path)}}},
      {"hsm", {{"module", text(&Config::hsm_module)}, {"softhsm2_conf", optional_path(&Config::softhsm2_conf)}}},
      {"ca",
       {{"certificate", path(&Config::ca_certificate)},
        {"chain", optional_path(&Config::ca_chain)},
        {"key", text(&Config::ca_key, check_pkcs11_uri)},
        {"validity_days", integer(&Config::validity_days, 1, 36500)},
        {"root_update", optional_path(&Config::root_update)},
        {"crl_url", text(&Config::crl_url, check_http_url)},
        {"ocsp_url", text(&Config::ocsp_url, check_http_url)},
        {"ca_issuers_url", text(&Config::ca_issuers_url, check_http_url)}}},
      {"crl",
       {{"validity_seconds", integer(&Config::crl_validity_seconds, 60, 86400 * 366)},
        {"refresh_seconds", optional_integer(&Config::crl_refresh_seconds, 1, 86400 * 366)},
        {"on_revocation", boolean(&Config::crl_on_revocation)},
        {"delta_validity_seconds", integer(&Config::delta_crl_validity_seconds, 0, 86400 * 31)},
        {"delta_url", text(&Config::delta_crl_url, check_http_url)}}},
      {"ocsp",
       {{"signer_key", optional_pkcs11_uri(&Config::ocsp_signer_key)},
        {"signer_certificate", optional_path(&Config::ocsp_signer_certificate)},
        {"validity_seconds", integer(&Config::ocsp_validity_seconds, 60, 86400 * 7)}}},
      {"cmp",
       {{"grant_implicit_confirm", boolean(&Config::grant_implicit_confirm)},
        {"revoke_replaced_on_key_update", boolean(&Config::revoke_replaced_on_key_update)},
        {"confirm_wait_seconds", integer(&Config::confirm_wait_seconds, 1, 86400 * 30)},
        {"pbm_min_iterations", pbm_limit(&cmp::PbmLimits::min_iterations, 1, 10'000'000)},
        {"pbm_max_iterations", pbm_limit(&cmp::PbmLimits::max_iterations, 1, 10'000'000)},
        {"trust_anchors", path_list(&Config::trust_anchors)},
        {"ra_certificates", path_list(&Config::ra_certificates)},
        {"kga_key", optional_pkcs11_uri(&Config::kga_key)},
        {"kga_certificate", optional_path(&Config::kga_certificate)},
        {"central_key_package", text(&Config::central_key_package, check_key_package)}}},
      {"review",
       {{"subjects", review_patterns(&ReviewConfig::subjects)},
        {"sans", review_patterns(&ReviewConfig::sans)},
        {"requesters", review_patterns(&ReviewConfig::requesters)}}},
      {"ra",
       {{"check_after_seconds", integer(&Config::check_after_seconds, 1, 86400)},
        {"approval_wait_seconds", integer(&Config::approval_wait_seconds, 60, 86400 * 365)}}},
      {"est",
       {{"listen", text(&EstConfig::listen)},
        {"port", integer(&EstConfig::port, 0, 65535)},
        {"tls_certificate", optional_path(&EstConfig::tls_certificate)},
        {"tls_key", optional_path(&EstConfig::tls_key)},
        {"trust_anchors", path_list(&EstConfig::trust_anchors)},
        {"reenroll_same_key", boolean(&EstConfig::reenroll_same_key)},
        {"max_password_failures", integer(&EstConfig::max_password_failures, 1, 1000)},
        {"lockout_seconds", integer(&EstConfig::lockout_seconds, 1, 86400)}}},
      {"admin",
       {{"listen", text(&Config::admin_listen)},
        {"port", integer(&Config::admin_port, 0, 65535)},
        {"token_file", optional_path(&Config::admin_token_file)}}},
  };
  return kSchema;
}

Status read_credentials(const toml::node& node, Config& config) {
  const toml::array* list = node.as_array();
  if (list == nullptr || !list->is_array_of_tables()) {
    return fail(ErrorCode::kConfigInvalid, where(config, node.source()) + ": [[cmp.credential]] must be tables");
  }
  for (const auto& item : *list) {
    const toml::table& table = *item.as_table();
    MacCredential credential;
    for (const auto& [key, value] : table) {
      const std::string name(key.str());
      if ((name != "reference" && name != "secret") || !value.is_string()) {
        return fail(ErrorCode::kConfigInvalid,
                    where(config, value.source()) + ": " +
                        (name == "reference" || name == "secret" ? "key 'cmp.credential." + name + "' must be a string"
                                                                 : "unknown key 'cmp.credential." + name + "'"));
      }
      (name == "reference" ? credential.reference : credential.secret) = *value.value<std::string>();
    }
    for (const auto& other : config.credentials) {
      if (other.reference == credential.reference) {
        return fail(ErrorCode::kConfigInvalid, where(config, table.source()) + ": cmp.credential reference '" +
                                                   credential.reference + "' appears twice");
      }
    }
    if (credential.reference.empty() || credential.secret.size() < 8) {
      return fail(ErrorCode::kConfigInvalid,
                  where(config, table.source()) + ": a cmp.credential needs a reference and a secret of 8+ characters");
    }
    config.credentials.push_back(std::move(credential));
  }
  return {};
}

bool is_profile_name(const std::string& name) {
  return !name.empty() && name.size() <= 64 &&
         name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_") == std::string::npos;
}

// What an issuing CA may be called: it names files and LDAP entries ("<name>.crl", "cn=<name>-ca").
bool is_ca_name(const std::string& name) {
  return !name.empty() && name.size() <= 32 &&
         name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string::npos;
}

// Checks of list items; each returns an error text, empty when the item is good.
std::string check_attribute(const std::string& name) {
  const int nid = ::OBJ_txt2nid(name.c_str());
  return nid != NID_undef && ::OBJ_nid2sn(nid) != nullptr ? "" : "is not a subject attribute OpenSSL knows";
}

std::string check_dns_rule(const std::string& rule) {
  const std::string name = rule.rfind("*.", 0) == 0 ? rule.substr(2) : rule;
  const bool ok =
      !name.empty() && name.size() <= 253 && name.front() != '.' && name.back() != '.' &&
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") == std::string::npos;
  return ok ? "" : "must be a DNS name, or *. and a DNS name";
}

std::string check_cidr(const std::string& rule) {
  const auto slash = rule.find('/');
  const std::string base = rule.substr(0, slash);
  unsigned char address[16];
  const bool v6 = base.find(':') != std::string::npos;
  if (slash == std::string::npos || ::inet_pton(v6 ? AF_INET6 : AF_INET, base.c_str(), address) != 1) {
    return "must be a CIDR range such as 10.0.0.0/8 or 2001:db8::/32";
  }
  int bits = -1;
  const char* last = rule.data() + rule.size();
  if (std::from_chars(rule.data() + slash + 1, last, bits).ptr != last || bits < 0 || bits > (v6 ? 128 : 32)) {
    return "has a prefix length out of range";
  }
  return "";
}

// A URI prefix ends where a URI's parts do ('/' or ':'): "https://devices.example.com" would
// also admit "https://devices.example.com.evil.net/".
std::string check_uri_prefix(const std::string& value) {
  const bool ok = value.size() >= 2 && value.find_first_of(" \t\r\n,") == std::string::npos &&
                  (value.back() == '/' || value.back() == ':');
  return ok ? "" : "must be a URI prefix ending in '/' or ':', without spaces or commas";
}

std::string check_mail_domain(const std::string& value) {
  return value.rfind("*.", 0) != 0 && check_dns_rule(value).empty() ? "" : "must be a mail domain (no wildcard)";
}

std::string check_key_usage(const std::string& name) {
  static const std::set<std::string> kNames = {"digitalSignature", "nonRepudiation", "keyEncipherment",
                                               "dataEncipherment", "keyAgreement",   "encipherOnly",
                                               "decipherOnly"};
  return kNames.count(name) ? "" : "is not an end-entity keyUsage (keyCertSign and cRLSign are for CAs)";
}

std::string check_oid(const std::string& oid) {
  using ObjectPtr = std::unique_ptr<::ASN1_OBJECT, ossl::Deleter<::ASN1_OBJECT_free>>;
  ObjectPtr object(::OBJ_txt2obj(oid.c_str(), 1));
  return object && oid.find_first_not_of("0123456789.") == std::string::npos ? "" : "is not a dotted OID";
}

std::string check_extended_key_usage(const std::string& name) {
  return ::OBJ_txt2nid(name.c_str()) != NID_undef || check_oid(name).empty() ? ""
                                                                             : "is not a known extendedKeyUsage or OID";
}

// The profile's list-valued keys: where each goes and how its items are checked.
struct ProfileList {
  std::vector<std::string>* target = nullptr;
  std::function<std::string(const std::string&)> check;
};

ProfileList profile_list(ProfileConfig& profile, const std::string& key) {
  if (key == "subject_required") return {&profile.subject_required, check_attribute};
  if (key == "subject_forbidden") return {&profile.subject_forbidden, check_attribute};
  if (key == "san_dns") return {&profile.san_dns, check_dns_rule};
  if (key == "san_ip") return {&profile.san_ip, check_cidr};
  if (key == "san_uri") return {&profile.san_uri, check_uri_prefix};
  if (key == "san_email") return {&profile.san_email, check_mail_domain};
  if (key == "key_usage") return {&profile.key_usage, check_key_usage};
  if (key == "extended_key_usage") return {&profile.extended_key_usage, check_extended_key_usage};
  if (key == "certificate_policies") return {&profile.certificate_policies, check_oid};
  return {};
}

// The profile's true/false key `name`; null if it has none of that name.
bool* profile_flag(ProfileConfig& profile, const std::string& name) {
  if (name == "san_required") return &profile.san_required;
  if (name == "requester_validity") return &profile.requester_validity;
  if (name == "copy_subject_alt_name") return &profile.copy_subject_alt_name;
  return nullptr;
}

// The profile's URL key `name`; null if it has none of that name.
std::optional<std::string>* profile_url(ProfileConfig& profile, const std::string& name) {
  if (name == "crl_url") return &profile.crl_url;
  if (name == "ocsp_url") return &profile.ocsp_url;
  if (name == "ca_issuers_url") return &profile.ca_issuers_url;
  return nullptr;
}

Status read_profile(const toml::table& table, Config& config) {
  ProfileConfig profile;
  for (const auto& [key, value] : table) {
    const std::string name(key.str());
    const std::string at = where(config, value.source()) + ": key 'profile." + name + "' ";
    if (name == "name") {
      if (!value.is_string() || !is_profile_name(*value.value<std::string>())) {
        return fail(ErrorCode::kConfigInvalid, at + "must be 1-64 characters of a-z, 0-9, '-' and '_'");
      }
      profile.name = *value.value<std::string>();
    } else if (name == "issuing_ca") {
      if (!value.is_string() || !is_ca_name(*value.value<std::string>())) {
        return fail(ErrorCode::kConfigInvalid, at + "must name an issuing CA: \"issuing\" or an [[issuing_ca]] name");
      }
      profile.issuing_ca = *value.value<std::string>();
    } else if (name == "validity_days") {
      auto days = value.value<std::int64_t>();
      if (!value.is_integer() || !days || *days < 1 || *days > 36500) {
        return fail(ErrorCode::kConfigInvalid, at + "must be an integer from 1 to 36500");
      }
      profile.validity_days = static_cast<unsigned>(*days);
    } else if (name == "require_approval" || name == "require_channel_binding") {
      if (!value.is_boolean()) return fail(ErrorCode::kConfigInvalid, at + "must be true or false");
      (name == "require_approval" ? profile.require_approval : profile.require_channel_binding) = *value.value<bool>();
    } else if (name == "key_types") {
      static const std::set<std::string> kKnown = {"P-256", "P-384", "RSA-2048", "RSA-3072", "RSA-4096"};
      const toml::array* list = value.as_array();
      if (list == nullptr || list->empty()) {
        return fail(ErrorCode::kConfigInvalid, at + "must be a non-empty list of key types");
      }
      for (const auto& item : *list) {
        if (!item.is_string() || !kKnown.count(*item.value<std::string>())) {
          return fail(ErrorCode::kConfigInvalid, at + "may list only P-256, P-384, RSA-2048, RSA-3072, RSA-4096");
        }
        profile.key_types.push_back(*item.value<std::string>());
      }
    } else if (auto list = profile_list(profile, name); list.target != nullptr) {
      const toml::array* items = value.as_array();
      if (items == nullptr) return fail(ErrorCode::kConfigInvalid, at + "must be a list of strings");
      for (const auto& item : *items) {
        const std::string problem = item.is_string() ? list.check(*item.value<std::string>()) : "must be strings";
        if (!problem.empty()) {
          return fail(ErrorCode::kConfigInvalid, at + "'" + item.value_or(std::string("?")) + "' " + problem);
        }
        list.target->push_back(*item.value<std::string>());
      }
    } else if (bool* flag = profile_flag(profile, name)) {
      if (!value.is_boolean()) return fail(ErrorCode::kConfigInvalid, at + "must be true or false");
      *flag = *value.value<bool>();
    } else if (std::optional<std::string>* url = profile_url(profile, name)) {
      const std::string problem =
          value.is_string() ? (value.value<std::string>()->empty() ? "" : check_http_url(*value.value<std::string>()))
                            : "must be a string";
      if (!problem.empty()) return fail(ErrorCode::kConfigInvalid, at + problem + " (or \"\": none)");
      *url = *value.value<std::string>();
    } else {
      return fail(ErrorCode::kConfigInvalid, where(config, value.source()) + ": unknown key 'profile." + name + "'");
    }
  }
  if (profile.name.empty()) {
    return fail(ErrorCode::kConfigInvalid, where(config, table.source()) + ": a [[profile]] needs a name");
  }
  if (profile.san_required && !profile.copy_subject_alt_name) {
    return fail(ErrorCode::kConfigInvalid, where(config, table.source()) + ": profile '" + profile.name +
                                               "' requires a subjectAltName it would not certify "
                                               "(san_required with copy_subject_alt_name = false)");
  }
  for (const auto& other : config.profiles) {
    if (other.name == profile.name) {
      return fail(ErrorCode::kConfigInvalid,
                  where(config, table.source()) + ": profile '" + profile.name + "' appears twice");
    }
  }
  config.profiles.push_back(std::move(profile));
  return {};
}

Status read_profiles(const toml::node& node, Config& config) {
  const toml::array* list = node.as_array();
  if (list == nullptr || !list->is_array_of_tables()) {
    return fail(ErrorCode::kConfigInvalid, where(config, node.source()) + ": [[profile]] must be tables");
  }
  for (const auto& item : *list) {
    if (auto ok = read_profile(*item.as_table(), config); !ok) return ok;
  }
  return {};
}

bool is_alias_path(const std::string& path) {
  return path.size() >= 2 && path.size() <= 200 && path.front() == '/' && path.back() != '/' &&
         path.rfind("/.well-known/", 0) != 0 && path.rfind("/repo/", 0) != 0 && path.find("//") == std::string::npos &&
         path.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-_.~") ==
             std::string::npos;
}

Status read_aliases(const toml::node& node, Config& config) {
  const toml::table* table = node.as_table();
  if (table == nullptr) {
    return fail(ErrorCode::kConfigInvalid,
                where(config, node.source()) + ": [cmp.aliases] must be a table of \"path\" = \"profile\"");
  }
  for (const auto& [key, value] : *table) {
    const std::string path(key.str());
    const std::string at = where(config, value.source()) + ": key 'cmp.aliases.\"" + path + "\"' ";
    if (!is_alias_path(path)) {
      return fail(ErrorCode::kConfigInvalid,
                  at + "must be an absolute path outside /.well-known/ and /repo/, without a trailing '/', of letters, "
                       "digits and /-_.~");
    }
    if (!value.is_string() || !is_profile_name(*value.value<std::string>())) {
      return fail(ErrorCode::kConfigInvalid, at + "must name a profile");
    }
    config.cmp_aliases.push_back({path, *value.value<std::string>()});
  }
  return {};
}

// Every alias names "default" or a [[profile]]; checked once all tables are read.
Status check_alias_profiles(const Config& config, const toml::table& root) {
  for (const auto& alias : config.cmp_aliases) {
    const bool known =
        alias.profile == "default" || std::any_of(config.profiles.begin(), config.profiles.end(),
                                                  [&](const ProfileConfig& p) { return p.name == alias.profile; });
    if (known) continue;
    const toml::node* node = root.at_path("cmp.aliases").node();
    return fail(ErrorCode::kConfigInvalid, (node != nullptr ? where(config, node->source()) : config.file.string()) +
                                               ": key 'cmp.aliases.\"" + alias.path + "\"' names profile '" +
                                               alias.profile + "', which no [[profile]] defines");
  }
  return {};
}

// The schedule must renew a CRL before it expires, and delta CRLs need a URL to be found at.
Status check_crl_schedule(const Config& config, const toml::table& root) {
  auto at = [&](const char* key) {
    const toml::node* node = root.at_path(key).node();
    return node != nullptr ? where(config, node->source()) : config.file.string();
  };
  if (config.crl_refresh_seconds && *config.crl_refresh_seconds >= config.crl_validity_seconds) {
    return fail(ErrorCode::kConfigInvalid, at("crl.refresh_seconds") +
                                               ": key 'crl.refresh_seconds' must be less than 'crl.validity_seconds' "
                                               "(a CRL must be renewed before it expires)");
  }
  if (config.delta_crl_validity_seconds > 0 && config.delta_crl_url.empty()) {
    return fail(ErrorCode::kConfigInvalid, at("crl.delta_validity_seconds") +
                                               ": delta CRLs need 'crl.delta_url', where relying parties fetch them");
  }
  return {};
}

// A table whose keys `read(key, value)` reads ([publish.directory], [[issuing_ca]], ...): it
// returns an error text (empty when good) or "unknown" for a key it does not know. `section`
// prefixes the key in messages ("publish.directory").
template <typename Read>
Status read_keys(const toml::table& table, const std::string& section, Config& config, Read read) {
  for (const auto& [key, value] : table) {
    const std::string key_name(key.str());
    const std::string problem = read(key_name, value);
    if (problem == "unknown") {
      return fail(ErrorCode::kConfigInvalid,
                  where(config, value.source()) + ": unknown key '" + section + "." + key_name + "'");
    }
    if (!problem.empty()) {
      return fail(ErrorCode::kConfigInvalid,
                  where(config, value.source()) + ": key '" + section + "." + key_name + "' " + problem);
    }
  }
  return {};
}

std::string string_value(const toml::node& value, std::string& out) {
  if (!value.is_string() || value.value<std::string>()->empty()) return "must be a non-empty string";
  out = *value.value<std::string>();
  return {};
}

std::string bool_value(const toml::node& value, bool& out) {
  if (!value.is_boolean()) return "must be true or false";
  out = *value.value<bool>();
  return {};
}

Status read_directory_publisher(const toml::table& table, Config& config) {
  DirectoryPublishConfig directory;
  auto ok = read_keys(table, "publish.directory", config, [&](const std::string& key, const toml::node& value) {
    std::string text;
    if (key == "path") {
      auto problem = string_value(value, text);
      if (problem.empty()) directory.path = resolve(config, text);
      return problem;
    }
    if (key == "certificates") return bool_value(value, directory.certificates);
    return std::string("unknown");
  });
  if (!ok) return ok;
  if (directory.path.empty()) {
    return fail(ErrorCode::kConfigInvalid, where(config, table.source()) + ": [publish.directory] needs a path");
  }
  config.publish_directory = std::move(directory);
  return {};
}

Status read_ldap_publisher(const toml::table& table, Config& config) {
  LdapPublishConfig ldap;
  auto ok = read_keys(table, "publish.ldap", config, [&](const std::string& key, const toml::node& value) {
    std::string text;
    if (key == "url") {
      auto problem = string_value(value, ldap.url);
      if (problem.empty() && ldap.url.rfind("ldap://", 0) != 0 && ldap.url.rfind("ldaps://", 0) != 0) {
        return std::string("must be an ldap:// or ldaps:// URL");
      }
      return problem;
    }
    if (key == "bind_dn") return string_value(value, ldap.bind_dn);
    if (key == "base_dn") return string_value(value, ldap.base_dn);
    if (key == "password_file") {
      auto problem = string_value(value, text);
      if (problem.empty()) ldap.password_file = resolve(config, text);
      return problem;
    }
    if (key == "certificates") return bool_value(value, ldap.certificates);
    if (key == "timeout_seconds") {
      auto seconds = value.value<std::int64_t>();
      if (!value.is_integer() || !seconds || *seconds < 1 || *seconds > 300) return std::string("must be 1 to 300");
      ldap.timeout_seconds = static_cast<unsigned>(*seconds);
      return std::string();
    }
    return std::string("unknown");
  });
  if (!ok) return ok;
  if (ldap.url.empty() || ldap.bind_dn.empty() || ldap.base_dn.empty() || ldap.password_file.empty()) {
    return fail(ErrorCode::kConfigInvalid,
                where(config, table.source()) + ": [publish.ldap] needs url, bind_dn, password_file and base_dn");
  }
  config.publish_ldap = std::move(ldap);
  return {};
}

Status read_publishers(const toml::node& node, Config& config) {
  const toml::table* table = node.as_table();
  if (table == nullptr)
    return fail(ErrorCode::kConfigInvalid, where(config, node.source()) + ": [publish] must be a table");
  for (const auto& [key, value] : *table) {
    const std::string name(key.str());
    if (!value.is_table() || (name != "directory" && name != "ldap")) {
      return fail(ErrorCode::kConfigInvalid, where(config, value.source()) + ": unknown section 'publish." + name +
                                                 "' (publishers: [publish.directory], [publish.ldap])");
    }
    auto ok = name == "directory" ? read_directory_publisher(*value.as_table(), config)
                                  : read_ldap_publisher(*value.as_table(), config);
    if (!ok) return ok;
  }
  return {};
}

// [[issuing_ca]]: one more issuing CA. "root" names the root's certificate in the repository,
// and "certs" the folder of issued certificates under [publish.directory].
Status read_issuing_ca(const toml::table& table, Config& config) {
  IssuingCaConfig ca;
  auto ok = read_keys(table, "issuing_ca", config, [&](const std::string& key, const toml::node& value) {
    std::string text;
    if (key == "name") {
      auto problem = string_value(value, ca.name);
      if (!problem.empty()) return problem;
      if (!is_ca_name(ca.name) || ca.name == ca::kFirstIssuingCa || ca.name == "root" || ca.name == "certs") {
        return std::string("must be 1-32 characters of a-z, 0-9 and '-', and not issuing, root or certs");
      }
      return std::string();
    }
    if (key == "certificate" || key == "chain" || key == "ocsp_signer_certificate") {
      auto problem = string_value(value, text);
      if (!problem.empty()) return problem;
      auto file = resolve(config, text);
      if (key == "certificate") {
        ca.certificate = std::move(file);
      } else {
        (key == "chain" ? ca.chain : ca.ocsp_signer_certificate) = std::move(file);
      }
      return std::string();
    }
    if (key == "key" || key == "ocsp_signer_key") {
      auto problem = string_value(value, text);
      if (problem.empty()) problem = check_pkcs11_uri(text);
      if (!problem.empty()) return problem;
      if (key == "key") {
        ca.key = text;
      } else {
        ca.ocsp_signer_key = text;
      }
      return std::string();
    }
    std::string* url = key == "crl_url"          ? &ca.crl_url
                       : key == "ocsp_url"       ? &ca.ocsp_url
                       : key == "ca_issuers_url" ? &ca.ca_issuers_url
                       : key == "delta_url"      ? &ca.delta_crl_url
                                                 : nullptr;
    if (url == nullptr) return std::string("unknown");
    auto problem = string_value(value, *url);
    return problem.empty() ? check_http_url(*url) : problem;
  });
  if (!ok) return ok;
  const std::string at = where(config, table.source());
  if (ca.name.empty() || ca.certificate.empty() || ca.key.empty()) {
    return fail(ErrorCode::kConfigInvalid, at + ": an [[issuing_ca]] needs name, certificate and key");
  }
  if (ca.ocsp_signer_key.has_value() != ca.ocsp_signer_certificate.has_value()) {
    return fail(ErrorCode::kConfigInvalid, at + ": issuing CA '" + ca.name +
                                               "': ocsp_signer_key and ocsp_signer_certificate go together: set "
                                               "both (a delegated responder signs) or neither (the CA signs)");
  }
  for (const auto& other : config.issuing_cas) {
    if (other.name == ca.name) {
      return fail(ErrorCode::kConfigInvalid, at + ": issuing CA '" + ca.name + "' appears twice");
    }
  }
  config.issuing_cas.push_back(std::move(ca));
  return {};
}

Status read_issuing_cas(const toml::node& node, Config& config) {
  const toml::array* list = node.as_array();
  if (list == nullptr || !list->is_array_of_tables()) {
    return fail(ErrorCode::kConfigInvalid, where(config, node.source()) + ": [[issuing_ca]] must be tables");
  }
  for (const auto& item : *list) {
    if (auto ok = read_issuing_ca(*item.as_table(), config); !ok) return ok;
  }
  return {};
}

// Every profile's issuing_ca must be configured; delta CRLs need every CA's delta_url.
Status check_issuing_cas(const Config& config, const toml::table& root) {
  const toml::array* profiles = root["profile"].as_array();
  for (std::size_t i = 0; i < config.profiles.size(); ++i) {
    const ProfileConfig& profile = config.profiles[i];
    const bool known = profile.issuing_ca == ca::kFirstIssuingCa ||
                       std::any_of(config.issuing_cas.begin(), config.issuing_cas.end(),
                                   [&](const IssuingCaConfig& ca) { return ca.name == profile.issuing_ca; });
    if (known) continue;
    const toml::node* node = profiles != nullptr && i < profiles->size() ? profiles->get(i) : nullptr;
    return fail(ErrorCode::kConfigInvalid, (node != nullptr ? where(config, node->source()) : config.file.string()) +
                                               ": profile '" + profile.name + "' names issuing CA '" +
                                               profile.issuing_ca + "', which no [[issuing_ca]] defines");
  }
  for (const auto& ca : config.issuing_cas) {
    if (config.delta_crl_validity_seconds > 0 && ca.delta_crl_url.empty()) {
      return fail(ErrorCode::kConfigInvalid, config.file.string() + ": issuing CA '" + ca.name +
                                                 "' needs a delta_url: [crl] delta_validity_seconds is set");
    }
  }
  return {};
}

Status read_table(const std::string& name, const toml::table& table, Config& config) {
  const auto& known = schema().at(name);
  for (const auto& [key, value] : table) {
    const std::string key_name(key.str());
    if (name == "cmp" && key_name == "credential") {
      if (auto ok = read_credentials(value, config); !ok) return ok;
      continue;
    }
    if (name == "cmp" && key_name == "aliases") {
      if (auto ok = read_aliases(value, config); !ok) return ok;
      continue;
    }
    auto setter = known.find(key_name);
    if (setter == known.end()) {
      return fail(ErrorCode::kConfigInvalid,
                  where(config, value.source()) + ": unknown key '" + name + "." + key_name + "'");
    }
    if (auto problem = setter->second(value, config); !problem.empty()) {
      return fail(ErrorCode::kConfigInvalid,
                  where(config, value.source()) + ": key '" + name + "." + key_name + "' " + problem);
    }
  }
  return {};
}

}  // namespace

Result<Config> load_config(const std::filesystem::path& file) {
  Config config;
  config.file = std::filesystem::absolute(file);
  toml::table root;
  try {
    root = toml::parse_file(config.file.string());
  } catch (const toml::parse_error& e) {
    return fail(ErrorCode::kConfigInvalid, config.file.string() + ":" + std::to_string(e.source().begin.line) + ": " +
                                               std::string(e.description()));
  }
  for (const auto& [key, value] : root) {
    const std::string name(key.str());
    if (name == "profile") {
      if (auto ok = read_profiles(value, config); !ok) return tl::unexpected(ok.error());
      continue;
    }
    if (name == "publish") {
      if (auto ok = read_publishers(value, config); !ok) return tl::unexpected(ok.error());
      continue;
    }
    if (name == "issuing_ca") {
      if (auto ok = read_issuing_cas(value, config); !ok) return tl::unexpected(ok.error());
      continue;
    }
    if (!schema().count(name) || !value.is_table()) {
      return fail(ErrorCode::kConfigInvalid, where(config, value.source()) + ": unknown section or key '" + name + "'");
    }
    if (auto ok = read_table(name, *value.as_table(), config); !ok) return tl::unexpected(ok.error());
  }
  for (auto [value, key] :
       {std::pair{config.store_path.empty(), "store.path"}, std::pair{config.ca_certificate.empty(), "ca.certificate"},
        std::pair{config.ca_key.empty(), "ca.key"}}) {
    if (value) return fail(ErrorCode::kConfigInvalid, config.file.string() + ": missing required key '" + key + "'");
  }
  if (auto ok = check_alias_profiles(config, root); !ok) return tl::unexpected(ok.error());
  if (auto ok = check_issuing_cas(config, root); !ok) return tl::unexpected(ok.error());
  if (config.kga_key.has_value() != config.kga_certificate.has_value()) {
    return fail(
        ErrorCode::kConfigInvalid,
        config.file.string() + ": keys 'cmp.kga_key' and 'cmp.kga_certificate' go together: set both or neither");
  }
  if (config.ocsp_signer_key.has_value() != config.ocsp_signer_certificate.has_value()) {
    return fail(ErrorCode::kConfigInvalid,
                config.file.string() +
                    ": keys 'ocsp.signer_key' and 'ocsp.signer_certificate' go together: set both (a delegated "
                    "responder signs) or neither (the CA signs)");
  }
  if (auto ok = check_crl_schedule(config, root); !ok) return tl::unexpected(ok.error());
  if (config.est.tls_certificate.has_value() != config.est.tls_key.has_value()) {
    return fail(ErrorCode::kConfigInvalid, config.file.string() +
                                               ": keys 'est.tls_certificate' and 'est.tls_key' go together: set both "
                                               "(EST is served) or neither (it is not)");
  }
  if (config.pbm.min_iterations > config.pbm.max_iterations) {
    const toml::node* min = root.at_path("cmp.pbm_min_iterations").node();
    return fail(ErrorCode::kConfigInvalid, (min != nullptr ? where(config, min->source()) : config.file.string()) +
                                               ": key 'cmp.pbm_min_iterations' exceeds 'cmp.pbm_max_iterations'");
  }
  return config;
}

std::vector<std::string> restart_only_changes(const Config& a, const Config& b) {
  // Every setting that Core::reload does not swap in, each with whether it changed.
  const std::pair<const char*, bool> settings[] = {
      {"server.listen", a.listen != b.listen},
      {"server.http_port", a.http_port != b.http_port},
      {"server.threads", a.threads != b.threads},
      {"server.max_body_bytes", a.max_body_bytes != b.max_body_bytes},
      {"log.level", a.log_level != b.log_level},
      {"store.path", a.store_path != b.store_path},
      {"hsm.module", a.hsm_module != b.hsm_module},
      {"hsm.softhsm2_conf", a.softhsm2_conf != b.softhsm2_conf},
      {"ca.certificate", a.ca_certificate != b.ca_certificate},
      {"ca.chain", a.ca_chain != b.ca_chain},
      {"ca.key", a.ca_key != b.ca_key},
      {"ca.root_update", a.root_update != b.root_update},
      {"crl.validity_seconds", a.crl_validity_seconds != b.crl_validity_seconds},
      {"crl.refresh_seconds", a.crl_refresh_seconds != b.crl_refresh_seconds},
      {"crl.on_revocation", a.crl_on_revocation != b.crl_on_revocation},
      {"crl.delta_validity_seconds", a.delta_crl_validity_seconds != b.delta_crl_validity_seconds},
      {"crl.delta_url", a.delta_crl_url != b.delta_crl_url},
      {"ocsp.signer_key", a.ocsp_signer_key != b.ocsp_signer_key},
      {"ocsp.signer_certificate", a.ocsp_signer_certificate != b.ocsp_signer_certificate},
      {"ocsp.validity_seconds", a.ocsp_validity_seconds != b.ocsp_validity_seconds},
      {"cmp.grant_implicit_confirm", a.grant_implicit_confirm != b.grant_implicit_confirm},
      {"cmp.revoke_replaced_on_key_update", a.revoke_replaced_on_key_update != b.revoke_replaced_on_key_update},
      {"cmp.confirm_wait_seconds", a.confirm_wait_seconds != b.confirm_wait_seconds},
      {"cmp.pbm_min_iterations", a.pbm.min_iterations != b.pbm.min_iterations},
      {"cmp.pbm_max_iterations", a.pbm.max_iterations != b.pbm.max_iterations},
      {"cmp.kga_key", a.kga_key != b.kga_key},
      {"cmp.kga_certificate", a.kga_certificate != b.kga_certificate},
      {"cmp.central_key_package", a.central_key_package != b.central_key_package},
      {"cmp.aliases", a.cmp_aliases != b.cmp_aliases},
      {"ra.check_after_seconds", a.check_after_seconds != b.check_after_seconds},
      {"ra.approval_wait_seconds", a.approval_wait_seconds != b.approval_wait_seconds},
      {"admin.listen", a.admin_listen != b.admin_listen},
      {"admin.port", a.admin_port != b.admin_port},
      {"admin.token_file", a.admin_token_file != b.admin_token_file},
      {"est.listen", a.est.listen != b.est.listen},
      {"est.port", a.est.port != b.est.port},
      {"est.tls_certificate", a.est.tls_certificate != b.est.tls_certificate},
      {"est.tls_key", a.est.tls_key != b.est.tls_key},
      {"est.reenroll_same_key", a.est.reenroll_same_key != b.est.reenroll_same_key},
      {"est.max_password_failures", a.est.max_password_failures != b.est.max_password_failures},
      {"est.lockout_seconds", a.est.lockout_seconds != b.est.lockout_seconds},
      {"publish.directory", a.publish_directory != b.publish_directory},
      {"publish.ldap", a.publish_ldap != b.publish_ldap},
      {"issuing_ca", a.issuing_cas != b.issuing_cas},
  };
  std::vector<std::string> changed;
  for (const auto& [name, differs] : settings) {
    if (differs) changed.emplace_back(name);
  }
  return changed;
}

}  // namespace enrolld::app
