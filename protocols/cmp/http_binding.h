#pragma once
// CMP over HTTP (RFC 6712, RFC 9811): POST application/pkixcmp to /.well-known/cmp and to
// /.well-known/cmp/p/<profile>.

#include <vector>

#include "protocols/cmp/cmp_server.h"
#include "protocols/http/http_server.h"

namespace enrolld::cmp {

// The routes serving `server`, which must outlive them.
std::vector<http::Route> http_routes(CmpServer& server);

}  // namespace enrolld::cmp
