#include "protocols/est/est_codec.h"

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include <cctype>

#include "common/der.h"
#include "common/openssl_util.h"
#include "common/pkcs10.h"

namespace enrolld::est {

namespace {

using Pkcs7Ptr = std::unique_ptr<::PKCS7, ossl::Deleter<::PKCS7_free>>;
using ObjectPtr = std::unique_ptr<::ASN1_OBJECT, ossl::Deleter<::ASN1_OBJECT_free>>;

constexpr const char* kAsymmetricDecryptKeyId = "1.2.840.113549.1.9.16.2.54";  // RFC 7030 4.4.1.2
constexpr const char* kDecryptKeyId = "1.2.840.113549.1.9.16.2.37";            // RFC 4108

constexpr std::uint8_t kTagOid = 0x06;
constexpr std::uint8_t kTagSet = 0x31;

ObjectPtr object(const char* dotted) {
  return ObjectPtr(::OBJ_txt2obj(dotted, 1));
}

Result<std::optional<std::string>> challenge_password(const pkcs10::Request& request) {
  auto value = pkcs10::single_value(request, ::OBJ_nid2obj(NID_pkcs9_challengePassword));
  if (!value) return tl::unexpected(value.error());
  if (!*value) return std::optional<std::string>();
  const ::ASN1_TYPE* type = **value;
  if (type->type != V_ASN1_PRINTABLESTRING && type->type != V_ASN1_UTF8STRING && type->type != V_ASN1_IA5STRING) {
    return fail(ErrorCode::kBadDataFormat, "the CSR's challengePassword is not a string");
  }
  const ::ASN1_STRING* text = type->value.asn1_string;
  return std::optional<std::string>(std::string(reinterpret_cast<const char*>(::ASN1_STRING_get0_data(text)),
                                                static_cast<std::size_t>(::ASN1_STRING_length(text))));
}

Result<std::optional<Bytes>> asymmetric_decrypt_key_id(const pkcs10::Request& request) {
  ObjectPtr type = object(kAsymmetricDecryptKeyId);
  auto value = pkcs10::single_value(request, type.get());
  if (!value) return tl::unexpected(value.error());
  if (!*value) return std::optional<Bytes>();
  if ((**value)->type != V_ASN1_OCTET_STRING) {
    return fail(ErrorCode::kBadDataFormat, "the CSR's AsymmetricDecryptKeyIdentifier is not an OCTET STRING");
  }
  const ::ASN1_STRING* id = (**value)->value.octet_string;
  const auto* data = ::ASN1_STRING_get0_data(id);
  return std::optional<Bytes>(Bytes(data, data + ::ASN1_STRING_length(id)));
}

}  // namespace

std::optional<Bytes> decode_base64(std::string_view text) {
  std::string compact;
  compact.reserve(text.size());
  for (char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c))) compact.push_back(c);
  }
  return from_base64(compact);
}

Result<CertificationRequestInfo> parse_certification_request(ByteView der) {
  auto request = pkcs10::parse(der);
  if (!request) {
    const ErrorCode code = request.error().code == ErrorCode::kBadPop ? ErrorCode::kBadPop : ErrorCode::kBadDataFormat;
    return fail(code, "the body is not a usable PKCS#10 certification request: " + request.error().message);
  }
  CertificationRequestInfo info;
  info.der.assign(der.begin(), der.end());
  info.subject_der = std::move(request->subject_der);
  info.public_key_der = std::move(request->public_key_der);
  auto extensions = pkcs10::requested_extensions(*request);
  if (!extensions) return tl::unexpected(extensions.error());
  info.extensions_der = std::move(*extensions);
  auto password = challenge_password(*request);
  if (!password) return tl::unexpected(password.error());
  info.challenge_password = std::move(*password);
  auto decrypt_id = asymmetric_decrypt_key_id(*request);
  if (!decrypt_id) return tl::unexpected(decrypt_id.error());
  info.asymmetric_decrypt_key_id = std::move(*decrypt_id);
  ObjectPtr symmetric = object(kDecryptKeyId);
  info.symmetric_decrypt_key_requested = ::X509at_get_attr_by_OBJ(request->attributes(), symmetric.get(), -1) >= 0;
  return info;
}

Result<Bytes> certs_only(const std::vector<::X509*>& certificates) {
  Pkcs7Ptr p7(::PKCS7_new());
  if (!p7 || ::PKCS7_set_type(p7.get(), NID_pkcs7_signed) != 1 || ::PKCS7_content_new(p7.get(), NID_pkcs7_data) != 1) {
    return fail(ErrorCode::kSystemFailure, "cannot build a PKCS#7 SignedData: " + ossl::drain_errors());
  }
  ::PKCS7_set_detached(p7.get(), 1);  // no content at all: a certs-only bag
  for (::X509* cert : certificates) {
    if (cert == nullptr || ::PKCS7_add_certificate(p7.get(), cert) != 1) {
      return fail(ErrorCode::kSystemFailure, "cannot add a certificate to the PKCS#7 bag");
    }
  }
  Bytes out = ossl::der_with(p7.get(), ::i2d_PKCS7);
  if (out.empty()) return fail(ErrorCode::kSystemFailure, "cannot encode the PKCS#7 bag");
  return out;
}

Result<Bytes> certs_only(const std::vector<Bytes>& certificates) {
  std::vector<ossl::X509Ptr> decoded;
  std::vector<::X509*> pointers;
  for (const auto& der : certificates) {
    auto cert = ossl::x509_from_der(der);
    if (!cert) return fail(ErrorCode::kSystemFailure, "cannot add a certificate to the PKCS#7 bag");
    pointers.push_back(cert->get());
    decoded.push_back(std::move(*cert));
  }
  return certs_only(pointers);
}

Bytes csr_attributes(const ra::ProfileInfo& profile) {
  Bytes items;
  auto append = [&items](const Bytes& item) { items.insert(items.end(), item.begin(), item.end()); };
  if (profile.restricts_keys) {
    for (const auto& algorithm : profile.key_algorithms) {
      // AlgorithmIdentifier { OID, parameters }: an EC key names its curve as the attribute's
      // value (RFC 7030 4.5.2's example); RSA is named by its OID alone.
      auto outer = der::read_element(algorithm);
      auto parts = outer ? der::read_children(outer->content) : std::nullopt;
      if (!parts || parts->empty() || parts->front().tag != kTagOid) continue;
      const der::Element& oid = parts->front();
      if (parts->size() == 2 && parts->back().tag == kTagOid) {
        Bytes attribute(oid.whole.begin(), oid.whole.end());
        const Bytes values = der::element(kTagSet, parts->back().whole);
        attribute.insert(attribute.end(), values.begin(), values.end());
        append(der::sequence(attribute));
      } else {
        append(Bytes(oid.whole.begin(), oid.whole.end()));
      }
    }
  }
  if (profile.requires_channel_binding) {
    append(ossl::der_with(::OBJ_nid2obj(NID_pkcs9_challengePassword), ::i2d_ASN1_OBJECT));
  }
  if (items.empty()) return {};
  return der::sequence(items);
}

Bytes multipart_mixed(const std::vector<MimePart>& parts, std::string_view boundary) {
  // Sized up front and every temporary wiped: a part may be a private key.
  std::size_t size = boundary.size() + 8;
  for (const auto& part : parts) size += boundary.size() + part.content_type.size() + part.body.size() * 4 / 3 + 80;
  std::string body;
  body.reserve(size);
  for (const auto& part : parts) {
    std::string encoded = base64_line(part.body);
    body.append("--").append(boundary).append("\r\nContent-Type: ").append(part.content_type);
    body.append("\r\nContent-Transfer-Encoding: base64\r\n\r\n").append(encoded).append("\r\n");
    ::OPENSSL_cleanse(encoded.data(), encoded.size());
  }
  body.append("--").append(boundary).append("--\r\n");
  Bytes out(body.begin(), body.end());
  ::OPENSSL_cleanse(body.data(), body.size());  // it may hold a private key
  return out;
}

}  // namespace enrolld::est
