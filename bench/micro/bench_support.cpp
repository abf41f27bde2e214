#include "bench/micro/bench_support.h"

namespace enrolld::bench {

testing::SoftHsmToken& shared_token() {
  static testing::SoftHsmToken instance(
      {{"root", hsm::KeyType::kEcP256}, {"issuing", hsm::KeyType::kEcP256}, {"rsa", hsm::KeyType::kRsa2048}});
  return instance;
}

testing::TestCa& shared_ca() {
  // The token first: statics are destroyed in reverse order of construction, so the CA (and
  // the signer in it) goes before the token and SoftHSM it uses.
  testing::SoftHsmToken& token = shared_token();
  static testing::TestCa instance = testing::make_test_ca(token);
  return instance;
}

}  // namespace enrolld::bench
