// rejects: requests the server must refuse, on this worker's keep-alive connection, in turn:
//   0 an ir MAC-protected under the right reference with a wrong secret → a CMP error message
//   1 an ir MAC-protected under a reference the server does not know → a CMP error message
//   2 random bytes                                                    → HTTP 400 (or a CMP error)
//   3 the first half of an ir                                         → HTTP 400 (or a CMP error)
// The two irs are made once by OpenSSL's client (captured by a transfer callback that sends
// nothing); every request gets its own transactionID and senderNonce, written into the DER in
// place, so the server sees each as new. Anything else (an ip, another status, a closed
// connection) is an error of kind "reject.*" or "transport.*".

#include <openssl/cmp.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>

#include "bench/load/http_client.h"
#include "bench/load/keys.h"
#include "bench/load/worker.h"

namespace enrolld::load {
namespace {

using CmpCtxPtr = std::unique_ptr<::OSSL_CMP_CTX, ossl::Deleter<::OSSL_CMP_CTX_free>>;
using CmpMsgPtr = std::unique_ptr<::OSSL_CMP_MSG, ossl::Deleter<::OSSL_CMP_MSG_free>>;
using OctetStringPtr = std::unique_ptr<::ASN1_OCTET_STRING, ossl::Deleter<::ASN1_OCTET_STRING_free>>;

constexpr std::size_t kIdLength = 16;  // transactionID and senderNonce, as OpenSSL makes them
constexpr std::size_t kMaxGarbage = 2048;

enum Variant { kWrongSecret, kUnknownReference, kGarbage, kTruncated, kVariants };
constexpr const char* kVariantNames[] = {"wrong_secret", "unknown_reference", "garbage", "truncated"};

int silent(const char*, const char*, int, ::OSSL_CMP_severity, const char*) {
  return 1;
}

::OSSL_CMP_MSG* capture(::OSSL_CMP_CTX* ctx, const ::OSSL_CMP_MSG* request) {
  auto* out = static_cast<std::string*>(::OSSL_CMP_CTX_get_transfer_cb_arg(ctx));
  const int length = ::i2d_OSSL_CMP_MSG(request, nullptr);
  if (out == nullptr || length <= 0) return nullptr;
  out->resize(static_cast<std::size_t>(length));
  auto* p = reinterpret_cast<unsigned char*>(out->data());
  ::i2d_OSSL_CMP_MSG(request, &p);
  return nullptr;  // nothing is sent: the exchange ends here on purpose
}

// An ir for a fresh P-256 key, MAC-protected with `reference` and `secret`, whose transactionID
// is `marker`. Failure kind: "setup.reject".
Outcome<std::string> make_ir(const std::string& reference, const std::string& secret,
                             const std::array<unsigned char, kIdLength>& marker) {
  CmpCtxPtr ctx(::OSSL_CMP_CTX_new(nullptr, nullptr));
  auto key = make_p256_key();
  if (!key) return tl::unexpected(key.error());
  auto subject = make_subject("enroll-load-rejects");
  if (!subject) return tl::unexpected(subject.error());
  OctetStringPtr id(::ASN1_OCTET_STRING_new());
  std::string der;
  const bool ok =
      ctx && id && ::ASN1_OCTET_STRING_set(id.get(), marker.data(), kIdLength) == 1 &&
      ::OSSL_CMP_CTX_set_log_cb(ctx.get(), silent) == 1 &&
      ::OSSL_CMP_CTX_set1_transactionID(ctx.get(), id.get()) == 1 &&
      ::OSSL_CMP_CTX_set1_referenceValue(ctx.get(), reinterpret_cast<const unsigned char*>(reference.data()),
                                         static_cast<int>(reference.size())) == 1 &&
      ::OSSL_CMP_CTX_set1_secretValue(ctx.get(), reinterpret_cast<const unsigned char*>(secret.data()),
                                      static_cast<int>(secret.size())) == 1 &&
      ::OSSL_CMP_CTX_set1_subjectName(ctx.get(), subject->get()) == 1 &&
      ::OSSL_CMP_CTX_set_transfer_cb(ctx.get(), capture) == 1 &&
      ::OSSL_CMP_CTX_set_transfer_cb_arg(ctx.get(), &der) == 1;
  if (!ok || ::OSSL_CMP_CTX_set0_newPkey(ctx.get(), 1, key->get()) != 1) {
    return failure("setup.reject", "cannot configure the CMP client: " + ossl::drain_errors());
  }
  (void)key->release();
  (void)::OSSL_CMP_exec_IR_ses(ctx.get());
  ::ERR_clear_error();
  if (der.empty()) return failure("setup.reject", "OpenSSL's client made no ir");
  return der;
}

// Where in `der` the transactionID's octets are, found by their value; npos if not found.
std::size_t find_marker(const std::string& der, const std::array<unsigned char, kIdLength>& marker) {
  const std::string_view wanted(reinterpret_cast<const char*>(marker.data()), marker.size());
  return der.find(wanted);
}

class RejectWorker final : public Worker {
 public:
  RejectWorker(const Options& options, int index)
      : m_options(options),
        m_index(index),
        // parse_options checked the URL.
        m_http(*parse_url(options.cmp_url), nullptr, std::chrono::milliseconds(options.timeout_ms)) {}

  Done prepare() override;
  Done enroll(bool /*verify*/) override { return send(true); }
  Done warmup() override { return send(false); }
  std::map<std::string, std::uint64_t> tallies() const override { return m_tallies; }
  std::uint64_t connects() const override { return m_http.connects(); }

 private:
  struct Template {
    std::string der;
    std::size_t id_at = std::string::npos;     // transactionID octets
    std::size_t nonce_at = std::string::npos;  // senderNonce octets; npos: left as made
  };

  Done send(bool counted);
  // `t` with this request's transactionID and senderNonce written in.
  const std::string& fresh(const Template& t);
  void count(const std::string& kind, bool counted) {
    if (counted) ++m_tallies[kind];
  }

  const Options& m_options;
  const int m_index;
  HttpConnection m_http;
  std::array<Template, 2> m_irs;  // kWrongSecret, kUnknownReference
  std::uint64_t m_sent = 0;
  std::array<unsigned char, 4> m_worker_id{};
  std::string m_body;
  std::map<std::string, std::uint64_t> m_tallies;
};

Done RejectWorker::prepare() {
  if (::RAND_bytes(m_worker_id.data(), static_cast<int>(m_worker_id.size())) != 1) {
    return failure("setup.reject", "RAND_bytes failed");
  }
  const std::string wrong_secret = "wrong-" + to_hex(random_bytes(12));
  const std::string unknown_reference = "enroll-load-unknown-" + to_hex(random_bytes(6));
  const std::string references[] = {m_options.ref, unknown_reference};
  for (std::size_t i = 0; i < m_irs.size(); ++i) {
    std::array<unsigned char, kIdLength> marker{};
    if (::RAND_bytes(marker.data(), static_cast<int>(marker.size())) != 1) {
      return failure("setup.reject", "RAND_bytes failed");
    }
    auto der = make_ir(references[i], wrong_secret, marker);
    if (!der) return tl::unexpected(der.error());
    Template& t = m_irs[i];
    t.der = std::move(*der);
    t.id_at = find_marker(t.der, marker);
    if (t.id_at == std::string::npos) return failure("setup.reject", "the ir does not carry the transactionID set");
    // PKIHeader (RFC 4210 5.1.1): transactionID [4] is followed by senderNonce [5], both
    // EXPLICIT OCTET STRINGs of 16 octets here: A5 12 04 10 <16 octets>.
    const std::size_t after = t.id_at + kIdLength;
    static constexpr unsigned char kNonceHeader[] = {0xa5, 0x12, 0x04, 0x10};
    if (after + sizeof kNonceHeader + kIdLength <= t.der.size() &&
        std::memcmp(t.der.data() + after, kNonceHeader, sizeof kNonceHeader) == 0) {
      t.nonce_at = after + sizeof kNonceHeader;
    }
  }
  return {};
}

const std::string& RejectWorker::fresh(const Template& t) {
  m_body = t.der;
  // transactionID: this worker's 4 random octets, then a counter: unique across the run.
  std::array<unsigned char, kIdLength> id{};
  std::copy(m_worker_id.begin(), m_worker_id.end(), id.begin());
  for (std::size_t i = 0; i < 8; ++i) id[kIdLength - 1 - i] = static_cast<unsigned char>(m_sent >> (8 * i));
  id[4] = static_cast<unsigned char>(m_index);
  std::memcpy(m_body.data() + t.id_at, id.data(), id.size());
  if (t.nonce_at != std::string::npos) {
    unsigned char nonce[kIdLength];
    if (::RAND_bytes(nonce, sizeof nonce) == 1) std::memcpy(m_body.data() + t.nonce_at, nonce, sizeof nonce);
  }
  return m_body;
}

Done RejectWorker::send(bool counted) {
  const auto variant = static_cast<Variant>(m_sent % kVariants);
  ++m_sent;
  std::string_view body;
  switch (variant) {
    case kWrongSecret:
    case kUnknownReference: body = fresh(m_irs[variant]); break;
    case kGarbage: {
      const std::size_t length = 1 + static_cast<std::size_t>(m_sent * 7919 % kMaxGarbage);
      m_body.resize(length);
      if (::RAND_bytes(reinterpret_cast<unsigned char*>(m_body.data()), static_cast<int>(length)) != 1) {
        std::fill(m_body.begin(), m_body.end(), '\x42');
      }
      body = m_body;
      break;
    }
    case kTruncated: {
      const std::string& whole = fresh(m_irs[kWrongSecret]);
      body = std::string_view(whole).substr(0, whole.size() / 2);
      break;
    }
    case kVariants: return failure("usage", "no such variant");
  }
  auto response = m_http.post("application/pkixcmp", body, {}, m_options.cmp_keep_alive);
  if (!response) return tl::unexpected(response.error());
  const HttpResponse& reply = **response;
  const std::string variant_name = kVariantNames[variant];
  const bool cmp_answer = reply.content_type.starts_with("application/pkixcmp");
  if (cmp_answer) {
    const auto* in = reinterpret_cast<const unsigned char*>(reply.body.data());
    CmpMsgPtr message(::d2i_OSSL_CMP_MSG(nullptr, &in, static_cast<long>(reply.body.size())));
    ::ERR_clear_error();
    if (!message) {
      return failure("reject.undecodable." + variant_name,
                     "HTTP " + std::to_string(reply.status) + " with a body that is not a PKIMessage");
    }
    const int type = ::OSSL_CMP_MSG_get_bodytype(message.get());
    if (type != kBodyError) {
      return failure(type == kBodyIp ? "reject.accepted." + variant_name : "reject.body." + variant_name,
                     "HTTP " + std::to_string(reply.status) + ", PKIBody type " + std::to_string(type) +
                         " instead of an error message");
    }
    count("cmp.error", counted);
    return {};
  }
  // A body the server cannot decode as a PKIMessage (RFC 6712 3.3 leaves the status to it):
  // 400 is what enrolld sends.
  const bool undecodable = variant == kGarbage || variant == kTruncated;
  if (undecodable && reply.status == 400) {
    count("http.400", counted);
    return {};
  }
  return failure("reject.http." + std::to_string(reply.status) + "." + variant_name,
                 "HTTP " + std::to_string(reply.status) + " (" + reply.content_type + ") " + reply.body.substr(0, 200));
}

}  // namespace

std::unique_ptr<Worker> make_reject_worker(const Options& options, int index) {
  return std::make_unique<RejectWorker>(options, index);
}

}  // namespace enrolld::load
