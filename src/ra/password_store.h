#pragma once
#include <map>
#include <mutex>
#include <set>

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

  Result<PasswordCheck> check(std::string_view user, std::string_view password, std::string_view profile) override;
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

  store::Store& m_store;
  LockoutPolicy m_policy;
  Clock m_clock;
  std::mutex m_write_mutex;  // serialises the read-modify-write of password records
  std::mutex m_mutex;        // guards the two members below
  std::map<std::string, Failures, std::less<>> m_failures;
  std::set<std::string, std::less<>> m_one_time_in_use;  // claimed by an enrollment in progress
};

}  // namespace enrolld::ra
