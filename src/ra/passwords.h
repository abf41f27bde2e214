#pragma once
// Passwords that requesters authenticate with (EST HTTP Basic): what the protocols see. The
// store keeps only scrypt hashes; repeated failures lock a user out for a while.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "ra/enrollment_service.h"

namespace enrolld::ra {

struct PasswordCheck {
  enum class Outcome {
    kAccepted,
    kRejected,     // unknown user, wrong password or a spent one-time secret: one answer for all
    kLockedOut,    // too many failures for this user: try again after `retry_after`
    kWrongProfile  // the password is good, but not for this profile
  };
  Outcome outcome = Outcome::kRejected;
  Requester requester;    // when accepted: "user:<name>"
  bool one_time = false;  // when accepted: spend() it once it has enrolled
  std::chrono::seconds retry_after{0};
  bool remembered = false;  // accepted as the channel's earlier password, without a scrypt run
};

// The secure channel a password came on (an EST TLS connection), named by a number the
// transport never reuses; kNoChannel: none. A reusable password accepted on a channel is
// accepted again on that channel without another scrypt run, for a while, as long as the
// user's record is unchanged: an EST client on a kept-alive connection sends it every request.
using PasswordChannel = std::uint64_t;
constexpr PasswordChannel kNoChannel = 0;

struct PasswordUser {
  std::string user;
  std::string profile;  // empty: any
  bool one_time = false;
  bool used = false;
  std::int64_t created_at = 0;
};

// Thread-safety: all methods may be called concurrently.
class PasswordVerifier {
 public:
  virtual ~PasswordVerifier() = default;
  // Checks `password` for `user` enrolling under `profile`, sent on `channel`.
  // Errors: kSystemUnavailable (store).
  [[nodiscard]] virtual Result<PasswordCheck> check(std::string_view user, std::string_view password,
                                                    std::string_view profile, PasswordChannel channel) = 0;
  [[nodiscard]] Result<PasswordCheck> check(std::string_view user, std::string_view password,
                                            std::string_view profile) {
    return check(user, password, profile, kNoChannel);
  }
  // A one-time secret has enrolled: it is spent (durably) and refused from now on.
  [[nodiscard]] virtual Status spend(std::string_view user) = 0;
  // An accepted one-time secret did not enroll (refused, held, failed): others may use it again.
  virtual void release(std::string_view user) = 0;
};

// The operator's side: adding, listing and removing users. Thread-safety: as PasswordVerifier.
class PasswordAdministration {
 public:
  virtual ~PasswordAdministration() = default;
  // Stores `user` with the hash of `password` (at least 12 characters), replacing an existing
  // user of that name. Errors: kBadDataFormat (name or password unacceptable), kSystemUnavailable.
  [[nodiscard]] virtual Status set_password(std::string_view user, std::string_view password, std::string_view profile,
                                            bool one_time) = 0;
  // Errors: kNotFound, kSystemUnavailable.
  [[nodiscard]] virtual Status remove_user(std::string_view user) = 0;
  [[nodiscard]] virtual Result<std::vector<PasswordUser>> users(std::size_t limit) = 0;
};

}  // namespace enrolld::ra
