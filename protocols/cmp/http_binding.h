#pragma once
// CMP over HTTP (RFC 6712, RFC 9811): POST application/pkixcmp to /.well-known/cmp and to
// /.well-known/cmp/p/<profile>.

#include <string>
#include <vector>

#include "protocols/cmp/cmp_server.h"
#include "protocols/http/http_server.h"

namespace enrolld::cmp {

// Another exact path that answers CMP, selecting `profile` (empty: the default).
struct HttpAlias {
  std::string path;
  std::string profile;
};

// The routes serving `server`, which must outlive them: the well-known paths and `aliases`.
std::vector<http::Route> http_routes(CmpServer& server, const std::vector<HttpAlias>& aliases = {});

}  // namespace enrolld::cmp
