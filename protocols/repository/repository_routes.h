#pragma once
// The certificate repository that relying parties read over plain HTTP (RFC 5280 4.2.1.13 CRL
// distribution points, 4.2.2.1 authority information access):
//   GET /repo/issuing.crl   the issuing CA's current CRL   (application/pkix-crl, DER)
//   GET /repo/issuing-delta.crl  its delta CRL, when delta CRLs are on (404 otherwise)
//   GET /repo/issuing.crt   the issuing CA certificate     (application/pkix-cert, DER)
//   GET /repo/root.crt      the root CA certificate        (application/pkix-cert, DER)
//   POST /ocsp, GET /ocsp/<base64 request>   the OCSP responder (RFC 6960 Appendix A)

#include <vector>

#include "protocols/http/http_server.h"
#include "ra/enrollment_service.h"

namespace enrolld::repository {

inline constexpr const char* kCrlPath = "/repo/issuing.crl";
inline constexpr const char* kDeltaCrlPath = "/repo/issuing-delta.crl";
inline constexpr const char* kIssuingCaPath = "/repo/issuing.crt";
inline constexpr const char* kOcspPath = "/ocsp";
inline constexpr const char* kRootCaPath = "/repo/root.crt";

// `service` and `status` must outlive the routes.
std::vector<http::Route> repository_routes(ra::EnrollmentService& service, ra::StatusResponder& status);

}  // namespace enrolld::repository
