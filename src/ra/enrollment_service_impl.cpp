#include "ra/enrollment_service_impl.h"

#include "ra/key_generation.h"

#include <fnmatch.h>

#include <algorithm>

#include "ca/profile_policy.h"

#include <functional>

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "txn/transaction.h"

namespace enrolld::ra {

namespace {

constexpr int kCommitAttempts = 3;               // a serial taken between check and commit: draw again
constexpr std::size_t kOpenScanLimit = 100'000;  // bound on one pass over open transactions
// The deadline sweep reads overdue transactions kSweepBatch at a time, at most kSweepRounds
// times per sweep (a backlog beyond that waits for the next sweep).
constexpr std::size_t kSweepBatch = 1000;
constexpr int kSweepRounds = 100;

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

void set_state(store::TransactionRecord& record, txn::State state, std::int64_t now) {
  record.state = std::string(txn::to_string(state));
  record.open = !txn::is_final(state);
  record.updated_at = now;
}

Result<txn::Transaction> machine_of(const store::TransactionRecord& record) {
  auto persisted = txn::state_from_string(record.state);
  if (!persisted) return fail(ErrorCode::kSystemFailure, "stored transaction has unknown state " + record.state);
  return txn::Transaction::resume(*persisted);
}

std::string subject_text(const Bytes& name_der) {
  auto name = ossl::name_from_der(name_der);
  return name ? ossl::name_to_string(name->get()) : std::string("(unreadable subject)");
}

// What a held request needs to be issued later, kept with its transaction.
Bytes encode_held(const CertificationRequest& request) {
  using nlohmann::json;
  return json::to_cbor({{"subject", json::binary(request.subject_der)},
                        {"key", json::binary(request.public_key_der)},
                        {"ext", json::binary(request.extensions_der)},
                        {"implicit", request.implicit_confirm_requested},
                        {"confirms", request.confirmation_supported},
                        {"naf", request.requested_not_after.value_or(0)}});
}

Result<CertificationRequest> decode_held(const store::TransactionRecord& record) {
  auto bytes_of = [](const nlohmann::json& value) {
    const auto& binary = value.get_binary();
    return Bytes(binary.begin(), binary.end());
  };
  try {
    auto doc = nlohmann::json::from_cbor(record.held_request);
    CertificationRequest request;
    request.transaction_id_hex = record.id_hex;
    request.protocol = record.protocol;
    request.requester = Requester{record.requester, ""};
    request.profile = record.profile;
    request.subject_der = bytes_of(doc.at("subject"));
    request.public_key_der = bytes_of(doc.at("key"));
    request.extensions_der = bytes_of(doc.at("ext"));
    request.implicit_confirm_requested = doc.at("implicit").get<bool>();
    request.confirmation_supported = doc.value("confirms", true);  // absent in records from before EST
    request.replaces_serial_hex = record.replaces_serial_hex;
    if (const auto not_after = doc.value("naf", std::int64_t{0}); not_after != 0)
      request.requested_not_after = not_after;
    return request;
  } catch (const nlohmann::json::exception& e) {
    return fail(ErrorCode::kSystemFailure, "corrupt held request in transaction " + record.id_hex + ": " + e.what());
  }
}

// The private key as PKCS#8 PrivateKeyInfo DER; OpenSSL's own copies are wiped when freed.
Result<Bytes> pkcs8_of(::EVP_PKEY* key) {
  std::unique_ptr<::PKCS8_PRIV_KEY_INFO, ossl::Deleter<::PKCS8_PRIV_KEY_INFO_free>> info(::EVP_PKEY2PKCS8(key));
  unsigned char* der = nullptr;
  const int length = info ? ::i2d_PKCS8_PRIV_KEY_INFO(info.get(), &der) : -1;
  if (length <= 0) return fail(ErrorCode::kSystemFailure, "cannot encode the generated key as PKCS#8");
  Bytes out(der, der + length);
  ::OPENSSL_clear_free(der, static_cast<std::size_t>(length));
  return out;
}

}  // namespace

EnrollmentServiceImpl::EnrollmentServiceImpl(store::Store& store, const ca::CertificateAuthority& authority,
                                             std::vector<ca::Profile> profiles, Policy policy, ca::Clock clock,
                                             std::optional<KeyGenerationAuthority> kga,
                                             std::optional<RootCaUpdate> root_update, Metrics* metrics)
    : EnrollmentServiceImpl(store, {IssuingAuthority{ca::kFirstIssuingCa, &authority, {}}}, std::move(profiles),
                            std::move(policy), std::move(clock), std::move(kga), std::move(root_update), metrics) {}

EnrollmentServiceImpl::EnrollmentServiceImpl(store::Store& store, std::vector<IssuingAuthority> authorities,
                                             std::vector<ca::Profile> profiles, Policy policy, ca::Clock clock,
                                             std::optional<KeyGenerationAuthority> kga,
                                             std::optional<RootCaUpdate> root_update, Metrics* metrics)
    : m_store(store),
      m_rules(rules_of(std::move(profiles), policy)),
      m_policy(std::move(policy)),
      m_clock(std::move(clock)),
      m_kga(std::move(kga)),
      m_root_update(std::move(root_update)),
      m_metrics(metrics) {
  // Read from m_rules only, so that a reload cannot leave a stale copy in use.
  m_policy.approval_profiles.clear();
  m_policy.channel_binding_profiles.clear();
  m_policy.review = {};
  for (auto& issuing : authorities) {
    IssuingCaInfo info{issuing.name, {}};
    for (const auto& cert : issuing.authority->chain()) info.chain.push_back(ossl::der_of(cert.get()));
    CrlSchedule schedule = m_policy.crl;
    if (!issuing.delta_crl_url.empty()) schedule.delta_url = issuing.delta_crl_url;
    m_issuers.push_back(
        {issuing.authority,
         std::make_unique<RevocationLists>(store, *issuing.authority, std::move(schedule), m_clock, issuing.name)});
    m_issuing_cas.push_back(std::move(info));
  }
  if (m_metrics != nullptr) {
    m_issuance_latency = &m_metrics->histogram(
        "enrolld_issuance_seconds", "From an issuing request to its durable certificate (policy, HSM, store)");
  }
}

Status EnrollmentServiceImpl::commit(const store::WriteSet& writes) {
  if (auto ok = m_store.commit(writes); !ok) return ok;
  // Status changes (revoked, held, released) are what CRLs list; new certificates are not.
  for (const auto& cert : writes.updated_certificates) {
    if (auto index = issuer_of(cert.issuer)) m_issuers[*index].crls->note_change();
  }
  return {};
}

std::optional<std::size_t> EnrollmentServiceImpl::issuer_index(std::string_view name) const {
  for (std::size_t i = 0; i < m_issuing_cas.size(); ++i) {
    if (m_issuing_cas[i].name == name) return i;
  }
  return std::nullopt;
}

std::optional<std::size_t> EnrollmentServiceImpl::issuer_of(const std::string& issuer) const {
  for (std::size_t i = 0; i < m_issuers.size(); ++i) {
    if (m_issuers[i].authority->name() == issuer) return i;
  }
  return std::nullopt;
}

Result<RevocationList> EnrollmentServiceImpl::current_crl(std::string_view ca_name) {
  auto index = issuer_index(ca_name);
  if (!index) return fail(ErrorCode::kNotFound, "no issuing CA is named '" + std::string(ca_name) + "'");
  return m_issuers[*index].crls->current();
}

Result<std::optional<RevocationList>> EnrollmentServiceImpl::current_delta_crl(std::string_view ca_name) {
  auto index = issuer_index(ca_name);
  if (!index) return fail(ErrorCode::kNotFound, "no issuing CA is named '" + std::string(ca_name) + "'");
  return m_issuers[*index].crls->current_delta();
}

std::unique_lock<std::mutex> EnrollmentServiceImpl::lock_serial(std::string_view serial_hex) {
  if (serial_hex.empty()) return {};
  return std::unique_lock(m_serial_locks[std::hash<std::string_view>{}(serial_hex) % m_serial_locks.size()]);
}

std::mutex& EnrollmentServiceImpl::lock_for(std::string_view transaction_id_hex) {
  return m_locks[std::hash<std::string_view>{}(transaction_id_hex) % m_locks.size()];
}

std::int64_t EnrollmentServiceImpl::now_seconds() const {
  return std::chrono::duration_cast<std::chrono::seconds>(m_clock().time_since_epoch()).count();
}

Result<store::TransactionRecord> EnrollmentServiceImpl::existing_transaction(std::string_view transaction_id_hex) {
  auto found = m_store.find_transaction(transaction_id_hex);
  if (!found) return tl::unexpected(found.error());
  if (!*found) {
    return fail(ErrorCode::kUnknownTransaction, "no transaction with ID " + std::string(transaction_id_hex));
  }
  return std::move(**found);
}

EnrollmentServiceImpl::ProfileRules EnrollmentServiceImpl::rules_of(std::vector<ca::Profile> profiles,
                                                                    const Policy& policy) {
  return ProfileRules{std::move(profiles), policy.approval_profiles, policy.channel_binding_profiles, policy.review};
}

Status EnrollmentServiceImpl::replace_profiles(std::vector<ca::Profile> profiles, const Policy& policy) {
  if (profiles.empty()) return fail(ErrorCode::kConfigInvalid, "no certificate profile; the default one is required");
  for (const auto& profile : profiles) {
    if (!issuer_index(profile.issuing_ca)) {
      return fail(ErrorCode::kConfigInvalid, "profile '" + profile.name + "' names issuing CA '" + profile.issuing_ca +
                                                 "', which is not configured (a new CA needs a restart)");
    }
  }
  m_rules.replace(rules_of(std::move(profiles), policy));
  return {};
}

std::shared_ptr<const EnrollmentServiceImpl::ProfileRules> EnrollmentServiceImpl::rules_for(
    const CertificationRequest& request) const {
  return request.profile_snapshot ? request.profile_snapshot : m_rules.get();
}

const ca::Profile* EnrollmentServiceImpl::find_profile(const ProfileRules& rules, std::string_view name) {
  if (name.empty()) return rules.profiles.empty() ? nullptr : &rules.profiles.front();
  for (const auto& profile : rules.profiles) {
    if (profile.name == name) return &profile;
  }
  return nullptr;
}

Status EnrollmentServiceImpl::check_key_update(const CertificationRequest& request) {
  auto found = m_store.find_certificate(request.replaces_serial_hex);
  if (!found) return tl::unexpected(found.error());
  if (!*found) return fail(ErrorCode::kBadCertId, "the certificate to update is unknown");
  if ((*found)->status == "revoked") return fail(ErrorCode::kCertRevoked, "the certificate to update is revoked");
  if ((*found)->not_after < now_seconds()) {
    return fail(ErrorCode::kCertRevoked, "the certificate to update has expired; enroll anew");
  }
  auto old = ossl::subject_of_certificate((*found)->der);
  if (!old) return fail(ErrorCode::kSystemFailure, "the stored certificate to update does not read");
  if (!std::equal(old->name.begin(), old->name.end(), request.subject_der.begin(), request.subject_der.end())) {
    return fail(ErrorCode::kBadCertTemplate, "a key update keeps the subject of the certificate it updates");
  }
  // The same key encoded otherwise (a compressed point) is still the same key.
  auto old_key = ossl::public_key_from_der(old->public_key);
  auto new_key = ossl::public_key_from_der(request.public_key_der);
  if (old_key && new_key && ::EVP_PKEY_eq(old_key->get(), new_key->get()) == 1) {
    return fail(ErrorCode::kBadCertTemplate, "a key update needs a new key");
  }
  return {};
}

Status EnrollmentServiceImpl::supersede(const std::string& old_serial, const std::string& new_serial,
                                        const std::string& transaction, std::int64_t now, store::WriteSet& writes) {
  if (old_serial.empty() || !m_policy.revoke_replaced_certificate) return {};
  auto found = m_store.find_certificate(old_serial);
  if (!found) return tl::unexpected(found.error());
  // A held certificate is revoked for good too: a later release must not bring it back.
  if (!*found || ((*found)->status == "revoked" && (*found)->revocation_reason != ca::kReasonCertificateHold)) {
    return {};
  }
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
  const auto rules = m_rules.get();
  const ca::Profile* found = find_profile(*rules, name);
  if (found == nullptr) {
    return fail(ErrorCode::kBadCertTemplate, "unknown certificate profile '" + std::string(name) + "'");
  }
  ProfileInfo info{found->name, {}};
  info.snapshot = rules;
  info.requires_approval = rules->approval_profiles.count(found->name) > 0;
  info.requires_channel_binding = rules->channel_binding_profiles.count(found->name) > 0;
  auto index = issuer_index(found->issuing_ca);
  if (!index) {
    return fail(ErrorCode::kSystemFailure,
                "profile '" + found->name + "' names issuing CA '" + found->issuing_ca + "', which is not configured");
  }
  info.issuing_ca = &m_issuing_cas[*index];
  info.restricts_keys = found->keys != ca::Profile{}.keys;
  for (const auto& rule : found->keys) {
    info.key_algorithms.push_back(ca::algorithm_identifier_der(rule));
    if (rule.type == EVP_PKEY_RSA && (info.rsa_min_bits == 0 || rule.min_bits < info.rsa_min_bits)) {
      info.rsa_min_bits = rule.min_bits;
    }
  }
  return info;
}

Result<GeneratedKey> EnrollmentServiceImpl::generate_key(const ProfileInfo& info, ByteView algorithm_der) {
  const auto rules = info.snapshot ? info.snapshot : m_rules.get();  // keeps *profile alive
  const ca::Profile* profile = find_profile(*rules, info.name);
  if (profile == nullptr) {
    return fail(ErrorCode::kBadCertTemplate, "unknown certificate profile '" + info.name + "'");
  }
  if (!m_kga) {
    return fail(ErrorCode::kUnsupportedRequest,
                "central key generation is not configured here (no key generation authority); send a public key");
  }
  auto key = generate_key_pair(*profile, algorithm_der);
  if (!key) return tl::unexpected(key.error());
  auto package = sign_key_package(key->get(), m_kga->format, *m_kga->signer, m_kga->chain);
  if (!package) return tl::unexpected(package.error());
  auto private_key = pkcs8_of(key->get());
  if (!private_key) return tl::unexpected(private_key.error());
  return GeneratedKey{ossl::der_of_public_key(key->get()), std::move(*package), std::move(*private_key)};
}

Result<Bytes> EnrollmentServiceImpl::submit(const CertificationRequest& request, const Bytes& protocol_state,
                                            const ReplyEncoder& encode) {
  const auto rules = rules_for(request);  // this request's profiles to the end, whatever a reload does
  const ca::Profile* profile = find_profile(*rules, request.profile);
  if (profile == nullptr) {
    return fail(ErrorCode::kBadCertTemplate, "unknown certificate profile '" + request.profile + "'");
  }
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
  // Refused before anything is held: no officer reviews what the profile never allows.
  if (auto ok = ca::check_request(
          {request.subject_der, request.public_key_der, request.extensions_der, request.requested_not_after}, *profile,
          now_seconds());
      !ok) {
    spdlog::warn("refused txn={} profile={} requester={}: {}", request.transaction_id_hex, profile->name,
                 request.requester.identity, ok.error().message);
    return tl::unexpected(ok.error());
  }
  store::TransactionRecord record;
  record.id_hex = request.transaction_id_hex;
  record.protocol = request.protocol;
  record.requester = request.requester.identity;
  record.profile = profile->name;
  record.replaces_serial_hex = request.replaces_serial_hex;
  record.request_fingerprint = request.fingerprint;
  record.protocol_state = protocol_state;
  record.created_at = now_seconds();
  if (needs_review(request, *profile, *rules)) return hold(request, std::move(record), encode);
  return issue(request, *profile, txn::State::kReceived, record, encode);
}

// Seed 004's manual review list: the profile, or a pattern matching the subject, a requested
// subjectAltName or the requester, sends the request to an officer.
bool EnrollmentServiceImpl::needs_review(const CertificationRequest& request, const ca::Profile& profile,
                                         const ProfileRules& rules) {
  if (rules.approval_profiles.contains(profile.name)) return true;
  const ReviewRules& review = rules.review;
  auto matches = [](const std::vector<std::string>& patterns, const std::string& text) {
    return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& pattern) {
      return ::fnmatch(pattern.c_str(), text.c_str(), FNM_CASEFOLD) == 0;
    });
  };
  if (matches(review.requesters, request.requester.identity)) return true;
  if (!review.subjects.empty() && matches(review.subjects, subject_text(request.subject_der))) return true;
  if (review.sans.empty()) return false;
  const auto sans = ca::requested_san_texts(request.extensions_der);
  return std::any_of(sans.begin(), sans.end(), [&](const std::string& san) { return matches(review.sans, san); });
}

Result<Bytes> EnrollmentServiceImpl::hold(const CertificationRequest& request, store::TransactionRecord record,
                                          const ReplyEncoder& encode) {
  auto txn = txn::Transaction::begin();
  auto state = txn.apply(txn::Event::kHeld);
  if (!state) return tl::unexpected(state.error());
  auto reply = encode(Decision{HeldForApproval{m_policy.check_after}});
  if (!reply) return tl::unexpected(reply.error());
  const std::int64_t now = now_seconds();
  set_state(record, *state, now);
  record.held_request = encode_held(request);
  record.last_response = *reply;
  record.deadline = now + m_policy.approval_wait.count();
  store::WriteSet writes;
  writes.transactions.push_back(std::move(record));
  if (auto ok = commit(writes); !ok) return tl::unexpected(ok.error());
  spdlog::info("held for approval txn={} profile={} subject=\"{}\" requester={}", request.transaction_id_hex,
               writes.transactions.front().profile, subject_text(request.subject_der), request.requester.identity);
  return reply;
}

Result<Bytes> EnrollmentServiceImpl::issue(const CertificationRequest& request, const ca::Profile& profile,
                                           txn::State from, const store::TransactionRecord& record,
                                           const ReplyEncoder& encode) {
  ScopedTimer timer(m_issuance_latency);
  for (int attempt = 1;; ++attempt) {
    auto reply = issue_once(request, profile, from, record, encode);
    if (reply || reply.error().code != ErrorCode::kConflict || attempt == kCommitAttempts) {
      if (reply && m_metrics != nullptr) {
        m_metrics
            ->counter("enrolld_certificates_issued_total", "Certificates issued, by protocol and profile",
                      {{"protocol", request.protocol}, {"profile", profile.name}})
            .add();
      }
      return reply;
    }
  }
}

Result<Bytes> EnrollmentServiceImpl::issue_once(const CertificationRequest& request, const ca::Profile& profile,
                                                txn::State from, store::TransactionRecord record,
                                                const ReplyEncoder& encode) {
  auto txn = txn::Transaction::resume(from);
  ca::CertificationInput input{request.subject_der, request.public_key_der, request.extensions_der,
                               request.requested_not_after};
  auto index = issuer_index(profile.issuing_ca);
  if (!index) {
    return fail(ErrorCode::kSystemFailure, "profile '" + profile.name + "' names issuing CA '" + profile.issuing_ca +
                                               "', which is not configured");
  }
  auto issued = m_issuers[*index].authority->issue(
      input, profile, [this](const std::string& serial) { return m_store.serial_taken(serial); });
  if (!issued) return tl::unexpected(issued.error());

  const bool implicit =
      !request.confirmation_supported || (request.implicit_confirm_requested && m_policy.grant_implicit_confirm);
  std::shared_ptr<::X509> decoded(ossl::up_ref(issued->certificate.get()).release(), ::X509_free);
  auto reply = encode(Decision{
      IssuedCertificate{ossl::der_of(issued->certificate.get()), m_issuing_cas[*index].chain, implicit, decoded}});
  if (!reply) return tl::unexpected(reply.error());
  auto state = txn.apply(implicit ? txn::Event::kIssuedConfirmed : txn::Event::kIssued);
  if (!state) return tl::unexpected(state.error());

  const std::int64_t now = now_seconds();
  set_state(record, *state, now);
  record.certificate_serial_hex = issued->serial_hex;
  record.last_response = *reply;
  record.deadline = implicit ? 0 : now + m_policy.confirm_wait.count();

  store::WriteSet writes;
  writes.new_certificates.push_back(certificate_record(*issued, request, now));
  // Held until the commit: an officer's revocation of the replaced certificate must not be lost.
  auto replaced_guard = implicit ? lock_serial(request.replaces_serial_hex) : std::unique_lock<std::mutex>();
  if (implicit) {
    if (auto ok = supersede(request.replaces_serial_hex, issued->serial_hex, request.transaction_id_hex, now, writes);
        !ok) {
      return tl::unexpected(ok.error());
    }
  }
  writes.transactions.push_back(std::move(record));
  const store::CertificateRecord& issued_record = writes.new_certificates.front();
  for (const auto& publisher : m_policy.certificate_publishers) {
    writes.outbox.push_back({publisher,
                             store::kOutboxCertificate,
                             issued_record.serial_hex,
                             issued_record.subject,
                             issued_record.der,
                             0,
                             now,
                             0,
                             0,
                             {}});
  }
  if (auto ok = commit(writes); !ok) return tl::unexpected(ok.error());
  spdlog::info("issued txn={} serial={} subject=\"{}\" requester={} state={}", request.transaction_id_hex,
               issued->serial_hex, writes.new_certificates.front().subject, request.requester.identity,
               txn::to_string(*state));
  return reply;
}

Result<Bytes> EnrollmentServiceImpl::collect(std::string_view transaction_id_hex, const Requester& requester,
                                             const Bytes& fingerprint, const Bytes& protocol_state,
                                             const ReplyEncoder& encode) {
  std::lock_guard lock(lock_for(transaction_id_hex));
  auto found = existing_transaction(transaction_id_hex);
  if (!found) return tl::unexpected(found.error());
  store::TransactionRecord record = std::move(*found);
  if (record.request_fingerprint == fingerprint) return record.last_response;
  if (record.requester != requester.identity) {
    return fail(ErrorCode::kNotAuthorized, "only the requester of a held request may ask after it");
  }
  if (record.held_request.empty()) {
    return fail(ErrorCode::kUnexpectedMessage, "this request was answered at once; there is nothing to poll for");
  }
  auto txn = machine_of(record);
  if (!txn) return tl::unexpected(txn.error());
  const bool overdue = record.deadline != 0 && now_seconds() > record.deadline;
  switch (txn->state()) {
    case txn::State::kWaitingForApproval:
    case txn::State::kApproved: break;
    case txn::State::kWaitingForConfirmation:
    case txn::State::kConfirmed: return redeliver(std::move(record), fingerprint, protocol_state, encode);
    case txn::State::kRefused:
      return fail(ErrorCode::kNotAuthorized, "an officer rejected the request" +
                                                 (record.decision_note.empty() ? "" : ": " + record.decision_note));
    default: return fail(ErrorCode::kUnexpectedMessage, "the request is " + record.state + "; submit a new one");
  }
  if (overdue) {
    if (auto ok = expire(std::move(record), *txn); !ok) return tl::unexpected(ok.error());
    return fail(ErrorCode::kUnexpectedMessage, "the request waited past its deadline and expired; submit a new one");
  }
  if (txn->state() == txn::State::kWaitingForApproval) {
    // Kept, so that a resend gets the same answer and the next poll can be checked against it
    // (CMP: its recipNonce must echo this reply's senderNonce).
    auto reply = encode(Decision{HeldForApproval{m_policy.check_after}});
    if (!reply) return reply;
    record.request_fingerprint = fingerprint;
    record.protocol_state = protocol_state;
    record.last_response = *reply;
    if (auto stored = commit(store::WriteSet{{record}, {}, {}, {}, {}, {}}); !stored)
      return tl::unexpected(stored.error());
    return reply;
  }
  auto request = decode_held(record);
  if (!request) return tl::unexpected(request.error());
  if (!request->replaces_serial_hex.empty()) {
    if (auto ok = check_key_update(*request); !ok) return tl::unexpected(ok.error());
  }
  // Issued under the profile as configured now: an officer's approval may come days later.
  const auto rules = m_rules.get();  // keeps *profile alive
  const ca::Profile* profile = find_profile(*rules, record.profile);
  if (profile == nullptr) {
    return fail(ErrorCode::kBadCertTemplate, "certificate profile '" + record.profile + "' is no longer configured");
  }
  record.request_fingerprint = fingerprint;
  record.protocol_state = protocol_state;
  return issue(*request, *profile, txn::State::kApproved, record, encode);
}

Result<Bytes> EnrollmentServiceImpl::redeliver(store::TransactionRecord record, const Bytes& fingerprint,
                                               const Bytes& protocol_state, const ReplyEncoder& encode) {
  auto cert = m_store.find_certificate(record.certificate_serial_hex);
  if (!cert) return tl::unexpected(cert.error());
  if (!*cert)
    return fail(ErrorCode::kSystemFailure, "the issued certificate " + record.certificate_serial_hex + " is missing");
  const bool implicit = record.state == txn::to_string(txn::State::kConfirmed);
  auto index = issuer_of((*cert)->issuer);
  if (!index) {
    return fail(ErrorCode::kSystemFailure, "the issuer of certificate " + record.certificate_serial_hex +
                                               " is no longer configured: " + (*cert)->issuer);
  }
  auto reply = encode(Decision{IssuedCertificate{(*cert)->der, m_issuing_cas[*index].chain, implicit}});
  if (!reply) return tl::unexpected(reply.error());
  record.request_fingerprint = fingerprint;
  record.protocol_state = protocol_state;
  record.last_response = *reply;
  record.updated_at = now_seconds();
  store::WriteSet writes;
  writes.transactions.push_back(std::move(record));
  if (auto ok = commit(writes); !ok) return tl::unexpected(ok.error());
  return reply;
}

Result<std::optional<store::CertificateRecord>> EnrollmentServiceImpl::revoked_certificate(
    const std::string& serial_hex) {
  auto cert = m_store.find_certificate(serial_hex);
  if (!cert) return tl::unexpected(cert.error());
  // A held certificate becomes revoked for good (reason unspecified): a release must not revive it.
  if (*cert && ((*cert)->status != "revoked" || (*cert)->revocation_reason == ca::kReasonCertificateHold)) {
    (*cert)->status = "revoked";
    (*cert)->revoked_at = now_seconds();  // the CRL's revocationDate
    (*cert)->revocation_reason = 0;       // unspecified: never accepted by its requester
  }
  return cert;
}

Status EnrollmentServiceImpl::expire(store::TransactionRecord record, txn::Transaction& txn) {
  auto state = txn.apply(txn::Event::kTimeout);
  if (!state) return tl::unexpected(state.error());
  // An issued certificate that was never confirmed must not stay valid (RFC 4210 5.3.18).
  auto serial_guard = lock_serial(record.certificate_serial_hex);
  store::WriteSet writes;
  if (!record.certificate_serial_hex.empty()) {
    auto revoked = revoked_certificate(record.certificate_serial_hex);
    if (!revoked) return tl::unexpected(revoked.error());
    if (*revoked) writes.updated_certificates.push_back(std::move(**revoked));
  }
  set_state(record, *state, now_seconds());
  record.deadline = 0;
  writes.transactions.push_back(record);
  if (auto ok = commit(writes); !ok) return ok;
  spdlog::warn("expired txn={} serial={}: its deadline passed{}", record.id_hex, record.certificate_serial_hex,
               writes.updated_certificates.empty() ? "" : "; the unconfirmed certificate was revoked");
  return {};
}

// In rounds of kSweepBatch, earliest deadline first, while a full round expired something: a
// transaction that cannot be expired now is tried again at the next sweep, not in a loop.
Result<std::size_t> EnrollmentServiceImpl::expire_overdue() {
  std::size_t expired = 0;
  for (int round = 0; round < kSweepRounds; ++round) {
    const std::int64_t now = now_seconds();
    auto overdue = m_store.list_overdue_transactions(now, kSweepBatch);
    if (!overdue) return tl::unexpected(overdue.error());
    auto done = expire_each(*overdue, now);
    if (!done) return tl::unexpected(done.error());
    expired += *done;
    if (overdue->size() < kSweepBatch || *done == 0) break;
  }
  return expired;
}

Result<std::size_t> EnrollmentServiceImpl::expire_each(const std::vector<store::TransactionRecord>& overdue,
                                                       std::int64_t now) {
  std::size_t expired = 0;
  for (const auto& candidate : overdue) {
    std::lock_guard lock(lock_for(candidate.id_hex));
    auto fresh = m_store.find_transaction(candidate.id_hex);  // a request may have moved it on meanwhile
    if (!fresh) return tl::unexpected(fresh.error());
    if (!*fresh || (*fresh)->deadline == 0 || now <= (*fresh)->deadline) continue;
    auto txn = machine_of(**fresh);
    Status done = txn ? expire(std::move(**fresh), *txn) : Status(tl::unexpected(txn.error()));
    if (!done && done.error().code == ErrorCode::kSystemUnavailable) return tl::unexpected(done.error());
    if (!done) {
      spdlog::error("cannot expire txn={}: {}", candidate.id_hex, done.error().message);
      continue;
    }
    ++expired;
  }
  return expired;
}

namespace {

using ca::kReasonCertificateHold;
using ca::kReasonRemoveFromCrl;

// RFC 5280 5.3.1: reason codes 0-10; 7 is not used.
Status check_reason(int reason) {
  if (reason < 0 || reason > 10 || reason == 7) {
    return fail(ErrorCode::kUnsupportedRequest,
                "revocation reason " + std::to_string(reason) + " is not an RFC 5280 CRLReason");
  }
  return {};
}

bool on_hold(const store::CertificateRecord& cert) {
  return cert.status == "revoked" && cert.revocation_reason == kReasonCertificateHold;
}

// Moves `cert` to what `reason` asks: revoked (a held certificate may be revoked for good with
// another reason), on hold (certificateHold), or valid again (removeFromCRL lifts a hold).
Status change_status(store::CertificateRecord& cert, int reason, std::int64_t now) {
  if (reason == kReasonRemoveFromCrl) {
    if (!on_hold(cert)) {
      return fail(ErrorCode::kUnexpectedMessage,
                  "serial " + cert.serial_hex + " is not on hold; removeFromCRL only lifts a certificateHold");
    }
    cert.status = "valid";
    cert.revoked_at = 0;
    cert.revocation_reason = 0;
    cert.hold_released_at = now;
    return {};
  }
  if (cert.status == "revoked" && (!on_hold(cert) || reason == kReasonCertificateHold)) {
    return fail(ErrorCode::kCertRevoked,
                on_hold(cert) ? "the certificate is already on hold" : "the certificate is already revoked");
  }
  cert.status = "revoked";
  cert.revoked_at = now;
  cert.revocation_reason = reason;
  return {};
}

}  // namespace

Status EnrollmentServiceImpl::revoke(const RevocationRequest& request) {
  if (auto ok = check_reason(request.reason); !ok) return ok;
  // A hold may be an officer's on a suspect device: its requester must not lift it.
  if (request.reason == kReasonRemoveFromCrl) {
    return fail(ErrorCode::kNotAuthorized,
                "only an officer lifts a hold (enrollctl revoke SERIAL --reason removeFromCRL)");
  }
  auto serial_guard = lock_serial(request.serial_hex);
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
  // RFC 9483 4.2: a certificate may revoke itself; a requester may revoke what it enrolled.
  if (cert.requester != request.requester.identity && request.requester.certificate_serial_hex != cert.serial_hex) {
    return fail(ErrorCode::kNotAuthorized, "only the certificate itself or its requester may revoke it");
  }
  return commit_status_change(std::move(cert), request.reason, request.requester.identity,
                              "txn=" + request.transaction_id_hex);
}

Status EnrollmentServiceImpl::revoke_by_officer(std::string_view serial_hex, int reason, std::string_view officer) {
  if (auto ok = check_reason(reason); !ok) return ok;
  auto serial_guard = lock_serial(serial_hex);
  auto found = m_store.find_certificate(serial_hex);
  if (!found) return tl::unexpected(found.error());
  if (!*found) return fail(ErrorCode::kNotFound, "no certificate with serial " + std::string(serial_hex));
  return commit_status_change(std::move(**found), reason, "officer:" + std::string(officer), "enrollctl");
}

Status EnrollmentServiceImpl::commit_status_change(store::CertificateRecord cert, int reason, const std::string& actor,
                                                   const std::string& detail) {
  const std::int64_t now = now_seconds();
  if (auto ok = change_status(cert, reason, now); !ok) return ok;
  const char* action = reason == kReasonRemoveFromCrl ? "release-hold" : "revoke";
  store::WriteSet writes;
  writes.updated_certificates.push_back(cert);
  writes.audit.push_back(
      {now, actor, action, "serial=" + cert.serial_hex, "reason=" + std::to_string(reason) + " " + detail});
  if (auto ok = commit(writes); !ok) return ok;
  spdlog::info("{} serial={} reason={} by={} {}", action, cert.serial_hex, reason, actor, detail);
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
  auto found = existing_transaction(transaction_id_hex);
  if (!found) return tl::unexpected(found.error());
  store::TransactionRecord record = std::move(*found);
  if (record.request_fingerprint == fingerprint) return record.last_response;

  auto txn = machine_of(record);
  if (!txn) return tl::unexpected(txn.error());
  const bool too_late = record.deadline != 0 && now_seconds() > record.deadline;
  if (too_late && txn->state() == txn::State::kWaitingForConfirmation) {
    if (auto ok = expire(std::move(record), *txn); !ok) return tl::unexpected(ok.error());
    return fail(ErrorCode::kUnexpectedMessage,
                "the confirmation deadline has passed; the transaction expired and its certificate was revoked");
  }
  auto state = txn->apply(accepted ? txn::Event::kConfirmed : txn::Event::kRejected);
  if (!state) return tl::unexpected(state.error());

  // The certificate whose status this changes, locked until the commit.
  auto serial_guard = lock_serial(accepted ? (m_policy.revoke_replaced_certificate ? record.replaces_serial_hex : "")
                                           : record.certificate_serial_hex);
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
  set_state(record, *state, now_seconds());
  record.request_fingerprint = fingerprint;
  record.last_response = reply;
  record.deadline = 0;
  writes.transactions.push_back(record);
  if (auto ok = commit(writes); !ok) return tl::unexpected(ok.error());
  spdlog::info("{} txn={} serial={}", accepted ? "confirmed" : "rejected by requester", transaction_id_hex,
               record.certificate_serial_hex);
  return reply;
}

Result<std::pair<store::TransactionRecord, txn::Transaction>> EnrollmentServiceImpl::awaiting_decision(
    std::string_view transaction_id_hex) {
  auto found = existing_transaction(transaction_id_hex);
  if (!found) return tl::unexpected(found.error());
  auto txn = machine_of(*found);
  if (!txn) return tl::unexpected(txn.error());
  if (txn->state() != txn::State::kWaitingForApproval) {
    return fail(ErrorCode::kUnexpectedMessage, "transaction " + std::string(transaction_id_hex) + " is " +
                                                   found->state + ", not waiting for approval");
  }
  return std::pair<store::TransactionRecord, txn::Transaction>(std::move(*found), std::move(*txn));
}

Status EnrollmentServiceImpl::approve(std::string_view transaction_id_hex, std::string_view officer) {
  return decide(transaction_id_hex, officer, txn::Event::kApproved, "");
}

Status EnrollmentServiceImpl::reject(std::string_view transaction_id_hex, std::string_view officer,
                                     std::string_view reason) {
  return decide(transaction_id_hex, officer, txn::Event::kRefused, reason);
}

Status EnrollmentServiceImpl::decide(std::string_view transaction_id_hex, std::string_view officer, txn::Event decision,
                                     std::string_view reason) {
  std::lock_guard lock(lock_for(transaction_id_hex));
  auto loaded = awaiting_decision(transaction_id_hex);
  if (!loaded) return tl::unexpected(loaded.error());
  auto& [record, txn] = *loaded;
  auto state = txn.apply(decision);
  if (!state) return tl::unexpected(state.error());
  const bool approved = decision == txn::Event::kApproved;
  const std::int64_t now = now_seconds();
  set_state(record, *state, now);
  record.decided_by = officer;
  record.decision_note = reason;
  // Approved: the requester has until the deadline to collect it. Rejected: final.
  record.deadline = approved ? now + m_policy.approval_wait.count() : 0;
  store::WriteSet writes;
  writes.audit.push_back(
      {now, "officer:" + std::string(officer), approved ? "approve" : "reject", "txn=" + record.id_hex,
       approved ? "profile=" + record.profile + " requester=" + record.requester : "reason=" + std::string(reason)});
  writes.transactions.push_back(std::move(record));
  if (auto ok = commit(writes); !ok) return ok;
  spdlog::info("{} txn={} by officer={} {}", approved ? "approved" : "rejected", transaction_id_hex, officer, reason);
  return {};
}

Result<std::vector<PendingRequest>> EnrollmentServiceImpl::pending(std::size_t limit) {
  auto held = m_store.list_held_transactions(kOpenScanLimit);
  if (!held) return tl::unexpected(held.error());
  std::vector<PendingRequest> out;
  for (const auto& record : *held) {
    if (out.size() == limit) break;
    if (record.state != txn::to_string(txn::State::kWaitingForApproval) &&
        record.state != txn::to_string(txn::State::kApproved)) {
      continue;
    }
    auto request = decode_held(record);
    out.push_back({record.id_hex, record.protocol, record.requester, record.profile,
                   request ? subject_text(request->subject_der) : "(unreadable request)", record.state,
                   record.created_at});
  }
  return out;
}

}  // namespace enrolld::ra
