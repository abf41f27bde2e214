#pragma once
// Certificate revocation lists (RFC 5280 5): what goes on one, signed with the CA key in the HSM.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"

namespace enrolld::ca {

// One revoked certificate on a CRL.
struct RevokedEntry {
  std::string serial_hex;       // lower-case hex of the positive serial
  std::int64_t revoked_at = 0;  // seconds since the epoch
  int reason = 0;               // RFC 5280 CRLReason; removeFromCRL (8) only on delta CRLs
};

inline constexpr int kReasonCertificateHold = 6;
inline constexpr int kReasonRemoveFromCrl = 8;

struct CrlInput {
  std::vector<RevokedEntry> revoked;
  std::chrono::system_clock::time_point this_update;
  std::chrono::system_clock::time_point next_update;
  std::uint64_t number = 0;  // cRLNumber: greater in every CRL this CA signs (RFC 5280 5.2.3)
  // A delta CRL: the cRLNumber of the full CRL it extends (deltaCRLIndicator, RFC 5280 5.2.4).
  std::optional<std::uint64_t> delta_base{};
  // A full CRL: where its delta CRLs are published (freshestCRL, RFC 5280 5.2.6); empty: none.
  std::string freshest_crl_url{};
};

}  // namespace enrolld::ca
