#pragma once
// enrollctl's side of the admin API (protocols/admin): one HTTP request to a running enrolld.

#include <string>

#include "common/error.h"

namespace enrolld::app {

struct AdminReply {
  long status = 0;
  std::string body;
};

// Sends `method` to `url` with the bearer token (and a JSON body for POST). Returns the reply
// whatever its status, or kSystemUnavailable when enrolld cannot be reached.
Result<AdminReply> admin_request(const std::string& method, const std::string& url, const std::string& token,
                                 const std::string& json_body = "");

}  // namespace enrolld::app
