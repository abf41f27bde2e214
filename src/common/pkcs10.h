#pragma once
// PKCS#10 certification requests (CMP p10cr, EST simpleenroll), read without OpenSSL 3.0's key
// decoding: the subject key is built from its parameters (ossl::public_key_from_der) and the
// request's self-signature checked with it.

#include <memory>
#include <optional>

#include "common/bytes.h"
#include "common/error.h"
#include "common/openssl_util.h"
#include "common/pkcs10_asn1.h"

namespace enrolld::pkcs10 {

using RequestPtr = std::unique_ptr<ENROLLD_P10, ossl::Deleter<ENROLLD_P10_free>>;

// A decoded request whose signature verified with its own key.
struct Request {
  RequestPtr owned;                      // set by parse(); verified() leaves the request its owner's
  const ENROLLD_P10* decoded = nullptr;  // never null
  Bytes subject_der;                     // DER Name
  Bytes public_key_der;                  // DER SubjectPublicKeyInfo, as encoded in the request

  const STACK_OF(X509_ATTRIBUTE) * attributes() const { return decoded->info->attributes; }
};

// Decodes exactly one DER CertificationRequest. Errors: kBadDataFormat (not one, or trailing
// bytes), kBadAlgorithm (a public key that cannot be used), kBadPop (the signature does not
// verify with the request's key).
[[nodiscard]] Result<Request> parse(ByteView der);
// The same checks for a request already decoded (inside a CMP message), which must outlive the
// result.
[[nodiscard]] Result<Request> verified(const ENROLLD_P10& decoded);

// The single value of attribute `type`; nullopt when absent. Errors: kBadDataFormat when it
// appears more than once or has not exactly one value.
[[nodiscard]] Result<std::optional<const ::ASN1_TYPE*>> single_value(const Request& request, const ::ASN1_OBJECT* type);

// The DER Extensions of the extensionRequest attribute (RFC 2985 5.4.2); empty when there is
// none or it lists none. Errors: kBadDataFormat.
[[nodiscard]] Result<Bytes> requested_extensions(const Request& request);

}  // namespace enrolld::pkcs10
