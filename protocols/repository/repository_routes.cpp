#include "protocols/repository/repository_routes.h"

#include <spdlog/spdlog.h>

namespace enrolld::repository {

namespace {

// Relying parties and caches in front of us may keep a CRL this long; a new one is signed
// within seconds of a revocation, so this bounds how late they learn of it.
constexpr const char* kCrlCacheControl = "max-age=60";
constexpr const char* kRetryAfterSeconds = "30";

http::Response der_response(const char* content_type, Bytes der, const char* cache_control) {
  http::Response response;
  response.content_type = content_type;
  response.body = std::move(der);
  response.headers.emplace_back("Cache-Control", cache_control);
  return response;
}

http::Response unavailable(const http::Request& request, const Error& error) {
  spdlog::warn("repository peer={} path={} CRL unavailable: {}", request.peer, request.path, error.message);
  http::Response response = http::text_response(503, "the CRL cannot be produced right now; try again");
  response.headers.emplace_back("Retry-After", kRetryAfterSeconds);
  return response;
}

http::Response crl(ra::EnrollmentService& service, const http::Request& request) {
  auto current = service.current_crl();
  if (!current) return unavailable(request, current.error());
  return der_response("application/pkix-crl", std::move(current->der), kCrlCacheControl);
}

http::Response delta_crl(ra::EnrollmentService& service, const http::Request& request) {
  auto current = service.current_delta_crl();
  if (!current) return unavailable(request, current.error());
  if (!*current) return http::text_response(404, "this CA publishes no delta CRLs");
  return der_response("application/pkix-crl", std::move((*current)->der), kCrlCacheControl);
}

}  // namespace

std::vector<http::Route> repository_routes(ra::EnrollmentService& service) {
  return {
      {kCrlPath, {"GET"}, [&service](const http::Request& r) { return crl(service, r); }},
      {kDeltaCrlPath, {"GET"}, [&service](const http::Request& r) { return delta_crl(service, r); }},
      {kIssuingCaPath,
       {"GET"},
       [&service](const http::Request&) {
         return der_response("application/pkix-cert", service.ca_chain().front(), "max-age=86400");
       }},
      {kRootCaPath,
       {"GET"},
       [&service](const http::Request&) {
         return der_response("application/pkix-cert", service.ca_chain().back(), "max-age=86400");
       }},
  };
}

}  // namespace enrolld::repository
