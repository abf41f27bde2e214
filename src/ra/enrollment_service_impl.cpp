#include "ra/enrollment_service_impl.h"

#include <functional>

#include "common/log.h"
#include "txn/transaction.h"

namespace enrolld::ra {

namespace {

constexpr int kCommitAttempts = 3;  // a serial taken between check and commit: draw again

std::int64_t unix_seconds(const ::ASN1_TIME* time) {
  struct tm tm {};
  if (::ASN1_TIME_to_tm(time, &tm) != 1) return 0;
  return static_cast<std::int64_t>(::timegm(&tm));
}

store::CertificateRecord certificate_record(const ca::IssuedCertificate& issued, const CertificationRequest& request,
                                            std::int64_t now) {
  const ::X509* cert = issued.certificate.get();
  store::CertificateRecord record;
  record.serial_hex = issued.serial_hex;
  record.issuer = ossl::name_to_string(::X509_get_issuer_name(cert));
  record.subject = ossl::name_to_string(::X509_get_subject_name(cert));
  record.der = ossl::der_of(cert);
  record.not_before = unix_seconds(::X509_get0_notBefore(cert));
  record.not_after = unix_seconds(::X509_get0_notAfter(cert));
  record.issued_at = now;
  record.transaction_id_hex = request.transaction_id_hex;
  record.requester = request.requester.identity;
  return record;
}

TransactionView view_of(const store::TransactionRecord& record, Bytes certificate_der) {
  return TransactionView{
      record.state,         record.requester,     std::move(certificate_der), record.request_fingerprint,
      record.last_response, record.protocol_state};
}

}  // namespace

EnrollmentServiceImpl::EnrollmentServiceImpl(store::Store& store, const ca::CertificateAuthority& authority,
                                             ca::Profile profile, Policy policy, ca::Clock clock)
    : m_store(store),
      m_authority(authority),
      m_profile(std::move(profile)),
      m_policy(policy),
      m_clock(std::move(clock)) {
  for (const auto& cert : m_authority.chain()) m_chain_der.push_back(ossl::der_of(cert.get()));
}

std::mutex& EnrollmentServiceImpl::lock_for(std::string_view transaction_id_hex) {
  return m_locks[std::hash<std::string_view>{}(transaction_id_hex) % m_locks.size()];
}

std::int64_t EnrollmentServiceImpl::now_seconds() const {
  return std::chrono::duration_cast<std::chrono::seconds>(m_clock().time_since_epoch()).count();
}

Status EnrollmentServiceImpl::check_key_update(const CertificationRequest& request) {
  auto found = m_store.find_certificate(request.replaces_serial_hex);
  if (!found) return tl::unexpected(found.error());
  if (!*found) return fail(ErrorCode::kBadCertId, "the certificate to update is unknown");
  if ((*found)->status == "revoked") return fail(ErrorCode::kCertRevoked, "the certificate to update is revoked");
  if ((*found)->not_after < now_seconds()) {
    return fail(ErrorCode::kCertRevoked, "the certificate to update has expired; enroll anew");
  }
  auto old = ossl::x509_from_der((*found)->der);
  if (!old) return tl::unexpected(old.error());
  if (ossl::der_of(::X509_get_subject_name(old->get())) != request.subject_der) {
    return fail(ErrorCode::kBadCertTemplate, "a key update keeps the subject of the certificate it updates");
  }
  if (ossl::der_of_public_key(::X509_get0_pubkey(old->get())) == request.public_key_der) {
    return fail(ErrorCode::kBadCertTemplate, "a key update needs a new key");
  }
  return {};
}

Status EnrollmentServiceImpl::supersede(const std::string& old_serial, const std::string& new_serial,
                                        const std::string& transaction, std::int64_t now, store::WriteSet& writes) {
  if (old_serial.empty() || !m_policy.revoke_replaced_certificate) return {};
  auto found = m_store.find_certificate(old_serial);
  if (!found) return tl::unexpected(found.error());
  if (!*found || (*found)->status == "revoked") return {};
  constexpr int kSuperseded = 4;  // RFC 5280 5.3.1
  store::CertificateRecord old = std::move(**found);
  old.status = "revoked";
  old.revoked_at = now;
  old.revocation_reason = kSuperseded;
  writes.updated_certificates.push_back(std::move(old));
  writes.audit.push_back({now, "policy", "revoke", "serial=" + old_serial,
                          "reason=4 superseded by serial=" + new_serial + " txn=" + transaction});
  return {};
}

Result<ProfileInfo> EnrollmentServiceImpl::profile(std::string_view name) const {
  if (!name.empty() && name != m_profile.name) {
    return fail(ErrorCode::kBadCertTemplate, "unknown certificate profile '" + std::string(name) + "'");
  }
  ProfileInfo info{m_profile.name, {}};
  for (const auto& rule : m_profile.keys) info.key_algorithms.push_back(ca::algorithm_identifier_der(rule));
  return info;
}

Result<Bytes> EnrollmentServiceImpl::submit(const CertificationRequest& request, const Bytes& protocol_state,
                                            const ReplyEncoder& encode) {
  if (auto known = profile(request.profile); !known) return tl::unexpected(known.error());
  std::lock_guard lock(lock_for(request.transaction_id_hex));
  auto existing = m_store.find_transaction(request.transaction_id_hex);
  if (!existing) return tl::unexpected(existing.error());
  if (*existing) {
    if ((*existing)->request_fingerprint == request.fingerprint) {
      spdlog::info("resend txn={} answered with the stored reply", request.transaction_id_hex);
      return (*existing)->last_response;
    }
    return fail(ErrorCode::kTransactionIdInUse,
                "transaction ID " + request.transaction_id_hex + " is already in use; start with a fresh ID");
  }
  if (!request.replaces_serial_hex.empty()) {
    if (auto ok = check_key_update(request); !ok) return tl::unexpected(ok.error());
  }
  for (int attempt = 1;; ++attempt) {
    auto reply = issue_and_store(request, protocol_state, encode);
    if (reply || reply.error().code != ErrorCode::kConflict || attempt == kCommitAttempts) return reply;
  }
}

Result<Bytes> EnrollmentServiceImpl::issue_and_store(const CertificationRequest& request, const Bytes& protocol_state,
                                                     const ReplyEncoder& encode) {
  auto txn = txn::Transaction::begin();
  ca::CertificationInput input{request.subject_der, request.public_key_der, request.extensions_der};
  auto issued =
      m_authority.issue(input, m_profile, [this](const std::string& serial) { return m_store.serial_taken(serial); });
  if (!issued) return tl::unexpected(issued.error());

  const bool implicit = request.implicit_confirm_requested && m_policy.grant_implicit_confirm;
  IssuedCertificate result{ossl::der_of(issued->certificate.get()), m_chain_der, implicit};
  auto reply = encode(result);
  if (!reply) return tl::unexpected(reply.error());
  auto state = txn.apply(implicit ? txn::Event::kIssuedConfirmed : txn::Event::kIssued);
  if (!state) return tl::unexpected(state.error());

  const std::int64_t now = now_seconds();
  store::TransactionRecord record;
  record.id_hex = request.transaction_id_hex;
  record.protocol = request.protocol;
  record.state = std::string(txn::to_string(*state));
  record.requester = request.requester.identity;
  record.profile = m_profile.name;
  record.certificate_serial_hex = issued->serial_hex;
  record.replaces_serial_hex = request.replaces_serial_hex;
  record.request_fingerprint = request.fingerprint;
  record.last_response = *reply;
  record.protocol_state = protocol_state;
  record.created_at = record.updated_at = now;
  record.deadline = implicit ? 0 : now + m_policy.confirm_wait.count();

  store::WriteSet writes;
  writes.new_certificates.push_back(certificate_record(*issued, request, now));
  if (implicit) {
    if (auto ok = supersede(request.replaces_serial_hex, issued->serial_hex, request.transaction_id_hex, now, writes);
        !ok) {
      return tl::unexpected(ok.error());
    }
  }
  writes.transactions.push_back(std::move(record));
  if (auto ok = m_store.commit(writes); !ok) return tl::unexpected(ok.error());
  spdlog::info("issued txn={} serial={} subject=\"{}\" requester={} state={}", request.transaction_id_hex,
               issued->serial_hex, writes.new_certificates.front().subject, request.requester.identity,
               txn::to_string(*state));
  return reply;
}

Result<std::optional<store::CertificateRecord>> EnrollmentServiceImpl::revoked_certificate(
    const std::string& serial_hex) {
  auto cert = m_store.find_certificate(serial_hex);
  if (!cert) return tl::unexpected(cert.error());
  if (*cert) (*cert)->status = "revoked";
  return cert;
}

Result<Bytes> EnrollmentServiceImpl::expire(store::TransactionRecord record, txn::Transaction& txn) {
  auto state = txn.apply(txn::Event::kTimeout);
  if (!state) return tl::unexpected(state.error());
  // An issued certificate that was never confirmed must not stay valid (RFC 4210 5.3.18).
  store::WriteSet writes;
  auto revoked = revoked_certificate(record.certificate_serial_hex);
  if (!revoked) return tl::unexpected(revoked.error());
  if (*revoked) writes.updated_certificates.push_back(std::move(**revoked));
  record.state = std::string(txn::to_string(*state));
  record.updated_at = now_seconds();
  record.deadline = 0;
  writes.transactions.push_back(record);
  if (auto ok = m_store.commit(writes); !ok) return tl::unexpected(ok.error());
  spdlog::warn("expired txn={} serial={}: no confirmation before the deadline; certificate revoked", record.id_hex,
               record.certificate_serial_hex);
  return fail(ErrorCode::kUnexpectedMessage,
              "the confirmation deadline has passed; the transaction expired and its certificate was revoked");
}

Status EnrollmentServiceImpl::revoke(const RevocationRequest& request) {
  // RFC 5280 5.3.1: reason codes 0-10; 7 is not used.
  if (request.reason < 0 || request.reason > 10 || request.reason == 7) {
    return fail(ErrorCode::kUnsupportedRequest,
                "revocation reason " + std::to_string(request.reason) + " is not an RFC 5280 CRLReason");
  }
  std::lock_guard lock(lock_for(request.serial_hex));
  auto found = m_store.find_certificate(request.serial_hex);
  if (!found) return tl::unexpected(found.error());
  if (!*found) return fail(ErrorCode::kBadCertId, "no certificate with serial " + request.serial_hex);
  store::CertificateRecord cert = std::move(**found);
  if (!request.issuer_der.empty()) {
    auto issuer = ossl::name_from_der(request.issuer_der);
    if (!issuer || ossl::name_to_string(issuer->get()) != cert.issuer) {
      return fail(ErrorCode::kBadCertId, "serial " + request.serial_hex + " was not issued by that issuer");
    }
  }
  if (cert.status == "revoked") return fail(ErrorCode::kCertRevoked, "the certificate is already revoked");
  // RFC 9483 4.2: a certificate may revoke itself; a requester may revoke what it enrolled.
  if (cert.requester != request.requester.identity && request.requester.certificate_serial_hex != cert.serial_hex) {
    return fail(ErrorCode::kNotAuthorized, "only the certificate itself or its requester may revoke it");
  }
  const std::int64_t now = now_seconds();
  cert.status = "revoked";
  cert.revoked_at = now;
  cert.revocation_reason = request.reason;
  store::WriteSet writes;
  writes.updated_certificates.push_back(cert);
  writes.audit.push_back({now, request.requester.identity, "revoke", "serial=" + cert.serial_hex,
                          "reason=" + std::to_string(request.reason) + " txn=" + request.transaction_id_hex});
  if (auto ok = m_store.commit(writes); !ok) return ok;
  spdlog::info("revoked serial={} reason={} by={} txn={}", cert.serial_hex, request.reason, request.requester.identity,
               request.transaction_id_hex);
  return {};
}

Result<std::optional<TransactionView>> EnrollmentServiceImpl::find(std::string_view transaction_id_hex) {
  auto record = m_store.find_transaction(transaction_id_hex);
  if (!record) return tl::unexpected(record.error());
  if (!*record) return std::optional<TransactionView>();
  Bytes certificate_der;
  if (!(*record)->certificate_serial_hex.empty()) {
    auto cert = m_store.find_certificate((*record)->certificate_serial_hex);
    if (!cert) return tl::unexpected(cert.error());
    if (*cert) certificate_der = (*cert)->der;
  }
  return std::optional<TransactionView>(view_of(**record, std::move(certificate_der)));
}

Result<Bytes> EnrollmentServiceImpl::confirm(std::string_view transaction_id_hex, bool accepted,
                                             const Bytes& fingerprint, const Bytes& reply) {
  std::lock_guard lock(lock_for(transaction_id_hex));
  auto found = m_store.find_transaction(transaction_id_hex);
  if (!found) return tl::unexpected(found.error());
  if (!*found) {
    return fail(ErrorCode::kUnknownTransaction, "no transaction with ID " + std::string(transaction_id_hex));
  }
  store::TransactionRecord record = std::move(**found);
  if (record.request_fingerprint == fingerprint) return record.last_response;

  auto persisted = txn::state_from_string(record.state);
  if (!persisted) return fail(ErrorCode::kSystemFailure, "stored transaction has unknown state " + record.state);
  auto txn = txn::Transaction::resume(*persisted);
  const bool too_late = record.deadline != 0 && now_seconds() > record.deadline;
  if (too_late) return expire(std::move(record), txn);
  auto state = txn.apply(accepted ? txn::Event::kConfirmed : txn::Event::kRejected);
  if (!state) return tl::unexpected(state.error());

  store::WriteSet writes;
  if (!accepted) {
    // RFC 9483 4.1.1: a certificate the requester rejected must not stay valid.
    auto revoked = revoked_certificate(record.certificate_serial_hex);
    if (!revoked) return tl::unexpected(revoked.error());
    if (*revoked) writes.updated_certificates.push_back(std::move(**revoked));
  } else if (auto ok = supersede(record.replaces_serial_hex, record.certificate_serial_hex, record.id_hex,
                                 now_seconds(), writes);
             !ok) {
    return tl::unexpected(ok.error());
  }
  record.state = std::string(txn::to_string(*state));
  record.request_fingerprint = fingerprint;
  record.last_response = reply;
  record.updated_at = now_seconds();
  record.deadline = 0;
  writes.transactions.push_back(record);
  if (auto ok = m_store.commit(writes); !ok) return tl::unexpected(ok.error());
  spdlog::info("{} txn={} serial={}", accepted ? "confirmed" : "rejected by requester", transaction_id_hex,
               record.certificate_serial_hex);
  return reply;
}

}  // namespace enrolld::ra
