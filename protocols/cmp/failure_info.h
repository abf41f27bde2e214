#pragma once
// The one table that maps core errors onto CMP's PKIFailureInfo bits (RFC 4210 5.2.3).

#include "common/error.h"

namespace enrolld::cmp {

// PKIFailureInfo bit numbers.
enum FailureBit : int {
  kBadAlg = 0,
  kBadMessageCheck = 1,
  kBadRequest = 2,
  kBadTime = 3,
  kBadCertId = 4,
  kBadDataFormat = 5,
  kWrongAuthority = 6,
  kIncorrectData = 7,
  kMissingTimeStamp = 8,
  kBadPop = 9,
  kCertRevoked = 10,
  kCertConfirmed = 11,
  kWrongIntegrity = 12,
  kBadRecipientNonce = 13,
  kTimeNotAvailable = 14,
  kUnacceptedPolicy = 15,
  kUnacceptedExtension = 16,
  kAddInfoNotAvailable = 17,
  kBadSenderNonce = 18,
  kBadCertTemplate = 19,
  kSignerNotTrusted = 20,
  kTransactionIdInUse = 21,
  kUnsupportedVersion = 22,
  kNotAuthorized = 23,
  kSystemUnavail = 24,
  kSystemFailure = 25,
  kDuplicateCertReq = 26,
};

FailureBit failure_bit(ErrorCode code);

}  // namespace enrolld::cmp
