#include "ra/revocation_lists.h"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace enrolld::ra {

namespace {

// More than any CA here will revoke; a CRL that large would need partitioning (issue 5).
constexpr std::size_t kMaxRevokedListed = 1'000'000;

bool same_entries(const std::vector<ca::RevokedEntry>& a, const std::vector<ca::RevokedEntry>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
    return x.serial_hex == y.serial_hex && x.revoked_at == y.revoked_at && x.reason == y.reason;
  });
}

}  // namespace

RevocationLists::RevocationLists(store::Store& store, const ca::CertificateAuthority& authority,
                                 std::chrono::seconds validity, ca::Clock clock)
    : m_store(store), m_authority(authority), m_validity(validity), m_clock(std::move(clock)) {}

Result<std::vector<ca::RevokedEntry>> RevocationLists::revoked_now() {
  auto revoked = m_store.list_revoked(kMaxRevokedListed + 1);
  if (!revoked) return tl::unexpected(revoked.error());
  if (revoked->size() > kMaxRevokedListed) {
    // A CRL that left some out would say they are valid: refuse rather than mislead.
    return fail(ErrorCode::kSystemFailure, "more than " + std::to_string(kMaxRevokedListed) +
                                               " revoked certificates; this CA needs partitioned CRLs");
  }
  std::vector<ca::RevokedEntry> entries;
  entries.reserve(revoked->size());
  for (const auto& cert : *revoked) entries.push_back({cert.serial_hex, cert.revoked_at, cert.revocation_reason});
  return entries;
}

Result<RevocationList> RevocationLists::current() {
  std::lock_guard lock(m_mutex);
  auto entries = revoked_now();
  if (!entries) return tl::unexpected(entries.error());
  const auto now = std::chrono::time_point_cast<std::chrono::seconds>(m_clock());
  if (m_last && same_entries(m_last->entries, *entries) && now < m_last->crl.this_update + m_validity / 2) {
    return m_last->crl;
  }
  // At most one CRL per second: a newer CRL must say so by a later thisUpdate (RFC 9480
  // 5.3.19.17 compares it), and a thisUpdate ahead of the clock would make it "not yet valid".
  // A revocation reaches the CRL within the second.
  if (m_last && now <= m_last->crl.this_update) return m_last->crl;
  // RFC 5280 5.2.3: cRLNumber increases with every CRL. The clock's seconds keep it increasing
  // across restarts too; +1 when two CRLs fall into one second.
  const auto seconds = static_cast<std::uint64_t>(now.time_since_epoch().count());
  const std::uint64_t number = std::max(seconds, m_last ? m_last->number + 1 : 0);
  auto der = m_authority.sign_crl({*entries, now, now + m_validity, number});
  if (!der) return tl::unexpected(der.error());
  spdlog::info("crl signed number={} entries={}", number, entries->size());
  m_last = Signed{{std::move(*der), now}, std::move(*entries), number};
  return m_last->crl;
}

}  // namespace enrolld::ra
