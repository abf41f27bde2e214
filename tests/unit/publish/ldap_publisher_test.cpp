// LdapPublisher against a real slapd (tests/support/slapd_fixture.h), checked with the real
// ldapsearch and openssl: what a relying party would fetch.
#include "publish/ldap_publisher.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "common/openssl_util.h"
#include "integration/process.h"
#include "support/slapd_fixture.h"
#include "support/temp_dir.h"

namespace enrolld::publish {
namespace {

using namespace std::chrono_literals;
using Kind = Publication::Kind;
using CrlPtr = std::unique_ptr<::X509_CRL, ossl::Deleter<::X509_CRL_free>>;

constexpr const char* kBase = "ou=pki,dc=example,dc=org";
constexpr auto kTimeout = 2s;

// A throwaway PKI made with OpenSSL: slapd checks that certificate and CRL values parse, so the
// values must be real DER.
struct Pki {
  ossl::EvpPkeyPtr root_key{::EVP_EC_gen("P-256")};
  ossl::EvpPkeyPtr issuing_key{::EVP_EC_gen("P-256")};
  ossl::X509Ptr root;
  ossl::X509Ptr issuing;
};

ossl::X509NamePtr name_of(const std::string& cn) {
  ossl::X509NamePtr name(::X509_NAME_new());
  ::X509_NAME_add_entry_by_txt(name.get(), "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("Example"), -1,
                               -1, 0);
  ::X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1,
                               -1, 0);
  return name;
}

ossl::X509Ptr certificate(const std::string& cn, long serial, ::EVP_PKEY* key, const ::X509* issuer,
                          ::EVP_PKEY* issuer_key) {
  ossl::X509Ptr cert(::X509_new());
  auto subject = name_of(cn);
  ::X509_set_version(cert.get(), X509_VERSION_3);
  ::ASN1_INTEGER_set(::X509_get_serialNumber(cert.get()), serial);
  ::X509_set_subject_name(cert.get(), subject.get());
  ::X509_set_issuer_name(cert.get(), issuer != nullptr ? ::X509_get_subject_name(issuer) : subject.get());
  ::X509_gmtime_adj(::X509_getm_notBefore(cert.get()), 0);
  ::X509_gmtime_adj(::X509_getm_notAfter(cert.get()), 3600);
  ::X509_set_pubkey(cert.get(), key);
  EXPECT_GT(::X509_sign(cert.get(), issuer_key, ::EVP_sha256()), 0) << ossl::drain_errors();
  return cert;
}

Pki make_pki() {
  Pki pki;
  pki.root = certificate("Test Root CA", 1, pki.root_key.get(), nullptr, pki.root_key.get());
  pki.issuing = certificate("Test Issuing CA", 2, pki.issuing_key.get(), pki.root.get(), pki.root_key.get());
  return pki;
}

// A CRL of the issuing CA with cRLNumber `number`; a delta CRL (RFC 5280 5.2.4) when `base` is set.
Bytes crl(const Pki& pki, long number, std::optional<long> base = std::nullopt) {
  CrlPtr list(::X509_CRL_new());
  ossl::Asn1TimePtr now(::X509_gmtime_adj(nullptr, 0));
  ossl::Asn1TimePtr next(::X509_gmtime_adj(nullptr, 3600));
  ossl::Asn1IntegerPtr crl_number(::ASN1_INTEGER_new());
  ::ASN1_INTEGER_set(crl_number.get(), number);
  ::X509_CRL_set_version(list.get(), X509_CRL_VERSION_2);
  ::X509_CRL_set_issuer_name(list.get(), ::X509_get_subject_name(pki.issuing.get()));
  ::X509_CRL_set1_lastUpdate(list.get(), now.get());
  ::X509_CRL_set1_nextUpdate(list.get(), next.get());
  ::X509_CRL_add1_ext_i2d(list.get(), NID_crl_number, crl_number.get(), 0, 0);
  if (base) {
    ossl::Asn1IntegerPtr base_number(::ASN1_INTEGER_new());
    ::ASN1_INTEGER_set(base_number.get(), *base);
    ::X509_CRL_add1_ext_i2d(list.get(), NID_delta_crl, base_number.get(), 1, 0);
  }
  EXPECT_GT(::X509_CRL_sign(list.get(), pki.issuing_key.get(), ::EVP_sha256()), 0) << ossl::drain_errors();
  return ossl::der_with(list.get(), ::i2d_X509_CRL);
}

Publication publication(Kind kind, std::string name, const ::X509* cert) {
  return Publication{kind, std::move(name), ossl::name_to_string(::X509_get_subject_name(cert)), ossl::der_of(cert)};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The values of `attribute` in ldapsearch's LDIF (-LLL, unwrapped): "type:: base64" or "type: text".
std::vector<Bytes> values_of(const std::string& ldif, const std::string& attribute) {
  std::vector<Bytes> values;
  std::istringstream lines(ldif);
  for (std::string line; std::getline(lines, line);) {
    const auto colon = line.find(':');
    if (colon == std::string::npos || line.compare(0, colon, attribute) != 0) continue;
    if (line.compare(colon, 3, ":: ") == 0) {
      auto decoded = from_base64(line.substr(colon + 3));
      EXPECT_TRUE(decoded) << line;
      values.push_back(decoded.value_or(Bytes{}));
    } else {
      values.push_back(to_bytes(line.substr(std::min(colon + 2, line.size()))));
    }
  }
  return values;
}

// A socket that takes connections (the kernel completes them into the backlog) and never answers.
class SilentListener {
 public:
  SilentListener() : m_fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    ::sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::socklen_t length = sizeof address;
    EXPECT_EQ(::bind(m_fd, reinterpret_cast<::sockaddr*>(&address), sizeof address), 0);
    EXPECT_EQ(::listen(m_fd, 8), 0);
    EXPECT_EQ(::getsockname(m_fd, reinterpret_cast<::sockaddr*>(&address), &length), 0);
    m_port = ntohs(address.sin_port);
  }
  ~SilentListener() { ::close(m_fd); }
  std::uint16_t port() const { return m_port; }
  int fd() const { return m_fd; }

 private:
  int m_fd;
  std::uint16_t m_port = 0;
};

// An LDAP server in miniature: accepts `count` connections one after the other, answers each
// one's bind with success and then resets it (SO_LINGER 0), so that the client's next write meets
// the reset: EPIPE, and SIGPIPE. Every wait is bounded.
class ResettingServer {
 public:
  explicit ResettingServer(int count) : m_thread([this, count] { serve(count); }) {}
  ~ResettingServer() { m_thread.join(); }
  std::uint16_t port() const { return m_listener.port(); }
  int served() const { return m_served; }

 private:
  static bool wait_readable(int fd) {
    ::pollfd watch{fd, POLLIN, 0};
    return ::poll(&watch, 1, 5000) == 1;
  }
  void serve(int count) {
    // BindResponse for messageID 1 (the first message on a connection): resultCode success (0).
    static constexpr std::uint8_t kBound[] = {0x30, 0x0c, 0x02, 0x01, 0x01, 0x61, 0x07,
                                              0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00};
    for (int i = 0; i < count && wait_readable(m_listener.fd()); ++i) {
      const int fd = ::accept(m_listener.fd(), nullptr, nullptr);
      if (fd < 0) break;
      std::uint8_t request[4096];
      if (wait_readable(fd) && ::read(fd, request, sizeof request) > 0 &&
          ::write(fd, kBound, sizeof kBound) == static_cast<::ssize_t>(sizeof kBound)) {
        ++m_served;
      }
      const ::linger reset{1, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
      ::close(fd);
    }
  }

  SilentListener m_listener;
  std::atomic<int> m_served{0};
  std::thread m_thread;
};

class LdapPublisherTest : public ::testing::Test {
 protected:
  LdapOptions options(std::string base = kBase) const {
    return LdapOptions{m_slapd.url(), m_slapd.bind_dn(), m_slapd.password(), std::move(base), kTimeout};
  }

  // ldapsearch as the rootdn; `scope` base, one or sub.
  integration::RunResult search(const std::string& base, const std::string& filter,
                                const std::vector<std::string>& attributes, const std::string& scope = "sub") const {
    std::vector<std::string> argv = m_slapd.ldap_client_args();
    argv.insert(argv.begin(), "ldapsearch");
    argv.insert(argv.end(), {"-LLL", "-o", "ldif-wrap=no", "-b", base, "-s", scope, filter});
    argv.insert(argv.end(), attributes.begin(), attributes.end());
    return integration::run(argv, 30s);
  }

  // The values of `attribute` on the entry `filter` finds under kBase (ldapsearch must succeed).
  std::vector<Bytes> fetch(const std::string& filter, const std::string& attribute) const {
    auto result = search(kBase, filter, {attribute});
    EXPECT_TRUE(result.ok()) << result.describe();
    return values_of(result.out, attribute);
  }

  // What `openssl <command> -inform DER ... <print>` says about `der`: the real tool's reading.
  std::string openssl_print(const std::string& command, const Bytes& der, const std::string& print) const {
    const auto file = m_dir.path() / "value.der";
    std::ofstream(file, std::ios::binary).write(reinterpret_cast<const char*>(der.data()), der.size());
    auto result = integration::run({"openssl", command, "-inform", "DER", "-in", file.string(), "-noout", print}, 30s);
    EXPECT_TRUE(result.ok()) << result.describe();
    return result.out;
  }

  testing::Slapd m_slapd;
  enrolld::testing::TempDir m_dir{"enrolld-ldap-test"};
  Pki m_pki = make_pki();
};

TEST_F(LdapPublisherTest, CaCertificatesCrlAndDeltaCrlLandUnderABaseThatDidNotExist) {
  ASSERT_EQ(search(kBase, "(objectClass=*)", {}, "base").exit_code, 32) << "the base must not exist yet";
  LdapPublisher publisher(options());
  EXPECT_EQ(publisher.name(), "ldap");
  const Bytes full = crl(m_pki, 7);
  const Bytes delta = crl(m_pki, 8, 7);
  for (const auto& item :
       {publication(Kind::kCaCertificate, "root", m_pki.root.get()),
        publication(Kind::kCaCertificate, "issuing", m_pki.issuing.get()), Publication{Kind::kCrl, "issuing", "", full},
        Publication{Kind::kDeltaCrl, "issuing", "", delta}}) {
    auto done = publisher.publish(item);
    ASSERT_TRUE(done) << item.name << ": " << done.error().message << "\n" << m_slapd.log();
  }

  EXPECT_EQ(fetch("(cn=root-ca)", "cACertificate;binary"), std::vector<Bytes>{ossl::der_of(m_pki.root.get())});
  const auto issuing = fetch("(cn=issuing-ca)", "cACertificate;binary");
  EXPECT_EQ(issuing, std::vector<Bytes>{ossl::der_of(m_pki.issuing.get())});
  EXPECT_EQ(fetch("(cn=issuing-ca)", "certificateRevocationList;binary"), std::vector<Bytes>{full});
  EXPECT_EQ(fetch("(cn=issuing-ca)", "deltaRevocationList;binary"), std::vector<Bytes>{delta});
  EXPECT_EQ(fetch("(cn=issuing-ca)", "description"), std::vector<Bytes>{to_bytes("CN=Test Issuing CA,O=Example")});
  // The classes a relying party filters on, and the base made as an organizationalUnit.
  auto classes = fetch("(cn=issuing-ca)", "objectClass");
  for (const char* name : {"applicationProcess", "pkiCA", "deltaCRL"}) {
    EXPECT_NE(std::find(classes.begin(), classes.end(), to_bytes(name)), classes.end()) << name;
  }
  auto base = search(kBase, "(objectClass=organizationalUnit)", {"ou"}, "base");
  EXPECT_TRUE(base.ok() && contains(base.out, "ou: pki")) << base.describe();

  if (!issuing.empty()) {
    EXPECT_EQ(openssl_print("x509", issuing.front(), "-subject"), "subject=O = Example, CN = Test Issuing CA\n");
  }
  EXPECT_EQ(openssl_print("crl", full, "-crlnumber"), "crlNumber=0x07\n");
}

TEST_F(LdapPublisherTest, ANewerCrlReplacesTheValue) {
  LdapPublisher publisher(options());
  ASSERT_TRUE(publisher.publish(Publication{Kind::kCrl, "issuing", "", crl(m_pki, 1)}));
  const Bytes newer = crl(m_pki, 2);
  auto done = publisher.publish(Publication{Kind::kCrl, "issuing", "", newer});
  ASSERT_TRUE(done) << done.error().message;
  const auto values = fetch("(cn=issuing-ca)", "certificateRevocationList;binary");
  ASSERT_EQ(values, std::vector<Bytes>{newer});
  EXPECT_EQ(openssl_print("crl", values.front(), "-crlnumber"), "crlNumber=0x02\n");
}

TEST_F(LdapPublisherTest, AnIssuedCertificateLandsUnderOuCertificatesWithItsSubjectAndIsReplaced) {
  LdapPublisher publisher(options());
  auto device_key = ossl::EvpPkeyPtr(::EVP_EC_gen("P-256"));
  auto first = certificate("device-1", 0x1a2b, device_key.get(), m_pki.issuing.get(), m_pki.issuing_key.get());
  auto second = certificate("device-1 renewed", 0x1a2b, device_key.get(), m_pki.issuing.get(), m_pki.issuing_key.get());
  auto dn = publisher.dn_for(publication(Kind::kCertificate, "1a2b", first.get()));
  ASSERT_TRUE(dn);
  EXPECT_EQ(*dn, "cn=1a2b,ou=certificates,ou=pki,dc=example,dc=org");

  ASSERT_TRUE(publisher.publish(publication(Kind::kCertificate, "1a2b", first.get())));
  auto done = publisher.publish(publication(Kind::kCertificate, "1a2b", second.get()));
  ASSERT_TRUE(done) << done.error().message;

  auto result = search("ou=certificates," + std::string(kBase), "(cn=1a2b)",
                       {"userCertificate;binary", "description", "objectClass"}, "one");
  ASSERT_TRUE(result.ok()) << result.describe();
  EXPECT_EQ(values_of(result.out, "userCertificate;binary"), std::vector<Bytes>{ossl::der_of(second.get())});
  EXPECT_EQ(values_of(result.out, "description"), std::vector<Bytes>{to_bytes("CN=device-1 renewed,O=Example")});
  EXPECT_TRUE(contains(result.out, "objectClass: pkiUser")) << result.out;
  auto certs = values_of(result.out, "userCertificate;binary");
  if (!certs.empty()) {
    EXPECT_EQ(openssl_print("x509", certs.front(), "-serial"), "serial=1A2B\n");
  }
}

TEST_F(LdapPublisherTest, AWrongPasswordIsConfigInvalidAndTheMessageHoldsNoPassword) {
  auto wrong = options();
  wrong.password = "not-the-password-4711";
  LdapPublisher publisher(wrong);
  auto done = publisher.publish(Publication{Kind::kCrl, "issuing", "", crl(m_pki, 1)});
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().code, ErrorCode::kConfigInvalid);
  EXPECT_NE(done.error().message.find("Invalid credentials"), std::string::npos) << done.error().message;
  EXPECT_NE(done.error().message.find(m_slapd.bind_dn()), std::string::npos) << done.error().message;
  EXPECT_EQ(done.error().message.find(wrong.password), std::string::npos) << done.error().message;
  EXPECT_EQ(done.error().message.find(m_slapd.password()), std::string::npos) << done.error().message;
}

TEST_F(LdapPublisherTest, AStoppedServerIsSystemUnavailableAndTheNextPublishAfterItsRestartWorks) {
  LdapPublisher publisher(options());
  ASSERT_TRUE(publisher.publish(Publication{Kind::kCrl, "issuing", "", crl(m_pki, 1)}));
  m_slapd.stop();
  for (int attempt = 0; attempt < 2; ++attempt) {  // on the old connection, then on none
    const auto started = std::chrono::steady_clock::now();
    auto done = publisher.publish(Publication{Kind::kCrl, "issuing", "", crl(m_pki, 2)});
    ASSERT_FALSE(done);
    EXPECT_EQ(done.error().code, ErrorCode::kSystemUnavailable) << done.error().message;
    EXPECT_LT(std::chrono::steady_clock::now() - started, kTimeout + 1s);
  }
  m_slapd.start();
  const Bytes third = crl(m_pki, 3);
  auto done = publisher.publish(Publication{Kind::kCrl, "issuing", "", third});
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_EQ(fetch("(cn=issuing-ca)", "certificateRevocationList;binary"), std::vector<Bytes>{third});
}

// RFC 4511 4.4.1: a server may end a connection on its own initiative; the publish after that
// finds the connection gone and makes a new one instead of failing.
TEST_F(LdapPublisherTest, AServerRestartBetweenPublishesFailsNoPublish) {
  LdapPublisher publisher(options());
  ASSERT_TRUE(publisher.publish(Publication{Kind::kCrl, "issuing", "", crl(m_pki, 1)}));
  m_slapd.stop();
  m_slapd.start();
  const Bytes second = crl(m_pki, 2);
  auto done = publisher.publish(Publication{Kind::kCrl, "issuing", "", second});
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_EQ(fetch("(cn=issuing-ca)", "certificateRevocationList;binary"), std::vector<Bytes>{second});
}

TEST_F(LdapPublisherTest, AServerThatNeverAnswersIsSystemUnavailableAfterTheTimeout) {
  SilentListener silent;
  auto hung = options();
  hung.url = "ldap://127.0.0.1:" + std::to_string(silent.port());
  hung.timeout = 1s;
  LdapPublisher publisher(hung);
  const auto started = std::chrono::steady_clock::now();
  auto done = publisher.publish(Publication{Kind::kCrl, "issuing", "", crl(m_pki, 1)});
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().code, ErrorCode::kSystemUnavailable) << done.error().message;
  EXPECT_GE(took, 900ms);
  EXPECT_LT(took, 4s);
}

// libldap writes with write(2): a reset connection raises SIGPIPE, whose default action would end
// the daemon. Repeated, since the reset must reach the client before its next write.
TEST_F(LdapPublisherTest, AConnectionResetIsSystemUnavailableAndNoSigpipeEndsTheProcess) {
  ASSERT_EQ(std::signal(SIGPIPE, SIG_DFL), SIG_DFL) << "the test needs SIGPIPE's default action";
  constexpr int kRounds = 10;
  ResettingServer server(kRounds);
  auto resetting = options();
  resetting.url = "ldap://127.0.0.1:" + std::to_string(server.port());
  {
    LdapPublisher publisher(resetting);
    for (int round = 0; round < kRounds; ++round) {
      auto done = publisher.publish(Publication{Kind::kCrl, "issuing", "", crl(m_pki, round + 1)});
      ASSERT_FALSE(done);
      EXPECT_EQ(done.error().code, ErrorCode::kSystemUnavailable) << done.error().message;
    }
  }
  EXPECT_EQ(server.served(), kRounds);
  ::sigset_t pending;
  ASSERT_EQ(::sigpending(&pending), 0);
  EXPECT_EQ(::sigismember(&pending, SIGPIPE), 0) << "a SIGPIPE was left pending";
}

TEST_F(LdapPublisherTest, ABaseUnderASuffixTheServerDoesNotHoldIsConfigInvalid) {
  LdapPublisher publisher(options("ou=pki,dc=nowhere,dc=org"));
  auto done = publisher.publish(publication(Kind::kCaCertificate, "issuing", m_pki.issuing.get()));
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().code, ErrorCode::kConfigInvalid) << done.error().message;
  EXPECT_NE(done.error().message.find("dc=nowhere,dc=org"), std::string::npos) << done.error().message;
}

TEST_F(LdapPublisherTest, ABaseWhoseParentIsMissingIsConfigInvalid) {
  LdapPublisher publisher(options("ou=pki,ou=missing,dc=example,dc=org"));
  auto done = publisher.publish(publication(Kind::kCaCertificate, "issuing", m_pki.issuing.get()));
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().code, ErrorCode::kConfigInvalid) << done.error().message;
  EXPECT_NE(done.error().message.find("cannot add ou=pki,ou=missing,dc=example,dc=org"), std::string::npos)
      << done.error().message;
  EXPECT_NE(done.error().message.find("No such object"), std::string::npos) << done.error().message;
}

TEST_F(LdapPublisherTest, AMissingBaseThatIsNotAnOuIsNotCreated) {
  LdapPublisher publisher(options("cn=pki,dc=example,dc=org"));
  auto done = publisher.publish(publication(Kind::kCaCertificate, "issuing", m_pki.issuing.get()));
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().code, ErrorCode::kConfigInvalid) << done.error().message;
  EXPECT_NE(done.error().message.find("cn=pki,dc=example,dc=org does not exist"), std::string::npos)
      << done.error().message;
  EXPECT_EQ(search("cn=pki,dc=example,dc=org", "(objectClass=*)", {}, "base").exit_code, 32);
}

TEST_F(LdapPublisherTest, AValueThatIsNotDerIsConfigInvalid) {
  LdapPublisher publisher(options());
  auto done = publisher.publish(Publication{Kind::kCrl, "issuing", "", to_bytes("not a CRL")});
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().code, ErrorCode::kConfigInvalid) << done.error().message;
  EXPECT_NE(done.error().message.find("cn=issuing-ca," + std::string(kBase)), std::string::npos)
      << done.error().message;
}

TEST_F(LdapPublisherTest, NamesThatDoNotFitOneRdnAreRefusedBeforeAnythingIsWritten) {
  LdapPublisher publisher(options());
  const Bytes der = ossl::der_of(m_pki.issuing.get());
  for (const auto& item :
       {Publication{Kind::kCertificate, "1a,ou=evil", "", der}, Publication{Kind::kCertificate, "1A2B", "", der},
        Publication{Kind::kCertificate, "", "", der}, Publication{Kind::kCaCertificate, "issuing-ca,cn=x", "", der},
        Publication{Kind::kCrl, "Devices", "", der}, Publication{Kind::kCrl, "devices ca", "", der},
        Publication{Kind::kCrl, "issuing", "", {}}}) {
    auto done = publisher.publish(item);
    ASSERT_FALSE(done) << item.name;
    EXPECT_EQ(done.error().code, ErrorCode::kSystemFailure) << item.name;
  }
  EXPECT_EQ(search(kBase, "(objectClass=*)", {}, "base").exit_code, 32);
}

}  // namespace
}  // namespace enrolld::publish
