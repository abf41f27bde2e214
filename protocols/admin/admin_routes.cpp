#include "protocols/admin/admin_routes.h"

#include <openssl/crypto.h>

#include <nlohmann/json.hpp>

#include "common/log.h"

namespace enrolld::admin {

namespace {

constexpr const char* kPending = "/admin/pending";
constexpr const char* kTransactions = "/admin/transactions/";
constexpr std::size_t kPendingLimit = 10'000;

using nlohmann::json;

bool authorized(const http::Request& request, const std::string& token) {
  const std::string expected = "Bearer " + token;
  return request.authorization.size() == expected.size() &&
         ::CRYPTO_memcmp(request.authorization.data(), expected.data(), expected.size()) == 0;
}

http::Response json_response(int status, const json& body) {
  http::Response response;
  response.status = status;
  response.content_type = "application/json";
  const std::string text = body.dump();
  response.body.assign(text.begin(), text.end());
  return response;
}

http::Response error_response(const Error& error) {
  int status = 500;
  switch (error.code) {
    case ErrorCode::kUnknownTransaction: status = 404; break;
    case ErrorCode::kUnexpectedMessage: status = 409; break;
    case ErrorCode::kSystemUnavailable: status = 503; break;
    default: break;
  }
  return json_response(status, {{"error", error.message}});
}

http::Response list_pending(ra::ApprovalQueue& queue) {
  auto pending = queue.pending(kPendingLimit);
  if (!pending) return error_response(pending.error());
  json list = json::array();
  for (const auto& p : *pending) {
    list.push_back({{"transaction", p.transaction_id_hex},
                    {"protocol", p.protocol},
                    {"requester", p.requester},
                    {"profile", p.profile},
                    {"subject", p.subject},
                    {"state", p.state},
                    {"created_at", p.created_at}});
  }
  return json_response(200, list);
}

// POST /admin/transactions/<id>/<approve|reject> with a JSON body naming the officer.
http::Response decide(ra::ApprovalQueue& queue, const http::Request& request) {
  const std::string rest = request.path.substr(std::string_view(kTransactions).size());
  const auto slash = rest.find('/');
  const std::string id = rest.substr(0, slash);
  const std::string action = slash == std::string::npos ? "" : rest.substr(slash + 1);
  if (id.empty() || id.find_first_not_of("0123456789abcdef") != std::string::npos ||
      (action != "approve" && action != "reject")) {
    return json_response(404, {{"error", "use /admin/transactions/<hex id>/approve or /reject"}});
  }
  const json body = json::parse(request.body.begin(), request.body.end(), nullptr, false);
  const std::string officer = body.is_object() ? body.value("officer", "") : "";
  const std::string reason = body.is_object() ? body.value("reason", "") : "";
  if (officer.empty()) return json_response(400, {{"error", "the body must be JSON naming the \"officer\""}});
  if (action == "reject" && reason.empty()) {
    return json_response(400, {{"error", "a rejection needs a \"reason\" for the requester"}});
  }
  Status done = action == "approve" ? queue.approve(id, officer) : queue.reject(id, officer, reason);
  if (!done) return error_response(done.error());
  return json_response(200, {{"transaction", id}, {"decision", action == "approve" ? "approved" : "rejected"}});
}

}  // namespace

std::vector<http::Route> admin_routes(ra::ApprovalQueue& queue, std::string token) {
  auto guard = [token = std::move(token)](http::Handler handler) -> http::Handler {
    return [token, handler = std::move(handler)](const http::Request& request) {
      if (!authorized(request, token)) {
        spdlog::warn("admin peer={} path={} refused: no valid bearer token", request.peer, request.path);
        auto response = json_response(401, {{"error", "present the admin token as 'Authorization: Bearer <token>'"}});
        response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"enrolld-admin\"");
        return response;
      }
      return handler(request);
    };
  };
  return {
      {kPending, {"GET"}, guard([&queue](const http::Request&) { return list_pending(queue); })},
      {kTransactions, {"POST"}, guard([&queue](const http::Request& r) { return decide(queue, r); })},
  };
}

}  // namespace enrolld::admin
