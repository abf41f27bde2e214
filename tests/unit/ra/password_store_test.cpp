// PasswordStore on the real RocksDB store: scrypt hashes, per-user lockout with an injected clock,
// profile restrictions, one-time secrets (claimed, released, spent durably), operator changes
// with their audit records. Also the store's "passwords" column family: round trip, and the
// upgrade of a store created before it existed.
#include "ra/password_store.h"

#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include "store/rocksdb/rocksdb_store.h"
#include "support/temp_dir.h"

namespace enrolld::ra {
namespace {

using Outcome = PasswordCheck::Outcome;

constexpr const char* kPassword = "correct horse battery staple";
constexpr const char* kWrong = "correct horse battery stapler";

std::string base64(ByteView bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n =
      ::EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// The PHC string of scrypt with explicit parameters, made here independently of hash_password.
std::string scrypt_encoding(std::string_view password, ByteView salt, unsigned log_n, unsigned r, unsigned p) {
  Bytes hash(32);
  EXPECT_EQ(::EVP_PBE_scrypt(password.data(), password.size(), salt.data(), salt.size(), std::uint64_t{1} << log_n, r,
                             p, 64ull * 1024 * 1024, hash.data(), hash.size()),
            1);
  return "$scrypt$ln=" + std::to_string(log_n) + ",r=" + std::to_string(r) + ",p=" + std::to_string(p) + "$" +
         base64(salt) + "$" + base64(hash);
}

// Replaces the first `from` in `text` by `to`.
std::string replaced(std::string text, std::string_view from, std::string_view to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from << " not in " << text;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// ---- hash_password / password_matches ----

TEST(PasswordHash, RoundTripMatchesOnlyThePassword) {
  auto hash = hash_password(kPassword);
  ASSERT_TRUE(hash) << hash.error().message;
  EXPECT_EQ(hash->rfind("$scrypt$ln=15,r=8,p=1$", 0), 0U) << *hash;
  EXPECT_EQ(hash->find(kPassword), std::string::npos);
  EXPECT_TRUE(password_matches(kPassword, *hash));
  EXPECT_FALSE(password_matches(kWrong, *hash));
  EXPECT_FALSE(password_matches("", *hash));
  EXPECT_FALSE(password_matches(std::string(kPassword) + "x", *hash));
  EXPECT_FALSE(password_matches(std::string_view(kPassword).substr(1), *hash));
}

TEST(PasswordHash, TwoHashesOfOnePasswordDifferBySalt) {
  auto first = hash_password(kPassword);
  auto second = hash_password(kPassword);
  ASSERT_TRUE(first && second);
  EXPECT_NE(*first, *second);
  // The same parameters, different salt (and so different hash).
  const auto salt_of = [](const std::string& h) { return h.substr(0, h.rfind('$')); };
  EXPECT_NE(salt_of(*first), salt_of(*second));
  EXPECT_TRUE(password_matches(kPassword, *first));
  EXPECT_TRUE(password_matches(kPassword, *second));
}

TEST(PasswordHash, OtherParametersInRangeAreRead) {
  // A hash made with cheaper (or, later, dearer) parameters still verifies: they travel with it.
  const Bytes salt = random_bytes(16);
  const std::string encoded = scrypt_encoding(kPassword, salt, 10, 4, 2);
  EXPECT_TRUE(password_matches(kPassword, encoded)) << encoded;
  EXPECT_FALSE(password_matches(kWrong, encoded));
}

TEST(PasswordHash, ParametersOutOfRangeAreRejected) {
  auto hash = hash_password(kPassword);
  ASSERT_TRUE(hash);
  const std::vector<std::pair<std::string, std::string>> changes = {
      {"ln=15", "ln=9"}, {"ln=15", "ln=21"}, {"ln=15", "ln=64"}, {"ln=15", "ln=0"}, {"ln=15", "ln=-1"},
      {"r=8", "r=0"},    {"r=8", "r=33"},    {"p=1", "p=0"},     {"p=1", "p=17"}};
  for (const auto& [from, to] : changes) {
    EXPECT_FALSE(password_matches(kPassword, replaced(*hash, from, to))) << from << " -> " << to;
  }
  // In range for the parser, but beyond the memory bound: refused, not allocated.
  const Bytes salt = random_bytes(16);
  const std::string dear = replaced(scrypt_encoding(kPassword, salt, 10, 8, 1), "ln=10,r=8", "ln=20,r=32");
  EXPECT_FALSE(password_matches(kPassword, dear));
}

TEST(PasswordHash, MalformedEncodingsDoNotMatch) {
  auto hash = hash_password(kPassword);
  ASSERT_TRUE(hash);
  const std::string good = *hash;
  const auto last_dollar = good.rfind('$');
  const std::string salt_part =
      good.substr(good.rfind('$', last_dollar - 1) + 1, last_dollar - good.rfind('$', last_dollar - 1) - 1);
  const std::vector<std::string> malformed = {
      "",
      "garbage",
      "$scrypt$",
      "$scrypt$ln=15,r=8,p=1$",
      "$scrypt$ln=15,r=8,p=1$$",
      good.substr(0, last_dollar),                                                  // no hash
      good.substr(0, last_dollar + 1),                                              // empty hash
      good.substr(0, good.size() - 1),                                              // truncated base64
      replaced(good, "$scrypt$", "$argon2$"),                                       // another algorithm
      replaced(good, "$scrypt$", "$SCRYPT$"),                                       // case-sensitive
      replaced(good, "ln=15,r=8,p=1", "r=8,ln=15,p=1"),                             // order matters
      replaced(good, "ln=15,r=8,p=1", "ln=15,r=8"),                                 // missing parameter
      replaced(good, salt_part, "!!!!" + salt_part.substr(4)),                      // salt not base64
      replaced(good, salt_part, ""),                                                // empty salt
      good.substr(0, last_dollar + 1) + std::string(200, 'A'),                      // an overlong hash
      "$scrypt$ln=15,r=8,p=1$" + std::string(100, 'A') + good.substr(last_dollar),  // overlong salt
      std::string(good).insert(5, 1, '\0'),                                         // NUL inside
  };
  for (const auto& encoded : malformed) {
    EXPECT_FALSE(password_matches(kPassword, encoded)) << "'" << encoded << "'";
  }
  EXPECT_TRUE(password_matches(kPassword, good));
}

// Base64 that is padding only: EVP_DecodeBlock reads "====" as three bytes, and four '=' must
// not be taken off those three (the size would wrap around and the resize throw).
TEST(PasswordHash, PaddingOnlyBase64DoesNotMatch) {
  auto hash = hash_password(kPassword);
  ASSERT_TRUE(hash);
  const std::string good = *hash;
  const auto last_dollar = good.rfind('$');
  const auto salt_dollar = good.rfind('$', last_dollar - 1);
  const std::string padded_hash = good.substr(0, last_dollar) + "$====";
  const std::string padded_salt = good.substr(0, salt_dollar) + "$====" + good.substr(last_dollar);
  for (const auto& encoded : {padded_hash, padded_salt}) {
    bool matches = false;
    EXPECT_NO_THROW(matches = password_matches(kPassword, encoded)) << encoded;
    EXPECT_FALSE(matches) << encoded;
  }
}

// ---- PasswordStore ----

class PasswordStoreTest : public ::testing::Test {
 protected:
  PasswordStoreTest() { reopen(); }

  std::string db_path() const { return (dir.path() / "db").string(); }

  // Closes and opens the store again, with a new PasswordStore (failure counts start afresh).
  void reopen() {
    passwords.reset();
    store.reset();
    auto opened = store::RocksDbStore::open(db_path());
    ASSERT_TRUE(opened) << opened.error().message;
    store = std::move(*opened);
    passwords = std::make_unique<PasswordStore>(*store, policy, [this] { return start + advance; });
  }

  Outcome outcome(std::string_view user, std::string_view password, std::string_view profile = "") {
    auto checked = passwords->check(user, password, profile);
    EXPECT_TRUE(checked) << checked.error().message;
    return checked ? checked->outcome : Outcome::kRejected;
  }

  std::vector<store::AuditRecord> audit() {
    auto records = store->list_audit(100);
    EXPECT_TRUE(records) << records.error().message;
    return records ? *records : std::vector<store::AuditRecord>();
  }

  testing::TempDir dir{"enrolld-password-test"};
  LockoutPolicy policy{3, std::chrono::seconds(60)};
  const std::chrono::system_clock::time_point start =
      std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  std::chrono::seconds advance{0};
  std::unique_ptr<store::RocksDbStore> store;
  std::unique_ptr<PasswordStore> passwords;
};

TEST_F(PasswordStoreTest, TheRightPasswordIsAcceptedAsTheUser) {
  ASSERT_TRUE(passwords->set_password("alice", kPassword, "", false));
  auto checked = passwords->check("alice", kPassword, "any-profile");
  ASSERT_TRUE(checked) << checked.error().message;
  EXPECT_EQ(checked->outcome, Outcome::kAccepted);
  EXPECT_EQ(checked->requester.identity, "user:alice");
  EXPECT_TRUE(checked->requester.certificate_serial_hex.empty());
  EXPECT_FALSE(checked->requester.registration_authority);
  EXPECT_FALSE(checked->one_time);
  // Reusable: again and again.
  EXPECT_EQ(outcome("alice", kPassword), Outcome::kAccepted);
  EXPECT_EQ(outcome("alice", kPassword, "default"), Outcome::kAccepted);
}

TEST_F(PasswordStoreTest, WrongPasswordAndUnknownUserAreRejectedAlike) {
  ASSERT_TRUE(passwords->set_password("alice", kPassword, "", false));
  auto wrong = passwords->check("alice", kWrong, "");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->outcome, Outcome::kRejected);
  EXPECT_TRUE(wrong->requester.identity.empty());
  EXPECT_EQ(outcome("bob", kPassword), Outcome::kRejected);
  EXPECT_EQ(outcome("Alice", kPassword), Outcome::kRejected) << "user names are case-sensitive";
  EXPECT_EQ(outcome("", kPassword), Outcome::kRejected);
  EXPECT_EQ(outcome("not a valid name", kPassword), Outcome::kRejected);
  EXPECT_EQ(outcome("alice", ""), Outcome::kRejected);
  EXPECT_EQ(outcome("alice", std::string(kPassword) + std::string(2000, 'x')), Outcome::kRejected);
}

TEST_F(PasswordStoreTest, TooManyFailuresLockTheUserOutUntilTheLockoutEnds) {
  ASSERT_TRUE(passwords->set_password("alice", kPassword, "", false));
  EXPECT_EQ(outcome("alice", kWrong), Outcome::kRejected);
  EXPECT_EQ(outcome("alice", kWrong), Outcome::kRejected);
  EXPECT_EQ(outcome("alice", kWrong), Outcome::kRejected);  // the third: locks
  auto locked = passwords->check("alice", kPassword, "");
  ASSERT_TRUE(locked);
  EXPECT_EQ(locked->outcome, Outcome::kLockedOut) << "even the right password waits";
  EXPECT_EQ(locked->retry_after, std::chrono::seconds(60));
  EXPECT_TRUE(locked->requester.identity.empty());

  advance = std::chrono::seconds(59);
  locked = passwords->check("alice", kPassword, "");
  ASSERT_TRUE(locked);
  EXPECT_EQ(locked->outcome, Outcome::kLockedOut);
  EXPECT_EQ(locked->retry_after, std::chrono::seconds(1));

  // Other users are not affected.
  ASSERT_TRUE(passwords->set_password("bob", kPassword, "", false));
  EXPECT_EQ(outcome("bob", kPassword), Outcome::kAccepted);

  advance = std::chrono::seconds(60);
  EXPECT_EQ(outcome("alice", kPassword), Outcome::kAccepted);
}

TEST_F(PasswordStoreTest, AfterALockoutTheCountStartsAgain) {
  ASSERT_TRUE(passwords->set_password("alice", kPassword, "", false));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(outcome("alice", kWrong), Outcome::kRejected);
  EXPECT_EQ(outcome("alice", kPassword), Outcome::kLockedOut);
  advance = std::chrono::seconds(61);
  EXPECT_EQ(outcome("alice", kWrong), Outcome::kRejected) << "one failure after the lockout does not lock again";
  EXPECT_EQ(outcome("alice", kWrong), Outcome::kRejected);
  EXPECT_EQ(outcome("alice", kWrong), Outcome::kRejected);
  auto locked = passwords->check("alice", kPassword, "");
  ASSERT_TRUE(locked);
  EXPECT_EQ(locked->outcome, Outcome::kLockedOut);
  EXPECT_EQ(locked->retry_after, std::chrono::seconds(60));
}

TEST_F(PasswordStoreTest, UnknownUsersAreLockedOutLikeKnownOnes) {
  // Otherwise the lockout would tell which user names exist.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(outcome("mallory", kWrong), Outcome::kRejected);
  EXPECT_EQ(outcome("mallory", kWrong), Outcome::kLockedOut);
}

TEST_F(PasswordStoreTest, ASuccessResetsTheFailureCount) {
  ASSERT_TRUE(passwords->set_password("alice", kPassword, "", false));
  EXPECT_EQ(outcome("alice", kWrong), Outcome::kRejected);
  EXPECT_EQ(outcome("alice", kWrong), Outcome::kRejected);
  EXPECT_EQ(outcome("alice", kPassword), Outcome::kAccepted);
  EXPECT_EQ(outcome("alice", kWrong), Outcome::kRejected);
  EXPECT_EQ(outcome("alice", kWrong), Outcome::kRejected);
  EXPECT_EQ(outcome("alice", kPassword), Outcome::kAccepted) << "two failures since the success: not locked";
  EXPECT_EQ(outcome("alice", kWrong), Outcome::kRejected);
  EXPECT_EQ(outcome("alice", kWrong), Outcome::kRejected);
  EXPECT_EQ(outcome("alice", kWrong), Outcome::kRejected);
  EXPECT_EQ(outcome("alice", kPassword), Outcome::kLockedOut);
}

TEST_F(PasswordStoreTest, SettingAPasswordLiftsALockout) {
  ASSERT_TRUE(passwords->set_password("alice", kPassword, "", false));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(outcome("alice", kWrong), Outcome::kRejected);
  EXPECT_EQ(outcome("alice", kPassword), Outcome::kLockedOut);
  ASSERT_TRUE(passwords->set_password("alice", "a brand new password", "", false));
  EXPECT_EQ(outcome("alice", kPassword), Outcome::kRejected) << "the old password is gone";
  EXPECT_EQ(outcome("alice", "a brand new password"), Outcome::kAccepted);
}

TEST_F(PasswordStoreTest, ARestrictedUserGetsWrongProfileOnlyWithTheRightPassword) {
  ASSERT_TRUE(passwords->set_password("router", kPassword, "tls-server", false));
  EXPECT_EQ(outcome("router", kPassword, "tls-server"), Outcome::kAccepted);
  EXPECT_EQ(outcome("router", kPassword, "tls-client"), Outcome::kWrongProfile);
  EXPECT_EQ(outcome("router", kPassword, ""), Outcome::kWrongProfile) << "the default profile is another profile";
  EXPECT_EQ(outcome("router", kPassword, "TLS-SERVER"), Outcome::kWrongProfile);
  EXPECT_EQ(outcome("router", kWrong, "tls-client"), Outcome::kRejected) << "a wrong password learns nothing";
  EXPECT_EQ(outcome("router", kWrong, "tls-server"), Outcome::kRejected);
  auto users = passwords->users(10);
  ASSERT_TRUE(users);
  ASSERT_EQ(users->size(), 1U);
  EXPECT_EQ(users->front().profile, "tls-server");
}

TEST_F(PasswordStoreTest, AOneTimeSecretIsClaimedReleasedAndSpent) {
  ASSERT_TRUE(passwords->set_password("device-1", kPassword, "", true));
  auto first = passwords->check("device-1", kPassword, "");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->outcome, Outcome::kAccepted);
  EXPECT_TRUE(first->one_time);
  EXPECT_EQ(first->requester.identity, "user:device-1");

  // Claimed by the enrollment in progress: nobody else gets it meanwhile.
  EXPECT_EQ(outcome("device-1", kPassword), Outcome::kRejected);
  // Refusals while claimed are not failures of the password.
  EXPECT_EQ(outcome("device-1", kPassword), Outcome::kRejected);
  EXPECT_EQ(outcome("device-1", kPassword), Outcome::kRejected);

  // The enrollment did not succeed: the secret is free again.
  passwords->release("device-1");
  auto again = passwords->check("device-1", kPassword, "");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->outcome, Outcome::kAccepted);
  EXPECT_TRUE(again->one_time);

  // It enrolled: spent, refused from now on.
  ASSERT_TRUE(passwords->spend("device-1"));
  EXPECT_EQ(outcome("device-1", kPassword), Outcome::kRejected);
  passwords->release("device-1");  // a stray release changes nothing
  EXPECT_EQ(outcome("device-1", kPassword), Outcome::kRejected);

  auto users = passwords->users(10);
  ASSERT_TRUE(users);
  ASSERT_EQ(users->size(), 1U);
  EXPECT_TRUE(users->front().one_time);
  EXPECT_TRUE(users->front().used);
}

TEST_F(PasswordStoreTest, ASpentSecretStaysSpentAcrossReopening) {
  ASSERT_TRUE(passwords->set_password("device-1", kPassword, "", true));
  ASSERT_EQ(outcome("device-1", kPassword), Outcome::kAccepted);
  ASSERT_TRUE(passwords->spend("device-1"));
  reopen();
  ASSERT_NE(passwords, nullptr);
  EXPECT_EQ(outcome("device-1", kPassword), Outcome::kRejected);
  auto record = store->find_password("device-1");
  ASSERT_TRUE(record && *record);
  EXPECT_TRUE((*record)->used);
  EXPECT_TRUE((*record)->one_time);
}

TEST_F(PasswordStoreTest, AClaimDoesNotSurviveReopeningButTheSecretDoes) {
  // The claim lives in memory: a restart in mid-enrollment leaves the secret usable.
  ASSERT_TRUE(passwords->set_password("device-1", kPassword, "", true));
  ASSERT_EQ(outcome("device-1", kPassword), Outcome::kAccepted);
  reopen();
  ASSERT_NE(passwords, nullptr);
  EXPECT_EQ(outcome("device-1", kPassword), Outcome::kAccepted);
}

TEST_F(PasswordStoreTest, ConcurrentChecksOfOneOneTimeSecretAcceptExactlyOne) {
  ASSERT_TRUE(passwords->set_password("device-1", kPassword, "", true));
  constexpr int kThreads = 4;
  std::atomic<int> accepted{0}, rejected{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      auto checked = passwords->check("device-1", kPassword, "");
      if (checked && checked->outcome == Outcome::kAccepted) {
        ++accepted;
      } else if (checked && checked->outcome == Outcome::kRejected) {
        ++rejected;
      } else {
        ++other;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted.load(), 1);
  EXPECT_EQ(rejected.load(), kThreads - 1);
  EXPECT_EQ(other.load(), 0);
}

TEST_F(PasswordStoreTest, AReusablePasswordIsNotClaimed) {
  ASSERT_TRUE(passwords->set_password("alice", kPassword, "", false));
  auto checked = passwords->check("alice", kPassword, "");
  ASSERT_TRUE(checked);
  EXPECT_FALSE(checked->one_time);
  EXPECT_EQ(outcome("alice", kPassword), Outcome::kAccepted) << "no release needed in between";
}

// ---- a password remembered on its channel (an EST TLS connection) ----

class PasswordChannelTest : public PasswordStoreTest {
 protected:
  // The check's result on `channel`; kRejected with remembered false when it could not run.
  PasswordCheck on(PasswordChannel channel, std::string_view user, std::string_view password,
                   std::string_view profile = "") {
    auto checked = passwords->check(user, password, profile, channel);
    EXPECT_TRUE(checked) << checked.error().message;
    return checked ? *checked : PasswordCheck{};
  }
};

TEST_F(PasswordChannelTest, AnAcceptedPasswordIsRememberedOnItsChannelOnly) {
  ASSERT_TRUE(passwords->set_password("alice", kPassword, "", false));
  auto first = on(7, "alice", kPassword);
  EXPECT_EQ(first.outcome, Outcome::kAccepted);
  EXPECT_FALSE(first.remembered) << "the first check runs scrypt";
  auto again = on(7, "alice", kPassword);
  EXPECT_EQ(again.outcome, Outcome::kAccepted);
  EXPECT_TRUE(again.remembered);
  EXPECT_EQ(again.requester.identity, "user:alice");
  EXPECT_FALSE(on(8, "alice", kPassword).remembered) << "another connection checks in full";
  EXPECT_FALSE(on(kNoChannel, "alice", kPassword).remembered);
  EXPECT_FALSE(on(kNoChannel, "alice", kPassword).remembered) << "no channel: never remembered";
}

TEST_F(PasswordChannelTest, AnotherPasswordOrUserOnTheChannelIsCheckedInFull) {
  ASSERT_TRUE(passwords->set_password("alice", kPassword, "", false));
  ASSERT_TRUE(passwords->set_password("bob", "bob's own long password", "", false));
  ASSERT_EQ(on(7, "alice", kPassword).outcome, Outcome::kAccepted);
  auto wrong = on(7, "alice", kWrong);
  EXPECT_EQ(wrong.outcome, Outcome::kRejected);
  EXPECT_FALSE(wrong.remembered);
  EXPECT_EQ(on(7, "bob", kPassword).outcome, Outcome::kRejected) << "alice's password is not bob's";
  auto bob = on(7, "bob", "bob's own long password");
  EXPECT_EQ(bob.outcome, Outcome::kAccepted);
  EXPECT_FALSE(bob.remembered);
  EXPECT_TRUE(on(7, "bob", "bob's own long password").remembered) << "the channel now remembers bob";
  EXPECT_FALSE(on(7, "alice", kPassword).remembered) << "and no longer alice";
}

TEST_F(PasswordChannelTest, AChangedOrRemovedUserIsNotTakenFromMemory) {
  ASSERT_TRUE(passwords->set_password("alice", kPassword, "", false));
  ASSERT_EQ(on(7, "alice", kPassword).outcome, Outcome::kAccepted);
  ASSERT_TRUE(on(7, "alice", kPassword).remembered);
  ASSERT_TRUE(passwords->set_password("alice", "a brand new password", "", false));
  EXPECT_EQ(on(7, "alice", kPassword).outcome, Outcome::kRejected) << "the old password is gone";

  ASSERT_TRUE(passwords->set_password("alice", kPassword, "", false));
  ASSERT_EQ(on(7, "alice", kPassword).outcome, Outcome::kAccepted);
  ASSERT_TRUE(passwords->set_password("alice", kPassword, "tls-server", false));
  auto rebound = on(7, "alice", kPassword, "tls-client");
  EXPECT_EQ(rebound.outcome, Outcome::kWrongProfile) << "the new profile binding counts at once";
  EXPECT_FALSE(rebound.remembered) << "the same password, but a new record";

  ASSERT_TRUE(passwords->remove_user("alice"));
  EXPECT_EQ(on(7, "alice", kPassword).outcome, Outcome::kRejected);
}

TEST_F(PasswordChannelTest, ALockoutCountsOnARememberedChannel) {
  ASSERT_TRUE(passwords->set_password("alice", kPassword, "", false));
  ASSERT_EQ(on(7, "alice", kPassword).outcome, Outcome::kAccepted);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(on(9, "alice", kWrong).outcome, Outcome::kRejected);
  auto locked = on(7, "alice", kPassword);
  EXPECT_EQ(locked.outcome, Outcome::kLockedOut);
  EXPECT_TRUE(locked.requester.identity.empty());
}

TEST_F(PasswordChannelTest, TheMemoryLastsFiveMinutesFromTheFullCheck) {
  ASSERT_TRUE(passwords->set_password("alice", kPassword, "", false));
  ASSERT_FALSE(on(7, "alice", kPassword).remembered);
  advance = std::chrono::seconds(299);
  EXPECT_TRUE(on(7, "alice", kPassword).remembered);
  advance = std::chrono::seconds(300);
  auto expired = on(7, "alice", kPassword);
  EXPECT_EQ(expired.outcome, Outcome::kAccepted);
  EXPECT_FALSE(expired.remembered) << "checked in full again";
  EXPECT_TRUE(on(7, "alice", kPassword).remembered) << "and remembered from then";
}

TEST_F(PasswordChannelTest, AOneTimeSecretIsNeverRemembered) {
  ASSERT_TRUE(passwords->set_password("device-1", kPassword, "", true));
  auto first = on(7, "device-1", kPassword);
  ASSERT_EQ(first.outcome, Outcome::kAccepted);
  EXPECT_FALSE(first.remembered);
  passwords->release("device-1");
  auto second = on(7, "device-1", kPassword);
  EXPECT_EQ(second.outcome, Outcome::kAccepted);
  EXPECT_FALSE(second.remembered);
  ASSERT_TRUE(passwords->spend("device-1"));
  EXPECT_EQ(on(7, "device-1", kPassword).outcome, Outcome::kRejected) << "spent";
}

TEST_F(PasswordStoreTest, SpendingAnUnknownUserIsHarmless) {
  EXPECT_TRUE(passwords->spend("nobody"));
  EXPECT_TRUE(audit().empty());
  passwords->release("nobody");
}

TEST_F(PasswordStoreTest, SetPasswordValidatesNameAndPassword) {
  const auto code_of = [&](std::string_view user, std::string_view password) {
    auto set = passwords->set_password(user, password, "", false);
    return set ? std::optional<ErrorCode>() : std::optional<ErrorCode>(set.error().code);
  };
  EXPECT_EQ(code_of("alice", "short"), ErrorCode::kBadDataFormat);
  EXPECT_EQ(code_of("alice", "elevenchars"), ErrorCode::kBadDataFormat);  // 11
  EXPECT_EQ(code_of("alice", ""), ErrorCode::kBadDataFormat);
  EXPECT_EQ(code_of("alice", std::string(1025, 'x')), ErrorCode::kBadDataFormat);
  EXPECT_EQ(code_of("", kPassword), ErrorCode::kBadDataFormat);
  EXPECT_EQ(code_of("with space", kPassword), ErrorCode::kBadDataFormat);
  EXPECT_EQ(code_of("colon:user", kPassword), ErrorCode::kBadDataFormat) << "Basic splits at the colon";
  EXPECT_EQ(code_of("slash/user", kPassword), ErrorCode::kBadDataFormat);
  EXPECT_EQ(code_of("z\xc3\xbcrich", kPassword), ErrorCode::kBadDataFormat);
  EXPECT_EQ(code_of(std::string("nul\0user", 8), kPassword), ErrorCode::kBadDataFormat);
  EXPECT_EQ(code_of(std::string(129, 'a'), kPassword), ErrorCode::kBadDataFormat);
  auto users = passwords->users(10);
  ASSERT_TRUE(users);
  EXPECT_TRUE(users->empty()) << "nothing refused was stored";
  EXPECT_TRUE(audit().empty());

  EXPECT_EQ(code_of("twelve-chars", "twelve chars"), std::nullopt);  // exactly 12
  EXPECT_EQ(code_of(std::string(128, 'a'), std::string(1024, 'x')), std::nullopt);
  EXPECT_EQ(code_of("Dev-01_a.b@example.com", kPassword), std::nullopt);
  EXPECT_EQ(outcome("Dev-01_a.b@example.com", kPassword), Outcome::kAccepted);
  EXPECT_EQ(outcome("twelve-chars", "twelve chars"), Outcome::kAccepted);
}

TEST_F(PasswordStoreTest, SetPasswordReplacesTheUser) {
  ASSERT_TRUE(passwords->set_password("alice", kPassword, "tls-client", true));
  advance = std::chrono::seconds(100);
  ASSERT_TRUE(passwords->set_password("alice", "another good password", "", false));
  auto users = passwords->users(10);
  ASSERT_TRUE(users);
  ASSERT_EQ(users->size(), 1U);
  EXPECT_EQ(users->front().user, "alice");
  EXPECT_EQ(users->front().profile, "");
  EXPECT_FALSE(users->front().one_time);
  EXPECT_EQ(users->front().created_at, 1'800'000'100);
  EXPECT_EQ(outcome("alice", kPassword, "tls-client"), Outcome::kRejected);
  EXPECT_EQ(outcome("alice", "another good password", "tls-server"), Outcome::kAccepted);
}

TEST_F(PasswordStoreTest, ANewSecretForASpentUserIsGoodAgain) {
  ASSERT_TRUE(passwords->set_password("device-1", kPassword, "", true));
  ASSERT_EQ(outcome("device-1", kPassword), Outcome::kAccepted);
  ASSERT_TRUE(passwords->spend("device-1"));
  ASSERT_TRUE(passwords->set_password("device-1", "the second secret", "", true));
  EXPECT_EQ(outcome("device-1", "the second secret"), Outcome::kAccepted);
}

TEST_F(PasswordStoreTest, RemoveUser) {
  auto missing = passwords->remove_user("nobody");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message.find("nobody"), std::string::npos) << missing.error().message;

  ASSERT_TRUE(passwords->set_password("alice", kPassword, "", false));
  ASSERT_TRUE(passwords->set_password("bob", kPassword, "", false));
  ASSERT_TRUE(passwords->remove_user("alice"));
  EXPECT_EQ(outcome("alice", kPassword), Outcome::kRejected);
  EXPECT_EQ(outcome("bob", kPassword), Outcome::kAccepted);
  auto again = passwords->remove_user("alice");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kNotFound);
  auto users = passwords->users(10);
  ASSERT_TRUE(users);
  ASSERT_EQ(users->size(), 1U);
  EXPECT_EQ(users->front().user, "bob");
}

TEST_F(PasswordStoreTest, UsersAreListedInOrderWithoutHashesUpToTheLimit) {
  advance = std::chrono::seconds(5);
  ASSERT_TRUE(passwords->set_password("carol", kPassword, "", true));
  ASSERT_TRUE(passwords->set_password("alice", kPassword, "tls-client", false));
  ASSERT_TRUE(passwords->set_password("bob", kPassword, "", false));
  auto users = passwords->users(10);
  ASSERT_TRUE(users) << users.error().message;
  ASSERT_EQ(users->size(), 3U);
  EXPECT_EQ((*users)[0].user, "alice");
  EXPECT_EQ((*users)[0].profile, "tls-client");
  EXPECT_FALSE((*users)[0].one_time);
  EXPECT_EQ((*users)[1].user, "bob");
  EXPECT_EQ((*users)[2].user, "carol");
  EXPECT_TRUE((*users)[2].one_time);
  EXPECT_FALSE((*users)[2].used);
  for (const auto& u : *users) {
    EXPECT_EQ(u.created_at, 1'800'000'005);
    for (const std::string& field : {u.user, u.profile}) {
      EXPECT_EQ(field.find("$scrypt$"), std::string::npos);
      EXPECT_EQ(field.find(kPassword), std::string::npos);
    }
  }
  auto limited = passwords->users(2);
  ASSERT_TRUE(limited);
  ASSERT_EQ(limited->size(), 2U);
  EXPECT_EQ((*limited)[1].user, "bob");
  // The store keeps hashes, never the password itself.
  auto record = store->find_password("alice");
  ASSERT_TRUE(record && *record);
  EXPECT_EQ((*record)->hash.rfind("$scrypt$", 0), 0U);
  EXPECT_EQ((*record)->hash.find(kPassword), std::string::npos);
  EXPECT_TRUE(password_matches(kPassword, (*record)->hash));
}

TEST_F(PasswordStoreTest, SetRemoveAndSpendAreAudited) {
  advance = std::chrono::seconds(1);
  ASSERT_TRUE(passwords->set_password("alice", kPassword, "", false));
  advance = std::chrono::seconds(2);
  ASSERT_TRUE(passwords->set_password("device-1", kPassword, "tls-client", true));
  advance = std::chrono::seconds(3);
  ASSERT_EQ(outcome("device-1", kPassword, "tls-client"), Outcome::kAccepted);
  ASSERT_TRUE(passwords->spend("device-1"));
  advance = std::chrono::seconds(4);
  ASSERT_TRUE(passwords->remove_user("alice"));
  // Checks themselves are not audited; refusals are not either.
  EXPECT_EQ(outcome("alice", kPassword), Outcome::kRejected);
  EXPECT_FALSE(passwords->remove_user("alice"));

  const auto records = audit();
  ASSERT_EQ(records.size(), 4U);
  EXPECT_EQ(records[0], (store::AuditRecord{1'800'000'001, "operator", "set-password", "user=alice", "reusable"}));
  EXPECT_EQ(records[1], (store::AuditRecord{1'800'000'002, "operator", "set-password", "user=device-1",
                                            "one-time profile=tls-client"}));
  EXPECT_EQ(records[2],
            (store::AuditRecord{1'800'000'003, "user:device-1", "spend-one-time-secret", "user=device-1", ""}));
  EXPECT_EQ(records[3], (store::AuditRecord{1'800'000'004, "operator", "remove-user", "user=alice", ""}));
  for (const auto& r : records) {
    for (const std::string& field : {r.actor, r.action, r.subject, r.detail}) {
      EXPECT_EQ(field.find(kPassword), std::string::npos);
      EXPECT_EQ(field.find("$scrypt$"), std::string::npos);
    }
  }
}

// ---- the store's "passwords" column family ----

store::PasswordRecord password_record(const std::string& user) {
  store::PasswordRecord r;
  r.user = user;
  r.hash = "$scrypt$ln=15,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g=";
  r.profile = "tls-client";
  r.one_time = true;
  r.used = true;  // not the defaults, so they must really be read back
  r.created_at = -5;
  return r;
}

class PasswordColumnFamilyTest : public ::testing::Test {
 protected:
  std::string db_path() const { return (dir.path() / "db").string(); }

  std::unique_ptr<store::RocksDbStore> open(store::RocksDbStore::Mode mode = store::RocksDbStore::Mode::kReadWrite) {
    auto opened = store::RocksDbStore::open(db_path(), mode);
    EXPECT_TRUE(opened) << opened.error().message;
    return opened ? std::move(*opened) : nullptr;
  }

  testing::TempDir dir{"enrolld-password-store-test"};
};

TEST_F(PasswordColumnFamilyTest, PasswordRoundTripKeepsEveryField) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  const auto record = password_record("alice");
  store::WriteSet writes;
  writes.passwords = {record};
  ASSERT_TRUE(store->commit(writes));
  auto found = store->find_password("alice");
  ASSERT_TRUE(found) << found.error().message;
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(**found, record);

  store::PasswordRecord empty;
  empty.user = "e";
  writes.passwords = {empty};
  ASSERT_TRUE(store->commit(writes));
  found = store->find_password("e");
  ASSERT_TRUE(found && *found);
  EXPECT_EQ(**found, empty);

  auto absent = store->find_password("alic");
  ASSERT_TRUE(absent);
  EXPECT_FALSE(absent->has_value()) << "keys match exactly, not by prefix";
  absent = store->find_password("");
  ASSERT_TRUE(absent);
  EXPECT_FALSE(absent->has_value());
}

TEST_F(PasswordColumnFamilyTest, PasswordsAreReplacedRemovedAndListedInUserOrder) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  store::WriteSet writes;
  writes.passwords = {password_record("carol"), password_record("alice"), password_record("bob")};
  ASSERT_TRUE(store->commit(writes));
  auto listed = store->list_passwords(10);
  ASSERT_TRUE(listed) << listed.error().message;
  ASSERT_EQ(listed->size(), 3U);
  EXPECT_EQ((*listed)[0], password_record("alice"));  // whole records
  EXPECT_EQ((*listed)[1].user, "bob");
  EXPECT_EQ((*listed)[2].user, "carol");
  auto limited = store->list_passwords(1);
  ASSERT_TRUE(limited);
  ASSERT_EQ(limited->size(), 1U);
  EXPECT_EQ(limited->front().user, "alice");

  auto replacement = password_record("bob");
  replacement.profile = "";
  replacement.used = false;
  store::WriteSet change;
  change.passwords = {replacement};
  change.removed_passwords = {"alice", "nobody"};  // removing an absent user is no error
  change.audit = {{1, "operator", "remove-user", "user=alice", ""}};
  ASSERT_TRUE(store->commit(change));
  listed = store->list_passwords(10);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 2U);
  EXPECT_EQ((*listed)[0], replacement);
  EXPECT_EQ((*listed)[1].user, "carol");
  EXPECT_FALSE(store->find_password("alice")->has_value());
  auto audit = store->list_audit(10);
  ASSERT_TRUE(audit);
  ASSERT_EQ(audit->size(), 1U) << "written with the change";

  // Passwords are their own key space: a certificate or transaction of that key is not one.
  store::CertificateRecord cert;
  cert.serial_hex = "carol";
  store::TransactionRecord txn;
  txn.id_hex = "zed";
  ASSERT_TRUE(store->commit(store::WriteSet{{txn}, {cert}, {}, {}, {}, {}}));
  EXPECT_FALSE(store->find_password("zed")->has_value());
  EXPECT_EQ(store->list_passwords(10)->size(), 2U);
  EXPECT_EQ(store->list_certificates(10)->size(), 1U);
}

TEST_F(PasswordColumnFamilyTest, PasswordsSurviveReopeningAndAreReadableReadOnly) {
  {
    auto store = open();
    ASSERT_NE(store, nullptr);
    store::WriteSet writes;
    writes.passwords = {password_record("alice")};
    ASSERT_TRUE(store->commit(writes));
  }
  auto reader = open(store::RocksDbStore::Mode::kReadOnly);
  ASSERT_NE(reader, nullptr);
  auto found = reader->find_password("alice");
  ASSERT_TRUE(found && *found);
  EXPECT_EQ(**found, password_record("alice"));
  auto listed = reader->list_passwords(10);
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->size(), 1U);
}

TEST_F(PasswordColumnFamilyTest, ACorruptPasswordRecordIsSystemFailure) {
  { ASSERT_NE(open(), nullptr); }
  {
    rocksdb::DBOptions options;
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
        {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
        {"certificates", rocksdb::ColumnFamilyOptions()},
        {"transactions", rocksdb::ColumnFamilyOptions()},
        {"audit", rocksdb::ColumnFamilyOptions()},
        {"open-transactions", rocksdb::ColumnFamilyOptions()},
        {"revoked", rocksdb::ColumnFamilyOptions()},
        {"passwords", rocksdb::ColumnFamilyOptions()},
        {"crls", rocksdb::ColumnFamilyOptions()},
        {"outbox", rocksdb::ColumnFamilyOptions()},
        {"held-transactions", rocksdb::ColumnFamilyOptions()},
        {"deadlines", rocksdb::ColumnFamilyOptions()}};
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, db_path(), descriptors, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    EXPECT_TRUE(db->Put(rocksdb::WriteOptions(), handles[6], "mallory", std::string("\xff\x00garbage", 9)).ok());
    for (auto* handle : handles) db->DestroyColumnFamilyHandle(handle);
  }
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto found = store->find_password("mallory");
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error().code, ErrorCode::kSystemFailure);
  auto listed = store->list_passwords(10);
  ASSERT_FALSE(listed);
  EXPECT_EQ(listed.error().code, ErrorCode::kSystemFailure);
  // PasswordStore passes the failure on instead of answering "rejected".
  PasswordStore passwords(*store, LockoutPolicy{}, system_clock());
  auto checked = passwords.check("mallory", kPassword, "");
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().code, ErrorCode::kSystemFailure);
}

// A store written before EST passwords existed (the revoked index was already there): the first
// read-write open adds the column family; a read-only open says why it cannot.
TEST_F(PasswordColumnFamilyTest, AStoreWithoutPasswordsGetsThemOnReadWriteOpen) {
  store::CertificateRecord cert;
  cert.serial_hex = "0a";
  cert.subject = "CN=old device";
  cert.status = "valid";
  {
    rocksdb::DBOptions options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
        {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
        {"certificates", rocksdb::ColumnFamilyOptions()},
        {"transactions", rocksdb::ColumnFamilyOptions()},
        {"audit", rocksdb::ColumnFamilyOptions()},
        {"open-transactions", rocksdb::ColumnFamilyOptions()},
        {"revoked", rocksdb::ColumnFamilyOptions()}};
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, db_path(), descriptors, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    const Bytes record = store::encode(cert);
    EXPECT_TRUE(db->Put(rocksdb::WriteOptions(), handles[1], cert.serial_hex,
                        rocksdb::Slice(reinterpret_cast<const char*>(record.data()), record.size()))
                    .ok());
    for (auto* handle : handles) db->DestroyColumnFamilyHandle(handle);
  }
  auto read_only = store::RocksDbStore::open(db_path(), store::RocksDbStore::Mode::kReadOnly);
  ASSERT_FALSE(read_only.has_value());
  EXPECT_EQ(read_only.error().code, ErrorCode::kSystemUnavailable);
  EXPECT_NE(read_only.error().message.find("predates its 'passwords' records"), std::string::npos)
      << read_only.error().message;
  EXPECT_NE(read_only.error().message.find("start enrolld once"), std::string::npos) << read_only.error().message;
  EXPECT_NE(read_only.error().message.find(db_path()), std::string::npos) << read_only.error().message;

  {
    auto store = open();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(**store->find_certificate("0a"), cert) << "the old records are kept";
    auto none = store->find_password("alice");
    ASSERT_TRUE(none) << none.error().message;
    EXPECT_FALSE(none->has_value());
    PasswordStore passwords(*store, LockoutPolicy{}, system_clock());
    ASSERT_TRUE(passwords.set_password("alice", kPassword, "", false));
    auto checked = passwords.check("alice", kPassword, "");
    ASSERT_TRUE(checked);
    EXPECT_EQ(checked->outcome, Outcome::kAccepted);
  }
  std::vector<std::string> families;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), db_path(), &families).ok());
  EXPECT_NE(std::find(families.begin(), families.end(), "passwords"), families.end());
  // Upgraded once: read-only opens work from now on and see what was written.
  auto reader = open(store::RocksDbStore::Mode::kReadOnly);
  ASSERT_NE(reader, nullptr);
  auto found = reader->find_password("alice");
  ASSERT_TRUE(found && *found);
  EXPECT_TRUE(password_matches(kPassword, (*found)->hash));
  EXPECT_EQ(**reader->find_certificate("0a"), cert);
}

// Older still: neither the revoked index nor passwords. A read-only open refuses (naming one of
// the upgrades), a read-write open adds both.
TEST_F(PasswordColumnFamilyTest, AStoreWithoutRevokedIndexAndPasswordsGetsBoth) {
  {
    rocksdb::DBOptions options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
        {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
        {"certificates", rocksdb::ColumnFamilyOptions()},
        {"transactions", rocksdb::ColumnFamilyOptions()},
        {"audit", rocksdb::ColumnFamilyOptions()},
        {"open-transactions", rocksdb::ColumnFamilyOptions()}};
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, db_path(), descriptors, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    for (auto* handle : handles) db->DestroyColumnFamilyHandle(handle);
  }
  auto read_only = store::RocksDbStore::open(db_path(), store::RocksDbStore::Mode::kReadOnly);
  ASSERT_FALSE(read_only.has_value());
  EXPECT_EQ(read_only.error().code, ErrorCode::kSystemUnavailable);
  EXPECT_NE(read_only.error().message.find("predates"), std::string::npos) << read_only.error().message;
  { ASSERT_NE(open(), nullptr); }
  auto reader = open(store::RocksDbStore::Mode::kReadOnly);
  ASSERT_NE(reader, nullptr);
  EXPECT_TRUE(reader->list_passwords(10)->empty());
  EXPECT_TRUE(reader->list_revoked(10)->empty());
}

}  // namespace
}  // namespace enrolld::ra
