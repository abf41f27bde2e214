#pragma once
// EST (RFC 7030, RFC 8951) on the HTTPS listener: /.well-known/est/[<label>/]<operation>.
// Maps each request to the EnrollmentService (the label selects the certificate profile) and
// each outcome to EST's HTTP answer. Authentication: a TLS client certificate (a manufacturer's
// under the configured anchors, or one this CA issued) or HTTP Basic with a stored password.

#include <map>
#include <string>
#include <vector>

#include "common/recent_certificates.h"
#include "protocols/http/http_server.h"
#include "ra/enrollment_service.h"
#include "ra/passwords.h"

namespace enrolld::est {

constexpr const char* kEstPath = "/.well-known/est/";

struct EstOptions {
  bool reenroll_same_key = true;  // simplereenroll may certify the key it already has
};

// Thread-safety: handle() may be called concurrently.
class EstServer {
 public:
  // Everything referenced must outlive the server.
  EstServer(ra::EnrollmentService& service, const ra::CertificateTrust& trust, ra::PasswordVerifier& passwords,
            EstOptions options);

  http::Response handle(const http::Request& request);

  struct Exchange;

 private:
  http::Response cacerts(const Exchange& ex);
  http::Response csrattrs(const Exchange& ex);
  http::Response enroll(Exchange& ex);
  http::Response server_keygen(Exchange& ex);
  http::Response enroll_authenticated(Exchange& ex);
  http::Response settle_one_time_secret(const Exchange& ex, http::Response response);
  http::Response server_keygen_authenticated(Exchange& ex);

  ra::EnrollmentService& m_service;
  const ra::CertificateTrust& m_trust;
  ra::PasswordVerifier& m_passwords;
  EstOptions m_options;
  // The cacerts bag of each issuing CA, by its name: the chains do not change while serving.
  const std::map<std::string, Result<Bytes>, std::less<>> m_ca_certificates;
  ossl::RecentCertificates m_recent;  // the TLS client certificates of recent requests
};

// The route that hands every EST path to `server`.
std::vector<http::Route> est_routes(EstServer& server);

}  // namespace enrolld::est
