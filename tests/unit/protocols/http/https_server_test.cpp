// HTTPS in HttpServer, seen from an independent client: OpenSSL's TLS stack (the server runs
// GnuTLS) talks to the listener over 127.0.0.1 and compares what it knows of the connection -
// version, its certificate, RFC 5929 tls-unique and RFC 9266 tls-exporter - with what the route
// handler was given in Request.tls.

#include "protocols/http/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "common/openssl_util.h"

namespace enrolld::http {
namespace {

using SslCtxPtr = std::unique_ptr<::SSL_CTX, ossl::Deleter<::SSL_CTX_free>>;
using SslPtr = std::unique_ptr<::SSL, ossl::Deleter<::SSL_free>>;

// Every socket operation of the client gives up after this long.
constexpr std::chrono::seconds kIoTimeout{5};
constexpr const char* kExporterLabel = "EXPORTER-Channel-Binding";  // RFC 9266 section 2

// Handshake message types (RFC 8446 section 4) and record types seen by the message callback.
constexpr unsigned char kClientHello = 1;
constexpr unsigned char kCertificateRequest = 13;

void check(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what + ": " + ossl::drain_errors());
}

// A key pair and its certificate, made in software.
struct Credential {
  ossl::EvpPkeyPtr key;
  ossl::X509Ptr cert;
};

void add_extension(::X509* cert, ::X509* issuer, int nid, const char* value) {
  ::X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  ::X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ossl::X509ExtensionPtr extension(::X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  check(extension != nullptr, std::string("extension ") + value);
  check(::X509_add_ext(cert, extension.get(), -1) == 1, "X509_add_ext");
}

// A P-256 certificate for `common_name`, signed by `issuer`, or self-signed when it is null.
Credential make_credential(const std::string& common_name, const Credential* issuer,
                           const std::vector<std::pair<int, const char*>>& extensions) {
  static long serial = 1;
  Credential made{ossl::EvpPkeyPtr(::EVP_EC_gen("P-256")), ossl::X509Ptr(::X509_new())};
  check(made.key != nullptr && made.cert != nullptr, "P-256 key");
  ::X509* cert = made.cert.get();
  ossl::X509NamePtr name(::X509_NAME_new());
  check(::X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_UTF8,
                                     reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0) == 1,
        "subject");
  check(::X509_set_version(cert, 2) == 1 && ::ASN1_INTEGER_set(::X509_get_serialNumber(cert), serial++) == 1 &&
            ::X509_set_subject_name(cert, name.get()) == 1 &&
            ::X509_set_issuer_name(cert,
                                   issuer != nullptr ? ::X509_get_subject_name(issuer->cert.get()) : name.get()) == 1 &&
            ::X509_gmtime_adj(::X509_getm_notBefore(cert), -60) != nullptr &&
            ::X509_gmtime_adj(::X509_getm_notAfter(cert), 3600) != nullptr &&
            ::X509_set_pubkey(cert, made.key.get()) == 1,
        "certificate fields");
  ::X509* issuer_cert = issuer != nullptr ? issuer->cert.get() : cert;
  for (const auto& [nid, value] : extensions) add_extension(cert, issuer_cert, nid, value);
  ::EVP_PKEY* signing_key = issuer != nullptr ? issuer->key.get() : made.key.get();
  check(::X509_sign(cert, signing_key, ::EVP_sha256()) > 0, "X509_sign");
  return made;
}

// What the route handler was given, read by the test once the response has arrived.
struct Seen {
  std::mutex mutex;
  int calls = 0;
  std::optional<TlsPeer> tls;
  std::vector<std::uint64_t> connection_ids;  // of every request, in order
};

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

  // Connects to 127.0.0.1:port with every later read and write bounded by kIoTimeout (on Linux
  // SO_SNDTIMEO bounds connect() as well).
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
  std::string body;
};

// Sends a minimal HTTP/1.1 GET and reads the reply up to the end of its Content-Length body.
// `write`/`read` move bytes over the connection (TLS or not) and return <= 0 on failure.
HttpReply http_get(const std::string& path, const std::function<long(const char*, std::size_t)>& write,
                   const std::function<long(char*, std::size_t)>& read, bool keep_alive = false) {
  const std::string request = "GET " + path +
                              " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: " + (keep_alive ? "keep-alive" : "close") +
                              "\r\n\r\n";
  for (std::size_t sent = 0; sent < request.size();) {
    const long n = write(request.data() + sent, request.size() - sent);
    if (n <= 0) throw std::runtime_error("cannot send the request: " + ossl::drain_errors());
    sent += static_cast<std::size_t>(n);
  }
  std::string received;
  std::optional<std::size_t> body_start;
  std::size_t content_length = 0;
  while (!body_start || received.size() < *body_start + content_length) {
    char buffer[4096];
    const long n = read(buffer, sizeof buffer);
    if (n <= 0) throw std::runtime_error("connection ended before the whole reply: " + received);
    received.append(buffer, static_cast<std::size_t>(n));
    if (!body_start) {
      const std::size_t end = received.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      body_start = end + 4;
      std::string head = received.substr(0, end);
      std::transform(head.begin(), head.end(), head.begin(), [](unsigned char c) { return std::tolower(c); });
      const std::size_t header = head.find("\r\ncontent-length:");
      if (header == std::string::npos) throw std::runtime_error("reply without Content-Length: " + head);
      content_length = std::stoul(head.substr(header + std::strlen("\r\ncontent-length:")));
    }
  }
  HttpReply reply;
  // "HTTP/1.1 200 OK"
  reply.status = std::stoi(received.substr(received.find(' ') + 1, 3));
  reply.body = received.substr(*body_start, content_length);
  return reply;
}

// How the OpenSSL client is set up for one connection.
struct ClientOptions {
  int min_version = 0;  // 0: OpenSSL's defaults
  int max_version = 0;
  const Credential* certificate = nullptr;  // loaded with SSL_use_certificate/SSL_use_PrivateKey
  bool allow_legacy = false;                // security level 0: OpenSSL 3 offers TLS 1.1 only below level 1
};

// What the client saw of one TLS connection and the request made over it.
struct ClientView {
  bool client_hello_sent = false;
  bool certificate_request_received = false;
  std::optional<int> alert_received;  // TLS alert description sent by the server
  bool handshake_ok = false;
  std::string handshake_error;
  unsigned long handshake_error_code = 0;
  std::string version;  // SSL_get_version: "TLSv1.2", "TLSv1.3"
  std::vector<std::string> requested_ca_names;
  Bytes exporter_without_context;     // SSL_export_keying_material(..., use_context = 0)
  Bytes exporter_with_empty_context;  // SSL_export_keying_material(..., use_context = 1)
  Bytes client_finished;              // SSL_get_finished
  Bytes server_finished;              // SSL_get_peer_finished
  HttpReply reply;
};

void on_tls_message(int write_p, int /*version*/, int content_type, const void* buf, std::size_t len, ::SSL*,
                    void* arg) {
  auto* view = static_cast<ClientView*>(arg);
  const auto* bytes = static_cast<const unsigned char*>(buf);
  if (content_type == SSL3_RT_HANDSHAKE && len > 0) {
    if (write_p == 1 && bytes[0] == kClientHello) view->client_hello_sent = true;
    if (write_p == 0 && bytes[0] == kCertificateRequest) view->certificate_request_received = true;
  } else if (content_type == SSL3_RT_ALERT && write_p == 0 && len >= 2) {
    view->alert_received = bytes[1];
  }
}

Bytes export_channel_binding(::SSL* ssl, bool use_context) {
  Bytes out(32);
  const unsigned char empty_context[1] = {0};
  check(::SSL_export_keying_material(ssl, out.data(), out.size(), kExporterLabel, std::strlen(kExporterLabel),
                                     use_context ? empty_context : nullptr, 0, use_context ? 1 : 0) == 1,
        "SSL_export_keying_material");
  return out;
}

// Connects to 127.0.0.1:port with OpenSSL, verifying the server against `server_cert` for IP
// 127.0.0.1, and GETs `path` if the handshake succeeds.
ClientView tls_get(std::uint16_t port, const ::X509* server_cert, const ClientOptions& options,
                   const std::string& path = "/echo") {
  ClientView view;
  SslCtxPtr ctx(::SSL_CTX_new(::TLS_client_method()));
  check(ctx != nullptr, "SSL_CTX_new");
  if (options.allow_legacy) {
    ::SSL_CTX_set_security_level(ctx.get(), 0);
    check(::SSL_CTX_set_cipher_list(ctx.get(), "DEFAULT:@SECLEVEL=0") == 1, "cipher list");
  }
  check(::SSL_CTX_set_min_proto_version(ctx.get(), options.min_version) == 1 &&
            ::SSL_CTX_set_max_proto_version(ctx.get(), options.max_version) == 1,
        "protocol versions");
  check(::X509_STORE_add_cert(::SSL_CTX_get_cert_store(ctx.get()), const_cast<::X509*>(server_cert)) == 1,
        "trust the server certificate");
  ::SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);

  SslPtr ssl(::SSL_new(ctx.get()));
  check(ssl != nullptr, "SSL_new");
  check(::X509_VERIFY_PARAM_set1_ip_asc(::SSL_get0_param(ssl.get()), "127.0.0.1") == 1, "expected server IP");
  if (options.certificate != nullptr) {
    check(::SSL_use_certificate(ssl.get(), options.certificate->cert.get()) == 1 &&
              ::SSL_use_PrivateKey(ssl.get(), options.certificate->key.get()) == 1,
          "client certificate");
  }
  ::SSL_set_msg_callback(ssl.get(), &on_tls_message);
  ::SSL_set_msg_callback_arg(ssl.get(), &view);

  Socket socket;
  socket.connect_to(port);
  check(::SSL_set_fd(ssl.get(), socket.fd()) == 1, "SSL_set_fd");
  ::ERR_clear_error();
  if (::SSL_connect(ssl.get()) != 1) {
    view.handshake_error_code = ::ERR_peek_error();
    view.handshake_error = ossl::drain_errors();
    return view;
  }
  view.handshake_ok = true;
  view.version = ::SSL_get_version(ssl.get());
  if (const STACK_OF(X509_NAME)* names = ::SSL_get_client_CA_list(ssl.get()); names != nullptr) {
    for (int i = 0; i < sk_X509_NAME_num(names); ++i) {
      view.requested_ca_names.push_back(ossl::name_to_string(sk_X509_NAME_value(names, i)));
    }
  }
  view.exporter_without_context = export_channel_binding(ssl.get(), false);
  view.exporter_with_empty_context = export_channel_binding(ssl.get(), true);
  unsigned char finished[EVP_MAX_MD_SIZE];
  view.client_finished.assign(finished, finished + ::SSL_get_finished(ssl.get(), finished, sizeof finished));
  view.server_finished.assign(finished, finished + ::SSL_get_peer_finished(ssl.get(), finished, sizeof finished));

  ::SSL* raw = ssl.get();
  view.reply = http_get(
      path,
      [raw](const char* data, std::size_t size) {
        return static_cast<long>(::SSL_write(raw, data, static_cast<int>(size)));
      },
      [raw](char* data, std::size_t size) { return static_cast<long>(::SSL_read(raw, data, static_cast<int>(size))); });
  return view;
}

HttpReply plain_get(std::uint16_t port, const std::string& path = "/echo") {
  Socket socket;
  socket.connect_to(port);
  const int fd = socket.fd();
  return http_get(
      path,
      [fd](const char* data, std::size_t size) { return static_cast<long>(::send(fd, data, size, MSG_NOSIGNAL)); },
      [fd](char* data, std::size_t size) { return static_cast<long>(::recv(fd, data, size, 0)); });
}

class HttpsServerTest : public ::testing::Test {
 protected:
  // SSL_write on a socket the server has closed must fail, not kill the test binary.
  static void SetUpTestSuite() { std::signal(SIGPIPE, SIG_IGN); }

  HttpsServerTest()
      : m_server_credential(make_credential("127.0.0.1", nullptr, {{NID_subject_alt_name, "IP:127.0.0.1"}})),
        m_client_ca(make_credential("Test Client CA", nullptr,
                                    {{NID_basic_constraints, "critical,CA:TRUE"},
                                     {NID_key_usage, "critical,keyCertSign,cRLSign"},
                                     {NID_subject_key_identifier, "hash"}})),
        m_client(make_credential("Test Device", &m_client_ca,
                                 {{NID_basic_constraints, "critical,CA:FALSE"},
                                  {NID_key_usage, "critical,digitalSignature"},
                                  {NID_ext_key_usage, "clientAuth"},
                                  {NID_authority_key_identifier, "keyid"}})) {}

  // TLS options with the server credential; `ask_for_certificates` names the client CA.
  TlsOptions tls_options(bool ask_for_certificates) const {
    TlsOptions tls;
    tls.certificate_chain_pem = ossl::pem_of(m_server_credential.cert.get());
    tls.private_key_pem = ossl::pem_of_private_key(m_server_credential.key.get());
    if (ask_for_certificates) tls.client_ca_pem = ossl::pem_of(m_client_ca.cert.get());
    return tls;
  }

  // Starts a server on a free port whose only route, GET /echo, records Request.tls.
  void start(std::optional<TlsOptions> tls) {
    ServerOptions options;
    options.port = 0;
    options.connection_timeout = std::chrono::seconds(10);
    options.tls = std::move(tls);
    auto seen = m_seen;
    Route echo{"/echo", {"GET"}, [seen](const Request& request) {
                 std::lock_guard lock(seen->mutex);
                 ++seen->calls;
                 seen->tls = request.tls;
                 seen->connection_ids.push_back(request.connection_id);
                 return text_response(200, "seen");
               }};
    auto started = HttpServer::start(options, {std::move(echo)});
    ASSERT_TRUE(started) << started.error().message;
    m_server = std::move(*started);
    ASSERT_NE(m_server->port(), 0);
  }

  ClientView get(const ClientOptions& options) {
    return tls_get(m_server->port(), m_server_credential.cert.get(), options);
  }

  // The handler's calls, and the TLS view of its last request.
  std::pair<int, std::optional<TlsPeer>> seen() {
    std::lock_guard lock(m_seen->mutex);
    return {m_seen->calls, m_seen->tls};
  }

  Credential m_server_credential;
  Credential m_client_ca;
  Credential m_client;
  std::shared_ptr<Seen> m_seen = std::make_shared<Seen>();
  std::unique_ptr<HttpServer> m_server;
};

// libmicrohttpd itself only says "cannot start"; the operator must learn which file is wrong.
TEST_F(HttpsServerTest, AKeyThatIsNotTheCertificatesIsNamedAtStartUp) {
  TlsOptions tls = tls_options(false);
  tls.private_key_pem = ossl::pem_of_private_key(m_client.key.get());  // another key
  ServerOptions options;
  options.tls = tls;
  auto started = HttpServer::start(options, {});
  ASSERT_FALSE(started.has_value());
  EXPECT_EQ(started.error().code, ErrorCode::kConfigInvalid);
  EXPECT_NE(started.error().message.find("TLS certificate and key"), std::string::npos) << started.error().message;

  options.tls = tls_options(false);
  options.tls->certificate_chain_pem = "not PEM";
  started = HttpServer::start(options, {});
  ASSERT_FALSE(started.has_value());
  EXPECT_EQ(started.error().code, ErrorCode::kConfigInvalid);

  options.tls = tls_options(false);
  options.tls->client_ca_pem = "no certificate here";
  started = HttpServer::start(options, {});
  ASSERT_FALSE(started.has_value());
  EXPECT_EQ(started.error().code, ErrorCode::kConfigInvalid);
  EXPECT_NE(started.error().message.find("client CA"), std::string::npos) << started.error().message;
}

TEST_F(HttpsServerTest, Tls13RequestCarriesTheTlsExporterChannelBinding) {
  ASSERT_NO_FATAL_FAILURE(start(tls_options(false)));
  const ClientView view = get({.min_version = TLS1_3_VERSION, .max_version = TLS1_3_VERSION});
  ASSERT_TRUE(view.handshake_ok) << view.handshake_error;
  EXPECT_EQ(view.version, "TLSv1.3");
  EXPECT_EQ(view.reply.status, 200);
  EXPECT_EQ(view.reply.body, "seen\n");

  const auto [calls, tls] = seen();
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(tls.has_value());
  EXPECT_EQ(tls->version, "TLS1.3");
  EXPECT_TRUE(tls->client_certificates.empty());
  // RFC 9266: the exporter with label "EXPORTER-Channel-Binding", an empty context, 32 bytes.
  ASSERT_EQ(view.exporter_without_context.size(), 32u);
  EXPECT_EQ(to_hex(tls->channel_binding), to_hex(view.exporter_without_context));
  // TLS 1.3 exporters always hash the context, absent or empty alike (RFC 8446 section 7.5).
  EXPECT_EQ(to_hex(tls->channel_binding), to_hex(view.exporter_with_empty_context));
}

TEST_F(HttpsServerTest, Tls12RequestCarriesTheTlsUniqueChannelBinding) {
  ASSERT_NO_FATAL_FAILURE(start(tls_options(false)));
  const ClientView view = get({.max_version = TLS1_2_VERSION});
  ASSERT_TRUE(view.handshake_ok) << view.handshake_error;
  EXPECT_EQ(view.version, "TLSv1.2");
  EXPECT_EQ(view.reply.status, 200);

  const auto [calls, tls] = seen();
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(tls.has_value());
  EXPECT_EQ(tls->version, "TLS1.2");
  // RFC 5929 tls-unique: the first Finished of the handshake, the client's in a full handshake.
  ASSERT_EQ(view.client_finished.size(), 12u);
  EXPECT_EQ(to_hex(tls->channel_binding), to_hex(view.client_finished));
  EXPECT_NE(to_hex(tls->channel_binding), to_hex(view.server_finished));
}

TEST_F(HttpsServerTest, EachConnectionHasItsOwnChannelBinding) {
  ASSERT_NO_FATAL_FAILURE(start(tls_options(false)));
  const ClientView first = get({});
  ASSERT_TRUE(first.handshake_ok) << first.handshake_error;
  const Bytes first_binding = seen().second.value_or(TlsPeer{}).channel_binding;
  const ClientView second = get({});
  ASSERT_TRUE(second.handshake_ok) << second.handshake_error;
  const Bytes second_binding = seen().second.value_or(TlsPeer{}).channel_binding;
  EXPECT_EQ(seen().first, 2);
  EXPECT_FALSE(first_binding.empty());
  EXPECT_NE(to_hex(first_binding), to_hex(second_binding));
  EXPECT_EQ(to_hex(second_binding), to_hex(second.exporter_without_context));
}

TEST_F(HttpsServerTest, PlainHttpRequestHasNoTls) {
  ASSERT_NO_FATAL_FAILURE(start(std::nullopt));
  {
    std::lock_guard lock(m_seen->mutex);
    m_seen->tls = TlsPeer{"not replaced", {}, {}};  // the handler must overwrite it
  }
  const HttpReply reply = plain_get(m_server->port());
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "seen\n");
  const auto [calls, tls] = seen();
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(tls.has_value());
}

TEST_F(HttpsServerTest, RequestsOnOneKeptAliveConnectionShareItsNumberAndNoOtherDoes) {
  ASSERT_NO_FATAL_FAILURE(start(std::nullopt));
  {
    Socket socket;
    socket.connect_to(m_server->port());
    const int fd = socket.fd();
    const auto write = [fd](const char* data, std::size_t size) {
      return static_cast<long>(::send(fd, data, size, MSG_NOSIGNAL));
    };
    const auto read = [fd](char* data, std::size_t size) { return static_cast<long>(::recv(fd, data, size, 0)); };
    EXPECT_EQ(http_get("/echo", write, read, true).status, 200);
    EXPECT_EQ(http_get("/echo", write, read, true).status, 200);
  }
  EXPECT_EQ(plain_get(m_server->port()).status, 200);
  std::lock_guard lock(m_seen->mutex);
  ASSERT_EQ(m_seen->connection_ids.size(), 3U);
  EXPECT_NE(m_seen->connection_ids[0], 0U);
  EXPECT_EQ(m_seen->connection_ids[0], m_seen->connection_ids[1]) << "one kept-alive connection";
  EXPECT_NE(m_seen->connection_ids[1], m_seen->connection_ids[2]) << "a new connection, a new number";
  EXPECT_NE(m_seen->connection_ids[2], 0U);
}

TEST_F(HttpsServerTest, Tls11ClientIsRefused) {
  ASSERT_NO_FATAL_FAILURE(start(tls_options(false)));
  const ClientView refused = get({.min_version = TLS1_1_VERSION, .max_version = TLS1_1_VERSION, .allow_legacy = true});
  // The client did offer TLS 1.1 (its own configuration did not stop it), and the server refused.
  EXPECT_TRUE(refused.client_hello_sent);
  EXPECT_FALSE(refused.handshake_ok);
  EXPECT_NE(ERR_GET_REASON(refused.handshake_error_code), SSL_R_NO_PROTOCOLS_AVAILABLE) << refused.handshake_error;
  EXPECT_EQ(seen().first, 0);

  // The same legacy-enabled client gets in once it may use TLS 1.2.
  const ClientView allowed = get({.min_version = TLS1_1_VERSION, .max_version = TLS1_2_VERSION, .allow_legacy = true});
  ASSERT_TRUE(allowed.handshake_ok) << allowed.handshake_error;
  EXPECT_EQ(allowed.version, "TLSv1.2");
  EXPECT_EQ(seen().first, 1);
}

// Client certificates, under TLS 1.2 and TLS 1.3.
class HttpsClientCertificateTest : public HttpsServerTest, public ::testing::WithParamInterface<int> {
 protected:
  ClientView get_with(const Credential* certificate) {
    return get({.min_version = GetParam(), .max_version = GetParam(), .certificate = certificate});
  }
};

TEST_P(HttpsClientCertificateTest, AskedClientPresentsItsCertificate) {
  ASSERT_NO_FATAL_FAILURE(start(tls_options(true)));
  const ClientView view = get_with(&m_client);
  ASSERT_TRUE(view.handshake_ok) << view.handshake_error;
  EXPECT_TRUE(view.certificate_request_received);
  EXPECT_EQ(view.reply.status, 200);
  // The request names the client CA, so that a client with several certificates can pick.
  EXPECT_EQ(view.requested_ca_names,
            std::vector<std::string>{ossl::name_to_string(::X509_get_subject_name(m_client_ca.cert.get()))});

  const auto [calls, tls] = seen();
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(tls.has_value());
  ASSERT_EQ(tls->client_certificates.size(), 1u);
  EXPECT_EQ(to_hex(tls->client_certificates[0]), to_hex(ossl::der_of(m_client.cert.get())));
}

TEST_P(HttpsClientCertificateTest, AskedClientWithoutCertificateIsStillServed) {
  ASSERT_NO_FATAL_FAILURE(start(tls_options(true)));
  const ClientView view = get_with(nullptr);
  ASSERT_TRUE(view.handshake_ok) << view.handshake_error;
  EXPECT_TRUE(view.certificate_request_received);
  EXPECT_EQ(view.reply.status, 200);

  const auto [calls, tls] = seen();
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(tls.has_value());
  EXPECT_TRUE(tls->client_certificates.empty());
}

TEST_P(HttpsClientCertificateTest, UnaskedClientSendsNoCertificate) {
  ASSERT_NO_FATAL_FAILURE(start(tls_options(false)));
  const ClientView view = get_with(&m_client);
  ASSERT_TRUE(view.handshake_ok) << view.handshake_error;
  EXPECT_FALSE(view.certificate_request_received);
  EXPECT_EQ(view.reply.status, 200);

  const auto [calls, tls] = seen();
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(tls.has_value());
  EXPECT_TRUE(tls->client_certificates.empty());
}

INSTANTIATE_TEST_SUITE_P(Versions, HttpsClientCertificateTest, ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION),
                         [](const ::testing::TestParamInfo<int>& param_info) {
                           return param_info.param == TLS1_3_VERSION ? std::string("Tls13") : std::string("Tls12");
                         });

}  // namespace
}  // namespace enrolld::http
