// EST simpleenroll (RFC 7030 4.2.1) over TLS, with the base64 transfer encoding of RFC 8951:
// either on one TLS connection per worker kept alive, or with a new connection and full
// handshake for every request.

#include <openssl/objects.h>
#include <openssl/pkcs7.h>

#include <chrono>
#include <optional>

#include "bench/load/cert_check.h"
#include "bench/load/http_client.h"
#include "bench/load/keys.h"
#include "bench/load/worker.h"

namespace enrolld::load {
namespace {

using Pkcs7Ptr = std::unique_ptr<::PKCS7, ossl::Deleter<::PKCS7_free>>;

class EstWorker final : public Worker {
 public:
  EstWorker(const Options& options, int index) : m_options(options), m_index(index) {}

  Done prepare() override;
  Done enroll(bool verify) override;
  std::uint64_t connects() const override { return m_http ? m_http->connects() : 0; }

 private:
  const Options& m_options;
  const int m_index;
  SslCtxPtr m_tls;
  std::optional<HttpConnection> m_http;
  std::optional<CertificateChecker> m_checker;
  std::vector<Device> m_devices;
  std::size_t m_next = 0;
  std::string m_headers;  // Authorization, when by password
};

Done EstWorker::prepare() {
  auto url = parse_url(m_options.est_url);
  if (!url) return tl::unexpected(url.error());
  url->path = "/.well-known/est/" + (m_options.est_label.empty() ? "" : m_options.est_label + "/") + "simpleenroll";
  const bool by_certificate = m_options.est_auth == EstAuth::kCertificate;
  auto tls = make_tls_client_context(m_options.tls_trust, by_certificate ? m_options.est_cert : "",
                                     by_certificate ? m_options.est_key : "");
  if (!tls) return tl::unexpected(tls.error());
  m_tls = std::move(*tls);
  m_http.emplace(*url, m_tls.get(), std::chrono::milliseconds(m_options.timeout_ms));
  if (!by_certificate) {
    const std::string credentials = m_options.est_user + ":" + m_options.est_password;
    m_headers = "Authorization: Basic " + to_base64(to_bytes(credentials)) + "\r\n";
  }
  auto checker = load_checker(m_options);
  if (!checker) return tl::unexpected(checker.error());
  m_checker = std::move(*checker);
  const int pool = key_pool_size(m_options);
  auto devices = make_devices(m_options, m_index, pool, true);
  if (!devices) return tl::unexpected(devices.error());
  m_devices = std::move(*devices);
  return {};
}

Done EstWorker::enroll(bool verify) {
  Device& device = m_devices[m_next];
  m_next = (m_next + 1) % m_devices.size();
  const bool keep_alive = m_options.scenario == Scenario::kEstKeepAlive;
  auto response = m_http->post("application/pkcs10", device.csr_base64, m_headers, keep_alive);
  if (!response) return tl::unexpected(response.error());
  const HttpResponse& reply = **response;
  if (reply.status != 200) {
    return failure("http." + std::to_string(reply.status),
                   "HTTP " + std::to_string(reply.status) + ": " + reply.body.substr(0, 200));
  }
  // RFC 7030 4.2.3: a certs-only CMC Simple PKI Response (PKCS#7 SignedData without signers).
  if (!reply.content_type.starts_with("application/pkcs7-mime")) {
    return failure("est.content-type", "answer of type " + reply.content_type);
  }
  auto der = unbase64_lenient(reply.body);
  if (!der) return tl::unexpected(der.error());
  const unsigned char* in = der->data();
  Pkcs7Ptr p7(::d2i_PKCS7(nullptr, &in, static_cast<long>(der->size())));
  if (!p7 || ::OBJ_obj2nid(p7->type) != NID_pkcs7_signed || p7->d.sign == nullptr || p7->d.sign->cert == nullptr ||
      sk_X509_num(p7->d.sign->cert) < 1) {
    return failure("est.pkcs7", "the answer is not a certs-only PKCS#7 with a certificate");
  }
  if (verify && m_checker) {
    // The issued certificate is the one with the requested key; the others (if any) are CAs.
    ::X509* issued = sk_X509_value(p7->d.sign->cert, 0);
    for (int i = 0; i < sk_X509_num(p7->d.sign->cert); ++i) {
      ::X509* candidate = sk_X509_value(p7->d.sign->cert, i);
      if (::EVP_PKEY_eq(::X509_get0_pubkey(candidate), device.key.get()) == 1) issued = candidate;
    }
    if (auto ok = m_checker->check(issued, device.key.get(), device.subject.get()); !ok) return ok;
  }
  return {};
}

}  // namespace

std::unique_ptr<Worker> make_est_worker(const Options& options, int index) {
  return std::make_unique<EstWorker>(options, index);
}

}  // namespace enrolld::load
