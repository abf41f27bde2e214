#include "ca/profile_policy.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>

#include <openssl/x509v3.h>

namespace enrolld::ca {

namespace {

using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, ossl::Deleter<GENERAL_NAMES_free>>;
using BasicConstraintsPtr = std::unique_ptr<BASIC_CONSTRAINTS, ossl::Deleter<BASIC_CONSTRAINTS_free>>;
using BitStringPtr = std::unique_ptr<::ASN1_BIT_STRING, ossl::Deleter<::ASN1_BIT_STRING_free>>;

// RFC 5280 4.2.1.3 KeyUsage bits a certificate issuer has: never for an end entity of ours.
constexpr int kKeyCertSignBit = 5;
constexpr int kCrlSignBit = 6;

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::string text_of(const ::ASN1_STRING* value) {
  return std::string(reinterpret_cast<const char*>(::ASN1_STRING_get0_data(value)),
                     static_cast<std::size_t>(::ASN1_STRING_length(value)));
}

Status refuse(std::string why) {
  return fail(ErrorCode::kBadCertTemplate, std::move(why));
}

Status check_subject(const ::X509_NAME* subject, const Profile& profile) {
  for (const auto& attribute : profile.subject_required) {
    if (::X509_NAME_get_index_by_NID(subject, ::OBJ_txt2nid(attribute.c_str()), -1) < 0) {
      return refuse("profile '" + profile.name + "' requires a subject with " + attribute);
    }
  }
  for (const auto& attribute : profile.subject_forbidden) {
    if (::X509_NAME_get_index_by_NID(subject, ::OBJ_txt2nid(attribute.c_str()), -1) >= 0) {
      return refuse("profile '" + profile.name + "' does not allow " + attribute + " in the subject");
    }
  }
  return {};
}

// A host name as RFC 1123 spells it: labels of letters, digits and hyphens, no wildcard. A
// requested "*.devices.example" would certify every device at once.
bool is_host_name(const std::string& name) {
  if (name.empty() || name.size() > 253 || name.front() == '.' || name.back() == '.') return false;
  if (name.find("..") != std::string::npos) return false;
  return name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") ==
         std::string::npos;
}

// "*.example.com" covers every name below example.com; anything else only itself.
bool dns_allowed(const std::string& name, const std::vector<std::string>& rules) {
  if (!is_host_name(name)) return false;
  const std::string wanted = lower(name);
  return std::any_of(rules.begin(), rules.end(), [&](const std::string& rule) {
    const std::string allowed = lower(rule);
    if (allowed.rfind("*.", 0) != 0) return wanted == allowed;
    const std::string suffix = allowed.substr(1);  // ".example.com"
    return wanted.size() > suffix.size() && wanted.compare(wanted.size() - suffix.size(), suffix.size(), suffix) == 0;
  });
}

// Whether `address` (4 or 16 octets) lies in the CIDR range `rule`; a rule that does not parse
// matches nothing (the config checks them).
bool in_range(const ::ASN1_OCTET_STRING* address, const std::string& rule) {
  const auto slash = rule.find('/');
  const std::string base = rule.substr(0, slash);
  unsigned char net[16] = {};
  const bool v6 = base.find(':') != std::string::npos;
  const std::size_t octets = v6 ? 16 : 4;
  if (static_cast<std::size_t>(::ASN1_STRING_length(address)) != octets ||
      ::inet_pton(v6 ? AF_INET6 : AF_INET, base.c_str(), net) != 1) {
    return false;
  }
  int bits = static_cast<int>(octets * 8);
  if (slash != std::string::npos) {
    const char* first = rule.data() + slash + 1;
    const char* last = rule.data() + rule.size();
    if (std::from_chars(first, last, bits).ptr != last || bits < 0 || bits > static_cast<int>(octets * 8)) return false;
  }
  const unsigned char* wanted = ::ASN1_STRING_get0_data(address);
  for (int bit = 0; bit < bits; ++bit) {
    const unsigned char mask = static_cast<unsigned char>(0x80 >> (bit % 8));
    if ((wanted[bit / 8] & mask) != (net[bit / 8] & mask)) return false;
  }
  return true;
}

bool email_allowed(const std::string& mailbox, const std::vector<std::string>& domains) {
  const auto at = mailbox.find('@');
  if (at == 0 || at == std::string::npos || mailbox.find('@', at + 1) != std::string::npos) return false;
  const std::string domain = lower(mailbox.substr(at + 1));
  return std::any_of(domains.begin(), domains.end(), [&](const std::string& d) { return lower(d) == domain; });
}

// An address as review patterns see it: an IPv4-mapped IPv6 address (::ffff:a.b.c.d) as the
// IPv4 address it is, so that "IP:10.*" cannot be dodged.
std::string ip_text(const ::ASN1_OCTET_STRING* address) {
  static constexpr unsigned char kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  const unsigned char* octets = ::ASN1_STRING_get0_data(address);
  const int length = ::ASN1_STRING_length(address);
  const bool mapped = length == 16 && std::equal(octets, octets + 12, kMappedPrefix);
  const bool v6 = length == 16 && !mapped;
  char text[INET6_ADDRSTRLEN] = {};
  if ((length != 4 && length != 16) ||
      ::inet_ntop(v6 ? AF_INET6 : AF_INET, mapped ? octets + 12 : octets, text, sizeof text) == nullptr) {
    return "IP:?";
  }
  return std::string("IP:") + text;
}

// One requested name as review rules and messages see it: DNS names and mailboxes in lower
// case (they compare case-insensitively, and a pattern must not be dodged by "X.EXAMPLE").
std::string san_text(const GENERAL_NAME* name) {
  switch (name->type) {
    case GEN_DNS: return "DNS:" + lower(text_of(name->d.dNSName));
    case GEN_URI: return "URI:" + text_of(name->d.uniformResourceIdentifier);
    case GEN_EMAIL: return "email:" + lower(text_of(name->d.rfc822Name));
    case GEN_IPADD: return ip_text(name->d.iPAddress);
    default: return "other";
  }
}

Status check_san(const GENERAL_NAME* name, const SanRules& rules, const std::string& profile) {
  bool allowed = false;
  switch (name->type) {
    case GEN_DNS: allowed = dns_allowed(text_of(name->d.dNSName), rules.dns); break;
    case GEN_IPADD:
      allowed = std::any_of(rules.ip.begin(), rules.ip.end(),
                            [&](const std::string& rule) { return in_range(name->d.iPAddress, rule); });
      break;
    case GEN_URI: {
      const std::string uri = text_of(name->d.uniformResourceIdentifier);
      allowed = std::any_of(rules.uri.begin(), rules.uri.end(),
                            [&](const std::string& prefix) { return uri.rfind(prefix, 0) == 0; });
      break;
    }
    case GEN_EMAIL: allowed = email_allowed(text_of(name->d.rfc822Name), rules.email); break;
    default: break;
  }
  if (allowed) return {};
  return refuse("subjectAltName " + san_text(name) + " is outside what profile '" + profile + "' allows");
}

Status check_extension(::X509_EXTENSION* extension, const Profile& profile, bool& has_san) {
  const int nid = ::OBJ_obj2nid(::X509_EXTENSION_get_object(extension));
  switch (nid) {
    case NID_basic_constraints: {
      BasicConstraintsPtr constraints(static_cast<BASIC_CONSTRAINTS*>(::X509V3_EXT_d2i(extension)));
      if (!constraints) return refuse("the requested basicConstraints do not decode");
      if (constraints->ca) return refuse("the request asks for a CA certificate (basicConstraints cA:TRUE)");
      return {};
    }
    case NID_key_usage: {
      BitStringPtr usage(static_cast<::ASN1_BIT_STRING*>(::X509V3_EXT_d2i(extension)));
      if (!usage) return refuse("the requested keyUsage does not decode");
      if (::ASN1_BIT_STRING_get_bit(usage.get(), kKeyCertSignBit) ||
          ::ASN1_BIT_STRING_get_bit(usage.get(), kCrlSignBit)) {
        return refuse("the request asks for keyUsage keyCertSign or cRLSign, which only CAs have");
      }
      return {};
    }
    case NID_subject_alt_name: {
      GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(::X509V3_EXT_d2i(extension)));
      if (!names) return refuse("the requested subjectAltName does not decode");
      has_san = sk_GENERAL_NAME_num(names.get()) > 0;
      for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
        const GENERAL_NAME* san = sk_GENERAL_NAME_value(names.get(), i);
        if (profile.san.restricted()) {
          if (auto ok = check_san(san, profile.san, profile.name); !ok) return ok;
        } else if (san->type == GEN_DNS && !is_host_name(text_of(san->d.dNSName))) {
          // Even a profile without namespaces certifies host names only, never a wildcard.
          return refuse("subjectAltName " + san_text(san) + " is not a host name");
        }
      }
      return {};
    }
    // Known, and set by the CA from the profile whatever the request says.
    case NID_ext_key_usage:
    case NID_subject_key_identifier:
    case NID_certificate_policies: return {};
    default: break;
  }
  // RFC 5280 4.2: a certificate-using system "MUST reject the certificate if it encounters a
  // critical extension it does not recognize"; a CA must not sign one it does not understand.
  if (::X509_EXTENSION_get_critical(extension) == 1) {
    char oid[80] = {};
    ::OBJ_obj2txt(oid, sizeof oid, ::X509_EXTENSION_get_object(extension), 1);
    return refuse(std::string("the request has a critical extension this CA does not know (") + oid + ")");
  }
  return {};
}

Status check_extensions(ByteView der, const Profile& profile) {
  bool has_san = false;
  if (!der.empty()) {
    const unsigned char* p = der.data();
    ossl::X509ExtensionsPtr extensions(::d2i_X509_EXTENSIONS(nullptr, &p, static_cast<long>(der.size())));
    if (!extensions || p != der.data() + der.size()) return refuse("requested extensions are not DER Extensions");
    std::set<std::string> seen;
    for (int i = 0; i < sk_X509_EXTENSION_num(extensions.get()); ++i) {
      ::X509_EXTENSION* extension = sk_X509_EXTENSION_value(extensions.get(), i);
      char oid[80] = {};
      ::OBJ_obj2txt(oid, sizeof oid, ::X509_EXTENSION_get_object(extension), 1);
      // RFC 5280 4.2: "A certificate MUST NOT include more than one instance of a particular
      // extension"; a second subjectAltName would also slip past the checks of the first.
      if (!seen.insert(oid).second) return refuse(std::string("the request has extension ") + oid + " twice");
      if (auto ok = check_extension(extension, profile, has_san); !ok) return ok;
    }
  }
  if (profile.san_required && !has_san) return refuse("profile '" + profile.name + "' requires a subjectAltName");
  return {};
}

}  // namespace

Status check_request(const CertificationInput& input, const Profile& profile, std::int64_t now) {
  auto subject = ossl::name_from_der(input.subject_der);
  if (!subject || ::X509_NAME_entry_count(subject->get()) == 0) {
    return refuse("the request has no usable subject name");
  }
  if (auto ok = check_subject(subject->get(), profile); !ok) return ok;
  auto key = ossl::public_key_from_der(input.public_key_der);
  if (!key) return fail(ErrorCode::kBadAlgorithm, "the requested public key cannot be decoded");
  if (!key_allowed(key->get(), profile.keys)) {
    return fail(ErrorCode::kBadAlgorithm, "profile '" + profile.name + "' does not accept a " +
                                              std::to_string(::EVP_PKEY_get_bits(key->get())) + "-bit " +
                                              ::OBJ_nid2sn(::EVP_PKEY_get_base_id(key->get())) + " key");
  }
  if (auto ok = check_extensions(input.extensions_der, profile); !ok) return ok;
  if (input.requested_not_after && *input.requested_not_after <= now) {
    return refuse("the requested validity has already ended");
  }
  if (input.requested_not_after && *input.requested_not_after > now + profile.validity.count()) {
    return refuse("the requested validity is longer than the " + std::to_string(profile.validity.count() / 86400) +
                  " days of profile '" + profile.name + "'");
  }
  return {};
}

std::vector<std::string> requested_san_texts(ByteView extensions_der) {
  std::vector<std::string> out;
  if (extensions_der.empty()) return out;
  const unsigned char* p = extensions_der.data();
  ossl::X509ExtensionsPtr extensions(::d2i_X509_EXTENSIONS(nullptr, &p, static_cast<long>(extensions_der.size())));
  if (!extensions) return out;
  const int at = ::X509v3_get_ext_by_NID(extensions.get(), NID_subject_alt_name, -1);
  if (at < 0) return out;
  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(::X509V3_EXT_d2i(::X509v3_get_ext(extensions.get(), at))));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    out.push_back(san_text(sk_GENERAL_NAME_value(names.get(), i)));
  }
  return out;
}

}  // namespace enrolld::ca
