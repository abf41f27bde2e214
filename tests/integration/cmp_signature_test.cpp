// Signature-protected CMP with Debian's openssl cmp: a factory (vendor) certificate enrolls,
// the enrolled certificate updates its key (kur) and revokes itself; replies are signed by the
// issuing CA key in SoftHSM and checked by the client against CMP_TRUST.
#include <gtest/gtest.h>

#include "demo.h"

namespace enrolld::integration {
namespace {

class CmpSignatureTest : public DemoTest {
 protected:
  // openssl cmp, signing with `cert`/`key`, trusting enrolld's root for the replies.
  RunResult signed_cmp(const std::string& command, const fs::path& cert, const fs::path& key,
                       std::vector<std::string> extra) const {
    std::vector<std::string> args = {
        "cmp",         "-cmd", command,      "-server",  endpoints().cmp_url, "-cert",
        cert.string(), "-key", key.string(), "-trusted", endpoints().trust,   "-unprotected_errors"};
    args.insert(args.end(), extra.begin(), extra.end());
    return openssl(std::move(args));
  }

  // A certificate enrolled with the vendor's factory certificate.
  fs::path enroll_with_vendor_certificate(const std::string& subject, const fs::path& key) const {
    const fs::path cert = work() / (subject + ".pem");
    RunResult r = signed_cmp("ir", endpoints().client_cert, endpoints().client_key,
                             {"-newkey", key.string(), "-subject", "/CN=" + subject, "-certout", cert.string()});
    EXPECT_TRUE(r.ok()) << r.describe();
    return cert;
  }
};

TEST_F(CmpSignatureTest, FactoryCertificateEnrollsAndRepliesAreSignedByTheCa) {
  const fs::path key = make_ec_key("signed.key");
  const fs::path cert = enroll_with_vendor_certificate("vendor-signed", key);
  EXPECT_FALSE(expect_properly_issued(demo(), cert, key, "CN=vendor-signed").empty());
}

TEST_F(CmpSignatureTest, KeyUpdateKeepsTheSubjectWithANewKey) {
  const fs::path key = make_ec_key("old.key");
  const fs::path old_cert = enroll_with_vendor_certificate("to-update", key);
  const fs::path new_key = make_ec_key("new.key");
  const fs::path new_cert = work() / "updated.pem";
  RunResult r = signed_cmp("kur", old_cert, key, {"-newkey", new_key.string(), "-certout", new_cert.string()});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_TRUE(contains(r.both(), "received KUP")) << r.describe();
  EXPECT_FALSE(expect_properly_issued(demo(), new_cert, new_key, "CN=to-update").empty());

  RunResult same_key =
      signed_cmp("kur", new_cert, new_key, {"-newkey", new_key.string(), "-certout", (work() / "x.pem").string()});
  EXPECT_FALSE(same_key.ok());
  EXPECT_TRUE(contains(same_key.both(), "badCertTemplate")) << same_key.describe();
}

// RFC 9483 5.2.3.2: the RA checked the device's proof of possession, signs the ir itself and
// says raVerified (openssl cmp -popo 0). Only the RA the config names may.
TEST_F(CmpSignatureTest, RaVerifiedFromTheAuthorizedRaIsIssuedForTheDevicesKey) {
  const fs::path key = make_ec_key("behind-ra.key");
  const fs::path cert = work() / "behind-ra.pem";
  RunResult r =
      signed_cmp("ir", endpoints().ra_cert, endpoints().ra_key,
                 {"-newkey", key.string(), "-subject", "/CN=behind-ra", "-popo", "0", "-certout", cert.string()});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_FALSE(expect_properly_issued(demo(), cert, key, "CN=behind-ra").empty());
}

TEST_F(CmpSignatureTest, RaVerifiedFromADeviceIsBadPop) {
  const fs::path key = make_ec_key("claims.key");
  RunResult r = signed_cmp(
      "ir", endpoints().client_cert, endpoints().client_key,
      {"-newkey", key.string(), "-subject", "/CN=claims-ra", "-popo", "0", "-certout", (work() / "x.pem").string()});
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.both(), "badPOP")) << r.describe();
  EXPECT_TRUE(contains(demo().log(), "raVerified proof of possession is accepted only from an authorized RA"));
}

TEST_F(CmpSignatureTest, OnlyTheCertificateToUpdateMaySignAKeyUpdate) {
  const fs::path new_key = make_ec_key("new.key");
  RunResult r = signed_cmp("kur", endpoints().client_cert, endpoints().client_key,
                           {"-newkey", new_key.string(), "-certout", (work() / "x.pem").string()});
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.both(), "notAuthorized")) << r.describe();
}

TEST_F(CmpSignatureTest, ACertificateRevokesItselfAndCannotSignAnymore) {
  const fs::path key = make_ec_key("self.key");
  const fs::path cert = enroll_with_vendor_certificate("self-revoking", key);
  RunResult rr = signed_cmp("rr", cert, key, {"-oldcert", cert.string(), "-revreason", "4"});
  ASSERT_TRUE(rr.ok()) << rr.describe();
  EXPECT_TRUE(contains(rr.both(), "revocation accepted")) << rr.describe();

  const fs::path new_key = make_ec_key("after.key");
  RunResult kur = signed_cmp("kur", cert, key, {"-newkey", new_key.string(), "-certout", (work() / "x.pem").string()});
  EXPECT_FALSE(kur.ok());
  EXPECT_TRUE(contains(kur.both(), "certRevoked")) << kur.describe();
}

TEST_F(CmpSignatureTest, AnUntrustedSignerIsRefused) {
  // A certificate from a CA that no configured anchor vouches for.
  const fs::path ca_key = make_ec_key("rogue-ca.key");
  const fs::path ca = work() / "rogue-ca.pem";
  const fs::path key = make_ec_key("rogue.key");
  const fs::path csr = make_csr(key, "/CN=rogue", "rogue.csr");
  const fs::path rogue = work() / "rogue.pem";
  RunResult made_ca = openssl(
      {"req", "-new", "-x509", "-key", ca_key.string(), "-subj", "/CN=rogue CA", "-days", "1", "-out", ca.string()});
  RunResult made = openssl({"x509", "-req", "-in", csr.string(), "-CA", ca.string(), "-CAkey", ca_key.string(),
                            "-set_serial", "7", "-days", "1", "-out", rogue.string()});
  ASSERT_TRUE(made_ca.ok() && made.ok()) << made_ca.describe() << made.describe();
  const fs::path new_key = make_ec_key("new.key");
  RunResult r =
      signed_cmp("ir", rogue, key,
                 {"-newkey", new_key.string(), "-subject", "/CN=rogue", "-certout", (work() / "x.pem").string()});
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.both(), "signerNotTrusted")) << r.describe();
}

}  // namespace
}  // namespace enrolld::integration
