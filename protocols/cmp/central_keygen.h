#pragma once
// Central key generation on the wire (RFC 9483 4.1.6): the private key the core generated, as
// a key package signed by the key generation authority, is encrypted to the requester in a
// CMS EnvelopedData and sent in CertifiedKeyPair.privateKey.

#include <openssl/x509.h>

#include "common/bytes.h"
#include "common/error.h"

namespace enrolld::cmp {

// Who can open the EnvelopedData: the holder of the shared secret the request was MAC-protected
// with (password recipient, RFC 9483 4.1.6.3), or of the certificate it was signed with (key
// transport for RSA, 4.1.6.2; key agreement for EC, 4.1.6.1).
struct KeyRecipient {
  Bytes shared_secret;                  // set for a MAC-protected request
  const ::X509* certificate = nullptr;  // set for a signed request
};

// EncryptedKey ::= [0] IMPLICIT EnvelopedData (RFC 4211 as updated by RFC 9480 2.7): DER, with
// `signed_data` (a DER SignedData) as encrypted content of type id-signedData, AES-256-CBC.
// Errors: kSystemFailure.
[[nodiscard]] Result<Bytes> encrypted_key(ByteView signed_data, const KeyRecipient& recipient);

}  // namespace enrolld::cmp
