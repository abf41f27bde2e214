#pragma once
// What the store keeps. The store knows these records and nothing of protocols: a protocol's own
// per-transaction memory travels as opaque bytes (`protocol_state`, `last_response`).

#include <cstdint>
#include <optional>
#include <string>

#include "common/bytes.h"
#include "common/error.h"

namespace enrolld::store {

struct CertificateRecord {
  std::string serial_hex;  // key; lower-case hex of the positive serial number
  std::string issuer;      // issuing CA's subject, RFC 2253
  std::string subject;     // RFC 2253
  Bytes der;
  std::int64_t not_before = 0;  // seconds since the epoch
  std::int64_t not_after = 0;
  std::int64_t issued_at = 0;
  std::string transaction_id_hex;
  std::string requester;         // authenticated identity that asked for it
  std::string status = "valid";  // "valid" or "revoked"
  std::int64_t revoked_at = 0;   // set when revoked
  int revocation_reason = 0;     // RFC 5280 CRLReason when revoked
  // When a hold (certificateHold) was lifted and the certificate became valid again; 0 if
  // never. Delta CRLs list such certificates as removeFromCRL (RFC 5280 5.3.1).
  std::int64_t hold_released_at = 0;

  bool operator==(const CertificateRecord&) const = default;
};

// The last CRL of one kind that the CA signed ("full" or "delta"), kept so that cRLNumber keeps
// increasing across restarts (RFC 5280 5.2.3) and a restart serves the same CRL.
struct CrlRecord {
  std::string kind;               // key: "full" or "delta"; "<ca>/full" for another issuing CA than the first
  std::uint64_t number = 0;       // its cRLNumber
  std::uint64_t base_number = 0;  // delta: the cRLNumber of the full CRL it extends
  std::int64_t this_update = 0;   // seconds since the epoch
  std::int64_t next_update = 0;
  Bytes entries_digest;  // SHA-256 of what it lists, to see after a restart whether anything changed
  Bytes der;

  bool operator==(const CrlRecord&) const = default;
};

// Who did what, when: one record per security-relevant change, kept with the change itself.
struct AuditRecord {
  std::int64_t at = 0;  // seconds since the epoch
  std::string actor;    // authenticated identity, or "operator"
  std::string action;   // "revoke", ...
  std::string subject;  // what it acted on, e.g. "serial=..."
  std::string detail;   // e.g. "reason=1 txn=..."

  bool operator==(const AuditRecord&) const = default;
};

struct TransactionRecord {
  std::string id_hex;    // key; hex of the protocol's transaction ID
  std::string protocol;  // "cmp", "est", ...
  std::string state;     // a txn::State name
  std::string requester;
  std::string profile;
  std::string certificate_serial_hex;  // set once issued
  std::string replaces_serial_hex;     // key update: the certificate the new one replaces
  Bytes request_fingerprint;           // SHA-256 of the last request, to recognise a resend
  Bytes last_response;                 // wire bytes of the last response, sent again for a resend
  Bytes protocol_state;                // opaque to the core
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
  std::int64_t deadline = 0;  // when the current state times out; 0 = never
  // Still waiting for something (a confirmation, an officer, the requester to collect): listed
  // by Store::list_open_transactions, and once past a deadline by list_overdue_transactions,
  // which the deadline sweep reads.
  bool open = false;
  // A request held for approval, in the RA's own encoding; kept once set. While `open`, the
  // transaction is listed by Store::list_held_transactions, which the approval queue reads.
  Bytes held_request;
  std::string decided_by;     // the officer who approved or rejected it
  std::string decision_note;  // the officer's reason, told to the requester on rejection

  bool operator==(const TransactionRecord&) const = default;
};

// A password that a requester authenticates with (EST HTTP Basic), kept only as a hash.
struct PasswordRecord {
  std::string user;       // key
  std::string hash;       // PHC-style "$scrypt$ln=..,r=..,p=..$<salt b64>$<hash b64>"
  std::string profile;    // the only profile it may enroll under; empty: any
  bool one_time = false;  // an enrollment secret: good for one certificate
  bool used = false;      // a one-time secret that has enrolled
  std::int64_t created_at = 0;

  bool operator==(const PasswordRecord&) const = default;
};

// Something one publisher (directory, LDAP) still has to put in place: written in the same commit
// as what it publishes (an issued certificate, a new CRL), so nothing uncommitted is published and
// nothing committed is forgotten while a publisher is down. One record per publisher, kind and
// name: a newer CRL replaces the older one still waiting.
// Outbox record kinds.
inline constexpr const char* kOutboxCaCertificate = "ca-certificate";
inline constexpr const char* kOutboxCrl = "crl";
inline constexpr const char* kOutboxDeltaCrl = "delta-crl";
inline constexpr const char* kOutboxCertificate = "certificate";

struct OutboxRecord {
  std::string publisher;  // "directory", "ldap"
  std::string kind;       // "ca-certificate", "crl", "delta-crl", "certificate"
  std::string name;       // a CA's name ("issuing", "root", ...), or a certificate's serial
  std::string subject;    // RFC 2253 subject of a certificate; empty for CRLs
  Bytes der;
  std::uint64_t version = 0;  // set by the store on insertion: tells a replaced record from its successor
  std::int64_t created_at = 0;
  int attempts = 0;                  // failed publications so far
  std::int64_t next_attempt_at = 0;  // not before this second (back-off)
  std::string last_error;

  bool operator==(const OutboxRecord&) const = default;
};

// Compact binary encodings (CBOR) of the records; decoding returns kSystemFailure for bytes
// that are not a record of that kind (a corrupt store is not a client's fault).
Bytes encode(const CertificateRecord& record);
Bytes encode(const TransactionRecord& record);
Result<CertificateRecord> decode_certificate(ByteView bytes);
Result<TransactionRecord> decode_transaction(ByteView bytes);
Bytes encode(const AuditRecord& record);
Result<AuditRecord> decode_audit(ByteView bytes);
Bytes encode(const PasswordRecord& record);
Result<PasswordRecord> decode_password(ByteView bytes);
Bytes encode(const CrlRecord& record);
Result<CrlRecord> decode_crl(ByteView bytes);
Bytes encode(const OutboxRecord& record);
Result<OutboxRecord> decode_outbox(ByteView bytes);

}  // namespace enrolld::store
