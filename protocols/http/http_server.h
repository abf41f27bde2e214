#pragma once
// The HTTP front: libmicrohttpd with its own thread pool, routing by path, request limits.
// It knows nothing of CMP or EST: routes hand whole request bodies to handlers.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "common/metrics.h"

namespace enrolld::http {

// What the TLS layer knows of the connection a request came on (HTTPS listeners only).
struct TlsPeer {
  std::string version;                     // "TLS1.2", "TLS1.3"
  std::vector<Bytes> client_certificates;  // DER, as the client sent them: its own first
  // RFC 5929 tls-unique (TLS 1.2) or RFC 9266 tls-exporter (TLS 1.3): what a client proves
  // it made its request inside this TLS session with (EST channel binding).
  Bytes channel_binding;
};

struct Request {
  std::string method;
  std::string path;
  std::string content_type;
  std::string authorization;  // the Authorization header, as sent
  Bytes body;
  std::string peer;            // "ip:port"
  std::optional<TlsPeer> tls;  // set on an HTTPS listener
  // The connection the request came on: the same for every request on a kept-alive
  // connection, never used again by this process for another (0: unknown).
  std::uint64_t connection_id = 0;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain";
  Bytes body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// A response carrying a one-line text reason (for errors).
Response text_response(int status, std::string_view text);

using Handler = std::function<Response(const Request&)>;

struct Route {
  std::string path;                  // exact path, or a prefix when it ends with '/'
  std::vector<std::string> methods;  // e.g. {"POST"}
  Handler handler;
};

// HTTPS: the server's credential, and whom it asks for client certificates.
struct TlsOptions {
  std::string certificate_chain_pem;  // the server certificate first, then its issuers
  std::string private_key_pem;
  // When set, clients are asked (not required) for a certificate, naming these CAs; the
  // handler decides what a certificate is worth. Empty: no certificate is asked for.
  std::string client_ca_pem;
  std::string priorities = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";  // GnuTLS syntax
};

struct ServerOptions {
  std::string bind_address = "127.0.0.1";
  std::uint16_t port = 0;  // 0: pick a free port (see HttpServer::port())
  unsigned threads = 2;
  std::size_t max_body_bytes = 64 * 1024;
  std::chrono::seconds connection_timeout{30};
  std::optional<TlsOptions> tls;  // HTTPS when set
  // Where responses are counted (by listener, route and status) and timed; none when null.
  Metrics* metrics = nullptr;
  std::string listener = "http";  // the label that tells this listener's metrics apart
};

// Thread-safety: handlers run on the server's threads, concurrently; stop() from one thread.
class HttpServer {
 public:
  // Binds and starts serving. Returns kSystemUnavailable if the address cannot be bound.
  static Result<std::unique_ptr<HttpServer>> start(const ServerOptions& options, std::vector<Route> routes);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  std::uint16_t port() const;

  // Stops accepting, lets requests in flight finish (up to `drain`), then closes everything.
  void stop(std::chrono::milliseconds drain = std::chrono::seconds(10));

  struct Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

}  // namespace enrolld::http
