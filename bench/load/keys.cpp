#include "bench/load/keys.h"

#include <openssl/ec.h>
#include <openssl/evp.h>

namespace enrolld::load {

Outcome<ossl::EvpPkeyPtr> make_p256_key() {
  ossl::EvpPkeyPtr key(::EVP_EC_gen("P-256"));
  if (!key) return failure("setup.key", "EC key generation failed: " + ossl::drain_errors());
  return key;
}

Outcome<ossl::X509NamePtr> make_subject(const std::string& common_name) {
  ossl::X509NamePtr name(::X509_NAME_new());
  if (!name ||
      ::X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0) != 1) {
    return failure("setup.subject", "cannot make the name CN=" + common_name);
  }
  return name;
}

Outcome<ossl::X509ReqPtr> make_csr(::EVP_PKEY* key, const ::X509_NAME* subject) {
  ossl::X509ReqPtr req(::X509_REQ_new());
  if (!req || ::X509_REQ_set_version(req.get(), 0) != 1 || ::X509_REQ_set_subject_name(req.get(), subject) != 1 ||
      ::X509_REQ_set_pubkey(req.get(), key) != 1 || ::X509_REQ_sign(req.get(), key, ::EVP_sha256()) <= 0) {
    return failure("setup.csr", "cannot make a PKCS#10 request: " + ossl::drain_errors());
  }
  return req;
}

Outcome<Bytes> unbase64_lenient(std::string_view text) {
  std::string compact;
  compact.reserve(text.size());
  for (const char c : text) {
    if (c != '\r' && c != '\n' && c != ' ' && c != '\t') compact.push_back(c);
  }
  auto decoded = from_base64(compact);
  if (!decoded) return failure("est.base64", "the body is not base64");
  return std::move(*decoded);
}

}  // namespace enrolld::load
