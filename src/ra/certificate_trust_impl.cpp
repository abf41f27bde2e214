#include "ra/certificate_trust_impl.h"

#include <algorithm>
#include <ctime>
#include <limits>

#include <openssl/x509_vfy.h>

namespace enrolld::ra {

namespace {

using StoreCtxPtr = std::unique_ptr<::X509_STORE_CTX, ossl::Deleter<::X509_STORE_CTX_free>>;

// The certificates, parsed; one that does not parse is left out (the caller loaded them as
// certificates, so that cannot happen short of a broken invariant).
std::vector<ossl::X509Ptr> parsed(const std::vector<Bytes>& ders) {
  std::vector<ossl::X509Ptr> out;
  for (const auto& der : ders) {
    if (auto cert = ossl::x509_from_der(der)) out.push_back(std::move(*cert));
  }
  return out;
}

// The first moment one of `chain` is no longer valid (0 if a date does not read).
std::time_t earliest_not_after(const STACK_OF(X509) * chain) {
  std::time_t earliest = std::numeric_limits<std::time_t>::max();
  for (int i = 0; i < sk_X509_num(chain); ++i) {
    struct tm tm {};
    if (::ASN1_TIME_to_tm(::X509_get0_notAfter(sk_X509_value(chain, i)), &tm) != 1) return 0;
    earliest = std::min(earliest, ::timegm(&tm));
  }
  return sk_X509_num(chain) > 0 ? earliest : 0;
}

std::vector<std::vector<ossl::X509Ptr>> parsed_chains(const std::vector<std::vector<Bytes>>& chains) {
  std::vector<std::vector<ossl::X509Ptr>> out;
  for (const auto& chain : chains) out.push_back(parsed(chain));
  return out;
}

}  // namespace

CertificateTrustImpl::CertificateTrustImpl(store::Store& store, const std::vector<Bytes>& ca_chain,
                                           const std::vector<Bytes>& vendor_anchors, std::vector<Bytes> authorized_ras,
                                           Clock clock)
    : CertificateTrustImpl(store, std::vector<std::vector<Bytes>>{ca_chain}, vendor_anchors, std::move(authorized_ras),
                           std::move(clock)) {}

CertificateTrustImpl::CertificateTrustImpl(store::Store& store, const std::vector<std::vector<Bytes>>& ca_chains,
                                           const std::vector<Bytes>& vendor_anchors, std::vector<Bytes> authorized_ras,
                                           Clock clock)
    : m_store(store),
      m_ca_chains(parsed_chains(ca_chains)),
      m_clock(std::move(clock)),
      m_anchors(make_anchors(vendor_anchors, std::move(authorized_ras))) {}

const std::vector<ossl::X509Ptr>* CertificateTrustImpl::own_chain_of(::X509* cert) const {
  for (const auto& chain : m_ca_chains) {
    if (!chain.empty() && ::X509_check_issued(chain.front().get(), cert) == X509_V_OK) {
      return &chain;
    }
  }
  return nullptr;
}

CertificateTrustImpl::Anchors CertificateTrustImpl::make_anchors(const std::vector<Bytes>& vendor_anchors,
                                                                 std::vector<Bytes> authorized_ras) const {
  std::shared_ptr<::X509_STORE> anchors(::X509_STORE_new(), &::X509_STORE_free);
  // The roots of our own chains anchor the certificates we issued.
  for (const auto& chain : m_ca_chains) {
    if (!chain.empty()) ::X509_STORE_add_cert(anchors.get(), chain.back().get());
  }
  for (const auto& cert : parsed(vendor_anchors)) ::X509_STORE_add_cert(anchors.get(), cert.get());
  // A vendor anchor may be an intermediate: trust it without requiring its root.
  ::X509_STORE_set_flags(anchors.get(), X509_V_FLAG_PARTIAL_CHAIN);
  return Anchors{std::move(anchors), std::move(authorized_ras)};
}

void CertificateTrustImpl::replace_anchors(const std::vector<Bytes>& vendor_anchors,
                                           std::vector<Bytes> authorized_ras) {
  m_anchors.replace(make_anchors(vendor_anchors, std::move(authorized_ras)));
}

Result<Requester> CertificateTrustImpl::validate(ByteView signer, const std::vector<Bytes>& untrusted) const {
  std::vector<ByteView> extra_ders(untrusted.begin(), untrusted.end());
  const std::string key = chain_key(signer, extra_ders);
  if (auto known = remembered(key)) return *known;
  auto cert = ossl::x509_from_der(signer);
  if (!cert) return tl::unexpected(cert.error());
  std::vector<ossl::X509Ptr> decoded;
  std::vector<::X509*> extras;
  for (const auto& der : untrusted) {
    if (auto extra = ossl::x509_from_der(der)) {
      extras.push_back(extra->get());
      decoded.push_back(std::move(*extra));
    }
  }
  return validate_and_remember(cert->get(), extras, key);
}

Result<Requester> CertificateTrustImpl::validate_decoded(::X509* signer, const std::vector<::X509*>& untrusted) const {
  const Bytes signer_der = ossl::der_of(signer);
  std::vector<Bytes> extra_ders;
  for (::X509* extra : untrusted) extra_ders.push_back(ossl::der_of(extra));
  const std::string key = chain_key(signer_der, std::vector<ByteView>(extra_ders.begin(), extra_ders.end()));
  if (auto known = remembered(key)) return *known;
  return validate_and_remember(signer, untrusted, key);
}

Result<Requester> CertificateTrustImpl::validate_and_remember(::X509* signer, const std::vector<::X509*>& untrusted,
                                                              const std::string& key) const {
  const auto anchors = m_anchors.get();  // held until the validation is done
  const std::time_t now = std::chrono::system_clock::to_time_t(m_clock());
  // A certificate this CA issued is known byte for byte: its store record vouches for it, and
  // verifying the signatures we made ourselves (path validation: two ECDSA verifications per
  // signed message) would add nothing. Its dates and status are still checked, on every use.
  const std::vector<ossl::X509Ptr>* ours = own_chain_of(signer);
  std::time_t valid_until = 0;
  auto requester = ours != nullptr && chain_valid_at(*ours, now) ? issued_here(signer, now)
                                                                 : validated_path(signer, untrusted, now, &valid_until);
  if (!requester) return requester;
  const Bytes der = ossl::der_of(signer);
  if (std::find(anchors->authorized_ras.begin(), anchors->authorized_ras.end(), der) != anchors->authorized_ras.end()) {
    requester->identity = "ra:" + ossl::name_to_string(::X509_get_subject_name(signer));
    requester->registration_authority = true;
  }
  // A vendor chain's validity depends on the time and the anchors only: it is remembered until
  // the first of its certificates expires or the anchors are replaced. One of ours is not: its
  // status may change any moment.
  if (requester->certificate_serial_hex.empty() && valid_until > now) remember(key, {anchors, valid_until, *requester});
  return requester;
}

// SHA-256 (hex) over the signer and the intermediates, each intermediate preceded by its length.
std::string CertificateTrustImpl::chain_key(ByteView signer, const std::vector<ByteView>& untrusted) {
  Bytes all(signer.begin(), signer.end());
  for (ByteView der : untrusted) {
    const auto size = static_cast<std::uint32_t>(der.size());
    for (int shift : {24, 16, 8, 0}) all.push_back(static_cast<std::uint8_t>(size >> shift));
    all.insert(all.end(), der.begin(), der.end());
  }
  return to_hex(ossl::sha256(all));
}

std::optional<Requester> CertificateTrustImpl::remembered(const std::string& key) const {
  const auto anchors = m_anchors.get();
  const std::time_t now = std::chrono::system_clock::to_time_t(m_clock());
  std::lock_guard lock(m_validated_mutex);
  auto found = m_validated.find(key);
  if (found == m_validated.end()) return std::nullopt;
  if (found->second.anchors != anchors || now >= found->second.valid_until) {
    m_validated.erase(found);
    return std::nullopt;
  }
  return found->second.requester;
}

void CertificateTrustImpl::remember(const std::string& key, Validated validated) const {
  std::lock_guard lock(m_validated_mutex);
  if (m_validated.size() >= kValidatedLimit) m_validated.clear();  // bounded; rebuilt as clients return
  m_validated.insert_or_assign(key, std::move(validated));
}

// Path validation up to an anchor; a certificate that names this CA as issuer must also be one
// it issued.
Result<Requester> CertificateTrustImpl::validated_path(::X509* signer, const std::vector<::X509*>& untrusted,
                                                       std::time_t now, std::time_t* valid_until) const {
  ossl::X509StackPtr intermediates(sk_X509_new_null());
  for (::X509* extra : untrusted) sk_X509_push(intermediates.get(), ossl::up_ref(extra).release());
  for (const auto& chain : m_ca_chains) {
    for (std::size_t i = 0; i + 1 < chain.size(); ++i) {
      sk_X509_push(intermediates.get(), ossl::up_ref(chain[i].get()).release());
    }
  }
  const auto anchors = m_anchors.get();
  StoreCtxPtr ctx(::X509_STORE_CTX_new());
  if (!ctx || ::X509_STORE_CTX_init(ctx.get(), anchors->store.get(), signer, intermediates.get()) != 1) {
    return fail(ErrorCode::kSystemFailure, "cannot set up certificate validation");
  }
  ::X509_STORE_CTX_set_time(ctx.get(), 0, now);
  if (::X509_verify_cert(ctx.get()) != 1) {
    const int error = ::X509_STORE_CTX_get_error(ctx.get());
    return fail(ErrorCode::kSignerNotTrusted,
                std::string("the signer certificate is not trusted: ") + ::X509_verify_cert_error_string(error));
  }
  if (own_chain_of(signer) != nullptr) return issued_here(signer, now);
  *valid_until = earliest_not_after(X509_STORE_CTX_get0_chain(ctx.get()));
  return Requester{"vendor:" + ossl::name_to_string(::X509_get_subject_name(signer)), ""};
}

// Whether one of our CA chains is within its validity at `now` (else the full path validation
// gives the precise reason).
bool CertificateTrustImpl::chain_valid_at(const std::vector<ossl::X509Ptr>& chain, std::time_t now) {
  return std::all_of(chain.begin(), chain.end(), [&](const ossl::X509Ptr& cert) {
    std::time_t at = now;
    return ::X509_cmp_time(::X509_get0_notBefore(cert.get()), &at) <= 0 &&
           ::X509_cmp_time(::X509_get0_notAfter(cert.get()), &at) >= 0;
  });
}

Result<Requester> CertificateTrustImpl::issued_here(const ::X509* cert, std::time_t now) const {
  const std::string serial = ossl::integer_hex(::X509_get0_serialNumber(cert));
  auto record = m_store.find_certificate(serial);
  if (!record) return tl::unexpected(record.error());
  if (!*record || (*record)->der != ossl::der_of(cert)) {
    return fail(ErrorCode::kSignerNotTrusted, "the signer certificate names this CA but is unknown to it");
  }
  if ((*record)->status == "revoked") return fail(ErrorCode::kCertRevoked, "the signer certificate is revoked");
  if (now < (*record)->not_before || now > (*record)->not_after) {
    return fail(
        ErrorCode::kSignerNotTrusted,
        "the signer certificate is not trusted: " +
            std::string(now < (*record)->not_before ? "certificate is not yet valid" : "certificate has expired"));
  }
  return Requester{"cert:" + serial, serial};
}

}  // namespace enrolld::ra
