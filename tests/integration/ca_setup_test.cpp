// The CA hierarchy with enrollctl on a fresh SoftHSM token, checked with openssl: a root and an
// intermediate whose keys are made in the HSM; and the "under an existing root" path: a CSR for
// an HSM key, signed by an outside CA with openssl, imported (refused when it does not fit),
// then used by enrolld to issue a certificate that validates up to the outside root.
#include <fstream>

#include <gtest/gtest.h>

#include "demo.h"
#include "support/temp_dir.h"

namespace enrolld::integration {
namespace {

class CaSetupTest : public ::testing::Test {
 protected:
  CaSetupTest() {
    fs::create_directories(m_dir.path() / "tokens");
    std::ofstream(conf()) << "directories.tokendir = " << (m_dir.path() / "tokens").string()
                          << "\nobjectstore.backend = file\nlog.level = ERROR\n";
    std::ofstream(pin_file()) << "1234-user-pin\n";
    std::ofstream(so_pin_file()) << "5678-so-pin\n";
  }

  fs::path path(const std::string& name) const { return m_dir.path() / name; }
  fs::path conf() const { return path("softhsm2.conf"); }
  fs::path pin_file() const { return path("user-pin"); }
  fs::path so_pin_file() const { return path("so-pin"); }
  std::string key_uri(const std::string& label) const {
    return "pkcs11:token=ca-setup;object=" + label + "?pin-source=file:" + pin_file().string();
  }

  // enrollctl with this test's SoftHSM configuration and no enrolld config (there is none yet).
  RunResult enrollctl(std::vector<std::string> args) const {
    std::vector<std::string> argv{"env", "SOFTHSM2_CONF=" + conf().string(), ENROLLCTL_BIN, "--config",
                                  path("none.toml").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(std::move(argv), kCommandTimeout);
  }

  RunResult init_root() const {
    return enrollctl({"ca", "init", "--key", key_uri("root"), "--so-pin-file", so_pin_file().string(), "--subject",
                      "/O=Setup Test/CN=Setup Root CA", "--out", path("root.pem").string()});
  }

  testing::TempDir m_dir{"enrolld-ca-setup"};
};

TEST_F(CaSetupTest, ARootAndAnIntermediateWithTheirKeysInTheHsm) {
  RunResult root = init_root();
  ASSERT_TRUE(root.ok()) << root.describe();
  RunResult self = openssl({"verify", "-CAfile", path("root.pem").string(), path("root.pem").string()});
  EXPECT_TRUE(self.ok()) << self.describe();
  RunResult text = openssl({"x509", "-in", path("root.pem").string(), "-noout", "-text"});
  EXPECT_TRUE(contains(text.out, "CA:TRUE")) << text.out;
  EXPECT_TRUE(contains(text.out, "Certificate Sign, CRL Sign")) << text.out;

  RunResult again = init_root();
  EXPECT_FALSE(again.ok()) << "a key label in use is never taken over";
  EXPECT_TRUE(contains(again.err, "exists already")) << again.describe();

  RunResult intermediate =
      enrollctl({"ca", "create-intermediate", "--root-key", key_uri("root"), "--root-cert", path("root.pem").string(),
                 "--label", "issuing", "--subject", "/O=Setup Test/CN=Setup Issuing CA", "--path-length", "0", "--out",
                 path("issuing.pem").string()});
  ASSERT_TRUE(intermediate.ok()) << intermediate.describe();
  RunResult chained = openssl({"verify", "-CAfile", path("root.pem").string(), path("issuing.pem").string()});
  EXPECT_TRUE(chained.ok()) << chained.describe();
  RunResult issuing_text = openssl({"x509", "-in", path("issuing.pem").string(), "-noout", "-text"});
  EXPECT_TRUE(contains(issuing_text.out, "CA:TRUE, pathlen:0")) << issuing_text.out;

  RunResult wrong_root =
      enrollctl({"ca", "create-intermediate", "--root-key", key_uri("issuing"), "--root-cert",
                 path("root.pem").string(), "--label", "other", "--subject", "/CN=x", "--out", path("x.pem").string()});
  EXPECT_FALSE(wrong_root.ok());
  EXPECT_TRUE(contains(wrong_root.err, "is not the key of the root certificate")) << wrong_root.describe();
}

// An outside root (a software key, as another organisation's CA would be) signs enrolld's CSR.
TEST_F(CaSetupTest, AnIssuingCaUnderAnOutsideRootIsImportedAndIssues) {
  ASSERT_TRUE(init_root().ok());  // makes the token; its root is not used below
  RunResult csr = enrollctl({"ca", "csr", "--key", key_uri("issuing"), "--subject", "/O=Setup Test/CN=Under Outside",
                             "--out", path("issuing.csr").string()});
  ASSERT_TRUE(csr.ok()) << csr.describe();
  RunResult reused = enrollctl(
      {"ca", "csr", "--key", key_uri("root"), "--subject", "/CN=Not The Root", "--out", path("root.csr").string()});
  EXPECT_FALSE(reused.ok()) << "a CSR never reuses a key that exists (it may be the root's)";
  EXPECT_TRUE(contains(reused.err, "exists already")) << reused.describe();
  RunResult verified = openssl({"req", "-in", path("issuing.csr").string(), "-noout", "-verify"});
  EXPECT_TRUE(contains(verified.both(), "verify OK")) << verified.describe();

  RunResult outside =
      openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
               path("outside.key").string(), "-out", path("outside.pem").string(), "-subj",
               "/O=Outside/CN=Outside Root", "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
               "keyUsage=critical,keyCertSign,cRLSign"});
  ASSERT_TRUE(outside.ok()) << outside.describe();
  auto sign = [&](const std::string& out, bool as_ca) {
    std::vector<std::string> args{"x509",   "-req",
                                  "-in",    path("issuing.csr").string(),
                                  "-CA",    path("outside.pem").string(),
                                  "-CAkey", path("outside.key").string(),
                                  "-days",  "30",
                                  "-out",   path(out).string()};
    if (as_ca) args.insert(args.end(), {"-copy_extensions", "copy"});
    return openssl(args);
  };
  ASSERT_TRUE(sign("issued.pem", true).ok());
  ASSERT_TRUE(sign("not-a-ca.pem", false).ok());
  // keyCertSign but no basicConstraints: RFC 5280 4.2.1.9 says it is no CA.
  const fs::path ext = path("ku-only.ext");
  std::ofstream(ext) << "keyUsage = critical,keyCertSign,cRLSign\n";
  ASSERT_TRUE(openssl({"x509", "-req", "-in", path("issuing.csr").string(), "-CA", path("outside.pem").string(),
                       "-CAkey", path("outside.key").string(), "-days", "30", "-extfile", ext.string(), "-out",
                       path("ku-only.pem").string()})
                  .ok());

  auto import = [&](const std::string& cert, const std::string& chain) {
    return enrollctl({"ca", "import", "--key", key_uri("issuing"), "--cert", path(cert).string(), "--chain",
                      path(chain).string(), "--out", path("installed").string()});
  };
  RunResult not_ca = import("not-a-ca.pem", "outside.pem");
  EXPECT_FALSE(not_ca.ok());
  EXPECT_TRUE(contains(not_ca.err, "not a CA certificate")) << not_ca.describe();
  RunResult ku_only = import("ku-only.pem", "outside.pem");
  EXPECT_FALSE(ku_only.ok());
  EXPECT_TRUE(contains(ku_only.err, "not a CA certificate")) << ku_only.describe();
  RunResult wrong_chain = import("issued.pem", "root.pem");
  EXPECT_FALSE(wrong_chain.ok());
  EXPECT_TRUE(contains(wrong_chain.err, "does not validate")) << wrong_chain.describe();
  RunResult wrong_key = import("root.pem", "root.pem");
  EXPECT_FALSE(wrong_key.ok());
  EXPECT_TRUE(contains(wrong_key.err, "not for the CA key")) << wrong_key.describe();
  EXPECT_FALSE(fs::exists(path("installed") / "issuing.pem")) << "nothing is installed from a refusal";

  RunResult imported = import("issued.pem", "outside.pem");
  ASSERT_TRUE(imported.ok()) << imported.describe();

  // enrolld itself on the imported CA: offline CMP through the same handler as the daemon's.
  const fs::path config = path("enrolld.toml");
  std::ofstream(config) << "[store]\npath = \"db\"\n[hsm]\nsofthsm2_conf = \"" << conf().string() << "\"\n"
                        << "[ca]\ncertificate = \"installed/issuing.pem\"\nchain = \"installed/chain.pem\"\n"
                        << "key = \"" << key_uri("issuing") << "\"\n"
                        << "[[cmp.credential]]\nreference = \"setup\"\nsecret = \"setup-secret-1\"\n";
  const fs::path dummy = path("dummy.der");
  std::ofstream(dummy) << "x";
  RunResult key = openssl({"ecparam", "-genkey", "-name", "prime256v1", "-out", path("device.key").string()});
  ASSERT_TRUE(key.ok());
  RunResult recorded =
      openssl({"cmp", "-cmd", "ir", "-server", "127.0.0.1:1", "-ref", "setup", "-secret", "pass:setup-secret-1",
               "-newkey", path("device.key").string(), "-subject", "/CN=under-outside", "-certout",
               path("unused.pem").string(), "-reqout", path("ir.der").string(), "-rspin", dummy.string()});
  ASSERT_TRUE(fs::exists(path("ir.der"))) << recorded.describe();
  RunResult processed = run({ENROLLCTL_BIN, "--config", config.string(), "cmp", "process", "--in",
                             path("ir.der").string(), "--out", path("ip.der").string()},
                            kCommandTimeout);
  ASSERT_TRUE(processed.ok()) << processed.describe();
  RunResult list = run({ENROLLCTL_BIN, "--config", config.string(), "cert", "list"}, kCommandTimeout);
  ASSERT_TRUE(list.ok()) << list.describe();
  std::string serial;
  for (const auto& line : lines_of(list.out)) {
    if (contains(line, "CN=under-outside")) serial = line.substr(0, line.find(' '));
  }
  ASSERT_FALSE(serial.empty()) << list.out;
  RunResult shown = run({ENROLLCTL_BIN, "--config", config.string(), "cert", "show", serial}, kCommandTimeout);
  ASSERT_TRUE(shown.ok()) << shown.describe();
  std::ofstream(path("device.pem")) << shown.out;
  RunResult chain = openssl({"verify", "-CAfile", path("outside.pem").string(), "-untrusted",
                             path("installed/issuing.pem").string(), path("device.pem").string()});
  EXPECT_TRUE(chain.ok()) << chain.describe();
}

}  // namespace
}  // namespace enrolld::integration
