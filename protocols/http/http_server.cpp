#include "protocols/http/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <thread>

#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include "common/log.h"

namespace enrolld::http {

namespace {

// Per-request state, kept in MHD's con_cls from the first callback to the completion notice.
struct RequestState {
  Request request;
  const Route* route = nullptr;
  bool too_large = false;
  bool answered = false;  // a response was queued before the body (404, 405, 413)
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

std::string peer_of(MHD_Connection* connection) {
  const MHD_ConnectionInfo* info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (info == nullptr || info->client_addr == nullptr || info->client_addr->sa_family != AF_INET) return "unknown";
  const auto* in = reinterpret_cast<const sockaddr_in*>(info->client_addr);
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
  return std::string(text) + ":" + std::to_string(ntohs(in->sin_port));
}

// Set when the connection started (Impl::on_connection).
std::uint64_t connection_id_of(MHD_Connection* connection) {
  const MHD_ConnectionInfo* info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return info == nullptr ? 0 : static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(info->socket_context));
}

// The TLS session's version, the client's certificates and its channel binding value.
std::optional<TlsPeer> tls_peer_of(MHD_Connection* connection) {
  const MHD_ConnectionInfo* info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
  if (info == nullptr || info->tls_session == nullptr) return std::nullopt;
  auto* session = static_cast<gnutls_session_t>(info->tls_session);
  TlsPeer peer;
  const gnutls_protocol_t version = ::gnutls_protocol_get_version(session);
  peer.version = version == GNUTLS_TLS1_3 ? "TLS1.3" : version == GNUTLS_TLS1_2 ? "TLS1.2" : "other";
  unsigned count = 0;
  const gnutls_datum_t* certs = ::gnutls_certificate_get_peers(session, &count);
  for (unsigned i = 0; certs != nullptr && i < count; ++i) {
    peer.client_certificates.emplace_back(certs[i].data, certs[i].data + certs[i].size);
  }
  // tls-unique binds nothing without the extended master secret (the triple handshake,
  // RFC 7627): such a session has no channel binding at all.
  const bool bindable = version == GNUTLS_TLS1_3 || ::gnutls_session_ext_master_secret_status(session) != 0;
  gnutls_datum_t binding{nullptr, 0};
  const auto type = version == GNUTLS_TLS1_3 ? GNUTLS_CB_TLS_EXPORTER : GNUTLS_CB_TLS_UNIQUE;
  if (bindable && ::gnutls_session_channel_binding(session, type, &binding) == GNUTLS_E_SUCCESS) {
    peer.channel_binding.assign(binding.data, binding.data + binding.size);
    ::gnutls_free(binding.data);
  }
  return peer;
}

// libmicrohttpd reports a bad credential only as "cannot start": check it first, by name.
Status check_tls_credential(const TlsOptions& tls) {
  gnutls_certificate_credentials_t credentials = nullptr;
  if (::gnutls_certificate_allocate_credentials(&credentials) != GNUTLS_E_SUCCESS) {
    return fail(ErrorCode::kSystemFailure, "cannot allocate TLS credentials");
  }
  std::unique_ptr<gnutls_certificate_credentials_st, decltype(&::gnutls_certificate_free_credentials)> owned(
      credentials, &::gnutls_certificate_free_credentials);
  const gnutls_datum_t cert{reinterpret_cast<unsigned char*>(const_cast<char*>(tls.certificate_chain_pem.data())),
                            static_cast<unsigned>(tls.certificate_chain_pem.size())};
  const gnutls_datum_t key{reinterpret_cast<unsigned char*>(const_cast<char*>(tls.private_key_pem.data())),
                           static_cast<unsigned>(tls.private_key_pem.size())};
  if (int rc = ::gnutls_certificate_set_x509_key_mem(credentials, &cert, &key, GNUTLS_X509_FMT_PEM); rc < 0) {
    return fail(ErrorCode::kConfigInvalid,
                std::string("the TLS certificate and key do not form a credential: ") + ::gnutls_strerror(rc));
  }
  if (!tls.client_ca_pem.empty()) {
    const gnutls_datum_t trust{reinterpret_cast<unsigned char*>(const_cast<char*>(tls.client_ca_pem.data())),
                               static_cast<unsigned>(tls.client_ca_pem.size())};
    if (int rc = ::gnutls_certificate_set_x509_trust_mem(credentials, &trust, GNUTLS_X509_FMT_PEM); rc <= 0) {
      return fail(ErrorCode::kConfigInvalid, "the TLS client CA list holds no certificate");
    }
  }
  return {};
}

// The largest over-limit body read (and discarded) so that its 413 arrives intact.
constexpr unsigned long long kMaxDiscardedBodyBytes = 1024 * 1024;

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string header_value(MHD_Connection* connection, const char* name) {
  const char* value = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, name);
  return value != nullptr ? value : "";
}

}  // namespace

Response text_response(int status, std::string_view text) {
  Response response;
  response.status = status;
  response.content_type = "text/plain; charset=utf-8";
  response.body.assign(text.begin(), text.end());
  response.body.push_back('\n');
  return response;
}

struct HttpServer::Impl {
  ServerOptions options;
  std::vector<Route> routes;
  MHD_Daemon* daemon = nullptr;
  std::atomic<int> in_flight{0};
  std::uint16_t port = 0;

  const Route* find_route(std::string_view path) const {
    for (const auto& route : routes) {
      const bool prefix = !route.path.empty() && route.path.back() == '/';
      if (prefix ? path.substr(0, route.path.size()) == route.path : path == route.path) return &route;
    }
    return nullptr;
  }

  static MHD_Result queue(MHD_Connection* connection, const Response& response) {
    MHD_Response* mhd = MHD_create_response_from_buffer(
        response.body.size(), const_cast<std::uint8_t*>(response.body.data()), MHD_RESPMEM_MUST_COPY);
    if (mhd == nullptr) return MHD_NO;
    MHD_add_response_header(mhd, MHD_HTTP_HEADER_CONTENT_TYPE, response.content_type.c_str());
    for (const auto& [name, value] : response.headers) MHD_add_response_header(mhd, name.c_str(), value.c_str());
    MHD_Result result = MHD_queue_response(connection, static_cast<unsigned>(response.status), mhd);
    MHD_destroy_response(mhd);
    return result;
  }

  // Counts the response by route (not by path: a client must not make up label values) and
  // status, times the request, and queues it.
  MHD_Result respond(MHD_Connection* connection, const RequestState& state, const Response& response) const {
    if (options.metrics != nullptr) {
      const std::string route = state.route != nullptr ? state.route->path : "unrouted";
      options.metrics
          ->counter("enrolld_http_responses_total", "HTTP responses by listener, route and status",
                    {{"listener", options.listener}, {"route", route}, {"status", std::to_string(response.status)}})
          .add();
      options.metrics
          ->histogram("enrolld_http_request_seconds", "From a request's first byte to its response, by listener",
                      {{"listener", options.listener}})
          .observe(std::chrono::steady_clock::now() - state.started);
    }
    return queue(connection, response);
  }

  MHD_Result answer_early(MHD_Connection* connection, RequestState& state, const Response& response) const {
    state.answered = true;
    return respond(connection, state, response);
  }

  // First call for a request: route, method and declared size are checked before any body
  // byte is read, so a refused upload costs nothing.
  MHD_Result begin(MHD_Connection* connection, RequestState& state) {
    state.route = find_route(state.request.path);
    if (state.route == nullptr) return answer_early(connection, state, text_response(404, "no such endpoint"));
    const auto& methods = state.route->methods;
    if (std::find(methods.begin(), methods.end(), state.request.method) == methods.end()) {
      Response response = text_response(405, "method not allowed");
      std::string allow;
      for (const auto& m : methods) allow += (allow.empty() ? "" : ", ") + m;
      response.headers.emplace_back("Allow", allow);
      return answer_early(connection, state, response);
    }
    const std::string length = header_value(connection, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const unsigned long long declared = length.empty() ? 0 : std::strtoull(length.c_str(), nullptr, 10);
    if (declared > options.max_body_bytes) {
      spdlog::warn("http peer={} path={} body of {} bytes refused (limit {})", state.request.peer, state.request.path,
                   length, options.max_body_bytes);
      // A client that sends its body at once would often lose an early answer: closing with
      // unread data makes TCP reset the connection. A modest body is read and discarded, and
      // the 413 follows it; a client waiting for 100-continue, or a huge body, is answered now.
      const bool waits_for_continue =
          lower(header_value(connection, MHD_HTTP_HEADER_EXPECT)).find("100-continue") != std::string::npos;
      if (waits_for_continue || declared > kMaxDiscardedBodyBytes) {
        return answer_early(connection, state,
                            text_response(413, "request body too large; the limit is " +
                                                   std::to_string(options.max_body_bytes) + " bytes"));
      }
      state.too_large = true;
    }
    state.request.content_type = header_value(connection, MHD_HTTP_HEADER_CONTENT_TYPE);
    state.request.authorization = header_value(connection, MHD_HTTP_HEADER_AUTHORIZATION);
    return MHD_YES;
  }

  MHD_Result finish(MHD_Connection* connection, RequestState& state) {
    if (state.too_large) {
      return respond(connection, state,
                     text_response(413, "request body too large; the limit is " +
                                            std::to_string(options.max_body_bytes) + " bytes"));
    }
    Response response;
    try {
      response = state.route->handler(state.request);
    } catch (const std::exception& e) {
      // A handler must return errors as values; reaching here is a bug, but not the client's.
      spdlog::error("http path={} handler threw: {}", state.request.path, e.what());
      response = text_response(500, "internal error");
    }
    return respond(connection, state, response);
  }

  static MHD_Result on_request(void* cls, MHD_Connection* connection, const char* url, const char* method,
                               const char* /*version*/, const char* upload_data, size_t* upload_data_size,
                               void** con_cls) {
    auto* self = static_cast<Impl*>(cls);
    try {
      auto* state = static_cast<RequestState*>(*con_cls);
      if (state == nullptr) {
        state = new RequestState();
        *con_cls = state;
        self->in_flight.fetch_add(1);
        state->request.method = method;
        state->request.path = url;
        state->request.peer = peer_of(connection);
        state->request.connection_id = connection_id_of(connection);
        if (self->options.tls) state->request.tls = tls_peer_of(connection);
        return self->begin(connection, *state);
      }
      if (state->answered) {
        *upload_data_size = 0;  // already answered: discard whatever body still arrives
        return MHD_YES;
      }
      if (*upload_data_size > 0) {
        // Bodies without Content-Length (chunked) are counted here; past the limit the rest is
        // discarded, never stored, and the request is answered 413.
        if (state->too_large || state->request.body.size() + *upload_data_size > self->options.max_body_bytes) {
          state->too_large = true;
        } else {
          state->request.body.insert(state->request.body.end(), upload_data, upload_data + *upload_data_size);
        }
        *upload_data_size = 0;
        return MHD_YES;
      }
      return self->finish(connection, *state);
    } catch (...) {
      return MHD_NO;  // no exception may cross into C; MHD closes the connection
    }
  }

  static void on_completed(void* cls, MHD_Connection*, void** con_cls, MHD_RequestTerminationCode) {
    auto* self = static_cast<Impl*>(cls);
    auto* state = static_cast<RequestState*>(*con_cls);
    if (state == nullptr) return;
    delete state;
    *con_cls = nullptr;
    self->in_flight.fetch_sub(1);
  }

  // Every response goes out in one write without waiting for an ACK: Nagle's algorithm with
  // delayed ACKs stalled keep-alive CMP exchanges by 40 ms. The connection's number rides in
  // MHD's socket context (a number, not a pointer: nothing to free when it closes).
  static void on_connection(void*, MHD_Connection* connection, void** socket_context,
                            MHD_ConnectionNotificationCode code) {
    if (code != MHD_CONNECTION_NOTIFY_STARTED) return;
    static std::atomic<std::uint64_t> connections{0};
    *socket_context = reinterpret_cast<void*>(static_cast<std::uintptr_t>(connections.fetch_add(1) + 1));
    const MHD_ConnectionInfo* info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (info == nullptr) return;
    int one = 1;
    ::setsockopt(info->connect_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}

HttpServer::~HttpServer() {
  stop(std::chrono::milliseconds(0));
}

Result<std::unique_ptr<HttpServer>> HttpServer::start(const ServerOptions& options, std::vector<Route> routes) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->routes = std::move(routes);

  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(options.port);
  if (::inet_pton(AF_INET, options.bind_address.c_str(), &address.sin_addr) != 1) {
    return fail(ErrorCode::kConfigInvalid, "not an IPv4 address: " + options.bind_address);
  }
  unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
  // The TLS options go in an array so that the plain and the HTTPS listener share one call;
  // the strings live in impl->options for as long as the daemon.
  std::vector<MHD_OptionItem> tls_items;
  if (impl->options.tls) {
    const TlsOptions& tls = *impl->options.tls;
    if (auto ok = check_tls_credential(tls); !ok) return tl::unexpected(ok.error());
    flags |= MHD_USE_TLS;
    tls_items.push_back({MHD_OPTION_HTTPS_MEM_CERT, 0, const_cast<char*>(tls.certificate_chain_pem.c_str())});
    tls_items.push_back({MHD_OPTION_HTTPS_MEM_KEY, 0, const_cast<char*>(tls.private_key_pem.c_str())});
    tls_items.push_back({MHD_OPTION_HTTPS_PRIORITIES, 0, const_cast<char*>(tls.priorities.c_str())});
    // With a trust list, libmicrohttpd asks every client for a certificate (optional for it).
    if (!tls.client_ca_pem.empty()) {
      tls_items.push_back({MHD_OPTION_HTTPS_MEM_TRUST, 0, const_cast<char*>(tls.client_ca_pem.c_str())});
    }
  }
  tls_items.push_back({MHD_OPTION_END, 0, nullptr});
  impl->daemon =
      MHD_start_daemon(flags, options.port, nullptr, nullptr, &Impl::on_request, impl.get(), MHD_OPTION_SOCK_ADDR,
                       &address, MHD_OPTION_THREAD_POOL_SIZE, static_cast<unsigned>(std::max(1u, options.threads)),
                       MHD_OPTION_CONNECTION_TIMEOUT, static_cast<unsigned>(options.connection_timeout.count()),
                       MHD_OPTION_NOTIFY_COMPLETED, &Impl::on_completed, impl.get(), MHD_OPTION_NOTIFY_CONNECTION,
                       &Impl::on_connection, impl.get(), MHD_OPTION_ARRAY, tls_items.data(), MHD_OPTION_END);
  if (impl->daemon == nullptr) {
    return fail(ErrorCode::kSystemUnavailable,
                "cannot listen on " + options.bind_address + ":" + std::to_string(options.port));
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(impl->daemon, MHD_DAEMON_INFO_BIND_PORT);
  impl->port = info != nullptr ? info->port : options.port;
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

std::uint16_t HttpServer::port() const {
  return m_impl->port;
}

void HttpServer::stop(std::chrono::milliseconds drain) {
  if (m_impl->daemon == nullptr) return;
  MHD_socket listener = MHD_quiesce_daemon(m_impl->daemon);
  if (listener != MHD_INVALID_SOCKET) ::close(listener);
  const auto deadline = std::chrono::steady_clock::now() + drain;
  while (m_impl->in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  MHD_stop_daemon(m_impl->daemon);
  m_impl->daemon = nullptr;
}

}  // namespace enrolld::http
