#pragma once
// A centrally generated private key on its way to the requester (CMP RFC 9483 4.1.6, EST RFC
// 7030 4.4.2): the key package the key generation authority signed, encrypted to the requester
// in a CMS EnvelopedData. Shared by the protocols; each wraps the result its own way.

#include <openssl/x509.h>

#include "common/bytes.h"
#include "common/error.h"
#include "common/openssl_util.h"

namespace enrolld::cms {

// Who can open the EnvelopedData: the holder of a shared secret (password recipient, RFC 9483
// 4.1.6.3), or of a certificate (key transport for RSA, 4.1.6.2; key agreement for EC, 4.1.6.1).
struct KeyRecipient {
  Bytes shared_secret;                  // set for a MAC-protected CMP request
  const ::X509* certificate = nullptr;  // set for a signed request or an EST client certificate
};

// An EnvelopedData (as a ContentInfo) with `signed_data` (a DER SignedData) as its encrypted
// content of type id-signedData, AES-256-CBC. Errors: kSystemFailure.
[[nodiscard]] Result<ossl::CmsPtr> envelope_key(ByteView signed_data, const KeyRecipient& recipient);

}  // namespace enrolld::cms
