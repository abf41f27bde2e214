#pragma once
// A small blocking HTTP/1.1 client for the load tool: one connection (plain TCP or TLS) that
// stays open across requests (keep-alive) unless asked to close, with TCP_NODELAY and socket
// timeouts so that no call waits without bound. Nothing here is shared: each worker thread owns
// its connections (not thread-safe).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <openssl/ssl.h>

#include "bench/load/outcome.h"

namespace enrolld::load {

struct Url {
  bool tls = false;
  std::string host;
  std::uint16_t port = 0;
  std::string path;  // "/" when the URL has none

  // scheme://host:port, for messages.
  std::string origin() const;
};

// http://HOST[:PORT][/PATH] or https://...; IPv6 literals are not needed here. Failure kind:
// "usage.url".
Outcome<Url> parse_url(std::string_view text);

// Whether `host` is a loopback address or "localhost" (the tool refuses other hosts unless told).
bool is_loopback(std::string_view host);

// An SSL_CTX for a client: peers verified against `trust_file`; with `cert_file`/`key_file` it
// presents that certificate. Sessions are never resumed: every new connection is a full
// handshake, which is what the per-request handshake scenario measures. Failure kind: "setup.tls".
struct SslCtxFree {
  void operator()(::SSL_CTX* ctx) const noexcept { ::SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<::SSL_CTX, SslCtxFree>;
Outcome<SslCtxPtr> make_tls_client_context(const std::string& trust_file, const std::string& cert_file,
                                           const std::string& key_file);

struct HttpResponse {
  int status = 0;
  std::string content_type;  // as sent, parameters included
  std::string body;          // chunked transfer coding removed
};

class HttpConnection {
 public:
  // `tls` must outlive the connection; null for plain HTTP (then `url.tls` must be false).
  HttpConnection(Url url, ::SSL_CTX* tls, std::chrono::milliseconds timeout);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // POSTs `body` to the URL's path and reads the whole answer. With `keep_alive` false it asks
  // the server to close and closes afterwards, so the next request opens (and, over TLS,
  // handshakes) anew. A request on a kept-alive connection the server had closed is sent once
  // more on a new one, but only when not one byte of an answer came back. `extra_headers` are
  // whole lines, each ending in CRLF. The reference stays valid until the next call. Failure
  // kinds: "transport.connect", "transport.tls", "transport.send", "transport.recv",
  // "transport.timeout", "transport.http" (a malformed answer).
  Outcome<const HttpResponse*> post(std::string_view content_type, std::string_view body,
                                    std::string_view extra_headers, bool keep_alive);

  // GETs the URL's path, otherwise as post().
  Outcome<const HttpResponse*> get(bool keep_alive);

  void close() noexcept;

  // New TCP connections (and TLS handshakes) made so far.
  std::uint64_t connects() const { return m_connects; }

 private:
  Done open();
  Done send_all(std::string_view data);
  // Reads more into m_in; 0 means the peer closed.
  Outcome<std::size_t> receive_more();
  // Sends m_out (a whole request) and reads the answer, with post()'s one retry.
  Outcome<const HttpResponse*> exchange(bool keep_alive);
  Outcome<const HttpResponse*> read_response();
  Failure io_failure(const char* what, long rc) const;

  Url m_url;
  ::SSL_CTX* m_tls;
  std::chrono::milliseconds m_timeout;
  int m_fd = -1;
  ::SSL* m_ssl = nullptr;
  std::uint64_t m_connects = 0;
  std::string m_out;
  std::string m_in;
  HttpResponse m_response;
};

}  // namespace enrolld::load
