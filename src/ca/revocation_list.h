#pragma once
// Certificate revocation lists (RFC 5280 5): what goes on one, signed with the CA key in the HSM.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/bytes.h"

namespace enrolld::ca {

// One revoked certificate on a CRL.
struct RevokedEntry {
  std::string serial_hex;       // lower-case hex of the positive serial
  std::int64_t revoked_at = 0;  // seconds since the epoch
  int reason = 0;               // RFC 5280 CRLReason
};

struct CrlInput {
  std::vector<RevokedEntry> revoked;
  std::chrono::system_clock::time_point this_update;
  std::chrono::system_clock::time_point next_update;
  std::uint64_t number = 0;  // cRLNumber: greater in every CRL this CA signs (RFC 5280 5.2.3)
};

}  // namespace enrolld::ca
