#pragma once
// EST's wire formats (RFC 7030, RFC 8951): base64 bodies, PKCS#10 requests, certs-only
// PKCS#7, CSR attributes and the multipart reply of serverkeygen. No HTTP, no policy.

#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "ra/enrollment_service.h"

namespace enrolld::est {

// Base64 on one line without breaks: strongSwan's client reads nothing else.
inline std::string base64_line(ByteView bytes) {
  return to_base64(bytes);
}
// Base64 with or without line breaks and other white space (RFC 8951 2.1); nullopt if not base64.
std::optional<Bytes> decode_base64(std::string_view text);

// What the enrollment paths need from a PKCS#10 request.
struct CertificationRequestInfo {
  Bytes der;                                      // the whole CSR
  Bytes subject_der;                              // DER Name
  Bytes public_key_der;                           // DER SubjectPublicKeyInfo
  Bytes extensions_der;                           // DER Extensions from the extensionRequest attribute; empty if none
  std::optional<std::string> challenge_password;  // carries the channel binding (RFC 7030 3.5)
  // serverkeygen (RFC 7030 4.4.1.2): the client wants the key encrypted to a key it names.
  std::optional<Bytes> asymmetric_decrypt_key_id;
  bool symmetric_decrypt_key_requested = false;  // DecryptKeyIdentifier (4.4.1.1)
};

// Decodes a DER PKCS#10 request and checks its self-signature. Errors: kBadDataFormat
// (not one CertificationRequest, trailing bytes, unreadable attribute), kBadPop (the signature
// does not verify with the request's own key).
[[nodiscard]] Result<CertificationRequestInfo> parse_certification_request(ByteView der);

// A degenerate SignedData ("certs-only", RFC 5652 / RFC 7030 4.1.3) carrying `certificates`,
// wrapped in a ContentInfo; DER. Errors: kSystemFailure.
[[nodiscard]] Result<Bytes> certs_only(const std::vector<Bytes>& certificates);
// The same for certificates already decoded (decoding one costs OpenSSL 3.0 more than the rest).
[[nodiscard]] Result<Bytes> certs_only(const std::vector<::X509*>& certificates);

// CsrAttrs (RFC 7030 4.5.2, RFC 8951 3.2) for `profile`: the key types it accepts, and
// challengePassword when it wants the channel binding. Empty when it asks for nothing.
Bytes csr_attributes(const ra::ProfileInfo& profile);

// One part of a multipart/mixed body.
struct MimePart {
  std::string content_type;
  Bytes body;  // sent base64-encoded
};
// multipart/mixed with `boundary`; parts base64 encoded, CRLF line ends.
Bytes multipart_mixed(const std::vector<MimePart>& parts, std::string_view boundary);

}  // namespace enrolld::est
