#pragma once
// Certificates that came with recent requests, decoded. OpenSSL 3.0 decodes a certificate's
// public key through its decoder framework (about 1.5 million instructions) whenever it decodes
// the certificate, and a client shows the same one again and again: a CMP device signs its
// certConf with the certificate it signed its request with, an EST client shows its TLS client
// certificate with every request, a fleet's RA signs all its requests with one.

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/bytes.h"
#include "common/error.h"
#include "common/openssl_util.h"

namespace enrolld::ossl {

// Bounded: when full it starts again empty, so churn costs decodes, never memory.
// Thread-safety: safe for concurrent use.
class RecentCertificates {
 public:
  static constexpr std::size_t kLimit = 1024;
  static constexpr std::size_t kLargestRemembered = 16 * 1024;  // bytes of DER

  explicit RecentCertificates(std::size_t limit = kLimit) : m_limit(limit) {}
  // `der` decoded, from memory when it came recently; kBadDataFormat if it is no certificate.
  Result<X509Ptr> decode(ByteView der);
  std::size_t size() const;

 private:
  const std::size_t m_limit;
  mutable std::mutex m_mutex;
  std::unordered_map<std::string, X509Ptr> m_certificates;  // by DER; guarded by m_mutex
};

}  // namespace enrolld::ossl
