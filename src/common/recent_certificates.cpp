#include "common/recent_certificates.h"

namespace enrolld::ossl {

Result<X509Ptr> RecentCertificates::decode(ByteView der) {
  std::string key(der.begin(), der.end());
  {
    std::lock_guard lock(m_mutex);
    if (auto found = m_certificates.find(key); found != m_certificates.end()) return up_ref(found->second.get());
  }
  auto cert = x509_from_der(der);  // outside the lock: this is the slow part
  if (!cert || der.size() > kLargestRemembered) return cert;
  std::lock_guard lock(m_mutex);
  if (m_certificates.size() >= m_limit) m_certificates.clear();
  m_certificates.emplace(std::move(key), up_ref(cert->get()));
  return cert;
}

std::size_t RecentCertificates::size() const {
  std::lock_guard lock(m_mutex);
  return m_certificates.size();
}

}  // namespace enrolld::ossl
