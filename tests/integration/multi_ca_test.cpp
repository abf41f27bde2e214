// Two issuing CAs in one appliance (the demo's [ca] "issuing" and [[issuing_ca]] "devices",
// both under the demo root): a profile picks its CA, and each CA's revocations reach its own
// CRL and OCSP answers only. Seen with the relying parties' and devices' tools: openssl verify,
// openssl ocsp, openssl cmp (kur, genm crlStatusList with OpenSSL 3.5), curl against the
// repository and EST.
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "est_client.h"

namespace enrolld::integration {
namespace {

class MultiCaTest : public EstTest {
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
    const fs::path key = make_ec_key(key_of(name).filename().string());
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

  // enroll_iot's key for `name`, beside its certificate.
  fs::path key_of(const std::string& name) const { return work() / (name + ".key"); }

  // The subjects of a certificate bag, as `openssl pkcs7 -print_certs` names them.
  std::vector<std::string> subjects_in_bag(const std::string& base64_body, const std::string& name) const {
    const fs::path first = work() / (name + ".pem");
    EXPECT_GT(certificates_in(base64_body, first), 0) << base64_body;
    std::vector<std::string> subjects;
    for (const auto& line : lines_of(read_text(fs::path(first).replace_extension().concat(".p7-certs.pem")))) {
      if (line.rfind("subject=", 0) == 0) subjects.push_back(line);
    }
    return subjects;
  }

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

// A devices-CA certificate signs its own key update: the appliance trusts the certificates of
// every CA it runs, and the new certificate comes from the same CA.
TEST_F(MultiCaTest, ADevicesCaCertificateUpdatesItsKeyUnderTheDevicesCa) {
  const fs::path old_cert = enroll_iot("iot-device-kur");
  const fs::path key = key_of("iot-device-kur");
  const fs::path new_key = make_ec_key("iot-device-kur-new.key");
  const fs::path new_cert = work() / "iot-device-kur-new.pem";
  RunResult r = openssl({"cmp", "-cmd", "kur", "-server", value("IOT_CMP_URL"), "-cert", old_cert.string(), "-key",
                         key.string(), "-trusted", endpoints().trust, "-unprotected_errors", "-newkey",
                         new_key.string(), "-certout", new_cert.string()});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_TRUE(contains(r.both(), "received KUP")) << r.describe();
  EXPECT_EQ(field(new_cert, "-issuer"), "CN=enrolld demo devices CA,O=enrolld demo");
  EXPECT_EQ(field(new_cert, "-subject"), "CN=iot-device-kur");
  RunResult chained =
      openssl({"verify", "-CAfile", root_ca().string(), "-untrusted", devices_ca().string(), new_cert.string()});
  EXPECT_TRUE(chained.ok()) << chained.describe();
  EXPECT_NE(serial_of(new_cert), serial_of(old_cert));
}

// RFC 9483 4.3.4 with OpenSSL 3.5's client: a crlStatusList naming a devices-CA certificate is
// answered with the devices CA's CRL, which lists that CA's revocation.
TEST_F(MultiCaTest, CrlStatusListForADevicesCertificateGetsTheDevicesCrl) {
  const std::string openssl35 = ENROLLD_OPENSSL35;
  if (openssl35.empty()) GTEST_SKIP() << "ENROLLD_OPENSSL35 not configured (scripts/test.sh sets it)";
  const fs::path revoked = enroll_iot("iot-device-on-crl");
  RunResult revoking =
      demo().enrollctl({"revoke", serial_of(revoked), "--reason", "superseded", "--officer", "test-officer"});
  ASSERT_TRUE(revoking.ok()) << revoking.describe();
  std::this_thread::sleep_for(1100ms);  // a new CRL at most once a second

  const fs::path crl = work() / "devices-genm.crl";
  RunResult got = run({openssl35, "cmp", "-cmd", "genm", "-server", endpoints().cmp_url, "-ref", endpoints().ref,
                       "-secret", "pass:" + endpoints().secret, "-infotype", "crlStatusList", "-crlcert",
                       revoked.string(), "-crlout", crl.string()},
                      kCommandTimeout);
  ASSERT_TRUE(got.ok()) << got.describe();
  ASSERT_TRUE(fs::exists(crl)) << got.describe();
  RunResult issuer =
      openssl({"crl", "-inform", "DER", "-in", crl.string(), "-noout", "-issuer", "-nameopt", "RFC2253"});
  EXPECT_EQ(trim(issuer.out), "issuer=CN=enrolld demo devices CA,O=enrolld demo") << issuer.describe();
  RunResult listed = openssl({"crl", "-inform", "DER", "-in", crl.string(), "-noout", "-text"});
  EXPECT_TRUE(contains(lower(listed.out), serial_of(revoked))) << listed.describe();
  RunResult verified =
      openssl({"crl", "-inform", "DER", "-in", crl.string(), "-noout", "-CAfile", devices_ca().string()});
  EXPECT_TRUE(contains(verified.both(), "verify OK")) << verified.describe();
}

// EST cacerts under the label of a devices-CA profile carries the devices CA and the root; the
// default label keeps the first CA.
TEST_F(MultiCaTest, EstCacertsOfTheIotLabelCarryTheDevicesCa) {
  auto names = [](const std::vector<std::string>& subjects, const char* common_name) {
    const std::string line = std::string("subject=O = enrolld demo, CN = ") + common_name;
    return std::find(subjects.begin(), subjects.end(), line) != subjects.end();
  };
  HttpReply iot = curl(est_url("cacerts", "iot"), {});
  ASSERT_EQ(iot.status, 200) << iot.describe();
  const auto iot_subjects = subjects_in_bag(iot.body, "cacerts-iot");
  EXPECT_EQ(iot_subjects.size(), 2u);
  EXPECT_TRUE(names(iot_subjects, "enrolld demo devices CA"));
  EXPECT_TRUE(names(iot_subjects, "enrolld demo root CA"));

  HttpReply first = curl(est_url("cacerts"), {});
  ASSERT_EQ(first.status, 200) << first.describe();
  const auto first_subjects = subjects_in_bag(first.body, "cacerts-default");
  EXPECT_TRUE(names(first_subjects, "enrolld demo issuing CA"));
  EXPECT_FALSE(names(first_subjects, "enrolld demo devices CA"));
}

}  // namespace
}  // namespace enrolld::integration
