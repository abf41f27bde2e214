#pragma once
// The configuration file (TOML, parsed by toml++). Every key is checked once at start-up: an
// unknown key or a bad value stops start-up with the file, line and key named.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "protocols/cmp/protection.h"

namespace enrolld::app {

struct MacCredential {
  std::string reference;
  std::string secret;
};

// [cmp.aliases]: another URL path that answers CMP, for clients that cannot use
// /.well-known/cmp (e.g. a path a device firmware has built in), with the profile it selects.
struct CmpAlias {
  std::string path;
  std::string profile;
  bool operator==(const CmpAlias&) const = default;
};

// [[profile]]: a certificate profile, selected by /.well-known/cmp/p/<name> or certProfile.
struct ProfileConfig {
  std::string name;
  std::optional<unsigned> validity_days;  // default: [ca] validity_days
  bool require_approval = false;          // requests wait for `enrollctl approve`
  // Key types it certifies: "P-256", "P-384", "RSA-2048", "RSA-3072", "RSA-4096" (an RSA entry
  // accepts that size and larger). Empty: every type the CA supports.
  std::vector<std::string> key_types;
  bool require_channel_binding = false;  // EST: the CSR must carry the TLS channel binding
  // Subject attributes (short names: CN, O, OU, C, serialNumber, ...) it must and must not hold.
  std::vector<std::string> subject_required;
  std::vector<std::string> subject_forbidden;
  // subjectAltName namespaces: DNS names ("host.example.com", "*.example.com"), IP ranges
  // (CIDR), URI prefixes, mail domains. None: any SAN; any: a SAN outside them is refused.
  std::vector<std::string> san_dns;
  std::vector<std::string> san_ip;
  std::vector<std::string> san_uri;
  std::vector<std::string> san_email;
  bool san_required = false;
  // What the CA sets whatever the request says: keyUsage and extendedKeyUsage names as OpenSSL
  // spells them, certificatePolicies OIDs.
  std::vector<std::string> key_usage;
  std::vector<std::string> extended_key_usage;
  std::vector<std::string> certificate_policies;
  bool requester_validity = false;    // a shorter validity the requester asks for is honoured
  bool copy_subject_alt_name = true;  // false: requested SANs are checked but not certified
  // The issuing CA that signs under it: a [[issuing_ca]] name, or "issuing" ([ca], the default).
  std::string issuing_ca = "issuing";
  // Written into its certificates instead of its CA's URLs; an empty string leaves one out.
  std::optional<std::string> crl_url;
  std::optional<std::string> ocsp_url;
  std::optional<std::string> ca_issuers_url;
};

// [[issuing_ca]]: another issuing CA in the same appliance, its key in the HSM, for the
// profiles that name it. [ca] is the first, named "issuing".
struct IssuingCaConfig {
  std::string name;  // 1-32 of a-z, 0-9, '-': /repo/<name>.crl, /repo/<name>.crt, publisher names
  std::filesystem::path certificate;
  std::optional<std::filesystem::path> chain;
  std::string key;  // RFC 7512 pkcs11: URI
  // As [ca]'s URLs and [crl] delta_url, for the certificates and CRLs of this CA.
  std::string crl_url;
  std::string ocsp_url;
  std::string ca_issuers_url;
  std::string delta_crl_url;
  // As [ocsp]: a delegated responder for this CA; both or neither.
  std::optional<std::string> ocsp_signer_key;
  std::optional<std::filesystem::path> ocsp_signer_certificate;
  bool operator==(const IssuingCaConfig&) const = default;
};

// [review]: requests that wait for an officer whatever their profile (fnmatch(3) patterns).
struct ReviewConfig {
  std::vector<std::string> subjects;    // on the RFC 2253 subject: "*CN=admin*"
  std::vector<std::string> sans;        // on each requested SAN: "DNS:*.bank.example", "IP:10.*"
  std::vector<std::string> requesters;  // on the requester: "vendor:*", "mac:lab-*"
};

// [est]: EST over HTTPS (RFC 7030); served when tls_certificate and tls_key are set.
struct EstConfig {
  std::string listen = "127.0.0.1";
  std::uint16_t port = 8443;                             // 0: pick a free port
  std::optional<std::filesystem::path> tls_certificate;  // PEM: the server certificate, then its issuers
  std::optional<std::filesystem::path> tls_key;          // PEM private key (mode 0600)
  // Manufacturer (bootstrap) CAs: a TLS client certificate under one of them may simpleenroll.
  std::vector<std::filesystem::path> trust_anchors;
  bool reenroll_same_key = true;  // simplereenroll may keep the key; false: a new key is required
  // HTTP Basic: after this many wrong passwords for a user, it is locked for lockout_seconds.
  unsigned max_password_failures = 5;
  unsigned lockout_seconds = 60;
};

// [publish.directory]: CRLs and CA certificates (and, with `certificates`, every issued
// certificate) as files for a web server or CDN, replaced atomically.
struct DirectoryPublishConfig {
  std::filesystem::path path;
  bool certificates = false;
  bool operator==(const DirectoryPublishConfig&) const = default;
};

// [publish.ldap]: the same into an LDAP directory (RFC 4523 attributes) through libldap.
struct LdapPublishConfig {
  std::string url;  // ldap://host:port
  std::string bind_dn;
  std::filesystem::path password_file;  // the bind password, first line (mode 0600)
  std::string base_dn;                  // entries go below it; created if absent
  bool certificates = true;
  unsigned timeout_seconds = 5;
  bool operator==(const LdapPublishConfig&) const = default;
};

struct Config {
  std::filesystem::path file;  // relative paths in the file are relative to its folder

  // [server]
  std::string listen = "127.0.0.1";
  std::uint16_t http_port = 8080;
  unsigned threads = 2;
  std::size_t max_body_bytes = 64 * 1024;

  // [log]
  std::string log_level = "info";

  // [store]
  std::filesystem::path store_path;

  // [hsm]
  std::string hsm_module = "/usr/lib/softhsm/libsofthsm2.so";
  std::optional<std::filesystem::path> softhsm2_conf;

  // [ca]
  std::filesystem::path ca_certificate;
  std::optional<std::filesystem::path> ca_chain;
  std::string ca_key;  // RFC 7512 pkcs11: URI
  unsigned validity_days = 365;
  // A root CA key update to announce: the folder enrollctl ca rollover-root wrote.
  std::optional<std::filesystem::path> root_update;
  // Written into every issued certificate (empty: left out): the CRL distribution point, the
  // OCSP responder and the issuing CA certificate (authorityInfoAccess).
  std::string crl_url;
  std::string ocsp_url;
  std::string ca_issuers_url;

  // [crl]
  unsigned crl_validity_seconds = 86400;        // nextUpdate - thisUpdate
  std::optional<unsigned> crl_refresh_seconds;  // a new CRL at least this often; default: half the validity
  bool crl_on_revocation = true;                // false: a revocation waits for the next scheduled CRL
  unsigned delta_crl_validity_seconds = 0;      // 0: no delta CRLs
  std::string delta_crl_url;                    // where delta CRLs are served (the full CRL's freshestCRL)

  // [ocsp]: the responder at /ocsp; signed by the CA unless a delegated responder is named.
  std::optional<std::string> ocsp_signer_key;                    // RFC 7512 pkcs11: URI; with ocsp_signer_certificate
  std::optional<std::filesystem::path> ocsp_signer_certificate;  // id-kp-OCSPSigning, issued by the CA
  unsigned ocsp_validity_seconds = 3600;                         // nextUpdate - thisUpdate of a response

  // [cmp]
  bool grant_implicit_confirm = true;
  bool revoke_replaced_on_key_update = false;
  unsigned confirm_wait_seconds = 300;
  cmp::PbmLimits pbm;
  // Certificates whose holders may sign CMP requests, besides those this CA issued.
  std::vector<std::filesystem::path> trust_anchors;
  // Registration authorities (their exact certificates): they may forward requests in nested
  // messages and vouch for proof of possession (raVerified).
  std::vector<std::filesystem::path> ra_certificates;
  // Central key generation: the key generation authority's key (RFC 7512 pkcs11: URI) and its
  // certificate (extended key usage id-kp-cmKGA); both or neither.
  std::optional<std::string> kga_key;
  std::optional<std::filesystem::path> kga_certificate;
  // "single-key" (what OpenSSL 3.5 reads) or "asymmetric-key-package" (RFC 9483 4.1.6 as written).
  std::string central_key_package = "single-key";
  std::vector<MacCredential> credentials;  // [[cmp.credential]]
  std::vector<CmpAlias> cmp_aliases;       // [cmp.aliases]: "path" = "profile"

  // [ra]
  unsigned check_after_seconds = 10;               // what a polling requester is told to wait
  unsigned approval_wait_seconds = 7 * 24 * 3600;  // for an officer, then for the requester

  // [admin]: the operator's listener (enrollctl approve/reject/pending); loopback by default.
  std::string admin_listen = "127.0.0.1";
  std::uint16_t admin_port = 8081;  // 0: pick a free port
  // Bearer token that enrollctl presents; without it the admin listener is not started.
  std::optional<std::filesystem::path> admin_token_file;

  EstConfig est;

  ReviewConfig review;

  std::optional<DirectoryPublishConfig> publish_directory;
  std::optional<LdapPublishConfig> publish_ldap;

  std::vector<ProfileConfig> profiles;       // [[profile]]; "default" is implied from [ca]
  std::vector<IssuingCaConfig> issuing_cas;  // [[issuing_ca]], besides [ca]
};

// Reads and checks the file. Returns kConfigInvalid with "FILE:LINE: ..." for syntax errors,
// unknown keys, wrong types and values out of range, or a missing required key.
Result<Config> load_config(const std::filesystem::path& file);

// The settings that differ between the running configuration and `fresh` but take effect only
// when enrolld restarts (listeners, store, HSM, CA keys, schedules, ...), named as in the file
// ("server.http_port"); empty when a reload ([ca] validity and URLs, [[profile]], [review],
// [[cmp.credential]], [cmp] trust_anchors and ra_certificates, [est] trust_anchors) covers
// every change.
std::vector<std::string> restart_only_changes(const Config& running, const Config& fresh);

}  // namespace enrolld::app
