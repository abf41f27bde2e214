#include "protocols/cmp/http_binding.h"

#include <algorithm>
#include <cctype>

namespace enrolld::cmp {

namespace {

constexpr const char* kContentType = "application/pkixcmp";
constexpr const char* kWellKnown = "/.well-known/cmp";
constexpr const char* kProfilePrefix = "/.well-known/cmp/p/";

bool is_pkixcmp(std::string_view content_type) {
  std::string base(content_type.substr(0, content_type.find(';')));
  base.erase(std::remove_if(base.begin(), base.end(), [](unsigned char c) { return std::isspace(c); }), base.end());
  std::transform(base.begin(), base.end(), base.begin(), [](unsigned char c) { return std::tolower(c); });
  return base == kContentType;
}

bool is_profile_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '_' || c == '.';
  });
}

http::Response serve(CmpServer& server, const http::Request& request, std::string profile) {
  if (!is_pkixcmp(request.content_type)) {
    return http::text_response(415, "CMP requests must have Content-Type application/pkixcmp (RFC 6712)");
  }
  auto reply = server.handle(request.body, CmpRequestContext{std::move(profile), request.peer});
  if (!reply) {
    const bool client_fault = reply.error().code == ErrorCode::kBadDataFormat;
    return http::text_response(client_fault ? 400 : 500, reply.error().message);
  }
  http::Response response;
  response.content_type = kContentType;
  response.body = std::move(*reply);
  response.headers.emplace_back("Cache-Control", "no-cache");
  return response;
}

}  // namespace

std::vector<http::Route> http_routes(CmpServer& server, const std::vector<HttpAlias>& aliases) {
  std::vector<http::Route> routes = {
      {kWellKnown, {"POST"}, [&server](const http::Request& r) { return serve(server, r, ""); }},
      {kProfilePrefix,
       {"POST"},
       [&server](const http::Request& r) {
         std::string profile = r.path.substr(std::string_view(kProfilePrefix).size());
         if (!is_profile_name(profile)) return http::text_response(404, "no such CMP profile path");
         return serve(server, r, std::move(profile));
       }},
  };
  for (const auto& alias : aliases) {
    routes.push_back({alias.path, {"POST"}, [&server, profile = alias.profile](const http::Request& r) {
                        return serve(server, r, profile);
                      }});
  }
  return routes;
}

}  // namespace enrolld::cmp
