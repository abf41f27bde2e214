#include "common/pkcs10.h"

#include <openssl/objects.h>
#include <openssl/x509.h>

namespace enrolld::pkcs10 {

Result<Request> parse(ByteView der) {
  const unsigned char* cursor = der.data();
  RequestPtr decoded(d2i_ENROLLD_P10(nullptr, &cursor, static_cast<long>(der.size())));
  if (!decoded || cursor != der.data() + der.size()) {
    ossl::drain_errors();
    return fail(ErrorCode::kBadDataFormat, "not one DER PKCS#10 certification request");
  }
  auto request = verified(*decoded);
  if (request) request->owned = std::move(decoded);
  return request;
}

Result<Request> verified(const ENROLLD_P10& decoded) {
  Request request;
  request.decoded = &decoded;
  request.public_key_der = ossl::der_with(decoded.info->subjectPKInfo, i2d_ENROLLD_SPKI);
  auto key = ossl::public_key_from_der(request.public_key_der);
  if (!key) return fail(ErrorCode::kBadAlgorithm, "the request's public key cannot be decoded");
  // Over the CertificationRequestInfo as received (ASN1_SEQUENCE_enc keeps its bytes).
  if (::ASN1_item_verify(ASN1_ITEM_rptr(ENROLLD_P10_INFO), decoded.signatureAlgorithm, decoded.signature, decoded.info,
                         key->get()) != 1) {
    ossl::drain_errors();
    return fail(ErrorCode::kBadPop, "the request's signature does not verify with its public key");
  }
  request.subject_der = ossl::der_of(decoded.info->subject);
  return request;
}

Result<std::optional<const ::ASN1_TYPE*>> single_value(const Request& request, const ::ASN1_OBJECT* type) {
  const int at = ::X509at_get_attr_by_OBJ(request.attributes(), type, -1);
  if (at < 0) return std::optional<const ::ASN1_TYPE*>();
  if (::X509at_get_attr_by_OBJ(request.attributes(), type, at) >= 0) {
    return fail(ErrorCode::kBadDataFormat, "a request attribute appears twice");
  }
  ::X509_ATTRIBUTE* attribute = ::X509at_get_attr(request.attributes(), at);
  if (::X509_ATTRIBUTE_count(attribute) != 1) {
    return fail(ErrorCode::kBadDataFormat, "a request attribute must have exactly one value");
  }
  return std::optional<const ::ASN1_TYPE*>(::X509_ATTRIBUTE_get0_type(attribute, 0));
}

Result<Bytes> requested_extensions(const Request& request) {
  auto value = single_value(request, ::OBJ_nid2obj(NID_ext_req));
  if (!value) return tl::unexpected(value.error());
  if (!*value) return Bytes();
  const ::ASN1_TYPE* type = **value;
  if (type->type != V_ASN1_SEQUENCE) return fail(ErrorCode::kBadDataFormat, "the extensionRequest is not Extensions");
  const unsigned char* p = type->value.sequence->data;
  ossl::X509ExtensionsPtr extensions(::d2i_X509_EXTENSIONS(nullptr, &p, type->value.sequence->length));
  if (!extensions || p != type->value.sequence->data + type->value.sequence->length) {
    ossl::drain_errors();
    return fail(ErrorCode::kBadDataFormat, "the request's extensionRequest attribute is not readable");
  }
  if (sk_X509_EXTENSION_num(extensions.get()) == 0) return Bytes();
  return ossl::der_with(extensions.get(), [](const STACK_OF(X509_EXTENSION) * exts, unsigned char** out) {
    return ::i2d_X509_EXTENSIONS(const_cast<STACK_OF(X509_EXTENSION)*>(exts), out);
  });
}

}  // namespace enrolld::pkcs10
