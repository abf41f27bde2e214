#pragma once
// What the EST tests share: PKCS#10 requests made with OpenSSL's own API (with the attributes
// EST reads: challengePassword, AsymmetricDecryptKeyIdentifier, DecryptKeyIdentifier), base64
// independent of est_codec, and small DER and certificate helpers.

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/der.h"
#include "common/openssl_util.h"

namespace enrolld::est::test {

inline constexpr const char* kAsymmetricDecryptKeyIdOid = "1.2.840.113549.1.9.16.2.54";  // RFC 7030 4.4.1.2
inline constexpr const char* kDecryptKeyIdOid = "1.2.840.113549.1.9.16.2.37";            // RFC 4108

inline void check(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what + ": " + ossl::drain_errors());
}

inline Bytes concat(std::initializer_list<ByteView> parts) {
  Bytes out;
  for (ByteView part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

// Base64 with OpenSSL's block functions, so that the tests do not check est_codec with itself.
inline std::string b64(ByteView bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n =
      ::EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// Strict: one line, no white space, length a multiple of four; nullopt otherwise.
inline std::optional<Bytes> unb64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  if (text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") !=
      std::string_view::npos) {
    return std::nullopt;
  }
  Bytes out(text.size() / 4 * 3);
  const int n =
      ::EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  const std::size_t padding = text.ends_with("==") ? 2 : text.ends_with('=') ? 1 : 0;
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

inline ossl::EvpPkeyPtr p256_key() {
  ossl::EvpPkeyPtr key(::EVP_EC_gen("P-256"));
  check(key != nullptr, "P-256 key");
  return key;
}

inline ossl::X509NamePtr name_of(const std::string& text) {
  ossl::X509NamePtr name(::X509_NAME_new());
  check(name != nullptr, "X509_NAME_new");
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string part = text.substr(start, comma - start);
    const std::size_t eq = part.find('=');
    check(eq != std::string::npos && ::X509_NAME_add_entry_by_txt(
                                         name.get(), part.substr(0, eq).c_str(), MBSTRING_UTF8,
                                         reinterpret_cast<const unsigned char*>(part.c_str() + eq + 1), -1, -1, 0) == 1,
          "name entry " + part);
    start = comma + 1;
  }
  return name;
}

// DER Extensions holding one subjectAltName made from OpenSSL's config syntax ("DNS:a,IP:b").
inline Bytes san_extensions(const std::string& names) {
  ossl::X509ExtensionsPtr extensions(sk_X509_EXTENSION_new_null());
  ossl::X509ExtensionPtr san(::X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, names.c_str()));
  check(extensions && san && sk_X509_EXTENSION_push(extensions.get(), san.get()) > 0, "subjectAltName");
  san.release();  // the stack owns it
  return ossl::der_with(extensions.get(), [](const STACK_OF(X509_EXTENSION) * e, unsigned char** out) {
    return ::i2d_X509_EXTENSIONS(const_cast<STACK_OF(X509_EXTENSION)*>(e), out);
  });
}

// A request attribute added as it is: `type` a V_ASN1_ string type, `value` its content octets.
struct RawAttribute {
  std::string oid;
  int type = V_ASN1_OCTET_STRING;
  Bytes value;
};

struct CsrSpec {
  std::string subject = "CN=device-1.example,O=Example";
  std::string subject_alt_names;  // OpenSSL syntax, e.g. "DNS:device-1.example"; empty: none
  std::optional<std::string> challenge_password;
  int challenge_password_type = V_ASN1_UTF8STRING;
  std::optional<Bytes> asymmetric_decrypt_key_id;
  std::optional<Bytes> decrypt_key_id;
  std::vector<RawAttribute> attributes;
};

inline void add_attribute(::X509_REQ* request, const std::string& oid, int type, ByteView value) {
  std::unique_ptr<::ASN1_OBJECT, ossl::Deleter<::ASN1_OBJECT_free>> object(::OBJ_txt2obj(oid.c_str(), 1));
  check(object != nullptr &&
            ::X509_REQ_add1_attr_by_OBJ(request, object.get(), type, value.data(), static_cast<int>(value.size())) == 1,
        "CSR attribute " + oid);
}

// A PKCS#10 request for `key` as `spec` says, signed with `key` (SHA-256); DER.
inline Bytes make_csr(const CsrSpec& spec, ::EVP_PKEY* key) {
  ossl::X509ReqPtr request(::X509_REQ_new());
  check(request != nullptr, "X509_REQ_new");
  ossl::X509NamePtr subject = name_of(spec.subject);
  check(::X509_REQ_set_version(request.get(), 0) == 1 &&
            ::X509_REQ_set_subject_name(request.get(), subject.get()) == 1 &&
            ::X509_REQ_set_pubkey(request.get(), key) == 1,
        "CSR fields");
  if (!spec.subject_alt_names.empty()) {
    const Bytes der = san_extensions(spec.subject_alt_names);
    const unsigned char* p = der.data();
    ossl::X509ExtensionsPtr extensions(::d2i_X509_EXTENSIONS(nullptr, &p, static_cast<long>(der.size())));
    check(extensions && ::X509_REQ_add_extensions(request.get(), extensions.get()) == 1, "extensionRequest");
  }
  if (spec.challenge_password) {
    const std::string& password = *spec.challenge_password;
    add_attribute(request.get(), "1.2.840.113549.1.9.7", spec.challenge_password_type,
                  ByteView(reinterpret_cast<const std::uint8_t*>(password.data()), password.size()));
  }
  if (spec.asymmetric_decrypt_key_id) {
    add_attribute(request.get(), kAsymmetricDecryptKeyIdOid, V_ASN1_OCTET_STRING, *spec.asymmetric_decrypt_key_id);
  }
  if (spec.decrypt_key_id) add_attribute(request.get(), kDecryptKeyIdOid, V_ASN1_OCTET_STRING, *spec.decrypt_key_id);
  for (const auto& attribute : spec.attributes)
    add_attribute(request.get(), attribute.oid, attribute.type, attribute.value);
  check(::X509_REQ_sign(request.get(), key, ::EVP_sha256()) > 0, "X509_REQ_sign");
  return ossl::der_with(request.get(), ::i2d_X509_REQ);
}

// A CertificationRequest over `info_der` (a CertificationRequestInfo), signed ecdsa-with-SHA256
// with the P-256 `key`.
inline Bytes sign_request_info(ByteView info_der, ::EVP_PKEY* key) {
  ossl::EvpMdCtxPtr ctx(::EVP_MD_CTX_new());
  std::size_t length = 0;
  check(ctx && ::EVP_DigestSignInit(ctx.get(), nullptr, ::EVP_sha256(), nullptr, key) == 1 &&
            ::EVP_DigestSign(ctx.get(), nullptr, &length, info_der.data(), info_der.size()) == 1,
        "EVP_DigestSign");
  Bytes signature(length);
  check(::EVP_DigestSign(ctx.get(), signature.data(), &length, info_der.data(), info_der.size()) == 1,
        "EVP_DigestSign");
  signature.resize(length);
  const Bytes ecdsa_with_sha256 = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
  const Bytes bit_string = der::element(0x03, concat({Bytes{0x00}, signature}));
  return der::sequence(concat({info_der, ecdsa_with_sha256, bit_string}));
}

// `csr_der` with its first attribute appearing twice, signed again with `key`. OpenSSL's own
// API refuses to add an attribute twice, so the request is rebuilt from its DER.
inline Bytes with_first_attribute_twice(ByteView csr_der, ::EVP_PKEY* key) {
  auto outer = der::read_element(csr_der);
  check(outer.has_value(), "CSR DER");
  auto parts = der::read_children(outer->content);
  check(parts && parts->size() == 3, "CSR parts");
  auto info = der::read_children(parts->front().content);
  check(info && info->size() == 4 && info->back().tag == 0xa0, "CertificationRequestInfo");
  auto attributes = der::read_children(info->back().content);
  check(attributes && !attributes->empty(), "CSR attributes");
  const Bytes doubled = der::element(0xa0, concat({info->back().content, attributes->front().whole}));
  const Bytes new_info = der::sequence(concat({(*info)[0].whole, (*info)[1].whole, (*info)[2].whole, doubled}));
  return sign_request_info(new_info, key);
}

// A P-256 key and a certificate for it, self-signed (or signed by `issuer`), in software.
struct Credential {
  ossl::EvpPkeyPtr key;
  ossl::X509Ptr cert;
};

inline Credential make_credential(const std::string& subject, const Credential* issuer = nullptr) {
  static long serial = 1;
  Credential made{p256_key(), ossl::X509Ptr(::X509_new())};
  check(made.cert != nullptr, "X509_new");
  ossl::X509NamePtr name = name_of(subject);
  ::X509* cert = made.cert.get();
  check(::X509_set_version(cert, 2) == 1 && ::ASN1_INTEGER_set(::X509_get_serialNumber(cert), serial++) == 1 &&
            ::X509_set_subject_name(cert, name.get()) == 1 &&
            ::X509_set_issuer_name(cert, issuer ? ::X509_get_subject_name(issuer->cert.get()) : name.get()) == 1 &&
            ::X509_gmtime_adj(::X509_getm_notBefore(cert), -60) != nullptr &&
            ::X509_gmtime_adj(::X509_getm_notAfter(cert), 3600) != nullptr &&
            ::X509_set_pubkey(cert, made.key.get()) == 1 &&
            ::X509_sign(cert, issuer ? issuer->key.get() : made.key.get(), ::EVP_sha256()) > 0,
        "certificate " + subject);
  return made;
}

}  // namespace enrolld::est::test
