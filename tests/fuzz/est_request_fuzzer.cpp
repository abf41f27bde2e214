// Fuzz target for the EST request handler: each input becomes one http::Request (no network)
// through EstServer::handle() on the real stack (SoftHSM token, CA, RocksDB,
// EnrollmentServiceImpl with a key generation authority, CertificateTrustImpl, PasswordStore).
// Built with libFuzzer by scripts/fuzz.sh; the corpus in tests/fuzz/corpus/est/ is replayed as a
// ctest in every run (est_fuzz_replay), so each crash once found stays fixed.
//
// An input is three header bytes, then the body:
//   byte 0  bits 0-2 operation: cacerts, csrattrs, simpleenroll, simplereenroll, serverkeygen,
//                    fullcmc, "simpleenroll/" (a path with a trailing slash), "x/simpleenroll"
//           bits 3-4 label: none (default profile), "manual" (waits for an officer), "bound"
//                    (channel binding required, EC P-256 only), "nosuch" (unknown)
//           bit  5   the wrong method (GET for POST operations and vice versa)
//           bits 6-7 Content-Type: application/pkcs10, "Application/PKCS10 ; charset=x", none,
//                    multipart/form-data
//   byte 1  bits 0-1 TLS: none; the client certificate the fuzz CA issued; that certificate with
//                    one byte changed (byte 2 bits 4-7 say where) and a junk intermediate; TLS
//                    without a client certificate
//           bits 2-4 Authorization: none; "fuzz" (hash with N=2^15); "once" (one-time secret);
//                    "tied" (restricted to profile "manual"); "once" with a wrong password;
//                    an unknown user; not Basic; the first line of the body, as sent
//           bits 5-7 must all be set for an Authorization that runs scrypt at N=2^15 (the user
//                    "fuzz", an unknown user, a raw header naming either): it costs tens of
//                    milliseconds, so it is kept to a small share of the inputs. "once" and
//                    "tied" are stored with cheap parameters (ln=10), which hashes carry along.
//   byte 2  bit  0   the TLS session has a channel binding (kChannelBinding)
//           bit  1   the body is sent base64-encoded (so that seeds and mutations are DER)
//           bit  2   ... with CRLF line breaks every 64 characters (RFC 8951 2.1 allows them)
//           bit  3   TLS 1.2 instead of TLS 1.3
//           bits 4-7 where the changed client certificate differs (TLS variant 2)
// Every answer must be one of EST's statuses, carry the headers that status needs, and a 200
// must be well-formed; enrollment without valid credentials must never succeed.

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ca/ca_certificates.h"
#include "common/log.h"
#include "hsm/software_signer.h"
#include "protocols/est/est_codec.h"
#include "protocols/est/est_server.h"
#include "ra/certificate_trust_impl.h"
#include "ra/enrollment_service_impl.h"
#include "ra/password_store.h"
#include "store/rocksdb/rocksdb_store.h"
#include "support/softhsm_fixture.h"

namespace {

using namespace enrolld;

// The requester's own key, fixed so that seeds can name it (AsymmetricDecryptKeyIdentifier is
// the subjectKeyIdentifier of the certificate issued for it, which hashes the public key).
constexpr const char* kClientKeyPem =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQghlvlqM1BtK8WzlyV\n"
    "5JbejFwD6+h4ujnfEGs4ZOQrwcmhRANCAASyGeEI0uU15s+osbqpHLJ3B33Nl1kK\n"
    "uUzpwtoOEiuCcDnwEM/j9vJjmBpznhFTQxahnvNR7jDKTs9VqrqLDHK4\n"
    "-----END PRIVATE KEY-----\n";
constexpr const char* kClientSubject = "CN=fuzz-client";  // a simplereenroll CSR keeps it
// The TLS session's channel binding when byte 2 bit 0 is set: a CSR proves it by carrying its
// base64 ("ZW5yb2xsZC1lc3QtZnV6ei1jaGFubmVsLWJpbmRpbmc=") as challengePassword.
constexpr std::string_view kChannelBinding = "enrolld-est-fuzz-channel-binding";

constexpr const char* kFuzzUser = "fuzz";
constexpr const char* kFuzzPassword = "fuzz-password-0123";
constexpr const char* kOnceUser = "once";
constexpr const char* kOncePassword = "once-secret-0123";
constexpr const char* kTiedUser = "tied";
constexpr const char* kTiedPassword = "tied-password-0123";

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "est fuzz setup: %s\n", what);
  __builtin_trap();  // the fuzzed stack itself must be whole
}

// A software key generation authority, so that serverkeygen is fuzzed to the end.
ra::KeyGenerationAuthority key_generation_authority(const ca::CertificateAuthority& issuing) {
  ossl::EvpPkeyPtr key = testing::make_ec_key();
  auto cert = ca::make_key_generation_certificate({{{"CN", "fuzz KGA"}}, std::chrono::hours(24), -1}, key.get(),
                                                  issuing.certificate(), issuing.signer());
  ra::KeyGenerationAuthority kga{
      std::make_unique<hsm::SoftwareSigner>(std::move(key)), {}, ra::KeyPackageFormat::kSingleKey};
  if (!cert) broken("KGA certificate");
  kga.chain.push_back(std::move(*cert));
  for (const auto& above : issuing.chain()) kga.chain.push_back(ossl::up_ref(above.get()));
  return kga;
}

std::vector<ca::Profile> profiles() {
  ca::Profile open;  // "default": any key the CA supports
  ca::Profile manual;
  manual.name = "manual";
  ca::Profile bound;
  bound.name = "bound";
  bound.keys = {{EVP_PKEY_EC, NID_X9_62_prime256v1, 0}};
  return {open, manual, bound};
}

ra::Policy policy() {
  ra::Policy policy;
  policy.approval_profiles = {"manual"};
  policy.channel_binding_profiles = {"bound"};
  policy.check_after = std::chrono::seconds(7);
  return policy;
}

// A PHC scrypt string with the cheapest parameters password_matches accepts.
std::string cheap_hash(std::string_view password) {
  const Bytes salt = random_bytes(16);
  Bytes hash(32);
  if (::EVP_PBE_scrypt(password.data(), password.size(), salt.data(), salt.size(), 1024, 8, 1, 0, hash.data(),
                       hash.size()) != 1) {
    broken("scrypt");
  }
  return "$scrypt$ln=10,r=8,p=1$" + est::base64_line(salt) + "$" + est::base64_line(hash);
}

struct Stack {
  Stack() {
    // Users: one through the operator's path (full cost), two planted with cheap hashes.
    if (!passwords.set_password(kFuzzUser, kFuzzPassword, "", false)) broken("set_password");
    arm_cheap_users();
    issue_client_certificate();
  }

  void arm_cheap_users() {
    store::WriteSet writes;
    writes.passwords.push_back({kOnceUser, cheap_hash(kOncePassword), "", true, false, 0});
    writes.passwords.push_back({kTiedUser, cheap_hash(kTiedPassword), "manual", false, false, 0});
    if (!store->commit(writes)) broken("planting users");
  }

  // The one-time secret again, once it has been spent (a store write, no scrypt).
  void rearm_one_time_secret() {
    auto found = store->find_password(kOnceUser);
    if (!found || !*found) broken("the one-time user is gone");
    if (!(*found)->used) return;
    (*found)->used = false;
    store::WriteSet writes;
    writes.passwords.push_back(**found);
    if (!store->commit(writes)) broken("re-arming the one-time user");
  }

  void issue_client_certificate() {
    ossl::BioPtr bio(::BIO_new_mem_buf(kClientKeyPem, -1));
    client_key.reset(::PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    if (!client_key) broken("client key");
    ra::CertificationRequest request;
    request.transaction_id_hex = to_hex(random_bytes(16));
    request.protocol = "est";
    request.requester = ra::Requester{"mac:fuzz-setup", ""};
    request.subject_der = testing::name_der(kClientSubject);
    request.public_key_der = testing::public_key_der(client_key.get());
    request.fingerprint = random_bytes(32);
    request.confirmation_supported = false;
    auto reply = service.submit(request, {}, [this](const ra::Decision& decision) -> Result<Bytes> {
      client_certificate = std::get<ra::IssuedCertificate>(decision).certificate_der;
      return Bytes{0};
    });
    if (!reply || client_certificate.empty()) broken("client certificate");
    if (!trust.validate(client_certificate, {})) broken("the client certificate does not validate");
  }

  testing::SoftHsmToken token;
  testing::TestCa ca = testing::make_test_ca(token);
  testing::TempDir store_dir{"enrolld-est-fuzz-store"};
  std::unique_ptr<store::RocksDbStore> store =
      std::move(*store::RocksDbStore::open((store_dir.path() / "db").string()));
  ra::EnrollmentServiceImpl service{*store,   *ca.issuing,    profiles(),
                                    policy(), system_clock(), key_generation_authority(*ca.issuing)};
  ra::CertificateTrustImpl trust{*store, service.ca_chain(), {}, {}, system_clock()};
  // Each input moves the password clock on by 20 s: a lockout (5 failures, 60 s) lasts a few inputs.
  std::atomic<std::int64_t> inputs{0};
  ra::PasswordStore passwords{*store, ra::LockoutPolicy{5, std::chrono::seconds(60)}, [this] {
                                return std::chrono::system_clock::now() + inputs.load() * std::chrono::seconds(20);
                              }};
  est::EstServer server{service, trust, passwords, est::EstOptions{}};
  ossl::EvpPkeyPtr client_key;
  Bytes client_certificate;
};

Stack& stack() {
  static Stack* instance = new Stack();  // built once, before the first input; lives for the process
  return *instance;
}

std::string basic(std::string_view user, std::string_view password) {
  const std::string credentials = std::string(user) + ":" + std::string(password);
  return "Basic " + est::base64_line(to_bytes(credentials));
}

// Whether an Authorization header makes the server run scrypt at full cost: Basic credentials
// that decode, for a user other than the cheap ones. (Unknown users cost the decoy's hash.)
bool costly(std::string_view authorization) {
  if (authorization.size() < 6) return false;
  std::string scheme(authorization.substr(0, 6));
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "basic ") return false;
  auto decoded = est::decode_base64(authorization.substr(6));
  if (!decoded) return false;
  const std::string text(decoded->begin(), decoded->end());
  const auto colon = text.find(':');
  if (colon == std::string::npos) return false;
  const std::string user = text.substr(0, colon);
  return user != kOnceUser && user != kTiedUser;
}

bool one_line_base64(const Bytes& body) {
  if (body.empty() || body.size() % 4 != 0) return false;
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = static_cast<char>(body[i]);
    const bool padding = c == '=' && i + 2 >= body.size();
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/' && !padding) return false;
  }
  return true;
}

bool has_header(const http::Response& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name && !value.empty()) return true;
  }
  return false;
}

// A certs-only PKCS#7 with at least one certificate, base64 on one line.
bool certs_only_body(const Bytes& body) {
  if (!one_line_base64(body)) return false;
  auto der = est::decode_base64(std::string_view(reinterpret_cast<const char*>(body.data()), body.size()));
  if (!der) return false;
  const unsigned char* cursor = der->data();
  std::unique_ptr<::PKCS7, ossl::Deleter<::PKCS7_free>> p7(
      ::d2i_PKCS7(nullptr, &cursor, static_cast<long>(der->size())));
  if (!p7 || cursor != der->data() + der->size() || !PKCS7_type_is_signed(p7.get())) return false;
  const STACK_OF(X509)* certs = p7->d.sign->cert;
  return certs != nullptr && sk_X509_num(certs) > 0;
}

bool contains(const Bytes& body, std::string_view text) {
  return std::string_view(reinterpret_cast<const char*>(body.data()), body.size()).find(text) != std::string_view::npos;
}

void check_response(const http::Response& response, std::string_view operation, bool authenticated, bool tls_valid) {
  const bool enrolls = operation == "simpleenroll" || operation == "simplereenroll" || operation == "serverkeygen";
  switch (response.status) {
    case 200:
      if (operation == "cacerts") {
        if (!certs_only_body(response.body)) __builtin_trap();
      } else if (operation == "csrattrs") {
        if (response.content_type != "application/csrattrs" || !one_line_base64(response.body)) __builtin_trap();
      } else if (operation == "simpleenroll" || operation == "simplereenroll") {
        if (response.content_type.rfind("application/pkcs7-mime", 0) != 0) __builtin_trap();
        if (!certs_only_body(response.body)) __builtin_trap();
      } else if (operation == "serverkeygen") {
        const std::string prefix = "multipart/mixed; boundary=";
        if (response.content_type.rfind(prefix, 0) != 0) __builtin_trap();
        const std::string boundary = response.content_type.substr(prefix.size());
        if (boundary.empty() || !contains(response.body, "--" + boundary + "--")) __builtin_trap();
        if (!contains(response.body, "application/pkcs7-mime; smime-type=certs-only")) __builtin_trap();
      } else {
        __builtin_trap();  // nothing else answers 200
      }
      break;
    case 202:
      if (!has_header(response, "Retry-After")) __builtin_trap();
      if (operation != "simpleenroll" && operation != "simplereenroll") __builtin_trap();
      break;
    case 204:
      if (operation != "csrattrs" || !response.body.empty()) __builtin_trap();
      break;
    case 401:
      if (!has_header(response, "WWW-Authenticate")) __builtin_trap();
      break;
    case 405:
      if (!has_header(response, "Allow")) __builtin_trap();
      break;
    case 429:
      if (!has_header(response, "Retry-After")) __builtin_trap();
      break;
    case 400:
    case 403:
    case 404:
    case 409:
    case 415:
    case 501: break;
    default:
      // 500 (an internal error) and 503 (store or HSM unavailable) have no cause in a request.
      std::fprintf(stderr, "unexpected status %d: %.*s\n", response.status, static_cast<int>(response.body.size()),
                   reinterpret_cast<const char*>(response.body.data()));
      __builtin_trap();
  }
  // Enrollment needs credentials; renewal needs the certificate it renews.
  if (enrolls && (response.status == 200 || response.status == 202)) {
    if (!authenticated) __builtin_trap();
    if (operation == "simplereenroll" && !tls_valid) __builtin_trap();
  }
}

constexpr std::string_view kOperations[8] = {"cacerts",      "csrattrs", "simpleenroll",  "simplereenroll",
                                             "serverkeygen", "fullcmc",  "simpleenroll/", "x/simpleenroll"};
constexpr std::string_view kLabels[4] = {"", "manual", "bound", "nosuch"};
constexpr std::string_view kContentTypes[4] = {"application/pkcs10", "Application/PKCS10 ; charset=x", "",
                                               "multipart/form-data; boundary=x"};

}  // namespace

// Builds the stack before fuzzing starts, so its one-time allocations are not charged to an input.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // A log line per refusal slows fuzzing down; ENROLLD_FUZZ_LOG=1 keeps them.
  if (std::getenv("ENROLLD_FUZZ_LOG") == nullptr) spdlog::set_level(spdlog::level::critical);
  stack();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  Stack& s = stack();
  ++s.inputs;
  const std::uint8_t b0 = data[0], b1 = data[1], b2 = data[2];
  std::string_view rest(reinterpret_cast<const char*>(data + 3), size - 3);

  const std::string_view operation = kOperations[b0 & 7];
  const std::string_view label = kLabels[(b0 >> 3) & 3];
  const bool posts = operation != "cacerts" && operation != "csrattrs";
  http::Request request;
  request.method = (posts != ((b0 & 0x20) != 0)) ? "POST" : "GET";
  request.path = std::string(est::kEstPath) + (label.empty() ? "" : std::string(label) + "/") + std::string(operation);
  request.content_type = std::string(kContentTypes[b0 >> 6]);
  request.peer = "192.0.2.1:4433";

  // TLS and the client certificate.
  bool tls_valid = false;
  const unsigned tls = b1 & 3;
  if (tls != 0) {
    http::TlsPeer peer;
    peer.version = (b2 & 8) ? "TLS1.2" : "TLS1.3";
    if (b2 & 1) peer.channel_binding = to_bytes(kChannelBinding);
    if (tls == 1) {
      peer.client_certificates = {s.client_certificate};
      tls_valid = true;
    } else if (tls == 2) {
      Bytes changed = s.client_certificate;
      const std::size_t at = (static_cast<std::size_t>(b2 >> 4) * 37 + rest.size()) % changed.size();
      changed[at] ^= static_cast<std::uint8_t>(1u << (rest.size() % 8));
      peer.client_certificates = {changed, to_bytes(rest.substr(0, std::min<std::size_t>(rest.size(), 64)))};
    }
    request.tls = std::move(peer);
  }

  // Authorization.
  switch ((b1 >> 2) & 7) {
    case 0: break;
    case 1: request.authorization = basic(kFuzzUser, kFuzzPassword); break;
    case 2:
      s.rearm_one_time_secret();
      request.authorization = basic(kOnceUser, kOncePassword);
      break;
    case 3: request.authorization = basic(kTiedUser, kTiedPassword); break;
    case 4: request.authorization = basic(kOnceUser, "not-the-secret"); break;
    case 5: request.authorization = basic("nobody", kFuzzPassword); break;
    case 6:
      request.authorization = "Bearer " + std::string(rest.substr(0, std::min<std::size_t>(rest.size(), 16)));
      break;
    case 7: {
      const auto newline = rest.find('\n');
      request.authorization = std::string(rest.substr(0, std::min<std::size_t>(newline, 512)));
      rest = newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
      break;
    }
  }
  if ((b1 >> 5) != 7 && costly(request.authorization)) request.authorization.clear();
  const unsigned basic_variant = (b1 >> 2) & 7;
  const bool basic_valid = !request.authorization.empty() &&
                           (basic_variant == 1 || basic_variant == 2 || basic_variant == 3 || basic_variant == 7);
  // A raw header (7) may carry valid credentials too: count it as possibly authenticated.
  const bool authenticated = tls_valid || basic_valid;

  // The body.
  if (b2 & 2) {
    std::string text = est::base64_line(to_bytes(rest));
    if (b2 & 4) {
      std::string broken_lines;
      for (std::size_t i = 0; i < text.size(); i += 64) broken_lines += text.substr(i, 64) + "\r\n";
      text = std::move(broken_lines);
    }
    request.body = to_bytes(text);
  } else {
    request.body = to_bytes(rest);
  }

  const http::Response response = s.server.handle(request);
  check_response(response, operation, authenticated, tls_valid);

  // Whatever the answer, the request must not leave the one-time secret claimed: unless it was
  // spent (200), the next enrollment with it must be let in.
  if (basic_variant == 2 && response.status != 429) {
    auto probe = s.passwords.check(kOnceUser, kOncePassword, "");
    if (!probe) __builtin_trap();
    if (probe->outcome == ra::PasswordCheck::Outcome::kAccepted) {
      s.passwords.release(kOnceUser);
    } else if (probe->outcome == ra::PasswordCheck::Outcome::kRejected) {
      auto record = s.store->find_password(kOnceUser);
      if (!record || !*record || !(*record)->used) __builtin_trap();  // claimed, and never released
      if (response.status != 200) __builtin_trap();                   // spent by a refused request
    }
  }
  return 0;
}
