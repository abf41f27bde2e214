// Micro benchmarks of what the CA signs besides certificates, and of EST request decoding:
//   BM_CrlSign/N      a full CRL with N revoked entries built, sorted, signed in SoftHSM and
//                     checked (CertificateAuthority::sign_crl); N = 10^3, 10^4, 10^5.
//   BM_OcspRespond    one OCSP request answered by ca::OcspResponder: status from a real
//                     RocksDB store, the response built, signed in SoftHSM and checked; with a
//                     nonce (never cached), without one and without the cache, and without one
//                     from the cache.
//   BM_EstCsrParse    an EST simpleenroll body (base64 PKCS#10 with line breaks) decoded and
//                     checked (est::decode_base64 + est::parse_certification_request).

#include <benchmark/benchmark.h>
#include <openssl/ocsp.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <string>

#include "bench/micro/bench_support.h"
#include "ca/ocsp_responder.h"
#include "protocols/est/est_codec.h"
#include "store/rocksdb/rocksdb_store.h"
#include "support/temp_dir.h"

namespace enrolld::bench {
namespace {

using RequestPtr = std::unique_ptr<::OCSP_REQUEST, ossl::Deleter<::OCSP_REQUEST_free>>;

std::int64_t seconds_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void BM_CrlSign(benchmark::State& state) {
  testing::TestCa& test_ca = shared_ca();
  const auto entries = static_cast<std::size_t>(state.range(0));
  ca::CrlInput input;
  const auto now = std::chrono::system_clock::now();
  input.this_update = now;
  input.next_update = now + std::chrono::hours(24);
  input.number = 1;
  input.revoked.reserve(entries);
  const std::int64_t revoked_at = seconds_now();
  for (std::size_t i = 0; i < entries; ++i) {
    // Reasons as a CA sees them: mostly none (unspecified), some keyCompromise, superseded.
    const int reason = i % 4 == 0 ? 1 : (i % 4 == 1 ? 4 : 0);
    input.revoked.push_back({to_hex(ca::random_serial()), revoked_at - static_cast<std::int64_t>(i), reason});
  }
  // In serial order, as RevocationLists hands them over from the store's revoked index (16-octet
  // serials: 32 hex digits each, so text order is number order). X509_CRL_sort sorts anyway.
  std::sort(input.revoked.begin(), input.revoked.end(),
            [](const ca::RevokedEntry& a, const ca::RevokedEntry& b) { return a.serial_hex < b.serial_hex; });
  std::size_t crl_bytes = 0;
  for (auto _ : state) {
    auto der = test_ca.issuing->sign_crl(input);
    if (!der) {
      state.SkipWithError(der.error().message.c_str());
      break;
    }
    crl_bytes = der->size();
    ++input.number;
  }
  state.counters["crl_bytes"] = static_cast<double>(crl_bytes);
  report_records(state, static_cast<double>(state.iterations()) * static_cast<double>(entries));
}
// 10^5 entries take about a second per CRL: three iterations, whatever --benchmark_min_time says.
BENCHMARK(BM_CrlSign)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_CrlSign)->Arg(100000)->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();

enum class OcspCase { kNonce, kNoNonceUncached, kNoNonceCached };

// A store holding one certificate issued by the shared CA, and OCSP requests for it.
struct OcspFixture {
  testing::TempDir dir{"enrolld-bench-ocsp"};
  std::unique_ptr<store::RocksDbStore> store;
  Bytes request_with_nonce;
  Bytes request_without_nonce;
  std::string problem;  // empty when set up
};

Bytes ocsp_request(const ::X509* cert, const ::X509* issuer, bool nonce) {
  RequestPtr request(::OCSP_REQUEST_new());
  // SHA-1 CertID, as OpenSSL's client and RFC 5019 clients send it.
  ::OCSP_CERTID* id = ::OCSP_cert_to_id(::EVP_sha1(), cert, issuer);
  if (!request || id == nullptr || ::OCSP_request_add0_id(request.get(), id) == nullptr) {
    ::OCSP_CERTID_free(id);
    return {};
  }
  if (nonce && ::OCSP_request_add1_nonce(request.get(), nullptr, 16) != 1) return {};
  return ossl::der_with(request.get(), ::i2d_OCSP_REQUEST);
}

void set_up(OcspFixture& f, testing::TestCa& test_ca) {
  auto opened = store::RocksDbStore::open((f.dir.path() / "db").string());
  if (!opened) {
    f.problem = opened.error().message;
    return;
  }
  f.store = std::move(*opened);
  ossl::EvpPkeyPtr device = testing::make_ec_key();
  ca::CertificationInput input{testing::name_der("CN=bench-ocsp-device"), testing::public_key_der(device.get()), {}};
  auto issued = test_ca.issuing->issue(input, ca::Profile{}, [](const std::string&) -> Result<bool> { return false; });
  if (!issued) {
    f.problem = issued.error().message;
    return;
  }
  store::WriteSet writes;
  store::CertificateRecord record;
  record.serial_hex = issued->serial_hex;
  record.issuer = test_ca.issuing->name();
  record.subject = "CN=bench-ocsp-device";
  record.der = ossl::der_of(issued->certificate.get());
  writes.new_certificates.push_back(record);
  if (auto ok = f.store->commit(writes); !ok) {
    f.problem = ok.error().message;
    return;
  }
  f.request_with_nonce = ocsp_request(issued->certificate.get(), test_ca.issuing->certificate(), true);
  f.request_without_nonce = ocsp_request(issued->certificate.get(), test_ca.issuing->certificate(), false);
  if (f.request_with_nonce.empty() || f.request_without_nonce.empty()) f.problem = "cannot make OCSP requests";
}

// Made on first use, after the CA: destroyed before it at exit.
OcspFixture& ocsp_fixture() {
  testing::TestCa& test_ca = shared_ca();
  static OcspFixture fixture;
  static std::once_flag once;
  std::call_once(once, [&test_ca] { set_up(fixture, test_ca); });
  return fixture;
}

void BM_OcspRespond(benchmark::State& state, OcspCase which) {
  testing::TestCa& test_ca = shared_ca();
  OcspFixture& fixture = ocsp_fixture();
  if (!fixture.problem.empty()) {
    state.SkipWithError(fixture.problem.c_str());
    return;
  }
  store::Store& store = *fixture.store;
  // What ra::OcspStatusResponder asks the store, without its issuer check.
  const ca::StatusLookup lookup = [&store](const std::string& serial) -> Result<ca::CertificateStatus> {
    auto record = store.find_certificate(serial);
    if (!record) return tl::unexpected(record.error());
    if (!*record) return ca::CertificateStatus{};
    if ((*record)->status == "revoked") {
      return ca::CertificateStatus{ca::CertificateStatus::Kind::kRevoked, (*record)->revoked_at,
                                   (*record)->revocation_reason};
    }
    return ca::CertificateStatus{ca::CertificateStatus::Kind::kGood};
  };
  const std::size_t cache_entries = which == OcspCase::kNoNonceUncached ? 0 : 10000;
  // The CA signs its own responses here (the demo delegates to a responder key in the same
  // token): one HSM signature either way.
  ca::OcspResponder responder(*test_ca.issuing, test_ca.issuing->signer(),
                              ossl::up_ref(const_cast<::X509*>(test_ca.issuing->certificate())), std::chrono::hours(1),
                              system_clock(), cache_entries);
  const Bytes& request = which == OcspCase::kNonce ? fixture.request_with_nonce : fixture.request_without_nonce;
  const bool expect_cached = which == OcspCase::kNoNonceCached;
  if (expect_cached) (void)responder.respond(request, lookup);  // fills the cache
  for (auto _ : state) {
    ca::OcspAnswer answer = responder.respond(request, lookup);
    if (answer.response_status != OCSP_RESPONSE_STATUS_SUCCESSFUL || answer.from_cache != expect_cached) {
      state.SkipWithError(("unexpected OCSP answer: " + answer.problem).c_str());
      break;
    }
    benchmark::DoNotOptimize(answer);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(BM_OcspRespond, nonce, OcspCase::kNonce);
BENCHMARK_CAPTURE(BM_OcspRespond, no_nonce_uncached, OcspCase::kNoNonceUncached);
BENCHMARK_CAPTURE(BM_OcspRespond, no_nonce_cached, OcspCase::kNoNonceCached);

enum class CsrKey { kP256, kRsa2048 };

// A simpleenroll body: the DER PKCS#10 request (subject, SAN in an extensionRequest) in base64
// with a line break every 64 characters, as many EST clients send it (RFC 8951 2.1 lets them).
std::string est_body(CsrKey kind, std::string& problem) {
  ossl::EvpPkeyPtr key(kind == CsrKey::kP256 ? ::EVP_EC_gen("P-256") : ::EVP_RSA_gen(2048));
  ossl::X509ReqPtr csr(::X509_REQ_new());
  ossl::X509NamePtr subject(::X509_NAME_new());
  ossl::X509ExtensionsPtr extensions(sk_X509_EXTENSION_new_null());
  ::X509_EXTENSION* san = ::X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name,
                                                const_cast<char*>("DNS:bench-device.devices.example"));
  const bool pushed = extensions && san != nullptr && sk_X509_EXTENSION_push(extensions.get(), san) > 0;
  if (!pushed) ::X509_EXTENSION_free(san);
  if (!key || !csr || !subject || !pushed ||
      ::X509_NAME_add_entry_by_txt(subject.get(), "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>("bench-device"), -1, -1, 0) != 1 ||
      ::X509_REQ_set_subject_name(csr.get(), subject.get()) != 1 || ::X509_REQ_set_pubkey(csr.get(), key.get()) != 1 ||
      ::X509_REQ_add_extensions(csr.get(), extensions.get()) != 1 ||
      ::X509_REQ_sign(csr.get(), key.get(), ::EVP_sha256()) <= 0) {
    problem = "cannot make a CSR: " + ossl::drain_errors();
    return {};
  }
  const std::string line = to_base64(ossl::der_with(csr.get(), ::i2d_X509_REQ));
  std::string body;
  for (std::size_t at = 0; at < line.size(); at += 64) body.append(line, at, 64).append("\r\n");
  return body;
}

void BM_EstCsrParse(benchmark::State& state, CsrKey kind) {
  std::string problem;
  const std::string body = est_body(kind, problem);
  if (body.empty()) {
    state.SkipWithError(problem.c_str());
    return;
  }
  for (auto _ : state) {
    auto der = est::decode_base64(body);
    if (!der) {
      state.SkipWithError("the body is not base64");
      break;
    }
    auto info = est::parse_certification_request(*der);
    if (!info) {
      state.SkipWithError(info.error().message.c_str());
      break;
    }
    benchmark::DoNotOptimize(info);
  }
  state.counters["body_bytes"] = static_cast<double>(body.size());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(BM_EstCsrParse, p256, CsrKey::kP256);
BENCHMARK_CAPTURE(BM_EstCsrParse, rsa2048, CsrKey::kRsa2048);

}  // namespace
}  // namespace enrolld::bench
