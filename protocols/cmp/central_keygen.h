#pragma once
// Central key generation on the wire (RFC 9483 4.1.6): the private key the core generated, as
// a key package signed by the key generation authority, is encrypted to the requester in a
// CMS EnvelopedData and sent in CertifiedKeyPair.privateKey.

#include "common/bytes.h"
#include "common/error.h"
#include "protocols/cms/key_envelope.h"

namespace enrolld::cmp {

using cms::KeyRecipient;

// EncryptedKey ::= [0] IMPLICIT EnvelopedData (RFC 4211 as updated by RFC 9480 2.7): DER, with
// `signed_data` (a DER SignedData) as encrypted content of type id-signedData, AES-256-CBC.
// Errors: kSystemFailure.
[[nodiscard]] Result<Bytes> encrypted_key(ByteView signed_data, const KeyRecipient& recipient);

}  // namespace enrolld::cmp
