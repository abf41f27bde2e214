#include "store/rocksdb/rocksdb_store.h"

#include <algorithm>
#include <chrono>
#include <set>

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/transaction_log.h>
#include <rocksdb/write_batch.h>

namespace enrolld::store {

namespace {

constexpr const char* kCertificates = "certificates";
constexpr const char* kTransactions = "transactions";
constexpr const char* kAudit = "audit";
constexpr const char* kOpenTransactions = "open-transactions";
constexpr const char* kRevoked = "revoked";
constexpr const char* kPasswords = "passwords";
constexpr const char* kCrls = "crls";
constexpr const char* kOutbox = "outbox";
constexpr const char* kHeldTransactions = "held-transactions";
constexpr const char* kDeadlines = "deadlines";
constexpr std::size_t kDeadlineDigits = 16;
constexpr std::size_t kMemtableBudget = 32 << 20;  // bytes, all families together

// Options of a family that is read by key, mostly for keys it does not hold: every issuance
// asks whether a fresh serial and a fresh transaction ID are taken. Bloom filters, in the
// memtable and in each table file, answer "absent" without searching them.
rocksdb::ColumnFamilyOptions looked_up_by_key() {
  rocksdb::ColumnFamilyOptions options;
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  options.memtable_prefix_bloom_size_ratio = 0.02;
  options.memtable_whole_key_filtering = true;
  return options;
}

// Deadline index keys sort by deadline: its 16 hex digits, then the transaction ID.
std::string deadline_key(std::int64_t deadline, const std::string& id_hex) {
  char digits[kDeadlineDigits + 1];
  std::snprintf(digits, sizeof digits, "%016llx", static_cast<unsigned long long>(deadline));
  return std::string(digits) + id_hex;
}

// The deadline of a deadline index key, or nullopt if the key is not one.
std::optional<std::int64_t> deadline_of_key(std::string_view key) {
  if (key.size() <= kDeadlineDigits) return std::nullopt;
  std::uint64_t deadline = 0;
  for (char c : key.substr(0, kDeadlineDigits)) {
    const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (digit < 0) return std::nullopt;
    deadline = deadline << 4 | static_cast<std::uint64_t>(digit);
  }
  return static_cast<std::int64_t>(deadline);
}

// In the default family: the key that says the index `family` has been filled.
std::string index_marker(const char* family) {
  return std::string("index-filled:") + family;
}

std::string older_store(const std::string& path, const std::string& family) {
  return "the store at " + path + " predates its '" + family + "' records; start enrolld once to add them";
}

// Outbox keys group a publisher's records: "<publisher>\0<kind>\0<name>".
std::string outbox_key(const OutboxRecord& record) {
  return record.publisher + '\0' + record.kind + '\0' + record.name;
}

// Certificates that CRLs are made from: revoked now, or released from a hold (delta CRLs say
// removeFromCRL for those).
bool on_revocation_lists(const CertificateRecord& cert) {
  return cert.status == "revoked" || cert.hold_released_at != 0;
}

// Audit keys sort by time: 16 hex digits of the second, 16 of a per-process sequence, then
// random bytes so that two processes never collide.
std::string audit_key(std::int64_t at, std::uint64_t sequence) {
  char key[40];
  std::snprintf(key, sizeof key, "%016llx%016llx", static_cast<unsigned long long>(at),
                static_cast<unsigned long long>(sequence));
  return std::string(key) + to_hex(random_bytes(4));
}

tl::unexpected<Error> storage_error(const rocksdb::Status& status, std::string_view what) {
  const auto code = status.IsIOError() || status.IsBusy() || status.IsTimedOut() || status.IsTryAgain()
                        ? ErrorCode::kSystemUnavailable
                        : ErrorCode::kSystemFailure;
  return fail(code, std::string(what) + ": " + status.ToString());
}

rocksdb::Slice slice(std::string_view s) {
  return rocksdb::Slice(s.data(), s.size());
}
rocksdb::Slice slice(const Bytes& b) {
  return rocksdb::Slice(reinterpret_cast<const char*>(b.data()), b.size());
}
ByteView view(const std::string& s) {
  return ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

}  // namespace

Result<std::unique_ptr<RocksDbStore>> RocksDbStore::open(const std::string& path, Mode mode, Metrics* metrics) {
  rocksdb::DBOptions options;
  options.create_if_missing = mode == Mode::kReadWrite;
  options.create_missing_column_families = mode == Mode::kReadWrite;
  options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  options.keep_log_file_num = 4;
  // RocksDB gives each family a memtable of up to 64 MiB by default; an issuance writes to five
  // of them, so an appliance's RSS would climb by hundreds of MiB before the first flush. One
  // budget for all: the fullest memtable is flushed when together they reach it.
  options.db_write_buffer_size = kMemtableBudget;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {kCertificates, looked_up_by_key()},
      {kTransactions, looked_up_by_key()},
      {kAudit, rocksdb::ColumnFamilyOptions()},
      {kOpenTransactions, rocksdb::ColumnFamilyOptions()},
      {kRevoked, rocksdb::ColumnFamilyOptions()},
      {kPasswords, rocksdb::ColumnFamilyOptions()},
      {kCrls, rocksdb::ColumnFamilyOptions()},
      {kOutbox, rocksdb::ColumnFamilyOptions()},
      {kHeldTransactions, rocksdb::ColumnFamilyOptions()},
      {kDeadlines, rocksdb::ColumnFamilyOptions()}};

  // A read-only open cannot add column families: an older store must be opened read-write once.
  std::vector<std::string> existing;
  const bool existed = rocksdb::DB::ListColumnFamilies(options, path, &existing).ok();
  for (const auto& descriptor : descriptors) {
    if (existed && mode == Mode::kReadOnly &&
        std::find(existing.begin(), existing.end(), descriptor.name) == existing.end()) {
      return fail(ErrorCode::kSystemUnavailable, older_store(path, descriptor.name));
    }
  }

  std::unique_ptr<RocksDbStore> store(new RocksDbStore());
  rocksdb::DB* raw = nullptr;
  rocksdb::Status status = mode == Mode::kReadWrite
                               ? rocksdb::DB::Open(options, path, descriptors, &store->m_families, &raw)
                               : rocksdb::DB::OpenForReadOnly(options, path, descriptors, &store->m_families, &raw);
  if (!status.ok()) {
    return fail(ErrorCode::kSystemUnavailable, "cannot open store at " + path + ": " + status.ToString());
  }
  store->m_db.reset(raw);
  store->m_certificates = store->m_families[1];
  store->m_transactions = store->m_families[2];
  store->m_audit = store->m_families[3];
  store->m_open = store->m_families[4];
  store->m_revoked = store->m_families[5];
  store->m_passwords = store->m_families[6];
  store->m_crls = store->m_families[7];
  store->m_outbox = store->m_families[8];
  store->m_held = store->m_families[9];
  store->m_deadlines = store->m_families[10];
  store->m_read_only = mode == Mode::kReadOnly;
  if (metrics != nullptr) {
    store->m_commit_latency =
        &metrics->histogram("enrolld_store_commit_seconds", "Synced store commits, from the call to durable");
  }
  // Versions only need to differ from those of earlier processes: start from the clock (ns).
  store->m_outbox_version = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  // The indexes added to stores that existed before them, with what fills each from its records.
  const std::pair<const char*, AddIndexEntries> indexes[] = {
      {kRevoked, &RocksDbStore::index_revoked_certificates},
      {kHeldTransactions, &RocksDbStore::index_held_transactions},
      {kDeadlines, &RocksDbStore::index_deadlines},
  };
  for (const auto& [family, add_entries] : indexes) {
    auto ok =
        mode == Mode::kReadWrite ? store->fill_index_once(family, add_entries) : store->index_filled(path, family);
    if (!ok) return tl::unexpected(ok.error());
  }
  return store;
}

// The marker goes into the fill's own batch: a crash before it lands leaves the index unmarked,
// and the next open fills it again (each fill only adds keys, so a second one is harmless).
Status RocksDbStore::fill_index_once(const char* family, AddIndexEntries add_entries) {
  const std::string marker = index_marker(family);
  auto filled = get(m_families[0], marker);
  if (!filled) return tl::unexpected(filled.error());
  if (*filled) return {};
  rocksdb::WriteBatch batch;
  if (auto ok = (this->*add_entries)(batch); !ok) return ok;
  batch.Put(m_families[0], marker, rocksdb::Slice());
  rocksdb::WriteOptions options;
  options.sync = true;
  return write(options, batch);
}

Status RocksDbStore::index_filled(const std::string& path, const char* family) {
  auto filled = get(m_families[0], index_marker(family));
  if (!filled) return tl::unexpected(filled.error());
  if (!*filled) return fail(ErrorCode::kSystemUnavailable, older_store(path, family));
  return {};
}

template <typename Visit>
Status RocksDbStore::for_each_open_transaction(Visit visit) {
  std::unique_ptr<rocksdb::Iterator> it(m_db->NewIterator(rocksdb::ReadOptions(), m_open));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto txn = find_transaction(std::string_view(it->key().data(), it->key().size()));
    if (!txn) return tl::unexpected(txn.error());
    if (*txn) visit(**txn);
  }
  if (!it->status().ok()) return storage_error(it->status(), "store scan failed");
  return {};
}

Status RocksDbStore::index_held_transactions(rocksdb::WriteBatch& batch) {
  return for_each_open_transaction([&](const TransactionRecord& txn) {
    if (!txn.held_request.empty()) batch.Put(m_held, slice(txn.id_hex), rocksdb::Slice());
  });
}

Status RocksDbStore::index_deadlines(rocksdb::WriteBatch& batch) {
  return for_each_open_transaction([&](const TransactionRecord& txn) {
    if (txn.deadline != 0) batch.Put(m_deadlines, deadline_key(txn.deadline, txn.id_hex), rocksdb::Slice());
  });
}

Status RocksDbStore::index_revoked_certificates(rocksdb::WriteBatch& batch) {
  std::unique_ptr<rocksdb::Iterator> it(m_db->NewIterator(rocksdb::ReadOptions(), m_certificates));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto cert = decode_certificate(view(it->value().ToString()));
    if (!cert) return tl::unexpected(cert.error());
    if (on_revocation_lists(*cert)) batch.Put(m_revoked, it->key(), rocksdb::Slice());
  }
  if (!it->status().ok()) return storage_error(it->status(), "store scan failed");
  return {};
}

RocksDbStore::~RocksDbStore() {
  for (auto* family : m_families) {
    if (m_db) m_db->DestroyColumnFamilyHandle(family);
  }
}

namespace {

bool only_outbox_progress(const WriteSet& writes) {
  return writes.transactions.empty() && writes.new_certificates.empty() && writes.updated_certificates.empty() &&
         writes.audit.empty() && writes.passwords.empty() && writes.removed_passwords.empty() && writes.crls.empty() &&
         writes.outbox.empty() && (!writes.outbox_done.empty() || !writes.outbox_retry.empty());
}

// Whether the set may be written beside other commits (RocksDB then groups their synced writes
// into one): all it checks is serials, held in flight until written. Records others may replace
// in the same key (CRLs, CA certificates in the outbox, publisher progress, passwords) are
// written under the commit lock, so that the last version checked is the last one written.
bool may_write_concurrently(const WriteSet& writes) {
  return writes.crls.empty() && writes.passwords.empty() && writes.removed_passwords.empty() &&
         writes.outbox_done.empty() && writes.outbox_retry.empty() &&
         std::all_of(writes.outbox.begin(), writes.outbox.end(),
                     [](const OutboxRecord& record) { return record.kind == kOutboxCertificate; });
}

}  // namespace

Status RocksDbStore::commit(const WriteSet& writes) {
  ScopedTimer timer(m_commit_latency);
  rocksdb::WriteBatch batch;
  for (const auto& txn : writes.transactions) {
    batch.Put(m_transactions, slice(txn.id_hex), slice(encode(txn)));
    // The index lets the approval queue and the deadline sweep skip finished transactions.
    if (txn.open) {
      batch.Put(m_open, slice(txn.id_hex), rocksdb::Slice());
    } else {
      batch.Delete(m_open, slice(txn.id_hex));
    }
    // The deadline sweep's index; the entry of an earlier deadline is removed by the sweep.
    if (txn.open && txn.deadline != 0) batch.Put(m_deadlines, deadline_key(txn.deadline, txn.id_hex), rocksdb::Slice());
    // The approval queue's index. A held request stays with its record once set, so one
    // without it was never in the index: no delete to write for the common, unheld, case.
    if (!txn.held_request.empty()) {
      if (txn.open) {
        batch.Put(m_held, slice(txn.id_hex), rocksdb::Slice());
      } else {
        batch.Delete(m_held, slice(txn.id_hex));
      }
    }
  }
  // The revoked index lets CRL generation skip the valid certificates.
  for (const auto* certs : {&writes.new_certificates, &writes.updated_certificates}) {
    for (const auto& cert : *certs) {
      batch.Put(m_certificates, slice(cert.serial_hex), slice(encode(cert)));
      if (on_revocation_lists(cert)) batch.Put(m_revoked, slice(cert.serial_hex), rocksdb::Slice());
    }
  }
  for (const auto& crl : writes.crls) batch.Put(m_crls, slice(crl.kind), slice(encode(crl)));
  for (const auto& password : writes.passwords) {
    batch.Put(m_passwords, slice(password.user), slice(encode(password)));
  }
  for (const auto& user : writes.removed_passwords) batch.Delete(m_passwords, slice(user));
  rocksdb::WriteOptions options;
  // A certificate may leave only after its record is durable. A publisher's progress need not
  // be: lost in a crash, the record is published again, which publishers take as a replace;
  // and the next synced commit makes it durable anyway.
  options.sync = !only_outbox_progress(writes);

  std::unique_lock lock(m_commit_mutex);
  for (const auto& record : writes.audit) {
    batch.Put(m_audit, slice(audit_key(record.at, m_audit_sequence++)), slice(encode(record)));
  }
  if (auto ok = add_outbox(writes, batch); !ok) return ok;
  std::set<std::string_view> batch_serials;
  for (const auto& cert : writes.new_certificates) {
    auto taken = serial_taken(cert.serial_hex);
    if (!taken) return tl::unexpected(taken.error());
    if (*taken || m_serials_in_flight.contains(cert.serial_hex) || !batch_serials.insert(cert.serial_hex).second) {
      return fail(ErrorCode::kConflict, "serial " + cert.serial_hex + " is already taken");
    }
  }
  for (const auto& cert : writes.updated_certificates) {
    auto present = serial_taken(cert.serial_hex);
    if (!present) return tl::unexpected(present.error());
    if (!*present) return fail(ErrorCode::kSystemFailure, "update of unknown certificate " + cert.serial_hex);
  }
  if (!may_write_concurrently(writes)) return write(options, batch);
  for (const auto& cert : writes.new_certificates) m_serials_in_flight.insert(cert.serial_hex);
  lock.unlock();
  Status written = write(options, batch);
  lock.lock();
  for (const auto& cert : writes.new_certificates) m_serials_in_flight.erase(cert.serial_hex);
  return written;
}

Status RocksDbStore::write(const rocksdb::WriteOptions& options, rocksdb::WriteBatch& batch) {
  rocksdb::Status status = m_db->Write(options, &batch);
  if (!status.ok()) return storage_error(status, "store write failed");
  return {};
}

Result<std::optional<std::string>> RocksDbStore::get(rocksdb::ColumnFamilyHandle* family, std::string_view key) {
  std::string value;
  rocksdb::Status status = m_db->Get(rocksdb::ReadOptions(), family, slice(key), &value);
  if (status.IsNotFound()) return std::optional<std::string>();
  if (!status.ok()) return storage_error(status, "store read failed");
  return std::optional<std::string>(std::move(value));
}

Result<std::optional<TransactionRecord>> RocksDbStore::find_transaction(std::string_view id_hex) {
  auto value = get(m_transactions, id_hex);
  if (!value) return tl::unexpected(value.error());
  if (!*value) return std::optional<TransactionRecord>();
  auto record = decode_transaction(view(**value));
  if (!record) return tl::unexpected(record.error());
  return std::optional<TransactionRecord>(std::move(*record));
}

Result<std::optional<CertificateRecord>> RocksDbStore::find_certificate(std::string_view serial_hex) {
  auto value = get(m_certificates, serial_hex);
  if (!value) return tl::unexpected(value.error());
  if (!*value) return std::optional<CertificateRecord>();
  auto record = decode_certificate(view(**value));
  if (!record) return tl::unexpected(record.error());
  return std::optional<CertificateRecord>(std::move(*record));
}

Result<std::optional<PasswordRecord>> RocksDbStore::find_password(std::string_view user) {
  auto value = get(m_passwords, user);
  if (!value) return tl::unexpected(value.error());
  if (!*value) return std::optional<PasswordRecord>();
  auto record = decode_password(view(**value));
  if (!record) return tl::unexpected(record.error());
  return std::optional<PasswordRecord>(std::move(*record));
}

Result<std::vector<PasswordRecord>> RocksDbStore::list_passwords(std::size_t limit) {
  return scan<PasswordRecord>(m_passwords, limit,
                              [](const rocksdb::Iterator& it) -> Result<std::optional<PasswordRecord>> {
                                return decode_password(view(it.value().ToString()));
                              });
}

Status RocksDbStore::add_outbox(const WriteSet& writes, rocksdb::WriteBatch& batch) {
  for (OutboxRecord record : writes.outbox) {
    record.version = ++m_outbox_version;
    batch.Put(m_outbox, slice(outbox_key(record)), slice(encode(record)));
  }
  // Done and retried records change only while they are the version the drainer worked on: a
  // newer CRL committed while the older one was being published must stay to be published.
  for (const auto* changes : {&writes.outbox_done, &writes.outbox_retry}) {
    for (const auto& record : *changes) {
      const std::string key = outbox_key(record);
      auto stored = get(m_outbox, key);
      if (!stored) return tl::unexpected(stored.error());
      if (!*stored) continue;
      auto current = decode_outbox(view(**stored));
      if (!current) return tl::unexpected(current.error());
      if (current->version != record.version) continue;
      if (changes == &writes.outbox_done) {
        batch.Delete(m_outbox, slice(key));
      } else {
        batch.Put(m_outbox, slice(key), slice(encode(record)));
      }
    }
  }
  return {};
}

Result<std::vector<OutboxRecord>> RocksDbStore::list_outbox(std::string_view publisher, std::size_t limit) {
  const std::string prefix = std::string(publisher) + '\0';
  std::vector<OutboxRecord> out;
  std::unique_ptr<rocksdb::Iterator> it(m_db->NewIterator(rocksdb::ReadOptions(), m_outbox));
  for (it->Seek(slice(prefix)); it->Valid() && it->key().starts_with(slice(prefix)) && out.size() < limit; it->Next()) {
    auto record = decode_outbox(view(it->value().ToString()));
    if (!record) return tl::unexpected(record.error());
    out.push_back(std::move(*record));
  }
  if (!it->status().ok()) return storage_error(it->status(), "store scan failed");
  return out;
}

Result<std::optional<CrlRecord>> RocksDbStore::find_crl(std::string_view kind) {
  auto value = get(m_crls, kind);
  if (!value) return tl::unexpected(value.error());
  if (!*value) return std::optional<CrlRecord>();
  auto record = decode_crl(view(**value));
  if (!record) return tl::unexpected(record.error());
  return std::optional<CrlRecord>(std::move(*record));
}

Result<StoreStatistics> RocksDbStore::statistics() {
  StoreStatistics statistics;
  for (auto* family : m_families) {
    std::uint64_t keys = 0;
    std::uint64_t sst_bytes = 0;
    if (!m_db->GetIntProperty(family, rocksdb::DB::Properties::kEstimateNumKeys, &keys) ||
        !m_db->GetIntProperty(family, rocksdb::DB::Properties::kTotalSstFilesSize, &sst_bytes)) {
      return fail(ErrorCode::kSystemUnavailable, "the store does not report its size");
    }
    statistics.estimated_records += keys;
    statistics.size_bytes += sst_bytes;
  }
  // What is not flushed to SST files yet is in the write-ahead log.
  rocksdb::VectorLogPtr wal_files;
  if (auto status = m_db->GetSortedWalFiles(wal_files); !status.ok()) {
    return storage_error(status, "cannot list the store's write-ahead log");
  }
  for (const auto& file : wal_files) statistics.size_bytes += file->SizeFileBytes();
  return statistics;
}

Result<bool> RocksDbStore::serial_taken(std::string_view serial_hex) {
  auto value = get(m_certificates, serial_hex);
  if (!value) return tl::unexpected(value.error());
  return value->has_value();
}

template <typename Record, typename Read>
Result<std::vector<Record>> RocksDbStore::scan(rocksdb::ColumnFamilyHandle* family, std::size_t limit, Read read) {
  std::vector<Record> out;
  std::unique_ptr<rocksdb::Iterator> it(m_db->NewIterator(rocksdb::ReadOptions(), family));
  for (it->SeekToFirst(); it->Valid() && out.size() < limit; it->Next()) {
    Result<std::optional<Record>> record = read(*it);
    if (!record) return tl::unexpected(record.error());
    if (*record) out.push_back(std::move(**record));
  }
  if (!it->status().ok()) return storage_error(it->status(), "store scan failed");
  return out;
}

Result<std::vector<AuditRecord>> RocksDbStore::list_audit(std::size_t limit) {
  return scan<AuditRecord>(m_audit, limit, [](const rocksdb::Iterator& it) -> Result<std::optional<AuditRecord>> {
    return decode_audit(view(it.value().ToString()));
  });
}

Result<std::vector<TransactionRecord>> RocksDbStore::list_open_transactions(std::size_t limit) {
  return list_indexed_transactions(m_open, limit);
}

Result<std::vector<TransactionRecord>> RocksDbStore::list_held_transactions(std::size_t limit) {
  return list_indexed_transactions(m_held, limit);
}

Result<std::vector<TransactionRecord>> RocksDbStore::list_overdue_transactions(std::int64_t now, std::size_t limit) {
  std::vector<TransactionRecord> out;
  rocksdb::WriteBatch stale;
  std::unique_ptr<rocksdb::Iterator> it(m_db->NewIterator(rocksdb::ReadOptions(), m_deadlines));
  for (it->SeekToFirst(); it->Valid() && out.size() < limit; it->Next()) {
    const std::string_view key(it->key().data(), it->key().size());
    const auto deadline = deadline_of_key(key);
    if (deadline && *deadline >= now) break;  // the rest is later still
    auto txn = deadline ? find_transaction(key.substr(kDeadlineDigits))
                        : Result<std::optional<TransactionRecord>>(std::nullopt);
    if (!txn) return tl::unexpected(txn.error());
    if (*txn && (*txn)->open && (*txn)->deadline == *deadline) {
      out.push_back(std::move(**txn));
    } else {
      stale.Delete(m_deadlines, it->key());
    }
  }
  if (!it->status().ok()) return storage_error(it->status(), "store scan failed");
  // Unsynced: an entry a crash brings back is met and removed again.
  if (stale.Count() > 0 && !m_read_only) {
    if (auto ok = write(rocksdb::WriteOptions(), stale); !ok) return tl::unexpected(ok.error());
  }
  return out;
}

Result<std::vector<TransactionRecord>> RocksDbStore::list_indexed_transactions(rocksdb::ColumnFamilyHandle* family,
                                                                               std::size_t limit) {
  // The index holds IDs only; the record itself is in the transactions family.
  return scan<TransactionRecord>(family, limit, [this](const rocksdb::Iterator& it) {
    return find_transaction(std::string_view(it.key().data(), it.key().size()));
  });
}

Result<std::vector<CertificateRecord>> RocksDbStore::list_revoked(std::size_t limit) {
  return scan<CertificateRecord>(m_revoked, limit, [this](const rocksdb::Iterator& it) {
    return find_certificate(std::string_view(it.key().data(), it.key().size()));
  });
}

Result<std::vector<CertificateRecord>> RocksDbStore::list_certificates(std::size_t limit) {
  return scan<CertificateRecord>(m_certificates, limit,
                                 [](const rocksdb::Iterator& it) -> Result<std::optional<CertificateRecord>> {
                                   return decode_certificate(view(it.value().ToString()));
                                 });
}

}  // namespace enrolld::store
