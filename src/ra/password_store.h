#pragma once
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include "common/clock.h"
#include "ra/passwords.h"
#include "store/store.h"

namespace enrolld::ra {

struct LockoutPolicy {
  unsigned max_failures = 5;  // consecutive wrong passwords before a lockout
  std::chrono::seconds lockout{60};
};

// scrypt (N=2^15, r=8, p=1: 32 MiB, tens of milliseconds) in a PHC-style string, so that the
// parameters can grow without invalidating stored hashes.
Result<std::string> hash_password(std::string_view password);
// Whether `password` matches `encoded` (from hash_password); false for a malformed encoding.
bool password_matches(std::string_view password, std::string_view encoded);

// Passwords kept hashed in the store; failure counts in memory (a restart forgets them).
class PasswordStore final : public PasswordVerifier, public PasswordAdministration {
 public:
  // The store must outlive this object.
  PasswordStore(store::Store& store, LockoutPolicy policy, Clock clock);

  using PasswordVerifier::check;
  Result<PasswordCheck> check(std::string_view user, std::string_view password, std::string_view profile,
                              PasswordChannel channel) override;
  Status spend(std::string_view user) override;
  void release(std::string_view user) override;
  Status set_password(std::string_view user, std::string_view password, std::string_view profile,
                      bool one_time) override;
  Status remove_user(std::string_view user) override;
  Result<std::vector<PasswordUser>> users(std::size_t limit) override;

 private:
  struct Failures {
    unsigned count = 0;
    std::chrono::system_clock::time_point locked_until{};
  };
  // Returns how long `user` is still locked out (zero: not locked).
  std::chrono::seconds locked_for(const std::string& user);
  void record_failure(const std::string& user);
  void forget_failures(const std::string& user);
  PasswordCheck accepted(const store::PasswordRecord& record);
  // Whether `password` is what `channel` last had accepted for `record`, which has not changed since.
  bool remembered_on(PasswordChannel channel, const store::PasswordRecord& record, std::string_view password);
  void remember(PasswordChannel channel, const store::PasswordRecord& record, std::string_view password);
  Bytes channel_digest(std::string_view password) const;

  // What a channel had accepted: the user, that user's stored hash then, and a keyed digest of
  // the password (never the password).
  struct ChannelPassword {
    std::string user;
    std::string stored_hash;
    Bytes digest;
    std::chrono::system_clock::time_point accepted_at{};
  };

  store::Store& m_store;
  LockoutPolicy m_policy;
  Clock m_clock;
  std::mutex m_write_mutex;  // serialises the read-modify-write of password records
  std::mutex m_mutex;        // guards the members below
  std::map<std::string, Failures, std::less<>> m_failures;
  std::set<std::string, std::less<>> m_one_time_in_use;             // claimed by an enrollment in progress
  std::unordered_map<PasswordChannel, ChannelPassword> m_channels;  // guarded by m_mutex; bounded
  const Bytes m_channel_key;                                        // keys the digests; random per process
};

}  // namespace enrolld::ra
