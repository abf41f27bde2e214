#include "protocols/cms/key_envelope.h"

#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>

#include "common/openssl_util.h"

namespace enrolld::cms {

namespace {

bool add_recipient(::CMS_ContentInfo* cms, const KeyRecipient& recipient) {
  if (recipient.certificate != nullptr) {
    ::CMS_RecipientInfo* info = ::CMS_add1_recipient_cert(cms, const_cast<::X509*>(recipient.certificate), 0);
    if (info == nullptr) return false;
    if (::CMS_RecipientInfo_type(info) != CMS_RECIPINFO_AGREE) return true;
    // RFC 9481 4.1: ECDH key agreement with a SHA-2 KDF; OpenSSL's default KDF hash is SHA-1.
    // The context is the ephemeral key's, read when CMS_final wraps the content key.
    ::EVP_PKEY_CTX* agreement = ::CMS_RecipientInfo_get0_pkey_ctx(info);
    return agreement != nullptr && ::EVP_PKEY_CTX_set_ecdh_kdf_md(agreement, ::EVP_sha256()) > 0;
  }
  // add0: the structure takes the copy and clears it when freed.
  auto* pass =
      static_cast<unsigned char*>(::OPENSSL_memdup(recipient.shared_secret.data(), recipient.shared_secret.size()));
  if (pass == nullptr) return false;
  if (::CMS_add0_recipient_password(cms, -1, NID_undef, NID_undef, pass,
                                    static_cast<ossl_ssize_t>(recipient.shared_secret.size()), nullptr) == nullptr) {
    ::OPENSSL_clear_free(pass, recipient.shared_secret.size());
    return false;
  }
  return true;
}

}  // namespace

Result<ossl::CmsPtr> envelope_key(ByteView signed_data, const KeyRecipient& recipient) {
  if (recipient.certificate == nullptr && recipient.shared_secret.empty()) {
    return fail(ErrorCode::kSystemFailure, "a generated key without a recipient");
  }
  ossl::CmsPtr cms(::CMS_EnvelopedData_create(::EVP_aes_256_cbc()));
  ossl::BioPtr data(::BIO_new_mem_buf(signed_data.data(), static_cast<int>(signed_data.size())));
  // The encrypted content goes inside (not detached, the default of a bare EnvelopedData).
  if (!cms || !data || !add_recipient(cms.get(), recipient) || ::CMS_set_detached(cms.get(), 0) != 1 ||
      ::CMS_set1_eContentType(cms.get(), ::OBJ_nid2obj(NID_pkcs7_signed)) != 1 ||
      ::CMS_final(cms.get(), data.get(), nullptr, CMS_BINARY) != 1) {
    return fail(ErrorCode::kSystemFailure, "cannot encrypt the generated key: " + ossl::drain_errors());
  }
  return cms;
}

}  // namespace enrolld::cms
