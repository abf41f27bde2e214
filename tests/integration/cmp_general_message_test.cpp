// genm/genp with the real clients: OpenSSL 3.5 (caCerts, rootCaCert) and Debian's 3.0
// (signKeyPairTypes). RFC 9483 4.3.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "demo.h"

namespace enrolld::integration {
namespace {

class CmpGeneralMessageTest : public DemoTest {
 protected:
  // Debian 13's openssl (3.5), fetched by tests/tools/fetch-openssl35.sh; scripts/test.sh passes it.
  static std::string openssl35() { return ENROLLD_OPENSSL35; }

  RunResult genm35(std::vector<std::string> extra) const {
    std::vector<std::string> args = {
        openssl35(),         "cmp",  "-cmd",          "genm",    "-server",
        endpoints().cmp_url, "-ref", endpoints().ref, "-secret", "pass:" + endpoints().secret};
    args.insert(args.end(), extra.begin(), extra.end());
    return run(std::move(args), kCommandTimeout);
  }

  static std::string read_text(const fs::path& file) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
};

TEST_F(CmpGeneralMessageTest, CaCertsReturnsTheIssuingCaAndTheRoot) {
  if (openssl35().empty()) GTEST_SKIP() << "ENROLLD_OPENSSL35 not configured (scripts/test.sh sets it)";
  const fs::path out = work() / "cacerts.pem";
  RunResult r = genm35({"-infotype", "caCerts", "-cacertsout", out.string()});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_TRUE(contains(r.both(), "received 2 CA certificate(s)")) << r.describe();
  // The same certificates as the demo's issuing CA chain, in the same order.
  RunResult got = openssl({"crl2pkcs7", "-nocrl", "-certfile", out.string()});
  RunResult want = openssl({"crl2pkcs7", "-nocrl", "-certfile", endpoints().chain});
  ASSERT_TRUE(got.ok() && want.ok()) << got.describe() << want.describe();
  EXPECT_EQ(got.out, want.out);
}

TEST_F(CmpGeneralMessageTest, RootCaCertSaysNoUpdateIsAvailable) {
  if (openssl35().empty()) GTEST_SKIP() << "ENROLLD_OPENSSL35 not configured (scripts/test.sh sets it)";
  const fs::path new_with_new = work() / "newwithnew.pem";
  RunResult r =
      genm35({"-infotype", "rootCaCert", "-oldwithold", endpoints().trust, "-newwithnew", new_with_new.string()});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_TRUE(contains(r.both(), "no root CA certificate update available")) << r.describe();
  EXPECT_FALSE(fs::exists(new_with_new));
}

TEST_F(CmpGeneralMessageTest, CertReqTemplateIsReadByOpenSsl35) {
  if (openssl35().empty()) GTEST_SKIP() << "ENROLLD_OPENSSL35 not configured (scripts/test.sh sets it)";
  const fs::path tmpl = work() / "template.der";
  const fs::path key_spec = work() / "keyspec.der";
  RunResult r = genm35({"-infotype", "certReqTemplate", "-template", tmpl.string(), "-keyspec", key_spec.string()});
  ASSERT_TRUE(r.ok()) << r.describe();
  ASSERT_TRUE(fs::exists(tmpl)) << r.describe();
  ASSERT_TRUE(fs::exists(key_spec)) << r.describe();
  EXPECT_TRUE(contains(r.both(), "Key algorithm: RSA 2048")) << "the client understood keySpec\n" << r.describe();
  RunResult keys = openssl({"asn1parse", "-inform", "DER", "-in", key_spec.string()});
  ASSERT_TRUE(keys.ok()) << keys.describe();
  EXPECT_TRUE(contains(keys.out, "prime256v1")) << keys.out;
  EXPECT_TRUE(contains(keys.out, "secp384r1")) << keys.out;
  EXPECT_TRUE(contains(keys.out, "INTEGER           :0800")) << "rsaKeyLen 2048\n" << keys.out;
}

TEST_F(CmpGeneralMessageTest, SignKeyPairTypesAnsweredToDebiansClient) {
  RunResult r = openssl({"cmp", "-cmd", "genm", "-infotype", "signKeyPairTypes", "-server", endpoints().cmp_url, "-ref",
                         endpoints().ref, "-secret", "pass:" + endpoints().secret});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_TRUE(contains(r.both(), "genp contains ITAV of type: id-it-signKeyPairTypes")) << r.describe();
}

TEST_F(CmpGeneralMessageTest, GenmWithAWrongSecretIsRefused) {
  RunResult r = openssl({"cmp", "-cmd", "genm", "-infotype", "signKeyPairTypes", "-server", endpoints().cmp_url, "-ref",
                         endpoints().ref, "-secret", "pass:wrong", "-unprotected_errors"});
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.both(), "badMessageCheck")) << r.describe();
}

}  // namespace
}  // namespace enrolld::integration

// RFC 9483 4.1.6 with OpenSSL 3.5's client (-centralkeygen): enrolld generates the key pair,
// signs the key package as key generation authority and encrypts it to the requester: to its
// shared secret (password recipient) or to its signing certificate (key agreement, EC).
namespace enrolld::integration {
namespace {

class CmpCentralKeygenTest : public CmpGeneralMessageTest {
 protected:
  RunResult central(const std::string& subject, std::vector<std::string> protection,
                    std::vector<std::string> extra = {}) const {
    std::vector<std::string> args = {openssl35(),
                                     "cmp",
                                     "-cmd",
                                     "ir",
                                     "-server",
                                     endpoints().cmp_url,
                                     "-trusted",
                                     endpoints().trust,
                                     "-centralkeygen",
                                     "-subject",
                                     "/CN=" + subject,
                                     "-newkeyout",
                                     (work() / (subject + ".key")).string(),
                                     "-certout",
                                     (work() / (subject + ".pem")).string()};
    args.insert(args.end(), protection.begin(), protection.end());
    args.insert(args.end(), extra.begin(), extra.end());
    return run(std::move(args), kCommandTimeout);
  }
  std::vector<std::string> mac() const { return {"-ref", endpoints().ref, "-secret", "pass:" + endpoints().secret}; }
};

TEST_F(CmpCentralKeygenTest, WithASharedSecretTheKeyComesBackForTheCertificate) {
  if (openssl35().empty()) GTEST_SKIP() << "ENROLLD_OPENSSL35 not configured (scripts/test.sh sets it)";
  RunResult r = central("central-mac", mac());
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_FALSE(
      expect_properly_issued(demo(), work() / "central-mac.pem", work() / "central-mac.key", "CN=central-mac").empty());
}

TEST_F(CmpCentralKeygenTest, SignedWithAFactoryCertificateTheKeyIsEncryptedToThatCertificate) {
  if (openssl35().empty()) GTEST_SKIP() << "ENROLLD_OPENSSL35 not configured (scripts/test.sh sets it)";
  RunResult r = central("central-signed", {"-cert", endpoints().client_cert, "-key", endpoints().client_key});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_FALSE(
      expect_properly_issued(demo(), work() / "central-signed.pem", work() / "central-signed.key", "CN=central-signed")
          .empty());
}

TEST_F(CmpCentralKeygenTest, AKeyTypeTheProfileDoesNotAcceptIsBadAlg) {
  if (openssl35().empty()) GTEST_SKIP() << "ENROLLD_OPENSSL35 not configured (scripts/test.sh sets it)";
  const fs::path ed = work() / "ed25519.key";
  ASSERT_TRUE(openssl({"genpkey", "-algorithm", "ed25519", "-out", ed.string()}).ok());
  RunResult r = central("central-ed25519", mac(), {"-newkey", ed.string()});
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.both(), "badAlg")) << r.describe();
}

}  // namespace
}  // namespace enrolld::integration

// RFC 9483 4.3.2 after a real rollover: `enrollctl ca rollover-root` makes a new root key in
// SoftHSM and the transition certificates, [ca] root_update announces them, and OpenSSL 3.5's
// client receives exactly those for the root it trusts (and nothing for another root).
namespace enrolld::integration {
namespace {

class CmpRootUpdateTest : public CmpGeneralMessageTest {
 protected:
  static std::string fingerprint(const fs::path& cert) {
    RunResult r = openssl({"x509", "-in", cert.string(), "-noout", "-fingerprint", "-sha256"});
    EXPECT_TRUE(r.ok()) << r.describe();
    return r.out;
  }
};

TEST_F(CmpRootUpdateTest, AnOperatorsRolloverReachesOpenSsl35) {
  if (openssl35().empty()) GTEST_SKIP() << "ENROLLD_OPENSSL35 not configured (scripts/test.sh sets it)";
  const fs::path before = work() / "before.pem";
  RunResult none =
      genm35({"-infotype", "rootCaCert", "-oldwithold", endpoints().trust, "-newwithnew", before.string()});
  ASSERT_TRUE(none.ok()) << none.describe();
  EXPECT_FALSE(fs::exists(before)) << "no update is under way yet";

  const fs::path rollover = demo().dir() / "rollover";
  RunResult rolled = demo().enrollctl({"ca", "rollover-root", "--root-key",
                                       "pkcs11:token=enrolld-demo;object=root-ca?pin-source=file:hsm-user-pin",
                                       "--new-key", "root-ca-2", "--out", rollover.string()});
  ASSERT_TRUE(rolled.ok()) << rolled.describe();
  EXPECT_TRUE(contains(rolled.out, "root_update = ")) << rolled.describe();
  RunResult again = demo().enrollctl({"ca", "rollover-root", "--root-key",
                                      "pkcs11:token=enrolld-demo;object=root-ca?pin-source=file:hsm-user-pin",
                                      "--new-key", "issuing-ca", "--out", (work() / "x").string()});
  EXPECT_FALSE(again.ok()) << "a label in use (here the issuing CA's key) must not become a root key";
  EXPECT_TRUE(contains(again.err, "exists already")) << again.describe();
  std::string config = read_text(demo().config());
  config.insert(config.find("[ca]\n") + 5, "root_update = \"rollover\"\n");
  {
    std::ofstream out(demo().config(), std::ios::trunc);
    out << config;
  }
  stop_demo_expecting_success(demo());
  ASSERT_EQ(demo().start(), "");

  const fs::path nwn = work() / "nwn.pem", nwo = work() / "nwo.pem", own = work() / "own.pem";
  RunResult update = genm35({"-infotype", "rootCaCert", "-oldwithold", endpoints().trust, "-newwithnew", nwn.string(),
                             "-newwithold", nwo.string(), "-oldwithnew", own.string()});
  ASSERT_TRUE(update.ok()) << update.describe();
  EXPECT_EQ(fingerprint(nwn), fingerprint(rollover / "new-with-new.pem"));
  EXPECT_EQ(fingerprint(nwo), fingerprint(rollover / "new-with-old.pem"));
  EXPECT_EQ(fingerprint(own), fingerprint(rollover / "old-with-new.pem"));

  const fs::path other = work() / "other.pem";
  RunResult for_another =
      genm35({"-infotype", "rootCaCert", "-oldwithold", (demo().dir() / "vendor" / "manufacturer-ca.pem").string(),
              "-newwithnew", other.string()});
  ASSERT_TRUE(for_another.ok()) << for_another.describe();
  EXPECT_FALSE(fs::exists(other)) << "an update of our root is no update of another";
}

}  // namespace
}  // namespace enrolld::integration
