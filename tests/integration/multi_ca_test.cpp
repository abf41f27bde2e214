// Two issuing CAs in one appliance (the demo's [ca] "issuing" and [[issuing_ca]] "devices",
// both under the demo root): a profile picks its CA, and each CA's revocations reach its own
// CRL and OCSP answers only. Seen with the relying parties' tools: openssl verify, openssl ocsp,
// curl against the repository.
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "demo.h"

namespace enrolld::integration {
namespace {

class MultiCaTest : public DemoTest {
 protected:
  const std::string& value(const char* key) const {
    static const std::string kNone;
    auto found = endpoints().values.find(key);
    EXPECT_NE(found, endpoints().values.end()) << key << " is not in endpoints.env";
    return found == endpoints().values.end() ? kNone : found->second;
  }
  fs::path devices_ca() const { return value("IOT_CA_CERT"); }
  static fs::path issuing_ca() { return demo().dir() / "ca" / "issuing.pem"; }
  static fs::path root_ca() { return demo().dir() / "ca" / "root.pem"; }

  fs::path enroll_iot(const std::string& name) const {
    const fs::path key = make_ec_key(name + ".key");
    const fs::path cert = work() / (name + ".pem");
    RunResult r = openssl_cmp(
        {"ir", value("IOT_CMP_URL"), endpoints().ref, endpoints().secret, key, "/CN=" + name, {}, cert, {}});
    EXPECT_TRUE(r.ok()) << r.describe();
    return cert;
  }

  static std::string field(const fs::path& cert, const char* what) {
    RunResult r = openssl({"x509", "-in", cert.string(), "-noout", what, "-nameopt", "RFC2253"});
    EXPECT_TRUE(r.ok()) << r.describe();
    return trim(r.out.substr(r.out.find('=') + 1));
  }
  static std::string serial_of(const fs::path& cert) { return canonical_serial(field(cert, "-serial")); }

  // `openssl verify -crl_check` of `cert` up to the root, with its CA as intermediate.
  RunResult verify_with_crl(const fs::path& cert, const fs::path& ca, const fs::path& crl) const {
    return openssl({"verify", "-crl_check", "-CAfile", root_ca().string(), "-untrusted", ca.string(), "-CRLfile",
                    crl.string(), cert.string()});
  }

  RunResult ocsp(const fs::path& cert, const fs::path& issuer) const {
    return openssl({"ocsp", "-issuer", issuer.string(), "-cert", cert.string(), "-url", endpoints().ocsp_url, "-CAfile",
                    endpoints().chain, "-verify_other", issuer.string(), "-resp_text", "-timeout", "10"});
  }
};

TEST_F(MultiCaTest, AProfileIsIssuedByItsOwnCaWithThatCasUrls) {
  const fs::path iot = enroll_iot("iot-device-1");
  const fs::path plain = enroll_with_mac("plain-device-1");
  EXPECT_EQ(field(iot, "-issuer"), "CN=enrolld demo devices CA,O=enrolld demo");
  EXPECT_EQ(field(plain, "-issuer"), "CN=enrolld demo issuing CA,O=enrolld demo");

  RunResult chained =
      openssl({"verify", "-CAfile", root_ca().string(), "-untrusted", devices_ca().string(), iot.string()});
  EXPECT_TRUE(chained.ok()) << chained.describe();
  RunResult wrong_ca =
      openssl({"verify", "-CAfile", root_ca().string(), "-untrusted", issuing_ca().string(), iot.string()});
  EXPECT_FALSE(wrong_ca.ok()) << "the devices CA, not the first CA, signed it\n" << wrong_ca.describe();

  RunResult text = openssl(
      {"x509", "-in", iot.string(), "-noout", "-ext", "crlDistributionPoints,authorityInfoAccess,extendedKeyUsage"});
  EXPECT_TRUE(contains(text.out, "URI:" + value("IOT_CRL_URL"))) << text.describe();
  EXPECT_TRUE(contains(text.out, "CA Issuers - URI:" + endpoints().repo_url + "/devices.crt")) << text.describe();
  EXPECT_TRUE(contains(text.out, "TLS Web Client Authentication")) << text.describe();

  // The repository serves the devices CA certificate as its AIA says.
  const fs::path served = work() / "devices.crt";
  RunResult got =
      run({"curl", "-sS", "--fail", "-o", served.string(), endpoints().repo_url + "/devices.crt"}, kCommandTimeout);
  ASSERT_TRUE(got.ok()) << got.describe();
  RunResult same = openssl({"x509", "-inform", "DER", "-in", served.string(), "-noout", "-fingerprint", "-sha256"});
  RunResult expected = openssl({"x509", "-in", devices_ca().string(), "-noout", "-fingerprint", "-sha256"});
  EXPECT_EQ(same.out, expected.out);
}

// A revocation lands on the revoking CA's CRL and OCSP answers, not on the other's.
TEST_F(MultiCaTest, EachCaListsAndAnswersForItsOwnRevocationsOnly) {
  const fs::path iot = enroll_iot("iot-device-revoked");
  const fs::path plain = enroll_with_mac("plain-device-kept");
  RunResult revoked =
      demo().enrollctl({"revoke", serial_of(iot), "--reason", "keyCompromise", "--officer", "test-officer"});
  ASSERT_TRUE(revoked.ok()) << revoked.describe();
  std::this_thread::sleep_for(1100ms);  // a new CRL at most once a second

  const fs::path devices_crl = fetch_crl(value("IOT_CRL_URL"), "devices-crl");
  RunResult refused = verify_with_crl(iot, devices_ca(), devices_crl);
  EXPECT_FALSE(refused.ok());
  EXPECT_TRUE(contains(refused.both(), "certificate revoked")) << refused.describe();
  RunResult crl_issuer = openssl({"crl", "-in", devices_crl.string(), "-noout", "-issuer", "-nameopt", "RFC2253"});
  EXPECT_TRUE(contains(crl_issuer.out, "CN=enrolld demo devices CA")) << crl_issuer.describe();

  const fs::path issuing_crl = fetch_crl(endpoints().crl_url, "issuing-crl");
  RunResult listed = openssl({"crl", "-in", issuing_crl.string(), "-noout", "-text"});
  ASSERT_TRUE(listed.ok()) << listed.describe();
  EXPECT_FALSE(contains(lower(listed.out), serial_of(iot))) << "the first CA's CRL lists the devices CA's revocation";
  EXPECT_TRUE(verify_with_crl(plain, issuing_ca(), issuing_crl).ok());

  RunResult iot_status = ocsp(iot, devices_ca());
  ASSERT_TRUE(iot_status.ok()) << iot_status.describe();
  EXPECT_TRUE(contains(iot_status.both(), "Response verify OK")) << iot_status.describe();
  EXPECT_TRUE(contains(iot_status.out, iot.string() + ": revoked")) << iot_status.describe();
  // Signed by the devices CA itself (the demo gives it no delegated responder): the responder
  // is named by the hash of the key the request names as issuer key.
  auto after = [&](const std::string& label) {
    const auto at = iot_status.out.find(label);
    return at == std::string::npos ? std::string("?") : trim(iot_status.out.substr(at + label.size(), 40));
  };
  EXPECT_EQ(after("Responder Id: "), after("Issuer Key Hash: ")) << iot_status.describe();

  RunResult plain_status = ocsp(plain, issuing_ca());
  ASSERT_TRUE(plain_status.ok()) << plain_status.describe();
  EXPECT_TRUE(contains(plain_status.both(), "Response verify OK")) << plain_status.describe();
  EXPECT_TRUE(contains(plain_status.out, plain.string() + ": good")) << plain_status.describe();

  // The devices CA answers "unknown" for a certificate of the other CA, even with its serial.
  RunResult crossed = openssl({"ocsp", "-issuer", devices_ca().string(), "-serial", "0x" + serial_of(plain), "-url",
                               endpoints().ocsp_url, "-CAfile", endpoints().chain, "-verify_other",
                               devices_ca().string(), "-timeout", "10"});
  ASSERT_TRUE(crossed.ok()) << crossed.describe();
  EXPECT_TRUE(contains(crossed.out, ": unknown")) << crossed.describe();
}

// The devices CA's certificates and CRL reach the publishing directory under its name, and
// `enrollctl status` lists both CAs and their CRLs.
TEST_F(MultiCaTest, PublishingAndStatusNameEveryCa) {
  enroll_iot("iot-device-published");
  const fs::path www = endpoints().publish_dir;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!(fs::exists(www / "devices.crt") && fs::exists(www / "devices.crl")) &&
         std::chrono::steady_clock::now() < deadline) {
    RunResult crl = run({"curl", "-sS", "--fail", "-o", "/dev/null", value("IOT_CRL_URL")}, kCommandTimeout);
    EXPECT_TRUE(crl.ok()) << crl.describe();
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_TRUE(fs::exists(www / "devices.crt"));
  EXPECT_TRUE(fs::exists(www / "devices.crl"));
  EXPECT_FALSE(fs::exists(www / "devices-root.crt")) << "both CAs share the root: it is published once, as root.crt";

  RunResult status = demo().enrollctl({"status"});
  ASSERT_TRUE(status.ok()) << status.describe();
  EXPECT_TRUE(contains(status.out, "enrolld demo devices CA")) << status.describe();
  EXPECT_TRUE(contains(status.out, "enrolld demo issuing CA")) << status.describe();
  EXPECT_TRUE(contains(status.out, "devices")) << status.describe();
}

}  // namespace
}  // namespace enrolld::integration
