#pragma once
// EST (RFC 7030, RFC 8951) against a running `enrolld demo` with the real clients: strongSwan's
// `pki --estca/--est`, curl and openssl. Shared by the EST integration test suites.

#include <gtest/gtest.h>

#include <fstream>

#include "demo.h"

namespace enrolld::integration {

constexpr const char* kPkcs10 = "application/pkcs10";

// One HTTP exchange made with curl: the status, the final header block and the body.
struct HttpReply {
  int status = -1;
  std::string headers;  // the last header block (after any 100 Continue), as received
  std::string body;
  RunResult curl;

  // The value of header `name` (case-insensitive), trimmed; nullopt when absent.
  std::optional<std::string> header(const std::string& name) const {
    for (const auto& line : lines_of(headers)) {
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      if (lower(trim(line.substr(0, colon))) == lower(name)) return trim(line.substr(colon + 1));
    }
    return std::nullopt;
  }
  // The Content-Type's media type without parameters, lower case.
  std::string media_type() const {
    const std::string type = header("Content-Type").value_or("");
    return lower(trim(type.substr(0, type.find(';'))));
  }
  std::string describe() const {
    return "HTTP status " + std::to_string(status) + "\n--- headers ---\n" + headers + "--- body ---\n" +
           body.substr(0, 2000) + "\n" + curl.describe();
  }
};

inline void write_file(const fs::path& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// Whether `text` is base64 on one line: the base64 alphabet only, whole quads, and at most one
// line end at the very end (strongSwan's client reads nothing else).
inline bool one_line_base64(const std::string& text) {
  std::string body = text;
  if (body.ends_with("\r\n")) {
    body.resize(body.size() - 2);
  } else if (body.ends_with("\n")) {
    body.resize(body.size() - 1);
  }
  if (body.empty() || body.size() % 4 != 0) return false;
  const std::size_t data_end = body.find_last_not_of('=');
  if (data_end == std::string::npos || body.size() - data_end - 1 > 2) return false;
  for (std::size_t i = 0; i <= data_end; ++i) {
    const auto c = static_cast<unsigned char>(body[i]);
    if (!std::isalnum(c) && c != '+' && c != '/') return false;
  }
  return true;
}

// A test fixture with EST clients against the suite's demo.
class EstTest : public DemoTest {
 protected:
  void SetUp() override {
    DemoTest::SetUp();
    if (HasFatalFailure()) return;
    // The tests talk to 127.0.0.1 only.
    ASSERT_EQ(endpoints().est_url.rfind("https://127.0.0.1:", 0), 0u)
        << "EST_URL " << endpoints().est_url << " is not on 127.0.0.1; not sending anything there";
  }

  // https://127.0.0.1:PORT/.well-known/est/[label/]operation
  static std::string est_url(const std::string& operation, const std::string& label = "") {
    return endpoints().est_url + "/.well-known/est/" + (label.empty() ? "" : label + "/") + operation;
  }
  static std::string basic() { return endpoints().est_user + ":" + endpoints().est_password; }

  // curl to `url` with the demo's TLS anchor and `options` (before the URL).
  HttpReply curl(const std::string& url, std::vector<std::string> options) const {
    const std::string stem = "curl-" + std::to_string(++m_curl_calls);
    const fs::path headers = work() / (stem + ".headers");
    const fs::path body = work() / (stem + ".body");
    std::vector<std::string> argv{
        "curl",           "-sS", "--max-time",  "30", "--cacert",    endpoints().est_tls_trust, "-D",
        headers.string(), "-o",  body.string(), "-w", "%{http_code}"};
    argv.insert(argv.end(), options.begin(), options.end());
    argv.push_back(url);
    HttpReply reply;
    reply.curl = run(std::move(argv), kCommandTimeout);
    const std::string code = trim(reply.curl.out);
    if (reply.curl.ok() && !code.empty() &&
        std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      reply.status = std::stoi(code);
    }
    // The last header block: a 100 Continue may precede the final answer.
    const std::string all = read_text(headers);
    const auto last = all.rfind("HTTP/");
    reply.headers = last == std::string::npos ? all : all.substr(last);
    reply.body = read_text(body);
    return reply;
  }

  // POSTs `body_file` as application/pkcs10 (or `content_type`) to `operation` under `label`.
  HttpReply post(const std::string& operation, const fs::path& body_file, std::vector<std::string> options = {},
                 const std::string& label = "", const std::string& content_type = kPkcs10) const {
    options.insert(options.end(), {"-H", "Content-Type: " + content_type, "--data-binary", "@" + body_file.string()});
    return curl(est_url(operation, label), std::move(options));
  }
  // POSTs `csr_b64` with HTTP Basic as the demo's EST user.
  HttpReply post_basic(const std::string& operation, const fs::path& csr_b64, const std::string& label = "") const {
    return post(operation, csr_b64, {"-u", basic()}, label);
  }

  // A DER PKCS#10 request for `key` made by openssl req; `extra` e.g. {"-addext", "subjectAltName=DNS:x"}.
  fs::path make_der_csr(const fs::path& key, const std::string& subject, const std::string& name,
                        std::vector<std::string> extra = {}) const {
    const fs::path csr = work() / name;
    std::vector<std::string> args{"req",   "-new",     "-key", key.string(), "-subj",
                                  subject, "-outform", "DER",  "-out",       csr.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    RunResult r = openssl(std::move(args));
    EXPECT_TRUE(r.ok()) << r.describe();
    return csr;
  }

  // `der` in base64: on one line (-A), or with openssl's line breaks every 64 characters.
  fs::path base64_of(const fs::path& der, bool one_line = true) const {
    const fs::path out = fs::path(der).concat(one_line ? ".b64" : ".b64-lines");
    std::vector<std::string> args{"base64", "-in", der.string(), "-out", out.string()};
    if (one_line) args.push_back("-A");
    RunResult r = openssl(std::move(args));
    EXPECT_TRUE(r.ok()) << r.describe();
    return out;
  }

  // A fresh P-256 key and a one-line base64 DER CSR for it ("/CN=..."): returns {key, csr.b64}.
  std::pair<fs::path, fs::path> key_and_csr(const std::string& name, const std::string& subject,
                                            std::vector<std::string> extra = {}) const {
    const fs::path key = make_ec_key(name + ".key");
    const fs::path der = make_der_csr(key, subject, name + ".csr.der", std::move(extra));
    return {key, base64_of(der)};
  }

  // The certificates in a certs-only PKCS#7 reply body (base64, on one line as strongSwan needs
  // it), decoded by openssl base64 -d -A and openssl pkcs7 -print_certs; the first is written
  // to `first_pem` as plain PEM. Returns the number of certificates, -1 if it cannot be read.
  int certificates_in(const std::string& base64_body, const fs::path& first_pem) const {
    EXPECT_TRUE(one_line_base64(base64_body)) << "a PKCS#7 body must be base64 on one line:\n" << base64_body;
    const fs::path stem = fs::path(first_pem).replace_extension();
    const fs::path b64 = fs::path(stem).concat(".p7.b64");
    const fs::path der = fs::path(stem).concat(".p7.der");
    const fs::path printed = fs::path(stem).concat(".p7-certs.pem");
    write_file(b64, base64_body);
    RunResult decoded = openssl({"base64", "-d", "-A", "-in", b64.string(), "-out", der.string()});
    EXPECT_TRUE(decoded.ok()) << decoded.describe();
    RunResult certs =
        openssl({"pkcs7", "-inform", "DER", "-in", der.string(), "-print_certs", "-out", printed.string()});
    EXPECT_TRUE(certs.ok()) << certs.describe();
    if (!decoded.ok() || !certs.ok()) return -1;
    const std::string text = read_text(printed);
    int count = 0;
    for (std::size_t at = text.find("-----BEGIN CERTIFICATE-----"); at != std::string::npos;
         at = text.find("-----BEGIN CERTIFICATE-----", at + 1)) {
      ++count;
    }
    if (count > 0) {
      RunResult first = openssl({"x509", "-in", printed.string(), "-out", first_pem.string()});
      EXPECT_TRUE(first.ok()) << first.describe();
    }
    return count;
  }

  // Checks a 200 enrollment reply (status, type, one-line base64 of exactly one certificate)
  // and writes the certificate to `cert`. Returns whether it got that far.
  bool expect_certificate_reply(const HttpReply& reply, const fs::path& cert) const {
    EXPECT_EQ(reply.status, 200) << reply.describe();
    EXPECT_EQ(reply.media_type(), "application/pkcs7-mime") << reply.describe();
    if (reply.status != 200) return false;
    const int count = certificates_in(reply.body, cert);
    EXPECT_EQ(count, 1) << "an enrollment reply carries the issued certificate only\n" << reply.describe();
    return count >= 1 && fs::exists(cert);
  }

  // The subjectAltName extension as openssl prints it ("DNS:a, DNS:b"), empty when absent.
  static std::string subject_alt_name(const fs::path& cert) {
    RunResult r = openssl({"x509", "-in", cert.string(), "-noout", "-ext", "subjectAltName"});
    EXPECT_TRUE(r.ok()) << r.describe();
    const auto lines = lines_of(r.out);
    return lines.size() >= 2 ? trim(lines[1]) : "";
  }

  static std::string sha256_fingerprint(const fs::path& cert) {
    RunResult r = openssl({"x509", "-in", cert.string(), "-noout", "-fingerprint", "-sha256"});
    EXPECT_TRUE(r.ok()) << r.describe();
    return trim(r.out);
  }

  // ---- strongSwan pki ----------------------------------------------------------------

  static RunResult pki(std::vector<std::string> args, const std::optional<fs::path>& strongswan_conf = std::nullopt) {
    std::vector<std::string> argv;
    if (strongswan_conf) argv = {"env", "STRONGSWAN_CONF=" + strongswan_conf->string()};
    argv.push_back("pki");
    argv.insert(argv.end(), args.begin(), args.end());
    return run(std::move(argv), kCommandTimeout);
  }

  // pki --gen: a P-256 key (PEM) in the work folder.
  fs::path pki_key(const std::string& name) const {
    const fs::path key = work() / name;
    RunResult r = pki({"--gen", "--type", "ecdsa", "--size", "256", "--outform", "pem"});
    EXPECT_TRUE(r.ok()) << r.describe();
    write_file(key, r.out);
    return key;
  }

  // pki --req: a DER PKCS#10 request for `key` with `dn` ("CN=.., O=..") and a DNS SAN.
  fs::path pki_csr(const fs::path& key, const std::string& dn, const std::string& san, const std::string& name) const {
    const fs::path csr = work() / name;
    RunResult r = pki({"--req", "--in", key.string(), "--type", "ecdsa", "--dn", dn, "--san", san, "--outform", "der"});
    EXPECT_TRUE(r.ok()) << r.describe();
    write_file(csr, r.out);
    return csr;
  }

  // pki --estca into the work folder: {root, issuing CA} as pki wrote them (PEM).
  std::pair<fs::path, fs::path> pki_cacerts() const {
    const fs::path out = work() / "est-ca.pem";
    RunResult r = pki({"--estca", "--url", endpoints().est_url, "--cacert", endpoints().est_tls_trust, "--outform",
                       "pem", "--caout", out.string(), "--force"});
    EXPECT_TRUE(r.ok()) << r.describe();
    return {out, work() / "est-ca-1.pem"};
  }

  // pki --est with `csr`, trusting the TLS anchor and the issuing CA from pki --estca; the
  // certificate (PEM) goes to `cert` on success. `auth`: {"--userpass", "u:p"} or {"--cert",
  // c, "--key", k} (then pki sends simplereenroll).
  RunResult pki_est(const fs::path& csr, std::vector<std::string> auth, const fs::path& cert,
                    const std::optional<fs::path>& strongswan_conf = std::nullopt) const {
    const auto [root, issuing] = pki_cacerts();
    std::vector<std::string> args{
        "--est",    "--url",          endpoints().est_url, "--in", csr.string(), "--cacert", root.string(),
        "--cacert", issuing.string(), "--outform",         "pem",  "--interval", "1",        "--maxpolltime",
        "30"};
    args.insert(args.end(), auth.begin(), auth.end());
    RunResult r = pki(std::move(args), strongswan_conf);
    if (r.ok()) write_file(cert, r.out);
    return r;
  }

  // A certificate for a pki key with `dn` and DNS SAN `san`, enrolled with pki --est and the
  // demo's EST user. Returns {key, cert}; the test fails if it is not properly issued.
  std::pair<fs::path, fs::path> pki_enroll(const std::string& name, const std::string& dn, const std::string& san,
                                           const std::string& expected_subject) const {
    const fs::path key = pki_key(name + ".key");
    const fs::path csr = pki_csr(key, dn, san, name + ".csr");
    const fs::path cert = work() / (name + ".pem");
    RunResult r = pki_est(csr, {"--userpass", basic()}, cert);
    EXPECT_TRUE(r.ok()) << r.describe();
    if (r.ok()) {
      EXPECT_FALSE(expect_properly_issued(demo(), cert, key, expected_subject).empty());
    }
    return {key, cert};
  }

 private:
  mutable int m_curl_calls = 0;
};

}  // namespace enrolld::integration
