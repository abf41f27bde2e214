#pragma once
// The operator's API on the admin listener (loopback by default), which enrollctl calls:
//   GET  /admin/pending                         requests held for approval (JSON)
//   POST /admin/transactions/<id>/approve       {"officer": "..."}
//   POST /admin/transactions/<id>/reject        {"officer": "...", "reason": "..."}
// Every route needs "Authorization: Bearer <token>" with the token from [admin] token_file.

#include <string>
#include <vector>

#include "protocols/http/http_server.h"
#include "ra/enrollment_service.h"

namespace enrolld::admin {

// `queue` must outlive the routes.
std::vector<http::Route> admin_routes(ra::ApprovalQueue& queue, std::string token);

}  // namespace enrolld::admin
