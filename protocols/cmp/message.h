#pragma once
// PKIMessage decoding and encoding: DER bytes <-> ECMP_MSG, plus the exact bytes that the
// message protection covers.

#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "common/openssl_util.h"
#include "common/recent_certificates.h"
#include "protocols/cmp/cmp_asn1.h"
#include "protocols/cmp/protection.h"
#include "ra/enrollment_service.h"

namespace enrolld::cmp {

using MsgPtr = std::unique_ptr<ECMP_MSG, ossl::Deleter<ECMP_MSG_free>>;
using BodyPtr = std::unique_ptr<ECMP_BODY, ossl::Deleter<ECMP_BODY_free>>;
using HeaderPtr = std::unique_ptr<ECMP_HEADER, ossl::Deleter<ECMP_HEADER_free>>;
using PkiSiPtr = std::unique_ptr<ECMP_PKISI, ossl::Deleter<ECMP_PKISI_free>>;

inline constexpr int kPvno2000 = 2;  // cmp2000 (RFC 4210)
inline constexpr int kPvno2021 = 3;  // cmp2021 (RFC 9480)

// PKIStatus values (RFC 4210 5.2.3).
enum class PkiStatus : long { kAccepted = 0, kGrantedWithMods = 1, kRejection = 2, kWaiting = 3 };

struct ParsedMessage {
  MsgPtr message;
  Bytes protected_part;  // DER ProtectedPart: SEQUENCE { header, body } as received
  Bytes fingerprint;     // SHA-256 of the whole message
  // A nested body's PKIMessages, each DER as received (their protection covers those bytes).
  std::vector<Bytes> inner_messages;
};

class KnownCertificates;

// Decodes a DER PKIMessage. Returns kBadDataFormat if the bytes are not exactly one PKIMessage.
// extraCerts found in `known` (clients send the CA chain back) are taken from there instead of
// being decoded again; the others go through `recent` when it is given.
Result<ParsedMessage> parse_message(ByteView der, const KnownCertificates* known = nullptr,
                                    ossl::RecentCertificates* recent = nullptr);

// Returns the octets of an OCTET STRING (empty for null).
Bytes octets(const ::ASN1_OCTET_STRING* s);

// True if the header's generalInfo carries id-it-implicitConfirm.
bool has_implicit_confirm(const ECMP_HEADER& header);

// How the responder protects what it sends: with the requester's shared secret (MAC) ...
struct MacProtection {
  PbmParameters params;
  Bytes key;  // derived once from the shared secret (see derive_pbm_key)
  Bytes sender_kid;
  Bytes shared_secret;  // to encrypt a centrally generated key to the requester
};

// ... or with a signature made in the HSM (RFC 9483 3.2: answering a signed request).
struct SignatureProtection {
  const ra::MessageSigner* signer = nullptr;
};

using Protection = std::variant<MacProtection, SignatureProtection>;

// The header fields of a response, taken from the request it answers.
struct ResponseHeader {
  int pvno = kPvno2000;
  ossl::X509NamePtr sender;  // the responder
  std::unique_ptr<::GENERAL_NAME, ossl::Deleter<::GENERAL_NAME_free>> recipient;
  Bytes transaction_id;
  Bytes sender_nonce;     // fresh, chosen by us
  Bytes recipient_nonce;  // the request's senderNonce
  bool implicit_confirm = false;
};

// Copies what a response needs from the request header; sender_nonce is drawn fresh.
ResponseHeader response_header_for(const ECMP_HEADER& request, const ::X509_NAME* responder);

// Certificates that go out with many messages (the CA chain, the response signer's own),
// decoded once: OpenSSL 3.0 spends about 1.5 million instructions decoding a certificate's
// public key, per certificate and message. Thread-safety: immutable after construction.
class KnownCertificates {
 public:
  KnownCertificates() = default;
  explicit KnownCertificates(const std::vector<Bytes>& ders);  // what does not decode is left out
  // The decoded certificate whose DER is `der`, or null.
  ::X509* find(ByteView der) const;

 private:
  std::vector<std::pair<Bytes, ossl::X509Ptr>> m_certificates;
};

// Builds and DER-encodes a PKIMessage with `body`, protected if `protection` is given.
// extraCerts are DER certificates; a signature's certificates come first (RFC 9483 3.3: the
// protection certificate is the first of extraCerts), duplicates are left out. Those in
// `known` are taken from there instead of being decoded.
// Returns kSystemFailure if encoding fails, kSystemUnavailable if the HSM cannot sign.
Result<Bytes> encode_message(const ResponseHeader& header, BodyPtr body, const std::vector<Bytes>& extra_certs,
                             const Protection* protection, const KnownCertificates* known = nullptr);

// PKIStatusInfo with an optional failure bit (-1: none) and status string.
PkiSiPtr make_status_info(PkiStatus status, int failure_bit, const std::string& text);

}  // namespace enrolld::cmp
