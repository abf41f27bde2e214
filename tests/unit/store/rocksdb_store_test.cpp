#include "store/rocksdb/rocksdb_store.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/options_util.h>

#include "store/records.h"
#include "support/temp_dir.h"

namespace enrolld::store {
namespace {

using enrolld::testing::TempDir;

CertificateRecord certificate(const std::string& serial) {
  CertificateRecord r;
  r.serial_hex = serial;
  r.issuer = "CN=Issuing CA,O=Example,C=DE";
  r.subject = "CN=device-" + serial + ",O=Example Zürich,C=CH";
  r.der = {0x30, 0x82, 0x00, 0x00, 0xff, 0x00, 0x01};
  r.not_before = 1'700'000'000;
  r.not_after = 1'731'536'000;
  r.issued_at = 1'700'000'123;
  r.transaction_id_hex = "t-" + serial;
  r.requester = "CN=requester,O=Example";
  r.status = "valid";
  return r;
}

TransactionRecord transaction(const std::string& id) {
  TransactionRecord r;
  r.id_hex = id;
  r.protocol = "cmp";
  r.state = "waiting-for-confirmation";
  r.requester = "ref:device-42";
  r.profile = "tls-client";
  r.certificate_serial_hex = "0badc0de";
  r.request_fingerprint = Bytes(32, 0xab);
  r.last_response = {0x30, 0x03, 0x02, 0x01, 0x00, 0x00};
  r.protocol_state = {0x00, 0xff, 0x7f, 0x80};
  r.created_at = 1'700'000'000;
  r.updated_at = 1'700'000'050;
  r.deadline = std::numeric_limits<std::int64_t>::max();
  r.open = true;
  r.held_request = {0xa1, 0x00, 0xff};
  r.decided_by = "officer:alice";
  r.decision_note = "subject not in the fleet register";
  return r;
}

// The store's database opened through RocksDB itself, with every family it has: for tests that
// look at, or take apart, what the store wrote.
class RawDatabase {
 public:
  explicit RawDatabase(const std::string& path) {
    rocksdb::DBOptions options;
    EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(options, path, &m_names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const auto& name : m_names) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
    rocksdb::DB* raw = nullptr;
    EXPECT_TRUE(rocksdb::DB::Open(options, path, descriptors, &m_handles, &raw).ok());
    m_db.reset(raw);
  }
  ~RawDatabase() {
    for (auto* handle : m_handles) m_db->DestroyColumnFamilyHandle(handle);
  }
  rocksdb::DB& db() { return *m_db; }
  rocksdb::ColumnFamilyHandle* family(const std::string& name) {
    return m_handles.at(static_cast<std::size_t>(std::find(m_names.begin(), m_names.end(), name) - m_names.begin()));
  }
  std::vector<std::string> keys(const std::string& name) {
    std::vector<std::string> out;
    std::unique_ptr<rocksdb::Iterator> it(m_db->NewIterator(rocksdb::ReadOptions(), family(name)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) out.push_back(it->key().ToString());
    return out;
  }

 private:
  std::vector<std::string> m_names;
  std::vector<rocksdb::ColumnFamilyHandle*> m_handles;
  std::unique_ptr<rocksdb::DB> m_db;
};

class RocksDbStoreTest : public ::testing::Test {
 protected:
  std::string db_path() const { return (m_dir.path() / "db").string(); }

  std::unique_ptr<RocksDbStore> open(RocksDbStore::Mode mode = RocksDbStore::Mode::kReadWrite) {
    auto store = RocksDbStore::open(db_path(), mode);
    EXPECT_TRUE(store.has_value()) << (store ? "" : store.error().message);
    return store ? std::move(*store) : nullptr;
  }

  // A database as an older store wrote it: only `families` (in the store's order, from
  // "default"), and `transactions` with the open ones in the open index.
  void write_older_store(const std::vector<std::string>& families, const std::vector<TransactionRecord>& transactions) {
    rocksdb::DBOptions options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const auto& family : families) descriptors.emplace_back(family, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, db_path(), descriptors, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    for (const auto& txn : transactions) {
      const Bytes record = encode(txn);
      EXPECT_TRUE(db->Put(rocksdb::WriteOptions(), handles[2], txn.id_hex,
                          rocksdb::Slice(reinterpret_cast<const char*>(record.data()), record.size()))
                      .ok());
      if (txn.open) {
        EXPECT_TRUE(db->Put(rocksdb::WriteOptions(), handles[4], txn.id_hex, rocksdb::Slice()).ok());
      }
    }
    for (auto* handle : handles) db->DestroyColumnFamilyHandle(handle);
  }

  TempDir m_dir{"enrolld-store-test"};
};

TEST_F(RocksDbStoreTest, TransactionRoundTripKeepsEveryField) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  const TransactionRecord record = transaction("00112233");
  ASSERT_TRUE(store->commit(WriteSet{{record}, {}, {}, {}, {}, {}}).has_value());
  auto found = store->find_transaction("00112233");
  ASSERT_TRUE(found.has_value()) << found.error().message;
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(**found, record);
}

TEST_F(RocksDbStoreTest, TransactionRoundTripWithEmptyAndNegativeValues) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  TransactionRecord record;
  record.id_hex = "ff";
  record.created_at = -1;
  record.updated_at = std::numeric_limits<std::int64_t>::min();
  ASSERT_TRUE(store->commit(WriteSet{{record}, {}, {}, {}, {}, {}}).has_value());
  auto found = store->find_transaction("ff");
  ASSERT_TRUE(found.has_value()) << found.error().message;
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(**found, record);
}

TEST_F(RocksDbStoreTest, CertificateRoundTripKeepsEveryField) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  CertificateRecord record = certificate("0a1b2c3d4e5f");
  record.status = "revoked";  // not the default, so it must really be read back
  ASSERT_TRUE(store->commit(WriteSet{{}, {record}, {}, {}, {}, {}}).has_value());
  auto found = store->find_certificate("0a1b2c3d4e5f");
  ASSERT_TRUE(found.has_value()) << found.error().message;
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(**found, record);
  auto taken = store->serial_taken("0a1b2c3d4e5f");
  ASSERT_TRUE(taken.has_value());
  EXPECT_TRUE(*taken);
}

TEST_F(RocksDbStoreTest, OneCommitWritesTransactionsAndCertificatesTogether) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  const auto txn = transaction("aa");
  const auto cert = certificate("01");
  ASSERT_TRUE(store->commit(WriteSet{{txn}, {cert}, {}, {}, {}, {}}).has_value());
  auto found_txn = store->find_transaction("aa");
  auto found_cert = store->find_certificate("01");
  ASSERT_TRUE(found_txn.has_value() && found_txn->has_value());
  ASSERT_TRUE(found_cert.has_value() && found_cert->has_value());
  EXPECT_EQ(**found_txn, txn);
  EXPECT_EQ(**found_cert, cert);
}

TEST_F(RocksDbStoreTest, EmptyWriteSetSucceeds) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->commit(WriteSet{}).has_value());
  auto list = store->list_certificates(10);
  ASSERT_TRUE(list.has_value());
  EXPECT_TRUE(list->empty());
}

TEST_F(RocksDbStoreTest, FindOnAbsentKeysReturnsNullopt) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto txn = store->find_transaction("deadbeef");
  ASSERT_TRUE(txn.has_value());
  EXPECT_FALSE(txn->has_value());
  auto cert = store->find_certificate("deadbeef");
  ASSERT_TRUE(cert.has_value());
  EXPECT_FALSE(cert->has_value());
  auto taken = store->serial_taken("deadbeef");
  ASSERT_TRUE(taken.has_value());
  EXPECT_FALSE(*taken);
}

TEST_F(RocksDbStoreTest, TransactionsAndCertificatesHaveSeparateKeySpaces) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->commit(WriteSet{{transaction("0102")}, {certificate("0304")}, {}, {}, {}, {}}).has_value());
  auto cert = store->find_certificate("0102");
  ASSERT_TRUE(cert.has_value());
  EXPECT_FALSE(cert->has_value());
  auto taken = store->serial_taken("0102");
  ASSERT_TRUE(taken.has_value());
  EXPECT_FALSE(*taken);
  auto txn = store->find_transaction("0304");
  ASSERT_TRUE(txn.has_value());
  EXPECT_FALSE(txn->has_value());
}

TEST_F(RocksDbStoreTest, KeysMatchExactlyNotByPrefix) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->commit(WriteSet{{transaction("abcd")}, {certificate("abcd")}, {}, {}, {}, {}}).has_value());
  for (const char* key : {"abc", "abcde", "ABCD", ""}) {
    auto txn = store->find_transaction(key);
    ASSERT_TRUE(txn.has_value());
    EXPECT_FALSE(txn->has_value()) << key;
    auto cert = store->find_certificate(key);
    ASSERT_TRUE(cert.has_value());
    EXPECT_FALSE(cert->has_value()) << key;
  }
}

TEST_F(RocksDbStoreTest, TransactionIsReplacedOnSecondCommit) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto record = transaction("77");
  ASSERT_TRUE(store->commit(WriteSet{{record}, {}, {}, {}, {}, {}}).has_value());
  record.state = "confirmed";
  record.updated_at += 10;
  record.last_response = {0x01};
  ASSERT_TRUE(store->commit(WriteSet{{record}, {}, {}, {}, {}, {}}).has_value());
  auto found = store->find_transaction("77");
  ASSERT_TRUE(found.has_value() && found->has_value());
  EXPECT_EQ(**found, record);
}

std::vector<std::string> ids_of(const std::vector<TransactionRecord>& records) {
  std::vector<std::string> ids;
  for (const auto& r : records) ids.push_back(r.id_hex);
  return ids;
}

TEST_F(RocksDbStoreTest, OpenTransactionsAreListedUntilTheyClose) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto waiting = transaction("02");
  auto finished = transaction("01");
  finished.open = false;
  auto held = transaction("03");
  ASSERT_TRUE(store->commit(WriteSet{{waiting, finished, held}, {}, {}, {}, {}, {}}).has_value());
  auto listed = store->list_open_transactions(10);
  ASSERT_TRUE(listed.has_value()) << listed.error().message;
  EXPECT_EQ(ids_of(*listed), (std::vector<std::string>{"02", "03"}));
  EXPECT_EQ(listed->front(), waiting);  // whole records, not just IDs

  auto limited = store->list_open_transactions(1);
  ASSERT_TRUE(limited.has_value());
  EXPECT_EQ(ids_of(*limited), (std::vector<std::string>{"02"}));

  waiting.open = false;  // e.g. confirmed
  ASSERT_TRUE(store->commit(WriteSet{{waiting}, {}, {}, {}, {}, {}}).has_value());
  listed = store->list_open_transactions(10);
  ASSERT_TRUE(listed.has_value());
  EXPECT_EQ(ids_of(*listed), (std::vector<std::string>{"03"}));
}

// The approval queue's index: open transactions with a held request, and only while open.
TEST_F(RocksDbStoreTest, HeldTransactionsAreListedWhileOpen) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto unheld = transaction("01");
  unheld.held_request.clear();
  auto held = transaction("02");
  auto decided = transaction("03");
  decided.open = false;
  auto also_held = transaction("04");
  ASSERT_TRUE(store->commit(WriteSet{{unheld, held, decided, also_held}, {}, {}, {}, {}, {}}).has_value());
  auto listed = store->list_held_transactions(10);
  ASSERT_TRUE(listed.has_value()) << listed.error().message;
  EXPECT_EQ(ids_of(*listed), (std::vector<std::string>{"02", "04"}));
  EXPECT_EQ(listed->front(), held);  // whole records, not just IDs
  EXPECT_EQ(ids_of(*store->list_held_transactions(1)), (std::vector<std::string>{"02"}));

  held.open = false;  // e.g. issued and confirmed
  ASSERT_TRUE(store->commit(WriteSet{{held}, {}, {}, {}, {}, {}}).has_value());
  listed = store->list_held_transactions(10);
  ASSERT_TRUE(listed.has_value());
  EXPECT_EQ(ids_of(*listed), (std::vector<std::string>{"04"}));
  EXPECT_EQ(ids_of(*store->list_open_transactions(10)), (std::vector<std::string>{"01", "04"}));
}

// The deadline sweep reads only what is overdue, earliest first: not a pass over every open
// transaction.
TEST_F(RocksDbStoreTest, OverdueTransactionsAreListedEarliestDeadlineFirst) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto with_deadline = [](const std::string& id, std::int64_t deadline, bool open) {
    auto txn = transaction(id);
    txn.deadline = deadline;
    txn.open = open;
    return txn;
  };
  ASSERT_TRUE(store
                  ->commit(WriteSet{
                      {with_deadline("0a", 100, true), with_deadline("0b", 50, true), with_deadline("0c", 300, true),
                       with_deadline("0d", 0, true), with_deadline("0e", 60, false)},
                      {},
                      {},
                      {},
                      {},
                      {}})
                  .has_value());
  auto overdue = store->list_overdue_transactions(200, 10);
  ASSERT_TRUE(overdue.has_value()) << overdue.error().message;
  EXPECT_EQ(ids_of(*overdue), (std::vector<std::string>{"0b", "0a"}));
  EXPECT_EQ(overdue->front(), with_deadline("0b", 50, true));  // whole records
  EXPECT_EQ(ids_of(*store->list_overdue_transactions(200, 1)), (std::vector<std::string>{"0b"}));
  EXPECT_TRUE(store->list_overdue_transactions(50, 10)->empty()) << "due at 50 is overdue after 50";
  EXPECT_EQ(ids_of(*store->list_overdue_transactions(std::numeric_limits<std::int64_t>::max(), 10)),
            (std::vector<std::string>{"0b", "0a", "0c"}));
}

// A transaction that moves to a later deadline is overdue at that one only, once closed it is
// never listed, and the entries of earlier deadlines are removed as the listing meets them.
TEST_F(RocksDbStoreTest, OverdueListingFollowsTheTransactionsCurrentDeadline) {
  {
    auto store = open();
    ASSERT_NE(store, nullptr);
    auto txn = transaction("0a");
    txn.deadline = 100;
    ASSERT_TRUE(store->commit(WriteSet{{txn}, {}, {}, {}, {}, {}}).has_value());
    txn.deadline = 500;
    ASSERT_TRUE(store->commit(WriteSet{{txn}, {}, {}, {}, {}, {}}).has_value());
    EXPECT_TRUE(store->list_overdue_transactions(200, 10)->empty());
    EXPECT_EQ(ids_of(*store->list_overdue_transactions(600, 10)), (std::vector<std::string>{"0a"})) << "once";
    txn.open = false;
    txn.deadline = 0;
    ASSERT_TRUE(store->commit(WriteSet{{txn}, {}, {}, {}, {}, {}}).has_value());
    EXPECT_TRUE(store->list_overdue_transactions(600, 10)->empty());
  }
  RawDatabase raw(db_path());
  EXPECT_TRUE(raw.keys("deadlines").empty()) << "both earlier entries were met and removed";
}

// A store from before the deadline index: the first read-write open fills it from the open
// transactions, so one that was waiting back then still expires.
TEST_F(RocksDbStoreTest, AStoreWithoutTheDeadlineIndexGetsItFilledOnOpen) {
  auto due = transaction("0b");
  due.deadline = 1000;
  auto closed = transaction("0c");
  closed.deadline = 1000;
  closed.open = false;
  write_older_store({"default", "certificates", "transactions", "audit", "open-transactions", "revoked", "passwords",
                     "crls", "outbox", "held-transactions"},
                    {due, closed});
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto overdue = store->list_overdue_transactions(2000, 10);
  ASSERT_TRUE(overdue.has_value()) << overdue.error().message;
  EXPECT_EQ(ids_of(*overdue), (std::vector<std::string>{"0b"}));
}

TEST_F(RocksDbStoreTest, OpenIndexSurvivesReopen) {
  {
    auto store = open();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->commit(WriteSet{{transaction("aa")}, {}, {}, {}, {}, {}}).has_value());
  }
  auto store = open(RocksDbStore::Mode::kReadOnly);
  ASSERT_NE(store, nullptr);
  auto listed = store->list_open_transactions(10);
  ASSERT_TRUE(listed.has_value());
  EXPECT_EQ(ids_of(*listed), (std::vector<std::string>{"aa"}));
}

TEST_F(RocksDbStoreTest, RevokedCertificatesAreListedFromTheirRevocationOn) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto born_revoked = certificate("03");
  born_revoked.status = "revoked";
  ASSERT_TRUE(
      store->commit(WriteSet{{}, {certificate("01"), certificate("02"), born_revoked}, {}, {}, {}, {}}).has_value());
  auto listed = store->list_revoked(10);
  ASSERT_TRUE(listed.has_value()) << listed.error().message;
  ASSERT_EQ(listed->size(), 1U);
  EXPECT_EQ(listed->front(), born_revoked);  // whole records, not just serials

  auto later = certificate("01");
  later.status = "revoked";
  later.revoked_at = 1700000000;
  later.revocation_reason = 1;
  ASSERT_TRUE(store->commit(WriteSet{{}, {}, {later}, {}, {}, {}}).has_value());
  listed = store->list_revoked(10);
  ASSERT_TRUE(listed.has_value());
  ASSERT_EQ(listed->size(), 2U);
  EXPECT_EQ(listed->front(), later);  // serial order
  EXPECT_EQ(listed->back().serial_hex, "03");
  auto limited = store->list_revoked(1);
  ASSERT_TRUE(limited.has_value());
  EXPECT_EQ(limited->size(), 1U);
}

// A hold lifted (status valid again) keeps the certificate listed, with hold_released_at, so
// that delta CRLs can say removeFromCRL.
TEST_F(RocksDbStoreTest, ACertificateReleasedFromHoldStaysListedWithItsReleaseTime) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto held = certificate("0a");
  held.status = "revoked";
  held.revocation_reason = 6;
  held.revoked_at = 1'700'000'000;
  ASSERT_TRUE(store->commit(WriteSet{{}, {held}, {}, {}, {}, {}}).has_value());
  auto released = certificate("0a");
  released.hold_released_at = 1'700'000'100;
  ASSERT_TRUE(store->commit(WriteSet{{}, {}, {released}, {}, {}, {}}).has_value());
  auto listed = store->list_revoked(10);
  ASSERT_TRUE(listed.has_value()) << listed.error().message;
  ASSERT_EQ(listed->size(), 1U);
  EXPECT_EQ(listed->front(), released);
  EXPECT_EQ((*store->find_certificate("0a"))->hold_released_at, 1'700'000'100);
}

TEST_F(RocksDbStoreTest, CrlRecordsAreKeptByKindAndSurviveReopen) {
  CrlRecord full{"full", 41, 0, 1'700'000'000, 1'700'086'400, Bytes(32, 0x11), {0x30, 0x01, 0x00}};
  CrlRecord delta{"delta", 42, 41, 1'700'000'060, 1'700'003'660, Bytes(32, 0x22), {0x30, 0x01, 0x01}};
  {
    auto store = open();
    ASSERT_NE(store, nullptr);
    EXPECT_FALSE(store->find_crl("full")->has_value());
    WriteSet writes;
    writes.crls = {full, delta};
    ASSERT_TRUE(store->commit(writes).has_value());
    full.number = 43;
    writes.crls = {full};
    ASSERT_TRUE(store->commit(writes).has_value());  // replaced, by kind
  }
  auto store = open(RocksDbStore::Mode::kReadOnly);
  ASSERT_NE(store, nullptr);
  auto found_full = store->find_crl("full");
  auto found_delta = store->find_crl("delta");
  ASSERT_TRUE(found_full && *found_full);
  ASSERT_TRUE(found_delta && *found_delta);
  EXPECT_EQ(**found_full, full);
  EXPECT_EQ(**found_delta, delta);
}

OutboxRecord outbox_item(const std::string& publisher, const std::string& kind, const std::string& name) {
  OutboxRecord r;
  r.publisher = publisher;
  r.kind = kind;
  r.name = name;
  r.der = {0x30, 0x00};
  r.created_at = 1'700'000'000;
  return r;
}

TEST_F(RocksDbStoreTest, OutboxRecordsAreListedPerPublisherAndANewerOneReplacesTheOlder) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  WriteSet writes;
  writes.outbox = {outbox_item("ldap", "crl", "issuing"), outbox_item("directory", "crl", "issuing"),
                   outbox_item("ldap", "certificate", "0a")};
  ASSERT_TRUE(store->commit(writes).has_value());
  auto ldap = store->list_outbox("ldap", 10);
  ASSERT_TRUE(ldap.has_value()) << ldap.error().message;
  ASSERT_EQ(ldap->size(), 2U);
  EXPECT_EQ(ldap->at(0).kind, "certificate");  // key order: kind, then name
  EXPECT_NE(ldap->at(0).version, ldap->at(1).version);
  EXPECT_EQ(store->list_outbox("directory", 10)->size(), 1U);
  EXPECT_TRUE(store->list_outbox("ld", 10)->empty()) << "a publisher's name is not a prefix of another's";

  const OutboxRecord taken = ldap->at(1);  // the drainer works on this CRL
  auto newer = outbox_item("ldap", "crl", "issuing");
  newer.der = {0x30, 0x01, 0x00};
  writes = WriteSet{};
  writes.outbox = {newer};
  ASSERT_TRUE(store->commit(writes).has_value());
  writes = WriteSet{};
  writes.outbox_done = {taken};  // published the older one: the newer one stays
  ASSERT_TRUE(store->commit(writes).has_value());
  ldap = store->list_outbox("ldap", 10);
  ASSERT_EQ(ldap->size(), 2U);
  EXPECT_EQ(ldap->at(1).der, newer.der);

  OutboxRecord retry = ldap->at(1);
  retry.attempts = 3;
  retry.last_error = "server down";
  writes = WriteSet{};
  writes.outbox_retry = {retry};
  ASSERT_TRUE(store->commit(writes).has_value());
  EXPECT_EQ(store->list_outbox("ldap", 10)->at(1), retry);
  writes = WriteSet{};
  writes.outbox_done = {retry, ldap->at(0)};
  ASSERT_TRUE(store->commit(writes).has_value());
  EXPECT_TRUE(store->list_outbox("ldap", 10)->empty());
}

// A store written before the revoked index existed: the first read-write open fills the index,
// so no certificate revoked back then is missing from the CRL; a read-only open says why not.
TEST_F(RocksDbStoreTest, AStoreWithoutTheRevokedIndexGetsItFilledOnOpen) {
  auto revoked = certificate("0a");
  revoked.status = "revoked";
  revoked.revoked_at = 1700000000;
  {
    rocksdb::DBOptions options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
        {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
        {"certificates", rocksdb::ColumnFamilyOptions()},
        {"transactions", rocksdb::ColumnFamilyOptions()},
        {"audit", rocksdb::ColumnFamilyOptions()},
        {"open-transactions", rocksdb::ColumnFamilyOptions()}};
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, db_path(), descriptors, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    for (const auto& cert : {certificate("01"), revoked}) {
      const Bytes record = encode(cert);
      EXPECT_TRUE(db->Put(rocksdb::WriteOptions(), handles[1], cert.serial_hex,
                          rocksdb::Slice(reinterpret_cast<const char*>(record.data()), record.size()))
                      .ok());
    }
    for (auto* handle : handles) db->DestroyColumnFamilyHandle(handle);
  }
  auto read_only = RocksDbStore::open(db_path(), RocksDbStore::Mode::kReadOnly);
  ASSERT_FALSE(read_only.has_value());
  EXPECT_EQ(read_only.error().code, ErrorCode::kSystemUnavailable);
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto listed = store->list_revoked(10);
  ASSERT_TRUE(listed.has_value()) << listed.error().message;
  ASSERT_EQ(listed->size(), 1U);
  EXPECT_EQ(listed->front(), revoked);
}

// A store written before the held index existed: the first read-write open fills it from the
// open transactions, so requests held back then still reach the approval queue.
TEST_F(RocksDbStoreTest, AStoreWithoutTheHeldIndexGetsItFilledOnOpen) {
  auto held = transaction("0b");
  auto unheld = transaction("0a");
  unheld.held_request.clear();
  auto closed = transaction("0c");
  closed.open = false;
  write_older_store({"default", "certificates", "transactions", "audit", "open-transactions", "revoked", "passwords",
                     "crls", "outbox"},
                    {unheld, held, closed});
  auto read_only = RocksDbStore::open(db_path(), RocksDbStore::Mode::kReadOnly);
  ASSERT_FALSE(read_only.has_value()) << "a read-only open cannot add the index";
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto listed = store->list_held_transactions(10);
  ASSERT_TRUE(listed.has_value()) << listed.error().message;
  EXPECT_EQ(ids_of(*listed), (std::vector<std::string>{"0b"}));
}

// A crash after RocksDB created an index's family but before the fill landed leaves the family
// empty: the next read-write open fills it again, because the fill's marker is missing too.
TEST_F(RocksDbStoreTest, AnIndexLeftEmptyByACrashDuringItsFillIsFilledOnTheNextOpen) {
  auto revoked = certificate("0a");
  revoked.status = "revoked";
  revoked.revoked_at = 1700000000;
  const auto held = transaction("0b");
  {
    auto store = open();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->commit(WriteSet{{held}, {revoked}, {}, {}, {}, {}}).has_value());
  }
  {  // Undo the fills as that crash would have left them: indexes empty, no markers.
    RawDatabase raw(db_path());
    const auto markers = raw.keys("default");
    EXPECT_EQ(markers, (std::vector<std::string>{"index-filled:deadlines", "index-filled:held-transactions",
                                                 "index-filled:revoked"}));
    for (const auto& marker : markers) EXPECT_TRUE(raw.db().Delete({}, raw.family("default"), marker).ok());
    EXPECT_TRUE(raw.db().Delete({}, raw.family("revoked"), revoked.serial_hex).ok());
    EXPECT_TRUE(raw.db().Delete({}, raw.family("held-transactions"), held.id_hex).ok());
  }
  auto read_only = RocksDbStore::open(db_path(), RocksDbStore::Mode::kReadOnly);
  ASSERT_FALSE(read_only.has_value()) << "a read-only open would list too little";
  EXPECT_EQ(read_only.error().code, ErrorCode::kSystemUnavailable);
  EXPECT_NE(read_only.error().message.find("start enrolld once"), std::string::npos) << read_only.error().message;
  {
    auto store = open();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(*store->list_revoked(10), (std::vector<CertificateRecord>{revoked}));
    EXPECT_EQ(ids_of(*store->list_held_transactions(10)), (std::vector<std::string>{"0b"}));
  }
  EXPECT_NE(open(RocksDbStore::Mode::kReadOnly), nullptr) << "filled and marked: a read-only open works again";
}

TEST_F(RocksDbStoreTest, NewCertificateWithTakenSerialConflictsAndWritesNothing) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  const auto original = certificate("10");
  const auto other = certificate("20");
  const auto existing_txn = transaction("e0");
  ASSERT_TRUE(store->commit(WriteSet{{existing_txn}, {original, other}, {}, {}, {}, {}}).has_value());

  auto duplicate = certificate("10");
  duplicate.subject = "CN=impostor";
  auto changed_txn = existing_txn;
  changed_txn.state = "confirmed";
  auto revoked_other = other;
  revoked_other.status = "revoked";
  WriteSet writes;
  writes.transactions = {transaction("e1"), changed_txn};
  writes.new_certificates = {certificate("30"), duplicate};  // the fresh one first: it must not slip through
  writes.updated_certificates = {revoked_other};

  auto result = store->commit(writes);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::kConflict);
  EXPECT_NE(result.error().message.find("10"), std::string::npos) << result.error().message;

  auto cert10 = store->find_certificate("10");
  ASSERT_TRUE(cert10.has_value() && cert10->has_value());
  EXPECT_EQ(**cert10, original);
  auto cert20 = store->find_certificate("20");
  ASSERT_TRUE(cert20.has_value() && cert20->has_value());
  EXPECT_EQ(**cert20, other);
  auto cert30 = store->find_certificate("30");
  ASSERT_TRUE(cert30.has_value());
  EXPECT_FALSE(cert30->has_value());
  auto txn_e1 = store->find_transaction("e1");
  ASSERT_TRUE(txn_e1.has_value());
  EXPECT_FALSE(txn_e1->has_value());
  auto txn_e0 = store->find_transaction("e0");
  ASSERT_TRUE(txn_e0.has_value() && txn_e0->has_value());
  EXPECT_EQ(**txn_e0, existing_txn);
}

// The contract: a new certificate's serial must be free. Two new certificates with one serial in
// the same WriteSet would silently overwrite each other.
TEST_F(RocksDbStoreTest, DuplicateSerialWithinOneWriteSetConflicts) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto first = certificate("40");
  auto second = certificate("40");
  second.subject = "CN=second";
  auto result = store->commit(WriteSet{{transaction("f0")}, {first, second}, {}, {}, {}, {}});
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::kConflict);
  auto found = store->find_certificate("40");
  ASSERT_TRUE(found.has_value());
  EXPECT_FALSE(found->has_value());
}

TEST_F(RocksDbStoreTest, ConcurrentCommitsOfOneSerialLetExactlyOneWin) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  constexpr int kThreads = 8;
  std::atomic<int> wins{0};
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto cert = certificate("50");
      cert.requester = "thread-" + std::to_string(i);
      auto result = store->commit(WriteSet{{transaction("t" + std::to_string(i))}, {cert}, {}, {}, {}, {}});
      if (result) {
        ++wins;
      } else if (result.error().code == ErrorCode::kConflict) {
        ++conflicts;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(conflicts.load(), kThreads - 1);
  int transactions = 0;
  for (int i = 0; i < kThreads; ++i) {
    auto txn = store->find_transaction("t" + std::to_string(i));
    ASSERT_TRUE(txn.has_value());
    transactions += txn->has_value() ? 1 : 0;
  }
  EXPECT_EQ(transactions, 1);  // only the winner's transaction was written
}

TEST_F(RocksDbStoreTest, UpdatedCertificatesReplaceTheRecord) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  const auto record = certificate("60");
  ASSERT_TRUE(store->commit(WriteSet{{}, {record}, {}, {}, {}, {}}).has_value());
  auto revoked = record;
  revoked.status = "revoked";
  auto result = store->commit(WriteSet{{}, {}, {revoked}, {}, {}, {}});
  ASSERT_TRUE(result.has_value()) << result.error().message;
  auto found = store->find_certificate("60");
  ASSERT_TRUE(found.has_value() && found->has_value());
  EXPECT_EQ(**found, revoked);
  auto list = store->list_certificates(10);
  ASSERT_TRUE(list.has_value());
  ASSERT_EQ(list->size(), 1u);  // replaced, not added
  EXPECT_EQ(list->front(), revoked);
}

TEST_F(RocksDbStoreTest, AuditRecordsAreKeptInOrderWithTheirChange) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->commit(WriteSet{{}, {certificate("70")}, {}, {}, {}, {}}).has_value());
  auto revoked = certificate("70");
  revoked.status = "revoked";
  revoked.revoked_at = 1700000000;
  revoked.revocation_reason = 1;
  WriteSet writes;
  writes.updated_certificates = {revoked};
  writes.audit = {{1700000000, "mac:a", "revoke", "serial=70", "reason=1"},
                  {1700000000, "mac:a", "revoke", "serial=71", "reason=2"}};
  ASSERT_TRUE(store->commit(writes).has_value());
  // A commit that fails writes no audit record either.
  WriteSet conflicting;
  conflicting.new_certificates = {certificate("70")};
  conflicting.audit = {{1700000001, "mac:b", "revoke", "serial=99", ""}};
  EXPECT_FALSE(store->commit(conflicting).has_value());

  auto audit = store->list_audit(10);
  ASSERT_TRUE(audit.has_value());
  ASSERT_EQ(audit->size(), 2U);
  EXPECT_EQ((*audit)[0], writes.audit[0]);
  EXPECT_EQ((*audit)[1], writes.audit[1]);
  EXPECT_EQ(**store->find_certificate("70"), revoked);
}

TEST_F(RocksDbStoreTest, UpdatingAnUnknownCertificateWritesNothing) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  WriteSet writes;
  writes.transactions.push_back(transaction("t-update"));
  writes.updated_certificates.push_back(certificate("61"));
  auto result = store->commit(writes);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::kSystemFailure);
  EXPECT_FALSE(store->find_certificate("61")->has_value());
  EXPECT_FALSE(store->find_transaction("t-update")->has_value());
}

TEST_F(RocksDbStoreTest, ListCertificatesIsInSerialOrderAndRespectsLimit) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  const std::vector<std::string> serials = {"7f01", "0a00", "ff00", "1234", "00ff"};
  for (const auto& serial : serials) {  // one commit each, not in order
    ASSERT_TRUE(store->commit(WriteSet{{}, {certificate(serial)}, {}, {}, {}, {}}).has_value());
  }
  std::vector<std::string> sorted = serials;
  std::sort(sorted.begin(), sorted.end());

  auto all = store->list_certificates(100);
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->size(), serials.size());
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    EXPECT_EQ((*all)[i], certificate(sorted[i])) << i;
  }

  auto three = store->list_certificates(3);
  ASSERT_TRUE(three.has_value());
  ASSERT_EQ(three->size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ((*three)[i].serial_hex, sorted[i]);

  auto exact = store->list_certificates(serials.size());
  ASSERT_TRUE(exact.has_value());
  EXPECT_EQ(exact->size(), serials.size());

  auto none = store->list_certificates(0);
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->empty());
}

TEST_F(RocksDbStoreTest, ListCertificatesDoesNotIncludeTransactions) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(
      store->commit(WriteSet{{transaction("01"), transaction("02")}, {certificate("03")}, {}, {}, {}, {}}).has_value());
  auto list = store->list_certificates(100);
  ASSERT_TRUE(list.has_value());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(list->front().serial_hex, "03");
}

TEST_F(RocksDbStoreTest, DataSurvivesCloseAndReopen) {
  const auto txn = transaction("80");
  const auto cert = certificate("81");
  {
    auto store = open();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->commit(WriteSet{{txn}, {cert}, {}, {}, {}, {}}).has_value());
  }
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto found_txn = store->find_transaction("80");
  ASSERT_TRUE(found_txn.has_value() && found_txn->has_value());
  EXPECT_EQ(**found_txn, txn);
  auto found_cert = store->find_certificate("81");
  ASSERT_TRUE(found_cert.has_value() && found_cert->has_value());
  EXPECT_EQ(**found_cert, cert);
  // The uniqueness check also holds across the reopen.
  auto again = store->commit(WriteSet{{}, {certificate("81")}, {}, {}, {}, {}});
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
}

TEST_F(RocksDbStoreTest, ReadOnlyOpenSeesCommittedDataWhileWriterIsOpen) {
  auto writer = open();
  ASSERT_NE(writer, nullptr);
  const auto txn = transaction("90");
  const auto cert = certificate("91");
  ASSERT_TRUE(writer->commit(WriteSet{{txn}, {cert}, {}, {}, {}, {}}).has_value());

  auto reader = open(RocksDbStore::Mode::kReadOnly);
  ASSERT_NE(reader, nullptr);
  auto found_txn = reader->find_transaction("90");
  ASSERT_TRUE(found_txn.has_value() && found_txn->has_value());
  EXPECT_EQ(**found_txn, txn);
  auto found_cert = reader->find_certificate("91");
  ASSERT_TRUE(found_cert.has_value() && found_cert->has_value());
  EXPECT_EQ(**found_cert, cert);
  auto list = reader->list_certificates(10);
  ASSERT_TRUE(list.has_value());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(list->front(), cert);

  // The writer keeps working with a reader open.
  EXPECT_TRUE(writer->commit(WriteSet{{transaction("92")}, {}, {}, {}, {}, {}}).has_value());
}

TEST_F(RocksDbStoreTest, ReadOnlyStoreRefusesCommit) {
  {
    auto writer = open();
    ASSERT_NE(writer, nullptr);
    ASSERT_TRUE(writer->commit(WriteSet{{}, {certificate("a0")}, {}, {}, {}, {}}).has_value());
  }
  auto reader = open(RocksDbStore::Mode::kReadOnly);
  ASSERT_NE(reader, nullptr);
  auto result = reader->commit(WriteSet{{transaction("a1")}, {certificate("a2")}, {}, {}, {}, {}});
  EXPECT_FALSE(result.has_value());
  auto found = reader->find_transaction("a1");
  ASSERT_TRUE(found.has_value());
  EXPECT_FALSE(found->has_value());
}

TEST_F(RocksDbStoreTest, ReadOnlyOpenOfMissingDatabaseFails) {
  auto store = RocksDbStore::open(db_path(), RocksDbStore::Mode::kReadOnly);
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, ErrorCode::kSystemUnavailable);
  EXPECT_FALSE(std::filesystem::exists(db_path()));  // read-only must not create it
}

TEST_F(RocksDbStoreTest, SecondReadWriteOpenIsUnavailable) {
  auto first = open();
  ASSERT_NE(first, nullptr);
  auto second = RocksDbStore::open(db_path(), RocksDbStore::Mode::kReadWrite);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, ErrorCode::kSystemUnavailable);
  EXPECT_NE(second.error().message.find(db_path()), std::string::npos) << second.error().message;
  // The first instance is unaffected.
  EXPECT_TRUE(first->commit(WriteSet{{transaction("b0")}, {}, {}, {}, {}, {}}).has_value());
}

TEST_F(RocksDbStoreTest, ReadWriteOpenWorksAgainAfterClose) {
  { ASSERT_NE(open(), nullptr); }
  auto again = RocksDbStore::open(db_path(), RocksDbStore::Mode::kReadWrite);
  EXPECT_TRUE(again.has_value()) << again.error().message;
}

TEST_F(RocksDbStoreTest, OpenOnAFileIsUnavailable) {
  const auto file = m_dir.path() / "plain-file";
  { std::ofstream(file) << "not a database"; }
  auto store = RocksDbStore::open(file.string());
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, ErrorCode::kSystemUnavailable);
}

TEST_F(RocksDbStoreTest, CorruptRecordOnDiskIsSystemFailure) {
  { ASSERT_NE(open(), nullptr); }  // creates the database and its column families
  {
    rocksdb::DBOptions options;
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
        {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
        {"certificates", rocksdb::ColumnFamilyOptions()},
        {"transactions", rocksdb::ColumnFamilyOptions()},
        {"audit", rocksdb::ColumnFamilyOptions()},
        {"open-transactions", rocksdb::ColumnFamilyOptions()},
        {"revoked", rocksdb::ColumnFamilyOptions()},
        {"passwords", rocksdb::ColumnFamilyOptions()},
        {"crls", rocksdb::ColumnFamilyOptions()},
        {"outbox", rocksdb::ColumnFamilyOptions()},
        {"held-transactions", rocksdb::ColumnFamilyOptions()},
        {"deadlines", rocksdb::ColumnFamilyOptions()}};
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, db_path(), descriptors, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    EXPECT_TRUE(db->Put(rocksdb::WriteOptions(), handles[1], "c0", std::string("\xff\x00garbage", 9)).ok());
    EXPECT_TRUE(db->Put(rocksdb::WriteOptions(), handles[2], "c1", "garbage").ok());
    for (auto* handle : handles) db->DestroyColumnFamilyHandle(handle);
  }
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto cert = store->find_certificate("c0");
  ASSERT_FALSE(cert.has_value());
  EXPECT_EQ(cert.error().code, ErrorCode::kSystemFailure);
  auto txn = store->find_transaction("c1");
  ASSERT_FALSE(txn.has_value());
  EXPECT_EQ(txn.error().code, ErrorCode::kSystemFailure);
  auto list = store->list_certificates(10);
  ASSERT_FALSE(list.has_value());
  EXPECT_EQ(list.error().code, ErrorCode::kSystemFailure);
  // Existence does not need decoding.
  auto taken = store->serial_taken("c0");
  ASSERT_TRUE(taken.has_value());
  EXPECT_TRUE(*taken);
}

// ---- records.h encodings ----

TEST(StoreRecords, EncodeDecodeRoundTrip) {
  const auto cert = certificate("0123");
  auto decoded_cert = decode_certificate(encode(cert));
  ASSERT_TRUE(decoded_cert.has_value()) << decoded_cert.error().message;
  EXPECT_EQ(*decoded_cert, cert);
  const auto txn = transaction("4567");
  auto decoded_txn = decode_transaction(encode(txn));
  ASSERT_TRUE(decoded_txn.has_value()) << decoded_txn.error().message;
  EXPECT_EQ(*decoded_txn, txn);
}

TEST(StoreRecords, DecodeOfGarbageIsSystemFailure) {
  const std::vector<Bytes> garbage = {
      {},                       // nothing
      {0xff},                   // CBOR break outside an indefinite item
      {0x01, 0x02, 0x03},       // an integer followed by junk
      to_bytes("hello world"),  // text
      {0xa1, 0x61},             // map truncated inside its first key
      {0x18},                   // truncated integer
  };
  for (const auto& bytes : garbage) {
    auto cert = decode_certificate(bytes);
    ASSERT_FALSE(cert.has_value()) << to_hex(bytes);
    EXPECT_EQ(cert.error().code, ErrorCode::kSystemFailure) << to_hex(bytes);
    EXPECT_NE(cert.error().message.find("certificate"), std::string::npos) << cert.error().message;
    auto txn = decode_transaction(bytes);
    ASSERT_FALSE(txn.has_value()) << to_hex(bytes);
    EXPECT_EQ(txn.error().code, ErrorCode::kSystemFailure) << to_hex(bytes);
    EXPECT_NE(txn.error().message.find("transaction"), std::string::npos) << txn.error().message;
  }
}

TEST(StoreRecords, DecodeOfTheOtherKindIsSystemFailure) {
  auto as_cert = decode_certificate(encode(transaction("01")));
  ASSERT_FALSE(as_cert.has_value());
  EXPECT_EQ(as_cert.error().code, ErrorCode::kSystemFailure);
  auto as_txn = decode_transaction(encode(certificate("01")));
  ASSERT_FALSE(as_txn.has_value());
  EXPECT_EQ(as_txn.error().code, ErrorCode::kSystemFailure);
}

TEST(StoreRecords, DecodeOfTruncatedRecordIsSystemFailure) {
  const Bytes full = encode(certificate("0123"));
  for (std::size_t cut : {full.size() - 1, full.size() / 2, std::size_t{1}}) {
    auto cert = decode_certificate(ByteView(full).subspan(0, cut));
    ASSERT_FALSE(cert.has_value()) << cut;
    EXPECT_EQ(cert.error().code, ErrorCode::kSystemFailure) << cut;
  }
}

// What enrollctl status shows of the store: RocksDB's estimates, before and after a flush
// (a reopen flushes the memtables into SST files).
// Every issuance asks for a serial and a transaction ID that are not there: the families read
// by key carry Bloom filters (table files and memtable), as the options RocksDB keeps say.
TEST_F(RocksDbStoreTest, FamiliesReadByKeyHaveBloomFilters) {
  ASSERT_NE(open(), nullptr);
  rocksdb::DBOptions db_options;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  rocksdb::ConfigOptions config;
  ASSERT_TRUE(rocksdb::LoadLatestOptions(config, db_path(), &db_options, &families).ok());
  std::map<std::string, bool> filtered;
  for (const auto& family : families) {
    const auto* table = family.options.table_factory->GetOptions<rocksdb::BlockBasedTableOptions>();
    filtered[family.name] = table != nullptr && table->filter_policy != nullptr &&
                            std::string(table->filter_policy->CompatibilityName()) == "rocksdb.BuiltinBloomFilter" &&
                            family.options.memtable_whole_key_filtering &&
                            family.options.memtable_prefix_bloom_size_ratio > 0;
  }
  EXPECT_TRUE(filtered["certificates"]);
  EXPECT_TRUE(filtered["transactions"]);
  EXPECT_FALSE(filtered["audit"]) << "scanned in order, never looked up by key";
}

// RocksDB's default gives every family a memtable of up to 64 MiB, and an issuance writes to
// five of them: the store holds all memtables to one budget instead. 40 MiB written into one
// family must have been flushed to a table file, which 64 MiB per family would not do.
TEST_F(RocksDbStoreTest, AllMemtablesTogetherAreFlushedWithinOneBudget) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto table_files = [&] {
    std::size_t count = 0;
    for (const auto& entry : std::filesystem::directory_iterator(db_path()))
      count += entry.path().extension() == ".sst";
    return count;
  };
  ASSERT_EQ(table_files(), 0U) << "a fresh store has everything in memory";
  for (int round = 0; round < 20; ++round) {
    WriteSet writes;
    for (int i = 0; i < 40; ++i) {
      auto cert = certificate(to_hex(Bytes{static_cast<std::uint8_t>(round), static_cast<std::uint8_t>(i)}));
      cert.der.assign(50 * 1024, static_cast<std::uint8_t>(i));
      writes.new_certificates.push_back(std::move(cert));
    }
    ASSERT_TRUE(store->commit(writes).has_value());
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (table_files() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the flush runs in the background
  }
  EXPECT_GT(table_files(), 0U);
}

TEST_F(RocksDbStoreTest, StatisticsCountRecordsAndBytesOnDisk) {
  {
    auto store = open();
    ASSERT_TRUE(store);
    WriteSet writes;
    for (int i = 0; i < 10; ++i) writes.new_certificates.push_back(certificate("0a" + std::to_string(i)));
    writes.transactions.push_back(transaction("0011"));
    ASSERT_TRUE(store->commit(writes));
    auto statistics = store->statistics();
    ASSERT_TRUE(statistics) << statistics.error().message;
    EXPECT_GE(statistics->estimated_records, 11u);
    EXPECT_GT(statistics->size_bytes, 0u) << "the write-ahead log holds the commit";
  }
  auto reopened = open();
  ASSERT_TRUE(reopened);
  auto statistics = reopened->statistics();
  ASSERT_TRUE(statistics) << statistics.error().message;
  EXPECT_GE(statistics->estimated_records, 11u);
  EXPECT_GT(statistics->size_bytes, 0u);
}

}  // namespace
}  // namespace enrolld::store
