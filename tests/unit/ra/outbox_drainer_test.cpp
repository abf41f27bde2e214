// The outbox on the real stack (RocksDB, a real DirectoryPublisher): issuance and CRL signing
// only queue what the publishers need; a publisher that cannot write keeps it, backs off, and
// catches up when it can write again; a newer CRL replaces an older one still waiting; a round
// flushes once, and its records are done only after the flush.
#include "ra/outbox_drainer.h"

#include <fstream>

#include <gtest/gtest.h>

#include "publish/directory_publisher.h"
#include "ra/enrollment_service_impl.h"
#include "store/rocksdb/rocksdb_store.h"
#include "support/softhsm_fixture.h"

namespace enrolld::ra {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// What a publisher saw of the drainer: its calls, and how many records the store still listed
// at each flush.
struct Observations {
  int publishes = 0;
  int flushes = 0;
  std::vector<std::size_t> waiting_at_flush;
  bool fail_flush = false;
};

// The real DirectoryPublisher, watched; its flush fails on request (a disk that lost the writes).
class ObservedPublisher final : public publish::Publisher {
 public:
  ObservedPublisher(const fs::path& root, store::Store& store, Observations& seen)
      : m_inner(root), m_store(store), m_seen(seen) {}
  const std::string& name() const override { return m_inner.name(); }
  Status publish(const publish::Publication& item) override {
    ++m_seen.publishes;
    return m_inner.publish(item);
  }
  Status flush() override {
    ++m_seen.flushes;
    auto waiting = m_store.list_outbox(name(), 100);
    m_seen.waiting_at_flush.push_back(waiting ? waiting->size() : 0);
    if (m_seen.fail_flush) return fail(ErrorCode::kSystemUnavailable, "injected: the disk lost the writes");
    return m_inner.flush();
  }

 private:
  publish::DirectoryPublisher m_inner;
  store::Store& m_store;
  Observations& m_seen;
};

class OutboxDrainerTest : public ::testing::Test {
 protected:
  static Policy publishing_everything() {
    Policy policy;
    policy.crl.publishers = {"directory"};
    policy.certificate_publishers = {"directory"};
    return policy;
  }

  std::string enroll(const std::string& subject) {
    CertificationRequest request;
    request.transaction_id_hex = to_hex(random_bytes(16));
    request.requester = Requester{"mac:tester", ""};
    request.subject_der = testing::name_der(subject);
    request.public_key_der = testing::public_key_der(key.get());
    request.fingerprint = random_bytes(32);
    request.confirmation_supported = false;
    std::string serial;
    auto reply = service.submit(request, {}, [&](const Decision& decision) -> Result<Bytes> {
      auto cert = ossl::x509_from_der(std::get<IssuedCertificate>(decision).certificate_der);
      serial = ossl::integer_hex(::X509_get0_serialNumber(cert->get()));
      return to_bytes("reply");
    });
    EXPECT_TRUE(reply) << (reply ? "" : reply.error().message);
    return serial;
  }

  OutboxDrainer drainer_into(const fs::path& root) {
    std::vector<std::unique_ptr<publish::Publisher>> publishers;
    publishers.push_back(std::make_unique<publish::DirectoryPublisher>(root));
    return OutboxDrainer(*store, std::move(publishers), clock);
  }

  OutboxDrainer observed_drainer_into(const fs::path& root, Observations& seen) {
    std::vector<std::unique_ptr<publish::Publisher>> publishers;
    publishers.push_back(std::make_unique<ObservedPublisher>(root, *store, seen));
    return OutboxDrainer(*store, std::move(publishers), clock);
  }

  std::size_t waiting(OutboxDrainer& drainer) {
    auto backlog = drainer.backlog();
    EXPECT_TRUE(backlog) << (backlog ? "" : backlog.error().message);
    return backlog && !backlog->empty() ? backlog->front().waiting : 0;
  }

  testing::SoftHsmToken token;
  testing::TestCa ca = testing::make_test_ca(token);
  testing::TempDir dir{"enrolld-outbox-test"};
  std::unique_ptr<store::RocksDbStore> store = std::move(*store::RocksDbStore::open((dir.path() / "db").string()));
  std::chrono::seconds advance{0};
  Clock clock = [this] { return std::chrono::system_clock::now() + advance; };
  EnrollmentServiceImpl service{*store, *ca.issuing, {ca::Profile{}}, publishing_everything(), clock};
  ossl::EvpPkeyPtr key = testing::make_ec_key();
};

TEST_F(OutboxDrainerTest, IssuedCertificatesAndCrlsReachTheDirectory) {
  const std::string serial = enroll("CN=published");
  ASSERT_TRUE(service.current_crl(ca::kFirstIssuingCa));
  const fs::path www = dir.path() / "www";
  OutboxDrainer drainer = drainer_into(www);
  EXPECT_EQ(waiting(drainer), 2U) << "the certificate and the CRL";
  auto published = drainer.drain_once();
  ASSERT_TRUE(published) << published.error().message;
  EXPECT_EQ(*published, 2U);
  EXPECT_EQ(waiting(drainer), 0U);
  auto cert = store->find_certificate(serial);
  ASSERT_TRUE(cert && *cert);
  const std::string cert_file = read_file(www / "certs" / (serial + ".crt"));
  EXPECT_EQ(Bytes(cert_file.begin(), cert_file.end()), (*cert)->der);
  const std::string crl_file = read_file(www / "issuing.crl");
  EXPECT_EQ(Bytes(crl_file.begin(), crl_file.end()), service.current_crl(ca::kFirstIssuingCa)->der);
}

// The publisher cannot write (its folder would be below a regular file); it backs off, keeps
// everything, and catches up with the newest CRL once it can write again.
TEST_F(OutboxDrainerTest, APublisherThatCannotWriteBacksOffAndCatchesUp) {
  const fs::path blocker = dir.path() / "blocker";
  { std::ofstream(blocker) << "a file where the folder should be"; }
  OutboxDrainer drainer = drainer_into(blocker / "www");
  enroll("CN=while-down");
  ASSERT_TRUE(service.current_crl(ca::kFirstIssuingCa));
  auto first = drainer.drain_once();
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(*first, 0U);
  auto backlog = drainer.backlog();
  ASSERT_TRUE(backlog);
  EXPECT_EQ(backlog->front().waiting, 2U);
  EXPECT_EQ(backlog->front().attempts, 1);  // the first record; the second was not tried
  EXPECT_FALSE(backlog->front().last_error.empty());
  EXPECT_GT(backlog->front().oldest_created_at, 0);

  // Within the back-off nothing is tried again: the publisher, not only the record, waits.
  ASSERT_TRUE(drainer.drain_once());
  auto records = store->list_outbox("directory", 10);
  ASSERT_TRUE(records);
  int attempts = 0;
  for (const auto& record : *records) attempts += record.attempts;
  EXPECT_EQ(attempts, 1) << "one record tried once, the other not at all";

  // A revocation meanwhile: the newer CRL replaces the one waiting.
  const std::string revoked = enroll("CN=revoked-while-down");
  ASSERT_TRUE(service.revoke({to_hex(random_bytes(16)), Requester{"mac:tester", ""}, revoked, {}, 1}));
  advance += std::chrono::seconds(2);
  const Bytes newest = service.current_crl(ca::kFirstIssuingCa)->der;
  EXPECT_EQ(waiting(drainer), 3U) << "two certificates and one CRL";

  fs::remove(blocker);
  advance += std::chrono::seconds(5);  // past the back-off
  auto caught_up = drainer.drain_once();
  ASSERT_TRUE(caught_up) << caught_up.error().message;
  EXPECT_EQ(*caught_up, 3U);
  EXPECT_EQ(waiting(drainer), 0U);
  const std::string crl_file = read_file(blocker / "www" / "issuing.crl");
  EXPECT_EQ(Bytes(crl_file.begin(), crl_file.end()), newest);
  const std::unique_ptr<::X509_CRL, ossl::Deleter<::X509_CRL_free>> crl([&] {
    const unsigned char* p = newest.data();
    return ::d2i_X509_CRL(nullptr, &p, static_cast<long>(newest.size()));
  }());
  ASSERT_TRUE(crl);
  ASSERT_EQ(sk_X509_REVOKED_num(::X509_CRL_get_REVOKED(crl.get())), 1) << "the newest CRL lists the revocation";
}

// Many records, one flush: the store still lists them all when it happens, and none after.
TEST_F(OutboxDrainerTest, ARoundFlushesOnceAndItsRecordsAreDoneOnlyAfterTheFlush) {
  for (int i = 0; i < 3; ++i) enroll("CN=batched-" + std::to_string(i));
  ASSERT_TRUE(service.current_crl(ca::kFirstIssuingCa));
  Observations seen;
  OutboxDrainer drainer = observed_drainer_into(dir.path() / "www", seen);
  auto published = drainer.drain_once();
  ASSERT_TRUE(published) << published.error().message;
  EXPECT_EQ(*published, 4U) << "three certificates and the CRL";
  EXPECT_EQ(seen.publishes, 4);
  EXPECT_EQ(seen.flushes, 1);
  EXPECT_EQ(seen.waiting_at_flush, std::vector<std::size_t>{4});
  EXPECT_EQ(waiting(drainer), 0U);
  EXPECT_TRUE(fs::exists(dir.path() / "www" / "issuing.crl"));

  auto idle = drainer.drain_once();
  ASSERT_TRUE(idle);
  EXPECT_EQ(*idle, 0U);
  EXPECT_EQ(seen.flushes, 1) << "nothing published, nothing flushed";
}

// A flush that fails undoes the round: every record of it stays, counts an attempt, and the
// publisher backs off; once the flush works again everything is published.
TEST_F(OutboxDrainerTest, AFailedFlushKeepsTheRoundsRecordsAndBacksOff) {
  enroll("CN=flush-fails");
  ASSERT_TRUE(service.current_crl(ca::kFirstIssuingCa));
  Observations seen;
  seen.fail_flush = true;
  OutboxDrainer drainer = observed_drainer_into(dir.path() / "www", seen);
  auto first = drainer.drain_once();
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(*first, 0U);
  EXPECT_EQ(seen.publishes, 2);
  auto records = store->list_outbox("directory", 10);
  ASSERT_TRUE(records);
  ASSERT_EQ(records->size(), 2U);
  for (const auto& record : *records) {
    EXPECT_EQ(record.attempts, 1) << record.name;
    EXPECT_NE(record.last_error.find("injected"), std::string::npos) << record.last_error;
  }

  ASSERT_TRUE(drainer.drain_once());
  EXPECT_EQ(seen.publishes, 2) << "within the back-off the publisher is left alone";

  seen.fail_flush = false;
  advance += std::chrono::seconds(5);  // past the back-off
  auto caught_up = drainer.drain_once();
  ASSERT_TRUE(caught_up) << caught_up.error().message;
  EXPECT_EQ(*caught_up, 2U);
  EXPECT_EQ(waiting(drainer), 0U);
}

TEST_F(OutboxDrainerTest, WithoutCertificatePublishingOnlyCrlsAreQueued) {
  Policy crls_only;
  crls_only.crl.publishers = {"directory"};
  EnrollmentServiceImpl quiet{*store, *ca.issuing, {ca::Profile{}}, crls_only, clock};
  CertificationRequest request;
  request.transaction_id_hex = to_hex(random_bytes(16));
  request.requester = Requester{"mac:tester", ""};
  request.subject_der = testing::name_der("CN=not-published");
  request.public_key_der = testing::public_key_der(key.get());
  request.fingerprint = random_bytes(32);
  ASSERT_TRUE(quiet.submit(request, {}, [](const Decision&) -> Result<Bytes> { return to_bytes("r"); }));
  OutboxDrainer drainer = drainer_into(dir.path() / "www");
  EXPECT_EQ(waiting(drainer), 0U);
  ASSERT_TRUE(quiet.current_crl(ca::kFirstIssuingCa));
  EXPECT_EQ(waiting(drainer), 1U);
}

}  // namespace
}  // namespace enrolld::ra
