#include "ra/outbox_drainer.h"

#include <algorithm>
#include <optional>

#include "common/log.h"

namespace enrolld::ra {

namespace {

constexpr std::size_t kBatch = 4096;  // records looked at per publisher and round
constexpr std::size_t kBacklogScan = 1'000'000;
constexpr std::int64_t kMaxBackoffSeconds = 300;

std::optional<publish::Publication::Kind> kind_of(const std::string& kind) {
  using Kind = publish::Publication::Kind;
  if (kind == store::kOutboxCaCertificate) return Kind::kCaCertificate;
  if (kind == store::kOutboxCrl) return Kind::kCrl;
  if (kind == store::kOutboxDeltaCrl) return Kind::kDeltaCrl;
  if (kind == store::kOutboxCertificate) return Kind::kCertificate;
  return std::nullopt;
}

std::int64_t backoff_seconds(int attempts) {
  return std::min(kMaxBackoffSeconds, std::int64_t{1} << std::clamp(attempts - 1, 0, 16));
}

}  // namespace

OutboxDrainer::OutboxDrainer(store::Store& store, std::vector<std::unique_ptr<publish::Publisher>> publishers,
                             Clock clock)
    : m_store(store),
      m_publishers(std::move(publishers)),
      m_reachability(m_publishers.size()),
      m_clock(std::move(clock)) {}

std::vector<std::string> OutboxDrainer::publisher_names() const {
  std::vector<std::string> names;
  for (const auto& publisher : m_publishers) names.push_back(publisher->name());
  return names;
}

Result<std::size_t> OutboxDrainer::drain_once() {
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(m_clock().time_since_epoch()).count();
  std::size_t published = 0;
  for (std::size_t i = 0; i < m_publishers.size(); ++i) {
    auto done = drain(*m_publishers[i], m_reachability[i], now);
    if (!done) return done;
    published += *done;
  }
  return published;
}

// One round for one publisher: publishes what is due, then flushes once, then records every
// outcome in one commit. A record counts as done only once the flush has made it durable.
Result<std::size_t> OutboxDrainer::drain(publish::Publisher& publisher, Reachability& reachability, std::int64_t now) {
  if (now < reachability.retry_at) return 0;
  auto records = m_store.list_outbox(publisher.name(), kBatch);
  if (!records) return tl::unexpected(records.error());
  store::WriteSet writes;
  bool unreachable = false;
  for (auto& record : *records) {
    if (record.next_attempt_at > now) continue;
    const auto kind = kind_of(record.kind);
    Status outcome = kind ? publisher.publish({*kind, record.name, record.subject, record.der})
                          : Status(fail(ErrorCode::kSystemFailure, "unknown outbox kind '" + record.kind + "'"));
    if (outcome) {
      writes.outbox_done.push_back(std::move(record));
      continue;
    }
    unreachable = outcome.error().code == ErrorCode::kSystemUnavailable;
    note_failure(publisher, record, outcome.error(), now);
    writes.outbox_retry.push_back(std::move(record));
    // The rest would meet the same unreachable publisher: leave it alone for a while.
    if (unreachable) break;
  }
  if (!flush_or_undo(publisher, writes, now)) unreachable = true;
  if (unreachable) {
    reachability.failures += 1;
    reachability.retry_at = now + backoff_seconds(reachability.failures);
  } else if (!writes.outbox_done.empty()) {
    reachability.failures = 0;
  }
  if (writes.outbox_done.empty() && writes.outbox_retry.empty()) return 0;
  if (auto ok = m_store.commit(writes); !ok) return tl::unexpected(ok.error());
  for (const auto& record : writes.outbox_done) {
    spdlog::info("published publisher={} kind={} name={}", publisher.name(), record.kind, record.name);
  }
  return writes.outbox_done.size();
}

bool OutboxDrainer::flush_or_undo(publish::Publisher& publisher, store::WriteSet& writes, std::int64_t now) {
  if (writes.outbox_done.empty()) return true;
  auto flushed = publisher.flush();
  if (flushed) return true;
  // Nothing of this round is known to be on disk: all of it is tried again.
  for (auto& record : writes.outbox_done) {
    note_failure(publisher, record, flushed.error(), now);
    writes.outbox_retry.push_back(std::move(record));
  }
  writes.outbox_done.clear();
  return false;
}

void OutboxDrainer::note_failure(const publish::Publisher& publisher, store::OutboxRecord& record, const Error& error,
                                 std::int64_t now) {
  record.attempts += 1;
  record.next_attempt_at = now + backoff_seconds(record.attempts);
  record.last_error = error.message;
  const bool unreachable = error.code == ErrorCode::kSystemUnavailable;
  spdlog::log(unreachable ? spdlog::level::warn : spdlog::level::err,
              "publish publisher={} kind={} name={} failed (attempt {}, next in {} s): {}", publisher.name(),
              record.kind, record.name, record.attempts, record.next_attempt_at - now, error.message);
}

Result<std::vector<PublisherBacklog>> OutboxDrainer::backlog() {
  std::vector<PublisherBacklog> out;
  for (const auto& publisher : m_publishers) {
    auto records = m_store.list_outbox(publisher->name(), kBacklogScan);
    if (!records) return tl::unexpected(records.error());
    PublisherBacklog backlog{publisher->name(), records->size(), 0, 0, {}};
    for (const auto& record : *records) {
      if (backlog.oldest_created_at == 0 || record.created_at < backlog.oldest_created_at) {
        backlog.oldest_created_at = record.created_at;
      }
      if (record.attempts > backlog.attempts) {
        backlog.attempts = record.attempts;
        backlog.last_error = record.last_error;
      }
    }
    out.push_back(std::move(backlog));
  }
  return out;
}

}  // namespace enrolld::ra
