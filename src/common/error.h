#pragma once
// Errors as values across layers. Each code is specific enough that every protocol maps it
// one-to-one onto its own wire error (CMP PKIFailureInfo, EST HTTP status): there is no
// catch-all "bad request" in the core.

#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace enrolld {

enum class ErrorCode {
  // The message itself
  kBadDataFormat,       // not decodable / not the expected structure
  kUnsupportedVersion,  // protocol version we do not speak
  kBadMessageCheck,     // integrity protection missing, unknown credential or invalid MAC/signature
  kBadAlgorithm,        // algorithm (protection, key, signature) not accepted
  kBadTime,             // messageTime outside the accepted window
  kBadSenderNonce,      // sender nonce missing or of a bad length
  kBadRecipientNonce,   // recipient nonce does not match what we sent
  kTransactionIdInUse,  // a transaction with this ID already exists with a different request
  kUnknownTransaction,  // a follow-up message (certConf, pollReq) for no open transaction
  kUnexpectedMessage,   // a message the transaction's current state does not accept
  kUnsupportedRequest,  // a request type or feature this server does not offer
  // The request content
  kBadPop,            // proof of possession of the private key failed
  kBadCertTemplate,   // requested subject / key / extensions not acceptable
  kBadCertId,         // certificate reference (certReqId, certHash) does not match
  kNotAuthorized,     // authenticated, but not allowed to do this
  kSignerNotTrusted,  // signature credential does not chain to a trust anchor
  kCertRevoked,       // credential or certificate revoked
  // The server side
  kSystemUnavailable,  // HSM or store cannot serve now; retry later
  kSystemFailure,      // broken invariant or unexpected library failure
  kNotFound,           // an item looked up by an operator does not exist
  kConflict,           // a unique key (serial) is taken
  kConfigInvalid,      // a configuration value is missing or wrong
};

std::string_view to_string(ErrorCode code);

struct Error {
  ErrorCode code;
  std::string message;  // for a person: says what was wrong and, where possible, what to do
};

template <typename T>
using Result = tl::expected<T, Error>;

using Status = Result<void>;

inline tl::unexpected<Error> fail(ErrorCode code, std::string message) {
  return tl::unexpected<Error>(Error{code, std::move(message)});
}

}  // namespace enrolld
