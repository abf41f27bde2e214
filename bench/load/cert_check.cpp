#include "bench/load/cert_check.h"

namespace enrolld::load {
namespace {

struct X509StoreCtxFree {
  void operator()(::X509_STORE_CTX* ctx) const noexcept { ::X509_STORE_CTX_free(ctx); }
};

}  // namespace

Outcome<CertificateChecker> CertificateChecker::load(const std::string& trust_file, const std::string& chain_file) {
  CertificateChecker checker;
  if (trust_file.empty()) return failure("setup.trust", "no trust anchor file (--trust or CMP_TRUST)");
  auto anchors = ossl::read_pem_certificates(trust_file);
  if (!anchors || anchors->empty()) {
    return failure("setup.trust", "no certificates in " + trust_file + (anchors ? "" : ": " + anchors.error().message));
  }
  checker.m_anchors = std::move(*anchors);
  checker.m_store = checker.new_trust_store();
  if (!checker.m_store) return failure("setup.trust", "cannot build a certificate store");
  checker.m_untrusted.reset(sk_X509_new_null());
  if (!chain_file.empty()) {
    auto chain = ossl::read_pem_certificates(chain_file);
    if (!chain) return failure("setup.trust", chain.error().message);
    for (auto& cert : *chain) {
      if (sk_X509_push(checker.m_untrusted.get(), cert.get()) > 0) (void)cert.release();
    }
  }
  return checker;
}

X509StorePtr CertificateChecker::new_trust_store() const {
  X509StorePtr store(::X509_STORE_new());
  if (!store) return nullptr;
  for (const auto& anchor : m_anchors) {
    if (::X509_STORE_add_cert(store.get(), anchor.get()) != 1) return nullptr;  // takes its own reference
  }
  return store;
}

Done CertificateChecker::check(::X509* cert, const ::EVP_PKEY* requested_key,
                               const ::X509_NAME* requested_subject) const {
  if (cert == nullptr) return failure("verify.missing", "no certificate in the answer");
  const ::EVP_PKEY* issued_key = ::X509_get0_pubkey(cert);
  if (issued_key == nullptr || ::EVP_PKEY_eq(issued_key, requested_key) != 1) {
    return failure("verify.key", "the issued certificate's public key is not the requested key");
  }
  if (requested_subject != nullptr && ::X509_NAME_cmp(::X509_get_subject_name(cert), requested_subject) != 0) {
    return failure("verify.subject", "issued subject " + ossl::name_to_string(::X509_get_subject_name(cert)) +
                                         " is not the requested " + ossl::name_to_string(requested_subject));
  }
  std::unique_ptr<::X509_STORE_CTX, X509StoreCtxFree> ctx(::X509_STORE_CTX_new());
  if (!ctx || ::X509_STORE_CTX_init(ctx.get(), m_store.get(), cert, m_untrusted.get()) != 1) {
    return failure("verify.chain", "cannot set up chain verification");
  }
  if (::X509_verify_cert(ctx.get()) != 1) {
    return failure("verify.chain", std::string("the issued certificate does not verify against the CA chain: ") +
                                       ::X509_verify_cert_error_string(::X509_STORE_CTX_get_error(ctx.get())));
  }
  return {};
}

}  // namespace enrolld::load
