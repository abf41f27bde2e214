#include "ra/key_generation.h"

#include <openssl/cms.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>

#include "common/der.h"

namespace enrolld::ra {

namespace {

using ObjectPtr = std::unique_ptr<::ASN1_OBJECT, ossl::Deleter<::ASN1_OBJECT_free>>;

constexpr int kDefaultRsaBits = 2048;

// The rule of `profile` that `algorithm_der` asks for; null if none.
const ca::KeyRule* rule_for(const ca::Profile& profile, ByteView algorithm_der) {
  if (algorithm_der.empty()) return profile.keys.empty() ? nullptr : &profile.keys.front();
  for (const auto& rule : profile.keys) {
    // rsaEncryption names no size: the rule's own (at least 2048 bits) is made.
    if (Bytes(algorithm_der.begin(), algorithm_der.end()) == ca::algorithm_identifier_der(rule)) return &rule;
  }
  return nullptr;
}

// Whether the one SignerInfo of `cms` verifies with `signer_cert`'s key: what the device
// signed, checked as the recipient will check it, before it is sent.
bool signature_verifies(::CMS_ContentInfo* cms, ::X509* signer_cert) {
  STACK_OF(CMS_SignerInfo)* infos = ::CMS_get0_SignerInfos(cms);
  if (infos == nullptr || sk_CMS_SignerInfo_num(infos) != 1) return false;
  ::CMS_SignerInfo* info = sk_CMS_SignerInfo_value(infos, 0);
  ::CMS_SignerInfo_set1_signer_cert(info, signer_cert);  // its key replaces the device's handle
  return ::CMS_SignerInfo_verify(info) == 1;
}

}  // namespace

Result<ossl::EvpPkeyPtr> generate_key_pair(const ca::Profile& profile, ByteView algorithm_der) {
  const ca::KeyRule* rule = rule_for(profile, algorithm_der);
  if (rule == nullptr) {
    return fail(ErrorCode::kBadAlgorithm, "profile '" + profile.name + "' does not accept the key type asked for");
  }
  ossl::EvpPkeyPtr key(rule->type == EVP_PKEY_RSA
                           ? ::EVP_RSA_gen(static_cast<unsigned>(std::max(rule->min_bits, kDefaultRsaBits)))
                           : ::EVP_EC_gen(::OBJ_nid2sn(rule->curve_nid)));
  if (!key) return fail(ErrorCode::kSystemFailure, "key generation failed: " + ossl::drain_errors());
  return key;
}

Result<Bytes> sign_key_package(::EVP_PKEY* key, KeyPackageFormat format, const hsm::Signer& signer,
                               const std::vector<ossl::X509Ptr>& chain) {
  // RFC 5958 2: OneAsymmetricKey, whose version 1 is PKCS#8 PrivateKeyInfo.
  std::unique_ptr<::PKCS8_PRIV_KEY_INFO, ossl::Deleter<::PKCS8_PRIV_KEY_INFO_free>> p8(::EVP_PKEY2PKCS8(key));
  Bytes package = p8 ? ossl::der_with(p8.get(), ::i2d_PKCS8_PRIV_KEY_INFO) : Bytes{};
  if (package.empty()) return fail(ErrorCode::kSystemFailure, "cannot encode the private key");
  if (format == KeyPackageFormat::kAsymmetricKeyPackage) {
    Bytes wrapped = der::sequence(package);
    ::OPENSSL_cleanse(package.data(), package.size());
    package = std::move(wrapped);
  }

  ossl::X509StackPtr extra(sk_X509_new_null());
  if (!extra || chain.empty())
    return fail(ErrorCode::kSystemFailure, "the key generation authority has no certificate");
  for (std::size_t i = 1; i < chain.size(); ++i) {
    ossl::X509Ptr cert = ossl::up_ref(chain[i].get());
    if (sk_X509_push(extra.get(), cert.get()) <= 0) return fail(ErrorCode::kSystemFailure, "out of memory");
    cert.release();
  }
  ossl::BioPtr data(::BIO_new_mem_buf(package.data(), static_cast<int>(package.size())));
  // RFC 9483 4.1.6: eContentType id-ct-KP-aKeyPackage (RFC 5958 3).
  static const ObjectPtr key_package_type(::OBJ_txt2obj("2.16.840.1.101.2.1.2.78.5", 1));
  ossl::CmsPtr cms(
      ::CMS_sign(chain.front().get(), signer.signing_key(), extra.get(), nullptr, CMS_BINARY | CMS_PARTIAL));
  const bool ok = cms && data && ::CMS_set1_eContentType(cms.get(), key_package_type.get()) == 1 &&
                  ::CMS_final(cms.get(), data.get(), nullptr, CMS_BINARY) == 1;
  ::OPENSSL_cleanse(package.data(), package.size());
  if (!ok)
    return fail(ErrorCode::kSystemUnavailable, "the HSM could not sign the key package: " + ossl::drain_errors());
  if (!signature_verifies(cms.get(), chain.front().get())) {
    return fail(ErrorCode::kSystemFailure,
                "the HSM's signature on the key package does not verify: " + ossl::drain_errors());
  }
  // Signed, not encrypted: these bytes hold the private key in clear until the protocol
  // encrypts them (cms_content wipes its intermediate copy).
  return ossl::cms_content(cms.get());
}

}  // namespace enrolld::ra
