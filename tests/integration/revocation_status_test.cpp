// What relying parties see (seed 003: peers check CRL and OCSP), with their own tools: the CRL
// fetched from the distribution point an issued certificate names, `openssl verify -crl_check`
// (with delta CRLs too), `openssl ocsp` against the responder its AIA names, before and after
// `enrollctl revoke`, certificate holds and their release, OCSP over GET with curl, and CRL
// numbers across a restart.
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "demo.h"

namespace enrolld::integration {
namespace {

class RevocationStatusTest : public DemoTest {
 protected:
  static std::string serial_of(const fs::path& cert) {
    RunResult r = openssl({"x509", "-in", cert.string(), "-noout", "-serial"});
    EXPECT_TRUE(r.ok()) << r.describe();
    return lower(canonical_serial(trim(r.out.substr(r.out.find('=') + 1))));
  }

  RunResult revoke(const fs::path& cert, const std::string& reason) const {
    return demo().enrollctl({"revoke", serial_of(cert), "--reason", reason, "--officer", "test-officer"});
  }

  static fs::path issuing_ca() { return demo().dir() / "ca" / "issuing.pem"; }

  // The URL after "URI:" in the certificate's extension `ext` (crlDistributionPoints).
  static std::string uri_in(const fs::path& cert, const std::string& ext) {
    RunResult r = openssl({"x509", "-in", cert.string(), "-noout", "-ext", ext});
    EXPECT_TRUE(r.ok()) << r.describe();
    const auto at = r.out.find("URI:");
    return at == std::string::npos ? "" : trim(r.out.substr(at + 4, r.out.find('\n', at) - at - 4));
  }

  // `openssl ocsp` for `cert` against the URL in its authorityInfoAccess, checking the response
  // up to the demo's root (the delegated responder's certificate comes in the response).
  RunResult ocsp(const fs::path& cert) const {
    RunResult uri = openssl({"x509", "-in", cert.string(), "-noout", "-ocsp_uri"});
    EXPECT_TRUE(uri.ok()) << uri.describe();
    return openssl({"ocsp", "-issuer", issuing_ca().string(), "-cert", cert.string(), "-url", trim(uri.out), "-CAfile",
                    endpoints().chain, "-resp_text", "-timeout", "10"});
  }
};

TEST_F(RevocationStatusTest, IssuedCertificatesNameTheRepositoryAndTheResponder) {
  const fs::path cert = enroll_with_mac("names-the-urls");
  EXPECT_EQ(uri_in(cert, "crlDistributionPoints"), endpoints().crl_url);
  RunResult uri = openssl({"x509", "-in", cert.string(), "-noout", "-ocsp_uri"});
  EXPECT_EQ(trim(uri.out), endpoints().ocsp_url);
  RunResult text = openssl({"x509", "-in", cert.string(), "-noout", "-ext", "authorityInfoAccess"});
  EXPECT_TRUE(contains(text.out, "CA Issuers - URI:" + endpoints().repo_url + "/issuing.crt")) << text.describe();
}

// `openssl verify -crl_check` with the CRL fetched from the distribution point the certificate
// names: accepted before `enrollctl revoke`, refused after.
TEST_F(RevocationStatusTest, TheCrlFromTheDistributionPointRefusesTheCertificateOnceRevoked) {
  const fs::path cert = enroll_with_mac("crl-checked");
  const std::string cdp = uri_in(cert, "crlDistributionPoints");
  ASSERT_FALSE(cdp.empty());
  const fs::path before = fetch_crl(cdp, "before");
  RunResult accepted =
      openssl({"verify", "-crl_check", "-CAfile", endpoints().chain, "-CRLfile", before.string(), cert.string()});
  EXPECT_TRUE(accepted.ok()) << accepted.describe();

  RunResult revoked = revoke(cert, "keyCompromise");
  ASSERT_TRUE(revoked.ok()) << revoked.describe();
  EXPECT_TRUE(contains(revoked.out, "revoked")) << revoked.describe();
  std::this_thread::sleep_for(1100ms);  // a new CRL at most once a second
  const fs::path after = fetch_crl(cdp, "after");
  RunResult refused =
      openssl({"verify", "-crl_check", "-CAfile", endpoints().chain, "-CRLfile", after.string(), cert.string()});
  EXPECT_FALSE(refused.ok());
  EXPECT_TRUE(contains(refused.both(), "certificate revoked")) << refused.describe();

  RunResult audit = demo().enrollctl({"audit", "list"});
  EXPECT_TRUE(contains(audit.out, "officer:test-officer")) << audit.describe();
}

// RFC 6960 with `openssl ocsp` (which sends a nonce and checks it comes back): good, then
// revoked with time and reason; a serial this CA never issued is unknown.
TEST_F(RevocationStatusTest, OcspSaysGoodThenRevokedWithTheReasonAndEchoesTheNonce) {
  const fs::path cert = enroll_with_mac("ocsp-checked");
  RunResult good = ocsp(cert);
  ASSERT_TRUE(good.ok()) << good.describe();
  EXPECT_TRUE(contains(good.both(), "Response verify OK")) << good.describe();
  EXPECT_TRUE(contains(good.out, cert.string() + ": good")) << good.describe();
  EXPECT_FALSE(contains(good.both(), "WARNING: no nonce")) << good.describe();
  EXPECT_TRUE(contains(good.out, "OCSP Nonce")) << good.describe();
  EXPECT_TRUE(contains(good.out, "enrolld demo OCSP responder")) << "signed by the delegated responder\n"
                                                                 << good.describe();

  ASSERT_TRUE(revoke(cert, "cessationOfOperation").ok());
  RunResult revoked = ocsp(cert);
  ASSERT_TRUE(revoked.ok()) << revoked.describe();
  EXPECT_TRUE(contains(revoked.both(), "Response verify OK")) << revoked.describe();
  EXPECT_TRUE(contains(revoked.out, cert.string() + ": revoked")) << revoked.describe();
  EXPECT_TRUE(contains(revoked.out, "Reason: cessationOfOperation")) << revoked.describe();
  EXPECT_TRUE(contains(revoked.out, "Revocation Time:")) << revoked.describe();

  RunResult unknown = openssl({"ocsp", "-issuer", issuing_ca().string(), "-serial", "0x0123456789abcdef", "-url",
                               endpoints().ocsp_url, "-CAfile", endpoints().chain, "-timeout", "10"});
  ASSERT_TRUE(unknown.ok()) << unknown.describe();
  EXPECT_TRUE(contains(unknown.out, "0x0123456789abcdef: unknown")) << unknown.describe();
}

// Without a nonce the responder answers from its cache until the next revocation: a query a
// second later gets the very response (the same producedAt), one after a revocation a new one.
TEST_F(RevocationStatusTest, OcspWithoutANonceIsCachedUntilTheNextRevocation) {
  const fs::path cert = enroll_with_mac("ocsp-cached");
  auto query = [&] {
    RunResult uri = openssl({"x509", "-in", cert.string(), "-noout", "-ocsp_uri"});
    EXPECT_TRUE(uri.ok()) << uri.describe();
    return openssl({"ocsp", "-issuer", issuing_ca().string(), "-cert", cert.string(), "-url", trim(uri.out), "-CAfile",
                    endpoints().chain, "-resp_text", "-no_nonce", "-timeout", "10"});
  };
  auto produced_at = [](const RunResult& r) {
    const auto at = r.out.find("Produced At:");
    return at == std::string::npos ? std::string() : r.out.substr(at, r.out.find('\n', at) - at);
  };
  RunResult first = query();
  ASSERT_TRUE(first.ok()) << first.describe();
  EXPECT_TRUE(contains(first.out, cert.string() + ": good")) << first.describe();
  ASSERT_FALSE(produced_at(first).empty()) << first.describe();
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  RunResult again = query();
  ASSERT_TRUE(again.ok()) << again.describe();
  EXPECT_EQ(produced_at(again), produced_at(first)) << "the cached response, not a new signature";

  ASSERT_TRUE(revoke(cert, "superseded").ok());
  RunResult revoked = query();
  ASSERT_TRUE(revoked.ok()) << revoked.describe();
  EXPECT_TRUE(contains(revoked.both(), "Response verify OK")) << revoked.describe();
  EXPECT_TRUE(contains(revoked.out, cert.string() + ": revoked")) << "the revocation ended the cache\n"
                                                                  << revoked.describe();
  EXPECT_NE(produced_at(revoked), produced_at(first));
}

// certificateHold is reversible (RFC 5280 5.3.1): revoked while it lasts, on OCSP and the CRL;
// good and off the CRL once lifted.
TEST_F(RevocationStatusTest, AHoldSuspendsTheCertificateUntilItIsLifted) {
  const fs::path cert = enroll_with_mac("held");
  ASSERT_TRUE(revoke(cert, "certificateHold").ok());
  RunResult held = ocsp(cert);
  EXPECT_TRUE(contains(held.out, cert.string() + ": revoked")) << held.describe();
  EXPECT_TRUE(contains(held.out, "Reason: certificateHold")) << held.describe();
  std::this_thread::sleep_for(1100ms);  // a new CRL at most once a second
  const fs::path on_hold = fetch_crl(endpoints().crl_url, "on-hold");
  RunResult refused =
      openssl({"verify", "-crl_check", "-CAfile", endpoints().chain, "-CRLfile", on_hold.string(), cert.string()});
  EXPECT_FALSE(refused.ok()) << refused.describe();
  EXPECT_TRUE(contains(refused.both(), "certificate revoked")) << refused.describe();

  RunResult lifted = revoke(cert, "removeFromCRL");
  ASSERT_TRUE(lifted.ok()) << lifted.describe();
  EXPECT_TRUE(contains(lifted.out, "released")) << lifted.describe();
  RunResult good = ocsp(cert);
  EXPECT_TRUE(contains(good.out, cert.string() + ": good")) << good.describe();
  std::this_thread::sleep_for(1100ms);
  const fs::path released = fetch_crl(endpoints().crl_url, "released");
  RunResult accepted =
      openssl({"verify", "-crl_check", "-CAfile", endpoints().chain, "-CRLfile", released.string(), cert.string()});
  EXPECT_TRUE(accepted.ok()) << accepted.describe();

  RunResult again = revoke(cert, "removeFromCRL");
  EXPECT_FALSE(again.ok());
  EXPECT_TRUE(contains(again.err, "not on hold")) << again.describe();
}

// RFC 6960 A.1: GET {url}/{url-encoding of base64 of the DER request}, here with curl; the
// answer is cacheable. A POST that is not an OCSP request is answered malformedRequest.
TEST_F(RevocationStatusTest, OcspOverGetWithCurlAndMalformedRequests) {
  const fs::path cert = enroll_with_mac("ocsp-get");
  const fs::path request = work() / "request.der";
  RunResult made = openssl(
      {"ocsp", "-issuer", issuing_ca().string(), "-cert", cert.string(), "-no_nonce", "-reqout", request.string()});
  ASSERT_TRUE(made.ok()) << made.describe();
  RunResult encoded = openssl({"base64", "-A", "-in", request.string()});
  ASSERT_TRUE(encoded.ok()) << encoded.describe();
  std::string escaped;
  for (char c : trim(encoded.out)) {
    escaped += c == '+' ? "%2B" : c == '/' ? "%2F" : c == '=' ? "%3D" : std::string(1, c);
  }
  const fs::path response = work() / "response.der";
  RunResult got =
      run({"curl", "-sS", "--fail", "-D", "-", "-o", response.string(), endpoints().ocsp_url + "/" + escaped},
          kCommandTimeout);
  ASSERT_TRUE(got.ok()) << got.describe();
  EXPECT_TRUE(contains(lower(got.out), "content-type: application/ocsp-response")) << got.describe();
  EXPECT_TRUE(contains(lower(got.out), "cache-control: max-age=")) << got.describe();
  RunResult read = openssl({"ocsp", "-respin", response.string(), "-issuer", issuing_ca().string(), "-cert",
                            cert.string(), "-CAfile", endpoints().chain});
  EXPECT_TRUE(contains(read.out, cert.string() + ": good")) << read.describe();
  EXPECT_TRUE(contains(read.both(), "Response verify OK")) << read.describe();

  const fs::path garbage = work() / "garbage.der";
  { std::ofstream(garbage) << "not an OCSP request"; }
  const fs::path refused = work() / "refused.der";
  RunResult posted = run({"curl", "-sS", "--fail", "-H", "Content-Type: application/ocsp-request", "--data-binary",
                          "@" + garbage.string(), "-o", refused.string(), endpoints().ocsp_url},
                         kCommandTimeout);
  ASSERT_TRUE(posted.ok()) << posted.describe();
  RunResult malformed = openssl({"ocsp", "-respin", refused.string(), "-resp_text", "-noverify"});
  EXPECT_TRUE(contains(malformed.both(), "malformedrequest")) << malformed.describe();

  RunResult wrong_type = run({"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Type: text/plain",
                              "--data-binary", "@" + request.string(), endpoints().ocsp_url},
                             kCommandTimeout);
  EXPECT_EQ(wrong_type.out, "415") << wrong_type.describe();
}

// Delta CRLs (RFC 5280 5.2.4) beside full CRLs on a schedule: the demo restarted with
// on_revocation = false and delta CRLs on. A hold appears on the delta only; lifting it puts
// removeFromCRL there, and openssl with full and delta CRL follows both steps.
class DeltaCrlTest : public RevocationStatusTest {
 protected:
  static void SetUpTestSuite() {
    DemoTest::SetUpTestSuite();
    if (!s_start_error.empty()) return;
    stop_demo_expecting_success(demo());
    const fs::path config = demo().config();
    std::string text = read_text(config);
    const std::string scheduled = "on_revocation = true\n";
    const auto at = text.find(scheduled);
    ASSERT_NE(at, std::string::npos) << text;
    text.replace(at, scheduled.size(),
                 "on_revocation = false\ndelta_validity_seconds = 3600\ndelta_url = \"http://127.0.0.1:" +
                     endpoints().http_port + "/repo/issuing-delta.crl\"\n");
    { std::ofstream(config, std::ios::trunc) << text; }
    s_start_error = demo().start();
  }

  std::string delta_url() const { return endpoints().base_url() + "/repo/issuing-delta.crl"; }

  RunResult verify_with_deltas(const fs::path& cert, const fs::path& full, const fs::path& delta) const {
    return openssl({"verify", "-crl_check", "-use_deltas", "-CAfile", endpoints().chain, "-CRLfile", full.string(),
                    "-CRLfile", delta.string(), cert.string()});
  }
};

TEST_F(DeltaCrlTest, AHoldAndItsReleaseReachRelyingPartiesOnTheDelta) {
  const fs::path cert = enroll_with_mac("delta-held");
  const fs::path full = fetch_crl(endpoints().crl_url, "full");
  RunResult full_text = openssl({"crl", "-in", full.string(), "-noout", "-text"});
  EXPECT_TRUE(contains(full_text.out, "Freshest CRL")) << full_text.describe();
  EXPECT_TRUE(contains(full_text.out, delta_url())) << full_text.describe();

  ASSERT_TRUE(revoke(cert, "certificateHold").ok());
  std::this_thread::sleep_for(1100ms);  // past a delta the schedule may have signed this second
  const fs::path on_hold = fetch_crl(delta_url(), "delta-hold");
  RunResult hold_text = openssl({"crl", "-in", on_hold.string(), "-noout", "-text"});
  EXPECT_TRUE(contains(hold_text.out, "Delta CRL Indicator: critical")) << hold_text.describe();
  EXPECT_TRUE(contains(hold_text.out, "Certificate Hold")) << hold_text.describe();
  EXPECT_EQ(read_text(fetch_crl(endpoints().crl_url, "full-again")), read_text(full))
      << "full CRLs follow the schedule, not the revocation";
  RunResult refused = verify_with_deltas(cert, full, on_hold);
  EXPECT_FALSE(refused.ok()) << refused.describe();
  EXPECT_TRUE(contains(refused.both(), "certificate revoked")) << refused.describe();

  ASSERT_TRUE(revoke(cert, "removeFromCRL").ok());
  std::this_thread::sleep_for(1100ms);  // a new delta CRL at most once a second
  const fs::path lifted = fetch_crl(delta_url(), "delta-lifted");
  RunResult lifted_text = openssl({"crl", "-in", lifted.string(), "-noout", "-text"});
  EXPECT_TRUE(contains(lifted_text.out, "Remove From CRL")) << lifted_text.describe();
  RunResult accepted = verify_with_deltas(cert, full, lifted);
  EXPECT_TRUE(accepted.ok()) << accepted.describe();
}

// RFC 5280 5.2.3: cRLNumber increases across restarts; a restart with nothing new serves the same
// CRL, and a revocation after it gets a greater number.
class CrlRestartTest : public RevocationStatusTest {
 protected:
  long crl_number_of(const fs::path& pem) const {
    RunResult r = openssl({"crl", "-in", pem.string(), "-noout", "-crlnumber"});
    EXPECT_TRUE(r.ok()) << r.describe();
    return std::stol(trim(r.out.substr(r.out.find('=') + 1)), nullptr, 16);
  }
};

TEST_F(CrlRestartTest, ARestartKeepsTheCrlAndItsNumbersIncreasing) {
  const fs::path cert = enroll_with_mac("before-restart");
  ASSERT_TRUE(revoke(cert, "superseded").ok());
  std::this_thread::sleep_for(1100ms);
  const fs::path before = fetch_crl(endpoints().crl_url, "before");
  const long first = crl_number_of(before);

  stop_demo_expecting_success(demo());
  const std::string restarted = demo().start();
  ASSERT_TRUE(restarted.empty()) << restarted;
  const fs::path same = fetch_crl(endpoints().crl_url, "same");
  EXPECT_EQ(read_text(same), read_text(before)) << "nothing changed: the stored CRL";

  ASSERT_TRUE(revoke(enroll_with_mac("after-restart"), "keyCompromise").ok());
  std::this_thread::sleep_for(1100ms);
  const fs::path after = fetch_crl(endpoints().crl_url, "after");
  EXPECT_GT(crl_number_of(after), first);
}

}  // namespace
}  // namespace enrolld::integration
