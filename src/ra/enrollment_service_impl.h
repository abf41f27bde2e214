#pragma once
#include <array>
#include <chrono>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "ca/certificate_authority.h"
#include "common/swappable.h"
#include "ra/enrollment_service.h"
#include "ra/key_generation.h"
#include "ra/revocation_lists.h"
#include "store/store.h"
#include "txn/transaction.h"

namespace enrolld::ra {

// Requests an officer reviews whatever their profile (seed 004's manual review list): fnmatch(3)
// patterns on the subject (RFC 2253, e.g. "*CN=admin*"), on each requested subjectAltName
// ("DNS:*.bank.example", "IP:10.*"), and on the requester ("vendor:*", "mac:lab-*").
struct ReviewRules {
  std::vector<std::string> subjects;
  std::vector<std::string> sans;
  std::vector<std::string> requesters;
};

struct Policy {
  bool grant_implicit_confirm = true;                           // when the requester asks for it
  std::chrono::seconds confirm_wait = std::chrono::minutes(5);  // how long a certConf may take
  // Key update: revoke the replaced certificate (reason superseded) once the new one is
  // confirmed. Off: the old one stays valid until it expires.
  bool revoke_replaced_certificate = false;
  // Delayed delivery: requests under these profiles wait for an officer (ApprovalQueue).
  std::set<std::string, std::less<>> approval_profiles;
  ReviewRules review;
  // EST: requests under these profiles must carry the TLS session's channel binding.
  std::set<std::string, std::less<>> channel_binding_profiles;
  std::chrono::seconds check_after = std::chrono::seconds(10);  // told to a polling requester
  // How long a held request may wait for a decision, and an approved one for its requester.
  std::chrono::seconds approval_wait = std::chrono::hours(24 * 7);
  CrlSchedule crl;
  // Publishers that also publish every issued certificate (an outbox record in the issuing commit).
  std::vector<std::string> certificate_publishers;
};

// The key generation authority of central key generation (RFC 9483 4.1.6): its key in the
// HSM, and its certificate (extended key usage id-kp-cmKGA) first in `chain`, then its issuers.
struct KeyGenerationAuthority {
  std::unique_ptr<hsm::Signer> signer;
  std::vector<ossl::X509Ptr> chain;
  KeyPackageFormat format = KeyPackageFormat::kSingleKey;
};

// Thread-safety: see EnrollmentService and ApprovalQueue; replace_profiles() may run
// concurrently with them. The store and CA must outlive this object.
// The profiles and the rules that send requests to an officer: replaced together on reload,
// so that a request never meets a profile from one configuration and rules from another.
struct ProfileSnapshot {
  std::vector<ca::Profile> profiles;  // the first is the default
  std::set<std::string, std::less<>> approval_profiles;
  std::set<std::string, std::less<>> channel_binding_profiles;
  ReviewRules review;
};

// An issuing CA the service signs with; a profile names it (ca::Profile::issuing_ca).
struct IssuingAuthority {
  std::string name;  // unique; the first is ca::kFirstIssuingCa
  const ca::CertificateAuthority* authority = nullptr;
  // Where its delta CRLs are published (its full CRLs' freshestCRL); empty: the policy's.
  std::string delta_crl_url;
};

class EnrollmentServiceImpl final : public EnrollmentService, public ApprovalQueue, public RevocationAdministration {
 public:
  // `authorities` must not be empty, nor `profiles`; the first profile is the default, and each
  // names one of the authorities. Without `kga`, central key generation is refused.
  EnrollmentServiceImpl(store::Store& store, std::vector<IssuingAuthority> authorities,
                        std::vector<ca::Profile> profiles, Policy policy, ca::Clock clock,
                        std::optional<KeyGenerationAuthority> kga = std::nullopt,
                        std::optional<RootCaUpdate> root_update = std::nullopt, Metrics* metrics = nullptr);
  // With one issuing CA, the first.
  EnrollmentServiceImpl(store::Store& store, const ca::CertificateAuthority& authority,
                        std::vector<ca::Profile> profiles, Policy policy, ca::Clock clock,
                        std::optional<KeyGenerationAuthority> kga = std::nullopt,
                        std::optional<RootCaUpdate> root_update = std::nullopt, Metrics* metrics = nullptr);

  Result<Bytes> submit(const CertificationRequest& request, const Bytes& protocol_state,
                       const ReplyEncoder& encode) override;
  Result<Bytes> collect(std::string_view transaction_id_hex, const Requester& requester, const Bytes& fingerprint,
                        const Bytes& protocol_state, const ReplyEncoder& encode) override;
  Result<std::optional<TransactionView>> find(std::string_view transaction_id_hex) override;
  Result<Bytes> confirm(std::string_view transaction_id_hex, bool accepted, const Bytes& fingerprint,
                        const Bytes& reply) override;
  const std::vector<Bytes>& ca_chain() const override { return m_issuing_cas.front().chain; }
  const std::vector<IssuingCaInfo>& issuing_cas() const override { return m_issuing_cas; }
  Result<RevocationList> current_crl(std::string_view ca_name) override;
  Result<std::optional<RevocationList>> current_delta_crl(std::string_view ca_name) override;
  const std::optional<RootCaUpdate>& root_ca_update() const override { return m_root_update; }
  Result<ProfileInfo> profile(std::string_view name) const override;
  Result<GeneratedKey> generate_key(const ProfileInfo& profile, ByteView algorithm_der) override;
  Status revoke(const RevocationRequest& request) override;

  Result<std::vector<PendingRequest>> pending(std::size_t limit) override;
  Status approve(std::string_view transaction_id_hex, std::string_view officer) override;
  Status reject(std::string_view transaction_id_hex, std::string_view officer, std::string_view reason) override;

  Status revoke_by_officer(std::string_view serial_hex, int reason, std::string_view officer) override;

  // Expires open transactions whose deadline has passed (revoking certificates that were never
  // confirmed, RFC 4210 5.3.18) and returns how many. The appliance calls it periodically, so a
  // requester that never comes back leaves nothing valid behind.
  Result<std::size_t> expire_overdue();

  // Replaces the profiles (as the constructor takes them) and what of `policy` follows from the
  // profiles and [review]: approval_profiles, channel_binding_profiles and review; the rest of
  // the policy (deadlines, CRL schedule, publishers) stays as constructed. A request under way
  // finishes with the profiles it started with. Returns kConfigInvalid, changing nothing, if
  // `profiles` is empty or one names an issuing CA the service was not built with.
  Status replace_profiles(std::vector<ca::Profile> profiles, const Policy& policy);

 private:
  // An issuing CA as the service keeps it: m_issuers[i] is m_issuing_cas[i].
  struct Issuer {
    const ca::CertificateAuthority* authority;
    std::unique_ptr<RevocationLists> crls;
  };
  // The index of the CA named `name`, or nullopt.
  std::optional<std::size_t> issuer_index(std::string_view name) const;
  // The index of the CA whose subject the store recorded as a certificate's issuer, or nullopt.
  std::optional<std::size_t> issuer_of(const std::string& issuer) const;

  using ProfileRules = ProfileSnapshot;
  static ProfileRules rules_of(std::vector<ca::Profile> profiles, const Policy& policy);
  // The request's own snapshot, or the current one.
  std::shared_ptr<const ProfileRules> rules_for(const CertificationRequest& request) const;

  // Requests for one transaction ID take the same lock, so a resend racing the original can
  // never issue twice. Striped: unrelated transactions rarely share a lock.
  std::mutex& lock_for(std::string_view transaction_id_hex);
  // A certificate's status changes (revocation, hold, release, expiry, supersession) hold its
  // serial's lock from reading the record to committing it. Taken after a transaction's lock,
  // never before one, and never two at once. Empty serial: no lock.
  std::unique_lock<std::mutex> lock_serial(std::string_view serial_hex);
  // Commits `writes` to the store and tells the CRLs when a certificate's status changed.
  Status commit(const store::WriteSet& writes);
  // The profile named `name` (empty: the default) in `rules`, or null.
  static const ca::Profile* find_profile(const ProfileRules& rules, std::string_view name);
  static bool needs_review(const CertificationRequest& request, const ca::Profile& profile, const ProfileRules& rules);
  // The stored transaction, or kUnknownTransaction.
  Result<store::TransactionRecord> existing_transaction(std::string_view transaction_id_hex);
  // Issues for `request`, moving `record` (new, or approved) from `from` to issued, and stores
  // certificate, transaction and reply in one durable write. Retries when a serial collides.
  Result<Bytes> issue(const CertificationRequest& request, const ca::Profile& profile, txn::State from,
                      const store::TransactionRecord& record, const ReplyEncoder& encode);
  Result<Bytes> issue_once(const CertificationRequest& request, const ca::Profile& profile, txn::State from,
                           store::TransactionRecord record, const ReplyEncoder& encode);
  Result<Bytes> hold(const CertificationRequest& request, store::TransactionRecord record, const ReplyEncoder& encode);
  // The reply for a transaction that already has its certificate, encoded afresh and stored.
  Result<Bytes> redeliver(store::TransactionRecord record, const Bytes& fingerprint, const Bytes& protocol_state,
                          const ReplyEncoder& encode);
  std::int64_t now_seconds() const;
  Status check_key_update(const CertificationRequest& request);
  // Adds to `writes` the revocation (superseded) of `old_serial` by `new_serial`, with its audit
  // record, if the policy asks for it and the old certificate is still valid.
  Status supersede(const std::string& old_serial, const std::string& new_serial, const std::string& transaction,
                   std::int64_t now, store::WriteSet& writes);
  // Applies a revocation, hold or release to `cert` and commits it with its audit record.
  Status commit_status_change(store::CertificateRecord cert, int reason, const std::string& actor,
                              const std::string& detail);
  // The certificate revoked now, reason unspecified (nullopt if absent), ready to commit.
  Result<std::optional<store::CertificateRecord>> revoked_certificate(const std::string& serial_hex);
  // Moves a transaction past its deadline to expired and revokes its certificate, if any.
  Status expire(store::TransactionRecord record, txn::Transaction& txn);
  // Expires those of `overdue` that are still overdue at `now` once locked; returns how many.
  Result<std::size_t> expire_each(const std::vector<store::TransactionRecord>& overdue, std::int64_t now);
  // Applies an officer's decision (kApproved or kRefused) with its audit record.
  Status decide(std::string_view transaction_id_hex, std::string_view officer, txn::Event decision,
                std::string_view reason);
  // The transaction an officer decides on, with its machine; kUnexpectedMessage unless it is
  // waiting for approval. The caller holds its lock.
  Result<std::pair<store::TransactionRecord, txn::Transaction>> awaiting_decision(std::string_view transaction_id_hex);

  store::Store& m_store;
  Swappable<ProfileRules> m_rules;
  Policy m_policy;  // its approval_profiles, channel_binding_profiles and review are in m_rules
  ca::Clock m_clock;
  std::vector<IssuingCaInfo> m_issuing_cas;  // never resized: ProfileInfo points into it
  std::vector<Issuer> m_issuers;
  std::optional<KeyGenerationAuthority> m_kga;
  std::optional<RootCaUpdate> m_root_update;
  std::array<std::mutex, 64> m_locks;
  std::array<std::mutex, 64> m_serial_locks;
  Metrics* m_metrics;  // null without metrics
  Histogram* m_issuance_latency = nullptr;
};

}  // namespace enrolld::ra
