#include "protocols/cmp/failure_info.h"

namespace enrolld::cmp {

FailureBit failure_bit(ErrorCode code) {
  switch (code) {
    case ErrorCode::kBadDataFormat: return kBadDataFormat;
    case ErrorCode::kUnsupportedVersion: return kUnsupportedVersion;
    case ErrorCode::kBadMessageCheck: return kBadMessageCheck;
    case ErrorCode::kBadAlgorithm: return kBadAlg;
    case ErrorCode::kBadTime: return kBadTime;
    case ErrorCode::kBadSenderNonce: return kBadSenderNonce;
    case ErrorCode::kBadRecipientNonce: return kBadRecipientNonce;
    case ErrorCode::kTransactionIdInUse: return kTransactionIdInUse;
    // RFC 4210: badRequest = "transaction not permitted or supported"
    case ErrorCode::kUnknownTransaction: return kBadRequest;
    case ErrorCode::kUnexpectedMessage: return kBadRequest;
    case ErrorCode::kUnsupportedRequest: return kBadRequest;
    case ErrorCode::kBadPop: return kBadPop;
    case ErrorCode::kBadCertTemplate: return kBadCertTemplate;
    case ErrorCode::kBadCertId: return kBadCertId;
    case ErrorCode::kNotAuthorized: return kNotAuthorized;
    case ErrorCode::kSignerNotTrusted: return kSignerNotTrusted;
    case ErrorCode::kCertRevoked: return kCertRevoked;
    case ErrorCode::kSystemUnavailable: return kSystemUnavail;
    case ErrorCode::kSystemFailure: return kSystemFailure;
    // Operator-side codes never come from a client request; if one does, it is our failure.
    case ErrorCode::kNotFound: return kSystemFailure;
    case ErrorCode::kConflict: return kSystemFailure;
    case ErrorCode::kConfigInvalid: return kSystemFailure;
  }
  return kSystemFailure;
}

}  // namespace enrolld::cmp
