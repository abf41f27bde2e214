// Micro benchmarks of the pieces every enrollment pays for: HSM signing (SoftHSM through
// libp11, with the session pool and with one session) against the software floor, certificate
// issuance, the PBM KDF, and CMP request decoding with its MAC check. Store writes are in
// store_bench.cpp; CRL, OCSP and EST CSR decoding in ca_bench.cpp (all one binary).

#include <benchmark/benchmark.h>
#include <openssl/cmp.h>
#include <openssl/err.h>

#include <map>
#include <mutex>
#include <string>

#include "bench/micro/bench_support.h"
#include "ca/certificate_authority.h"
#include "protocols/cmp/cmp_server.h"
#include "protocols/cmp/message.h"
#include "ra/enrollment_service_impl.h"
#include "ra/static_secrets.h"
#include "store/rocksdb/rocksdb_store.h"
#include "support/softhsm_fixture.h"

namespace enrolld::bench {
namespace {

// How the signatures use the token's PKCS#11 sessions.
//   kPool: as enrolld signs. libp11 keeps a pool of sessions per slot and opens another one
//     whenever a signature starts while all are busy, up to 16 (libp11 0.4.12 fixes that
//     number when it enumerates the slots; neither its API nor hsm::Pkcs11Token has a knob
//     for it), so each concurrent signature has a session of its own: pool = N.
//   kOneSession: the same signer, but every signature is taken under one mutex for the whole
//     token, so at most one session is ever in use (libp11 opens no second one, though it may
//     hand out, one at a time, sessions an earlier pooled run opened). This is pool = 1, what
//     a signer holding a single PKCS#11 session (which only one thread may use at a time)
//     would do; the other threads wait on the mutex instead of on libp11's condition variable.
// Signer::sign also checks each signature with the public key, in software, inside the lock.
enum class Sessions { kPool, kOneSession };

void BM_HsmSign(benchmark::State& state, const char* label, Sessions sessions) {
  // The token first: statics are destroyed in reverse order, so the signers go before the
  // token (and SoftHSM) they use.
  testing::SoftHsmToken& token = shared_token();
  static std::map<std::string, std::shared_ptr<hsm::Signer>> signers;
  static std::mutex signers_mutex;
  static std::mutex one_session;
  std::shared_ptr<hsm::Signer> signer;
  {
    std::lock_guard lock(signers_mutex);
    auto& slot = signers[label];
    if (!slot) slot = token.signer(label);
    signer = slot;
  }
  const Bytes data(200, 0x5a);  // about the size of a TBSCertificate digest input
  for (auto _ : state) {
    std::unique_lock<std::mutex> serialised;
    if (sessions == Sessions::kOneSession) serialised = std::unique_lock(one_session);
    auto signature = signer->sign(data);
    if (!signature) state.SkipWithError(signature.error().message.c_str());
    benchmark::DoNotOptimize(signature);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(BM_HsmSign, p256, "issuing", Sessions::kPool)->Threads(1)->Threads(2)->Threads(4)->UseRealTime();
BENCHMARK_CAPTURE(BM_HsmSign, p256_one_session, "issuing", Sessions::kOneSession)
    ->Threads(1)
    ->Threads(2)
    ->Threads(4)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_HsmSign, rsa2048, "rsa", Sessions::kPool)->Threads(1)->Threads(2)->Threads(4)->UseRealTime();
BENCHMARK_CAPTURE(BM_HsmSign, rsa2048_one_session, "rsa", Sessions::kOneSession)
    ->Threads(1)
    ->Threads(2)
    ->Threads(4)
    ->UseRealTime();

// The floor: the same signature in software, no token.
void BM_SoftwareSignP256(benchmark::State& state) {
  ossl::EvpPkeyPtr key = testing::make_ec_key();
  const Bytes data(200, 0x5a);
  for (auto _ : state) {
    ossl::EvpMdCtxPtr ctx(::EVP_MD_CTX_new());
    unsigned char sig[128];
    std::size_t len = sizeof sig;
    ::EVP_DigestSignInit(ctx.get(), nullptr, ::EVP_sha256(), nullptr, key.get());
    ::EVP_DigestSign(ctx.get(), sig, &len, data.data(), data.size());
    benchmark::DoNotOptimize(sig);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SoftwareSignP256);

void BM_IssueCertificate(benchmark::State& state) {
  testing::TestCa& test_ca = shared_ca();
  ossl::EvpPkeyPtr device = testing::make_ec_key();
  ca::CertificationInput input{testing::name_der("CN=bench-device"), testing::public_key_der(device.get()), {}};
  ca::SerialTaken free_serial = [](const std::string&) -> Result<bool> { return false; };
  for (auto _ : state) {
    auto issued = test_ca.issuing->issue(input, ca::Profile{}, free_serial);
    if (!issued) state.SkipWithError(issued.error().message.c_str());
    benchmark::DoNotOptimize(issued);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_IssueCertificate);

void BM_PbmKdf(benchmark::State& state) {
  cmp::PbmParameters params;
  params.salt = random_bytes(16);
  params.owf = ::EVP_sha256();
  params.owf_nid = NID_sha256;
  params.iterations = static_cast<std::uint64_t>(state.range(0));
  const Bytes secret = to_bytes("0123456789abcdef0123456789abcdef");
  for (auto _ : state) benchmark::DoNotOptimize(cmp::derive_pbm_key(params, secret));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PbmKdf)->Arg(500)->Arg(10000);

// A real ir from OpenSSL's client: captured by a transfer callback that sends nothing.
Bytes capture_ir(const std::string& reference, const std::string& secret) {
  static Bytes captured;
  auto* ctx = ::OSSL_CMP_CTX_new(nullptr, nullptr);
  ossl::EvpPkeyPtr key = testing::make_ec_key();
  ::OSSL_CMP_CTX_set1_referenceValue(ctx, reinterpret_cast<const unsigned char*>(reference.data()),
                                     static_cast<int>(reference.size()));
  ::OSSL_CMP_CTX_set1_secretValue(ctx, reinterpret_cast<const unsigned char*>(secret.data()),
                                  static_cast<int>(secret.size()));
  ::OSSL_CMP_CTX_set0_newPkey(ctx, 1, key.release());
  ossl::X509NamePtr subject(::X509_NAME_new());
  ::X509_NAME_add_entry_by_txt(subject.get(), "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("bench"), -1,
                               -1, 0);
  ::OSSL_CMP_CTX_set1_subjectName(ctx, subject.get());
  ::OSSL_CMP_CTX_set_transfer_cb(ctx, [](OSSL_CMP_CTX*, const OSSL_CMP_MSG* request) -> OSSL_CMP_MSG* {
    unsigned char* der = nullptr;
    int len = ::i2d_OSSL_CMP_MSG(request, &der);
    captured.assign(der, der + len);
    ::OPENSSL_free(der);
    return nullptr;  // nothing is sent: the exchange fails on purpose
  });
  ::OSSL_CMP_exec_IR_ses(ctx);
  ::OSSL_CMP_CTX_free(ctx);
  ::ERR_clear_error();
  return captured;
}

void BM_CmpParseAndVerifyMac(benchmark::State& state) {
  const Bytes ir = capture_ir("bench", "bench-secret-0123");
  const Bytes secret = to_bytes("bench-secret-0123");
  for (auto _ : state) {
    auto parsed = cmp::parse_message(ir);
    if (!parsed) {
      state.SkipWithError(parsed.error().message.c_str());
      break;
    }
    auto params = cmp::parse_pbm_parameters(parsed->message->header->protectionAlg, cmp::PbmLimits{});
    Bytes key = cmp::derive_pbm_key(*params, secret);
    benchmark::DoNotOptimize(cmp::pbm_mac(*params, key, parsed->protected_part));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CmpParseAndVerifyMac);

// The whole server side of one ir, in process: decode, MAC, POP, issue in SoftHSM, synced
// commit, encode. No HTTP, no client cost.
void BM_CmpIrEndToEnd(benchmark::State& state) {
  testing::TestCa& test_ca = shared_ca();
  testing::TempDir dir("enrolld-bench-cmp");
  auto store = store::RocksDbStore::open((dir.path() / "db").string());
  ra::EnrollmentServiceImpl service(**store, *test_ca.issuing, {ca::Profile{}}, ra::Policy{},
                                    [] { return std::chrono::system_clock::now(); });
  ra::StaticSharedSecrets secrets({{"bench", to_bytes("bench-secret-0123")}});
  cmp::CmpServer server(service, secrets, cmp::CmpServerOptions{});
  std::vector<Bytes> requests;
  for (int i = 0; i < 64; ++i) requests.push_back(capture_ir("bench", "bench-secret-0123"));
  std::size_t next = 0;
  for (auto _ : state) {
    if (next == requests.size()) {
      state.PauseTiming();
      for (auto& request : requests) request = capture_ir("bench", "bench-secret-0123");
      next = 0;
      state.ResumeTiming();
    }
    auto reply = server.handle(requests[next++], cmp::CmpRequestContext{});
    if (!reply) state.SkipWithError(reply.error().message.c_str());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CmpIrEndToEnd)->UseRealTime();

}  // namespace
}  // namespace enrolld::bench

BENCHMARK_MAIN();
