#include "protocols/repository/repository_routes.h"

#include <spdlog/spdlog.h>

namespace enrolld::repository {

namespace {

// Relying parties and caches in front of us may keep a CRL this long; a new one is signed
// within seconds of a revocation, so this bounds how late they learn of it.
constexpr const char* kCrlCacheControl = "max-age=60";
constexpr const char* kRetryAfterSeconds = "30";
// The same bound for a status answer: a response is signed afresh on the next revocation.
constexpr const char* kOcspCacheControl = "max-age=60";

http::Response der_response(const char* content_type, Bytes der, const char* cache_control) {
  http::Response response;
  response.content_type = content_type;
  response.body = std::move(der);
  response.headers.emplace_back("Cache-Control", cache_control);
  return response;
}

http::Response unavailable(const http::Request& request, const Error& error) {
  // The HSM or the store may come back: 503. Anything else (a broken invariant) will not.
  if (error.code != ErrorCode::kSystemUnavailable) {
    spdlog::error("repository peer={} path={} CRL failed: {}", request.peer, request.path, error.message);
    return http::text_response(500, "the CRL cannot be produced; the operator has to look at the log");
  }
  spdlog::warn("repository peer={} path={} CRL unavailable: {}", request.peer, request.path, error.message);
  http::Response response = http::text_response(503, "the CRL cannot be produced right now; try again");
  response.headers.emplace_back("Retry-After", kRetryAfterSeconds);
  return response;
}

http::Response crl(ra::EnrollmentService& service, const std::string& ca_name, const http::Request& request) {
  auto current = service.current_crl(ca_name);
  if (!current) return unavailable(request, current.error());
  return der_response("application/pkix-crl", std::move(current->der), kCrlCacheControl);
}

http::Response delta_crl(ra::EnrollmentService& service, const std::string& ca_name, const http::Request& request) {
  auto current = service.current_delta_crl(ca_name);
  if (!current) return unavailable(request, current.error());
  if (!*current) return http::text_response(404, "this CA publishes no delta CRLs");
  return der_response("application/pkix-crl", std::move((*current)->der), kCrlCacheControl);
}

// RFC 6960 A.1: "An OCSP request using the GET method is constructed as follows: GET {url}/{url-
// encoding of base64 encoding of the DER encoding of the OCSPRequest}". The HTTP front has
// undone the URL encoding; what is not base64 goes on as no request, answered malformedRequest.
Bytes get_request_der(const http::Request& request) {
  const std::string encoded = request.path.substr(std::string_view(kOcspPath).size() + 1);
  return from_base64(encoded).value_or(Bytes());
}

http::Response ocsp(ra::StatusResponder& status, const http::Request& request) {
  const bool get = request.method == "GET";
  if (!get && request.content_type != "application/ocsp-request") {
    return http::text_response(415, "an OCSP request is POSTed as application/ocsp-request (RFC 6960 A.1)");
  }
  ra::OcspReply reply = status.answer(get ? ByteView(get_request_der(request)) : ByteView(request.body));
  if (!reply.successful) spdlog::warn("ocsp peer={} answered without status: {}", request.peer, reply.problem);
  http::Response response;
  response.content_type = "application/ocsp-response";
  response.body = std::move(reply.der);
  // RFC 5019 6.2: GET responses may be cached; the responder signs afresh well before nextUpdate.
  if (get && reply.successful) response.headers.emplace_back("Cache-Control", kOcspCacheControl);
  return response;
}

// A certificate that does not change while serving.
http::Route certificate_route(std::string path, const Bytes& der) {
  return {std::move(path), {"GET"}, [&der](const http::Request&) {
            return der_response("application/pkix-cert", der, "max-age=86400");
          }};
}

}  // namespace

std::string root_name(const std::vector<ra::IssuingCaInfo>& cas, std::size_t index) {
  if (index == 0) return "root";
  return cas[index].chain.back() == cas.front().chain.back() ? std::string() : cas[index].name + "-root";
}

std::vector<http::Route> repository_routes(ra::EnrollmentService& service, ra::StatusResponder& status) {
  std::vector<http::Route> routes = {
      {kOcspPath, {"POST"}, [&status](const http::Request& r) { return ocsp(status, r); }},
      {std::string(kOcspPath) + "/", {"GET"}, [&status](const http::Request& r) { return ocsp(status, r); }},
  };
  const auto& cas = service.issuing_cas();
  for (std::size_t i = 0; i < cas.size(); ++i) {
    const ra::IssuingCaInfo& ca = cas[i];
    const std::string name = ca.name;
    routes.push_back({"/repo/" + name + ".crl", {"GET"}, [&service, name](const http::Request& r) {
                        return crl(service, name, r);
                      }});
    routes.push_back({"/repo/" + name + "-delta.crl", {"GET"}, [&service, name](const http::Request& r) {
                        return delta_crl(service, name, r);
                      }});
    routes.push_back(certificate_route("/repo/" + name + ".crt", ca.chain.front()));
    const std::string root = root_name(cas, i);
    if (!root.empty()) routes.push_back(certificate_route("/repo/" + root + ".crt", ca.chain.back()));
  }
  return routes;
}

}  // namespace enrolld::repository
