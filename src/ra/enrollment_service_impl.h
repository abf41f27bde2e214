#pragma once
#include <array>
#include <chrono>
#include <mutex>

#include "ca/certificate_authority.h"
#include "ra/enrollment_service.h"
#include "store/store.h"
#include "txn/transaction.h"

namespace enrolld::ra {

struct Policy {
  bool grant_implicit_confirm = true;                           // when the requester asks for it
  std::chrono::seconds confirm_wait = std::chrono::minutes(5);  // how long a certConf may take
  // Key update: revoke the replaced certificate (reason superseded) once the new one is
  // confirmed. Off: the old one stays valid until it expires.
  bool revoke_replaced_certificate = false;
};

// Thread-safety: see EnrollmentService. The store and CA must outlive this object.
class EnrollmentServiceImpl final : public EnrollmentService {
 public:
  EnrollmentServiceImpl(store::Store& store, const ca::CertificateAuthority& authority, ca::Profile profile,
                        Policy policy, ca::Clock clock);

  Result<Bytes> submit(const CertificationRequest& request, const Bytes& protocol_state,
                       const ReplyEncoder& encode) override;
  Result<std::optional<TransactionView>> find(std::string_view transaction_id_hex) override;
  Result<Bytes> confirm(std::string_view transaction_id_hex, bool accepted, const Bytes& fingerprint,
                        const Bytes& reply) override;
  const std::vector<Bytes>& ca_chain() const override { return m_chain_der; }
  Result<ProfileInfo> profile(std::string_view name) const override;
  Status revoke(const RevocationRequest& request) override;

 private:
  // Requests for one transaction ID take the same lock, so a resend racing the original can
  // never issue twice. Striped: unrelated transactions rarely share a lock.
  std::mutex& lock_for(std::string_view transaction_id_hex);
  Result<Bytes> issue_and_store(const CertificationRequest& request, const Bytes& protocol_state,
                                const ReplyEncoder& encode);
  std::int64_t now_seconds() const;
  Status check_key_update(const CertificationRequest& request);
  // Adds to `writes` the revocation (superseded) of `old_serial` by `new_serial`, with its audit
  // record, if the policy asks for it and the old certificate is still valid.
  Status supersede(const std::string& old_serial, const std::string& new_serial, const std::string& transaction,
                   std::int64_t now, store::WriteSet& writes);
  // The certificate with its status set to revoked (nullopt if absent), ready to commit.
  Result<std::optional<store::CertificateRecord>> revoked_certificate(const std::string& serial_hex);
  // Moves a transaction past its deadline to expired, revokes its certificate, and returns the
  // error the late requester gets.
  Result<Bytes> expire(store::TransactionRecord record, txn::Transaction& txn);

  store::Store& m_store;
  const ca::CertificateAuthority& m_authority;
  ca::Profile m_profile;
  Policy m_policy;
  ca::Clock m_clock;
  std::vector<Bytes> m_chain_der;
  std::array<std::mutex, 64> m_locks;
};

}  // namespace enrolld::ra
