#include "ra/password_store.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/log.h"

namespace enrolld::ra {

namespace {

constexpr std::uint64_t kScryptLogN = 15;
constexpr std::uint64_t kScryptR = 8;
constexpr std::uint64_t kScryptP = 1;
constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kHashBytes = 32;
constexpr std::uint64_t kScryptMaxMemory = 64ull * 1024 * 1024;
constexpr std::size_t kMinPasswordLength = 12;
constexpr std::size_t kMaxPasswordLength = 1024;
// Failure counts kept for at most this many user names: guessing with random names must not
// grow memory without end.
constexpr std::size_t kMaxTrackedUsers = 100'000;
// A channel's accepted password is taken again for this long after its scrypt run, then checked
// in full once more; at most this many channels are remembered at once.
constexpr std::chrono::minutes kChannelMemory{5};
constexpr std::size_t kMaxRememberedChannels = 4096;

std::optional<Bytes> scrypt(std::string_view password, ByteView salt, std::uint64_t log_n, std::uint64_t r,
                            std::uint64_t p, std::size_t length) {
  Bytes out(length);
  if (::EVP_PBE_scrypt(password.data(), password.size(), salt.data(), salt.size(), std::uint64_t{1} << log_n, r, p,
                       kScryptMaxMemory, out.data(), out.size()) != 1) {
    return std::nullopt;
  }
  return out;
}

bool valid_user_name(std::string_view user) {
  return !user.empty() && user.size() <= 128 &&
         user.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@") ==
             std::string_view::npos;
}

}  // namespace

Result<std::string> hash_password(std::string_view password) {
  const Bytes salt = random_bytes(kSaltBytes);
  auto hash = scrypt(password, salt, kScryptLogN, kScryptR, kScryptP, kHashBytes);
  if (!hash) return fail(ErrorCode::kSystemFailure, "scrypt failed");
  return "$scrypt$ln=" + std::to_string(kScryptLogN) + ",r=" + std::to_string(kScryptR) +
         ",p=" + std::to_string(kScryptP) + "$" + to_base64(salt) + "$" + to_base64(*hash);
}

bool password_matches(std::string_view password, std::string_view encoded) {
  unsigned long long log_n = 0, r = 0, p = 0;
  char salt_text[64] = {}, hash_text[128] = {};
  const std::string copy(encoded);
  if (std::sscanf(copy.c_str(), "$scrypt$ln=%llu,r=%llu,p=%llu$%63[^$]$%127s", &log_n, &r, &p, salt_text, hash_text) !=
          5 ||
      log_n < 10 || log_n > 20 || r == 0 || r > 32 || p == 0 || p > 16) {
    return false;
  }
  auto salt = from_base64(salt_text);
  auto expected = from_base64(hash_text);
  // scrypt's output is prefix-consistent: a short stored hash would match many passwords.
  if (!salt || !expected || expected->size() < kHashBytes) return false;
  auto actual = scrypt(password, *salt, log_n, r, p, expected->size());
  return actual && ::CRYPTO_memcmp(actual->data(), expected->data(), actual->size()) == 0;
}

PasswordStore::PasswordStore(store::Store& store, LockoutPolicy policy, Clock clock)
    : m_store(store), m_policy(policy), m_clock(std::move(clock)), m_channel_key(random_bytes(32)) {}

std::chrono::seconds PasswordStore::locked_for(const std::string& user) {
  std::lock_guard lock(m_mutex);
  auto found = m_failures.find(user);
  if (found == m_failures.end()) return std::chrono::seconds(0);
  const auto left = found->second.locked_until - m_clock();
  if (left <= std::chrono::seconds(0)) return std::chrono::seconds(0);
  return std::chrono::ceil<std::chrono::seconds>(left);
}

void PasswordStore::record_failure(const std::string& user) {
  std::lock_guard lock(m_mutex);
  const auto now = m_clock();
  if (m_failures.size() >= kMaxTrackedUsers && !m_failures.count(user)) {
    std::erase_if(m_failures, [&](const auto& entry) { return entry.second.locked_until <= now; });
    if (m_failures.size() >= kMaxTrackedUsers) return;  // every tracked user is locked: keep them
  }
  Failures& failures = m_failures[user];
  if (++failures.count >= m_policy.max_failures) {
    failures.count = 0;
    failures.locked_until = now + m_policy.lockout;
    spdlog::warn("password: user '{}' locked out for {} s after {} failures", user, m_policy.lockout.count(),
                 m_policy.max_failures);
  }
}

void PasswordStore::forget_failures(const std::string& user) {
  std::lock_guard lock(m_mutex);
  m_failures.erase(user);
}

Result<PasswordCheck> PasswordStore::check(std::string_view user_view, std::string_view password,
                                           std::string_view profile, PasswordChannel channel) {
  const std::string user(user_view);
  PasswordCheck result;
  // A name no user can have is refused at once: it costs no scrypt run and no failure entry
  // (it cannot tell anything about existing users either).
  if (!valid_user_name(user)) return result;
  if (auto left = locked_for(user); left.count() > 0) {
    result.outcome = PasswordCheck::Outcome::kLockedOut;
    result.retry_after = left;
    return result;
  }
  auto found = m_store.find_password(user);
  if (!found) return tl::unexpected(found.error());
  const bool remembered = *found && remembered_on(channel, **found, password);
  // An unknown user costs the same scrypt run as a known one, so timing tells nothing.
  static const std::string kDecoy = hash_password("decoy password for unknown users").value_or("");
  const bool matches =
      remembered || (password.size() <= kMaxPasswordLength &&
                     password_matches(password, *found ? (*found)->hash : kDecoy) && found->has_value());
  if (!matches || (*found)->used) {
    record_failure(user);
    return result;
  }
  forget_failures(user);
  if (!(*found)->profile.empty() && (*found)->profile != profile) {
    result.outcome = PasswordCheck::Outcome::kWrongProfile;
    return result;
  }
  if ((*found)->one_time) {
    {
      std::lock_guard lock(m_mutex);
      if (!m_one_time_in_use.insert(user).second) return result;  // another enrollment holds it
    }
    // Read again under the claim: an enrollment that spent the secret while this one ran
    // scrypt has released its claim already, but its record says used.
    auto again = m_store.find_password(user);
    if (!again || !*again || (*again)->used) {
      release(user);
      if (!again) return tl::unexpected(again.error());
      return result;
    }
  } else if (!remembered) {
    remember(channel, **found, password);
  }
  result = accepted(**found);
  result.remembered = remembered;
  return result;
}

bool PasswordStore::remembered_on(PasswordChannel channel, const store::PasswordRecord& record,
                                  std::string_view password) {
  if (channel == kNoChannel || record.one_time) return false;
  const Bytes digest = channel_digest(password);
  if (digest.empty()) return false;
  std::lock_guard lock(m_mutex);
  auto found = m_channels.find(channel);
  if (found == m_channels.end()) return false;
  const ChannelPassword& earlier = found->second;
  // A new password, a new profile binding or a removal and re-creation all change the record's
  // hash (a fresh salt each time): the channel's memory no longer counts.
  return earlier.user == record.user && earlier.stored_hash == record.hash &&
         m_clock() - earlier.accepted_at < kChannelMemory && earlier.digest.size() == digest.size() &&
         ::CRYPTO_memcmp(earlier.digest.data(), digest.data(), digest.size()) == 0;
}

void PasswordStore::remember(PasswordChannel channel, const store::PasswordRecord& record, std::string_view password) {
  ChannelPassword entry{record.user, record.hash, channel_digest(password), m_clock()};
  if (channel == kNoChannel || entry.digest.empty()) return;
  std::lock_guard lock(m_mutex);
  if (m_channels.size() >= kMaxRememberedChannels && !m_channels.contains(channel)) {
    const auto now = m_clock();
    std::erase_if(m_channels, [&](const auto& item) { return now - item.second.accepted_at >= kChannelMemory; });
    if (m_channels.size() >= kMaxRememberedChannels) return;  // all recent: this channel pays scrypt again
  }
  m_channels.insert_or_assign(channel, std::move(entry));
}

Bytes PasswordStore::channel_digest(std::string_view password) const {
  Bytes digest(EVP_MAX_MD_SIZE);
  unsigned int length = 0;
  if (::HMAC(::EVP_sha256(), m_channel_key.data(), static_cast<int>(m_channel_key.size()),
             reinterpret_cast<const unsigned char*>(password.data()), password.size(), digest.data(),
             &length) == nullptr) {
    return {};  // nothing to compare: the password is checked in full
  }
  digest.resize(length);
  return digest;
}

PasswordCheck PasswordStore::accepted(const store::PasswordRecord& record) {
  PasswordCheck result;
  result.outcome = PasswordCheck::Outcome::kAccepted;
  result.requester = Requester{"user:" + record.user, "", false};
  result.one_time = record.one_time;
  return result;
}

Status PasswordStore::spend(std::string_view user) {
  std::lock_guard write(m_write_mutex);  // read, change, write: not interleaved with set_password
  auto found = m_store.find_password(user);
  if (!found) return tl::unexpected(found.error());
  if (*found) {
    (*found)->used = true;
    store::WriteSet writes;
    writes.passwords.push_back(**found);
    writes.audit.push_back({std::chrono::duration_cast<std::chrono::seconds>(m_clock().time_since_epoch()).count(),
                            "user:" + std::string(user), "spend-one-time-secret", "user=" + std::string(user), ""});
    if (auto ok = m_store.commit(writes); !ok) return ok;
  }
  release(user);
  return {};
}

void PasswordStore::release(std::string_view user) {
  std::lock_guard lock(m_mutex);
  auto found = m_one_time_in_use.find(user);
  if (found != m_one_time_in_use.end()) m_one_time_in_use.erase(found);
}

Status PasswordStore::set_password(std::string_view user, std::string_view password, std::string_view profile,
                                   bool one_time) {
  if (!valid_user_name(user)) {
    return fail(ErrorCode::kBadDataFormat, "a user name is 1-128 characters of letters, digits and -_.@");
  }
  if (password.size() < kMinPasswordLength || password.size() > kMaxPasswordLength) {
    return fail(ErrorCode::kBadDataFormat, "a password needs 12 to 1024 characters");
  }
  auto hash = hash_password(password);
  if (!hash) return tl::unexpected(hash.error());
  std::lock_guard write(m_write_mutex);
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(m_clock().time_since_epoch()).count();
  store::WriteSet writes;
  writes.passwords.push_back({std::string(user), *hash, std::string(profile), one_time, false, now});
  writes.audit.push_back(
      {now, "operator", "set-password", "user=" + std::string(user),
       std::string(one_time ? "one-time" : "reusable") + (profile.empty() ? "" : " profile=" + std::string(profile))});
  if (auto ok = m_store.commit(writes); !ok) return ok;
  forget_failures(std::string(user));
  return {};
}

Status PasswordStore::remove_user(std::string_view user) {
  std::lock_guard write(m_write_mutex);
  auto found = m_store.find_password(user);
  if (!found) return tl::unexpected(found.error());
  if (!*found) return fail(ErrorCode::kNotFound, "no user '" + std::string(user) + "'");
  store::WriteSet writes;
  writes.removed_passwords.emplace_back(user);
  writes.audit.push_back({std::chrono::duration_cast<std::chrono::seconds>(m_clock().time_since_epoch()).count(),
                          "operator", "remove-user", "user=" + std::string(user), ""});
  return m_store.commit(writes);
}

Result<std::vector<PasswordUser>> PasswordStore::users(std::size_t limit) {
  auto records = m_store.list_passwords(limit);
  if (!records) return tl::unexpected(records.error());
  std::vector<PasswordUser> out;
  for (const auto& r : *records) out.push_back({r.user, r.profile, r.one_time, r.used, r.created_at});
  return out;
}

}  // namespace enrolld::ra
