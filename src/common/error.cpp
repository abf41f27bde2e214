#include "common/error.h"

namespace enrolld {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kBadDataFormat: return "bad-data-format";
    case ErrorCode::kUnsupportedVersion: return "unsupported-version";
    case ErrorCode::kBadMessageCheck: return "bad-message-check";
    case ErrorCode::kBadAlgorithm: return "bad-algorithm";
    case ErrorCode::kBadTime: return "bad-time";
    case ErrorCode::kBadSenderNonce: return "bad-sender-nonce";
    case ErrorCode::kBadRecipientNonce: return "bad-recipient-nonce";
    case ErrorCode::kTransactionIdInUse: return "transaction-id-in-use";
    case ErrorCode::kUnknownTransaction: return "unknown-transaction";
    case ErrorCode::kUnexpectedMessage: return "unexpected-message";
    case ErrorCode::kUnsupportedRequest: return "unsupported-request";
    case ErrorCode::kBadPop: return "bad-pop";
    case ErrorCode::kBadCertTemplate: return "bad-cert-template";
    case ErrorCode::kBadCertId: return "bad-cert-id";
    case ErrorCode::kNotAuthorized: return "not-authorized";
    case ErrorCode::kSignerNotTrusted: return "signer-not-trusted";
    case ErrorCode::kCertRevoked: return "cert-revoked";
    case ErrorCode::kSystemUnavailable: return "system-unavailable";
    case ErrorCode::kSystemFailure: return "system-failure";
    case ErrorCode::kNotFound: return "not-found";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kConfigInvalid: return "config-invalid";
  }
  return "unknown-error";
}

}  // namespace enrolld
