#pragma once
// The issuing CA's current CRL, signed only when something changed: CRL requests (CMP genm
// crlStatusList, later the CRL distribution point) never cost an HSM signature each.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "ca/certificate_authority.h"
#include "ra/enrollment_service.h"
#include "store/store.h"

namespace enrolld::ra {

// Thread-safety: current() may be called concurrently; one caller signs, the others wait and
// get its CRL. The store and CA must outlive this object.
class RevocationLists {
 public:
  // `validity`: nextUpdate - thisUpdate. A CRL is signed afresh once half of it has passed.
  RevocationLists(store::Store& store, const ca::CertificateAuthority& authority, std::chrono::seconds validity,
                  ca::Clock clock);

  // Returns the CRL listing every revoked certificate: the previous one if no certificate was
  // revoked since and it is not past half its validity, or if it was signed within the current
  // second; else a new one with a greater cRLNumber and thisUpdate. Errors: kSystemUnavailable
  // (store, HSM), kSystemFailure.
  [[nodiscard]] Result<RevocationList> current();

 private:
  struct Signed {
    RevocationList crl;
    std::vector<ca::RevokedEntry> entries;  // what it lists, to see whether anything changed
    std::uint64_t number = 0;
  };
  Result<std::vector<ca::RevokedEntry>> revoked_now();

  store::Store& m_store;
  const ca::CertificateAuthority& m_authority;
  std::chrono::seconds m_validity;
  ca::Clock m_clock;
  std::mutex m_mutex;
  std::optional<Signed> m_last;
};

}  // namespace enrolld::ra
