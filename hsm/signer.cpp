#include "hsm/signer.h"

#include "common/openssl_util.h"

namespace enrolld::hsm {

Result<Bytes> Signer::sign(ByteView data) const {
  ossl::EvpMdCtxPtr ctx(::EVP_MD_CTX_new());
  std::size_t len = 0;
  if (!ctx || ::EVP_DigestSignInit(ctx.get(), nullptr, digest(), nullptr, signing_key()) != 1 ||
      ::EVP_DigestSign(ctx.get(), nullptr, &len, data.data(), data.size()) != 1) {
    return fail(ErrorCode::kSystemUnavailable, "HSM signing setup failed: " + ossl::drain_errors());
  }
  Bytes signature(len);
  if (::EVP_DigestSign(ctx.get(), signature.data(), &len, data.data(), data.size()) != 1) {
    return fail(ErrorCode::kSystemUnavailable, "HSM signing failed: " + ossl::drain_errors());
  }
  signature.resize(len);
  // A faulty device or driver must not put a bad signature into the world (nor into a probe
  // that says the HSM works).
  ossl::EvpMdCtxPtr check(::EVP_MD_CTX_new());
  if (!check || ::EVP_DigestVerifyInit(check.get(), nullptr, digest(), nullptr, public_key()) != 1 ||
      ::EVP_DigestVerify(check.get(), signature.data(), signature.size(), data.data(), data.size()) != 1) {
    return fail(ErrorCode::kSystemFailure, "the HSM's signature does not verify: " + ossl::drain_errors());
  }
  return signature;
}

}  // namespace enrolld::hsm
