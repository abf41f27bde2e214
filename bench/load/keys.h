#pragma once
// What a device brings to an enrollment, made before the measured window: P-256 key pairs,
// subject names and PKCS#10 requests. Plain functions.

#include <string>

#include "bench/load/outcome.h"
#include "common/openssl_util.h"

namespace enrolld::load {

// A fresh P-256 key pair. Failure kind: "setup.key".
Outcome<ossl::EvpPkeyPtr> make_p256_key();

// The name CN=`common_name`. Failure kind: "setup.subject".
Outcome<ossl::X509NamePtr> make_subject(const std::string& common_name);

// A PKCS#10 request for `key` and `subject`, signed with ECDSA-SHA256. Failure kind: "setup.csr".
Outcome<ossl::X509ReqPtr> make_csr(::EVP_PKEY* key, const ::X509_NAME* subject);

// Decodes base64 that may contain line breaks and blanks (RFC 8951 lets EST servers wrap
// lines). Failure kind: "est.base64".
Outcome<Bytes> unbase64_lenient(std::string_view text);

}  // namespace enrolld::load
