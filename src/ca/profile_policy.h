#pragma once
// The profile as a policy on requests: what a requester may have certified under a profile,
// checked before anything is held, signed or stored (validators), and what the profile decides
// whatever the request says (see CertificateAuthority::issue, the modifiers).

#include <cstdint>
#include <string>
#include <vector>

#include "ca/certificate_authority.h"
#include "common/error.h"

namespace enrolld::ca {

// Returns whether `input` may be certified under `profile` at `now` (seconds since the epoch).
// Errors, each saying what and why: kBadAlgorithm (a key type or size the profile does not
// accept, an undecodable key); kBadCertTemplate (no or undecodable subject, a required subject
// attribute missing or a forbidden one present, basicConstraints cA:TRUE, keyUsage keyCertSign
// or cRLSign, an unknown critical extension, a subjectAltName outside the profile's namespaces
// or missing where required, a notAfter beyond the profile's validity).
[[nodiscard]] Status check_request(const CertificationInput& input, const Profile& profile, std::int64_t now);

// The requested subjectAltNames as "DNS:name", "IP:addr", "URI:uri", "email:addr" (others as
// "other"), for review rules; empty when there are none or the extensions do not decode.
std::vector<std::string> requested_san_texts(ByteView extensions_der);

}  // namespace enrolld::ca
