#include "app/demo.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "ca/ca_certificates.h"
#include "ca/certificate_authority.h"
#include "common/log.h"
#include "hsm/pkcs11/provisioner.h"
#include "hsm/pkcs11/token.h"
#include "hsm/software_signer.h"
#include "protocols/repository/repository_routes.h"
#include "ra/password_store.h"
#include "store/rocksdb/rocksdb_store.h"

#include <openssl/x509v3.h>

namespace enrolld::app {

namespace fs = std::filesystem;

namespace {

constexpr const char* kTokenLabel = "enrolld-demo";
constexpr const char* kRootKey = "root-ca";
constexpr const char* kIssuingKey = "issuing-ca";
constexpr const char* kDevicesKey = "devices-ca";  // a second issuing CA, for the "iot" profile
constexpr const char* kDevicesCa = "devices";
constexpr const char* kKgaKey = "key-generation";  // signs centrally generated keys
constexpr const char* kOcspKey = "ocsp-signer";    // the delegated OCSP responder's key
constexpr const char* kCmpReference = "demo-device";
constexpr const char* kEstUser = "demo-est";
constexpr const char* kSoftHsmModule = "/usr/lib/softhsm/libsofthsm2.so";

std::string random_token(std::size_t bytes) {
  return to_hex(random_bytes(bytes));
}

// A secret kept in its own file, made once with mode 0600.
Result<std::string> ensure_secret_file(const fs::path& file, std::size_t bytes) {
  if (fs::exists(file)) return ossl::read_first_line(file.string());
  std::string secret = random_token(bytes);
  if (auto ok = ossl::write_file_atomically(file.string(), secret + "\n", 0600); !ok) return tl::unexpected(ok.error());
  return secret;
}

Status write_text(const fs::path& file, const std::string& text, unsigned mode = 0644) {
  return ossl::write_file_atomically(file.string(), text, mode);
}

Status ensure_ca_certificates(const fs::path& dir, const hsm::TokenAccess& access) {
  const fs::path root_pem = dir / "ca" / "root.pem";
  const fs::path issuing_pem = dir / "ca" / "issuing.pem";
  if (fs::exists(root_pem) && fs::exists(issuing_pem)) return {};
  auto token = hsm::Pkcs11Token::open(access);
  if (!token) return tl::unexpected(token.error());
  auto root_signer = (*token)->signer(kRootKey);
  if (!root_signer) return tl::unexpected(root_signer.error());
  auto issuing_signer = (*token)->signer(kIssuingKey);
  if (!issuing_signer) return tl::unexpected(issuing_signer.error());

  ca::CaCertificateSpec root_spec{
      {{"O", "enrolld demo"}, {"CN", "enrolld demo root CA"}}, std::chrono::hours(24 * 365 * 10), 1};
  auto root = ca::make_root_certificate(root_spec, **root_signer);
  if (!root) return tl::unexpected(root.error());
  ca::CaCertificateSpec issuing_spec{
      {{"O", "enrolld demo"}, {"CN", "enrolld demo issuing CA"}}, std::chrono::hours(24 * 365 * 5), 0};
  auto issuing =
      ca::make_subordinate_certificate(issuing_spec, (*issuing_signer)->public_key(), root->get(), **root_signer);
  if (!issuing) return tl::unexpected(issuing.error());
  fs::create_directories(dir / "ca");
  if (auto ok = write_text(root_pem, ossl::pem_of(root->get())); !ok) return ok;
  return write_text(issuing_pem, ossl::pem_of(issuing->get()));
}

// The second issuing CA, under the same root: profile "iot" enrolls under it.
Status ensure_devices_ca(const fs::path& dir, const hsm::TokenAccess& access) {
  const fs::path pem = dir / "ca" / (std::string(kDevicesCa) + ".pem");
  if (fs::exists(pem)) return {};
  auto token = hsm::Pkcs11Token::open(access);
  if (!token) return tl::unexpected(token.error());
  auto root_signer = (*token)->signer(kRootKey);
  if (!root_signer) return tl::unexpected(root_signer.error());
  auto devices_signer = (*token)->signer(kDevicesKey);
  if (!devices_signer) return tl::unexpected(devices_signer.error());
  auto root = ossl::read_pem_certificate((dir / "ca" / "root.pem").string());
  if (!root) return tl::unexpected(root.error());
  ca::CaCertificateSpec spec{
      {{"O", "enrolld demo"}, {"CN", "enrolld demo devices CA"}}, std::chrono::hours(24 * 365 * 5), 0};
  auto cert = ca::make_subordinate_certificate(spec, (*devices_signer)->public_key(), root->get(), **root_signer);
  if (!cert) return tl::unexpected(cert.error());
  return write_text(pem, ossl::pem_of(cert->get()));
}

// A service certificate issued by the issuing CA for the HSM key `key_label`: the key generation
// authority's (id-kp-cmKGA) or the delegated OCSP responder's (id-kp-OCSPSigning), by `make`.
using ServiceCertificateMaker = Result<ossl::X509Ptr> (*)(const ca::CaCertificateSpec&, ::EVP_PKEY*, const ::X509*,
                                                          const hsm::Signer&);

Status ensure_service_certificate(const fs::path& dir, const hsm::TokenAccess& access, const char* key_label,
                                  const char* file, const char* common_name, std::chrono::seconds validity,
                                  ServiceCertificateMaker make) {
  const fs::path pem = dir / "ca" / file;
  if (fs::exists(pem)) return {};
  auto token = hsm::Pkcs11Token::open(access);
  if (!token) return tl::unexpected(token.error());
  auto issuing_signer = (*token)->signer(kIssuingKey);
  if (!issuing_signer) return tl::unexpected(issuing_signer.error());
  auto service_signer = (*token)->signer(key_label);
  if (!service_signer) return tl::unexpected(service_signer.error());
  auto issuing = ossl::read_pem_certificate((dir / "ca" / "issuing.pem").string());
  if (!issuing) return tl::unexpected(issuing.error());
  const ca::CaCertificateSpec spec{{{"O", "enrolld demo"}, {"CN", common_name}}, validity, -1};
  auto cert = make(spec, (*service_signer)->public_key(), issuing->get(), **issuing_signer);
  if (!cert) return tl::unexpected(cert.error());
  return write_text(pem, ossl::pem_of(cert->get()));
}

// A port on 127.0.0.1 that nothing listens on now, for the demo's fixed HTTP port.
Result<std::uint16_t> free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return fail(ErrorCode::kSystemFailure, "cannot create a socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                     ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  if (!bound) return fail(ErrorCode::kSystemFailure, "cannot find a free port on 127.0.0.1");
  return ntohs(address.sin_port);
}

// Issues a certificate for a fresh P-256 key under `factory` and writes `stem`.pem and
// `stem`.key (the key readable by the owner only).
Status write_software_credential(const ca::CertificateAuthority& factory, const std::string& common_name,
                                 const fs::path& stem) {
  ossl::EvpPkeyPtr key(::EVP_EC_gen("P-256"));
  ossl::X509NamePtr name(::X509_NAME_new());
  ::X509_NAME_add_entry_by_txt(name.get(), "O", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>("enrolld demo manufacturer"), -1, -1, 0);
  ::X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0);
  ca::Profile profile;
  profile.validity = std::chrono::hours(24 * 365 * 15);
  auto issued = factory.issue({ossl::der_of(name.get()), ossl::der_of_public_key(key.get()), {}}, profile,
                              [](const std::string&) -> Result<bool> { return false; });
  if (!issued) return tl::unexpected(issued.error());
  if (auto ok = write_text(fs::path(stem).concat(".key"), ossl::pem_of_private_key(key.get()), 0600); !ok) return ok;
  return write_text(fs::path(stem).concat(".pem"), ossl::pem_of(issued->certificate.get()));
}

// The EST listener's TLS credential: a software key (the TLS stack holds it in memory) with a
// certificate from the issuing CA in the HSM, for 127.0.0.1 and localhost. tls/server.pem holds
// the server certificate and the issuing CA, what a client needs besides the root.
Status ensure_tls_credential(const fs::path& dir, const hsm::TokenAccess& access) {
  const fs::path tls = dir / "tls";
  if (fs::exists(tls / "server.pem")) return {};
  fs::create_directories(tls);
  auto token = hsm::Pkcs11Token::open(access);
  if (!token) return tl::unexpected(token.error());
  auto issuing_signer = (*token)->signer(kIssuingKey);
  if (!issuing_signer) return tl::unexpected(issuing_signer.error());
  auto issuing = ossl::read_pem_certificate((dir / "ca" / "issuing.pem").string());
  if (!issuing) return tl::unexpected(issuing.error());
  std::vector<ossl::X509Ptr> chain;
  chain.push_back(std::move(*issuing));
  ca::CertificateAuthority authority(std::move(chain), std::move(*issuing_signer), system_clock());

  ossl::EvpPkeyPtr key(::EVP_EC_gen("P-256"));
  ossl::X509NamePtr name(::X509_NAME_new());
  ::X509_NAME_add_entry_by_txt(name.get(), "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("enrolld demo"),
                               -1, -1, 0);
  ::X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("localhost"), -1,
                               -1, 0);
  ossl::X509ExtensionsPtr extensions(sk_X509_EXTENSION_new_null());
  ::X509_EXTENSION* san =
      ::X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, const_cast<char*>("IP:127.0.0.1,DNS:localhost"));
  if (!extensions || san == nullptr || sk_X509_EXTENSION_push(extensions.get(), san) == 0) {
    ::X509_EXTENSION_free(san);
    return fail(ErrorCode::kSystemFailure, "cannot build the TLS certificate's subjectAltName");
  }
  const Bytes extensions_der = ossl::der_with(extensions.get(), [](const auto* exts, unsigned char** out) {
    return ::i2d_X509_EXTENSIONS(const_cast<STACK_OF(X509_EXTENSION)*>(exts), out);
  });
  ca::Profile profile;
  profile.validity = std::chrono::hours(24 * 365 * 2);
  auto issued = authority.issue({ossl::der_of(name.get()), ossl::der_of_public_key(key.get()), extensions_der}, profile,
                                [](const std::string&) -> Result<bool> { return false; });
  if (!issued) return tl::unexpected(issued.error());
  if (auto ok = write_text(tls / "server.key", ossl::pem_of_private_key(key.get()), 0600); !ok) return ok;
  return write_text(tls / "server.pem",
                    ossl::pem_of(issued->certificate.get()) + ossl::pem_of(authority.chain().front().get()));
}

// The demo's EST user (HTTP Basic), stored hashed before enrolld first opens the store.
Status ensure_est_user(const fs::path& dir) {
  const fs::path password_file = dir / "est-password";
  if (fs::exists(password_file)) return {};
  auto store = store::RocksDbStore::open((dir / "db").string());
  if (!store) return tl::unexpected(store.error());
  ra::PasswordStore passwords(**store, ra::LockoutPolicy{}, system_clock());
  const std::string password = random_token(12);
  if (auto ok = passwords.set_password(kEstUser, password, "", false); !ok) return ok;
  return write_text(password_file, password + "\n", 0600);
}

// The simulated device manufacturer: its CA (a software key: it lives outside enrolld in real
// life), one device certificate from its factory, which enrolld trusts for signed requests,
// and the certificate of a registration authority in front of enrolld, which the demo config
// authorizes to forward requests (nested, raVerified).
Status ensure_vendor_credentials(const fs::path& dir) {
  const fs::path vendor = dir / "vendor";
  if (fs::exists(vendor / "device.pem")) return {};
  fs::create_directories(vendor);
  hsm::SoftwareSigner ca_signer(ossl::EvpPkeyPtr(::EVP_EC_gen("P-256")));
  ca::CaCertificateSpec spec{
      {{"O", "enrolld demo manufacturer"}, {"CN", "Demo Manufacturer CA"}}, std::chrono::hours(24 * 365 * 20), 0};
  auto ca_cert = ca::make_root_certificate(spec, ca_signer);
  if (!ca_cert) return tl::unexpected(ca_cert.error());
  std::vector<ossl::X509Ptr> chain;
  chain.push_back(ossl::up_ref(ca_cert->get()));
  ca::CertificateAuthority factory(
      std::move(chain), std::make_unique<hsm::SoftwareSigner>(ossl::up_ref(ca_signer.signing_key())), system_clock());
  if (auto ok = write_text(vendor / "manufacturer-ca.pem", ossl::pem_of(ca_cert->get())); !ok) return ok;
  if (auto ok = write_software_credential(factory, "demo-ra", vendor / "ra"); !ok) return ok;
  return write_software_credential(factory, "demo-device-0001", vendor / "device");
}

std::string config_text(const std::string& cmp_secret, std::uint16_t http_port) {
  const std::string base = "http://127.0.0.1:" + std::to_string(http_port);
  std::ostringstream out;
  out << "# enrolld demo instance: made by 'enrolld demo'. Paths are relative to this file.\n"
      << "[server]\nlisten = \"127.0.0.1\"\n"
      << "# Fixed when the demo was made: issued certificates name it in their CRL and OCSP URLs.\n"
      << "http_port = " << http_port << "\nthreads = 2\nmax_body_bytes = 65536\n\n"
      << "[log]\nlevel = \"info\"\n\n"
      << "[store]\npath = \"db\"\n\n"
      << "[hsm]\nmodule = \"" << kSoftHsmModule << "\"\nsofthsm2_conf = \"softhsm2.conf\"\n\n"
      << "[ca]\ncertificate = \"ca/issuing.pem\"\nchain = \"ca/root.pem\"\n"
      << "key = \"pkcs11:token=" << kTokenLabel << ";object=" << kIssuingKey << "?pin-source=file:hsm-user-pin\"\n"
      << "validity_days = 365\n"
      << "# Written into every certificate: where relying parties check revocation and find the CA.\n"
      << "crl_url = \"" << base << repository::kCrlPath << "\"\n"
      << "ocsp_url = \"" << base << repository::kOcspPath << "\"\n"
      << "ca_issuers_url = \"" << base << repository::kIssuingCaPath << "\"\n\n"
      << "[crl]\n# A full CRL at least every refresh_seconds, and at once after a revocation.\n"
      << "validity_seconds = 86400\nrefresh_seconds = 43200\non_revocation = true\n"
      << "# Delta CRLs (what changed since the last full CRL) suit full CRLs on a schedule only\n"
      << "# (on_revocation = false); to have them:\n"
      << "# delta_validity_seconds = 3600\n# delta_url = \"" << base << repository::kDeltaCrlPath << "\"\n\n"
      << "# A second issuing CA under the same root, its key in the HSM too: profile \"iot\" enrolls\n"
      << "# under it. Its CRL is /repo/" << kDevicesCa << ".crl; the CA itself signs its OCSP responses.\n"
      << "[[issuing_ca]]\nname = \"" << kDevicesCa << "\"\ncertificate = \"ca/" << kDevicesCa
      << ".pem\"\nchain = \"ca/root.pem\"\n"
      << "key = \"pkcs11:token=" << kTokenLabel << ";object=" << kDevicesKey << "?pin-source=file:hsm-user-pin\"\n"
      << "crl_url = \"" << base << "/repo/" << kDevicesCa << ".crl\"\n"
      << "ocsp_url = \"" << base << repository::kOcspPath << "\"\n"
      << "ca_issuers_url = \"" << base << "/repo/" << kDevicesCa << ".crt\"\n"
      << "# Named in its full CRLs when [crl] delta_validity_seconds turns delta CRLs on.\n"
      << "delta_url = \"" << base << "/repo/" << kDevicesCa << "-delta.crl\"\n\n"
      << "[ocsp]\n# A delegated responder (id-kp-OCSPSigning) signs; without these two keys the CA does.\n"
      << "signer_key = \"pkcs11:token=" << kTokenLabel << ";object=" << kOcspKey << "?pin-source=file:hsm-user-pin\"\n"
      << "signer_certificate = \"ca/ocsp-signer.pem\"\nvalidity_seconds = 3600\n\n"
      << "[cmp]\ngrant_implicit_confirm = true\nconfirm_wait_seconds = 300\n"
      << "# After a key update (kur): revoke the replaced certificate as superseded?\n"
      << "revoke_replaced_on_key_update = false\n"
      << "# Devices with a certificate from these CAs may sign their requests.\n"
      << "trust_anchors = [\"vendor/manufacturer-ca.pem\"]\n"
      << "# Registration authorities: they may forward requests (nested) and vouch for POP (raVerified).\n"
      << "ra_certificates = [\"vendor/ra.pem\"]\n"
      << "# Central key generation: the key generation authority signs the keys it makes.\n"
      << "kga_key = \"pkcs11:token=" << kTokenLabel << ";object=" << kKgaKey << "?pin-source=file:hsm-user-pin\"\n"
      << "kga_certificate = \"ca/key-generation.pem\"\n"
      << "# single-key: what OpenSSL 3.5 reads; asymmetric-key-package: RFC 9483 4.1.6 as written.\n"
      << "central_key_package = \"single-key\"\n\n"
      << "[[cmp.credential]]\nreference = \"" << kCmpReference << "\"\nsecret = \"" << cmp_secret << "\"\n\n"
      << "# Paths that device firmware may have built in, answering like /.well-known/cmp/p/<profile>.\n"
      << "[cmp.aliases]\n\"/pkix\" = \"default\"\n\n"
      << "[publish.directory]\n# CRLs, CA certificates and every issued certificate as files for a web server or CDN.\n"
      << "path = \"www\"\ncertificates = true\n"
      << "# [publish.ldap] puts the same into an LDAP directory:\n"
      << "# url = \"ldap://127.0.0.1:389\"\n# bind_dn = \"cn=admin,dc=example,dc=org\"\n"
      << "# password_file = \"ldap-password\"\n# base_dn = \"ou=pki,dc=example,dc=org\"\n# certificates = true\n\n"
      << "[review]\n# Requests for names below review.devices.example wait for an officer, whatever their profile.\n"
      << "sans = [\"DNS:*.review.devices.example\"]\n\n"
      << "[ra]\n# A device polling for a held request is told to come back after this many seconds.\n"
      << "check_after_seconds = 1\napproval_wait_seconds = 604800\n\n"
      << "[admin]\n# enrollctl approve/reject talk to this loopback listener with the token in token_file.\n"
      << "listen = \"127.0.0.1\"\nport = 0\ntoken_file = \"admin-token\"\n\n"
      << "[est]\n# EST over HTTPS: https://127.0.0.1:<port>/.well-known/est/[<label>/]<operation>\n"
      << "listen = \"127.0.0.1\"\nport = 0\ntls_certificate = \"tls/server.pem\"\ntls_key = \"tls/server.key\"\n"
      << "# Devices with a certificate from these CAs may simpleenroll with it (bootstrap).\n"
      << "trust_anchors = [\"vendor/manufacturer-ca.pem\"]\n"
      << "# simplereenroll may keep the key (false: a new key is required).\nreenroll_same_key = true\n"
      << "# HTTP Basic: after max_password_failures wrong passwords a user waits lockout_seconds.\n"
      << "max_password_failures = 5\nlockout_seconds = 60\n\n"
      << "# Requests to /.well-known/cmp/p/approval (EST label 'approval') wait for 'enrollctl approve'.\n"
      << "[[profile]]\nname = \"approval\"\nrequire_approval = true\n\n"
      << "# EST label 'bound': P-256 keys only, and the CSR must carry the TLS channel binding.\n"
      << "[[profile]]\nname = \"bound\"\nkey_types = [\"P-256\"]\nrequire_channel_binding = true\n\n"
      << "# TLS servers of the demo fleet (/.well-known/cmp/p/tls-server, EST label tls-server): names\n"
      << "# below devices.example or loopback addresses only; see conf/profiles.example.toml for more.\n"
      << "[[profile]]\nname = \"tls-server\"\nvalidity_days = 90\nrequester_validity = true\n"
      << "key_types = [\"P-256\", \"RSA-2048\"]\nsubject_required = [\"CN\"]\n"
      << "san_dns = [\"*.devices.example\"]\nsan_ip = [\"127.0.0.0/8\"]\nsan_required = true\n"
      << "key_usage = [\"digitalSignature\", \"keyEncipherment\"]\nextended_key_usage = [\"serverAuth\"]\n\n"
      << "# IoT devices (/.well-known/cmp/p/iot, EST label iot), issued by the devices CA.\n"
      << "[[profile]]\nname = \"iot\"\nissuing_ca = \"" << kDevicesCa << "\"\nvalidity_days = 730\n"
      << "key_types = [\"P-256\"]\nextended_key_usage = [\"clientAuth\"]\n";
  return out.str();
}

}  // namespace

Result<fs::path> ensure_demo_instance(const fs::path& requested_dir, std::uint16_t http_port) {
  const fs::path dir = fs::absolute(requested_dir);
  const fs::path config_file = dir / "enrolld.toml";
  if (fs::exists(config_file)) return config_file;

  std::error_code ec;
  fs::create_directories(dir / "tokens", ec);
  if (ec) return fail(ErrorCode::kSystemFailure, "cannot create " + dir.string() + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  const fs::path softhsm_conf = dir / "softhsm2.conf";
  if (auto ok = write_text(softhsm_conf, "directories.tokendir = " + (dir / "tokens").string() +
                                             "\nobjectstore.backend = file\nlog.level = ERROR\n");
      !ok) {
    return tl::unexpected(ok.error());
  }
  ::setenv("SOFTHSM2_CONF", softhsm_conf.c_str(), 1);

  auto user_pin = ensure_secret_file(dir / "hsm-user-pin", 8);
  if (!user_pin) return tl::unexpected(user_pin.error());
  auto so_pin = ensure_secret_file(dir / "hsm-so-pin", 8);
  if (!so_pin) return tl::unexpected(so_pin.error());
  hsm::TokenAccess access{kSoftHsmModule, kTokenLabel, *user_pin};
  if (auto ok = hsm::ensure_token(access, *so_pin); !ok) return tl::unexpected(ok.error());
  for (const char* key : {kRootKey, kIssuingKey, kDevicesKey, kKgaKey, kOcspKey}) {
    auto made = hsm::ensure_key_pair(access, key, hsm::KeyType::kEcP256);
    if (!made) return tl::unexpected(made.error());
  }
  if (auto ok = ensure_ca_certificates(dir, access); !ok) return tl::unexpected(ok.error());
  if (auto ok = ensure_devices_ca(dir, access); !ok) return tl::unexpected(ok.error());
  if (auto ok = ensure_service_certificate(dir, access, kKgaKey, "key-generation.pem",
                                           "enrolld demo key generation authority", std::chrono::hours(24 * 365 * 2),
                                           ca::make_key_generation_certificate);
      !ok) {
    return tl::unexpected(ok.error());
  }
  if (auto ok = ensure_service_certificate(dir, access, kOcspKey, "ocsp-signer.pem", "enrolld demo OCSP responder",
                                           std::chrono::hours(24 * 365), ca::make_ocsp_signing_certificate);
      !ok) {
    return tl::unexpected(ok.error());
  }
  if (auto ok = ensure_vendor_credentials(dir); !ok) return tl::unexpected(ok.error());
  fs::create_directories(dir / "db");
  if (auto ok = ensure_tls_credential(dir, access); !ok) return tl::unexpected(ok.error());
  if (auto ok = ensure_est_user(dir); !ok) return tl::unexpected(ok.error());
  if (auto token = ensure_secret_file(dir / "admin-token", 24); !token) return tl::unexpected(token.error());
  if (http_port == 0) {
    auto free_port = free_loopback_port();
    if (!free_port) return tl::unexpected(free_port.error());
    http_port = *free_port;
  }
  if (auto ok = write_text(config_file, config_text(random_token(16), http_port), 0600); !ok) {
    return tl::unexpected(ok.error());
  }
  spdlog::info("demo instance created in {}", dir.string());
  return config_file;
}

Status write_endpoints(const fs::path& requested_dir, const Config& config, const Listening& listening) {
  const std::uint16_t http_port = listening.http_port;
  const fs::path dir = fs::absolute(requested_dir);
  if (config.credentials.empty()) return fail(ErrorCode::kConfigInvalid, "the demo config has no CMP credential");
  // CMP_TRUST: what a client needs to check what it gets: the root CA (anchor of issued
  // certificates). CMP_CHAIN: the issuing CA chain, issuing CA first.
  std::ostringstream chain;
  for (const auto& file : {config.ca_certificate, config.ca_chain.value_or(config.ca_certificate)}) {
    std::ifstream in(file);
    chain << in.rdbuf();
  }
  if (auto ok = write_text(dir / "chain.pem", chain.str()); !ok) return ok;
  const fs::path trust = config.ca_chain.value_or(config.ca_certificate);
  const std::string base = "http://" + config.listen + ":" + std::to_string(http_port);
  std::ostringstream env;
  env << "# enrolld demo endpoints; source this file\n"
      << "HTTP_PORT=" << http_port << "\n"
      << "CMP_URL=" << base << "/.well-known/cmp\n"
      << "CMP_POLL_URL=" << base << "/.well-known/cmp/p/approval\n"
      << "ADMIN_URL=http://" << config.admin_listen << ":" << listening.admin_port << "\n"
      << "CMP_REF=" << config.credentials.front().reference << "\n"
      << "CMP_SECRET=" << config.credentials.front().secret << "\n"
      << "CMP_TRUST=" << trust.string() << "\n"
      << "CMP_CHAIN=" << (dir / "chain.pem").string() << "\n"
      << "CMP_CLIENT_CERT=" << (dir / "vendor" / "device.pem").string() << "\n"
      << "CMP_CLIENT_KEY=" << (dir / "vendor" / "device.key").string() << "\n"
      << "CMP_RA_CERT=" << (dir / "vendor" / "ra.pem").string() << "\n"
      << "CMP_RA_KEY=" << (dir / "vendor" / "ra.key").string() << "\n"
      << "CRL_URL=" << base << repository::kCrlPath << "\n"
      << "OCSP_URL=" << base << repository::kOcspPath << "\n"
      << "OCSP_SIGNER_CERT=" << (dir / "ca" / "ocsp-signer.pem").string() << "\n"
      << "REPO_URL=" << base << "/repo\n"
      << "PUBLISH_DIR=" << (dir / "www").string() << "\n"
      << "IOT_CMP_URL=" << base << "/.well-known/cmp/p/iot\n"
      << "IOT_CA_CERT=" << (dir / "ca" / (std::string(kDevicesCa) + ".pem")).string() << "\n"
      << "IOT_CRL_URL=" << base << "/repo/" << kDevicesCa << ".crl\n";
  if (listening.est_port != 0) {
    auto password = ossl::read_first_line((dir / "est-password").string());
    if (!password) return tl::unexpected(password.error());
    env << "EST_URL=https://" << config.est.listen << ":" << listening.est_port << "\n"
        << "EST_USER=" << kEstUser << "\n"
        << "EST_PASSWORD=" << *password << "\n"
        << "EST_TLS_TRUST=" << trust.string() << "\n"
        << "EST_BOOTSTRAP_CERT=" << (dir / "vendor" / "device.pem").string() << "\n"
        << "EST_BOOTSTRAP_KEY=" << (dir / "vendor" / "device.key").string() << "\n"
        << "EST_APPROVAL_LABEL=approval\n"
        << "EST_BOUND_LABEL=bound\n";
  }
  return write_text(dir / "endpoints.env", env.str(), 0600);
}

}  // namespace enrolld::app
