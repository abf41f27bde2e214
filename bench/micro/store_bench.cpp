// Durable writes, per record: what a synced commit costs alone, when several threads commit at
// once, and when many records share one synced write.
//
//   BM_StoreCommit        a certificate and a transaction record per commit, as one issuance
//                         writes them (1 and 4 threads on one store).
//   BM_StoreSyncedPut     the store's API, one certificate record per commit, 1..8 threads on one
//                         store. RocksDbStore::commit holds its commit mutex across the synced
//                         RocksDB write (the serial check and the write are one step), so
//                         concurrent commits are serialised: RocksDB never sees two writers and
//                         cannot group them.
//   BM_RocksDbGroupCommit the same record, the same options and column families, but the RocksDB
//                         API directly with no mutex above it: concurrent synced writes join one
//                         write group, one WAL append and one fsync for the group. What the store
//                         would get if its commits did not hold the mutex across the write.
//   BM_StoreBatch/N       the store's API, N certificate records in one WriteSet: one synced
//                         WriteBatch for all N.
//
// Every figure is per record (items_per_second, per_record in seconds, wall time). The database
// lives under $TMPDIR (or /tmp): the figures are that file system's fsync.

#include <benchmark/benchmark.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bench/micro/bench_support.h"
#include "store/rocksdb/rocksdb_store.h"
#include "support/temp_dir.h"

namespace enrolld::bench {
namespace {

// Unique serials without the CSPRNG in the measured loop: 32 hex digits, as a 16-byte serial.
std::string next_serial() {
  static std::atomic<std::uint64_t> counter{0};
  char serial[33];
  std::snprintf(serial, sizeof serial, "%016llx%016llx", 0x4000000000000000ULL,
                static_cast<unsigned long long>(counter.fetch_add(1)));
  return serial;
}

// A certificate record of the size one P-256 device certificate makes.
store::CertificateRecord certificate_record() {
  store::CertificateRecord cert;
  cert.serial_hex = next_serial();
  cert.issuer = "CN=Test Issuing CA";
  cert.subject = "CN=bench-device-" + cert.serial_hex.substr(16);
  cert.der = Bytes(600, 0x30);
  cert.not_before = 1'800'000'000;
  cert.not_after = cert.not_before + 365 * 86400;
  cert.issued_at = cert.not_before;
  cert.transaction_id_hex = cert.serial_hex;
  cert.requester = "mac:bench";
  return cert;
}

// One store shared by every thread of a run: opened by Setup (before the threads start),
// closed by Teardown (after they end). Only the benchmark threads touch it in between.
struct SharedStore {
  testing::TempDir dir{"enrolld-bench-store"};
  std::unique_ptr<store::RocksDbStore> store;
};
std::unique_ptr<SharedStore> g_store;

void open_shared_store(const benchmark::State&) {
  g_store = std::make_unique<SharedStore>();
  auto opened = store::RocksDbStore::open((g_store->dir.path() / "db").string());
  if (opened) g_store->store = std::move(*opened);
}

void close_shared_store(const benchmark::State&) {
  g_store.reset();
}

void BM_StoreCommit(benchmark::State& state) {
  if (!g_store || !g_store->store) {
    state.SkipWithError("cannot open the store");
    return;
  }
  static std::atomic<std::uint64_t> next_txn{0};
  for (auto _ : state) {
    store::WriteSet writes;
    writes.new_certificates.push_back(certificate_record());
    store::TransactionRecord txn;
    txn.id_hex = "txn" + std::to_string(next_txn.fetch_add(1));
    txn.last_response = Bytes(1500, 0x30);
    writes.transactions.push_back(txn);
    auto ok = g_store->store->commit(writes);
    if (!ok) state.SkipWithError(ok.error().message.c_str());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StoreCommit)
    ->Setup(open_shared_store)
    ->Teardown(close_shared_store)
    ->Threads(1)
    ->Threads(4)
    ->UseRealTime();

void BM_StoreSyncedPut(benchmark::State& state) {
  if (!g_store || !g_store->store) {
    state.SkipWithError("cannot open the store");
    return;
  }
  for (auto _ : state) {
    store::WriteSet writes;
    writes.new_certificates.push_back(certificate_record());
    auto ok = g_store->store->commit(writes);
    if (!ok) state.SkipWithError(ok.error().message.c_str());
  }
  report_records(state, static_cast<double>(state.iterations()));
}
BENCHMARK(BM_StoreSyncedPut)
    ->Setup(open_shared_store)
    ->Teardown(close_shared_store)
    ->Threads(1)
    ->Threads(2)
    ->Threads(4)
    ->Threads(8)
    ->UseRealTime();

// A RocksDB database opened as RocksDbStore::open opens it (the same DBOptions and column
// families, default column family options), for writes the store's API cannot make.
struct RawDb {
  testing::TempDir dir{"enrolld-bench-rocksdb"};
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> families;
  rocksdb::ColumnFamilyHandle* certificates = nullptr;

  RawDb() = default;
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;
  ~RawDb() {
    for (auto* family : families) {
      if (db) db->DestroyColumnFamilyHandle(family);
    }
  }
};
std::unique_ptr<RawDb> g_raw;

void open_raw_db(const benchmark::State&) {
  auto raw = std::make_unique<RawDb>();
  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  options.keep_log_file_num = 4;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const char* name : {"default", "certificates", "transactions", "audit", "open-transactions", "revoked",
                           "passwords", "crls", "outbox", "held-transactions", "deadlines"}) {
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  rocksdb::DB* db = nullptr;
  if (!rocksdb::DB::Open(options, (raw->dir.path() / "db").string(), descriptors, &raw->families, &db).ok()) return;
  raw->db.reset(db);
  raw->certificates = raw->families[1];
  g_raw = std::move(raw);
}

void close_raw_db(const benchmark::State&) {
  g_raw.reset();
}

void BM_RocksDbGroupCommit(benchmark::State& state) {
  if (!g_raw) {
    state.SkipWithError("cannot open the database");
    return;
  }
  rocksdb::WriteOptions options;
  options.sync = true;
  for (auto _ : state) {
    const store::CertificateRecord cert = certificate_record();
    const Bytes value = store::encode(cert);
    rocksdb::WriteBatch batch;
    batch.Put(g_raw->certificates, cert.serial_hex,
              rocksdb::Slice(reinterpret_cast<const char*>(value.data()), value.size()));
    if (auto status = g_raw->db->Write(options, &batch); !status.ok()) state.SkipWithError(status.ToString().c_str());
  }
  report_records(state, static_cast<double>(state.iterations()));
}
BENCHMARK(BM_RocksDbGroupCommit)
    ->Setup(open_raw_db)
    ->Teardown(close_raw_db)
    ->Threads(1)
    ->Threads(2)
    ->Threads(4)
    ->Threads(8)
    ->UseRealTime();

void BM_StoreBatch(benchmark::State& state) {
  if (!g_store || !g_store->store) {
    state.SkipWithError("cannot open the store");
    return;
  }
  const auto records = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    store::WriteSet writes;
    writes.new_certificates.reserve(records);
    for (std::size_t i = 0; i < records; ++i) writes.new_certificates.push_back(certificate_record());
    auto ok = g_store->store->commit(writes);
    if (!ok) state.SkipWithError(ok.error().message.c_str());
  }
  report_records(state, static_cast<double>(state.iterations()) * static_cast<double>(records));
}
BENCHMARK(BM_StoreBatch)
    ->Setup(open_shared_store)
    ->Teardown(close_shared_store)
    ->Arg(1)
    ->Arg(10)
    ->Arg(100)
    ->Arg(1000)
    ->UseRealTime();

}  // namespace
}  // namespace enrolld::bench
