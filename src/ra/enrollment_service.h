#pragma once
// What the protocols (CMP, EST, ...) ask of the core, in domain types. Protocol code depends on
// this header only; it never sees the CA, the store or the HSM.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <openssl/types.h>

#include "common/bytes.h"
#include "common/error.h"

namespace enrolld::ra {

// The profiles and review rules of one configuration (defined by the service): a request that
// holds one meets that configuration to its end, whatever a reload swaps in meanwhile.
struct ProfileSnapshot;

struct Requester {
  // "mac:<reference>" for a shared secret; "cert:<serial>" for a certificate this CA issued;
  // "vendor:<subject>" for a certificate under a configured trust anchor.
  std::string identity;
  std::string certificate_serial_hex;  // set when authenticated by a certificate this CA issued
  // A registration authority the configuration names: it may vouch for proof of possession
  // (CMP raVerified) and forward other requesters' messages (CMP nested).
  bool registration_authority = false;
};

// A request for a certificate whose authentication and proof of possession the protocol has
// already checked.
struct CertificationRequest {
  std::string transaction_id_hex;
  std::string protocol;  // "cmp", "est"
  Requester requester;
  std::string profile;   // empty: the default profile
  Bytes subject_der;     // DER Name
  Bytes public_key_der;  // DER SubjectPublicKeyInfo
  Bytes extensions_der;  // DER Extensions; empty when none requested
  // The notAfter the requester asked for (seconds since the epoch); the profile may refuse it.
  std::optional<std::int64_t> requested_not_after;
  bool implicit_confirm_requested = false;
  Bytes fingerprint;  // digest of the request message: an equal one later is a resend
  // Key update: the serial of the certificate this one replaces (same subject, new key).
  std::string replaces_serial_hex;
  // The protocol lets the requester confirm what it got (CMP certConf). EST has no such step:
  // what it issues is accepted at once.
  bool confirmation_supported = true;
  // ProfileInfo::snapshot when the protocol looked the profile up first (its checks and the
  // issuance then read one version of it); null: the current configuration.
  std::shared_ptr<const ProfileSnapshot> profile_snapshot{};
};

struct IssuedCertificate {
  Bytes certificate_der;
  std::vector<Bytes> chain_der;  // the issuing CA first, up to the root
  bool implicitly_confirmed = false;
  // certificate_der decoded, when the service has it at hand (a fresh issuance; null for one
  // read back from the store): decoding costs OpenSSL 3.0 more than signing it did.
  std::shared_ptr<::X509> certificate{};
};

// The request waits for an officer (the profile requires approval): the requester should ask
// again after `check_after` (CMP pollReq, EST retry).
struct HeldForApproval {
  std::chrono::seconds check_after{0};
};

using Decision = std::variant<IssuedCertificate, HeldForApproval>;

// A CRL of an issuing CA.
struct RevocationList {
  Bytes der;
  std::chrono::system_clock::time_point this_update;
};

// Builds the protocol's reply for what was decided. The service stores the reply with the
// certificate in one durable write, so a resend gets the very same bytes.
using ReplyEncoder = std::function<Result<Bytes>(const Decision&)>;

struct TransactionView {
  std::string state;  // a txn::State name
  std::string requester;
  Bytes certificate_der;  // empty until issued
  Bytes request_fingerprint;
  Bytes last_response;
  Bytes protocol_state;  // what the protocol asked to keep with the transaction
};

// A request to revoke a certificate, authenticated by the protocol.
struct RevocationRequest {
  std::string transaction_id_hex;
  Requester requester;
  std::string serial_hex;  // lower-case hex, whole octets, no leading zero octet
  Bytes issuer_der;        // DER Name of the issuer; empty: the serial alone names it
  int reason = 0;          // RFC 5280 CRLReason
};

// An issuing CA of the appliance.
struct IssuingCaInfo {
  std::string name;          // "issuing" for the first ([ca]); it names the CA's repository files
  std::vector<Bytes> chain;  // DER: the CA first, up to its root
};

// What a requester may ask of a certificate profile.
struct ProfileInfo {
  std::string name;
  std::vector<Bytes> key_algorithms;  // DER AlgorithmIdentifiers of the accepted subject keys
  int rsa_min_bits = 0;               // the smallest RSA modulus accepted; 0: no RSA keys
  bool requires_approval = false;     // requests wait for an officer (delayed delivery)
  bool restricts_keys = false;        // the profile names its key types (else: any the CA supports)
  // Requests must prove they were made inside their TLS session (EST channel binding).
  bool requires_channel_binding = false;
  const IssuingCaInfo* issuing_ca = nullptr;  // who signs under it; lives as long as the service
  // The configuration this was read from: handed on (CertificationRequest::profile_snapshot,
  // generate_key) so that a request resolves its profile once.
  std::shared_ptr<const ProfileSnapshot> snapshot{};
};

// A root CA key update under way (RFC 4210 4.4.1): DER certificates of the new root, of its key
// certified by the old root, and of the old root's key certified by the new one.
struct RootCaUpdate {
  Bytes new_with_new;
  Bytes new_with_old;
  Bytes old_with_new;
};

// A key pair made for a requester (central key generation, RFC 9483 4.1.6).
struct GeneratedKey {
  Bytes public_key_der;  // SubjectPublicKeyInfo, to certify
  // The private key as a CMS SignedData (DER, no ContentInfo) over its OneAsymmetricKey,
  // signed by the key generation authority; the protocol encrypts it to the requester.
  Bytes signed_key_package;
  // The same private key as a bare PKCS#8 PrivateKeyInfo (DER), for protocols that return it
  // as such (EST serverkeygen over TLS). Whoever holds it wipes it after use.
  Bytes private_key_der;
};

// Thread-safety: all methods may be called concurrently; requests for one transaction ID are
// serialised inside.
class EnrollmentService {
 public:
  virtual ~EnrollmentService() = default;

  // Runs a new certification transaction: applies profile and policy, issues, has `encode`
  // build the reply, stores certificate, transaction, `protocol_state` and reply durably, then
  // returns the reply. If the transaction ID exists already: returns the stored reply when the
  // fingerprint equals the stored one (a resend), else kTransactionIdInUse.
  // A key update needs the replaced certificate valid (kCertRevoked otherwise), the same
  // subject and a new key (kBadCertTemplate otherwise).
  // Other errors: kBadCertTemplate, kBadAlgorithm, kNotAuthorized, kSystemUnavailable,
  // kSystemFailure, or whatever `encode` returns. Nothing is stored on error.
  [[nodiscard]] virtual Result<Bytes> submit(const CertificationRequest& request, const Bytes& protocol_state,
                                             const ReplyEncoder& encode) = 0;

  // Answers a requester asking after a request that was held for approval (CMP pollReq): while
  // no officer has decided, encode(HeldForApproval); once approved, issues as submit() does and
  // stores `protocol_state` and the reply; after issuance, encodes the issued certificate again
  // (the requester lost the reply). A resend (fingerprint equal to the stored one) gets the
  // stored reply. Errors: kUnknownTransaction, kNotAuthorized (another requester, or an officer
  // rejected it: the message says why), kUnexpectedMessage (nothing to collect, or expired),
  // kCertRevoked, kSystemUnavailable.
  [[nodiscard]] virtual Result<Bytes> collect(std::string_view transaction_id_hex, const Requester& requester,
                                              const Bytes& fingerprint, const Bytes& protocol_state,
                                              const ReplyEncoder& encode) = 0;

  // Returns the transaction, nullopt if there is none with this ID, or kSystemUnavailable.
  [[nodiscard]] virtual Result<std::optional<TransactionView>> find(std::string_view transaction_id_hex) = 0;

  // Records that the requester accepted (or rejected: the certificate is revoked) what was
  // issued, stores `reply` as the transaction's answer and returns it. A resend (fingerprint
  // equal to the stored request's) returns the stored reply. Errors: kUnknownTransaction,
  // kUnexpectedMessage (not waiting for a confirmation, or the confirmation deadline passed:
  // the transaction then expires and its certificate is revoked), kSystemUnavailable.
  [[nodiscard]] virtual Result<Bytes> confirm(std::string_view transaction_id_hex, bool accepted,
                                              const Bytes& fingerprint, const Bytes& reply) = 0;

  // Revokes the certificate at once (durable before returning) and writes an audit record.
  // certificateHold suspends it; a held certificate may then be revoked for good with another
  // reason; only an officer lifts a hold (RevocationAdministration, removeFromCRL). A
  // certificate may revoke itself, a requester the certificates it enrolled. Errors: kBadCertId
  // (no such certificate from this issuer), kCertRevoked (already revoked, or already on hold),
  // kNotAuthorized (another requester's certificate, or removeFromCRL), kUnsupportedRequest (not
  // an RFC 5280 reason code), kSystemUnavailable.
  [[nodiscard]] virtual Status revoke(const RevocationRequest& request) = 0;

  // The first issuing CA's chain, the CA first, DER: the appliance's own (CMP responses).
  virtual const std::vector<Bytes>& ca_chain() const = 0;

  // Every issuing CA, the first first; never empty.
  virtual const std::vector<IssuingCaInfo>& issuing_cas() const = 0;

  // The root CA key update to announce, if one is under way; for the root ca_chain() ends with.
  virtual const std::optional<RootCaUpdate>& root_ca_update() const = 0;

  // The current CRL of the issuing CA named `ca_name` (every certificate it revoked); a new one
  // only when it is due (see ra::CrlSchedule). Errors: kNotFound (no CA of that name),
  // kSystemUnavailable, kSystemFailure.
  [[nodiscard]] virtual Result<RevocationList> current_crl(std::string_view ca_name) = 0;

  // That CA's current delta CRL (what changed since its current_crl()), nullopt when delta CRLs
  // are not configured. Errors: as current_crl().
  [[nodiscard]] virtual Result<std::optional<RevocationList>> current_delta_crl(std::string_view ca_name) = 0;

  // Returns the profile named `name` (empty: the default), or kBadCertTemplate if unknown.
  [[nodiscard]] virtual Result<ProfileInfo> profile(std::string_view name) const = 0;

  // Generates a key pair of the kind `algorithm_der` (DER AlgorithmIdentifier; empty: the
  // profile's first kind) for a requester that asked for central key generation, under
  // `profile` as profile() gave it. Errors: kBadCertTemplate (unknown profile), kBadAlgorithm
  // (a kind the profile does not accept), kSystemUnavailable (HSM), kSystemFailure.
  [[nodiscard]] virtual Result<GeneratedKey> generate_key(const ProfileInfo& profile, ByteView algorithm_der) = 0;
};

// A certification request held for an officer's decision.
struct PendingRequest {
  std::string transaction_id_hex;
  std::string protocol;
  std::string requester;
  std::string profile;
  std::string subject;  // RFC 2253
  std::string state;    // "waiting-for-approval", or "approved" until the requester collects
  std::int64_t created_at = 0;
};

// The officer's side of delayed delivery: requests under profiles that require approval wait
// here until approved (issued when the requester next asks) or rejected.
// Thread-safety: all methods may be called concurrently, and with EnrollmentService's.
class ApprovalQueue {
 public:
  virtual ~ApprovalQueue() = default;
  // Requests waiting for a decision or for their requester, oldest transaction ID first.
  [[nodiscard]] virtual Result<std::vector<PendingRequest>> pending(std::size_t limit) = 0;
  // Errors: kUnknownTransaction; kUnexpectedMessage when it is not waiting for approval;
  // kSystemUnavailable. Both write an audit record naming `officer`.
  [[nodiscard]] virtual Status approve(std::string_view transaction_id_hex, std::string_view officer) = 0;
  [[nodiscard]] virtual Status reject(std::string_view transaction_id_hex, std::string_view officer,
                                      std::string_view reason) = 0;
};

// An answer of the OCSP responder (RFC 6960): the DER OCSPResponse to send, successful or not.
struct OcspReply {
  Bytes der;
  bool successful = false;
  std::string problem;  // why it is not successful, for the log
};

// Answers certificate status requests (OCSP) for the issuing CA's certificates.
// Thread-safety: answer() may be called concurrently.
class StatusResponder {
 public:
  virtual ~StatusResponder() = default;
  // Returns the response to a DER OCSPRequest: signed, with good / revoked (time, reason) /
  // unknown per certificate and the request's nonce; or unsigned malformedRequest (not a
  // request), tryLater (store or HSM unavailable), internalError.
  [[nodiscard]] virtual OcspReply answer(ByteView request_der) = 0;
};

// What an operator asks of a running appliance (enrollctl status).
struct ApplianceReport {
  struct Ca {
    std::string subject;         // RFC 2253
    std::int64_t not_after = 0;  // seconds since the epoch
  };
  struct Crl {
    std::string kind;  // "full", "delta"
    std::uint64_t number = 0;
    std::int64_t this_update = 0;
    std::int64_t next_update = 0;
    std::string ca{};  // the issuing CA's name
  };
  struct Publisher {
    std::string name;
    std::size_t waiting = 0;             // outbox records not yet published
    std::int64_t oldest_created_at = 0;  // 0 when none waits
    int attempts = 0;                    // most failed attempts of a waiting record
    std::string last_error;
  };
  // The HSM that holds the first CA's key, and a test signature made with that key for this report.
  struct Hsm {
    std::string module;            // the PKCS#11 module's path
    std::string token;             // the token's label
    bool signs = false;            // the test signature worked
    std::int64_t sign_micros = 0;  // how long it took
    std::string error;             // why it did not work
  };
  // The store, and a test read made for this report.
  struct Store {
    std::string path;
    bool reads = false;                   // the test read worked
    std::uint64_t estimated_records = 0;  // the backend's estimate, every kind of record
    std::uint64_t size_bytes = 0;         // approximate
    std::string error;                    // why the read did not work
  };
  std::string version;
  std::vector<Ca> cas;  // each issuing CA's chain, the first CA first, up to the root; each certificate once
  Hsm hsm{};
  Store store{};
  // What the store holds: left empty when the store does not read (store.reads false).
  std::vector<Crl> crls;
  std::vector<Publisher> publishers;
  std::size_t pending_approvals = 0;
};

// Thread-safety: report() may be called concurrently.
class OperationsReport {
 public:
  virtual ~OperationsReport() = default;
  // The report; an HSM or a store that fails its probe is reported in it, not as an error.
  // Errors: kSystemUnavailable (the store failed after its probe worked).
  [[nodiscard]] virtual Result<ApplianceReport> report() = 0;
  // Whether requests can be served: the store reads and the HSM signs. Errors:
  // kSystemUnavailable saying which does not.
  [[nodiscard]] virtual Status readiness() = 0;
};

// The officer's side of revocation (enrollctl revoke): any certificate of this CA, whoever
// enrolled it. Thread-safety: may be called concurrently, and with EnrollmentService's methods.
class RevocationAdministration {
 public:
  virtual ~RevocationAdministration() = default;
  // Revokes, holds or releases as EnrollmentService::revoke does, with an audit record naming
  // `officer`. Errors: kNotFound (no such serial), kCertRevoked, kUnexpectedMessage,
  // kUnsupportedRequest, kSystemUnavailable.
  [[nodiscard]] virtual Status revoke_by_officer(std::string_view serial_hex, int reason, std::string_view officer) = 0;
};

// Certificates that requesters sign with: vendor (manufacturer) certificates under the
// configured trust anchors, and certificates this appliance issued.
// Thread-safety: validate() may run concurrently, also with a reload of the anchors (each
// validation uses the anchors it started with).
class CertificateTrust {
 public:
  virtual ~CertificateTrust() = default;
  // Validates `signer` (DER) with `untrusted` (DER intermediates, e.g. CMP extraCerts) at the
  // current time and returns the requester it authenticates; an authorized RA certificate gives
  // "ra:<subject>" with registration_authority set. Errors: kSignerNotTrusted (no
  // valid path to an anchor, or claims this CA but is unknown to it), kCertRevoked (revoked
  // here), kBadDataFormat (not a certificate), kSystemUnavailable (store).
  [[nodiscard]] virtual Result<Requester> validate(ByteView signer, const std::vector<Bytes>& untrusted) const = 0;
  // The same for certificates the caller has decoded already (a CMP message's extraCerts):
  // decoding one costs OpenSSL 3.0 more than validating it. They are not modified.
  [[nodiscard]] virtual Result<Requester> validate_decoded(::X509* signer,
                                                           const std::vector<::X509*>& untrusted) const = 0;
};

// Signs protocol messages (e.g. CMP responses) with a key that stays in the HSM.
// Thread-safety: sign() may run concurrently.
class MessageSigner {
 public:
  virtual ~MessageSigner() = default;
  // Returns the signature over `data`, or kSystemUnavailable if the HSM failed.
  [[nodiscard]] virtual Result<Bytes> sign(ByteView data) const = 0;
  // DER AlgorithmIdentifier of the signatures sign() makes.
  virtual const Bytes& algorithm() const = 0;
  // DER certificates: the signer's own first, then its issuers.
  virtual const std::vector<Bytes>& certificates() const = 0;
  // The subjectKeyIdentifier of the signer's certificate (CMP senderKID); empty if it has none.
  virtual const Bytes& key_identifier() const = 0;
};

// Shared secrets that requesters authenticate with (MAC protection), by reference.
// Thread-safety: find_secret() may run concurrently, also with a reload of the secrets.
class SharedSecrets {
 public:
  virtual ~SharedSecrets() = default;
  // Returns the secret for `reference`, or nullopt if the reference is unknown.
  virtual std::optional<Bytes> find_secret(std::string_view reference) const = 0;
};

}  // namespace enrolld::ra
