#include "support/faulty_signer.h"

#include <openssl/core_names.h>
#include <openssl/param_build.h>

#include "support/softhsm_fixture.h"

namespace enrolld::testing {

namespace {
using ParamBldPtr = std::unique_ptr<::OSSL_PARAM_BLD, ossl::Deleter<::OSSL_PARAM_BLD_free>>;
using ParamsPtr = std::unique_ptr<::OSSL_PARAM, ossl::Deleter<::OSSL_PARAM_free>>;
}  // namespace

ossl::EvpPkeyPtr mismatched_key_pair(::EVP_PKEY* public_key) {
  unsigned char point[256];
  std::size_t point_len = 0;
  ::EVP_PKEY_get_octet_string_param(public_key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &point_len);
  ossl::EvpPkeyPtr other = make_ec_key();
  ::BIGNUM* raw = nullptr;
  ::EVP_PKEY_get_bn_param(other.get(), OSSL_PKEY_PARAM_PRIV_KEY, &raw);
  ossl::BignumPtr scalar(raw);
  ParamBldPtr builder(::OSSL_PARAM_BLD_new());
  ::OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
  ::OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, point, point_len);
  ::OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_PRIV_KEY, scalar.get());
  ParamsPtr params(::OSSL_PARAM_BLD_to_param(builder.get()));
  ossl::EvpPkeyCtxPtr ctx(::EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  ::EVP_PKEY* key = nullptr;
  if (::EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      ::EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_KEYPAIR, params.get()) != 1) {
    return nullptr;
  }
  return ossl::EvpPkeyPtr(key);
}

}  // namespace enrolld::testing
