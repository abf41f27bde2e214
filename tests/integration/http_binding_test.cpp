// The HTTP binding of CMP (RFC 6712) as a client sees it: curl against a running demo.

#include <gtest/gtest.h>

#include "demo.h"

namespace enrolld::integration {
namespace {

enum class Body { kNone, kJunk, kEmpty, kZeros };

struct HttpRow {
  const char* name;
  const char* method;
  const char* path;          // on 127.0.0.1:HTTP_PORT
  const char* content_type;  // nullptr: curl's default; "": no Content-Type header at all
  Body body;
  std::size_t size;  // for kZeros
  bool chunked;
  int expected_status;
};

std::ostream& operator<<(std::ostream& out, const HttpRow& row) {
  return out << row.name;
}

constexpr const char* kCmp = "application/pkixcmp";

struct HttpReply {
  RunResult curl;
  std::string status;
  std::string headers;
  std::string body;
};

// One request with curl, to 127.0.0.1 only (no proxy).
HttpReply send(const fs::path& work, const Endpoints& ep, const HttpRow& row) {
  const fs::path body_in = work / "request.bin";
  const fs::path body_out = work / "response.bin";
  const fs::path headers_out = work / "response.headers";
  std::vector<std::string> args{"curl",
                                "-s",
                                "-S",
                                "--noproxy",
                                "*",
                                "--max-time",
                                "30",
                                "-o",
                                body_out.string(),
                                "-D",
                                headers_out.string(),
                                "-w",
                                "%{http_code}",
                                "-X",
                                row.method,
                                ep.base_url() + row.path};
  if (row.content_type != nullptr) args.insert(args.end(), {"-H", std::string("Content-Type: ") + row.content_type});
  if (row.chunked) args.insert(args.end(), {"-H", "Transfer-Encoding: chunked"});
  if (row.body != Body::kNone) {
    std::string data;
    if (row.body == Body::kJunk) data = "this is not a DER-encoded PKIMessage\n";
    if (row.body == Body::kZeros) data.assign(row.size, '\0');
    std::ofstream(body_in, std::ios::binary) << data;
    args.insert(args.end(), {"--data-binary", "@" + body_in.string()});
  }
  HttpReply reply;
  reply.curl = run(std::move(args), kCommandTimeout);
  reply.status = trim(reply.curl.out);
  reply.headers = read_text(headers_out);
  reply.body = read_text(body_out);
  return reply;
}

std::string header_value(const std::string& headers, const std::string& name) {
  for (const auto& line : lines_of(headers)) {
    const auto colon = line.find(':');
    if (colon != std::string::npos && lower(line.substr(0, colon)) == lower(name)) return trim(line.substr(colon + 1));
  }
  return "";
}

const std::vector<HttpRow>& http_rows() {
  static const std::vector<HttpRow> rows{
      // Bodies that are not DER PKIMessages: 400 with a text reason.
      {"junk_body", "POST", "/.well-known/cmp", kCmp, Body::kJunk, 0, false, 400},
      {"junk_body_profile_default", "POST", "/.well-known/cmp/p/default", kCmp, Body::kJunk, 0, false, 400},
      {"empty_body", "POST", "/.well-known/cmp", kCmp, Body::kEmpty, 0, false, 400},
      {"zeros_exactly_the_limit", "POST", "/.well-known/cmp", kCmp, Body::kZeros, 65536, false, 400},
      {"junk_body_content_type_parameter", "POST", "/.well-known/cmp", "application/pkixcmp; charset=binary",
       Body::kJunk, 0, false, 400},
      {"junk_body_content_type_upper_case", "POST", "/.well-known/cmp", "Application/PKIXCMP", Body::kJunk, 0, false,
       400},
      // Methods other than POST: 405 with Allow: POST.
      {"get", "GET", "/.well-known/cmp", nullptr, Body::kNone, 0, false, 405},
      {"get_profile_default", "GET", "/.well-known/cmp/p/default", nullptr, Body::kNone, 0, false, 405},
      {"put", "PUT", "/.well-known/cmp", kCmp, Body::kJunk, 0, false, 405},
      {"delete", "DELETE", "/.well-known/cmp", nullptr, Body::kNone, 0, false, 405},
      // Paths that are not CMP endpoints: 404.
      {"root_path", "POST", "/", kCmp, Body::kJunk, 0, false, 404},
      {"unknown_path", "POST", "/cmp", kCmp, Body::kJunk, 0, false, 404},
      {"well_known_prefix_only", "POST", "/.well-known/cmpx", kCmp, Body::kJunk, 0, false, 404},
      {"below_cmp_not_profile", "POST", "/.well-known/cmp/extra", kCmp, Body::kJunk, 0, false, 404},
      {"est_path", "POST", "/.well-known/est/simpleenroll", kCmp, Body::kJunk, 0, false, 404},
      {"get_unknown_path", "GET", "/index.html", nullptr, Body::kNone, 0, false, 404},
      // The demo's alias /pkix (cmp.aliases) answers CMP, exactly at that path.
      {"alias_junk_body", "POST", "/pkix", kCmp, Body::kJunk, 0, false, 400},
      {"alias_get", "GET", "/pkix", nullptr, Body::kNone, 0, false, 405},
      {"alias_wrong_content_type", "POST", "/pkix", "text/plain", Body::kJunk, 0, false, 415},
      {"below_alias", "POST", "/pkix/x", kCmp, Body::kJunk, 0, false, 404},
      // The repository is read-only.
      {"post_to_crl", "POST", "/repo/issuing.crl", kCmp, Body::kJunk, 0, false, 405},
      {"unknown_repo_file", "GET", "/repo/other.crl", nullptr, Body::kNone, 0, false, 404},
      // Bodies over 65536 bytes: 413.
      {"body_one_over_the_limit", "POST", "/.well-known/cmp", kCmp, Body::kZeros, 65537, false, 413},
      {"body_100_kib", "POST", "/.well-known/cmp", kCmp, Body::kZeros, 100 * 1024, false, 413},
      {"body_100_kib_profile_default", "POST", "/.well-known/cmp/p/default", kCmp, Body::kZeros, 100 * 1024, false,
       413},
      {"body_100_kib_chunked", "POST", "/.well-known/cmp", kCmp, Body::kZeros, 100 * 1024, true, 413},
      // Content types other than application/pkixcmp: 415.
      {"content_type_text_plain", "POST", "/.well-known/cmp", "text/plain", Body::kJunk, 0, false, 415},
      {"content_type_octet_stream", "POST", "/.well-known/cmp", "application/octet-stream", Body::kJunk, 0, false, 415},
      {"content_type_curl_default_form", "POST", "/.well-known/cmp", nullptr, Body::kJunk, 0, false, 415},
      {"content_type_missing", "POST", "/.well-known/cmp", "", Body::kJunk, 0, false, 415},
      {"content_type_similar", "POST", "/.well-known/cmp", "application/pkixcmp-poll", Body::kJunk, 0, false, 415},
      {"content_type_text_plain_profile_default", "POST", "/.well-known/cmp/p/default", "text/plain", Body::kJunk, 0,
       false, 415},
  };
  return rows;
}

class HttpBindingTest : public DemoTest, public ::testing::WithParamInterface<HttpRow> {};

TEST_P(HttpBindingTest, AnswersWithTheRightStatusAndStoresNothing) {
  const HttpRow& row = GetParam();
  const int before = demo().cert_count();
  ASSERT_GE(before, 0);
  const HttpReply reply = send(work(), endpoints(), row);
  ASSERT_TRUE(reply.curl.ok()) << reply.curl.describe();
  EXPECT_EQ(reply.status, std::to_string(row.expected_status)) << reply.headers << reply.body;
  if (row.expected_status == 405) {
    // The repository is read (GET); everything else here takes CMP requests (POST).
    const bool repository = std::string(row.path).rfind("/repo/", 0) == 0;
    EXPECT_EQ(header_value(reply.headers, "Allow"), repository ? "GET" : "POST") << reply.headers;
  }
  if (row.expected_status == 400) {
    EXPECT_EQ(header_value(reply.headers, "Content-Type").rfind("text/plain", 0), 0u) << reply.headers;
    EXPECT_FALSE(trim(reply.body).empty()) << "a 400 answer should say why";
  }
  EXPECT_EQ(demo().cert_count(), before);
  EXPECT_TRUE(demo().running()) << demo().log();
}

INSTANTIATE_TEST_SUITE_P(Rows, HttpBindingTest, ::testing::ValuesIn(http_rows()),
                         [](const ::testing::TestParamInfo<HttpRow>& row_info) {
                           return std::string(row_info.param.name);
                         });

class HttpAfterBadRequestsTest : public DemoTest {};

TEST_F(HttpAfterBadRequestsTest, ServesAGoodIrAfterEveryKindOfBadRequest) {
  const int before = demo().cert_count();
  for (const HttpRow& row : http_rows()) {
    const HttpReply reply = send(work(), endpoints(), row);
    ASSERT_TRUE(reply.curl.ok()) << row.name << "\n" << reply.curl.describe();
    EXPECT_EQ(reply.status, std::to_string(row.expected_status)) << row.name;
  }
  EXPECT_EQ(demo().cert_count(), before);

  const fs::path key = make_ec_key();
  RunResult r = openssl_cmp({"ir",
                             endpoints().cmp_url,
                             endpoints().ref,
                             endpoints().secret,
                             key,
                             "/CN=after-bad",
                             {},
                             work() / "cert.pem",
                             {}});
  ASSERT_TRUE(r.ok()) << r.describe();
  expect_properly_issued(demo(), work() / "cert.pem", key, "CN=after-bad");
  EXPECT_EQ(demo().cert_count(), before + 1);
}

}  // namespace
}  // namespace enrolld::integration
