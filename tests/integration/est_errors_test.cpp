// EST refusals against a running `enrolld demo`, with curl, strongSwan's pki and enrollctl:
// HTTP Basic (401, lockout 429, one-time and profile-bound users) and malformed or misdirected
// requests (400, 403, 404, 405, 413, 415, 501). None of them may issue a certificate.
#include <gtest/gtest.h>

#include "est_client.h"

namespace enrolld::integration {
namespace {

bool is_delay_seconds(const std::optional<std::string>& value, int min, int max) {
  if (!value || value->empty() || value->size() > 9) return false;
  if (!std::all_of(value->begin(), value->end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
  const int seconds = std::stoi(*value);
  return seconds >= min && seconds <= max;
}

// ---- HTTP Basic -------------------------------------------------------------------------------

class EstAuthenticationTest : public EstTest {
 protected:
  // enrollctl est-user add USER [flags] --password-stdin, fed `password`.
  RunResult add_user(const std::string& user, const std::string& password, std::vector<std::string> flags = {}) const {
    std::vector<std::string> argv{
        ENROLLCTL_BIN, "--config", demo().config().string(), "--admin-url", endpoints().admin_url, "est-user",
        "add",         user};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.push_back("--password-stdin");
    return run(std::move(argv), kCommandTimeout, password + "\n");
  }

  // `user`'s line in `enrollctl est-user list` (empty if not listed).
  std::string listed_user(const std::string& user) const {
    RunResult list = demo().enrollctl({"est-user", "list"});
    EXPECT_TRUE(list.ok()) << list.describe();
    for (const auto& line : lines_of(list.out)) {
      if (line.rfind(user + " ", 0) == 0) return line;
    }
    return "";
  }

  static std::vector<std::string> columns(const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> out;
    for (std::string word; in >> word;) out.push_back(word);
    return out;
  }

  // The KIND column (reusable, one-time, spent) of `user` in `enrollctl est-user list`.
  std::string kind_of(const std::string& user) const {
    const auto c = columns(listed_user(user));
    return c.size() >= 3 ? c[c.size() - 2] : "(not listed)";
  }

  HttpReply enroll_as(const std::string& user, const std::string& password, const fs::path& csr,
                      const std::string& label = "") const {
    return post("simpleenroll", csr, {"-u", user + ":" + password}, label);
  }

  static void expect_unauthenticated(const HttpReply& reply) {
    EXPECT_EQ(reply.status, 401) << reply.describe();
    const std::string challenge = reply.header("WWW-Authenticate").value_or("");
    EXPECT_EQ(lower(challenge).rfind("basic ", 0), 0u) << "a Basic challenge\n" << reply.describe();
    EXPECT_TRUE(contains(challenge, "realm=")) << reply.describe();
  }
};

TEST_F(EstAuthenticationTest, WithoutCredentialsIs401WithABasicChallenge) {
  const auto [key, csr] = key_and_csr("anonymous", "/CN=est-anonymous");
  const int before = demo().cert_count();
  HttpReply reply = post("simpleenroll", csr, {});
  expect_unauthenticated(reply);
  HttpReply keygen = post("serverkeygen", csr, {});
  expect_unauthenticated(keygen);
  EXPECT_EQ(demo().cert_count(), before);
}

TEST_F(EstAuthenticationTest, AWrongPasswordIs401AndTheRightOneStillWorks) {
  const auto [key, csr] = key_and_csr("wrong", "/CN=est-wrong-password");
  const int before = demo().cert_count();
  HttpReply wrong = enroll_as(endpoints().est_user, endpoints().est_password + "x", csr);
  expect_unauthenticated(wrong);
  EXPECT_EQ(demo().cert_count(), before);
  // One failure does not lock the user out.
  HttpReply right = post_basic("simpleenroll", csr);
  const fs::path cert = work() / "wrong.pem";
  ASSERT_TRUE(expect_certificate_reply(right, cert));
  EXPECT_FALSE(expect_properly_issued(demo(), cert, key, "CN=est-wrong-password").empty());
}

TEST_F(EstAuthenticationTest, StrongSwanWithAWrongPasswordFailsWith401) {
  const fs::path key = pki_key("pki-wrong.key");
  const fs::path csr = pki_csr(key, "CN=est-pki-wrong", "pki-wrong.example", "pki-wrong.csr");
  RunResult r = pki_est(csr, {"--userpass", "pki-wrong-user:not-the-password"}, work() / "pki-wrong.pem");
  EXPECT_FALSE(r.ok()) << r.describe();
  EXPECT_TRUE(contains(r.err, "EST request failed: HTTP 401")) << r.describe();
  EXPECT_FALSE(fs::exists(work() / "pki-wrong.pem"));
}

// Five wrong passwords lock a user name out for a while (unknown names too: guessing must not
// tell them apart); other users go on.
TEST_F(EstAuthenticationTest, FiveWrongPasswordsLockAnUnknownUserNameOut) {
  const auto [key, csr] = key_and_csr("lockout", "/CN=est-lockout");
  const std::string user = "lockout-unknown-user";
  for (int attempt = 1; attempt <= 5; ++attempt) {
    SCOPED_TRACE("attempt " + std::to_string(attempt));
    expect_unauthenticated(enroll_as(user, "wrong-password-" + std::to_string(attempt), csr));
  }
  HttpReply locked = enroll_as(user, "wrong-password-6", csr);
  EXPECT_EQ(locked.status, 429) << locked.describe();
  EXPECT_TRUE(is_delay_seconds(locked.header("Retry-After"), 1, 60)) << locked.describe();
  EXPECT_TRUE(demo().wait_for_log_line({"user '" + user + "' locked out"})) << demo().log();

  // The lockout is the user name's only.
  HttpReply other = post_basic("simpleenroll", csr);
  EXPECT_EQ(other.status, 200) << other.describe();
}

TEST_F(EstAuthenticationTest, ALockedOutUserIsRefusedEvenWithTheRightPassword) {
  const std::string user = "lockout-known-user";
  const std::string password = "the-right-password-4711";
  add_user(user, password);
  ASSERT_FALSE(listed_user(user).empty()) << "enrollctl est-user add did not add " << user;
  const auto [key, csr] = key_and_csr("locked-known", "/CN=est-locked-known");
  for (int attempt = 1; attempt <= 5; ++attempt) {
    SCOPED_TRACE("attempt " + std::to_string(attempt));
    expect_unauthenticated(enroll_as(user, "wrong-password-" + std::to_string(attempt), csr));
  }
  const int before = demo().cert_count();
  HttpReply locked = enroll_as(user, password, csr);
  EXPECT_EQ(locked.status, 429) << locked.describe();
  EXPECT_TRUE(is_delay_seconds(locked.header("Retry-After"), 1, 60)) << locked.describe();
  EXPECT_TRUE(contains(locked.body, "too many failed passwords")) << locked.describe();
  EXPECT_EQ(demo().cert_count(), before);
}

// enrollctl est-user add: documented to print the generated password (exit 0), or "password
// set for USER" with --password-stdin.
TEST_F(EstAuthenticationTest, EnrollctlEstUserAddReportsSuccess) {
  RunResult generated = demo().enrollctl({"est-user", "add", "added-generated"});
  EXPECT_TRUE(generated.ok()) << generated.describe();
  const std::string password = trim(generated.out);
  EXPECT_GE(password.size(), 12u) << generated.describe();
  EXPECT_EQ(password.find_first_of(" \t\n{}\":"), std::string::npos) << "only the password: " << generated.describe();
  EXPECT_FALSE(contains(generated.err, "\"password\"")) << "the password belongs on stdout, not in an error message\n"
                                                        << generated.describe();

  RunResult chosen = add_user("added-chosen", "a-chosen-password-0815");
  EXPECT_TRUE(chosen.ok()) << chosen.describe();
  EXPECT_EQ(trim(chosen.out), "password set for added-chosen") << chosen.describe();
  EXPECT_FALSE(listed_user("added-chosen").empty());
}

// The one-time password enrollctl prints enrolls once; afterwards it is spent.
TEST_F(EstAuthenticationTest, AGeneratedOneTimePasswordEnrollsOnce) {
  const std::string user = "once-generated";
  RunResult added = demo().enrollctl({"est-user", "add", user, "--one-time"});
  ASSERT_TRUE(added.ok()) << added.describe();
  const std::string password = trim(added.out);
  ASSERT_GE(password.size(), 12u) << added.describe();
  EXPECT_EQ(kind_of(user), "one-time") << listed_user(user);

  const auto [key, csr] = key_and_csr("once", "/CN=est-once-generated");
  HttpReply first = enroll_as(user, password, csr);
  const fs::path cert = work() / "once.pem";
  ASSERT_TRUE(expect_certificate_reply(first, cert));
  EXPECT_FALSE(expect_properly_issued(demo(), cert, key, "CN=est-once-generated").empty());
  const int issued = demo().cert_count();

  const auto [key2, csr2] = key_and_csr("twice", "/CN=est-once-generated-2");
  expect_unauthenticated(enroll_as(user, password, csr2));
  EXPECT_EQ(demo().cert_count(), issued);
  EXPECT_EQ(kind_of(user), "spent") << listed_user(user);
}

// The same with a password of the operator's choosing, and a refused request does not spend it.
TEST_F(EstAuthenticationTest, AOneTimePasswordIsSpentByItsCertificateOnly) {
  const std::string user = "once-chosen";
  const std::string password = "one-time-password-1234";
  add_user(user, password, {"--one-time"});  // its exit status: EnrollctlEstUserAddReportsSuccess
  const auto listed = columns(listed_user(user));
  ASSERT_EQ(listed.size(), 3u) << "USER KIND CREATED (no profile): " << listed_user(user);
  EXPECT_EQ(listed[1], "one-time");

  const fs::path not_base64 = work() / "not-base64";
  write_file(not_base64, "this is not base64!");
  HttpReply refused = post("simpleenroll", not_base64, {"-u", user + ":" + password});
  EXPECT_EQ(refused.status, 400) << refused.describe();
  EXPECT_EQ(kind_of(user), "one-time") << "a refused request spends nothing";

  const auto [key, csr] = key_and_csr("chosen-once", "/CN=est-once-chosen");
  HttpReply first = enroll_as(user, password, csr);
  const fs::path cert = work() / "chosen-once.pem";
  ASSERT_TRUE(expect_certificate_reply(first, cert));
  EXPECT_FALSE(expect_properly_issued(demo(), cert, key, "CN=est-once-chosen").empty());
  EXPECT_EQ(kind_of(user), "spent") << listed_user(user);

  const auto [key2, csr2] = key_and_csr("chosen-twice", "/CN=est-once-chosen-2");
  const int before = demo().cert_count();
  expect_unauthenticated(enroll_as(user, password, csr2));
  EXPECT_EQ(demo().cert_count(), before);
}

TEST_F(EstAuthenticationTest, AUserOfAnotherProfileIsForbiddenUnderTheDefaultLabel) {
  const std::string user = "approval-only";
  const std::string password = "approval-password-5678";
  const std::string label = endpoints().est_approval_label;
  add_user(user, password, {"--profile", label});
  const auto listed = columns(listed_user(user));
  ASSERT_GE(listed.size(), 3u) << listed_user(user);
  EXPECT_EQ(listed[1], label);

  const auto [key, csr] = key_and_csr("other-profile", "/CN=est-other-profile");
  const int before = demo().cert_count();
  HttpReply refused = enroll_as(user, password, csr);
  EXPECT_EQ(refused.status, 403) << refused.describe();
  EXPECT_TRUE(contains(refused.body, "may not enroll under profile")) << refused.describe();
  EXPECT_FALSE(refused.header("WWW-Authenticate").has_value()) << "the password was right\n" << refused.describe();
  EXPECT_EQ(demo().cert_count(), before);
  // Under its own profile's label it is accepted (and held for the officer).
  HttpReply own = enroll_as(user, password, csr, label);
  EXPECT_EQ(own.status, 202) << own.describe();
}

// ---- malformed and misdirected requests ---------------------------------------------------

class EstErrorsTest : public EstTest {
 protected:
  // Posts with the demo's EST user and checks the status, a text reason containing `reason`,
  // and that nothing was issued.
  void expect_refused(const std::string& operation, const fs::path& body, int status, const std::string& reason,
                      const std::string& label = "", const std::string& content_type = kPkcs10,
                      std::vector<std::string> options = {}) const {
    const int before = demo().cert_count();
    options.insert(options.end(), {"-u", basic()});
    HttpReply reply = post(operation, body, options, label, content_type);
    EXPECT_EQ(reply.status, status) << reply.describe();
    EXPECT_TRUE(contains(reply.body, reason)) << "the reason should mention '" << reason << "'\n" << reply.describe();
    EXPECT_EQ(demo().cert_count(), before) << reply.describe();
  }
};

TEST_F(EstErrorsTest, MalformedBase64Is400) {
  const fs::path body = work() / "malformed.b64";
  write_file(body, "MIIB*not%base64!");
  expect_refused("simpleenroll", body, 400, "not base64");
  write_file(body, "MIIBzz");  // the alphabet, but not whole quads
  expect_refused("simpleenroll", body, 400, "not base64");
}

TEST_F(EstErrorsTest, ACsrWithABrokenSignatureIs400AndIssuesNothing) {
  const fs::path key = make_ec_key("broken.key");
  const fs::path der = make_der_csr(key, "/CN=est-broken-signature", "broken.csr.der");
  std::string bytes = read_text(der);
  ASSERT_GT(bytes.size(), 100u);
  // The last byte is the last byte of the ECDSA signature's s: the DER stays well formed.
  bytes.back() = static_cast<char>(bytes.back() ^ 0x01);
  const fs::path broken = work() / "broken-signature.csr.der";
  write_file(broken, bytes);
  RunResult verify = openssl({"req", "-inform", "DER", "-in", broken.string(), "-noout", "-verify"});
  ASSERT_TRUE(contains(verify.both(), "verify failure")) << "the CSR should still parse but not verify\n"
                                                         << verify.describe();
  expect_refused("simpleenroll", base64_of(broken), 400, "signature");
  expect_refused("serverkeygen", base64_of(broken), 400, "signature");
  EXPECT_FALSE(demo().wait_for_log_line({"issued", "CN=est-broken-signature"}, 200ms)) << demo().log();
}

TEST_F(EstErrorsTest, TrailingBytesAfterTheCsrAre400) {
  const fs::path key = make_ec_key("trailing.key");
  const fs::path der = make_der_csr(key, "/CN=est-trailing", "trailing.csr.der");
  const fs::path padded = work() / "trailing-padded.der";
  write_file(padded, read_text(der) + std::string("\0\0", 2));
  expect_refused("simpleenroll", base64_of(padded), 400, "PKCS#10");
}

TEST_F(EstErrorsTest, AnUnknownLabelIs404) {
  const auto [key, csr] = key_and_csr("label", "/CN=est-unknown-label");
  expect_refused("simpleenroll", csr, 404, "no such EST label", "no-such-label");
  expect_refused("simpleenroll", csr, 404, "no such EST label", "Not.A.Label");
  HttpReply cacerts = curl(est_url("cacerts", "no-such-label"), {});
  EXPECT_EQ(cacerts.status, 404) << cacerts.describe();
}

TEST_F(EstErrorsTest, AnUnknownOperationIs404) {
  const auto [key, csr] = key_and_csr("operation", "/CN=est-unknown-operation");
  expect_refused("enroll", csr, 404, "no such EST operation");
  expect_refused("simpleenroll/extra", csr, 404, "no such EST operation");
  HttpReply get = curl(est_url("cacert"), {});
  EXPECT_EQ(get.status, 404) << get.describe();
}

TEST_F(EstErrorsTest, TheWrongMethodIs405WithAllow) {
  HttpReply get = curl(est_url("simpleenroll"), {"-u", basic()});
  EXPECT_EQ(get.status, 405) << get.describe();
  EXPECT_EQ(get.header("Allow").value_or(""), "POST") << get.describe();
  const fs::path empty = work() / "empty";
  write_file(empty, "");
  HttpReply post_cacerts = post("cacerts", empty, {}, "", "application/pkcs7-mime");
  EXPECT_EQ(post_cacerts.status, 405) << post_cacerts.describe();
  EXPECT_EQ(post_cacerts.header("Allow").value_or(""), "GET") << post_cacerts.describe();
}

TEST_F(EstErrorsTest, AWrongContentTypeIs415) {
  const auto [key, csr] = key_and_csr("type", "/CN=est-wrong-type");
  expect_refused("simpleenroll", csr, 415, "application/pkcs10", "", "text/plain");
  expect_refused("simpleenroll", csr, 415, "application/pkcs10", "", "application/x-www-form-urlencoded");
  // Parameters and case do not matter.
  HttpReply with_parameter = post("simpleenroll", csr, {"-u", basic()}, "", "Application/PKCS10; charset=us-ascii");
  ASSERT_TRUE(expect_certificate_reply(with_parameter, work() / "type.pem"));
  EXPECT_FALSE(expect_properly_issued(demo(), work() / "type.pem", key, "CN=est-wrong-type").empty());
}

TEST_F(EstErrorsTest, ABodyOver64KiBIs413) {
  const fs::path over = work() / "over.b64";
  write_file(over, std::string(64 * 1024 + 1, 'A'));
  // With Expect: 100-continue the body is refused before it is sent (see the next test for a
  // body already on its way).
  expect_refused("simpleenroll", over, 413, "too large", "", kPkcs10, {"-H", "Expect: 100-continue"});
  // Without a Content-Length the limit holds as well.
  expect_refused("simpleenroll", over, 413, "too large", "", kPkcs10, {"-H", "Transfer-Encoding: chunked"});
  // Exactly the limit is read (and refused for what it is).
  const fs::path at_limit = work() / "at-limit.b64";
  write_file(at_limit, std::string(64 * 1024, 'A'));
  expect_refused("simpleenroll", at_limit, 400, "PKCS#10");
}

// A client that sends its body at once (curl does below 1 MiB, and here with "Expect:") must still
// read the 413: RFC 9112 9.6 warns that closing a connection with unread data in it makes TCP
// reset it, and the reset can destroy the answer before the client reads it.
// Up to 1 MiB the server reads and discards an over-limit body before answering, so that the
// 413 is not destroyed by a TCP reset (bodies beyond that are cut off at once).
TEST_F(EstErrorsTest, A413ReachesAClientThatIsStillSendingItsBody) {
  const fs::path huge = work() / "huge.b64";
  write_file(huge, std::string(512 * 1024, 'A'));
  constexpr int kAttempts = 10;
  int answered = 0;
  HttpReply last_failure;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    HttpReply reply = post("simpleenroll", huge, {"-u", basic(), "-H", "Expect:"});
    if (reply.status == 413 && contains(reply.body, "too large")) {
      ++answered;
    } else {
      last_failure = reply;
    }
  }
  EXPECT_EQ(answered, kAttempts) << "the 413 was lost " << kAttempts - answered << " times of " << kAttempts
                                 << "; the last time:\n"
                                 << last_failure.describe();
}

TEST_F(EstErrorsTest, FullcmcIs501) {
  const auto [key, csr] = key_and_csr("fullcmc", "/CN=est-fullcmc");
  expect_refused("fullcmc", csr, 501, "fullcmc", "", "application/pkcs7-mime; smime-type=CMC-request");
}

TEST_F(EstErrorsTest, TheBoundLabelWithoutChannelBindingIs403) {
  const auto [key, csr] = key_and_csr("unbound", "/CN=est-unbound");
  expect_refused("simpleenroll", csr, 403, "channel binding", endpoints().est_bound_label);
  expect_refused("serverkeygen", csr, 403, "channel binding", endpoints().est_bound_label);
  // Also with the manufacturer's certificate: the binding is about the session, not the requester.
  expect_refused("simpleenroll", csr, 403, "channel binding", endpoints().est_bound_label, kPkcs10,
                 {"--cert", endpoints().est_bootstrap_cert, "--key", endpoints().est_bootstrap_key});
}

}  // namespace
}  // namespace enrolld::integration
