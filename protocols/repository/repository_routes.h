#pragma once
// The certificate repository that relying parties read over plain HTTP (RFC 5280 4.2.1.13 CRL
// distribution points, 4.2.2.1 authority information access), for each issuing CA by its name
// ("issuing" for the first):
//   GET /repo/<name>.crl        the CA's current CRL   (application/pkix-crl, DER)
//   GET /repo/<name>-delta.crl  its delta CRL, when delta CRLs are on (404 otherwise)
//   GET /repo/<name>.crt        the CA certificate     (application/pkix-cert, DER)
//   GET /repo/root.crt          the first CA's root    (application/pkix-cert, DER)
//   GET /repo/<name>-root.crt   the CA's root, when it is not the first CA's
//   POST /ocsp, GET /ocsp/<base64 request>   the OCSP responder of every CA (RFC 6960 Appendix A)

#include <string>
#include <vector>

#include "protocols/http/http_server.h"
#include "ra/enrollment_service.h"

namespace enrolld::repository {

inline constexpr const char* kCrlPath = "/repo/issuing.crl";  // the first CA's
inline constexpr const char* kDeltaCrlPath = "/repo/issuing-delta.crl";
inline constexpr const char* kIssuingCaPath = "/repo/issuing.crt";
inline constexpr const char* kOcspPath = "/ocsp";
inline constexpr const char* kRootCaPath = "/repo/root.crt";

// The name the repository and the publishers give the root of `cas[index]`: "root" for the
// first CA's, "<name>-root" for another; empty when it is the first CA's root (published once).
std::string root_name(const std::vector<ra::IssuingCaInfo>& cas, std::size_t index);

// `service` and `status` must outlive the routes.
std::vector<http::Route> repository_routes(ra::EnrollmentService& service, ra::StatusResponder& status);

}  // namespace enrolld::repository
