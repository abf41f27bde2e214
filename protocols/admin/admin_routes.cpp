#include "protocols/admin/admin_routes.h"

#include <openssl/crypto.h>

#include <nlohmann/json.hpp>

#include "common/log.h"

namespace enrolld::admin {

namespace {

constexpr const char* kPending = "/admin/pending";
constexpr const char* kTransactions = "/admin/transactions/";
constexpr const char* kEstUsers = "/admin/est/users";
constexpr const char* kCertificates = "/admin/certificates/";
constexpr const char* kStatus = "/admin/status";
constexpr std::size_t kPendingLimit = 10'000;
constexpr std::size_t kUsersLimit = 100'000;
constexpr std::size_t kGeneratedPasswordBytes = 18;  // 24 base64 characters

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
    case ErrorCode::kNotFound: status = 404; break;
    case ErrorCode::kBadDataFormat: status = 400; break;
    case ErrorCode::kUnsupportedRequest: status = 400; break;
    case ErrorCode::kCertRevoked: status = 409; break;
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

http::Response list_users(ra::PasswordAdministration& passwords) {
  auto users = passwords.users(kUsersLimit);
  if (!users) return error_response(users.error());
  json list = json::array();
  for (const auto& u : *users) {
    list.push_back({{"user", u.user},
                    {"profile", u.profile},
                    {"one_time", u.one_time},
                    {"used", u.used},
                    {"created_at", u.created_at}});
  }
  return json_response(200, list);
}

// A password nobody chose: random, URL- and shell-safe.
std::string generated_password() {
  std::string text;
  for (std::uint8_t byte : random_bytes(kGeneratedPasswordBytes)) {
    static constexpr char kAlphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    text.push_back(kAlphabet[byte % (sizeof kAlphabet - 1)]);
  }
  return text;
}

// POST /admin/est/users {"user", "password"?, "profile"?, "one_time"?}: sets the user's password
// (a generated one when none is given) and answers with it, once.
http::Response set_user(ra::PasswordAdministration& passwords, const http::Request& request) {
  json body = json::parse(request.body.begin(), request.body.end(), nullptr, false);
  auto is_optional = [&body](const char* key, bool (json::*type)() const noexcept) {
    return !body.contains(key) || (body[key].*type)();
  };
  if (!body.is_object() || !body.contains("user") || !body["user"].is_string() ||
      !is_optional("password", &json::is_string) || !is_optional("profile", &json::is_string) ||
      !is_optional("one_time", &json::is_boolean)) {
    return json_response(400, {{"error",
                                "the body must be JSON with \"user\" and optionally \"password\", "
                                "\"profile\", \"one_time\""}});
  }
  const std::string user = body["user"];
  std::string password = body.value("password", "");
  const bool generated = password.empty();
  if (generated) password = generated_password();
  Status done = passwords.set_password(user, password, body.value("profile", ""), body.value("one_time", false));
  if (!done) return error_response(done.error());
  json answer = {{"user", user}};
  if (generated) answer["password"] = password;
  ::OPENSSL_cleanse(password.data(), password.size());
  return json_response(201, answer);
}

http::Response remove_user(ra::PasswordAdministration& passwords, const http::Request& request) {
  const std::string prefix = std::string(kEstUsers) + "/";
  if (request.path.size() <= prefix.size() || request.path.compare(0, prefix.size(), prefix) != 0) {
    return json_response(404, {{"error", "use DELETE /admin/est/users/<user>"}});
  }
  Status done = passwords.remove_user(request.path.substr(prefix.size()));
  if (!done) return error_response(done.error());
  return json_response(200, {{"removed", request.path.substr(prefix.size())}});
}

// POST /admin/certificates/<serial>/revoke {"officer", "reason"}.
http::Response revoke(ra::RevocationAdministration& revocations, const http::Request& request) {
  const std::string rest = request.path.substr(std::string_view(kCertificates).size());
  const auto slash = rest.find('/');
  const std::string serial = rest.substr(0, slash);
  if (serial.empty() || serial.find_first_not_of("0123456789abcdef") != std::string::npos ||
      slash == std::string::npos || rest.substr(slash + 1) != "revoke") {
    return json_response(404, {{"error", "use /admin/certificates/<lower-case hex serial>/revoke"}});
  }
  const json body = json::parse(request.body.begin(), request.body.end(), nullptr, false);
  const bool typed = body.is_object() && body.contains("officer") && body["officer"].is_string() &&
                     body.contains("reason") && body["reason"].is_string();
  const std::string officer = typed ? body["officer"].get<std::string>() : "";
  if (officer.empty()) {
    return json_response(400, {{"error", "the body must be JSON with \"officer\" and \"reason\" (strings)"}});
  }
  const auto reason = revocation_reason(body["reason"].get<std::string>());
  if (!reason) {
    return json_response(400, {{"error",
                                "unknown reason; use unspecified, keyCompromise, cACompromise, affiliationChanged, "
                                "superseded, cessationOfOperation, certificateHold, removeFromCRL, "
                                "privilegeWithdrawn or aACompromise"}});
  }
  if (Status done = revocations.revoke_by_officer(serial, *reason, officer); !done) return error_response(done.error());
  return json_response(200, {{"serial", serial}, {"reason", body["reason"]}});
}

http::Response status_report(ra::OperationsReport& operations) {
  auto report = operations.report();
  if (!report) return error_response(report.error());
  json cas = json::array();
  for (const auto& ca : report->cas) cas.push_back({{"subject", ca.subject}, {"not_after", ca.not_after}});
  json crls = json::array();
  for (const auto& crl : report->crls) {
    crls.push_back({{"kind", crl.kind},
                    {"number", crl.number},
                    {"this_update", crl.this_update},
                    {"next_update", crl.next_update}});
  }
  json publishers = json::array();
  for (const auto& p : report->publishers) {
    publishers.push_back({{"name", p.name},
                          {"waiting", p.waiting},
                          {"oldest_created_at", p.oldest_created_at},
                          {"attempts", p.attempts},
                          {"last_error", p.last_error}});
  }
  const json hsm = {{"module", report->hsm.module},
                    {"token", report->hsm.token},
                    {"signs", report->hsm.signs},
                    {"sign_micros", report->hsm.sign_micros},
                    {"error", report->hsm.error}};
  const json store = {{"path", report->store.path},
                      {"reads", report->store.reads},
                      {"estimated_records", report->store.estimated_records},
                      {"size_bytes", report->store.size_bytes},
                      {"error", report->store.error}};
  return json_response(200, {{"version", report->version},
                             {"cas", cas},
                             {"hsm", hsm},
                             {"store", store},
                             {"crls", crls},
                             {"publishers", publishers},
                             {"pending_approvals", report->pending_approvals}});
}

http::Response readiness(ra::OperationsReport& operations) {
  if (auto ready = operations.readiness(); !ready) {
    spdlog::warn("readyz: not ready: {}", ready.error().message);
    return http::text_response(503, "not ready: " + ready.error().message);
  }
  return http::text_response(200, "ready");
}

http::Response metrics_text(const Metrics& metrics) {
  http::Response response;
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  const std::string text = metrics.render();
  response.body.assign(text.begin(), text.end());
  return response;
}

}  // namespace

std::optional<int> revocation_reason(std::string_view name) {
  // RFC 5280 5.3.1 CRLReason; 7 is not used.
  static constexpr std::pair<std::string_view, int> kReasons[] = {
      {"unspecified", 0},        {"keyCompromise", 1},        {"cACompromise", 2},    {"affiliationChanged", 3},
      {"superseded", 4},         {"cessationOfOperation", 5}, {"certificateHold", 6}, {"removeFromCRL", 8},
      {"privilegeWithdrawn", 9}, {"aACompromise", 10}};
  for (const auto& [known, code] : kReasons) {
    if (known == name) return code;
  }
  return std::nullopt;
}

std::vector<http::Route> admin_routes(AdminServices services, std::string token) {
  ra::ApprovalQueue& queue = services.queue;
  ra::PasswordAdministration& passwords = services.passwords;
  ra::RevocationAdministration& revocations = services.revocations;
  ra::OperationsReport& operations = services.operations;
  const Metrics& metrics = services.metrics;
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
      {kEstUsers, {"GET", "POST"}, guard([&passwords](const http::Request& r) {
         return r.method == "GET" ? list_users(passwords) : set_user(passwords, r);
       })},
      {std::string(kEstUsers) + "/", {"DELETE"}, guard([&passwords](const http::Request& r) {
         return remove_user(passwords, r);
       })},
      {kCertificates, {"POST"}, guard([&revocations](const http::Request& r) { return revoke(revocations, r); })},
      {kStatus, {"GET"}, guard([&operations](const http::Request&) { return status_report(operations); })},
      {"/healthz", {"GET"}, [](const http::Request&) { return http::text_response(200, "ok"); }},
      {"/readyz", {"GET"}, [&operations](const http::Request&) { return readiness(operations); }},
      {"/metrics", {"GET"}, [&metrics](const http::Request&) { return metrics_text(metrics); }},
  };
}

}  // namespace enrolld::admin
