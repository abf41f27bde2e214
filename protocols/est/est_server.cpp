#include "protocols/est/est_server.h"

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <array>
#include <charconv>

#include "common/log.h"
#include "common/openssl_util.h"
#include "protocols/cms/key_envelope.h"
#include "protocols/est/est_codec.h"

namespace enrolld::est {

namespace {

enum class Operation { kCaCerts, kCsrAttrs, kSimpleEnroll, kSimpleReenroll, kServerKeygen, kFullCmc };

struct OperationSpec {
  std::string_view name;
  Operation operation;
  const char* method;
};

constexpr std::array<OperationSpec, 6> kOperations = {{{"cacerts", Operation::kCaCerts, "GET"},
                                                       {"csrattrs", Operation::kCsrAttrs, "GET"},
                                                       {"simpleenroll", Operation::kSimpleEnroll, "POST"},
                                                       {"simplereenroll", Operation::kSimpleReenroll, "POST"},
                                                       {"serverkeygen", Operation::kServerKeygen, "POST"},
                                                       {"fullcmc", Operation::kFullCmc, "POST"}}};

constexpr const char* kPkcs7CertsOnly = "application/pkcs7-mime; smime-type=certs-only";
constexpr const char* kRealm = "Basic realm=\"enrolld EST\", charset=\"UTF-8\"";
constexpr const char* kUnavailableRetrySeconds = "30";
// Stored replies: what the service keeps for a resend or a later poll, one tag byte first.
constexpr std::uint8_t kStoredCertificate = 'C';  // then the certs-only PKCS#7 DER
constexpr std::uint8_t kStoredHeld = 'H';         // then the seconds to wait, in decimal

bool valid_label(std::string_view label) {
  return !label.empty() && label.size() <= 64 &&
         label.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_") == std::string_view::npos;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The media type without parameters, lower case: "application/pkcs10; charset=x" -> "application/pkcs10".
std::string media_type(std::string_view content_type) {
  std::string type = lower(content_type.substr(0, content_type.find(';')));
  type.erase(type.find_last_not_of(" \t") + 1);
  type.erase(0, type.find_first_not_of(" \t"));
  return type;
}

http::Response base64_response(int status, const std::string& content_type, ByteView der) {
  http::Response response;
  response.status = status;
  response.content_type = content_type;
  const std::string text = base64_line(der);
  response.body.assign(text.begin(), text.end());
  response.headers.emplace_back("Content-Transfer-Encoding", "base64");
  return response;
}

Bytes sha256(std::initializer_list<ByteView> parts) {
  ossl::EvpMdCtxPtr ctx(::EVP_MD_CTX_new());
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned length = 0;
  ::EVP_DigestInit_ex(ctx.get(), ::EVP_sha256(), nullptr);
  for (ByteView part : parts) {
    const std::uint32_t size = static_cast<std::uint32_t>(part.size());  // framed: no two inputs collide
    ::EVP_DigestUpdate(ctx.get(), &size, sizeof size);
    ::EVP_DigestUpdate(ctx.get(), part.data(), part.size());
  }
  ::EVP_DigestFinal_ex(ctx.get(), out.data(), &length);
  out.resize(length);
  return out;
}

ByteView view_of(std::string_view text) {
  return ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
}

// The subjectAltName extension's value (DER GeneralNames) in `extensions`; empty when absent.
Bytes subject_alt_names(const STACK_OF(X509_EXTENSION) * extensions) {
  const int at = ::X509v3_get_ext_by_NID(extensions, NID_subject_alt_name, -1);
  if (at < 0) return {};
  const ::ASN1_OCTET_STRING* value = ::X509_EXTENSION_get_data(::X509v3_get_ext(extensions, at));
  const auto* data = ::ASN1_STRING_get0_data(value);
  return Bytes(data, data + ::ASN1_STRING_length(value));
}

}  // namespace

struct EstServer::Exchange {
  const http::Request& request;
  Operation operation = Operation::kCaCerts;
  std::string label;  // empty: the default profile
  ra::ProfileInfo profile;
  ra::Requester requester;
  std::string one_time_user;         // set when a one-time secret authenticated the request
  ossl::X509Ptr client_certificate;  // set when the TLS client certificate authenticated it
  CertificationRequestInfo csr;
  std::string transaction_id_hex;  // set once the request has one (enroll, serverkeygen)

  // " txn=<id>" for a log line, once there is a transaction.
  std::string txn_field() const { return transaction_id_hex.empty() ? "" : " txn=" + transaction_id_hex; }

  // The answer for a refused request, logged with who asked and why.
  http::Response refuse(int status, std::string_view reason) const {
    // The reason may quote what the client sent (a user name, a label): one safe line.
    const std::string text = log::client_text(reason, 400);
    spdlog::warn("est peer={} path={} requester={}{} status={}: {}", request.peer, log::client_text(request.path),
                 requester.identity.empty() ? "-" : log::client_text(requester.identity), txn_field(), status, text);
    return http::text_response(status, text);
  }
  http::Response refuse(const Error& error) const {
    switch (error.code) {
      case ErrorCode::kBadDataFormat:
      case ErrorCode::kBadPop: return refuse(400, error.message);
      case ErrorCode::kBadCertTemplate:
      case ErrorCode::kBadAlgorithm:
      case ErrorCode::kNotAuthorized:
      case ErrorCode::kCertRevoked:
      case ErrorCode::kSignerNotTrusted: return refuse(403, error.message);
      case ErrorCode::kUnsupportedRequest: return refuse(501, error.message);
      case ErrorCode::kUnknownTransaction:
      case ErrorCode::kUnexpectedMessage:
      case ErrorCode::kTransactionIdInUse: return refuse(409, error.message);
      case ErrorCode::kSystemUnavailable: {
        // The log gets the cause; the client only that it should come back.
        spdlog::error("est path={}{}: {}", log::client_text(request.path), txn_field(), error.message);
        http::Response response = refuse(503, "the CA cannot serve right now (HSM or store); retry later");
        response.headers.emplace_back("Retry-After", kUnavailableRetrySeconds);
        return response;
      }
      default:
        spdlog::error("est path={}{}: {}", log::client_text(request.path), txn_field(), error.message);
        return refuse(500, "internal error; the request was not processed");
    }
  }
  http::Response unauthenticated(std::string_view reason) const {
    http::Response response = refuse(401, reason);
    response.headers.emplace_back("WWW-Authenticate", kRealm);
    return response;
  }
};

namespace {

// HTTP Basic credentials; nullopt when the header is absent or not Basic.
std::optional<std::pair<std::string, std::string>> basic_credentials(std::string_view header) {
  if (header.size() < 6 || lower(header.substr(0, 6)) != "basic ") return std::nullopt;
  auto decoded = decode_base64(header.substr(6));
  if (!decoded) return std::nullopt;
  std::string text(decoded->begin(), decoded->end());
  ::OPENSSL_cleanse(decoded->data(), decoded->size());
  const auto colon = text.find(':');
  std::optional<std::pair<std::string, std::string>> credentials;
  if (colon != std::string::npos) credentials.emplace(text.substr(0, colon), text.substr(colon + 1));
  ::OPENSSL_cleanse(text.data(), text.size());  // the password's only other copy
  return credentials;
}

Bytes tagged(std::uint8_t tag, ByteView content) {
  Bytes out;
  out.reserve(content.size() + 1);
  out.push_back(tag);
  out.insert(out.end(), content.begin(), content.end());
  return out;
}

// Wipes a buffer that held a private key on every way out of a scope.
struct WipeOnExit {
  Bytes& bytes;
  ~WipeOnExit() { ::OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

// The stored reply as EST's HTTP answer.
http::Response stored_reply_response(const Bytes& stored) {
  if (!stored.empty() && stored.front() == kStoredCertificate) {
    return base64_response(200, kPkcs7CertsOnly, ByteView(stored).subspan(1));
  }
  http::Response response;
  response.status = 202;
  response.content_type = "text/plain; charset=utf-8";
  const std::string seconds(stored.begin() + (stored.empty() ? 0 : 1), stored.end());
  response.headers.emplace_back("Retry-After", seconds.empty() ? "60" : seconds);
  const std::string text = "the request waits for an officer's approval; send the same request again later\n";
  response.body.assign(text.begin(), text.end());
  return response;
}

// What the service stores for an EST transaction: the certificate (certs-only) or the wait.
Result<Bytes> encode_decision(const ra::Decision& decision) {
  if (const auto* issued = std::get_if<ra::IssuedCertificate>(&decision)) {
    auto bag = issued->certificate ? certs_only(std::vector<::X509*>{issued->certificate.get()})
                                   : certs_only(std::vector<Bytes>{issued->certificate_der});
    if (!bag) return tl::unexpected(bag.error());
    return tagged(kStoredCertificate, *bag);
  }
  const auto& held = std::get<ra::HeldForApproval>(decision);
  return tagged(kStoredHeld, view_of(std::to_string(std::max<long long>(1, held.check_after.count()))));
}

std::map<std::string, Result<Bytes>, std::less<>> cacerts_bags(const ra::EnrollmentService& service) {
  std::map<std::string, Result<Bytes>, std::less<>> bags;
  for (const auto& ca : service.issuing_cas()) bags.emplace(ca.name, certs_only(ca.chain));
  return bags;
}

}  // namespace

EstServer::EstServer(ra::EnrollmentService& service, const ra::CertificateTrust& trust, ra::PasswordVerifier& passwords,
                     EstOptions options)
    : m_service(service),
      m_trust(trust),
      m_passwords(passwords),
      m_options(options),
      m_ca_certificates(cacerts_bags(service)) {}

http::Response EstServer::handle(const http::Request& request) {
  Exchange ex{request, Operation::kCaCerts, {}, {}, {}, {}, {}, {}, {}};
  std::string_view rest = std::string_view(request.path).substr(std::string_view(kEstPath).size());
  std::string_view operation_name = rest;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    ex.label = std::string(rest.substr(0, slash));
    operation_name = rest.substr(slash + 1);
    if (!valid_label(ex.label)) return ex.refuse(404, "no such EST label");
  }
  const auto* spec = std::find_if(kOperations.begin(), kOperations.end(),
                                  [&](const OperationSpec& s) { return s.name == operation_name; });
  if (spec == kOperations.end()) return ex.refuse(404, "no such EST operation");
  ex.operation = spec->operation;
  if (request.method != spec->method) {
    http::Response response = ex.refuse(405, std::string(spec->name) + " takes " + spec->method);
    response.headers.emplace_back("Allow", spec->method);
    return response;
  }
  auto profile = m_service.profile(ex.label);
  if (!profile) return ex.refuse(404, "no such EST label: " + ex.label);
  ex.profile = std::move(*profile);
  switch (ex.operation) {
    case Operation::kCaCerts: return cacerts(ex);
    case Operation::kCsrAttrs: return csrattrs(ex);
    case Operation::kFullCmc: return ex.refuse(501, "fullcmc is not offered; use simpleenroll");
    case Operation::kServerKeygen: return server_keygen(ex);
    default: return enroll(ex);
  }
}

// RFC 7030 4.1.3: the chain of the CA that the label's profile enrolls under.
http::Response EstServer::cacerts(const Exchange& ex) {
  const Result<Bytes>& bag = m_ca_certificates.at(ex.profile.issuing_ca->name);
  if (!bag) return ex.refuse(bag.error());
  return base64_response(200, kPkcs7CertsOnly, *bag);
}

http::Response EstServer::csrattrs(const Exchange& ex) {
  const Bytes attributes = csr_attributes(ex.profile);
  if (attributes.empty()) {
    http::Response response;
    response.status = 204;
    return response;
  }
  return base64_response(200, "application/csrattrs", attributes);
}

namespace {

using Refusal = std::optional<http::Response>;

Refusal authenticate_by_password(EstServer::Exchange& ex, ra::PasswordVerifier& passwords, std::string_view why) {
  auto credentials = basic_credentials(ex.request.authorization);
  if (!credentials) return ex.unauthenticated(why);
  // Only a TLS connection is a channel a password may be remembered on.
  const ra::PasswordChannel channel = ex.request.tls ? ex.request.connection_id : ra::kNoChannel;
  auto checked = passwords.check(credentials->first, credentials->second, ex.profile.name, channel);
  ::OPENSSL_cleanse(credentials->second.data(), credentials->second.size());
  if (!checked) return ex.refuse(checked.error());
  switch (checked->outcome) {
    case ra::PasswordCheck::Outcome::kAccepted: break;
    case ra::PasswordCheck::Outcome::kRejected:
      return ex.unauthenticated("user name or password not accepted (user '" + credentials->first + "')");
    case ra::PasswordCheck::Outcome::kWrongProfile:
      return ex.refuse(403, "user '" + credentials->first + "' may not enroll under profile '" + ex.profile.name + "'");
    case ra::PasswordCheck::Outcome::kLockedOut: {
      http::Response response =
          ex.refuse(429, "too many failed passwords for user '" + credentials->first + "'; try again later");
      response.headers.emplace_back("Retry-After", std::to_string(checked->retry_after.count()));
      return response;
    }
  }
  ex.requester = checked->requester;
  if (checked->one_time) ex.one_time_user = credentials->first;
  return std::nullopt;
}

// Fills ex.requester from the TLS client certificate or, failing that, HTTP Basic.
// simplereenroll needs the certificate it renews, issued here; the others take a manufacturer's
// certificate under the configured anchors, one issued here, or a password.
// `recent` decodes the certificates, which a client shows with every request.
Refusal authenticate(EstServer::Exchange& ex, const ra::CertificateTrust& trust, ra::PasswordVerifier& passwords,
                     ossl::RecentCertificates& recent) {
  const bool renewal = ex.operation == Operation::kSimpleReenroll;
  const std::vector<Bytes>* certs = ex.request.tls ? &ex.request.tls->client_certificates : nullptr;
  if (certs == nullptr || certs->empty()) {
    if (renewal)
      return ex.refuse(403, "simplereenroll renews the certificate presented as TLS client certificate; none was");
    return authenticate_by_password(ex, passwords, "authentication required: a TLS client certificate or HTTP Basic");
  }
  auto certificate = recent.decode(certs->front());
  std::vector<ossl::X509Ptr> decoded;  // holds the intermediates that decode; the others are left out
  std::vector<::X509*> intermediates;
  for (auto der = certs->begin() + 1; der != certs->end(); ++der) {
    if (auto intermediate = recent.decode(*der)) {
      intermediates.push_back(intermediate->get());
      decoded.push_back(std::move(*intermediate));
    }
  }
  auto requester = certificate ? trust.validate_decoded(certificate->get(), intermediates)
                               : Result<ra::Requester>(tl::unexpected(certificate.error()));
  if (!requester) {
    if (requester.error().code == ErrorCode::kSystemUnavailable) return ex.refuse(requester.error());
    const std::string why = "the TLS client certificate is not accepted: " + requester.error().message;
    if (renewal || requester.error().code == ErrorCode::kCertRevoked) return ex.refuse(403, why);
    return authenticate_by_password(ex, passwords, why);
  }
  if (renewal && requester->certificate_serial_hex.empty()) {
    return ex.refuse(403, "simplereenroll renews a certificate this CA issued; enroll with simpleenroll instead");
  }
  // Kept for the checks on what it may ask (its subject, a renewal's subject and SAN).
  ex.client_certificate = std::move(*certificate);
  ex.requester = std::move(*requester);
  return std::nullopt;
}

// RFC 7030 3.5: a challengePassword carries the TLS session's channel binding, base64; it must
// be this session's. A profile may require it.
Refusal check_channel_binding(const EstServer::Exchange& ex) {
  if (!ex.csr.challenge_password) {
    if (!ex.profile.requires_channel_binding) return std::nullopt;
    return ex.refuse(403, "profile '" + ex.profile.name +
                              "' requires the TLS channel binding in the CSR's challengePassword (RFC 7030 3.5)");
  }
  const Bytes& binding = ex.request.tls ? ex.request.tls->channel_binding : Bytes();
  if (binding.empty()) {
    return ex.refuse(403,
                     "the CSR carries a channel binding, but this TLS session has none to compare "
                     "(TLS 1.2 without the extended master secret)");
  }
  if (*ex.csr.challenge_password != base64_line(binding)) {
    return ex.refuse(403, "the CSR's challengePassword is not this TLS session's channel binding");
  }
  return std::nullopt;
}

bool same_subject(const Bytes& subject_der, const ::X509* cert) {
  auto subject = ossl::name_from_der(subject_der);
  return subject && ::X509_NAME_cmp(subject->get(), ::X509_get_subject_name(cert)) == 0;
}

// A certificate this CA issued speaks for its own subject only: it may not enroll others
// (nor, through simpleenroll, mint more certificates for another name).
Refusal check_own_subject(const EstServer::Exchange& ex) {
  if (ex.operation == Operation::kSimpleReenroll) return std::nullopt;  // check_renewal says more
  if (ex.requester.certificate_serial_hex.empty() || ex.requester.registration_authority) return std::nullopt;
  if (same_subject(ex.csr.subject_der, ex.client_certificate.get())) return std::nullopt;
  return ex.refuse(403, "a certificate issued here enrolls only for its own subject; the CSR names another");
}

// RFC 7030 4.2.2: a renewal keeps the subject and subjectAltName of the certificate it renews.
// Sets what the request replaces when the key changes.
Refusal check_renewal(EstServer::Exchange& ex, ra::CertificationRequest& request, bool same_key_allowed) {
  const ::X509* current = ex.client_certificate.get();
  if (!same_subject(ex.csr.subject_der, current)) {
    return ex.refuse(403, "simplereenroll must keep the subject of the certificate it renews");
  }
  ossl::X509ExtensionsPtr requested;
  if (!ex.csr.extensions_der.empty()) {
    const unsigned char* cursor = ex.csr.extensions_der.data();
    requested.reset(::d2i_X509_EXTENSIONS(nullptr, &cursor, static_cast<long>(ex.csr.extensions_der.size())));
  }
  if (subject_alt_names(requested.get()) != subject_alt_names(::X509_get0_extensions(current))) {
    return ex.refuse(403, "simplereenroll must keep the subjectAltName of the certificate it renews");
  }
  const bool same_key = ex.csr.public_key_der == ossl::der_of_public_key(::X509_get0_pubkey(current));
  if (same_key && !same_key_allowed) {
    return ex.refuse(403, "simplereenroll here needs a new key; the CSR keeps the current one");
  }
  if (!same_key) request.replaces_serial_hex = ex.requester.certificate_serial_hex;
  return std::nullopt;
}

// Decodes and checks the body: a base64 PKCS#10 request.
Refusal read_request(EstServer::Exchange& ex) {
  if (media_type(ex.request.content_type) != "application/pkcs10") {
    return ex.refuse(415, "the body must be a base64 PKCS#10 request of type application/pkcs10");
  }
  auto der =
      decode_base64(std::string_view(reinterpret_cast<const char*>(ex.request.body.data()), ex.request.body.size()));
  if (!der) return ex.refuse(400, "the body is not base64");
  auto csr = parse_certification_request(*der);
  if (!csr) return ex.refuse(csr.error());
  ex.csr = std::move(*csr);
  if (auto refused = check_own_subject(ex)) return refused;
  return check_channel_binding(ex);
}

ra::CertificationRequest certification_request(const EstServer::Exchange& ex) {
  ra::CertificationRequest request;
  request.protocol = "est";
  request.requester = ex.requester;
  request.profile = ex.profile.name;
  request.profile_snapshot = ex.profile.snapshot;  // the version its checks read
  request.subject_der = ex.csr.subject_der;
  request.public_key_der = ex.csr.public_key_der;
  request.extensions_der = ex.csr.extensions_der;
  request.confirmation_supported = false;
  return request;
}

std::string_view operation_name(Operation operation) {
  for (const auto& spec : kOperations) {
    if (spec.operation == operation) return spec.name;
  }
  return "?";
}

}  // namespace

// A one-time secret is spent by the certificate it got (status 200), and free again otherwise
// (refused, or waiting for an officer: the retry authenticates with it again).
http::Response EstServer::settle_one_time_secret(const Exchange& ex, http::Response response) {
  if (ex.one_time_user.empty()) return response;
  if (response.status != 200) {
    m_passwords.release(ex.one_time_user);
    return response;
  }
  if (auto spent = m_passwords.spend(ex.one_time_user); !spent) {
    // Not delivered: a secret that is not spent durably must not have enrolled; the client
    // retries, and the secret is spent by the certificate it gets then.
    m_passwords.release(ex.one_time_user);
    return ex.refuse(spent.error());
  }
  return response;
}

http::Response EstServer::enroll(Exchange& ex) {
  if (auto refused = authenticate(ex, m_trust, m_passwords, m_recent)) return *refused;
  return settle_one_time_secret(ex, enroll_authenticated(ex));
}

http::Response EstServer::enroll_authenticated(Exchange& ex) {
  if (auto refused = read_request(ex)) return *refused;
  ra::CertificationRequest request = certification_request(ex);
  if (ex.operation == Operation::kSimpleReenroll) {
    if (auto refused = check_renewal(ex, request, m_options.reenroll_same_key)) return *refused;
  }
  // EST has no transaction ID. Under a profile that waits for an officer, the same request
  // (requester, subject, key, extensions: not the signature or challengePassword, which change
  // with every TLS session) is the same transaction, so a retry after 202 (RFC 7030 4.2.3)
  // finds the one it waits for. Elsewhere every request is a new transaction.
  const std::string operation(operation_name(ex.operation));
  request.transaction_id_hex =
      ex.profile.requires_approval
          ? to_hex(ByteView(sha256({view_of("est"), view_of(operation), view_of(ex.profile.name),
                                    view_of(ex.requester.identity), ex.csr.subject_der, ex.csr.public_key_der,
                                    ex.csr.extensions_der}))
                       .first(16))
          : to_hex(random_bytes(16));
  ex.transaction_id_hex = request.transaction_id_hex;  // refusals from here on name it
  // Every retry is a new look at the transaction (a poll), never a resend of a stored reply.
  request.fingerprint = random_bytes(32);
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto existing = m_service.find(request.transaction_id_hex);
    if (!existing) return ex.refuse(existing.error());
    Result<Bytes> stored = Bytes();
    if (!*existing) {
      stored = m_service.submit(request, {}, encode_decision);
      if (!stored && stored.error().code == ErrorCode::kTransactionIdInUse) continue;  // a twin won the race
    } else if ((*existing)->state == "waiting-for-approval" || (*existing)->state == "approved" ||
               (*existing)->state == "refused") {
      stored = m_service.collect(request.transaction_id_hex, ex.requester, request.fingerprint, {}, encode_decision);
    } else if (!(*existing)->certificate_der.empty() && (*existing)->state == "confirmed") {
      stored = (*existing)->last_response;  // issued already: the same certificate again
    } else {
      return ex.refuse(409, "this request is " + (*existing)->state + "; send a new CSR");
    }
    if (!stored) return ex.refuse(stored.error());
    http::Response response = stored_reply_response(*stored);
    spdlog::info("est {} requester={} profile={} txn={} status={}", operation, log::client_text(ex.requester.identity),
                 ex.profile.name, request.transaction_id_hex, response.status);
    return response;
  }
  return ex.refuse(409, "a concurrent identical request is being processed; retry");
}

http::Response EstServer::server_keygen(Exchange& ex) {
  if (auto refused = authenticate(ex, m_trust, m_passwords, m_recent)) return *refused;
  return settle_one_time_secret(ex, server_keygen_authenticated(ex));
}

http::Response EstServer::server_keygen_authenticated(Exchange& ex) {
  if (auto refused = read_request(ex)) return *refused;
  if (ex.profile.requires_approval) {
    return ex.refuse(403, "serverkeygen is not offered under profile '" + ex.profile.name +
                              "', which waits for an officer; enroll with a key of your own");
  }
  if (ex.csr.symmetric_decrypt_key_requested) {
    return ex.refuse(400,
                     "DecryptKeyIdentifier (a shared symmetric key) is not offered; ask without it, "
                     "or with AsymmetricDecryptKeyIdentifier naming your TLS client certificate's key");
  }
  std::optional<ossl::X509Ptr> recipient;
  if (ex.csr.asymmetric_decrypt_key_id) {
    // The key to encrypt to: the TLS client certificate's, named by its subjectKeyIdentifier.
    if (ex.request.tls && !ex.request.tls->client_certificates.empty()) {
      auto cert = m_recent.decode(ex.request.tls->client_certificates.front());
      const ::ASN1_OCTET_STRING* key_id = cert ? ::X509_get0_subject_key_id(cert->get()) : nullptr;
      if (key_id != nullptr &&
          Bytes(::ASN1_STRING_get0_data(key_id), ::ASN1_STRING_get0_data(key_id) + ::ASN1_STRING_length(key_id)) ==
              *ex.csr.asymmetric_decrypt_key_id) {
        recipient = std::move(*cert);
      }
    }
    if (!recipient) {
      return ex.refuse(400,
                       "AsymmetricDecryptKeyIdentifier names no key known here; it must be the "
                       "subjectKeyIdentifier of the TLS client certificate");
    }
  }
  auto generated = m_service.generate_key(ex.profile, {});
  if (!generated) return ex.refuse(generated.error());
  WipeOnExit wipe_key{generated->private_key_der};
  WipeOnExit wipe_package{generated->signed_key_package};
  ra::CertificationRequest request = certification_request(ex);
  request.public_key_der = generated->public_key_der;
  // Each serverkeygen makes a new key: a new transaction, never a stored reply (which would
  // have to keep the private key).
  request.transaction_id_hex = to_hex(random_bytes(16));
  ex.transaction_id_hex = request.transaction_id_hex;
  request.fingerprint = random_bytes(32);
  auto stored = m_service.submit(request, {}, encode_decision);
  if (!stored) return ex.refuse(stored.error());
  if (stored->empty() || stored->front() != kStoredCertificate) return ex.refuse(500, "internal error");
  MimePart key_part{"application/pkcs8", {}};
  WipeOnExit wipe_part{key_part.body};
  if (recipient) {
    auto enveloped = cms::envelope_key(generated->signed_key_package, cms::KeyRecipient{{}, recipient->get()});
    if (!enveloped) return ex.refuse(enveloped.error());
    key_part.content_type = "application/pkcs7-mime; smime-type=server-generated-key";
    key_part.body = ossl::der_with(enveloped->get(), ::i2d_CMS_ContentInfo);
  } else {
    key_part.body = generated->private_key_der;
  }
  const Bytes certificate(stored->begin() + 1, stored->end());
  const std::string boundary = "est-" + to_hex(random_bytes(12));
  http::Response response;
  response.status = 200;
  response.content_type = "multipart/mixed; boundary=" + boundary;
  response.body = multipart_mixed({key_part, MimePart{kPkcs7CertsOnly, certificate}}, boundary);
  spdlog::info("est serverkeygen requester={} profile={} txn={} encrypted={}", log::client_text(ex.requester.identity),
               ex.profile.name, request.transaction_id_hex, recipient.has_value());
  return response;
}

std::vector<http::Route> est_routes(EstServer& server) {
  return {http::Route{kEstPath, {"GET", "POST"}, [&server](const http::Request& r) { return server.handle(r); }}};
}

}  // namespace enrolld::est
