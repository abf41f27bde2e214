// EST (RFC 7030, RFC 8951) against a running `enrolld demo`, with strongSwan 5.9.8's `pki`
// (--estca, --est), curl and openssl: CA certificates, enrollment with a password or the
// manufacturer's certificate, renewal, server-side key generation, CSR attributes, approval.
#include <gtest/gtest.h>

#include "est_client.h"

namespace enrolld::integration {
namespace {

class EstEnrollmentTest : public EstTest {};

// ---- cacerts ----------------------------------------------------------------------------

TEST_F(EstEnrollmentTest, StrongSwanCacertsWritesTheRootAndTheIssuingCa) {
  const fs::path out = work() / "ca.pem";
  RunResult r = pki({"--estca", "--url", endpoints().est_url, "--cacert", endpoints().est_tls_trust, "--outform", "pem",
                     "--caout", out.string()});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_TRUE(contains(r.err, "Root CA cert is trusted")) << r.describe();
  // pki numbers the files it writes: the root under the given name, the issuing CA as -1.
  const fs::path issuing = work() / "ca-1.pem";
  ASSERT_TRUE(fs::exists(out)) << r.describe();
  ASSERT_TRUE(fs::exists(issuing)) << r.describe();
  EXPECT_FALSE(fs::exists(work() / "ca-2.pem")) << "the demo's chain has two CA certificates";
  EXPECT_EQ(sha256_fingerprint(out), sha256_fingerprint(demo().dir() / "ca" / "root.pem"));
  EXPECT_EQ(sha256_fingerprint(issuing), sha256_fingerprint(demo().dir() / "ca" / "issuing.pem"));
}

TEST_F(EstEnrollmentTest, CacertsIsOneLineOfBase64CarryingBothCaCertificates) {
  for (const std::string label : {"", "approval"}) {
    SCOPED_TRACE("label '" + label + "'");
    HttpReply reply = curl(est_url("cacerts", label), {});
    ASSERT_EQ(reply.status, 200) << reply.describe();
    EXPECT_EQ(reply.media_type(), "application/pkcs7-mime") << reply.describe();
    EXPECT_TRUE(contains(lower(reply.header("Content-Type").value_or("")), "smime-type=certs-only"))
        << reply.describe();
    EXPECT_EQ(std::count(reply.body.begin(), reply.body.end(), '\n'), 0) << "one line, no line end: " << reply.body;
    const fs::path first = work() / (label.empty() ? "cacerts-first.pem" : "cacerts-label-first.pem");
    ASSERT_EQ(certificates_in(reply.body, first), 2) << reply.describe();
    // Both CA certificates, whatever the order (openssl pkcs7 -print_certs names each).
    const std::string printed = read_text(fs::path(first).replace_extension().concat(".p7-certs.pem"));
    std::vector<std::string> subjects;
    for (const auto& line : lines_of(printed)) {
      if (line.rfind("subject=", 0) == 0) subjects.push_back(line);
    }
    EXPECT_EQ(subjects.size(), 2u) << printed;
    EXPECT_TRUE(contains(printed, "subject=O = enrolld demo, CN = enrolld demo root CA")) << printed;
    EXPECT_TRUE(contains(printed, "subject=O = enrolld demo, CN = enrolld demo issuing CA")) << printed;
  }
}

// ---- simpleenroll ---------------------------------------------------------------------------

TEST_F(EstEnrollmentTest, StrongSwanEnrollsWithAPasswordOverTls12) {
  const int before = demo().cert_count();
  const fs::path key = pki_key("tls12.key");
  const fs::path csr = pki_csr(key, "CN=est-tls12, O=est test", "est-tls12.example", "tls12.csr");
  const fs::path cert = work() / "tls12.pem";
  RunResult r = pki_est(csr, {"--userpass", basic()}, cert);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_TRUE(contains(r.err, "negotiated TLS 1.2")) << "pki's default is TLS 1.2\n" << r.describe();
  EXPECT_TRUE(contains(r.err, "Issued certificate is trusted")) << r.describe();
  EXPECT_FALSE(expect_properly_issued(demo(), cert, key, "O=est test,CN=est-tls12").empty());
  EXPECT_EQ(subject_alt_name(cert), "DNS:est-tls12.example");
  EXPECT_EQ(demo().cert_count(), before + 1);
  EXPECT_TRUE(demo().wait_for_log_line(
      {"est simpleenroll", "requester=user:" + endpoints().est_user, "profile=default", "status=200"}))
      << demo().log();
}

TEST_F(EstEnrollmentTest, StrongSwanEnrollsWithAPasswordOverTls13) {
  const fs::path conf = work() / "strongswan.conf";
  write_file(conf, "libtls {\n  version_max = 1.3\n}\n");
  const fs::path key = pki_key("tls13.key");
  const fs::path csr = pki_csr(key, "CN=est-tls13, O=est test", "est-tls13.example", "tls13.csr");
  const fs::path cert = work() / "tls13.pem";
  RunResult r = pki_est(csr, {"--userpass", basic()}, cert, conf);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_TRUE(contains(r.err, "negotiated TLS 1.3")) << r.describe();
  EXPECT_FALSE(expect_properly_issued(demo(), cert, key, "O=est test,CN=est-tls13").empty());
  EXPECT_EQ(subject_alt_name(cert), "DNS:est-tls13.example");
}

// RFC 8951 2.1: the request body may be base64 with line breaks.
TEST_F(EstEnrollmentTest, TheManufacturerCertificateEnrollsAsTlsClientCertificate) {
  const int before = demo().cert_count();
  const fs::path key = make_ec_key("boot.key");
  const fs::path der =
      make_der_csr(key, "/CN=est-bootstrapped", "boot.csr.der", {"-addext", "subjectAltName=DNS:boot.example"});
  const fs::path body = base64_of(der, /*one_line=*/false);
  ASSERT_GT(lines_of(read_text(body)).size(), 1u) << "the body should have line breaks";
  HttpReply reply =
      post("simpleenroll", body, {"--cert", endpoints().est_bootstrap_cert, "--key", endpoints().est_bootstrap_key});
  const fs::path cert = work() / "boot.pem";
  ASSERT_TRUE(expect_certificate_reply(reply, cert));
  EXPECT_FALSE(expect_properly_issued(demo(), cert, key, "CN=est-bootstrapped").empty());
  EXPECT_EQ(subject_alt_name(cert), "DNS:boot.example");
  EXPECT_EQ(demo().cert_count(), before + 1);
  EXPECT_TRUE(demo().wait_for_log_line({"est simpleenroll", "requester=vendor:", "demo-device-0001", "status=200"}))
      << demo().log();
}

// EST has no transaction ID: the same CSR from the same requester again is the same request,
// and gets the certificate it got before (RFC 7030 4.2.3's retry), not a second one.
// Outside approval profiles every request is its own transaction: a client that lost the answer
// asks again and gets a fresh certificate (a stored one might be revoked or expired meanwhile).
TEST_F(EstEnrollmentTest, TheSameRequestAgainGetsAFreshCertificate) {
  const auto [key, csr] = key_and_csr("again", "/CN=est-again");
  HttpReply first = post_basic("simpleenroll", csr);
  const fs::path cert = work() / "again.pem";
  ASSERT_TRUE(expect_certificate_reply(first, cert));
  EXPECT_FALSE(expect_properly_issued(demo(), cert, key, "CN=est-again").empty());
  const int issued = demo().cert_count();
  HttpReply second = post_basic("simpleenroll", csr);
  const fs::path again = work() / "again-2.pem";
  ASSERT_TRUE(expect_certificate_reply(second, again));
  EXPECT_NE(read_text(again), read_text(cert));
  EXPECT_FALSE(expect_properly_issued(demo(), again, key, "CN=est-again").empty());
  EXPECT_EQ(demo().cert_count(), issued + 1);
}

// ---- simplereenroll -----------------------------------------------------------------------

TEST_F(EstEnrollmentTest, StrongSwanRenewsWithANewKeyKeepingTheSubject) {
  const auto [old_key, old_cert] =
      pki_enroll("renew-old", "CN=est-renew, O=est test", "renew.example", "O=est test,CN=est-renew");
  ASSERT_FALSE(HasFailure());
  std::string failure;
  const std::string old_serial = canonical_serial(x509_field(old_cert, "serial", &failure));
  ASSERT_TRUE(failure.empty()) << failure;

  const fs::path new_key = pki_key("renew-new.key");
  const fs::path csr = pki_csr(new_key, "CN=est-renew, O=est test", "renew.example", "renew-new.csr");
  const fs::path cert = work() / "renew-new.pem";
  RunResult r = pki_est(csr, {"--cert", old_cert.string(), "--key", old_key.string()}, cert);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_TRUE(contains(r.err, "sending TLS client certificate 'CN=est-renew, O=est test'")) << r.describe();
  const std::string serial = expect_properly_issued(demo(), cert, new_key, "O=est test,CN=est-renew");
  EXPECT_FALSE(serial.empty());
  EXPECT_NE(canonical_serial(serial), old_serial);
  EXPECT_EQ(subject_alt_name(cert), "DNS:renew.example");
  EXPECT_TRUE(demo().wait_for_log_line({"est simplereenroll", "requester=cert:", old_serial, "status=200"}))
      << demo().log();
}

TEST_F(EstEnrollmentTest, RenewingWithAnotherSubjectIsForbidden) {
  const auto [old_key, old_cert] =
      pki_enroll("other-old", "CN=est-keep-name, O=est test", "keep.example", "O=est test,CN=est-keep-name");
  ASSERT_FALSE(HasFailure());
  const int before = demo().cert_count();
  const fs::path new_key = pki_key("other-new.key");
  const fs::path csr = pki_csr(new_key, "CN=est-other-name, O=est test", "keep.example", "other-new.csr");
  RunResult r = pki_est(csr, {"--cert", old_cert.string(), "--key", old_key.string()}, work() / "other-new.pem");
  EXPECT_FALSE(r.ok()) << r.describe();
  EXPECT_TRUE(contains(r.err, "EST request failed: HTTP 403")) << r.describe();
  EXPECT_FALSE(fs::exists(work() / "other-new.pem"));
  EXPECT_EQ(demo().cert_count(), before);
  EXPECT_TRUE(demo().wait_for_log_line({"status=403", "simplereenroll must keep the subject"})) << demo().log();
}

TEST_F(EstEnrollmentTest, TheManufacturerCertificateCannotRenew) {
  const auto [key, csr] = key_and_csr("renew-boot", "/CN=demo-device-0001/O=enrolld demo manufacturer");
  const int before = demo().cert_count();
  HttpReply reply =
      post("simplereenroll", csr, {"--cert", endpoints().est_bootstrap_cert, "--key", endpoints().est_bootstrap_key});
  EXPECT_EQ(reply.status, 403) << reply.describe();
  EXPECT_TRUE(contains(reply.body, "simplereenroll renews a certificate this CA issued")) << reply.describe();
  EXPECT_EQ(demo().cert_count(), before);
}

// A certificate this CA issued authenticates simpleenroll for its own subject only: it must not
// mint certificates for other names.
TEST_F(EstEnrollmentTest, AnIssuedCertificateEnrollsOnlyItsOwnSubject) {
  const auto [old_key, old_cert] = pki_enroll("own", "CN=est-own, O=est test", "own.example", "O=est test,CN=est-own");
  ASSERT_FALSE(HasFailure());
  const std::vector<std::string> client = {"--cert", old_cert.string(), "--key", old_key.string()};
  const int before = demo().cert_count();
  const auto [other_key, other_csr] = key_and_csr("own-other", "/CN=est-someone-else");
  HttpReply refused = post("simpleenroll", other_csr, client);
  EXPECT_EQ(refused.status, 403) << refused.describe();
  EXPECT_TRUE(contains(refused.body, "only for its own subject")) << refused.describe();
  HttpReply keygen = post("serverkeygen", other_csr, client);
  EXPECT_EQ(keygen.status, 403) << keygen.describe();
  EXPECT_EQ(demo().cert_count(), before);

  const auto [same_key, same_csr] = key_and_csr("own-same", "/CN=est-own/O=est test");
  HttpReply accepted = post("simpleenroll", same_csr, client);
  const fs::path cert = work() / "own-same.pem";
  ASSERT_TRUE(expect_certificate_reply(accepted, cert));
  EXPECT_FALSE(expect_properly_issued(demo(), cert, same_key, "O=est test,CN=est-own").empty());
}

TEST_F(EstEnrollmentTest, ARevokedCertificateCannotRenewNorEnroll) {
  const auto [old_key, old_cert] =
      pki_enroll("revoked", "CN=est-revoked, O=est test", "revoked.example", "O=est test,CN=est-revoked");
  ASSERT_FALSE(HasFailure());
  // The certificate revokes itself with Debian's openssl cmp (rr signed by it).
  RunResult rr = openssl({"cmp", "-cmd", "rr", "-server", endpoints().cmp_url, "-cert", old_cert.string(), "-key",
                          old_key.string(), "-trusted", endpoints().trust, "-unprotected_errors", "-oldcert",
                          old_cert.string(), "-revreason", "4"});
  ASSERT_TRUE(rr.ok()) << rr.describe();
  ASSERT_TRUE(contains(rr.both(), "revocation accepted")) << rr.describe();
  const int before = demo().cert_count();

  const fs::path new_key = pki_key("revoked-new.key");
  const fs::path csr = pki_csr(new_key, "CN=est-revoked, O=est test", "revoked.example", "revoked-new.csr");
  RunResult r = pki_est(csr, {"--cert", old_cert.string(), "--key", old_key.string()}, work() / "revoked-new.pem");
  EXPECT_FALSE(r.ok()) << r.describe();
  EXPECT_TRUE(contains(r.err, "EST request failed: HTTP 403")) << r.describe();
  EXPECT_TRUE(demo().wait_for_log_line({"path=/.well-known/est/simplereenroll", "status=403", "revoked"}))
      << demo().log();

  // Not with curl either, and a revoked certificate does not fall back to anything for simpleenroll.
  const fs::path b64 = base64_of(csr);
  for (const std::string operation : {"simplereenroll", "simpleenroll"}) {
    HttpReply reply = post(operation, b64, {"--cert", old_cert.string(), "--key", old_key.string()});
    EXPECT_EQ(reply.status, 403) << operation << "\n" << reply.describe();
    EXPECT_TRUE(contains(reply.body, "revoked")) << operation << "\n" << reply.describe();
  }
  EXPECT_EQ(demo().cert_count(), before);
}

// ---- serverkeygen ---------------------------------------------------------------------------

struct MimePart {
  std::string headers, body;
};

// The parts of a multipart body, split at "--boundary".
std::vector<MimePart> split_multipart(const std::string& body, const std::string& boundary) {
  std::vector<MimePart> parts;
  const std::string delimiter = "--" + boundary;
  std::size_t at = body.find(delimiter);
  while (at != std::string::npos) {
    at += delimiter.size();
    if (body.compare(at, 2, "--") == 0) break;  // the closing delimiter
    const std::size_t next = body.find(delimiter, at);
    std::string part = body.substr(at, next == std::string::npos ? std::string::npos : next - at);
    if (part.starts_with("\r\n")) part.erase(0, 2);
    if (part.ends_with("\r\n")) part.resize(part.size() - 2);
    const std::size_t blank = part.find("\r\n\r\n");
    if (blank == std::string::npos) {
      parts.push_back({part, ""});
    } else {
      parts.push_back({part.substr(0, blank), part.substr(blank + 4)});
    }
    at = next;
  }
  return parts;
}

std::string part_header(const MimePart& part, const std::string& name) {
  for (const auto& line : lines_of(part.headers)) {
    const auto colon = line.find(':');
    if (colon != std::string::npos && lower(trim(line.substr(0, colon))) == lower(name)) {
      return trim(line.substr(colon + 1));
    }
  }
  return "";
}

TEST_F(EstEnrollmentTest, ServerkeygenReturnsAPkcs8KeyAndItsCertificate) {
  const auto [csr_key, csr] = key_and_csr("skg", "/CN=est-serverkeygen/O=est test");
  HttpReply reply = post_basic("serverkeygen", csr);
  ASSERT_EQ(reply.status, 200) << reply.describe();
  ASSERT_EQ(reply.media_type(), "multipart/mixed") << reply.describe();
  const std::string type = reply.header("Content-Type").value_or("");
  const auto b = type.find("boundary=");
  ASSERT_NE(b, std::string::npos) << type;
  std::string boundary = trim(type.substr(b + 9));
  boundary = boundary.substr(0, boundary.find(';'));
  if (boundary.size() >= 2 && boundary.front() == '"') boundary = boundary.substr(1, boundary.size() - 2);
  ASSERT_FALSE(boundary.empty()) << type;

  const auto parts = split_multipart(reply.body, boundary);
  ASSERT_EQ(parts.size(), 2u) << reply.describe();
  const MimePart* key_part = nullptr;
  const MimePart* cert_part = nullptr;
  for (const auto& part : parts) {
    const std::string part_type = lower(part_header(part, "Content-Type"));
    EXPECT_EQ(lower(part_header(part, "Content-Transfer-Encoding")), "base64") << part.headers;
    if (part_type == "application/pkcs8") key_part = &part;
    if (part_type.rfind("application/pkcs7-mime", 0) == 0) cert_part = &part;
  }
  ASSERT_NE(key_part, nullptr) << reply.describe();
  ASSERT_NE(cert_part, nullptr) << reply.describe();

  // The private key: base64 of a DER PKCS#8 PrivateKeyInfo.
  EXPECT_TRUE(one_line_base64(key_part->body)) << key_part->body;
  const fs::path key_b64 = work() / "skg-key.b64";
  const fs::path key_der = work() / "skg-key.der";
  const fs::path key_pem = work() / "skg-key.pem";
  write_file(key_b64, key_part->body);
  RunResult decoded = openssl({"base64", "-d", "-A", "-in", key_b64.string(), "-out", key_der.string()});
  ASSERT_TRUE(decoded.ok()) << decoded.describe();
  RunResult pkcs8 = openssl({"pkey", "-inform", "DER", "-in", key_der.string(), "-out", key_pem.string()});
  ASSERT_TRUE(pkcs8.ok()) << pkcs8.describe();
  RunResult text = openssl({"pkey", "-in", key_pem.string(), "-noout", "-text"});
  EXPECT_TRUE(contains(text.out, "prime256v1")) << text.describe();

  // The certificate certifies that key (not the CSR's), for the CSR's subject.
  const fs::path cert = work() / "skg.pem";
  ASSERT_EQ(certificates_in(cert_part->body, cert), 1) << reply.describe();
  EXPECT_FALSE(expect_properly_issued(demo(), cert, key_pem, "O=est test,CN=est-serverkeygen").empty());
  RunResult csr_pub = openssl({"pkey", "-in", csr_key.string(), "-pubout"});
  RunResult cert_pub = openssl({"x509", "-in", cert.string(), "-noout", "-pubkey"});
  EXPECT_NE(trim(csr_pub.out), trim(cert_pub.out)) << "serverkeygen makes a new key";
  EXPECT_TRUE(demo().wait_for_log_line({"est serverkeygen", "requester=user:" + endpoints().est_user})) << demo().log();
}

// ---- csrattrs -------------------------------------------------------------------------------

TEST_F(EstEnrollmentTest, CsrattrsIsEmptyForTheDefaultLabel) {
  HttpReply reply = curl(est_url("csrattrs"), {});
  EXPECT_EQ(reply.status, 204) << reply.describe();
  EXPECT_TRUE(reply.body.empty()) << reply.describe();
}

TEST_F(EstEnrollmentTest, CsrattrsOfTheBoundLabelAskForP256AndTheChannelBinding) {
  HttpReply reply = curl(est_url("csrattrs", endpoints().est_bound_label), {});
  ASSERT_EQ(reply.status, 200) << reply.describe();
  EXPECT_EQ(reply.media_type(), "application/csrattrs") << reply.describe();
  EXPECT_TRUE(one_line_base64(reply.body)) << reply.body;
  const fs::path b64 = work() / "csrattrs.b64";
  const fs::path der = work() / "csrattrs.der";
  write_file(b64, reply.body);
  ASSERT_TRUE(openssl({"base64", "-d", "-A", "-in", b64.string(), "-out", der.string()}).ok());
  RunResult parsed = openssl({"asn1parse", "-inform", "DER", "-in", der.string()});
  ASSERT_TRUE(parsed.ok()) << parsed.describe();
  const auto lines = lines_of(parsed.out);
  ASSERT_FALSE(lines.empty());
  EXPECT_TRUE(contains(lines.front(), "d=0") && contains(lines.front(), "SEQUENCE")) << parsed.out;
  EXPECT_TRUE(contains(parsed.out, ":id-ecPublicKey")) << parsed.out;
  EXPECT_TRUE(contains(parsed.out, ":prime256v1")) << parsed.out;
  EXPECT_TRUE(contains(parsed.out, ":challengePassword")) << parsed.out;
  // The whole body is that one SEQUENCE.
  EXPECT_EQ(std::count_if(lines.begin(), lines.end(), [](const std::string& l) { return contains(l, "d=0"); }), 1)
      << parsed.out;
}

// ---- approval ---------------------------------------------------------------------------------

class EstApprovalTest : public EstTest {
 protected:
  // The transaction of `subject` ("CN=...") in `enrollctl pending`, with its line.
  std::pair<std::string, std::string> pending(const std::string& subject) const {
    RunResult listed = demo().enrollctl({"pending"});
    EXPECT_TRUE(listed.ok()) << listed.describe();
    for (const auto& line : lines_of(listed.out)) {
      if (line.ends_with(" " + subject)) return {line.substr(0, line.find(' ')), line};
    }
    return {"", listed.out};
  }
};

TEST_F(EstApprovalTest, AHeldRequestIs202UntilApprovedThenDelivered) {
  const auto [key, csr] = key_and_csr("held", "/CN=est-held");
  const std::string label = endpoints().est_approval_label;
  const int before = demo().cert_count();
  HttpReply held = post_basic("simpleenroll", csr, label);
  ASSERT_EQ(held.status, 202) << held.describe();
  const std::string retry_after = held.header("Retry-After").value_or("");
  ASSERT_FALSE(retry_after.empty()) << held.describe();
  EXPECT_TRUE(std::all_of(retry_after.begin(), retry_after.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
              std::stoi(retry_after) >= 1)
      << "Retry-After is delay-seconds: " << retry_after;

  const auto [id, line] = pending("CN=est-held");
  ASSERT_FALSE(id.empty()) << "not in enrollctl pending:\n" << line;
  EXPECT_TRUE(contains(line, "waiting-for-approval")) << line;
  EXPECT_TRUE(contains(line, " " + label + " ")) << line;
  EXPECT_TRUE(contains(line, "user:" + endpoints().est_user)) << line;

  // Asking again before the officer decides: still 202, still one transaction.
  HttpReply still = post_basic("simpleenroll", csr, label);
  EXPECT_EQ(still.status, 202) << still.describe();
  EXPECT_TRUE(still.header("Retry-After").has_value()) << still.describe();
  EXPECT_EQ(pending("CN=est-held").first, id);
  EXPECT_EQ(demo().cert_count(), before);

  RunResult approved = demo().enrollctl({"approve", id, "--officer", "est-officer"});
  ASSERT_TRUE(approved.ok()) << approved.describe();
  // The retry may be signed anew (ECDSA signatures differ each time): same key and subject,
  // other DER bytes, still the same request.
  const fs::path resigned = base64_of(make_der_csr(key, "/CN=est-held", "held-again.csr.der"));
  ASSERT_NE(read_text(resigned), read_text(csr));
  HttpReply delivered = post_basic("simpleenroll", resigned, label);
  const fs::path cert = work() / "held.pem";
  ASSERT_TRUE(expect_certificate_reply(delivered, cert));
  EXPECT_FALSE(expect_properly_issued(demo(), cert, key, "CN=est-held").empty());
  EXPECT_EQ(demo().cert_count(), before + 1);
  EXPECT_TRUE(pending("CN=est-held").first.empty()) << "a delivered request is no longer pending";
}

TEST_F(EstApprovalTest, ARejectedRequestIs403WithTheOfficersReason) {
  const auto [key, csr] = key_and_csr("rejected", "/CN=est-rejected");
  const std::string label = endpoints().est_approval_label;
  HttpReply held = post_basic("simpleenroll", csr, label);
  ASSERT_EQ(held.status, 202) << held.describe();
  const auto [id, line] = pending("CN=est-rejected");
  ASSERT_FALSE(id.empty()) << line;
  RunResult rejected = demo().enrollctl({"reject", id, "--reason", "unknown device"});
  ASSERT_TRUE(rejected.ok()) << rejected.describe();
  HttpReply refused = post_basic("simpleenroll", csr, label);
  EXPECT_EQ(refused.status, 403) << refused.describe();
  EXPECT_TRUE(contains(refused.body, "unknown device")) << refused.describe();
}

TEST_F(EstApprovalTest, ServerkeygenIsNotOfferedWhereAnOfficerDecides) {
  const auto [key, csr] = key_and_csr("held-skg", "/CN=est-held-skg");
  const int before = demo().cert_count();
  HttpReply reply = post_basic("serverkeygen", csr, endpoints().est_approval_label);
  EXPECT_EQ(reply.status, 403) << reply.describe();
  EXPECT_TRUE(pending("CN=est-held-skg").first.empty());
  EXPECT_EQ(demo().cert_count(), before);
}

}  // namespace
}  // namespace enrolld::integration
