#pragma once
// Drains the store's outbox into the publishers (directory, LDAP): issuance and CRL signing only
// write outbox records, so they never wait for a publisher, and a publisher that is down catches
// up when it is back, with back-off in between.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "publish/publisher.h"
#include "store/store.h"

namespace enrolld::ra {

// What one publisher still has to do.
struct PublisherBacklog {
  std::string publisher;
  std::size_t waiting = 0;
  std::int64_t oldest_created_at = 0;  // 0 when nothing waits
  int attempts = 0;                    // most failed attempts of a waiting record
  std::string last_error;
};

// Thread-safety: drain_once() from one thread (the appliance's publishing thread); backlog()
// from any. The store must outlive this object.
class OutboxDrainer {
 public:
  OutboxDrainer(store::Store& store, std::vector<std::unique_ptr<publish::Publisher>> publishers, Clock clock);

  // Publishes, per publisher, the records that are due, flushes the publisher once (a record is
  // done only when the flush made it durable), and stores the outcomes in one commit. A
  // publisher that is unreachable (kSystemUnavailable, in publish or flush) is left alone for a
  // back-off (1 s, doubling, at most 5 min) and tried again when it ends; a record it refuses
  // (kConfigInvalid, kSystemFailure) backs off on its own, and the others go on. Failures are
  // stored with the record. Returns how many records were published. Errors:
  // kSystemUnavailable / kSystemFailure (store).
  [[nodiscard]] Result<std::size_t> drain_once();

  // What waits, per publisher. Errors: as the store's.
  [[nodiscard]] Result<std::vector<PublisherBacklog>> backlog();

  // The names of the publishers, in configuration order.
  std::vector<std::string> publisher_names() const;

 private:
  // A publisher found unreachable, and when to try it again.
  struct Reachability {
    int failures = 0;
    std::int64_t retry_at = 0;
  };
  Result<std::size_t> drain(publish::Publisher& publisher, Reachability& reachability, std::int64_t now);
  // Flushes `publisher` if the round published anything; if that fails, moves the round's done
  // records to the retries. Returns whether the flush held (true when there was none).
  static bool flush_or_undo(publish::Publisher& publisher, store::WriteSet& writes, std::int64_t now);
  // Counts a failed attempt on `record`, sets its back-off, and logs it.
  static void note_failure(const publish::Publisher& publisher, store::OutboxRecord& record, const Error& error,
                           std::int64_t now);

  store::Store& m_store;
  std::vector<std::unique_ptr<publish::Publisher>> m_publishers;
  std::vector<Reachability> m_reachability;  // one per publisher
  Clock m_clock;
};

}  // namespace enrolld::ra
