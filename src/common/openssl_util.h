#pragma once
// RAII for OpenSSL handles, and helpers that make get0/set1/push0 ownership explicit.

#include <memory>
#include <string>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/bytes.h"
#include "common/error.h"

namespace enrolld::ossl {

template <auto FreeFn>
struct Deleter {
  template <typename T>
  void operator()(T* p) const noexcept {
    FreeFn(p);
  }
};

using X509Ptr = std::unique_ptr<::X509, Deleter<::X509_free>>;
using X509NamePtr = std::unique_ptr<::X509_NAME, Deleter<::X509_NAME_free>>;
using X509ReqPtr = std::unique_ptr<::X509_REQ, Deleter<::X509_REQ_free>>;
using X509ExtensionPtr = std::unique_ptr<::X509_EXTENSION, Deleter<::X509_EXTENSION_free>>;
using X509PubkeyPtr = std::unique_ptr<::X509_PUBKEY, Deleter<::X509_PUBKEY_free>>;
using EvpPkeyPtr = std::unique_ptr<::EVP_PKEY, Deleter<::EVP_PKEY_free>>;
using EvpPkeyCtxPtr = std::unique_ptr<::EVP_PKEY_CTX, Deleter<::EVP_PKEY_CTX_free>>;
using EvpMdCtxPtr = std::unique_ptr<::EVP_MD_CTX, Deleter<::EVP_MD_CTX_free>>;
using BioPtr = std::unique_ptr<::BIO, Deleter<::BIO_free_all>>;
using BignumPtr = std::unique_ptr<::BIGNUM, Deleter<::BN_free>>;
using CmsPtr = std::unique_ptr<::CMS_ContentInfo, Deleter<::CMS_ContentInfo_free>>;
using Asn1IntegerPtr = std::unique_ptr<::ASN1_INTEGER, Deleter<::ASN1_INTEGER_free>>;
using Asn1TimePtr = std::unique_ptr<::ASN1_TIME, Deleter<::ASN1_TIME_free>>;
using Asn1OctetStringPtr = std::unique_ptr<::ASN1_OCTET_STRING, Deleter<::ASN1_OCTET_STRING_free>>;

inline void free_x509_extensions(STACK_OF(X509_EXTENSION) * exts) {
  sk_X509_EXTENSION_pop_free(exts, ::X509_EXTENSION_free);
}
using X509ExtensionsPtr = std::unique_ptr<STACK_OF(X509_EXTENSION), Deleter<free_x509_extensions>>;

inline void free_x509_stack(STACK_OF(X509) * certs) {
  sk_X509_pop_free(certs, ::X509_free);
}
using X509StackPtr = std::unique_ptr<STACK_OF(X509), Deleter<free_x509_stack>>;

// Takes an extra reference: the caller keeps its own.
X509Ptr up_ref(::X509* cert);
EvpPkeyPtr up_ref(::EVP_PKEY* key);

// Drains OpenSSL's thread-local error queue into one line (empty if nothing was queued).
std::string drain_errors();

// DER of any object OpenSSL can encode with `i2d` (i2d_X509_ALGOR, i2d_ECMP_MSG, ...); empty if
// it cannot be encoded.
template <typename T, typename I2d>
Bytes der_with(const T* object, I2d i2d) {
  if (object == nullptr) return {};
  unsigned char* der = nullptr;
  const int len = i2d(object, &der);
  if (len <= 0) return {};
  Bytes out(der, der + len);
  ::OPENSSL_free(der);
  return out;
}

// The magnitude of an ASN.1 INTEGER as lower-case hex of whole octets, no leading zero octet
// ("0f5c..."): how serials are written in the store and shown to operators. Empty for null.
std::string integer_hex(const ::ASN1_INTEGER* value);

// SHA-256 of `data`.
Bytes sha256(ByteView data);
// `data` hashed with `md`; kSystemFailure if the digest fails.
Result<Bytes> digest(ByteView data, const ::EVP_MD* md);

// DER encodings of common types; an empty result means the object could not be encoded.
Bytes der_of(const ::X509* cert);
Bytes der_of(const ::X509_NAME* name);
Bytes der_of_public_key(const ::EVP_PKEY* key);

// The DER of what a CMS ContentInfo carries (its [0] EXPLICIT content: the bare SignedData,
// EnvelopedData, ...), for protocols that embed it without the ContentInfo wrapper. The caller
// wipes the returned bytes if they are secret. Errors: kSystemFailure.
Result<Bytes> cms_content(const ::CMS_ContentInfo* cms);

Result<X509Ptr> x509_from_der(ByteView der);
// The subject Name and the SubjectPublicKeyInfo of a DER certificate, as encoded there, found
// without decoding the certificate (OpenSSL 3.0 would decode its public key through the decoder
// framework); nullopt if `der` is not shaped as a certificate.
struct CertificateSubject {
  ByteView name;
  ByteView public_key;
};
std::optional<CertificateSubject> subject_of_certificate(ByteView der);
// A DER certificate hashed with the hash of its own signature algorithm, as X509_digest_sig
// does (RFC 4210 certHash), read from the DER where the algorithm names its hash; decoded and
// left to X509_digest_sig for the others (EdDSA, RSA-PSS). kSystemFailure if it cannot be hashed.
Result<Bytes> signature_digest_of_certificate(ByteView der);
Result<X509NamePtr> name_from_der(ByteView der);
Result<EvpPkeyPtr> public_key_from_der(ByteView spki_der);
// Puts the SubjectPublicKeyInfo `spki_der` into `cert` as it is encoded (kBadDataFormat if it
// is not one). The certificate's public key is then known by its encoding only: functions
// that need the key object (X509_get0_pubkey) get it from a certificate decoded from DER.
Status set_public_key(::X509* cert, ByteView spki_der);

// PEM files. Reading returns every certificate in the file, in order.
Result<std::vector<X509Ptr>> read_pem_certificates(const std::string& path);
Result<X509Ptr> read_pem_certificate(const std::string& path);
std::string pem_of(const ::X509* cert);
std::string pem_of_private_key(const ::EVP_PKEY* key);  // unencrypted PKCS#8
// The first line of the file at `path`, without its line end (a trailing CR too): how secrets,
// PINs and tokens are kept in files of their own. Errors: kConfigInvalid naming the file.
Result<std::string> read_first_line(const std::string& path);

// kSynced: the file and its folder entry are on disk when write_file_atomically returns.
// kSyncedByCaller: neither is synced; the caller syncs the file system later (sync_file_system),
// once for many files, and must not count on them before that.
enum class Durability { kSynced, kSyncedByCaller };

// Replaces `path` with `content` (mode `mode`) so that readers see the old file or the new one,
// never a part; with kSynced the new one survives a crash once this returns. Errors:
// kSystemUnavailable naming the path and the system's reason (no space, no permission, no such
// folder).
Status write_file_atomically(const std::string& path, std::string_view content, unsigned mode = 0644,
                             Durability durability = Durability::kSynced);

// Writes to disk everything written so far on the file system that holds `path` (syncfs(2)).
// Errors: kSystemUnavailable naming the path and the system's reason (e.g. an I/O error of an
// earlier write).
Status sync_file_system(const std::string& path);

// RFC 2253-style one-line rendering, for logs and listings.
std::string name_to_string(const ::X509_NAME* name);

}  // namespace enrolld::ossl
