#include "protocols/http/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

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
};

std::string peer_of(MHD_Connection* connection) {
  const MHD_ConnectionInfo* info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (info == nullptr || info->client_addr == nullptr || info->client_addr->sa_family != AF_INET) return "unknown";
  const auto* in = reinterpret_cast<const sockaddr_in*>(info->client_addr);
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
  return std::string(text) + ":" + std::to_string(ntohs(in->sin_port));
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

  static MHD_Result answer_early(MHD_Connection* connection, RequestState& state, const Response& response) {
    state.answered = true;
    return queue(connection, response);
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
    if (!length.empty() && std::strtoull(length.c_str(), nullptr, 10) > options.max_body_bytes) {
      spdlog::warn("http peer={} path={} body of {} bytes refused (limit {})", state.request.peer, state.request.path,
                   length, options.max_body_bytes);
      return answer_early(connection, state,
                          text_response(413, "request body too large; the limit is " +
                                                 std::to_string(options.max_body_bytes) + " bytes"));
    }
    state.request.content_type = header_value(connection, MHD_HTTP_HEADER_CONTENT_TYPE);
    state.request.authorization = header_value(connection, MHD_HTTP_HEADER_AUTHORIZATION);
    return MHD_YES;
  }

  MHD_Result finish(MHD_Connection* connection, RequestState& state) {
    if (state.too_large) {
      return queue(connection, text_response(413, "request body too large; the limit is " +
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
    return queue(connection, response);
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
        return self->begin(connection, *state);
      }
      if (state->answered) {
        *upload_data_size = 0;  // already answered: discard whatever body still arrives
        return MHD_YES;
      }
      if (*upload_data_size > 0) {
        // Bodies without Content-Length (chunked) are counted here; past the limit the rest is
        // discarded, never stored, and the request is answered 413.
        if (state->request.body.size() + *upload_data_size > self->options.max_body_bytes) {
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
  // delayed ACKs stalled keep-alive CMP exchanges by 40 ms.
  static void on_connection(void*, MHD_Connection* connection, void**, MHD_ConnectionNotificationCode code) {
    if (code != MHD_CONNECTION_NOTIFY_STARTED) return;
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
  const unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
  impl->daemon = MHD_start_daemon(
      flags, options.port, nullptr, nullptr, &Impl::on_request, impl.get(), MHD_OPTION_SOCK_ADDR, &address,
      MHD_OPTION_THREAD_POOL_SIZE, static_cast<unsigned>(std::max(1u, options.threads)), MHD_OPTION_CONNECTION_TIMEOUT,
      static_cast<unsigned>(options.connection_timeout.count()), MHD_OPTION_NOTIFY_COMPLETED, &Impl::on_completed,
      impl.get(), MHD_OPTION_NOTIFY_CONNECTION, &Impl::on_connection, impl.get(), MHD_OPTION_END);
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
