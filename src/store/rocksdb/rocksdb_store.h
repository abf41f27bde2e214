#pragma once
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "common/metrics.h"
#include "store/store.h"

namespace rocksdb {
class DB;
class WriteBatch;
struct WriteOptions;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace enrolld::store {

// RocksDB-backed store: one column family per record kind, every commit one synced WriteBatch.
// Thread-safety: safe for concurrent use. A commit's checks (serials free, outbox versions) run
// under a mutex; the synced write of a set that only adds certificates and transactions runs
// outside it, its serials held in flight, so that RocksDB groups concurrent commits into one
// sync. Sets that replace shared records (CRLs, outbox progress, passwords) write under it.
class RocksDbStore final : public Store {
 public:
  enum class Mode { kReadWrite, kReadOnly };

  // Opens (creating if absent in kReadWrite mode) the database in `path`.
  // Returns kSystemUnavailable if it is locked by another process or cannot be opened.
  // `metrics`, when given, gets the latency of synced commits (enrolld_store_commit_seconds).
  static Result<std::unique_ptr<RocksDbStore>> open(const std::string& path, Mode mode = Mode::kReadWrite,
                                                    Metrics* metrics = nullptr);
  ~RocksDbStore() override;

  Status commit(const WriteSet& writes) override;
  Result<std::optional<TransactionRecord>> find_transaction(std::string_view id_hex) override;
  Result<std::optional<CertificateRecord>> find_certificate(std::string_view serial_hex) override;
  Result<bool> serial_taken(std::string_view serial_hex) override;
  Result<std::vector<CertificateRecord>> list_certificates(std::size_t limit) override;
  Result<std::vector<AuditRecord>> list_audit(std::size_t limit) override;
  Result<std::vector<TransactionRecord>> list_open_transactions(std::size_t limit) override;
  Result<std::vector<TransactionRecord>> list_held_transactions(std::size_t limit) override;
  // Entries of the deadline index whose transaction has since closed or moved to another
  // deadline are met on the way and removed (not in a read-only store).
  Result<std::vector<TransactionRecord>> list_overdue_transactions(std::int64_t now, std::size_t limit) override;
  Result<std::vector<CertificateRecord>> list_revoked(std::size_t limit) override;
  Result<std::optional<PasswordRecord>> find_password(std::string_view user) override;
  Result<std::vector<PasswordRecord>> list_passwords(std::size_t limit) override;
  Result<std::optional<CrlRecord>> find_crl(std::string_view kind) override;
  Result<std::vector<OutboxRecord>> list_outbox(std::string_view publisher, std::size_t limit) override;
  // RocksDB's own figures: keys (rocksdb.estimate-num-keys, summed over the column families)
  // and bytes on disk in SST files (rocksdb.total-sst-files-size) and write-ahead log files.
  Result<StoreStatistics> statistics() override;

 private:
  RocksDbStore() = default;
  // Adds to `batch` the entries of an index, from the records it indexes.
  using AddIndexEntries = Status (RocksDbStore::*)(rocksdb::WriteBatch& batch);
  // Fills the index `family` unless the default family marks it filled (a store that predates
  // the index, or a crash between RocksDB creating the family and its fill).
  Status fill_index_once(const char* family, AddIndexEntries add_entries);
  // kSystemUnavailable unless the index `family` is marked filled (for a read-only open).
  Status index_filled(const std::string& path, const char* family);
  // Every revoked certificate, for the revoked index.
  Status index_revoked_certificates(rocksdb::WriteBatch& batch);
  // Calls `visit` with every open transaction's record, in ID order.
  template <typename Visit>
  Status for_each_open_transaction(Visit visit);
  // Every open transaction with a held request, for the held index.
  Status index_held_transactions(rocksdb::WriteBatch& batch);
  // Every open transaction with a deadline, for the deadline index.
  Status index_deadlines(rocksdb::WriteBatch& batch);
  // The transactions named by the keys of the index `family`, in key order.
  Result<std::vector<TransactionRecord>> list_indexed_transactions(rocksdb::ColumnFamilyHandle* family,
                                                                   std::size_t limit);
  Result<std::optional<std::string>> get(rocksdb::ColumnFamilyHandle* family, std::string_view key);
  // Up to `limit` records of `family` in key order; `read` turns an entry into a record
  // (nullopt: skip it) or an error that ends the scan.
  template <typename Record, typename Read>
  Result<std::vector<Record>> scan(rocksdb::ColumnFamilyHandle* family, std::size_t limit, Read read);

  std::unique_ptr<rocksdb::DB> m_db;
  std::vector<rocksdb::ColumnFamilyHandle*> m_families;  // owned; released before m_db
  rocksdb::ColumnFamilyHandle* m_certificates = nullptr;
  rocksdb::ColumnFamilyHandle* m_transactions = nullptr;
  rocksdb::ColumnFamilyHandle* m_audit = nullptr;
  rocksdb::ColumnFamilyHandle* m_open = nullptr;  // IDs of open transactions (empty values)
  // Serials of revoked certificates and of those released from hold (empty values).
  rocksdb::ColumnFamilyHandle* m_revoked = nullptr;
  rocksdb::ColumnFamilyHandle* m_passwords = nullptr;
  rocksdb::ColumnFamilyHandle* m_crls = nullptr;
  rocksdb::ColumnFamilyHandle* m_outbox = nullptr;
  rocksdb::ColumnFamilyHandle* m_held = nullptr;  // IDs of open transactions with a held request
  // "<deadline, 16 hex digits><ID>" of open transactions with a deadline (empty values). Kept
  // when a transaction closes or moves on; list_overdue_transactions removes those it meets.
  rocksdb::ColumnFamilyHandle* m_deadlines = nullptr;
  bool m_read_only = false;
  std::uint64_t m_audit_sequence = 0;  // orders audit records written in the same second
  std::uint64_t m_outbox_version = 0;  // the last outbox version handed out (starts from the clock)
  Status write(const rocksdb::WriteOptions& options, rocksdb::WriteBatch& batch);
  // Adds the outbox changes of `writes` to `batch`; the caller holds m_commit_mutex.
  Status add_outbox(const WriteSet& writes, rocksdb::WriteBatch& batch);
  std::mutex m_commit_mutex;
  // Serials of new certificates checked free and being written outside the commit lock.
  std::set<std::string, std::less<>> m_serials_in_flight;  // guarded by m_commit_mutex
  Histogram* m_commit_latency = nullptr;                   // null without metrics
};

}  // namespace enrolld::store
