#pragma once
// A CmpServer on the real stack: SoftHSM token, test CA, RocksDB store in a temp folder,
// EnrollmentServiceImpl, two shared secrets. No mocks.

#include <chrono>
#include <memory>

#include <gtest/gtest.h>

#include "cmp_test_util.h"
#include "protocols/cmp/cmp_server.h"
#include "protocols/cmp/failure_info.h"
#include "ra/enrollment_service_impl.h"
#include "ra/static_secrets.h"
#include "store/rocksdb/rocksdb_store.h"
#include "support/softhsm_fixture.h"
#include "support/temp_dir.h"

namespace enrolld::cmp::test {

inline constexpr const char* kReference = "device-1";
inline constexpr const char* kSecret = "secret-one-1234";
inline constexpr const char* kOtherReference = "device-2";
inline constexpr const char* kOtherSecret = "secret-two-5678";
inline constexpr const char* kSubject = "CN=device-1.example,O=Example";

inline std::unique_ptr<store::RocksDbStore> open_store(const enrolld::testing::TempDir& dir) {
  auto opened = store::RocksDbStore::open((dir.path() / "db").string());
  if (!opened) throw std::runtime_error("open store: " + opened.error().message);
  return std::move(*opened);
}

// A decoded reply: body type, status and failure bits in one place for assertions.
struct Reply {
  MsgPtr message;
  int body_type = -1;
  long status = -1;  // PKIStatus of the error / first CertResponse; -1 if none
  std::vector<int> bits;
  bool is_protected = false;
};

inline Reply read_reply(ByteView der) {
  Reply reply;
  reply.message = decode(der);
  if (!reply.message) return reply;
  reply.body_type = reply.message->body->type;
  const ECMP_PKISI* status = reply_status(*reply.message);
  if (status != nullptr) reply.status = ::ASN1_INTEGER_get(status->status);
  reply.bits = failure_bits(status);
  reply.is_protected = reply.message->protection != nullptr && reply.message->header->protectionAlg != nullptr;
  return reply;
}

class CmpServerTest : public ::testing::Test {
 protected:
  // Handles `request`; a failure of handle() itself (not a CMP error reply) fails the test.
  Bytes send(const Bytes& request) {
    auto reply = server.handle(request, CmpRequestContext{"", "test"});
    EXPECT_TRUE(reply) << reply.error().message;
    return reply ? *reply : Bytes{};
  }

  // A transport that hands every request to the server.
  CmpClient::Transport to_server() {
    return [this](const Bytes& request) -> std::optional<Bytes> {
      auto reply = server.handle(request, CmpRequestContext{"", "test"});
      if (!reply) return std::nullopt;
      return *reply;
    };
  }

  // A transport that hands the first `count` requests to the server and only captures the rest.
  CmpClient::Transport to_server_first(std::size_t count) {
    auto forward = to_server();
    auto seen = std::make_shared<std::size_t>(0);
    return [forward, seen, count](const Bytes& request) -> std::optional<Bytes> {
      if ((*seen)++ >= count) return std::nullopt;
      return forward(request);
    };
  }

  std::unique_ptr<CmpClient> client(CmpClient::Transport transport, const std::string& reference = kReference,
                                    const std::string& secret = kSecret, const std::string& subject = kSubject) {
    return std::make_unique<CmpClient>(reference, secret, subject, std::move(transport));
  }

  // An ir from OpenSSL's client that the server has not seen.
  Bytes fresh_ir(const std::string& subject = kSubject) {
    auto c = client(capture_only(), kReference, kSecret, subject);
    EXPECT_EQ(c->exec_ir(), nullptr);
    EXPECT_EQ(c->sent().size(), 1U);
    return c->sent().empty() ? Bytes{} : c->sent().front();
  }

  std::vector<store::CertificateRecord> certificates() {
    auto listed = store->list_certificates(100);
    EXPECT_TRUE(listed) << listed.error().message;
    return listed ? *listed : std::vector<store::CertificateRecord>{};
  }

  std::optional<ra::TransactionView> transaction(const Bytes& transaction_id) {
    auto found = service.find(to_hex(transaction_id));
    EXPECT_TRUE(found);
    return found ? *found : std::nullopt;
  }

  static Bytes secret(const char* text) { return to_bytes(text); }

  enrolld::testing::SoftHsmToken token;
  enrolld::testing::TestCa ca = enrolld::testing::make_test_ca(token);
  enrolld::testing::TempDir store_dir{"enrolld-cmp-store"};
  std::unique_ptr<store::RocksDbStore> store = open_store(store_dir);
  std::chrono::seconds clock_advance{0};  // moves the service's clock forward
  ra::EnrollmentServiceImpl service{*store, *ca.issuing, {ca::Profile{}}, ra::Policy{}, [this] {
                                      return std::chrono::system_clock::now() + clock_advance;
                                    }};
  ra::StaticSharedSecrets secrets{{{kReference, to_bytes(kSecret)}, {kOtherReference, to_bytes(kOtherSecret)}}};
  // Where this test CA says it publishes its CRL (crlStatusList sources may name it).
  static constexpr const char* kCrlUrl = "http://pki.example/issuing.crl";
  static CmpServerOptions server_options() {
    CmpServerOptions options;
    options.crl_urls = {{ca::kFirstIssuingCa, {kCrlUrl}}};
    return options;
  }
  CmpServer server{service, secrets, server_options()};
};

}  // namespace enrolld::cmp::test
