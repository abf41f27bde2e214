#include "ra/revocation_lists.h"

#include <algorithm>
#include <set>

#include <spdlog/spdlog.h>

namespace enrolld::ra {

namespace {

// More than any CA here will revoke; a CRL that large would need partitioning.
constexpr std::size_t kMaxRevokedListed = 1'000'000;
constexpr const char* kFull = "full";
constexpr const char* kDelta = "delta";
constexpr std::uint64_t kNeverChecked = ~std::uint64_t{0};

using TimePoint = std::chrono::system_clock::time_point;

std::int64_t seconds_of(TimePoint at) {
  return std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count();
}

TimePoint time_of(std::int64_t seconds) {
  return TimePoint(std::chrono::seconds(seconds));
}

// Identifies what a CRL lists, so that a restarted process knows whether its stored CRL is
// still up to date without parsing it.
Bytes digest_of(const std::vector<ca::RevokedEntry>& entries) {
  std::string text;
  for (const auto& entry : entries) {
    text += entry.serial_hex + ' ' + std::to_string(entry.revoked_at) + ' ' + std::to_string(entry.reason) + '\n';
  }
  return ossl::sha256(to_bytes(text));
}

std::vector<ca::RevokedEntry> full_entries(const std::vector<store::CertificateRecord>& records) {
  std::vector<ca::RevokedEntry> entries;
  for (const auto& cert : records) {
    if (cert.status == "revoked") entries.push_back({cert.serial_hex, cert.revoked_at, cert.revocation_reason});
  }
  return entries;
}

std::string key_of(const ca::RevokedEntry& entry) {
  return entry.serial_hex + ' ' + std::to_string(entry.revoked_at) + ' ' + std::to_string(entry.reason);
}

// RFC 5280 5.2.4: a delta CRL lists what changed since its base, the full CRL it names: entries
// the base lacks or lists otherwise, and removeFromCRL for entries of the base that are no longer
// revoked (a lifted hold, 5.3.1). Computed from the base's own entries, not from timestamps, so a
// change committed while the base was being signed is never lost.
// A hold lifted since the base was signed is listed as removeFromCRL too, though the base does
// not list it: a client that kept an earlier delta (which listed the hold) learns it ended.
std::vector<ca::RevokedEntry> delta_entries(const std::vector<ca::RevokedEntry>& base,
                                            const std::vector<ca::RevokedEntry>& now_revoked,
                                            const std::vector<store::CertificateRecord>& records,
                                            std::int64_t base_this_update, std::int64_t now) {
  std::set<std::string> in_base;
  std::set<std::string> base_serials;
  for (const auto& entry : base) {
    in_base.insert(key_of(entry));
    base_serials.insert(entry.serial_hex);
  }
  std::vector<ca::RevokedEntry> entries;
  std::set<std::string> revoked_serials;
  for (const auto& entry : now_revoked) {
    revoked_serials.insert(entry.serial_hex);
    if (!in_base.contains(key_of(entry))) entries.push_back(entry);
  }
  for (const auto& cert : records) {
    if (revoked_serials.contains(cert.serial_hex)) continue;
    const bool left_the_base = base_serials.contains(cert.serial_hex);
    const bool released_since = cert.hold_released_at != 0 && cert.hold_released_at >= base_this_update;
    if (left_the_base || released_since) {
      entries.push_back(
          {cert.serial_hex, cert.hold_released_at != 0 ? cert.hold_released_at : now, ca::kReasonRemoveFromCrl});
    }
  }
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.serial_hex < b.serial_hex; });
  return entries;
}

using CrlPtr = std::unique_ptr<::X509_CRL, ossl::Deleter<::X509_CRL_free>>;

// What a stored CRL lists, for a restarted process to compute deltas against it.
std::vector<ca::RevokedEntry> entries_of(const Bytes& der) {
  std::vector<ca::RevokedEntry> entries;
  const unsigned char* p = der.data();
  CrlPtr crl(::d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
  const STACK_OF(X509_REVOKED)* revoked = crl ? ::X509_CRL_get_REVOKED(crl.get()) : nullptr;
  for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
    const ::X509_REVOKED* entry = sk_X509_REVOKED_value(revoked, i);
    struct tm tm {};
    ::ASN1_TIME_to_tm(::X509_REVOKED_get0_revocationDate(entry), &tm);
    std::unique_ptr<::ASN1_ENUMERATED, ossl::Deleter<::ASN1_ENUMERATED_free>> reason(
        static_cast<::ASN1_ENUMERATED*>(::X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, nullptr, nullptr)));
    entries.push_back({ossl::integer_hex(::X509_REVOKED_get0_serialNumber(entry)), ::timegm(&tm),
                       reason ? static_cast<int>(::ASN1_ENUMERATED_get(reason.get())) : 0});
  }
  return entries;
}

}  // namespace

RevocationLists::RevocationLists(store::Store& store, const ca::CertificateAuthority& authority, CrlSchedule schedule,
                                 ca::Clock clock, std::string ca_name)
    : m_store(store),
      m_authority(authority),
      m_ca_name(std::move(ca_name)),
      m_issuer(authority.name()),
      m_schedule(std::move(schedule)),
      m_clock(std::move(clock)) {}

std::string crl_store_kind(const std::string& ca_name, const std::string& kind) {
  return ca_name == ca::kFirstIssuingCa ? kind : ca_name + "/" + kind;
}

Status RevocationLists::load() {
  if (m_loaded) return {};
  for (auto [kind, slot] : {std::pair{kFull, &m_full}, std::pair{kDelta, &m_delta}}) {
    auto stored = m_store.find_crl(crl_store_kind(m_ca_name, kind));
    if (!stored) return tl::unexpected(stored.error());
    if (*stored) {
      RevocationList crl{(*stored)->der, time_of((*stored)->this_update)};
      // Never checked against the store by this process: what an earlier one revoked after it
      // signed this CRL must still get onto the next.
      std::vector<ca::RevokedEntry> entries = entries_of((*stored)->der);
      *slot = Signed{std::move(**stored), std::move(crl), kNeverChecked, std::move(entries)};
    }
  }
  m_loaded = true;
  return {};
}

Result<std::vector<store::CertificateRecord>> RevocationLists::revocation_records() {
  auto records = m_store.list_revoked(kMaxRevokedListed + 1);
  if (!records) return tl::unexpected(records.error());
  if (records->size() > kMaxRevokedListed) {
    // A CRL that left some out would say they are valid: refuse rather than mislead.
    return fail(ErrorCode::kSystemFailure, "more than " + std::to_string(kMaxRevokedListed) +
                                               " revoked certificates; this CA needs partitioned CRLs");
  }
  // The store's index holds every CA's: this CA lists its own.
  std::erase_if(*records, [this](const store::CertificateRecord& cert) { return cert.issuer != m_issuer; });
  return records;
}

// RFC 5280 5.2.3: "CRL numbers MUST be ... monotonically increasing"; full and delta CRLs share
// one sequence. The last number is stored with each CRL, so a restart continues from it. Stores
// from before that had numbers from the clock's seconds: never go below those.
std::uint64_t RevocationLists::next_number(TimePoint now) const {
  std::uint64_t last = 0;
  for (const auto* crl : {&m_full, &m_delta}) {
    if (*crl) last = std::max(last, (*crl)->record.number);
  }
  return std::max(last + 1, static_cast<std::uint64_t>(seconds_of(now)));
}

Result<RevocationLists::Signed> RevocationLists::sign(const std::string& kind,
                                                      const std::vector<ca::RevokedEntry>& entries, TimePoint now,
                                                      std::chrono::seconds validity,
                                                      std::optional<std::uint64_t> delta_base) {
  const std::uint64_t number = next_number(now);
  const bool announce_deltas = !delta_base && m_schedule.delta_validity.count() > 0;
  ca::CrlInput input{entries, now,        now + validity,
                     number,  delta_base, announce_deltas ? m_schedule.delta_url : std::string()};
  auto der = m_authority.sign_crl(input);
  if (!der) return tl::unexpected(der.error());
  store::CrlRecord record{crl_store_kind(m_ca_name, kind),
                          number,
                          delta_base.value_or(0),
                          seconds_of(now),
                          seconds_of(now + validity),
                          digest_of(entries),
                          std::move(*der)};
  store::WriteSet writes;
  writes.crls.push_back(record);
  for (const auto& publisher : m_schedule.publishers) {
    writes.outbox.push_back({publisher,
                             delta_base ? store::kOutboxDeltaCrl : store::kOutboxCrl,
                             m_ca_name,
                             "",
                             record.der,
                             0,
                             record.this_update,
                             0,
                             0,
                             {}});
  }
  // A CRL whose number is not durable could be numbered again after a restart: never serve it.
  if (auto ok = m_store.commit(writes); !ok) return tl::unexpected(ok.error());
  spdlog::info("crl signed ca={} kind={} number={} entries={}{}", m_ca_name, kind, number, entries.size(),
               delta_base ? " base=" + std::to_string(*delta_base) : "");
  RevocationList crl{record.der, now};
  return Signed{std::move(record), std::move(crl), 0, entries};
}

bool RevocationLists::unchanged(const std::optional<Signed>& crl, std::uint64_t changes, TimePoint now,
                                std::chrono::seconds refresh) const {
  return crl && crl->changes_seen == changes && now < crl->crl.this_update + refresh;
}

// At most one CRL of a kind per second: a newer CRL must say so by a later thisUpdate (RFC 9480
// 5.3.19.17 compares it). A clock that went back does not hold revocations up: the CRL is signed
// (its number still grows) and the odd time is logged.
bool RevocationLists::signed_this_second(const Signed& crl, TimePoint now) const {
  if (now < crl.crl.this_update) {
    spdlog::warn("the clock is behind the last CRL's thisUpdate; signing anyway, cRLNumber keeps increasing");
  }
  return now == crl.crl.this_update;
}

Result<RevocationLists::Signed> RevocationLists::current_full(
    TimePoint now, std::uint64_t changes, std::optional<std::vector<store::CertificateRecord>>& records) {
  if (unchanged(m_full, changes, now, m_schedule.refresh)) return *m_full;
  if (!records) {
    auto read = revocation_records();
    if (!read) return tl::unexpected(read.error());
    records = std::move(*read);
  }
  auto entries = full_entries(*records);
  if (m_full) {
    const bool changed = m_schedule.on_revocation && digest_of(entries) != m_full->record.entries_digest;
    const bool stale = now >= m_full->crl.this_update + m_schedule.refresh;
    if (!changed && !stale) {
      m_full->changes_seen = changes;
      return *m_full;
    }
    // The change stays unseen, so the next second signs it.
    if (signed_this_second(*m_full, now)) return *m_full;
  }
  auto signed_crl = sign(kFull, entries, now, m_schedule.validity, std::nullopt);
  if (!signed_crl) return tl::unexpected(signed_crl.error());
  m_full = std::move(*signed_crl);
  m_full->changes_seen = changes;
  return *m_full;
}

Result<RevocationList> RevocationLists::current() {
  std::lock_guard lock(m_mutex);
  if (auto ok = load(); !ok) return tl::unexpected(ok.error());
  const std::uint64_t changes = m_changes.load(std::memory_order_acquire);
  std::optional<std::vector<store::CertificateRecord>> records;
  auto full = current_full(std::chrono::time_point_cast<std::chrono::seconds>(m_clock()), changes, records);
  if (!full) return tl::unexpected(full.error());
  return std::move(full->crl);
}

Result<std::optional<RevocationList>> RevocationLists::current_delta() {
  if (m_schedule.delta_validity.count() <= 0) return std::optional<RevocationList>();
  std::lock_guard lock(m_mutex);
  if (auto ok = load(); !ok) return tl::unexpected(ok.error());
  const std::uint64_t changes = m_changes.load(std::memory_order_acquire);
  const auto now = std::chrono::time_point_cast<std::chrono::seconds>(m_clock());
  std::optional<std::vector<store::CertificateRecord>> records;
  auto full = current_full(now, changes, records);
  if (!full) return tl::unexpected(full.error());
  const auto half = m_schedule.delta_validity / 2;
  const bool same_base = m_delta && m_delta->record.base_number == full->record.number;
  if (same_base && unchanged(m_delta, changes, now, half)) return std::optional<RevocationList>(m_delta->crl);
  if (!records) {
    auto read = revocation_records();
    if (!read) return tl::unexpected(read.error());
    records = std::move(*read);
  }
  auto entries =
      delta_entries(full->entries, full_entries(*records), *records, full->record.this_update, seconds_of(now));
  if (same_base) {
    if (m_delta->record.entries_digest == digest_of(entries) && now < m_delta->crl.this_update + half) {
      m_delta->changes_seen = changes;
      return std::optional<RevocationList>(m_delta->crl);
    }
    if (signed_this_second(*m_delta, now)) return std::optional<RevocationList>(m_delta->crl);
  }
  auto signed_crl = sign(kDelta, entries, now, m_schedule.delta_validity, full->record.number);
  if (!signed_crl) return tl::unexpected(signed_crl.error());
  m_delta = std::move(*signed_crl);
  m_delta->changes_seen = changes;
  return std::optional<RevocationList>(m_delta->crl);
}

}  // namespace enrolld::ra
