#pragma once
// The issuing CA's CRLs: the full CRL and, when configured, delta CRLs (RFC 5280 5.2.4). A CRL
// is signed only when it is due, so CRL requests (CMP genm crlStatusList, the CRL distribution
// point) never cost an HSM signature each. Every CRL is stored before it is served, so that
// cRLNumber keeps increasing across restarts.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ca/certificate_authority.h"
#include "ra/enrollment_service.h"
#include "store/store.h"

namespace enrolld::ra {

// When CRLs are signed.
struct CrlSchedule {
  std::chrono::seconds validity = std::chrono::hours(24);  // nextUpdate - thisUpdate of a full CRL
  // A new full CRL at least this often, revoked certificates or not.
  std::chrono::seconds refresh = std::chrono::hours(12);
  // A revocation is on the next full CRL that is asked for (true), or waits for the schedule.
  bool on_revocation = true;
  // Delta CRLs: their nextUpdate - thisUpdate; zero: none are made. A delta CRL lists what
  // changed since the current full CRL and is signed afresh when that changes.
  std::chrono::seconds delta_validity{0};
  // Where delta CRLs are published, for the full CRL's freshestCRL extension.
  std::string delta_url;
  // Publishers that get every new CRL (an outbox record in the commit that stores it).
  std::vector<std::string> publishers;
};

// The store key of the CRLs of `kind` ("full", "delta") of the CA named `ca_name`. The first CA
// keeps the keys of a single-CA appliance ("full", "delta"); another's are "<name>/<kind>".
std::string crl_store_kind(const std::string& ca_name, const std::string& kind);

// Thread-safety: every method may be called concurrently; one caller signs, the others wait and
// get its CRL. The store and CA must outlive this object.
class RevocationLists {
 public:
  // `ca_name`: the CA's name in the appliance; it names the CRLs in the store
  // (crl_store_kind) and in the outbox.
  RevocationLists(store::Store& store, const ca::CertificateAuthority& authority, CrlSchedule schedule, ca::Clock clock,
                  std::string ca_name = ca::kFirstIssuingCa);

  // Returns the full CRL listing every revoked certificate: the last one signed (also by an
  // earlier process) unless a new one is due: none yet, past `refresh`, or (`on_revocation`) the
  // revoked certificates changed. At most one CRL per second. Errors: kSystemUnavailable
  // (store, HSM), kSystemFailure.
  [[nodiscard]] Result<RevocationList> current();

  // Says that a certificate's status changed (revoked, held, released) since the last call, so
  // that the next current() looks at the store again; until then, and while nothing is stale,
  // current() answers without reading the store. Lock-free, for the revoking threads.
  void note_change() { m_changes.fetch_add(1, std::memory_order_release); }

  // Returns the delta CRL against the current full CRL, nullopt when delta CRLs are off. Signed
  // afresh when its base changed, what it lists changed, or half its validity has passed.
  // Errors: as current().
  [[nodiscard]] Result<std::optional<RevocationList>> current_delta();

 private:
  struct Signed {
    store::CrlRecord record;
    RevocationList crl;
    std::uint64_t changes_seen = 0;         // m_changes when it was last found up to date
    std::vector<ca::RevokedEntry> entries;  // what it lists (a delta CRL's base is what a full one lists)
  };
  // The stored CRLs, read once.
  Status load();
  Result<std::vector<store::CertificateRecord>> revocation_records();
  // The current full CRL. `records` is what the store's revoked index holds: read here when the
  // CRL may have to change (and left for the caller), or given by the caller.
  Result<Signed> current_full(std::chrono::system_clock::time_point now, std::uint64_t changes,
                              std::optional<std::vector<store::CertificateRecord>>& records);
  // Whether `crl` is still what it should be at `now` without looking at the store: nothing
  // changed since it was found up to date, and it is not past `refresh`.
  bool signed_this_second(const Signed& crl, std::chrono::system_clock::time_point now) const;
  bool unchanged(const std::optional<Signed>& crl, std::uint64_t changes, std::chrono::system_clock::time_point now,
                 std::chrono::seconds refresh) const;
  Result<Signed> sign(const std::string& kind, const std::vector<ca::RevokedEntry>& entries,
                      std::chrono::system_clock::time_point now, std::chrono::seconds validity,
                      std::optional<std::uint64_t> delta_base);
  std::uint64_t next_number(std::chrono::system_clock::time_point now) const;

  store::Store& m_store;
  const ca::CertificateAuthority& m_authority;
  std::string m_ca_name;
  std::string m_issuer;  // the CA's subject as the store records it
  CrlSchedule m_schedule;
  ca::Clock m_clock;
  std::mutex m_mutex;
  bool m_loaded = false;
  std::optional<Signed> m_full;
  std::optional<Signed> m_delta;
  std::atomic<std::uint64_t> m_changes{0};
};

}  // namespace enrolld::ra
