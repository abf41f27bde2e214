#pragma once
// The operator's API on the admin listener (loopback by default), which enrollctl calls:
//   GET  /admin/pending                         requests held for approval (JSON)
//   POST /admin/transactions/<id>/approve       {"officer": "..."}
//   POST /admin/transactions/<id>/reject        {"officer": "...", "reason": "..."}
//   GET  /admin/est/users                       EST users (HTTP Basic), without their hashes
//   POST /admin/est/users                       {"user", "password"?, "profile"?, "one_time"?}
//   DELETE /admin/est/users/<user>
//   POST /admin/certificates/<serial>/revoke    {"officer": "...", "reason": "keyCompromise"}
//        (an RFC 5280 reason name; certificateHold suspends, removeFromCRL lifts a hold)
//   GET  /admin/status                          version, CAs, CRLs, publisher backlog, pending
// Every route above needs "Authorization: Bearer <token>" with the token from [admin] token_file.
// For monitoring, without a token (they tell nothing secret; the listener is loopback by default):
//   GET  /healthz   200 while the process serves
//   GET  /readyz    200 when the store reads and the HSM signs, else 503 saying which fails
//   GET  /metrics   Prometheus text format

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/metrics.h"
#include "protocols/http/http_server.h"
#include "ra/enrollment_service.h"
#include "ra/passwords.h"

namespace enrolld::admin {

// The RFC 5280 CRLReason that `name` ("keyCompromise", ...) spells, or nullopt.
std::optional<int> revocation_reason(std::string_view name);

// What the admin routes act on; each must outlive the routes.
struct AdminServices {
  ra::ApprovalQueue& queue;
  ra::PasswordAdministration& passwords;
  ra::RevocationAdministration& revocations;
  ra::OperationsReport& operations;
  const Metrics& metrics;
};

std::vector<http::Route> admin_routes(AdminServices services, std::string token);

}  // namespace enrolld::admin
