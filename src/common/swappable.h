#pragma once
// A value that a reload (SIGHUP) replaces as a whole while requests read it. A reader takes a
// snapshot and keeps it for as long as it needs it: a request in flight finishes with the
// settings it started with, and never sees half of an old and half of a new value.

#include <memory>
#include <mutex>
#include <utility>

namespace enrolld {

// Thread-safety: get() and replace() may be called concurrently from any thread. The value
// itself is immutable once published; the lock only guards the pointer, never the reading.
template <typename T>
class Swappable {
 public:
  explicit Swappable(T value) : m_value(std::make_shared<const T>(std::move(value))) {}

  // The current value; it stays valid (and unchanged) for as long as the caller holds it.
  std::shared_ptr<const T> get() const {
    std::lock_guard lock(m_mutex);
    return m_value;
  }

  // Publishes `value`; readers holding the previous one keep it until they let it go.
  void replace(T value) {
    std::shared_ptr<const T> fresh = std::make_shared<const T>(std::move(value));
    {
      std::lock_guard lock(m_mutex);
      m_value.swap(fresh);
    }
    // `fresh` now holds the previous value: released here, outside the lock, if nobody reads it.
  }

 private:
  mutable std::mutex m_mutex;
  std::shared_ptr<const T> m_value;  // never null
};

}  // namespace enrolld
