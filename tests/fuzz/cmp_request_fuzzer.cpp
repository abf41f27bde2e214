// Fuzz target for the CMP request handler: arbitrary bytes through CmpServer::handle() on the
// real stack (SoftHSM token, RocksDB, EnrollmentServiceImpl, signature trust). Built with
// libFuzzer by scripts/fuzz.sh; the corpus in tests/fuzz/corpus/cmp/ is replayed as a ctest in
// every run (cmp_fuzz_replay), so each crash once found stays fixed.
//
// The seeds were recorded with `openssl cmp -reqout` against a server holding the same
// credential as below, so they get past the MAC check and reach the deeper code.

#include <cstddef>
#include <cstdint>

#include "ca/ca_certificates.h"
#include "hsm/software_signer.h"
#include "protocols/cmp/cmp_server.h"
#include "ra/certificate_trust_impl.h"
#include "ra/enrollment_service_impl.h"
#include "ra/hsm_message_signer.h"
#include "ra/static_secrets.h"
#include "store/rocksdb/rocksdb_store.h"
#include "support/softhsm_fixture.h"

namespace {

// A software key generation authority, so that central key generation is fuzzed to the end.
enrolld::ra::KeyGenerationAuthority key_generation_authority(const enrolld::ca::CertificateAuthority& issuing) {
  enrolld::ossl::EvpPkeyPtr key = enrolld::testing::make_ec_key();
  auto cert = enrolld::ca::make_key_generation_certificate({{{"CN", "fuzz KGA"}}, std::chrono::hours(24), -1},
                                                           key.get(), issuing.certificate(), issuing.signer());
  enrolld::ra::KeyGenerationAuthority kga{
      std::make_unique<enrolld::hsm::SoftwareSigner>(std::move(key)), {}, enrolld::ra::KeyPackageFormat::kSingleKey};
  if (!cert) __builtin_trap();  // the fuzzed stack itself must be whole
  kga.chain.push_back(std::move(*cert));
  for (const auto& above : issuing.chain()) kga.chain.push_back(enrolld::ossl::up_ref(above.get()));
  return kga;
}

struct Stack {
  enrolld::testing::SoftHsmToken token;
  enrolld::testing::TestCa ca = enrolld::testing::make_test_ca(token);
  enrolld::testing::TempDir store_dir{"enrolld-fuzz-store"};
  std::unique_ptr<enrolld::store::RocksDbStore> store =
      std::move(*enrolld::store::RocksDbStore::open((store_dir.path() / "db").string()));
  enrolld::ra::EnrollmentServiceImpl service{*store,
                                             *ca.issuing,
                                             {enrolld::ca::Profile{}},
                                             enrolld::ra::Policy{},
                                             enrolld::system_clock(),
                                             key_generation_authority(*ca.issuing)};
  enrolld::ra::StaticSharedSecrets secrets{{{"fuzz", enrolld::to_bytes("fuzz-secret-0123")}}};
  enrolld::ra::CertificateTrustImpl trust{*store, service.ca_chain(), {}, {}, enrolld::system_clock()};
  enrolld::ra::HsmMessageSigner signer{ca.issuing->signer(), service.ca_chain()};
  enrolld::cmp::CmpServer server{service, secrets, options(), &trust, &signer};

  // The seeds' messageTime is when they were recorded: no time window, or they stop at badTime.
  static enrolld::cmp::CmpServerOptions options() {
    enrolld::cmp::CmpServerOptions options;
    options.max_clock_skew = std::chrono::hours(24 * 365 * 100);
    return options;
  }
};

Stack& stack() {
  static Stack* instance = new Stack();  // built once, before the first input; lives for the process
  return *instance;
}

}  // namespace

// Builds the stack before fuzzing starts, so its one-time allocations are not charged to an input.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  stack();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto reply = stack().server.handle(enrolld::ByteView(data, size), enrolld::cmp::CmpRequestContext{"", "fuzz"});
  // Every input gets an answer or a clean kBadDataFormat; anything else is a bug.
  if (!reply && reply.error().code != enrolld::ErrorCode::kBadDataFormat) __builtin_trap();
  return 0;
}
