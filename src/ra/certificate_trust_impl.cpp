#include "ra/certificate_trust_impl.h"

#include <algorithm>

#include <openssl/x509_vfy.h>

namespace enrolld::ra {

namespace {

using StoreCtxPtr = std::unique_ptr<::X509_STORE_CTX, ossl::Deleter<::X509_STORE_CTX_free>>;

}  // namespace

CertificateTrustImpl::CertificateTrustImpl(store::Store& store, const std::vector<Bytes>& ca_chain,
                                           const std::vector<Bytes>& vendor_anchors, std::vector<Bytes> authorized_ras,
                                           Clock clock)
    : m_store(store),
      m_anchors(::X509_STORE_new()),
      m_authorized_ras(std::move(authorized_ras)),
      m_clock(std::move(clock)) {
  for (const auto& der : ca_chain) {
    if (auto cert = ossl::x509_from_der(der)) m_ca_chain.push_back(std::move(*cert));
  }
  // The root of our own chain anchors the certificates we issued.
  if (!m_ca_chain.empty()) ::X509_STORE_add_cert(m_anchors.get(), m_ca_chain.back().get());
  for (const auto& der : vendor_anchors) {
    if (auto cert = ossl::x509_from_der(der)) ::X509_STORE_add_cert(m_anchors.get(), cert->get());
  }
  // A vendor anchor may be an intermediate: trust it without requiring its root.
  ::X509_STORE_set_flags(m_anchors.get(), X509_V_FLAG_PARTIAL_CHAIN);
}

Result<Requester> CertificateTrustImpl::validate(ByteView signer, const std::vector<Bytes>& untrusted) const {
  auto cert = ossl::x509_from_der(signer);
  if (!cert) return tl::unexpected(cert.error());
  ossl::X509StackPtr intermediates(sk_X509_new_null());
  for (const auto& der : untrusted) {
    auto extra = ossl::x509_from_der(der);
    if (extra) sk_X509_push(intermediates.get(), extra->release());
  }
  for (std::size_t i = 0; i + 1 < m_ca_chain.size(); ++i) {
    sk_X509_push(intermediates.get(), ossl::up_ref(m_ca_chain[i].get()).release());
  }
  StoreCtxPtr ctx(::X509_STORE_CTX_new());
  if (!ctx || ::X509_STORE_CTX_init(ctx.get(), m_anchors.get(), cert->get(), intermediates.get()) != 1) {
    return fail(ErrorCode::kSystemFailure, "cannot set up certificate validation");
  }
  ::X509_STORE_CTX_set_time(ctx.get(), 0, std::chrono::system_clock::to_time_t(m_clock()));
  if (::X509_verify_cert(ctx.get()) != 1) {
    const int error = ::X509_STORE_CTX_get_error(ctx.get());
    return fail(ErrorCode::kSignerNotTrusted,
                std::string("the signer certificate is not trusted: ") + ::X509_verify_cert_error_string(error));
  }
  Requester requester{"vendor:" + ossl::name_to_string(::X509_get_subject_name(cert->get())), ""};
  if (!m_ca_chain.empty() && ::X509_check_issued(m_ca_chain.front().get(), cert->get()) == X509_V_OK) {
    auto here = issued_here(cert->get());
    if (!here) return here;
    requester = std::move(*here);
  }
  const Bytes der(signer.begin(), signer.end());
  if (std::find(m_authorized_ras.begin(), m_authorized_ras.end(), der) != m_authorized_ras.end()) {
    requester.identity = "ra:" + ossl::name_to_string(::X509_get_subject_name(cert->get()));
    requester.registration_authority = true;
  }
  return requester;
}

Result<Requester> CertificateTrustImpl::issued_here(const ::X509* cert) const {
  const std::string serial = ossl::integer_hex(::X509_get0_serialNumber(cert));
  auto record = m_store.find_certificate(serial);
  if (!record) return tl::unexpected(record.error());
  if (!*record || (*record)->der != ossl::der_of(cert)) {
    return fail(ErrorCode::kSignerNotTrusted, "the signer certificate names this CA but is unknown to it");
  }
  if ((*record)->status == "revoked") return fail(ErrorCode::kCertRevoked, "the signer certificate is revoked");
  return Requester{"cert:" + serial, serial};
}

}  // namespace enrolld::ra
