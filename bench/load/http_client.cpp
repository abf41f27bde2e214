#include "bench/load/http_client.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <openssl/err.h>
#include <openssl/x509v3.h>

namespace enrolld::load {
namespace {

constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
constexpr std::size_t kMaxBodyBytes = 4 * 1024 * 1024;

std::string openssl_errors() {
  std::string out;
  for (unsigned long e = ::ERR_get_error(); e != 0; e = ::ERR_get_error()) {
    char buf[256];
    ::ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool contains_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    if (iequals(trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

bool is_ip_literal(const std::string& host) {
  in_addr v4{};
  in6_addr v6{};
  return ::inet_pton(AF_INET, host.c_str(), &v4) == 1 || ::inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

}  // namespace

std::string Url::origin() const {
  return (tls ? "https://" : "http://") + host + ":" + std::to_string(port);
}

Outcome<Url> parse_url(std::string_view text) {
  Url url;
  if (text.starts_with("http://")) {
    text.remove_prefix(7);
  } else if (text.starts_with("https://")) {
    url.tls = true;
    text.remove_prefix(8);
  } else {
    return failure("usage.url", "not an http:// or https:// URL: " + std::string(text));
  }
  const auto slash = text.find('/');
  std::string_view authority = text.substr(0, slash);
  url.path = slash == std::string_view::npos ? "/" : std::string(text.substr(slash));
  url.port = url.tls ? 443 : 80;
  if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    const std::string_view port = authority.substr(colon + 1);
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return failure("usage.url", "bad port in URL: " + std::string(port));
    }
    url.port = static_cast<std::uint16_t>(value);
    authority = authority.substr(0, colon);
  }
  if (authority.empty()) return failure("usage.url", "URL without a host");
  url.host = std::string(authority);
  return url;
}

bool is_loopback(std::string_view host) {
  return host == "localhost" || host.starts_with("127.") || host == "::1" || host == "[::1]";
}

Outcome<SslCtxPtr> make_tls_client_context(const std::string& trust_file, const std::string& cert_file,
                                           const std::string& key_file) {
  SslCtxPtr ctx(::SSL_CTX_new(::TLS_client_method()));
  if (!ctx) return failure("setup.tls", "SSL_CTX_new: " + openssl_errors());
  ::SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  ::SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  // Every connection a full handshake: no client-side session cache, no tickets.
  ::SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  ::SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
  if (trust_file.empty()) return failure("setup.tls", "no TLS trust anchor file (--tls-trust)");
  if (::SSL_CTX_load_verify_locations(ctx.get(), trust_file.c_str(), nullptr) != 1) {
    return failure("setup.tls", "cannot load TLS trust anchors from " + trust_file + ": " + openssl_errors());
  }
  if (!cert_file.empty()) {
    if (::SSL_CTX_use_certificate_chain_file(ctx.get(), cert_file.c_str()) != 1 ||
        ::SSL_CTX_use_PrivateKey_file(ctx.get(), key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        ::SSL_CTX_check_private_key(ctx.get()) != 1) {
      return failure("setup.tls",
                     "cannot use client certificate " + cert_file + " / key " + key_file + ": " + openssl_errors());
    }
  }
  return ctx;
}

HttpConnection::HttpConnection(Url url, ::SSL_CTX* tls, std::chrono::milliseconds timeout)
    : m_url(std::move(url)), m_tls(tls), m_timeout(timeout) {}

HttpConnection::~HttpConnection() {
  close();
}

void HttpConnection::close() noexcept {
  if (m_ssl != nullptr) {
    // Sends close_notify without waiting for the peer's; the socket closes right after.
    ::SSL_shutdown(m_ssl);
    ::SSL_free(m_ssl);
    m_ssl = nullptr;
  }
  if (m_fd >= 0) {
    ::close(m_fd);
    m_fd = -1;
  }
  m_in.clear();
}

Failure HttpConnection::io_failure(const char* what, long rc) const {
  const int saved = errno;
  if (saved == EAGAIN || saved == EWOULDBLOCK) {
    return Failure{"transport.timeout", std::string(what) + " timed out on " + m_url.origin()};
  }
  std::string detail = std::string(what) + " on " + m_url.origin() + ": ";
  detail += rc == 0 ? "connection closed by the peer" : std::strerror(saved);
  if (const std::string ssl = openssl_errors(); !ssl.empty()) detail += " (" + ssl + ")";
  return Failure{std::string("transport.") + what, detail};
}

Done HttpConnection::open() {
  close();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(m_url.port);
  if (const int rc = ::getaddrinfo(m_url.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return failure("transport.connect", "cannot resolve " + m_url.host + ": " + ::gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, &::freeaddrinfo);
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(m_timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((m_timeout.count() % 1000) * 1000);
  std::string last_error = "no address";
  for (const addrinfo* a = addresses.get(); a != nullptr; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // Linux bounds connect() by SO_SNDTIMEO as well as send().
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      m_fd = fd;
      break;
    }
    last_error = std::strerror(errno);
    ::close(fd);
  }
  if (m_fd < 0) return failure("transport.connect", "cannot connect to " + m_url.origin() + ": " + last_error);
  ++m_connects;
  if (!m_url.tls) return {};

  m_ssl = ::SSL_new(m_tls);
  if (m_ssl == nullptr || ::SSL_set_fd(m_ssl, m_fd) != 1) {
    return failure("transport.tls", "SSL_new: " + openssl_errors());
  }
  if (is_ip_literal(m_url.host)) {
    ::X509_VERIFY_PARAM_set1_ip_asc(::SSL_get0_param(m_ssl), m_url.host.c_str());
  } else {
    ::SSL_set_tlsext_host_name(m_ssl, m_url.host.c_str());
    ::SSL_set1_host(m_ssl, m_url.host.c_str());
  }
  if (::SSL_connect(m_ssl) != 1) {
    const long verify = ::SSL_get_verify_result(m_ssl);
    std::string detail = "TLS handshake with " + m_url.origin() + " failed: " + openssl_errors();
    if (verify != X509_V_OK) detail += std::string(" (certificate: ") + ::X509_verify_cert_error_string(verify) + ")";
    close();
    return failure("transport.tls", detail);
  }
  return {};
}

Done HttpConnection::send_all(std::string_view data) {
  while (!data.empty()) {
    long n = 0;
    if (m_ssl != nullptr) {
      n = ::SSL_write(m_ssl, data.data(), static_cast<int>(std::min<std::size_t>(data.size(), 1 << 30)));
    } else {
      n = ::send(m_fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
    }
    if (n <= 0) return tl::unexpected(io_failure("send", n));
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Outcome<std::size_t> HttpConnection::receive_more() {
  char buf[16 * 1024];
  for (;;) {
    long n = 0;
    if (m_ssl != nullptr) {
      n = ::SSL_read(m_ssl, buf, sizeof buf);
      if (n <= 0 && ::SSL_get_error(m_ssl, static_cast<int>(n)) == SSL_ERROR_ZERO_RETURN) return 0;
    } else {
      n = ::recv(m_fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) return 0;
    }
    if (n <= 0) return tl::unexpected(io_failure("recv", n));
    m_in.append(buf, static_cast<std::size_t>(n));
    return static_cast<std::size_t>(n);
  }
}

Outcome<const HttpResponse*> HttpConnection::post(std::string_view content_type, std::string_view body,
                                                  std::string_view extra_headers, bool keep_alive) {
  m_out.clear();
  m_out.append("POST ").append(m_url.path).append(" HTTP/1.1\r\nHost: ").append(m_url.host);
  m_out.append(":").append(std::to_string(m_url.port)).append("\r\nContent-Type: ").append(content_type);
  m_out.append("\r\nContent-Length: ").append(std::to_string(body.size())).append("\r\n");
  m_out.append(keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
  m_out.append(extra_headers).append("\r\n").append(body);
  return exchange(keep_alive);
}

Outcome<const HttpResponse*> HttpConnection::get(bool keep_alive) {
  m_out.clear();
  m_out.append("GET ").append(m_url.path).append(" HTTP/1.1\r\nHost: ").append(m_url.host);
  m_out.append(":").append(std::to_string(m_url.port)).append("\r\n");
  m_out.append(keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n");
  return exchange(keep_alive);
}

Outcome<const HttpResponse*> HttpConnection::exchange(bool keep_alive) {
  // At most two attempts: the second only when a kept-alive connection turned out stale.
  for (int attempt = 0; attempt < 2; ++attempt) {
    // A connection opened for this request cannot be a stale keep-alive one: no second try.
    const bool fresh = m_fd < 0;
    if (fresh) {
      if (auto opened = open(); !opened) return tl::unexpected(opened.error());
    }
    m_in.clear();
    auto sent = send_all(m_out);
    if (!sent) {
      if (!fresh && sent.error().kind != "transport.timeout") {
        close();
        continue;
      }
      close();
      return tl::unexpected(sent.error());
    }
    auto response = read_response();
    if (!response) {
      const bool stale = !fresh && m_in.empty() && response.error().kind != "transport.timeout";
      close();
      if (stale) continue;
      return response;
    }
    if (!keep_alive) close();
    return response;
  }
  return failure("transport.recv", "the server closed the connection twice before answering on " + m_url.origin());
}

Outcome<const HttpResponse*> HttpConnection::read_response() {
  m_response = HttpResponse{};
  std::size_t header_end = std::string::npos;
  while ((header_end = m_in.find("\r\n\r\n")) == std::string::npos) {
    if (m_in.size() > kMaxHeaderBytes) return failure("transport.http", "HTTP header too long");
    auto n = receive_more();
    if (!n) return tl::unexpected(n.error());
    if (*n == 0) {
      return failure("transport.recv", "connection closed before a complete HTTP header from " + m_url.origin());
    }
  }
  const std::string_view head(m_in.data(), header_end);
  // Status line: HTTP/1.x SP code SP reason
  const auto line_end = head.find("\r\n");
  const std::string_view status_line = head.substr(0, line_end);
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12) {
    return failure("transport.http", "not an HTTP/1.x status line: " + std::string(status_line.substr(0, 80)));
  }
  const auto code = status_line.substr(9, 3);
  std::from_chars(code.data(), code.data() + code.size(), m_response.status);
  bool chunked = false;
  bool server_closes = status_line.starts_with("HTTP/1.0");
  long long content_length = -1;
  std::string_view rest = line_end == std::string_view::npos ? std::string_view{} : head.substr(line_end + 2);
  while (!rest.empty()) {
    const auto eol = rest.find("\r\n");
    const std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 2);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = trim(line.substr(0, colon));
    const std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "content-length")) {
      std::from_chars(value.data(), value.data() + value.size(), content_length);
    } else if (iequals(name, "transfer-encoding")) {
      chunked = contains_token(value, "chunked");
    } else if (iequals(name, "connection")) {
      if (contains_token(value, "close")) server_closes = true;
      if (contains_token(value, "keep-alive")) server_closes = false;
    } else if (iequals(name, "content-type")) {
      m_response.content_type = std::string(value);
    }
  }
  std::size_t pos = header_end + 4;
  auto need = [&](std::size_t bytes) -> Done {
    while (m_in.size() < pos + bytes) {
      if (m_in.size() > kMaxBodyBytes + kMaxHeaderBytes) return failure("transport.http", "HTTP body too long");
      auto n = receive_more();
      if (!n) return tl::unexpected(n.error());
      if (*n == 0) return failure("transport.recv", "connection closed inside an HTTP body from " + m_url.origin());
    }
    return {};
  };
  if (chunked) {
    for (int chunks = 0; chunks < 100000; ++chunks) {
      std::size_t eol = std::string::npos;
      while ((eol = m_in.find("\r\n", pos)) == std::string::npos) {
        if (auto more = need(m_in.size() - pos + 1); !more) return tl::unexpected(more.error());
      }
      std::size_t size = 0;
      const auto [end, ec] = std::from_chars(m_in.data() + pos, m_in.data() + eol, size, 16);
      if (ec != std::errc() || end == m_in.data() + pos || size > kMaxBodyBytes) {
        return failure("transport.http", "bad chunk size");
      }
      pos = eol + 2;
      if (size == 0) {
        // Trailers are not used by the servers measured; expect the final CRLF.
        if (auto more = need(2); !more) return tl::unexpected(more.error());
        break;
      }
      if (auto more = need(size + 2); !more) return tl::unexpected(more.error());
      m_response.body.append(m_in, pos, size);
      pos += size + 2;
    }
  } else if (content_length >= 0) {
    if (static_cast<unsigned long long>(content_length) > kMaxBodyBytes) {
      return failure("transport.http", "HTTP body too long");
    }
    const auto length = static_cast<std::size_t>(content_length);
    if (auto more = need(length); !more) return tl::unexpected(more.error());
    m_response.body.assign(m_in, pos, length);
  } else {
    // Neither length nor chunks: the body runs to the end of the connection.
    for (int reads = 0; reads < 100000; ++reads) {
      auto n = receive_more();
      if (!n) return tl::unexpected(n.error());
      if (*n == 0) break;
      if (m_in.size() > kMaxBodyBytes + kMaxHeaderBytes) return failure("transport.http", "HTTP body too long");
    }
    m_response.body.assign(m_in, pos);
    server_closes = true;
  }
  if (server_closes) close();
  return &m_response;
}

}  // namespace enrolld::load
