#pragma once
// The Store interface: everything durable goes through it. RocksDB (store/rocksdb/) is the
// embedded default; a PostgreSQL-protocol backend will implement the same interface.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "store/records.h"

namespace enrolld::store {

// Records written together, all or nothing.
struct WriteSet {
  std::vector<TransactionRecord> transactions;          // inserted or replaced
  std::vector<CertificateRecord> new_certificates;      // inserted; the serial must be free
  std::vector<CertificateRecord> updated_certificates;  // replaced (status changes)
  std::vector<AuditRecord> audit;                       // appended
  std::vector<PasswordRecord> passwords;                // inserted or replaced
  std::vector<std::string> removed_passwords;           // by user
  std::vector<CrlRecord> crls{};                        // inserted or replaced, by kind
  // Inserted or replaced (by publisher, kind and name), each with a fresh version.
  std::vector<OutboxRecord> outbox{};
  // Published: removed, unless a newer version replaced it meanwhile (that one stays).
  std::vector<OutboxRecord> outbox_done{};
  // Failed again: attempts and back-off replaced, unless a newer version replaced it meanwhile.
  std::vector<OutboxRecord> outbox_retry{};
};

// What an operator sees of the store (enrollctl status): estimates the backend keeps anyway,
// so that asking costs no scan.
struct StoreStatistics {
  std::uint64_t estimated_records = 0;  // records of every kind, indexes included
  std::uint64_t size_bytes = 0;         // approximate size on disk
};

// Thread-safety: every method may be called from any thread concurrently.
class Store {
 public:
  virtual ~Store() = default;

  // Writes the set atomically and durably (synced to disk before returning).
  // Returns kConflict if a new certificate's serial is already taken or appears twice in the
  // set, kSystemFailure if an updated certificate does not exist (nothing is written in either
  // case), kSystemUnavailable if the disk cannot take the write.
  [[nodiscard]] virtual Status commit(const WriteSet& writes) = 0;

  // Returns the record, nullopt if absent, or kSystemUnavailable / kSystemFailure.
  [[nodiscard]] virtual Result<std::optional<TransactionRecord>> find_transaction(std::string_view id_hex) = 0;
  [[nodiscard]] virtual Result<std::optional<CertificateRecord>> find_certificate(std::string_view serial_hex) = 0;

  // Returns whether a certificate with this serial exists.
  [[nodiscard]] virtual Result<bool> serial_taken(std::string_view serial_hex) = 0;

  // Returns up to `limit` certificates in serial order.
  [[nodiscard]] virtual Result<std::vector<CertificateRecord>> list_certificates(std::size_t limit) = 0;

  // Returns up to `limit` transactions whose record says `open`, in ID order.
  [[nodiscard]] virtual Result<std::vector<TransactionRecord>> list_open_transactions(std::size_t limit) = 0;

  // Returns up to `limit` open transactions whose deadline (non-zero) is before `now`, earliest
  // deadline first: what the deadline sweep expires, without a pass over every open transaction.
  [[nodiscard]] virtual Result<std::vector<TransactionRecord>> list_overdue_transactions(std::int64_t now,
                                                                                         std::size_t limit) = 0;

  // Returns up to `limit` open transactions that carry a held request (`held_request`: held for
  // an officer at some point, so waiting, approved, or issued and not yet confirmed), in ID
  // order: the approval queue without a pass over every open transaction.
  [[nodiscard]] virtual Result<std::vector<TransactionRecord>> list_held_transactions(std::size_t limit) = 0;

  // Returns up to `limit` certificates in serial order that are revoked or were once on hold
  // (hold_released_at set): what full and delta CRLs are made from. A certificate leaves this
  // list only by expiring from the store, never by a status change.
  [[nodiscard]] virtual Result<std::vector<CertificateRecord>> list_revoked(std::size_t limit) = 0;

  // Returns up to `limit` outbox records of `publisher`, in key order (kind, then name).
  [[nodiscard]] virtual Result<std::vector<OutboxRecord>> list_outbox(std::string_view publisher,
                                                                      std::size_t limit) = 0;

  // Returns the last CRL of `kind` ("full", "delta") that was committed, nullopt if none.
  [[nodiscard]] virtual Result<std::optional<CrlRecord>> find_crl(std::string_view kind) = 0;

  // Returns the password record of `user`, nullopt if there is none.
  [[nodiscard]] virtual Result<std::optional<PasswordRecord>> find_password(std::string_view user) = 0;
  // Returns up to `limit` password records in user order.
  [[nodiscard]] virtual Result<std::vector<PasswordRecord>> list_passwords(std::size_t limit) = 0;
  // Returns up to `limit` audit records, oldest first.
  [[nodiscard]] virtual Result<std::vector<AuditRecord>> list_audit(std::size_t limit) = 0;

  // Returns the backend's estimates, or kSystemUnavailable if it cannot give them.
  [[nodiscard]] virtual Result<StoreStatistics> statistics() = 0;
};

}  // namespace enrolld::store
