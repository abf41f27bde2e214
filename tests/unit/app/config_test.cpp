#include "app/config.h"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "app/core.h"
#include "support/temp_dir.h"

namespace enrolld::app {
namespace {

namespace fs = std::filesystem;
using enrolld::testing::TempDir;
using ::testing::HasSubstr;

// Every key the schema knows, none at its default value.
constexpr const char* kCompleteConfig = R"(# a complete configuration
[server]
listen = "0.0.0.0"
http_port = 8443
threads = 4
max_body_bytes = 131072

[log]
level = "debug"

[store]
path = "data/db"

[hsm]
module = "/opt/hsm/libvendor.so"
softhsm2_conf = "softhsm2.conf"

[ca]
certificate = "ca/issuing.pem"
chain = "/etc/enrolld/root.pem"
key = "pkcs11:token=enrolld;object=issuing?pin-source=file:hsm-user-pin"
validity_days = 730

[cmp]
grant_implicit_confirm = false
confirm_wait_seconds = 600
pbm_min_iterations = 1000
pbm_max_iterations = 200000

[[cmp.credential]]
reference = "device-1"
secret = "s3cr3t-value-1"

[[cmp.credential]]
reference = "device-2"
secret = "12345678"
)";

// Only the required keys.
constexpr const char* kMinimalConfig = R"([store]
path = "db"
[ca]
certificate = "ca.pem"
key = "pkcs11:object=ca"
)";

// 1-based number of the first line of `text` that contains `needle`.
int line_of(const std::string& text, const std::string& needle) {
  const auto pos = text.find(needle);
  if (pos == std::string::npos) ADD_FAILURE() << "'" << needle << "' not in the config text";
  int line = 1;
  for (std::size_t i = 0; i < pos && i < text.size(); ++i) line += text[i] == '\n' ? 1 : 0;
  return line;
}

class ConfigTest : public ::testing::Test {
 protected:
  fs::path write(const std::string& text, const std::string& name = "enrolld.toml") {
    const fs::path file = m_dir.path() / name;
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    EXPECT_TRUE(out.good()) << file;
    m_text = text;
    m_file = file;
    return file;
  }

  Result<Config> load(const std::string& text) { return load_config(write(text)); }

  std::string file_name() const { return fs::absolute(m_file).string(); }
  // "FILE:LINE:" for the line of the config text holding `needle`.
  std::string at(const std::string& needle) const {
    return file_name() + ":" + std::to_string(line_of(m_text, needle)) + ":";
  }

  // Loads `text`, expects kConfigInvalid naming the file and line of `line_needle` and `key`.
  void expect_invalid(const std::string& text, const std::string& line_needle, const std::string& key) {
    auto config = load(text);
    ASSERT_FALSE(config.has_value()) << "accepted:\n" << text;
    EXPECT_EQ(config.error().code, ErrorCode::kConfigInvalid);
    EXPECT_THAT(config.error().message, HasSubstr(at(line_needle)));
    EXPECT_THAT(config.error().message, HasSubstr(key));
  }

  // A valid minimal config with `extra` appended (and so on its own, known lines).
  static std::string minimal_plus(const std::string& extra) { return std::string(kMinimalConfig) + extra; }

  TempDir m_dir{"enrolld-config-test"};
  std::string m_text;
  fs::path m_file;
};

TEST_F(ConfigTest, CompleteFileReadsEveryValue) {
  auto config = load(kCompleteConfig);
  ASSERT_TRUE(config.has_value()) << config.error().message;
  const fs::path dir = m_dir.path();
  EXPECT_EQ(config->file, dir / "enrolld.toml");
  EXPECT_EQ(config->listen, "0.0.0.0");
  EXPECT_EQ(config->http_port, 8443);
  EXPECT_EQ(config->threads, 4u);
  EXPECT_EQ(config->max_body_bytes, 131072u);
  EXPECT_EQ(config->log_level, "debug");
  EXPECT_EQ(config->store_path, dir / "data/db");
  EXPECT_EQ(config->hsm_module, "/opt/hsm/libvendor.so");
  ASSERT_TRUE(config->softhsm2_conf.has_value());
  EXPECT_EQ(*config->softhsm2_conf, dir / "softhsm2.conf");
  EXPECT_EQ(config->ca_certificate, dir / "ca/issuing.pem");
  ASSERT_TRUE(config->ca_chain.has_value());
  EXPECT_EQ(*config->ca_chain, fs::path("/etc/enrolld/root.pem"));  // absolute stays as written
  EXPECT_EQ(config->ca_key, "pkcs11:token=enrolld;object=issuing?pin-source=file:hsm-user-pin");
  EXPECT_EQ(config->validity_days, 730u);
  EXPECT_FALSE(config->grant_implicit_confirm);
  EXPECT_EQ(config->confirm_wait_seconds, 600u);
  EXPECT_EQ(config->pbm.min_iterations, 1000u);
  EXPECT_EQ(config->pbm.max_iterations, 200000u);
  ASSERT_EQ(config->credentials.size(), 2u);
  EXPECT_EQ(config->credentials[0].reference, "device-1");
  EXPECT_EQ(config->credentials[0].secret, "s3cr3t-value-1");
  EXPECT_EQ(config->credentials[1].reference, "device-2");
  EXPECT_EQ(config->credentials[1].secret, "12345678");  // 8 characters: the minimum
}

TEST_F(ConfigTest, MinimalFileGetsDefaults) {
  auto config = load(kMinimalConfig);
  ASSERT_TRUE(config.has_value()) << config.error().message;
  const Config defaults;
  EXPECT_EQ(config->store_path, m_dir.path() / "db");
  EXPECT_EQ(config->ca_certificate, m_dir.path() / "ca.pem");
  EXPECT_EQ(config->ca_key, "pkcs11:object=ca");
  EXPECT_EQ(config->listen, defaults.listen);
  EXPECT_EQ(config->http_port, defaults.http_port);
  EXPECT_EQ(config->threads, defaults.threads);
  EXPECT_EQ(config->max_body_bytes, defaults.max_body_bytes);
  EXPECT_EQ(config->log_level, "info");
  EXPECT_EQ(config->hsm_module, defaults.hsm_module);
  EXPECT_FALSE(config->softhsm2_conf.has_value());
  EXPECT_FALSE(config->ca_chain.has_value());
  EXPECT_EQ(config->validity_days, defaults.validity_days);
  EXPECT_TRUE(config->grant_implicit_confirm);
  EXPECT_EQ(config->confirm_wait_seconds, defaults.confirm_wait_seconds);
  EXPECT_EQ(config->pbm.min_iterations, defaults.pbm.min_iterations);
  EXPECT_EQ(config->pbm.max_iterations, defaults.pbm.max_iterations);
  EXPECT_TRUE(config->credentials.empty());
}

TEST_F(ConfigTest, RelativePathsResolveAgainstTheFilesFolderNotTheWorkingDirectory) {
  fs::create_directories(m_dir.path() / "etc" / "enrolld");
  const std::string text = kMinimalConfig;
  write(text, "etc/enrolld/enrolld.toml");
  auto config = load_config(m_dir.path() / "etc" / "enrolld" / "enrolld.toml");
  ASSERT_TRUE(config.has_value()) << config.error().message;
  EXPECT_EQ(config->store_path, m_dir.path() / "etc" / "enrolld" / "db");
  EXPECT_EQ(config->ca_certificate, m_dir.path() / "etc" / "enrolld" / "ca.pem");
  EXPECT_TRUE(config->store_path.is_absolute());
}

TEST_F(ConfigTest, BoundaryValuesAreAccepted) {
  auto good = load(R"([server]
http_port = 0
threads = 256
max_body_bytes = 1024
[log]
level = "trace"
[store]
path = "db"
[ca]
certificate = "ca.pem"
key = "pkcs11:object=ca"
validity_days = 36500
[cmp]
confirm_wait_seconds = 2592000
pbm_min_iterations = 10000000
pbm_max_iterations = 10000000
)");
  ASSERT_TRUE(good.has_value()) << good.error().message;
  EXPECT_EQ(good->http_port, 0);
  EXPECT_EQ(good->threads, 256u);
  EXPECT_EQ(good->max_body_bytes, 1024u);
  EXPECT_EQ(good->log_level, "trace");
  EXPECT_EQ(good->validity_days, 36500u);
  EXPECT_EQ(good->confirm_wait_seconds, 2592000u);
  EXPECT_EQ(good->pbm.min_iterations, 10000000u);
  EXPECT_EQ(good->pbm.max_iterations, 10000000u);
}

TEST_F(ConfigTest, InlineTablesAndDottedKeysAreAccepted) {
  auto config = load(R"(server = { http_port = 9000, threads = 3 }
store.path = "db"
[ca]
certificate = "ca.pem"
key = "pkcs11:object=ca"
)");
  ASSERT_TRUE(config.has_value()) << config.error().message;
  EXPECT_EQ(config->http_port, 9000);
  EXPECT_EQ(config->threads, 3u);
  EXPECT_EQ(config->store_path, m_dir.path() / "db");
}

TEST_F(ConfigTest, EveryLogLevelIsAccepted) {
  for (const char* level : {"trace", "debug", "info", "warn", "error"}) {
    auto config = load(minimal_plus(std::string("[log]\nlevel = \"") + level + "\"\n"));
    ASSERT_TRUE(config.has_value()) << level << ": " << config.error().message;
    EXPECT_EQ(config->log_level, level);
  }
}

// ---- failures: each names file, line and key ----

TEST_F(ConfigTest, UnknownKeyInTable) {
  expect_invalid(minimal_plus("[server]\nhttp_port = 8080\nbogus = 1\n"), "bogus = 1", "server.bogus");
}

TEST_F(ConfigTest, UnknownKeyInEveryTable) {
  for (const char* table : {"log", "store", "hsm", "cmp"}) {
    SCOPED_TRACE(table);
    const std::string text = std::string("[") + table + "]\nnope = true\n" +
                             (std::string(table) == "store" ? "path = \"db\"\n" : "[store]\npath = \"db\"\n") +
                             "[ca]\ncertificate = \"c.pem\"\nkey = \"pkcs11:object=k\"\n";
    expect_invalid(text, "nope = true", std::string(table) + ".nope");
  }
  expect_invalid(
      "[store]\npath = \"db\"\n[ca]\ncertificate = \"c.pem\"\nkey = \"pkcs11:object=k\"\ncertificat = \"x\"\n",
      "certificat = \"x\"", "ca.certificat");
}

TEST_F(ConfigTest, UnknownSubTable) {
  expect_invalid(minimal_plus("\n[server.tls]\ncert = \"x\"\n"), "[server.tls]", "server.tls");
}

TEST_F(ConfigTest, UnknownTopLevelSection) {
  expect_invalid(minimal_plus("\n[bogus]\nx = 1\n"), "[bogus]", "bogus");
}

TEST_F(ConfigTest, UnknownTopLevelSectionDeclaredOnlyAsDottedHeader) {
  // [bogus] is created implicitly by [bogus.sub]; the error must still point into the file.
  expect_invalid(minimal_plus("\n[bogus.sub]\nx = 1\n"), "[bogus.sub]", "bogus");
}

TEST_F(ConfigTest, TopLevelKeyOutsideAnySection) {
  expect_invalid("listen = \"0.0.0.0\"\n" + std::string(kMinimalConfig), "listen = ", "listen");
}

TEST_F(ConfigTest, KnownSectionNameUsedAsPlainKey) {
  expect_invalid("log = \"debug\"\n" + std::string(kMinimalConfig), "log = ", "log");
}

TEST_F(ConfigTest, WrongTypes) {
  struct Case {
    const char* table;
    const char* line;
    const char* key;
  };
  for (const Case& c :
       {Case{"server", "http_port = \"x\"", "server.http_port"}, Case{"server", "http_port = 80.0", "server.http_port"},
        Case{"server", "threads = true", "server.threads"}, Case{"server", "listen = 127", "server.listen"},
        Case{"server", "max_body_bytes = [1024]", "server.max_body_bytes"}, Case{"log", "level = 3", "log.level"},
        Case{"hsm", "module = false", "hsm.module"}, Case{"hsm", "softhsm2_conf = 1", "hsm.softhsm2_conf"},
        Case{"cmp", "grant_implicit_confirm = \"yes\"", "cmp.grant_implicit_confirm"},
        Case{"cmp", "grant_implicit_confirm = 1", "cmp.grant_implicit_confirm"},
        Case{"cmp", "confirm_wait_seconds = \"300\"", "cmp.confirm_wait_seconds"},
        Case{"cmp", "pbm_min_iterations = 1e3", "cmp.pbm_min_iterations"}}) {
    SCOPED_TRACE(c.line);
    expect_invalid(minimal_plus(std::string("\n[") + c.table + "]\n" + c.line + "\n"), c.line, c.key);
  }
}

TEST_F(ConfigTest, WrongTypesForRequiredPaths) {
  expect_invalid("[store]\npath = 5\n[ca]\ncertificate = \"c.pem\"\nkey = \"pkcs11:object=k\"\n", "path = 5",
                 "store.path");
  expect_invalid("[store]\npath = \"\"\n[ca]\ncertificate = \"c.pem\"\nkey = \"pkcs11:object=k\"\n", "path = \"\"",
                 "store.path");
  expect_invalid("[store]\npath = \"db\"\n[ca]\ncertificate = [\"c.pem\"]\nkey = \"pkcs11:object=k\"\n",
                 "certificate = ", "ca.certificate");
  expect_invalid("[store]\npath = \"db\"\n[ca]\ncertificate = \"c.pem\"\nchain = \"\"\nkey = \"pkcs11:object=k\"\n",
                 "chain = ", "ca.chain");
  expect_invalid("[store]\npath = \"db\"\n[ca]\ncertificate = \"c.pem\"\nkey = 11\n", "key = 11", "ca.key");
}

TEST_F(ConfigTest, OutOfRange) {
  struct Case {
    const char* table;
    const char* line;
    const char* key;
  };
  for (const Case& c :
       {Case{"server", "http_port = 70000", "server.http_port"},
        Case{"server", "http_port = 65536", "server.http_port"}, Case{"server", "http_port = -1", "server.http_port"},
        Case{"server", "threads = 0", "server.threads"}, Case{"server", "threads = 257", "server.threads"},
        Case{"server", "threads = -4294967294", "server.threads"},
        Case{"server", "max_body_bytes = 1023", "server.max_body_bytes"},
        Case{"server", "max_body_bytes = 16777217", "server.max_body_bytes"},
        Case{"cmp", "confirm_wait_seconds = 0", "cmp.confirm_wait_seconds"},
        Case{"cmp", "confirm_wait_seconds = 2592001", "cmp.confirm_wait_seconds"},
        Case{"cmp", "pbm_min_iterations = 0", "cmp.pbm_min_iterations"},
        Case{"cmp", "pbm_max_iterations = 10000001", "cmp.pbm_max_iterations"}}) {
    SCOPED_TRACE(c.line);
    expect_invalid(minimal_plus(std::string("\n[") + c.table + "]\n" + c.line + "\n"), c.line, c.key);
  }
}

TEST_F(ConfigTest, OutOfRangeValidityDays) {
  for (const char* line : {"validity_days = 0", "validity_days = 36501"}) {
    SCOPED_TRACE(line);
    expect_invalid(
        std::string("[store]\npath = \"db\"\n[ca]\ncertificate = \"c.pem\"\nkey = \"pkcs11:object=k\"\n") + line + "\n",
        line, "ca.validity_days");
  }
}

TEST_F(ConfigTest, OutOfRangeMessageSaysTheRange) {
  auto config = load(minimal_plus("[server]\nhttp_port = 70000\n"));
  ASSERT_FALSE(config.has_value());
  EXPECT_THAT(config.error().message, HasSubstr("65535"));
}

TEST_F(ConfigTest, BadLogLevel) {
  for (const char* line : {"level = \"verbose\"", "level = \"INFO\"", "level = \"\"", "level = \"warning\""}) {
    SCOPED_TRACE(line);
    expect_invalid(minimal_plus(std::string("[log]\n") + line + "\n"), line, "log.level");
  }
}

TEST_F(ConfigTest, CaKeyMustBePkcs11Uri) {
  for (const char* line : {"key = \"/etc/enrolld/ca.key\"", "key = \"file:ca.key\"", "key = \"\"",
                           "key = \" pkcs11:object=k\"", "key = \"xpkcs11:object=k\""}) {
    SCOPED_TRACE(line);
    expect_invalid(std::string("[store]\npath = \"db\"\n[ca]\ncertificate = \"c.pem\"\n") + line + "\n", line,
                   "ca.key");
  }
}

TEST_F(ConfigTest, CredentialWithShortSecret) {
  expect_invalid(minimal_plus("\n[[cmp.credential]]\nreference = \"dev\"\nsecret = \"1234567\"\n"),
                 "[[cmp.credential]]", "cmp.credential");
}

TEST_F(ConfigTest, CredentialErrorPointsAtTheBadOneOfSeveral) {
  expect_invalid(minimal_plus("\n[[cmp.credential]]\nreference = \"ok\"\nsecret = \"long-enough\"\n"
                              "\n[[cmp.credential]] # second\nreference = \"bad\"\nsecret = \"short\"\n"),
                 "[[cmp.credential]] # second", "cmp.credential");
}

TEST_F(ConfigTest, CredentialWithoutSecretOrReference) {
  expect_invalid(minimal_plus("\n[[cmp.credential]]\nreference = \"dev\"\n"), "[[cmp.credential]]", "cmp.credential");
  expect_invalid(minimal_plus("\n[[cmp.credential]]\nsecret = \"long-enough\"\n"), "[[cmp.credential]]",
                 "cmp.credential");
  expect_invalid(minimal_plus("\n[[cmp.credential]]\nreference = \"\"\nsecret = \"long-enough\"\n"),
                 "[[cmp.credential]]", "cmp.credential");
}

TEST_F(ConfigTest, CredentialWithUnknownKey) {
  expect_invalid(minimal_plus("\n[[cmp.credential]]\nreference = \"dev\"\nsecret = \"long-enough\"\nlabel = \"x\"\n"),
                 "label = ", "cmp.credential.label");
}

TEST_F(ConfigTest, CredentialWithWrongType) {
  expect_invalid(minimal_plus("\n[[cmp.credential]]\nreference = \"dev\"\nsecret = 123456789\n"),
                 "secret = ", "cmp.credential.secret");
}

TEST_F(ConfigTest, CredentialNotAnArrayOfTables) {
  expect_invalid(minimal_plus("\n[cmp]\ncredential = \"dev:secret123\"\n"), "credential = ", "cmp.credential");
  expect_invalid(minimal_plus("\n[cmp.credential]\nreference = \"dev\"\nsecret = \"long-enough\"\n"),
                 "[cmp.credential]", "cmp.credential");
}

TEST_F(ConfigTest, SyntaxErrorNamesFileAndLine) {
  const std::string text = std::string(kMinimalConfig) + "[server]\nthreads = \n";
  auto config = load(text);
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().code, ErrorCode::kConfigInvalid);
  EXPECT_THAT(config.error().message, HasSubstr(at("threads = ")));
}

TEST_F(ConfigTest, SyntaxErrors) {
  expect_invalid(minimal_plus("[server]\nlisten = \"unterminated\n"), "listen = ", "");
  expect_invalid(minimal_plus("[server]\nthreads = 2\nthreads = 3\n"), "threads = 3", "");  // duplicate key
  expect_invalid("[store]\npath = \"db\"\n[store]\npath = \"db2\"\n", "[store]\npath = \"db2\"", "");
  expect_invalid(minimal_plus("[server\n"), "[server", "");
}

TEST_F(ConfigTest, MissingRequiredKeys) {
  struct Case {
    const char* text;
    const char* key;
  };
  for (const Case& c : {Case{"[ca]\ncertificate = \"c.pem\"\nkey = \"pkcs11:object=k\"\n", "store.path"},
                        Case{"[store]\npath = \"db\"\n[ca]\nkey = \"pkcs11:object=k\"\n", "ca.certificate"},
                        Case{"[store]\npath = \"db\"\n[ca]\ncertificate = \"c.pem\"\n", "ca.key"}}) {
    SCOPED_TRACE(c.key);
    auto config = load(c.text);
    ASSERT_FALSE(config.has_value());
    EXPECT_EQ(config.error().code, ErrorCode::kConfigInvalid);
    EXPECT_THAT(config.error().message, HasSubstr(file_name()));
    EXPECT_THAT(config.error().message, HasSubstr(c.key));
  }
}

TEST_F(ConfigTest, EmptyFileMissesRequiredKeys) {
  auto config = load("");
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().code, ErrorCode::kConfigInvalid);
  EXPECT_THAT(config.error().message, HasSubstr(file_name()));
  EXPECT_THAT(config.error().message, HasSubstr("missing required key"));
}

TEST_F(ConfigTest, PbmMinimumAboveMaximum) {
  auto config = load(minimal_plus("[cmp]\npbm_min_iterations = 5000\npbm_max_iterations = 4999\n"));
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().code, ErrorCode::kConfigInvalid);
  EXPECT_THAT(config.error().message, HasSubstr(file_name()));
  EXPECT_THAT(config.error().message, HasSubstr("pbm_min_iterations"));
  EXPECT_THAT(config.error().message, HasSubstr("pbm_max_iterations"));
}

// The cross-check names the line of the minimum, like every other error.
TEST_F(ConfigTest, PbmMinimumAboveMaximumNamesTheLine) {
  expect_invalid(minimal_plus("[cmp]\npbm_min_iterations = 5000\npbm_max_iterations = 4999\n"),
                 "pbm_min_iterations = ", "cmp.pbm_min_iterations");
}

TEST_F(ConfigTest, KeyUpdatePolicyAndTrustAnchorsAreRead) {
  auto config = load(minimal_plus("[cmp]\nrevoke_replaced_on_key_update = true\ntrust_anchors = [\"vendor.pem\"]\n"));
  ASSERT_TRUE(config.has_value()) << config.error().message;
  EXPECT_TRUE(config->revoke_replaced_on_key_update);
  ASSERT_EQ(config->trust_anchors.size(), 1U);
  EXPECT_EQ(config->trust_anchors[0], m_dir.path() / "vendor.pem");
  expect_invalid(minimal_plus("[cmp]\ntrust_anchors = \"vendor.pem\"\n"), "trust_anchors = ", "cmp.trust_anchors");
}

TEST_F(ConfigTest, CmpAliasesMapPathsToProfiles) {
  auto config =
      load(minimal_plus("[cmp.aliases]\n\"/ejbca/publicweb/cmp/router\" = \"router\"\n"
                        "\"/pkix\" = \"default\"\n[[profile]]\nname = \"router\"\n"));
  ASSERT_TRUE(config.has_value()) << config.error().message;
  ASSERT_EQ(config->cmp_aliases.size(), 2U);
  EXPECT_EQ(config->cmp_aliases[0].path, "/ejbca/publicweb/cmp/router");
  EXPECT_EQ(config->cmp_aliases[0].profile, "router");
  EXPECT_EQ(config->cmp_aliases[1].path, "/pkix");
  EXPECT_EQ(config->cmp_aliases[1].profile, "default");
}

TEST_F(ConfigTest, CmpAliasesRefuseBadPathsAndUnknownProfiles) {
  for (const char* path :
       {"relative", "/.well-known/cmp/x", "/repo/issuing.crl", "/trailing/", "/", "/a b", "/a//b", "/q?x=1"}) {
    expect_invalid(minimal_plus(std::string("[cmp.aliases]\n\"") + path + "\" = \"default\"\n"),
                   "\" = ", "cmp.aliases");
  }
  expect_invalid(minimal_plus("[cmp.aliases]\n\"/pkix\" = 3\n"), "\"/pkix\"", "must name a profile");
  expect_invalid(minimal_plus("[cmp]\naliases = \"/pkix\"\n"), "aliases = ", "cmp.aliases");
  expect_invalid(minimal_plus("[cmp.aliases]\n\"/pkix\" = \"nowhere\"\n"), "[cmp.aliases]", "no [[profile]] defines");
}

TEST_F(ConfigTest, CentralKeyGenerationNeedsKeyAndCertificateAndAKnownPackageFormat) {
  auto config =
      load(minimal_plus("[cmp]\nkga_key = \"pkcs11:object=kga\"\nkga_certificate = \"kga.pem\"\n"
                        "central_key_package = \"asymmetric-key-package\"\n"));
  ASSERT_TRUE(config.has_value()) << config.error().message;
  EXPECT_EQ(config->kga_key, "pkcs11:object=kga");
  EXPECT_EQ(config->kga_certificate, m_dir.path() / "kga.pem");
  EXPECT_EQ(config->central_key_package, "asymmetric-key-package");
  auto alone = load(minimal_plus("[cmp]\nkga_key = \"pkcs11:object=kga\"\n"));
  ASSERT_FALSE(alone.has_value());
  EXPECT_THAT(alone.error().message, HasSubstr("go together"));
  expect_invalid(minimal_plus("[cmp]\nkga_key = \"kga\"\n"), "kga_key", "pkcs11: URI");
  expect_invalid(minimal_plus("[cmp]\ncentral_key_package = \"pkcs12\"\n"), "central_key_package",
                 "single-key or asymmetric-key-package");
}

constexpr const char* kDevicesCa = R"(
[[issuing_ca]]
name = "devices"
certificate = "ca/devices.pem"
chain = "ca/root.pem"
key = "pkcs11:object=devices"
crl_url = "http://pki.example/repo/devices.crl"
ocsp_url = "http://pki.example/ocsp"
ca_issuers_url = "http://pki.example/repo/devices.crt"
delta_url = "http://pki.example/repo/devices-delta.crl"
ocsp_signer_key = "pkcs11:object=devices-ocsp"
ocsp_signer_certificate = "ca/devices-ocsp.pem"
)";

TEST_F(ConfigTest, AnotherIssuingCaIsReadAndAProfileNamesIt) {
  auto config =
      load(minimal_plus(std::string(kDevicesCa) + "\n[[profile]]\nname = \"iot\"\nissuing_ca = \"devices\"\n"));
  ASSERT_TRUE(config.has_value()) << config.error().message;
  ASSERT_EQ(config->issuing_cas.size(), 1U);
  const IssuingCaConfig& ca = config->issuing_cas.front();
  EXPECT_EQ(ca.name, "devices");
  EXPECT_EQ(ca.certificate, m_dir.path() / "ca/devices.pem");
  EXPECT_EQ(ca.chain, m_dir.path() / "ca/root.pem");
  EXPECT_EQ(ca.key, "pkcs11:object=devices");
  EXPECT_EQ(ca.crl_url, "http://pki.example/repo/devices.crl");
  EXPECT_EQ(ca.ocsp_url, "http://pki.example/ocsp");
  EXPECT_EQ(ca.ca_issuers_url, "http://pki.example/repo/devices.crt");
  EXPECT_EQ(ca.delta_crl_url, "http://pki.example/repo/devices-delta.crl");
  EXPECT_EQ(ca.ocsp_signer_key, "pkcs11:object=devices-ocsp");
  EXPECT_EQ(ca.ocsp_signer_certificate, m_dir.path() / "ca/devices-ocsp.pem");
  ASSERT_EQ(config->profiles.size(), 1U);
  EXPECT_EQ(config->profiles.front().issuing_ca, "devices");

  // The profile takes its CA's URLs unless it has its own.
  const std::vector<ca::Profile> profiles = certificate_profiles(*config);
  ASSERT_EQ(profiles.size(), 2U);
  EXPECT_EQ(profiles[0].issuing_ca, ca::kFirstIssuingCa);
  EXPECT_EQ(profiles[0].crl_url, "");
  EXPECT_EQ(profiles[1].issuing_ca, "devices");
  EXPECT_EQ(profiles[1].crl_url, "http://pki.example/repo/devices.crl");
  EXPECT_EQ(profiles[1].ca_issuers_url, "http://pki.example/repo/devices.crt");

  auto changed = load(minimal_plus(""));
  ASSERT_TRUE(changed.has_value());
  EXPECT_EQ(restart_only_changes(*config, *changed), std::vector<std::string>{"issuing_ca"});
}

TEST_F(ConfigTest, IssuingCaMistakesAreNamedWithTheirLine) {
  const std::string base = "[[issuing_ca]]\nname = \"devices\"\ncertificate = \"d.pem\"\nkey = \"pkcs11:object=d\"\n";
  for (const char* name : {"issuing", "root", "certs", "Devices", "dev ices", ""}) {
    expect_invalid(minimal_plus("[[issuing_ca]]\nname = \"" + std::string(name) +
                                "\"\ncertificate = \"d.pem\"\nkey = \"pkcs11:object=d\"\n"),
                   "name = ", "issuing_ca.name");
  }
  expect_invalid(minimal_plus(base + "colour = \"blue\"\n"), "colour", "unknown key 'issuing_ca.colour'");
  expect_invalid(minimal_plus(base + "crl_url = \"https://x/c.crl\"\n"), "crl_url", "http:// URL");
  expect_invalid(minimal_plus("[[issuing_ca]]\nname = \"devices\"\ncertificate = \"d.pem\"\nkey = \"d\"\n"),
                 "key = \"d\"", "pkcs11: URI");
  expect_invalid(minimal_plus("[[issuing_ca]]\nname = \"devices\"\ncertificate = \"d.pem\"\n"), "[[issuing_ca]]",
                 "needs name, certificate and key");
  expect_invalid(minimal_plus(base + "ocsp_signer_key = \"pkcs11:object=o\"\n"), "[[issuing_ca]]", "go together");
  auto twice = load(minimal_plus(base + base));
  ASSERT_FALSE(twice.has_value());
  EXPECT_THAT(twice.error().message, HasSubstr("'devices' appears twice"));
  expect_invalid(minimal_plus(base + "[[profile]]\nname = \"iot\"\nissuing_ca = \"elsewhere\"\n"), "[[profile]]",
                 "names issuing CA 'elsewhere', which no [[issuing_ca]] defines");
  expect_invalid(minimal_plus("[[profile]]\nname = \"iot\"\nissuing_ca = \"Bad Name\"\n"),
                 "issuing_ca = ", "profile.issuing_ca");
  auto no_delta =
      load(minimal_plus(base + "[crl]\ndelta_validity_seconds = 600\ndelta_url = \"http://x/issuing-delta.crl\"\n"));
  ASSERT_FALSE(no_delta.has_value());
  EXPECT_THAT(no_delta.error().message, HasSubstr("issuing CA 'devices' needs a delta_url"));
}

TEST_F(ConfigTest, DuplicateCredentialReferenceIsRefused) {
  auto config =
      load(minimal_plus("[[cmp.credential]]\nreference = \"dev\"\nsecret = \"0123456789\"\n"
                        "[[cmp.credential]]\nreference = \"dev\"\nsecret = \"abcdefghij\"\n"));
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().code, ErrorCode::kConfigInvalid);
  EXPECT_THAT(config.error().message, HasSubstr(file_name() + ":"));
  EXPECT_THAT(config.error().message, HasSubstr("appears twice"));
}

TEST_F(ConfigTest, PbmMinimumAboveDefaultMaximum) {
  auto config = load(minimal_plus("[cmp]\npbm_min_iterations = 100001\n"));
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().code, ErrorCode::kConfigInvalid);
  EXPECT_THAT(config.error().message, HasSubstr("pbm_min_iterations"));
}

TEST_F(ConfigTest, PbmMinimumEqualToMaximumIsAccepted) {
  auto config = load(minimal_plus("[cmp]\npbm_min_iterations = 5000\npbm_max_iterations = 5000\n"));
  ASSERT_TRUE(config.has_value()) << config.error().message;
  EXPECT_EQ(config->pbm.min_iterations, 5000u);
}

TEST_F(ConfigTest, MissingFileIsConfigInvalid) {
  const fs::path missing = m_dir.path() / "absent.toml";
  auto config = load_config(missing);
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().code, ErrorCode::kConfigInvalid);
  EXPECT_THAT(config.error().message, HasSubstr(missing.string()));
}

TEST_F(ConfigTest, EstSectionAndProfileKeysAreRead) {
  auto config = load(minimal_plus(R"(
[est]
listen = "127.0.0.2"
port = 9443
tls_certificate = "tls/server.pem"
tls_key = "tls/server.key"
trust_anchors = ["vendor/ca.pem"]
reenroll_same_key = false
max_password_failures = 3
lockout_seconds = 120

[[profile]]
name = "bound"
key_types = ["P-256", "RSA-3072"]
require_channel_binding = true
)"));
  ASSERT_TRUE(config.has_value()) << config.error().message;
  const auto& est = config->est;
  EXPECT_EQ(est.listen, "127.0.0.2");
  EXPECT_EQ(est.port, 9443);
  ASSERT_TRUE(est.tls_certificate && est.tls_key);
  EXPECT_EQ(*est.tls_certificate, m_dir.path() / "tls/server.pem");
  EXPECT_EQ(*est.tls_key, m_dir.path() / "tls/server.key");
  ASSERT_EQ(est.trust_anchors.size(), 1u);
  EXPECT_EQ(est.trust_anchors.front(), m_dir.path() / "vendor/ca.pem");
  EXPECT_FALSE(est.reenroll_same_key);
  EXPECT_EQ(est.max_password_failures, 3u);
  EXPECT_EQ(est.lockout_seconds, 120u);
  ASSERT_EQ(config->profiles.size(), 1u);
  EXPECT_EQ(config->profiles.front().key_types, (std::vector<std::string>{"P-256", "RSA-3072"}));
  EXPECT_TRUE(config->profiles.front().require_channel_binding);
}

TEST_F(ConfigTest, EstIsOffWithoutATlsCredential) {
  auto config = load(kMinimalConfig);
  ASSERT_TRUE(config.has_value()) << config.error().message;
  EXPECT_FALSE(config->est.tls_certificate.has_value());
  EXPECT_TRUE(config->est.reenroll_same_key);
}

TEST_F(ConfigTest, EstBadValuesAreRefusedWithTheirLine) {
  expect_invalid(minimal_plus("[est]\nport = 70000\n"), "port = 70000", "est.port");
  expect_invalid(minimal_plus("[est]\nmax_password_failures = 0\n"), "max_password_failures = 0",
                 "est.max_password_failures");
  expect_invalid(minimal_plus("[est]\nbogus = 1\n"), "bogus = 1", "est.bogus");
  expect_invalid(minimal_plus("[[profile]]\nname = \"p\"\nkey_types = [\"P-521\"]\n"), "key_types",
                 "profile.key_types");
  expect_invalid(minimal_plus("[[profile]]\nname = \"p\"\nkey_types = []\n"), "key_types", "profile.key_types");
  expect_invalid(minimal_plus("[[profile]]\nname = \"p\"\nrequire_channel_binding = 1\n"), "require_channel_binding",
                 "profile.require_channel_binding");
}

TEST_F(ConfigTest, EstTlsCertificateWithoutKeyIsRefused) {
  auto config = load(minimal_plus("[est]\ntls_certificate = \"tls/server.pem\"\n"));
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().code, ErrorCode::kConfigInvalid);
  EXPECT_THAT(config.error().message, HasSubstr("est.tls_key"));
}

TEST_F(ConfigTest, RevocationUrlsCrlScheduleAndOcspAreRead) {
  auto config = load(minimal_plus(
      "crl_url = \"http://pki.example/issuing.crl\"\nocsp_url = \"http://pki.example/ocsp\"\n"
      "ca_issuers_url = \"http://pki.example/issuing.crt\"\n"
      "[crl]\nvalidity_seconds = 7200\nrefresh_seconds = 600\non_revocation = false\n"
      "delta_validity_seconds = 300\ndelta_url = \"http://pki.example/delta.crl\"\n"
      "[ocsp]\nsigner_key = \"pkcs11:object=ocsp\"\nsigner_certificate = \"ocsp.pem\"\nvalidity_seconds = 900\n"));
  ASSERT_TRUE(config.has_value()) << config.error().message;
  EXPECT_EQ(config->crl_url, "http://pki.example/issuing.crl");
  EXPECT_EQ(config->ocsp_url, "http://pki.example/ocsp");
  EXPECT_EQ(config->ca_issuers_url, "http://pki.example/issuing.crt");
  EXPECT_EQ(config->crl_validity_seconds, 7200u);
  EXPECT_EQ(config->crl_refresh_seconds, 600u);
  EXPECT_FALSE(config->crl_on_revocation);
  EXPECT_EQ(config->delta_crl_validity_seconds, 300u);
  EXPECT_EQ(config->delta_crl_url, "http://pki.example/delta.crl");
  EXPECT_EQ(config->ocsp_signer_key, "pkcs11:object=ocsp");
  EXPECT_EQ(config->ocsp_signer_certificate, m_dir.path() / "ocsp.pem");
  EXPECT_EQ(config->ocsp_validity_seconds, 900u);

  auto defaults = load(kMinimalConfig);
  ASSERT_TRUE(defaults.has_value()) << defaults.error().message;
  EXPECT_TRUE(defaults->crl_url.empty());
  EXPECT_EQ(defaults->crl_validity_seconds, 86400u);
  EXPECT_FALSE(defaults->crl_refresh_seconds.has_value());
  EXPECT_TRUE(defaults->crl_on_revocation);
  EXPECT_EQ(defaults->delta_crl_validity_seconds, 0u);
  EXPECT_FALSE(defaults->ocsp_signer_key.has_value());
  EXPECT_EQ(defaults->ocsp_validity_seconds, 3600u);
}

TEST_F(ConfigTest, RevocationSettingsRefuseBadValuesWithTheirLine) {
  expect_invalid(minimal_plus("crl_url = \"https://pki.example/x.crl\"\n"), "crl_url", "http:// URL");
  expect_invalid(minimal_plus("ocsp_url = \"http://pki.example/a b\"\n"), "ocsp_url", "http:// URL");
  expect_invalid(minimal_plus("ca_issuers_url = \"http://a,b\"\n"), "ca_issuers_url", "http:// URL");
  expect_invalid(minimal_plus("[crl]\nvalidity_seconds = 10\n"), "validity_seconds", "crl.validity_seconds");
  expect_invalid(minimal_plus("[crl]\nvalidity_seconds = 600\nrefresh_seconds = 600\n"), "refresh_seconds",
                 "less than 'crl.validity_seconds'");
  expect_invalid(minimal_plus("[crl]\ndelta_validity_seconds = 60\n"), "delta_validity_seconds", "crl.delta_url");
  expect_invalid(minimal_plus("[ocsp]\nsigner_key = \"ocsp\"\n"), "signer_key", "pkcs11: URI");
  expect_invalid(minimal_plus("[ocsp]\nvalidity_seconds = 1\n"), "validity_seconds", "ocsp.validity_seconds");
  auto alone = load(minimal_plus("[ocsp]\nsigner_key = \"pkcs11:object=ocsp\"\n"));
  ASSERT_FALSE(alone.has_value());
  EXPECT_THAT(alone.error().message, HasSubstr("go together"));
}

TEST_F(ConfigTest, PublishersAreRead) {
  auto config = load(
      minimal_plus("[publish.directory]\npath = \"www\"\ncertificates = true\n"
                   "[publish.ldap]\nurl = \"ldap://127.0.0.1:3890\"\nbind_dn = \"cn=admin,dc=example,dc=org\"\n"
                   "password_file = \"ldap-password\"\nbase_dn = \"ou=pki,dc=example,dc=org\"\ncertificates = false\n"
                   "timeout_seconds = 3\n"));
  ASSERT_TRUE(config.has_value()) << config.error().message;
  ASSERT_TRUE(config->publish_directory.has_value());
  EXPECT_EQ(config->publish_directory->path, m_dir.path() / "www");
  EXPECT_TRUE(config->publish_directory->certificates);
  ASSERT_TRUE(config->publish_ldap.has_value());
  EXPECT_EQ(config->publish_ldap->url, "ldap://127.0.0.1:3890");
  EXPECT_EQ(config->publish_ldap->bind_dn, "cn=admin,dc=example,dc=org");
  EXPECT_EQ(config->publish_ldap->password_file, m_dir.path() / "ldap-password");
  EXPECT_EQ(config->publish_ldap->base_dn, "ou=pki,dc=example,dc=org");
  EXPECT_FALSE(config->publish_ldap->certificates);
  EXPECT_EQ(config->publish_ldap->timeout_seconds, 3u);
  auto none = load(kMinimalConfig);
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(none->publish_directory || none->publish_ldap);
}

TEST_F(ConfigTest, PublishersRefuseBadValuesWithTheirLine) {
  expect_invalid(minimal_plus("[publish.cdn]\npath = \"x\"\n"), "[publish.cdn]", "publish.cdn");
  expect_invalid(minimal_plus("[publish.directory]\npath = \"x\"\nbogus = 1\n"), "bogus", "publish.directory.bogus");
  expect_invalid(minimal_plus("[publish.directory]\ncertificates = true\n"), "[publish.directory]", "needs a path");
  expect_invalid(minimal_plus("[publish.ldap]\nurl = \"http://x\"\n"), "url", "ldap:// or ldaps://");
  expect_invalid(minimal_plus("[publish.ldap]\nurl = \"ldap://x\"\n"), "[publish.ldap]", "needs url, bind_dn");
  expect_invalid(minimal_plus("[publish.ldap]\ntimeout_seconds = 0\n"), "timeout_seconds",
                 "publish.ldap.timeout_seconds");
}

TEST_F(ConfigTest, ProfileRulesAndReviewPatternsAreRead) {
  auto config = load(minimal_plus(
      "[review]\nsubjects = [\"*CN=admin*\"]\nsans = [\"DNS:*.bank.example\"]\nrequesters = [\"vendor:*\"]\n"
      "[[profile]]\nname = \"tls-server\"\nsubject_required = [\"CN\"]\nsubject_forbidden = [\"OU\"]\n"
      "san_dns = [\"*.example.com\", \"example.com\"]\nsan_ip = [\"10.0.0.0/8\", \"2001:db8::/32\"]\n"
      "san_uri = [\"urn:dev:\"]\nsan_email = [\"example.com\"]\nsan_required = true\n"
      "key_usage = [\"digitalSignature\", \"keyEncipherment\"]\nextended_key_usage = [\"serverAuth\", "
      "\"1.3.6.1.5.5.7.3.30\"]\ncertificate_policies = [\"2.23.140.1.2.1\"]\nrequester_validity = true\n"));
  ASSERT_TRUE(config.has_value()) << config.error().message;
  ASSERT_EQ(config->profiles.size(), 1u);
  const ProfileConfig& p = config->profiles.front();
  EXPECT_EQ(p.subject_required, std::vector<std::string>{"CN"});
  EXPECT_EQ(p.subject_forbidden, std::vector<std::string>{"OU"});
  EXPECT_EQ(p.san_dns, (std::vector<std::string>{"*.example.com", "example.com"}));
  EXPECT_EQ(p.san_ip, (std::vector<std::string>{"10.0.0.0/8", "2001:db8::/32"}));
  EXPECT_EQ(p.san_uri, std::vector<std::string>{"urn:dev:"});
  EXPECT_EQ(p.san_email, std::vector<std::string>{"example.com"});
  EXPECT_TRUE(p.san_required);
  EXPECT_EQ(p.key_usage, (std::vector<std::string>{"digitalSignature", "keyEncipherment"}));
  EXPECT_EQ(p.extended_key_usage, (std::vector<std::string>{"serverAuth", "1.3.6.1.5.5.7.3.30"}));
  EXPECT_EQ(p.certificate_policies, std::vector<std::string>{"2.23.140.1.2.1"});
  EXPECT_TRUE(p.requester_validity);
  EXPECT_EQ(config->review.subjects, std::vector<std::string>{"*CN=admin*"});
  EXPECT_EQ(config->review.sans, std::vector<std::string>{"DNS:*.bank.example"});
  EXPECT_EQ(config->review.requesters, std::vector<std::string>{"vendor:*"});
}

TEST_F(ConfigTest, ProfileRulesRefuseBadValuesWithTheirLine) {
  const std::string head = "[[profile]]\nname = \"p\"\n";
  expect_invalid(minimal_plus(head + "subject_required = [\"Colour\"]\n"), "subject_required",
                 "profile.subject_required");
  expect_invalid(minimal_plus(head + "san_dns = [\"bad name\"]\n"), "san_dns", "DNS name");
  expect_invalid(minimal_plus(head + "san_ip = [\"10.0.0.0\"]\n"), "san_ip", "CIDR");
  expect_invalid(minimal_plus(head + "san_ip = [\"10.0.0.0/33\"]\n"), "san_ip", "prefix length");
  expect_invalid(minimal_plus(head + "key_usage = [\"keyCertSign\"]\n"), "key_usage", "for CAs");
  expect_invalid(minimal_plus(head + "extended_key_usage = [\"flying\"]\n"), "extended_key_usage", "extendedKeyUsage");
  expect_invalid(minimal_plus(head + "certificate_policies = [\"policy-1\"]\n"), "certificate_policies", "dotted OID");
  expect_invalid(minimal_plus(head + "san_required = \"yes\"\n"), "san_required", "true or false");
  expect_invalid(minimal_plus(head + "san_uri = \"urn:x\"\n"), "san_uri", "list of strings");
  expect_invalid(minimal_plus(head + "san_uri = [\"https://devices.example.com\"]\n"), "san_uri",
                 "ending in '/' or ':'");
  expect_invalid(minimal_plus(head + "san_email = [\"*.example.com\"]\n"), "san_email", "mail domain");
  expect_invalid(minimal_plus("[review]\nsubjects = \"*\"\n"), "subjects", "review.subjects");
  expect_invalid(minimal_plus(head + "crl_url = \"ftp://x/crl\"\n"), "crl_url", "http:// URL");
  expect_invalid(minimal_plus(head + "ocsp_url = 5\n"), "ocsp_url", "must be a string");
  expect_invalid(minimal_plus(head + "copy_subject_alt_name = 1\n"), "copy_subject_alt_name", "true or false");
  expect_invalid(minimal_plus(head + "san_required = true\ncopy_subject_alt_name = false\n"), "[[profile]]",
                 "profile 'p' requires a subjectAltName it would not certify");
}

// A profile's own repository URLs replace [ca]'s; "" leaves one out; unset takes [ca]'s.
TEST_F(ConfigTest, AProfilesUrlsAndSanCopyingAreItsOwn) {
  auto config =
      load(minimal_plus("[[profile]]\nname = \"own\"\ncrl_url = \"http://cdn.example/own.crl\"\nocsp_url = \"\"\n"
                        "copy_subject_alt_name = false\n[[profile]]\nname = \"inherits\"\n"));
  ASSERT_TRUE(config.has_value()) << config.error().message;
  ASSERT_EQ(config->profiles.size(), 2u);
  const ProfileConfig& own = config->profiles[0];
  EXPECT_EQ(own.crl_url, std::optional<std::string>("http://cdn.example/own.crl"));
  EXPECT_EQ(own.ocsp_url, std::optional<std::string>(""));
  EXPECT_FALSE(own.ca_issuers_url.has_value());
  EXPECT_FALSE(own.copy_subject_alt_name);
  const ProfileConfig& inherits = config->profiles[1];
  EXPECT_FALSE(inherits.crl_url || inherits.ocsp_url || inherits.ca_issuers_url);
  EXPECT_TRUE(inherits.copy_subject_alt_name);
}

// What the CA gets from those profiles: "default" first, then each with its own URLs or [ca]'s.
TEST_F(ConfigTest, CertificateProfilesTakeTheProfilesUrlsOverTheCas) {
  auto config =
      load(minimal_plus("[[profile]]\nname = \"own\"\ncrl_url = \"http://cdn.example/own.crl\"\nocsp_url = \"\"\n"
                        "copy_subject_alt_name = false\n[[profile]]\nname = \"inherits\"\n"));
  ASSERT_TRUE(config.has_value()) << config.error().message;
  config->crl_url = "http://pki.example/issuing.crl";
  config->ocsp_url = "http://pki.example/ocsp";
  config->ca_issuers_url = "http://pki.example/issuing.crt";
  const std::vector<ca::Profile> profiles = certificate_profiles(*config);
  ASSERT_EQ(profiles.size(), 3u);
  EXPECT_EQ(profiles[0].name, "default");
  EXPECT_EQ(profiles[0].crl_url, "http://pki.example/issuing.crl");
  EXPECT_EQ(profiles[1].name, "own");
  EXPECT_EQ(profiles[1].crl_url, "http://cdn.example/own.crl");
  EXPECT_EQ(profiles[1].ocsp_url, "") << "left out of its certificates";
  EXPECT_EQ(profiles[1].ca_issuers_url, "http://pki.example/issuing.crt");
  EXPECT_FALSE(profiles[1].copy_subject_alt_name);
  EXPECT_EQ(profiles[2].name, "inherits");
  EXPECT_EQ(profiles[2].ocsp_url, "http://pki.example/ocsp");
  EXPECT_TRUE(profiles[2].copy_subject_alt_name);
}

// conf/profiles.example.toml is what operators start from: it must load as it is.
TEST_F(ConfigTest, TheShippedExampleProfilesLoad) {
  std::ifstream in(std::string(ENROLLD_SOURCE_DIR) + "/conf/profiles.example.toml");
  ASSERT_TRUE(in) << "conf/profiles.example.toml is missing";
  std::stringstream examples;
  examples << in.rdbuf();
  auto config = load(minimal_plus(examples.str()));
  ASSERT_TRUE(config.has_value()) << config.error().message;
  std::vector<std::string> names;
  for (const auto& p : config->profiles) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"device-identity", "tls-server", "tls-client", "ra"}));
}

std::string shipped_config() {
  std::ifstream in(std::string(ENROLLD_SOURCE_DIR) + "/conf/enrolld.conf");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The shipped config with every commented "# key = value" line of an active section made
// active; lines under a commented section header ("# [[cmp.credential]]") stay comments.
std::string with_every_key_active(const std::string& text) {
  std::istringstream in(text);
  std::ostringstream out;
  bool in_active_section = false;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("[")) in_active_section = true;
    if (line.starts_with("# [")) in_active_section = false;
    const bool assignment = line.starts_with("# ") && line.size() > 2 && std::islower(line[2]) != 0 &&
                            line.find(" = ") != std::string::npos && line.find(' ', 2) == line.find(" = ");
    out << (in_active_section && assignment ? line.substr(2) : line) << "\n";
  }
  return out.str();
}

// /etc/enrolld/enrolld.conf as the package installs it: it loads, its commented lines are the
// defaults, and each of them is a key the schema knows with a value it accepts.
TEST_F(ConfigTest, TheShippedConfigLoadsAndItsCommentedKeysAreTheDefaults) {
  const std::string shipped = shipped_config();
  ASSERT_FALSE(shipped.empty()) << "conf/enrolld.conf is missing";
  auto as_installed = load(shipped);
  ASSERT_TRUE(as_installed.has_value()) << as_installed.error().message;
  EXPECT_EQ(as_installed->store_path, "/var/lib/enrolld/db");
  EXPECT_EQ(as_installed->admin_token_file, fs::path("/var/lib/enrolld/admin-token"));

  const std::string active = with_every_key_active(shipped);
  ASSERT_NE(active, shipped);
  auto uncommented = load(active);
  ASSERT_TRUE(uncommented.has_value()) << uncommented.error().message;
  const Config defaults = *as_installed;
  EXPECT_EQ(uncommented->listen, defaults.listen);
  EXPECT_EQ(uncommented->http_port, defaults.http_port);
  EXPECT_EQ(uncommented->threads, defaults.threads);
  EXPECT_EQ(uncommented->max_body_bytes, defaults.max_body_bytes);
  EXPECT_EQ(uncommented->log_level, defaults.log_level);
  EXPECT_EQ(uncommented->hsm_module, defaults.hsm_module);
  EXPECT_EQ(uncommented->validity_days, defaults.validity_days);
  EXPECT_EQ(uncommented->crl_validity_seconds, defaults.crl_validity_seconds);
  EXPECT_EQ(uncommented->crl_refresh_seconds.value_or(0), defaults.crl_validity_seconds / 2);
  EXPECT_EQ(uncommented->crl_on_revocation, defaults.crl_on_revocation);
  EXPECT_EQ(uncommented->ocsp_validity_seconds, defaults.ocsp_validity_seconds);
  EXPECT_EQ(uncommented->grant_implicit_confirm, defaults.grant_implicit_confirm);
  EXPECT_EQ(uncommented->confirm_wait_seconds, defaults.confirm_wait_seconds);
  EXPECT_EQ(uncommented->pbm.min_iterations, defaults.pbm.min_iterations);
  EXPECT_EQ(uncommented->pbm.max_iterations, defaults.pbm.max_iterations);
  EXPECT_EQ(uncommented->central_key_package, defaults.central_key_package);
  EXPECT_EQ(uncommented->check_after_seconds, defaults.check_after_seconds);
  EXPECT_EQ(uncommented->approval_wait_seconds, defaults.approval_wait_seconds);
  EXPECT_EQ(uncommented->est.port, defaults.est.port);
  EXPECT_EQ(uncommented->est.max_password_failures, defaults.est.max_password_failures);
  EXPECT_EQ(uncommented->est.lockout_seconds, defaults.est.lockout_seconds);
  EXPECT_EQ(uncommented->admin_port, defaults.admin_port);
  EXPECT_TRUE(uncommented->est.tls_certificate.has_value()) << "the [est] lines were made active";
}

}  // namespace
}  // namespace enrolld::app
