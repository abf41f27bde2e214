// EST (RFC 7030, RFC 8951) end to end in one process: the real stack (SoftHSM token, test CA,
// RocksDB store, EnrollmentServiceImpl, CertificateTrustImpl, PasswordStore) behind EstServer on
// the HTTPS listener (GnuTLS), driven by OpenSSL's TLS client over 127.0.0.1 with HTTP/1.1
// written by hand. The client makes its CSRs after the handshake, so that they can carry the
// channel binding of the very connection they travel on.

#include "protocols/est/est_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <mutex>

#include <gtest/gtest.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pkcs7.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "ca/ca_certificates.h"
#include "est_test_util.h"
#include "hsm/software_signer.h"
#include "protocols/http/http_server.h"
#include "ra/certificate_trust_impl.h"
#include "ra/enrollment_service_impl.h"
#include "ra/password_store.h"
#include "store/rocksdb/rocksdb_store.h"
#include "support/softhsm_fixture.h"
#include "support/temp_dir.h"

namespace enrolld::est::test {
namespace {

using SslCtxPtr = std::unique_ptr<::SSL_CTX, ossl::Deleter<::SSL_CTX_free>>;
using SslPtr = std::unique_ptr<::SSL, ossl::Deleter<::SSL_free>>;
using Pkcs7Ptr = std::unique_ptr<::PKCS7, ossl::Deleter<::PKCS7_free>>;
using X509StorePtr = std::unique_ptr<::X509_STORE, ossl::Deleter<::X509_STORE_free>>;
using MemBioPtr = std::unique_ptr<::BIO, ossl::Deleter<::BIO_free>>;

// Every socket operation of the client gives up after this long.
constexpr std::chrono::seconds kIoTimeout{30};
constexpr const char* kExporterLabel = "EXPORTER-Channel-Binding";  // RFC 9266 section 2

constexpr const char* kUser = "device-user";
constexpr const char* kPassword = "correct horse battery staple";
constexpr const char* kBoundLabel = "bound";  // the profile that requires the channel binding
constexpr const char* kSubject = "CN=device-1.example,O=Example";

constexpr const char* kCertsOnly = "application/pkcs7-mime; smime-type=certs-only";
constexpr const char* kServerGeneratedKey = "application/pkcs7-mime; smime-type=server-generated-key";
constexpr const char* kKeyPackageType = "2.16.840.1.101.2.1.2.78.5";  // id-ct-KP-aKeyPackage
constexpr const char* kCmKga = "1.3.6.1.5.5.7.3.32";                  // id-kp-cmKGA

std::string est_path(const std::string& label, const std::string& operation) {
  return std::string(kEstPath) + (label.empty() ? "" : label + "/") + operation;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

// ---- the client --------------------------------------------------------------------------

// Closes the socket on every path out.
class Socket {
 public:
  Socket() : m_fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {}
  ~Socket() {
    if (m_fd >= 0) ::close(m_fd);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return m_fd; }

  // Connects to 127.0.0.1:port; every later read and write (and connect itself, on Linux) is
  // bounded by kIoTimeout.
  void connect_to(std::uint16_t port) {
    check(m_fd >= 0, "socket");
    timeval timeout{};
    timeout.tv_sec = static_cast<time_t>(kIoTimeout.count());
    check(::setsockopt(m_fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) == 0 &&
              ::setsockopt(m_fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout) == 0,
          "socket timeouts");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    check(::connect(m_fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0,
          "connect to 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno));
  }

 private:
  int m_fd;
};

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;

  std::string header(const std::string& name) const {
    auto found = headers.find(lower(name));
    return found == headers.end() ? std::string() : found->second;
  }
  bool has_header(const std::string& name) const { return headers.count(lower(name)) > 0; }
};

// Parses "HTTP/1.1 200 OK\r\nName: value\r\n..." (without the blank line).
HttpReply parse_head(const std::string& head) {
  HttpReply reply;
  const std::size_t space = head.find(' ');
  check(head.starts_with("HTTP/1.") && space != std::string::npos, "not an HTTP reply: " + head);
  reply.status = std::stoi(head.substr(space + 1, 3));
  for (std::size_t at = head.find("\r\n"); at != std::string::npos;) {
    const std::size_t next = head.find("\r\n", at + 2);
    const std::string line = head.substr(at + 2, next == std::string::npos ? std::string::npos : next - at - 2);
    const std::size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      reply.headers[lower(line.substr(0, colon))] = value;
    }
    at = next;
  }
  return reply;
}

struct ClientOptions {
  int version = TLS1_3_VERSION;   // the only version the client offers
  ::X509* certificate = nullptr;  // TLS client certificate, with `key`
  ::EVP_PKEY* key = nullptr;
  std::vector<::X509*> chain;  // sent after the certificate
};

// One TLS connection from OpenSSL's client, verifying the server for IP 127.0.0.1 under
// `trusted_root`; it carries one HTTP/1.1 request (Connection: close), or several after
// keep_alive().
class TlsConnection {
 public:
  TlsConnection(std::uint16_t port, ::X509* trusted_root, const ClientOptions& options)
      : m_ctx(::SSL_CTX_new(::TLS_client_method())) {
    check(m_ctx != nullptr, "SSL_CTX_new");
    check(::SSL_CTX_set_min_proto_version(m_ctx.get(), options.version) == 1 &&
              ::SSL_CTX_set_max_proto_version(m_ctx.get(), options.version) == 1,
          "protocol version");
    ::SSL_CTX_set_options(m_ctx.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
    check(::X509_STORE_add_cert(::SSL_CTX_get_cert_store(m_ctx.get()), trusted_root) == 1, "trust the root");
    ::SSL_CTX_set_verify(m_ctx.get(), SSL_VERIFY_PEER, nullptr);
    m_ssl.reset(::SSL_new(m_ctx.get()));
    check(m_ssl != nullptr, "SSL_new");
    check(::X509_VERIFY_PARAM_set1_ip_asc(::SSL_get0_param(m_ssl.get()), "127.0.0.1") == 1, "expected server IP");
    if (options.certificate != nullptr) {
      check(::SSL_use_certificate(m_ssl.get(), options.certificate) == 1 &&
                ::SSL_use_PrivateKey(m_ssl.get(), options.key) == 1,
            "client certificate");
      for (::X509* cert : options.chain) check(::SSL_add1_chain_cert(m_ssl.get(), cert) == 1, "client chain");
    }
    m_socket.connect_to(port);
    check(::SSL_set_fd(m_ssl.get(), m_socket.fd()) == 1, "SSL_set_fd");
    ::ERR_clear_error();
    check(::SSL_connect(m_ssl.get()) == 1, "TLS handshake");
  }

  std::string version() const { return ::SSL_get_version(m_ssl.get()); }

  // RFC 9266 tls-exporter: 32 bytes, label "EXPORTER-Channel-Binding", no context.
  Bytes tls_exporter() const {
    Bytes out(32);
    check(::SSL_export_keying_material(m_ssl.get(), out.data(), out.size(), kExporterLabel, std::strlen(kExporterLabel),
                                       nullptr, 0, 0) == 1,
          "SSL_export_keying_material");
    return out;
  }

  // RFC 5929 tls-unique: the first Finished of the handshake, the client's in a full one.
  Bytes tls_unique() const {
    check(::SSL_session_reused(m_ssl.get()) == 0, "tls-unique here assumes a full handshake");
    unsigned char finished[EVP_MAX_MD_SIZE];
    const std::size_t size = ::SSL_get_finished(m_ssl.get(), finished, sizeof finished);
    return Bytes(finished, finished + size);
  }

  Bytes server_finished() const {
    unsigned char finished[EVP_MAX_MD_SIZE];
    const std::size_t size = ::SSL_get_peer_finished(m_ssl.get(), finished, sizeof finished);
    return Bytes(finished, finished + size);
  }

  bool extended_master_secret() const { return SSL_get_extms_support(m_ssl.get()) == 1; }

  void keep_alive() { m_keep_alive = true; }

  HttpReply request(const std::string& method, const std::string& path,
                    const std::vector<std::pair<std::string, std::string>>& headers = {},
                    const std::string& body = "") {
    std::string text = method + " " + path +
                       " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: " + (m_keep_alive ? "keep-alive" : "close") +
                       "\r\n";
    for (const auto& [name, value] : headers) text += name + ": " + value + "\r\n";
    if (method == "POST") text += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    text += "\r\n" + body;
    for (std::size_t sent = 0; sent < text.size();) {
      const int n = ::SSL_write(m_ssl.get(), text.data() + sent, static_cast<int>(text.size() - sent));
      check(n > 0, "cannot send the request");
      sent += static_cast<std::size_t>(n);
    }
    // Up to the end of the Content-Length body, or to the end of the connection without one.
    std::string received;
    std::optional<HttpReply> reply;
    std::optional<std::size_t> body_start;
    std::optional<std::size_t> content_length;
    while (!body_start || !content_length || received.size() < *body_start + *content_length) {
      char buffer[4096];
      const int n = ::SSL_read(m_ssl.get(), buffer, sizeof buffer);
      if (n <= 0) {
        check(body_start.has_value() && !content_length, "connection ended before the whole reply: " + received);
        break;
      }
      received.append(buffer, static_cast<std::size_t>(n));
      if (!body_start) {
        const std::size_t end = received.find("\r\n\r\n");
        if (end == std::string::npos) continue;
        body_start = end + 4;
        reply = parse_head(received.substr(0, end));
        if (reply->has_header("content-length")) content_length = std::stoul(reply->header("content-length"));
        if (reply->status == 204 || reply->status == 304) content_length = 0;
      }
    }
    reply->body = received.substr(*body_start, content_length.value_or(std::string::npos));
    return *reply;
  }

  // POSTs a CSR (base64, as application/pkcs10), with HTTP Basic credentials when given.
  HttpReply post_csr(const std::string& path, const Bytes& csr_der,
                     const std::optional<std::pair<std::string, std::string>>& basic = std::nullopt) {
    std::vector<std::pair<std::string, std::string>> headers = {{"Content-Type", "application/pkcs10"}};
    if (basic) {
      const std::string credentials = basic->first + ":" + basic->second;
      headers.emplace_back(
          "Authorization",
          "Basic " + b64(ByteView(reinterpret_cast<const std::uint8_t*>(credentials.data()), credentials.size())));
    }
    return request("POST", path, headers, b64(csr_der));
  }

 private:
  SslCtxPtr m_ctx;
  Socket m_socket;  // closed after m_ssl is freed (members go in reverse order)
  SslPtr m_ssl;
  bool m_keep_alive = false;
};

// ---- reading EST replies ---------------------------------------------------------------

// The DER in a PKCS#7 body: it must be base64 on exactly one line (no CR, LF or other breaks;
// strongSwan reads nothing else) and decode strictly. Failures are reported, nullopt returned.
std::optional<Bytes> one_line_base64(const std::string& body, const std::string& what) {
  if (body.find_first_of("\r\n \t") != std::string::npos) {
    ADD_FAILURE() << what << " is not base64 on one line: " << body;
    return std::nullopt;
  }
  auto der = unb64(body);
  if (!der) ADD_FAILURE() << what << " is not base64: " << body;
  return der;
}

std::vector<ossl::X509Ptr> certificates_in_pkcs7(const Bytes& der) {
  std::vector<ossl::X509Ptr> certs;
  const unsigned char* p = der.data();
  Pkcs7Ptr p7(::d2i_PKCS7(nullptr, &p, static_cast<long>(der.size())));
  if (!p7 || p != der.data() + der.size() || !PKCS7_type_is_signed(p7.get())) {
    ADD_FAILURE() << "not one certs-only PKCS#7: " << ossl::drain_errors();
    return certs;
  }
  EXPECT_EQ(sk_PKCS7_SIGNER_INFO_num(p7->d.sign->signer_info), 0) << "certs-only has no signers";
  for (int i = 0; i < sk_X509_num(p7->d.sign->cert); ++i)
    certs.push_back(ossl::up_ref(sk_X509_value(p7->d.sign->cert, i)));
  return certs;
}

// The certificate of a 200 simpleenroll reply (certs-only, base64 on one line); null on failure.
ossl::X509Ptr enrolled_certificate(const HttpReply& reply) {
  EXPECT_EQ(reply.status, 200) << reply.body;
  if (reply.status != 200) return nullptr;
  EXPECT_EQ(reply.header("content-type"), kCertsOnly);
  EXPECT_EQ(lower(reply.header("content-transfer-encoding")), "base64");
  auto der = one_line_base64(reply.body, "the simpleenroll reply");
  if (!der) return nullptr;
  auto certs = certificates_in_pkcs7(*der);
  EXPECT_EQ(certs.size(), 1u);
  return certs.empty() ? nullptr : std::move(certs.front());
}

struct MimePartView {
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

// The parts of a multipart/mixed body with `boundary`; every line must end in CRLF.
std::optional<std::vector<MimePartView>> parse_multipart(const std::string& body, const std::string& boundary) {
  const std::string delimiter = "--" + boundary;
  if (!body.starts_with(delimiter + "\r\n")) return std::nullopt;
  std::vector<MimePartView> parts;
  std::size_t at = delimiter.size() + 2;
  for (;;) {
    const std::size_t next = body.find("\r\n" + delimiter, at);
    if (next == std::string::npos) return std::nullopt;
    const std::string part = body.substr(at, next - at);
    const std::size_t blank = part.find("\r\n\r\n");
    if (blank == std::string::npos) return std::nullopt;
    MimePartView view;
    const std::string head = "\r\n" + part.substr(0, blank);
    for (std::size_t line = 0; line != std::string::npos;) {
      const std::size_t end = head.find("\r\n", line + 2);
      const std::string text = head.substr(line + 2, end == std::string::npos ? std::string::npos : end - line - 2);
      const std::size_t colon = text.find(':');
      if (colon == std::string::npos) return std::nullopt;
      std::string value = text.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      view.headers[lower(text.substr(0, colon))] = value;
      line = end;
    }
    view.body = part.substr(blank + 4);
    parts.push_back(std::move(view));
    at = next + 2 + delimiter.size();
    if (body.compare(at, 4, "--\r\n") == 0) return at + 4 == body.size() ? std::optional(parts) : std::nullopt;
    if (body.compare(at, 2, "\r\n") != 0) return std::nullopt;
    at += 2;
  }
}

struct KeygenReply {
  std::vector<MimePartView> parts;
  Bytes key_part;             // the first part, base64-decoded
  ossl::X509Ptr certificate;  // from the second part (certs-only)
};

// A 200 serverkeygen reply: multipart/mixed, the key part first, then the certificate.
std::optional<KeygenReply> read_keygen_reply(const HttpReply& reply, const std::string& key_type) {
  EXPECT_EQ(reply.status, 200) << reply.body;
  if (reply.status != 200) return std::nullopt;
  const std::string type = reply.header("content-type");
  const std::size_t at = type.find("boundary=");
  EXPECT_TRUE(type.starts_with("multipart/mixed") && at != std::string::npos) << type;
  if (at == std::string::npos) return std::nullopt;
  std::string boundary = type.substr(at + std::strlen("boundary="));
  boundary.erase(std::remove(boundary.begin(), boundary.end(), '"'), boundary.end());
  auto parts = parse_multipart(reply.body, boundary);
  EXPECT_TRUE(parts.has_value()) << "not multipart/mixed with boundary " << boundary << ":\n" << reply.body;
  if (!parts || parts->size() != 2) {
    ADD_FAILURE() << "expected two parts";
    return std::nullopt;
  }
  KeygenReply out;
  out.parts = *parts;
  EXPECT_EQ(out.parts[0].headers["content-type"], key_type);
  EXPECT_EQ(out.parts[1].headers["content-type"], kCertsOnly);
  for (auto& part : out.parts) EXPECT_EQ(lower(part.headers["content-transfer-encoding"]), "base64");
  auto key = one_line_base64(out.parts[0].body, "the key part");
  auto bag = one_line_base64(out.parts[1].body, "the certificate part");
  if (!key || !bag) return std::nullopt;
  out.key_part = std::move(*key);
  auto certs = certificates_in_pkcs7(*bag);
  EXPECT_EQ(certs.size(), 1u);
  if (certs.empty()) return std::nullopt;
  out.certificate = std::move(certs.front());
  return out;
}

std::string oid_text(const ::ASN1_OBJECT* object) {
  char text[128] = {};
  ::OBJ_obj2txt(text, sizeof text, object, 1);
  return text;
}

bool has_cm_kga(::X509* cert) {
  std::unique_ptr<EXTENDED_KEY_USAGE, ossl::Deleter<::EXTENDED_KEY_USAGE_free>> ekus(
      static_cast<EXTENDED_KEY_USAGE*>(::X509_get_ext_d2i(cert, NID_ext_key_usage, nullptr, nullptr)));
  for (int i = 0; ekus && i < sk_ASN1_OBJECT_num(ekus.get()); ++i) {
    if (oid_text(sk_ASN1_OBJECT_value(ekus.get(), i)) == kCmKga) return true;
  }
  return false;
}

std::string mem_bio_text(::BIO* bio) {
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(std::max(length, 0L)));
}

// ---- the stack -------------------------------------------------------------------------

std::unique_ptr<store::RocksDbStore> open_store(const enrolld::testing::TempDir& dir) {
  auto opened = store::RocksDbStore::open((dir.path() / "db").string());
  if (!opened) throw std::runtime_error("open store: " + opened.error().message);
  return std::move(*opened);
}

std::vector<ca::Profile> profiles() {
  ca::Profile bound;
  bound.name = kBoundLabel;
  return {ca::Profile{}, bound};
}

ra::Policy policy() {
  ra::Policy policy;
  policy.channel_binding_profiles = {kBoundLabel};
  return policy;
}

class EstServerTest : public ::testing::Test {
 protected:
  // SSL_write on a socket the server has closed must fail, not kill the test binary.
  static void SetUpTestSuite() { std::signal(SIGPIPE, SIG_IGN); }

  void SetUp() override {
    auto user = passwords.set_password(kUser, kPassword, "", false);
    ASSERT_TRUE(user) << user.error().message;
    http::ServerOptions options;
    options.port = 0;
    options.threads = 2;
    options.connection_timeout = std::chrono::seconds(30);
    options.tls = tls_options();
    auto started = http::HttpServer::start(options, est_routes(est));
    ASSERT_TRUE(started) << started.error().message;
    server = std::move(*started);
  }

  void TearDown() override {
    if (server) server->stop(std::chrono::seconds(5));
  }

  // The HTTPS credential: a certificate for IP 127.0.0.1 from the test CA, with the issuing CA
  // in its chain; clients are asked for certificates under the root.
  http::TlsOptions tls_options() {
    http::TlsOptions tls;
    server_credential.key = p256_key();
    ca::CertificationInput input{ossl::der_of(name_of("CN=127.0.0.1").get()),
                                 ossl::der_of_public_key(server_credential.key.get()), san_extensions("IP:127.0.0.1")};
    auto issued = ca.issuing->issue(input, ca::Profile{}, [](const std::string&) -> Result<bool> { return false; });
    if (!issued) throw std::runtime_error("server certificate: " + issued.error().message);
    server_credential.cert = std::move(issued->certificate);
    tls.certificate_chain_pem = ossl::pem_of(server_credential.cert.get()) + ossl::pem_of(ca.issuing->certificate());
    tls.private_key_pem = ossl::pem_of_private_key(server_credential.key.get());
    tls.client_ca_pem = ossl::pem_of(ca.root.get());
    return tls;
  }

  // The key generation authority of serverkeygen: a software key with an id-kp-cmKGA
  // certificate from the issuing CA.
  ra::KeyGenerationAuthority make_kga() {
    ossl::EvpPkeyPtr key = p256_key();
    auto cert = ca::make_key_generation_certificate({{{"CN", "EST test KGA"}}, std::chrono::hours(24), -1}, key.get(),
                                                    ca.issuing->certificate(), ca.issuing->signer());
    if (!cert) throw std::runtime_error("KGA certificate: " + cert.error().message);
    kga_certificate_der = ossl::der_of(cert->get());
    ra::KeyGenerationAuthority kga{
        std::make_unique<hsm::SoftwareSigner>(std::move(key)), {}, ra::KeyPackageFormat::kSingleKey};
    kga.chain.push_back(std::move(*cert));
    for (const auto& above : ca.issuing->chain()) kga.chain.push_back(ossl::up_ref(above.get()));
    return kga;
  }

  // A device certificate this CA issued (recorded in the store, so that CertificateTrust takes
  // it as "cert:<serial>"), for TLS client authentication. It has a subjectKeyIdentifier.
  Credential enrolled_device(const std::string& subject) {
    Credential device{p256_key(), nullptr};
    ra::CertificationRequest request;
    request.transaction_id_hex = to_hex(random_bytes(16));
    request.protocol = "est";
    request.requester = ra::Requester{"user:setup", "", false};
    request.subject_der = ossl::der_of(name_of(subject).get());
    request.public_key_der = ossl::der_of_public_key(device.key.get());
    request.fingerprint = random_bytes(32);
    request.confirmation_supported = false;
    auto reply = service.submit(request, {}, [](const ra::Decision& decision) -> Result<Bytes> {
      return std::get<ra::IssuedCertificate>(decision).certificate_der;
    });
    if (!reply) throw std::runtime_error("device certificate: " + reply.error().message);
    auto cert = ossl::x509_from_der(*reply);
    if (!cert) throw std::runtime_error("device certificate: " + cert.error().message);
    device.cert = std::move(*cert);
    return device;
  }

  TlsConnection connect(int version = TLS1_3_VERSION, const Credential* client = nullptr) {
    ClientOptions options;
    options.version = version;
    if (client != nullptr) {
      options.certificate = client->cert.get();
      options.key = client->key.get();
      options.chain = {const_cast<::X509*>(ca.issuing->certificate())};
    }
    return TlsConnection(server->port(), ca.root.get(), options);
  }

  static std::pair<std::string, std::string> basic() { return {kUser, kPassword}; }

  // A CSR for a fresh key whose challengePassword is `binding` in base64 (none: no attribute).
  Bytes csr_with_binding(const std::optional<Bytes>& binding, ::EVP_PKEY* key) {
    CsrSpec spec;
    spec.subject = kSubject;
    spec.subject_alt_names = "DNS:device-1.example";
    if (binding) spec.challenge_password = b64(*binding);
    return make_csr(spec, key);
  }

  std::size_t certificate_count() {
    auto listed = store->list_certificates(1000);
    EXPECT_TRUE(listed) << listed.error().message;
    return listed ? listed->size() : 0;
  }

  enrolld::testing::SoftHsmToken token;
  enrolld::testing::TestCa ca = enrolld::testing::make_test_ca(token);
  enrolld::testing::TempDir store_dir{"enrolld-est-store"};
  std::unique_ptr<store::RocksDbStore> store = open_store(store_dir);
  Bytes kga_certificate_der;  // set by make_kga()
  ra::EnrollmentServiceImpl service{*store, *ca.issuing, profiles(), policy(), system_clock(), make_kga()};
  std::chrono::hours trust_clock_advance{0};  // moves only the trust's clock: certificates expire
  ra::CertificateTrustImpl trust{
      *store, service.ca_chain(), {}, {}, [this] { return std::chrono::system_clock::now() + trust_clock_advance; }};
  ra::PasswordStore passwords{*store, ra::LockoutPolicy{}, system_clock()};
  // The real store, with what each check was told and answered, for the channel tests.
  struct RecordingPasswords final : ra::PasswordVerifier {
    explicit RecordingPasswords(ra::PasswordStore& store) : real(store) {}
    using ra::PasswordVerifier::check;
    Result<ra::PasswordCheck> check(std::string_view user, std::string_view password, std::string_view profile,
                                    ra::PasswordChannel channel) override {
      auto checked = real.check(user, password, profile, channel);
      std::lock_guard lock(mutex);
      seen.emplace_back(channel, checked && checked->remembered);
      return checked;
    }
    Status spend(std::string_view user) override { return real.spend(user); }
    void release(std::string_view user) override { real.release(user); }
    std::vector<std::pair<ra::PasswordChannel, bool>> checks() {
      std::lock_guard lock(mutex);
      return seen;
    }
    ra::PasswordStore& real;
    std::mutex mutex;
    std::vector<std::pair<ra::PasswordChannel, bool>> seen;  // channel, remembered
  } recorded_passwords{passwords};
  EstServer est{service, trust, recorded_passwords, EstOptions{}};
  Credential server_credential;
  std::unique_ptr<http::HttpServer> server;
};

// ---- cacerts and csrattrs ----------------------------------------------------------------

TEST_F(EstServerTest, CaCertsIsTheChainAsOneBase64Line) {
  TlsConnection connection = connect();
  const HttpReply reply = connection.request("GET", est_path("", "cacerts"));
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.header("content-type"), kCertsOnly);
  EXPECT_EQ(lower(reply.header("content-transfer-encoding")), "base64");
  auto der = one_line_base64(reply.body, "cacerts");
  ASSERT_TRUE(der);
  auto certs = certificates_in_pkcs7(*der);
  ASSERT_EQ(certs.size(), 2u);
  EXPECT_EQ(::X509_cmp(certs[0].get(), ca.issuing->certificate()), 0);
  EXPECT_EQ(::X509_cmp(certs[1].get(), ca.root.get()), 0);
}

TEST_F(EstServerTest, CsrAttrsAskForTheChannelBindingUnderTheBindingProfile) {
  {
    TlsConnection connection = connect();
    const HttpReply reply = connection.request("GET", est_path(kBoundLabel, "csrattrs"));
    ASSERT_EQ(reply.status, 200) << reply.body;
    EXPECT_EQ(reply.header("content-type"), "application/csrattrs");
    auto der = one_line_base64(reply.body, "csrattrs");
    ASSERT_TRUE(der);
    // SEQUENCE { challengePassword }: the profile takes any key type, so it names none.
    EXPECT_EQ(to_hex(*der), "300b06092a864886f70d010907");
  }
  TlsConnection connection = connect();
  EXPECT_EQ(connection.request("GET", est_path("", "csrattrs")).status, 204);
}

TEST_F(EstServerTest, EnrollmentWithoutCertificateOrPasswordAsksForBasic) {
  TlsConnection connection = connect(TLS1_3_VERSION);
  ossl::EvpPkeyPtr key = p256_key();
  const HttpReply reply = connection.post_csr(est_path("", "simpleenroll"), csr_with_binding(std::nullopt, key.get()));
  EXPECT_EQ(reply.status, 401) << reply.body;
  EXPECT_TRUE(reply.header("www-authenticate").starts_with("Basic ")) << reply.header("www-authenticate");
}

// ---- a) channel binding, TLS 1.3 (tls-exporter) -----------------------------------------

// The password is remembered on its TLS connection (no scrypt run for the second request), and
// only the password that connection had accepted.
TEST_F(EstServerTest, BasicOnAKeptAliveConnectionEnrollsAgainAndAWrongPasswordIsStillRefused) {
  TlsConnection connection = connect(TLS1_3_VERSION);
  connection.keep_alive();
  for (int i = 0; i < 2; ++i) {
    ossl::EvpPkeyPtr key = p256_key();
    ossl::X509Ptr cert = enrolled_certificate(
        connection.post_csr(est_path("", "simpleenroll"), csr_with_binding(std::nullopt, key.get()), basic()));
    ASSERT_NE(cert, nullptr) << "request " << i;
    EXPECT_EQ(to_hex(ossl::der_of_public_key(::X509_get0_pubkey(cert.get()))),
              to_hex(ossl::der_of_public_key(key.get())));
  }
  ossl::EvpPkeyPtr key = p256_key();
  const HttpReply wrong = connection.post_csr(est_path("", "simpleenroll"), csr_with_binding(std::nullopt, key.get()),
                                              std::pair<std::string, std::string>{kUser, "not the password at all"});
  EXPECT_EQ(wrong.status, 401) << wrong.body;
  EXPECT_EQ(certificate_count(), 2U);
  // One TLS connection, one channel: scrypt ran for the first request only.
  TlsConnection other = connect(TLS1_3_VERSION);
  ossl::EvpPkeyPtr other_key = p256_key();
  ASSERT_NE(enrolled_certificate(
                other.post_csr(est_path("", "simpleenroll"), csr_with_binding(std::nullopt, other_key.get()), basic())),
            nullptr);
  const auto checks = recorded_passwords.checks();
  ASSERT_EQ(checks.size(), 4U);
  EXPECT_NE(checks[0].first, ra::kNoChannel);
  EXPECT_EQ(checks[1].first, checks[0].first);
  EXPECT_EQ(checks[2].first, checks[0].first);
  EXPECT_NE(checks[3].first, checks[0].first) << "another connection, another channel";
  EXPECT_FALSE(checks[0].second);
  EXPECT_TRUE(checks[1].second) << "the second request on the connection needs no scrypt run";
  EXPECT_FALSE(checks[2].second) << "a wrong password is checked in full";
  EXPECT_FALSE(checks[3].second);
}

TEST_F(EstServerTest, Tls13CsrWithThisConnectionsExporterIsEnrolledUnderTheBindingProfile) {
  TlsConnection connection = connect(TLS1_3_VERSION);
  ASSERT_EQ(connection.version(), "TLSv1.3");
  ossl::EvpPkeyPtr key = p256_key();
  const Bytes binding = connection.tls_exporter();
  ASSERT_EQ(binding.size(), 32u);
  const HttpReply reply =
      connection.post_csr(est_path(kBoundLabel, "simpleenroll"), csr_with_binding(binding, key.get()), basic());
  ossl::X509Ptr cert = enrolled_certificate(reply);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(to_hex(ossl::der_of_public_key(::X509_get0_pubkey(cert.get()))),
            to_hex(ossl::der_of_public_key(key.get())));
  EXPECT_EQ(ossl::name_to_string(::X509_get_subject_name(cert.get())), ossl::name_to_string(name_of(kSubject).get()));
  EXPECT_EQ(::X509_check_issued(const_cast<::X509*>(ca.issuing->certificate()), cert.get()), X509_V_OK);
}

TEST_F(EstServerTest, Tls13CsrWithAnotherConnectionsExporterIsRefused) {
  Bytes other_binding;
  {
    TlsConnection other = connect(TLS1_3_VERSION);
    other_binding = other.tls_exporter();
  }
  TlsConnection connection = connect(TLS1_3_VERSION);
  ASSERT_NE(to_hex(connection.tls_exporter()), to_hex(other_binding));
  ossl::EvpPkeyPtr key = p256_key();
  const std::size_t before = certificate_count();
  const HttpReply reply =
      connection.post_csr(est_path(kBoundLabel, "simpleenroll"), csr_with_binding(other_binding, key.get()), basic());
  EXPECT_EQ(reply.status, 403) << reply.body;
  EXPECT_NE(reply.body.find("channel binding"), std::string::npos) << reply.body;
  EXPECT_EQ(certificate_count(), before);
}

TEST_F(EstServerTest, Tls13CsrWithoutChallengePasswordIsRefusedUnderTheBindingProfile) {
  TlsConnection connection = connect(TLS1_3_VERSION);
  ossl::EvpPkeyPtr key = p256_key();
  const HttpReply reply =
      connection.post_csr(est_path(kBoundLabel, "simpleenroll"), csr_with_binding(std::nullopt, key.get()), basic());
  EXPECT_EQ(reply.status, 403) << reply.body;
  EXPECT_NE(reply.body.find("channel binding"), std::string::npos) << reply.body;
}

TEST_F(EstServerTest, Tls13CorrectBindingIsAcceptedWithoutTheRequirement) {
  TlsConnection connection = connect(TLS1_3_VERSION);
  ossl::EvpPkeyPtr key = p256_key();
  const HttpReply reply = connection.post_csr(est_path("", "simpleenroll"),
                                              csr_with_binding(connection.tls_exporter(), key.get()), basic());
  ossl::X509Ptr cert = enrolled_certificate(reply);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(to_hex(ossl::der_of_public_key(::X509_get0_pubkey(cert.get()))),
            to_hex(ossl::der_of_public_key(key.get())));
}

TEST_F(EstServerTest, Tls13WrongBindingIsRefusedEvenWithoutTheRequirement) {
  // A challengePassword that is present is checked as the channel binding (RFC 7030 3.5).
  TlsConnection connection = connect(TLS1_3_VERSION);
  ossl::EvpPkeyPtr key = p256_key();
  const HttpReply reply =
      connection.post_csr(est_path("", "simpleenroll"), csr_with_binding(random_bytes(32), key.get()), basic());
  EXPECT_EQ(reply.status, 403) << reply.body;
  EXPECT_NE(reply.body.find("channel binding"), std::string::npos) << reply.body;
}

TEST_F(EstServerTest, WithoutTheRequirementNoChallengePasswordIsEnrolled) {
  TlsConnection connection = connect(TLS1_3_VERSION);
  ossl::EvpPkeyPtr key = p256_key();
  const HttpReply reply =
      connection.post_csr(est_path("", "simpleenroll"), csr_with_binding(std::nullopt, key.get()), basic());
  EXPECT_NE(enrolled_certificate(reply), nullptr);
}

// ---- b) channel binding, TLS 1.2 (tls-unique) -------------------------------------------

TEST_F(EstServerTest, Tls12CsrWithThisConnectionsTlsUniqueIsEnrolledUnderTheBindingProfile) {
  TlsConnection connection = connect(TLS1_2_VERSION);
  ASSERT_EQ(connection.version(), "TLSv1.2");
  ASSERT_TRUE(connection.extended_master_secret()) << "the server binds TLS 1.2 only with the extended master secret";
  const Bytes binding = connection.tls_unique();
  ASSERT_EQ(binding.size(), 12u);
  ossl::EvpPkeyPtr key = p256_key();
  const HttpReply reply =
      connection.post_csr(est_path(kBoundLabel, "simpleenroll"), csr_with_binding(binding, key.get()), basic());
  ossl::X509Ptr cert = enrolled_certificate(reply);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(to_hex(ossl::der_of_public_key(::X509_get0_pubkey(cert.get()))),
            to_hex(ossl::der_of_public_key(key.get())));
}

TEST_F(EstServerTest, Tls12CsrWithAnotherConnectionsTlsUniqueIsRefused) {
  Bytes other_binding;
  {
    TlsConnection other = connect(TLS1_2_VERSION);
    other_binding = other.tls_unique();
  }
  TlsConnection connection = connect(TLS1_2_VERSION);
  ASSERT_NE(to_hex(connection.tls_unique()), to_hex(other_binding));
  ossl::EvpPkeyPtr key = p256_key();
  const HttpReply reply =
      connection.post_csr(est_path(kBoundLabel, "simpleenroll"), csr_with_binding(other_binding, key.get()), basic());
  EXPECT_EQ(reply.status, 403) << reply.body;
  EXPECT_NE(reply.body.find("channel binding"), std::string::npos) << reply.body;
}

TEST_F(EstServerTest, Tls12TheServersFinishedIsNotTheBinding) {
  // tls-unique is the first Finished: the client's in a full handshake, never the server's.
  TlsConnection connection = connect(TLS1_2_VERSION);
  const Bytes server_finished = connection.server_finished();
  ASSERT_EQ(server_finished.size(), 12u);
  ASSERT_NE(to_hex(server_finished), to_hex(connection.tls_unique()));
  ossl::EvpPkeyPtr key = p256_key();
  const HttpReply reply =
      connection.post_csr(est_path(kBoundLabel, "simpleenroll"), csr_with_binding(server_finished, key.get()), basic());
  EXPECT_EQ(reply.status, 403) << reply.body;
  EXPECT_NE(reply.body.find("channel binding"), std::string::npos) << reply.body;
}

// ---- c) serverkeygen, the key encrypted to the TLS client certificate --------------------

TEST_F(EstServerTest, ServerKeygenEncryptsTheKeyToTheClientCertificateNamedBySki) {
  const Credential device = enrolled_device("CN=device-7.example,O=Example");
  const ::ASN1_OCTET_STRING* ski = ::X509_get0_subject_key_id(device.cert.get());
  ASSERT_NE(ski, nullptr) << "the CA's certificates carry a subjectKeyIdentifier";
  const Bytes ski_bytes(::ASN1_STRING_get0_data(ski), ::ASN1_STRING_get0_data(ski) + ::ASN1_STRING_length(ski));

  TlsConnection connection = connect(TLS1_3_VERSION, &device);
  CsrSpec spec;
  spec.subject = "CN=device-7.example,O=Example";
  spec.subject_alt_names = "DNS:device-7.example";
  spec.asymmetric_decrypt_key_id = ski_bytes;
  ossl::EvpPkeyPtr csr_key = p256_key();  // signs the CSR only: the server makes the key
  const HttpReply reply = connection.post_csr(est_path("", "serverkeygen"), make_csr(spec, csr_key.get()));

  auto keygen = read_keygen_reply(reply, kServerGeneratedKey);
  ASSERT_TRUE(keygen.has_value());
  ::X509* issued = keygen->certificate.get();
  EXPECT_EQ(ossl::name_to_string(::X509_get_subject_name(issued)), ossl::name_to_string(name_of(spec.subject).get()));
  EXPECT_NE(to_hex(ossl::der_of_public_key(::X509_get0_pubkey(issued))),
            to_hex(ossl::der_of_public_key(csr_key.get())));

  // The part is a CMS EnvelopedData (ContentInfo) the device opens with its own key.
  const unsigned char* p = keygen->key_part.data();
  ossl::CmsPtr enveloped(::d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(keygen->key_part.size())));
  ASSERT_NE(enveloped, nullptr) << ossl::drain_errors();
  EXPECT_EQ(p, keygen->key_part.data() + keygen->key_part.size());
  ASSERT_EQ(::OBJ_obj2nid(::CMS_get0_type(enveloped.get())), NID_pkcs7_enveloped);
  EXPECT_EQ(::OBJ_obj2nid(::CMS_get0_eContentType(enveloped.get())), NID_pkcs7_signed);
  MemBioPtr signed_bio(::BIO_new(::BIO_s_mem()));
  ASSERT_EQ(::CMS_decrypt(enveloped.get(), device.key.get(), device.cert.get(), nullptr, signed_bio.get(), CMS_BINARY),
            1)
      << ossl::drain_errors();
  const std::string signed_data = mem_bio_text(signed_bio.get());

  // Inside: a SignedData (bare, its type named by the EnvelopedData), signed by the KGA.
  const Bytes signed_info = der::sequence(concat(
      {Bytes{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02},
       der::element(0xa0, ByteView(reinterpret_cast<const std::uint8_t*>(signed_data.data()), signed_data.size()))}));
  const unsigned char* q = signed_info.data();
  ossl::CmsPtr signed_cms(::d2i_CMS_ContentInfo(nullptr, &q, static_cast<long>(signed_info.size())));
  ASSERT_NE(signed_cms, nullptr) << "the decrypted content is not a SignedData: " << ossl::drain_errors();
  EXPECT_EQ(oid_text(::CMS_get0_eContentType(signed_cms.get())), kKeyPackageType);
  X509StorePtr anchors(::X509_STORE_new());
  ASSERT_EQ(::X509_STORE_add_cert(anchors.get(), ca.root.get()), 1);
  ::X509_STORE_set_purpose(anchors.get(), X509_PURPOSE_ANY);
  MemBioPtr content(::BIO_new(::BIO_s_mem()));
  ASSERT_EQ(::CMS_verify(signed_cms.get(), nullptr, anchors.get(), nullptr, content.get(), CMS_BINARY), 1)
      << "the key package does not verify up to the root: " << ossl::drain_errors();
  STACK_OF(X509)* signers = ::CMS_get0_signers(signed_cms.get());
  ASSERT_EQ(sk_X509_num(signers), 1);
  ::X509* signer = sk_X509_value(signers, 0);
  EXPECT_EQ(to_hex(ossl::der_of(signer)), to_hex(kga_certificate_der));
  EXPECT_TRUE(has_cm_kga(signer));
  sk_X509_free(signers);
  // The KGA's certificate travels in the SignedData.
  ossl::X509StackPtr included(::CMS_get1_certs(signed_cms.get()));
  bool kga_included = false;
  for (int i = 0; included && i < sk_X509_num(included.get()); ++i) {
    kga_included = kga_included || ossl::der_of(sk_X509_value(included.get(), i)) == kga_certificate_der;
  }
  EXPECT_TRUE(kga_included);

  // Its content: the private key (OneAsymmetricKey / PKCS#8) of the certified public key.
  std::string key_der = mem_bio_text(content.get());
  const unsigned char* r = reinterpret_cast<const unsigned char*>(key_der.data());
  ossl::EvpPkeyPtr private_key(::d2i_AutoPrivateKey(nullptr, &r, static_cast<long>(key_der.size())));
  ASSERT_NE(private_key, nullptr) << ossl::drain_errors();
  EXPECT_EQ(to_hex(ossl::der_of_public_key(private_key.get())),
            to_hex(ossl::der_of_public_key(::X509_get0_pubkey(issued))));
  EXPECT_EQ(::X509_check_private_key(issued, private_key.get()), 1);
  ::OPENSSL_cleanse(key_der.data(), key_der.size());
}

TEST_F(EstServerTest, ServerKeygenWithAnSkiThatIsNotTheClientCertificatesIsRefused) {
  const Credential device = enrolled_device("CN=device-8.example,O=Example");
  TlsConnection connection = connect(TLS1_3_VERSION, &device);
  CsrSpec spec;
  spec.subject = "CN=device-8.example,O=Example";
  spec.asymmetric_decrypt_key_id = random_bytes(20);
  ossl::EvpPkeyPtr csr_key = p256_key();
  const std::size_t before = certificate_count();
  const HttpReply reply = connection.post_csr(est_path("", "serverkeygen"), make_csr(spec, csr_key.get()));
  EXPECT_EQ(reply.status, 400) << reply.body;
  EXPECT_NE(reply.body.find("AsymmetricDecryptKeyIdentifier names no key"), std::string::npos) << reply.body;
  EXPECT_EQ(certificate_count(), before);
}

TEST_F(EstServerTest, ServerKeygenWithAnSkiButNoClientCertificateIsRefused) {
  // Authenticated by password: there is no certificate the SKI could name.
  TlsConnection connection = connect(TLS1_3_VERSION);
  CsrSpec spec;
  spec.subject = kSubject;
  spec.asymmetric_decrypt_key_id = random_bytes(20);
  ossl::EvpPkeyPtr csr_key = p256_key();
  const HttpReply reply = connection.post_csr(est_path("", "serverkeygen"), make_csr(spec, csr_key.get()), basic());
  EXPECT_EQ(reply.status, 400) << reply.body;
  EXPECT_NE(reply.body.find("AsymmetricDecryptKeyIdentifier names no key"), std::string::npos) << reply.body;
}

TEST_F(EstServerTest, ServerKeygenWithDecryptKeyIdentifierIsRefused) {
  TlsConnection connection = connect(TLS1_3_VERSION);
  CsrSpec spec;
  spec.subject = kSubject;
  spec.decrypt_key_id = random_bytes(16);
  ossl::EvpPkeyPtr csr_key = p256_key();
  const std::size_t before = certificate_count();
  const HttpReply reply = connection.post_csr(est_path("", "serverkeygen"), make_csr(spec, csr_key.get()), basic());
  EXPECT_EQ(reply.status, 400) << reply.body;
  EXPECT_NE(reply.body.find("DecryptKeyIdentifier (a shared symmetric key) is not offered"), std::string::npos)
      << reply.body;
  EXPECT_EQ(certificate_count(), before);
}

// ---- d) serverkeygen, the key as PKCS#8 over TLS ----------------------------------------

TEST_F(EstServerTest, ServerKeygenWithBasicReturnsThePkcs8KeyOfTheCertificate) {
  TlsConnection connection = connect(TLS1_3_VERSION);
  CsrSpec spec;
  spec.subject = kSubject;
  spec.subject_alt_names = "DNS:device-1.example";
  ossl::EvpPkeyPtr csr_key = p256_key();
  const HttpReply reply = connection.post_csr(est_path("", "serverkeygen"), make_csr(spec, csr_key.get()), basic());
  auto keygen = read_keygen_reply(reply, "application/pkcs8");
  ASSERT_TRUE(keygen.has_value());

  const unsigned char* p = keygen->key_part.data();
  std::unique_ptr<::PKCS8_PRIV_KEY_INFO, ossl::Deleter<::PKCS8_PRIV_KEY_INFO_free>> info(
      ::d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(keygen->key_part.size())));
  ASSERT_NE(info, nullptr) << "not a PKCS#8 PrivateKeyInfo: " << ossl::drain_errors();
  EXPECT_EQ(p, keygen->key_part.data() + keygen->key_part.size());
  ossl::EvpPkeyPtr private_key(::EVP_PKCS82PKEY(info.get()));
  ASSERT_NE(private_key, nullptr);
  ::X509* issued = keygen->certificate.get();
  EXPECT_EQ(to_hex(ossl::der_of_public_key(private_key.get())),
            to_hex(ossl::der_of_public_key(::X509_get0_pubkey(issued))));
  EXPECT_EQ(::X509_check_private_key(issued, private_key.get()), 1);
  EXPECT_NE(to_hex(ossl::der_of_public_key(::X509_get0_pubkey(issued))),
            to_hex(ossl::der_of_public_key(csr_key.get())));
  EXPECT_EQ(::X509_check_issued(const_cast<::X509*>(ca.issuing->certificate()), issued), X509_V_OK);
  ::OPENSSL_cleanse(keygen->key_part.data(), keygen->key_part.size());
}

// ---- e) the store cannot write: 503 with Retry-After ------------------------------------

// Caps the size regular files may grow to (RLIMIT_FSIZE; a write past it fails with EFBIG, as
// on a full disk) and lifts the cap again on every path out.
class FileSizeCap {
 public:
  explicit FileSizeCap(std::uintmax_t bytes) {
    check(::getrlimit(RLIMIT_FSIZE, &m_saved) == 0, "getrlimit");
    m_previous_handler = std::signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of the signal
    rlimit capped = m_saved;
    capped.rlim_cur = static_cast<rlim_t>(bytes);
    check(::setrlimit(RLIMIT_FSIZE, &capped) == 0, "setrlimit");
  }
  ~FileSizeCap() {
    ::setrlimit(RLIMIT_FSIZE, &m_saved);
    std::signal(SIGXFSZ, m_previous_handler);
  }
  FileSizeCap(const FileSizeCap&) = delete;
  FileSizeCap& operator=(const FileSizeCap&) = delete;

 private:
  rlimit m_saved{};
  void (*m_previous_handler)(int) = SIG_DFL;
};

// The size of the store's write-ahead log (RocksDB's *.log files; the largest if several).
std::uintmax_t write_ahead_log_size(const std::filesystem::path& db) {
  std::uintmax_t size = 0;
  for (const auto& entry : std::filesystem::directory_iterator(db)) {
    if (entry.is_regular_file() && entry.path().extension() == ".log") size = std::max(size, entry.file_size());
  }
  return size;
}

TEST_F(EstServerTest, StoreThatCannotWriteAnswers503WithRetryAfter) {
  // Only the write-ahead log must hit the cap: RocksDB's info LOG sharing the failure makes the
  // assertion-enabled librocksdb abort on its next log line (at the latest when the store
  // closes). So the WAL is first made larger than anything the info LOG holds, then capped at
  // its size: the next synced WAL append fails, every other file still has room.
  store::WriteSet filler;
  filler.audit.push_back({0, "test", "fill-write-ahead-log", "", std::string(std::size_t{1} << 20, 'x')});
  auto filled = store->commit(filler);
  ASSERT_TRUE(filled) << filled.error().message;
  const std::uintmax_t wal_size = write_ahead_log_size(store_dir.path() / "db");
  ASSERT_GT(wal_size, std::uintmax_t{1} << 20);

  const std::size_t before = certificate_count();
  TlsConnection connection = connect(TLS1_3_VERSION);
  ossl::EvpPkeyPtr key = p256_key();
  const Bytes csr = csr_with_binding(std::nullopt, key.get());
  HttpReply reply;
  {
    FileSizeCap full(wal_size);
    reply = connection.post_csr(est_path("", "simpleenroll"), csr, basic());
  }
  EXPECT_EQ(reply.status, 503) << reply.body;
  ASSERT_TRUE(reply.has_header("retry-after")) << reply.body;
  const std::string retry_after = reply.header("retry-after");
  ASSERT_FALSE(retry_after.empty());
  EXPECT_TRUE(std::all_of(retry_after.begin(), retry_after.end(), [](unsigned char c) { return std::isdigit(c); }))
      << retry_after;
  EXPECT_GT(std::stoi(retry_after), 0);
  EXPECT_NE(reply.body.find("cannot serve"), std::string::npos) << reply.body;
  // The client learns to come back, not the server's paths or library messages.
  EXPECT_EQ(reply.body.find("/tmp"), std::string::npos) << reply.body;
  EXPECT_EQ(reply.body.find("IO error"), std::string::npos) << reply.body;
  // Nothing was issued: no certificate left the CA without its record.
  EXPECT_EQ(certificate_count(), before);
}

// ---- simplereenroll: expiry and the key policy -----------------------------------------

TEST_F(EstServerTest, AnExpiredCertificateCannotRenew) {
  const Credential device = enrolled_device(kSubject);
  const std::size_t before = certificate_count();
  trust_clock_advance = std::chrono::hours(24 * 400);  // past the device certificate's year
  TlsConnection connection = connect(TLS1_3_VERSION, &device);
  ossl::EvpPkeyPtr new_key = p256_key();
  CsrSpec spec;
  spec.subject = kSubject;
  const HttpReply reply = connection.post_csr(est_path("", "simplereenroll"), make_csr(spec, new_key.get()));
  EXPECT_EQ(reply.status, 403) << reply.body;
  EXPECT_NE(reply.body.find("not accepted"), std::string::npos) << reply.body;
  EXPECT_EQ(certificate_count(), before);
}

TEST_F(EstServerTest, RenewalKeepingTheKeyFollowsThePolicy) {
  const Credential device = enrolled_device(kSubject);
  CsrSpec spec;
  spec.subject = kSubject;
  {
    TlsConnection connection = connect(TLS1_3_VERSION, &device);  // default policy: the key may stay
    const HttpReply reply = connection.post_csr(est_path("", "simplereenroll"), make_csr(spec, device.key.get()));
    ASSERT_EQ(reply.status, 200) << reply.body;
  }
  // The same server code with reenroll_same_key = false, on a listener of its own.
  EstServer strict{service, trust, passwords, EstOptions{false}};
  http::ServerOptions options;
  options.port = 0;
  options.threads = 2;
  options.tls = tls_options();
  auto started = http::HttpServer::start(options, est_routes(strict));
  ASSERT_TRUE(started) << started.error().message;
  std::swap(server, *started);  // connect() talks to `server`
  const std::size_t before = certificate_count();
  {
    TlsConnection connection = connect(TLS1_3_VERSION, &device);
    const HttpReply same = connection.post_csr(est_path("", "simplereenroll"), make_csr(spec, device.key.get()));
    EXPECT_EQ(same.status, 403) << same.body;
    EXPECT_NE(same.body.find("needs a new key"), std::string::npos) << same.body;
  }
  EXPECT_EQ(certificate_count(), before);
  ossl::EvpPkeyPtr new_key = p256_key();
  {
    TlsConnection connection = connect(TLS1_3_VERSION, &device);
    const HttpReply renewed = connection.post_csr(est_path("", "simplereenroll"), make_csr(spec, new_key.get()));
    EXPECT_EQ(renewed.status, 200) << renewed.body;
  }
  server->stop(std::chrono::seconds(5));  // before `strict` goes
  std::swap(server, *started);
}

}  // namespace
}  // namespace enrolld::est::test
