// CMP enrollments with OpenSSL's own client (OSSL_CMP_CTX, the exec_*_ses functions) in
// process. Its transfer callback sends each request over this worker's keep-alive HTTP
// connection (RFC 6712), so the run measures enrollments, not connection set-up.
//
// open-txns is ir-mac without implicit confirmation whose certConf the transfer callback keeps
// instead of sending: OpenSSL's client has the new certificate (OSSL_CMP_CTX_get0_newCert) and
// the server, which answered with an ip, waits for a certConf that does not come (RFC 4210
// 5.3.18) until its deadline. A few of the held certConfs are sent after the window, to show
// that the server still held those transactions open.

#include <openssl/cmp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <optional>

#include "bench/load/cert_check.h"
#include "bench/load/http_client.h"
#include "bench/load/keys.h"
#include "bench/load/worker.h"

namespace enrolld::load {
namespace {

using CmpCtxPtr = std::unique_ptr<::OSSL_CMP_CTX, ossl::Deleter<::OSSL_CMP_CTX_free>>;

// RFC 4210 5.2.3 PKIFailureInfo bit names, by bit number.
constexpr const char* kFailInfoNames[] = {
    "badAlg",           "badMessageCheck",     "badRequest",          "badTime",           "badCertId",
    "badDataFormat",    "wrongAuthority",      "incorrectData",       "missingTimeStamp",  "badPOP",
    "certRevoked",      "certConfirmed",       "wrongIntegrity",      "badRecipientNonce", "timeNotAvailable",
    "unacceptedPolicy", "unacceptedExtension", "addInfoNotAvailable", "badSenderNonce",    "badCertTemplate",
    "signerNotTrusted", "transactionIdInUse",  "unsupportedVersion",  "notAuthorized",     "systemUnavail",
    "systemFailure",    "duplicateCertReq"};

// The OpenSSL client's last complaint on this thread: its log is otherwise discarded (printing
// every "sending IR" would cost more than the enrollment).
thread_local std::string t_last_cmp_log;

int keep_errors_only(const char* /*func*/, const char* /*file*/, int /*line*/, ::OSSL_CMP_severity level,
                     const char* message) {
  try {
    if (level <= OSSL_CMP_LOG_WARNING && message != nullptr) t_last_cmp_log = message;
  } catch (...) {
    // Keeping a log line must never unwind into OpenSSL.
  }
  return 1;
}

// certConf callback for --accept-any-cert: overrides OpenSSL's finding that the new
// certificate is not for the requested key (the mock's canned certificate never is).
int accept_any_certificate(::OSSL_CMP_CTX* /*ctx*/, ::X509* /*cert*/, int /*fail_info*/, const char** text) {
  *text = nullptr;
  return 0;
}

// The transfer callback's verdict on a certConf it kept (open-txns): not a failure.
constexpr const char* kHeldKind = "open.certconf_held";
// Held certConfs kept for probe_held(): the worker's first few and its last few.
constexpr std::size_t kHeldKept = 3;

std::string token(std::string text) {
  for (auto& c : text) {
    if (c == ' ' || c == ':' || c == ',' || c == '"') c = '_';
  }
  return text;
}

class CmpWorker final : public Worker {
 public:
  CmpWorker(const Options& options, int index)
      : m_options(options),
        m_index(index),
        m_implicit_confirm(options.implicit_confirm.value_or(options.scenario == Scenario::kIrMac)),
        m_hold_certconf(options.scenario == Scenario::kOpenTxns),
        // parse_options checked the URL.
        m_http(*parse_url(options.cmp_url), nullptr, std::chrono::milliseconds(options.timeout_ms)) {}

  Done prepare() override;
  Done enroll(bool verify) override;
  Done warmup() override;
  HeldProbe probe_held() override;
  std::uint64_t connects() const override { return m_http.connects(); }

  // The transfer callback's body: DER out, DER in. Returns a new message or null, recording why
  // in m_transport_failure. Does not throw.
  ::OSSL_CMP_MSG* transfer(const ::OSSL_CMP_MSG* request) noexcept;

 private:
  Outcome<CmpCtxPtr> new_context(bool mac, bool implicit_confirm);
  // After an exec_*_ses returned null: the transport's failure, the server's rejection, or
  // the client's own complaint.
  Failure classify(::OSSL_CMP_CTX* ctx);
  Done bootstrap();
  // open-txns, after OSSL_CMP_exec_IR_ses returned `cert`: the new certificate if the
  // transfer callback held its certConf back (the transaction stays open), else the failure.
  Outcome<::X509*> held_open(::OSSL_CMP_CTX* ctx, ::X509* cert);

  const Options& m_options;
  const int m_index;
  const bool m_implicit_confirm;
  const bool m_hold_certconf;  // open-txns: certConf messages are kept, not sent
  HttpConnection m_http;
  std::optional<CertificateChecker> m_checker;
  std::vector<Device> m_devices;
  std::size_t m_next = 0;
  CmpCtxPtr m_ctx;
  // ir-sig: the signing credential; kur: the certificate to update next and its key.
  ossl::X509Ptr m_cert;
  ossl::EvpPkeyPtr m_cert_key;
  std::optional<Failure> m_transport_failure;
  std::string m_der;
  // open-txns: the context for the warmup (implicit confirmation: nothing left open), whether
  // the exchange under way holds certConf back, and the certConfs held.
  CmpCtxPtr m_warm_ctx;
  bool m_holding = false;
  std::string m_held_now;
  std::vector<std::string> m_held_first;
  std::deque<std::string> m_held_last;
  std::uint64_t m_held = 0;
};

::OSSL_CMP_MSG* transfer_callback(::OSSL_CMP_CTX* ctx, const ::OSSL_CMP_MSG* request) {
  auto* worker = static_cast<CmpWorker*>(::OSSL_CMP_CTX_get_transfer_cb_arg(ctx));
  return worker == nullptr ? nullptr : worker->transfer(request);
}

::OSSL_CMP_MSG* CmpWorker::transfer(const ::OSSL_CMP_MSG* request) noexcept {
  try {
    const int length = ::i2d_OSSL_CMP_MSG(request, nullptr);
    if (length <= 0) {
      m_transport_failure = Failure{"cmp.encode", "cannot encode the request: " + ossl::drain_errors()};
      return nullptr;
    }
    m_der.resize(static_cast<std::size_t>(length));
    auto* out = reinterpret_cast<unsigned char*>(m_der.data());
    ::i2d_OSSL_CMP_MSG(request, &out);
    if (m_holding && ::OSSL_CMP_MSG_get_bodytype(request) == kBodyCertConf) {
      // Not sent: the client gives up here and the server keeps waiting.
      m_held_now = m_der;
      m_transport_failure = Failure{kHeldKind, "certConf held back"};
      return nullptr;
    }
    auto response = m_http.post("application/pkixcmp", m_der, {}, m_options.cmp_keep_alive);
    if (!response) {
      m_transport_failure = response.error();
      return nullptr;
    }
    const HttpResponse& reply = **response;
    // RFC 6712 3.4: a CMP answer is application/pkixcmp; an error PKIMessage may come with
    // another status, so the body is read whenever its type says CMP.
    if (!reply.content_type.starts_with("application/pkixcmp")) {
      m_transport_failure =
          Failure{"http." + std::to_string(reply.status), "HTTP " + std::to_string(reply.status) + " (" +
                                                              reply.content_type + ") " + reply.body.substr(0, 200)};
      return nullptr;
    }
    const auto* in = reinterpret_cast<const unsigned char*>(reply.body.data());
    ::OSSL_CMP_MSG* message = ::d2i_OSSL_CMP_MSG(nullptr, &in, static_cast<long>(reply.body.size()));
    if (message == nullptr) {
      m_transport_failure =
          Failure{"cmp.decode", "the answer is not a PKIMessage (" + std::to_string(reply.body.size()) + " octets)"};
    }
    return message;
  } catch (...) {
    // Only allocation can throw here; report it as a failed transfer rather than unwind.
    return nullptr;
  }
}

Outcome<CmpCtxPtr> CmpWorker::new_context(bool mac, bool implicit_confirm) {
  CmpCtxPtr ctx(::OSSL_CMP_CTX_new(nullptr, nullptr));
  if (!ctx) return failure("setup.cmp", "OSSL_CMP_CTX_new: " + ossl::drain_errors());
  ::OSSL_CMP_CTX* c = ctx.get();
  bool ok = ::OSSL_CMP_CTX_set_log_cb(c, keep_errors_only) == 1 &&
            ::OSSL_CMP_CTX_set_log_verbosity(c, OSSL_CMP_LOG_WARNING) == 1 &&
            ::OSSL_CMP_CTX_set_transfer_cb(c, transfer_callback) == 1 &&
            ::OSSL_CMP_CTX_set_transfer_cb_arg(c, this) == 1 &&
            ::OSSL_CMP_CTX_set_option(c, OSSL_CMP_OPT_TOTAL_TIMEOUT, m_options.timeout_ms / 1000 * 3 + 1) == 1 &&
            ::OSSL_CMP_CTX_set_option(c, OSSL_CMP_OPT_UNPROTECTED_ERRORS, 1) == 1 &&
            ::OSSL_CMP_CTX_set_option(c, OSSL_CMP_OPT_IMPLICIT_CONFIRM, implicit_confirm ? 1 : 0) == 1;
  if (ok && m_options.accept_any_cert) ok = ::OSSL_CMP_CTX_set_certConf_cb(c, accept_any_certificate) == 1;
  if (ok && mac) {
    ok = ::OSSL_CMP_CTX_set1_referenceValue(c, reinterpret_cast<const unsigned char*>(m_options.ref.data()),
                                            static_cast<int>(m_options.ref.size())) == 1 &&
         ::OSSL_CMP_CTX_set1_secretValue(c, reinterpret_cast<const unsigned char*>(m_options.secret.data()),
                                         static_cast<int>(m_options.secret.size())) == 1;
  }
  if (ok && m_checker) {
    // Signed replies (ir-sig, kur) are checked against the anchors, via the CA certificates.
    ok = ::OSSL_CMP_CTX_set1_untrusted(c, m_checker->untrusted()) == 1;
    auto store = m_checker->new_trust_store();
    if (ok && store && ::OSSL_CMP_CTX_set0_trustedStore(c, store.get()) == 1) {
      (void)store.release();
    } else {
      ok = false;
    }
  }
  if (!ok) return failure("setup.cmp", "cannot configure the CMP client: " + ossl::drain_errors());
  return ctx;
}

Failure CmpWorker::classify(::OSSL_CMP_CTX* ctx) {
  if (m_transport_failure) return *std::exchange(m_transport_failure, std::nullopt);
  const int status = ::OSSL_CMP_CTX_get_status(ctx);
  const int info = ::OSSL_CMP_CTX_get_failInfoCode(ctx);
  // A rejection without failInfo but with a complaint queued is the client's own refusal (of
  // the returned certificate, say), not the server's answer.
  const bool client_refused = status == OSSL_CMP_PKISTATUS_rejection && info <= 0 && ::ERR_peek_error() != 0;
  if (client_refused) {
    // Classified below from the error queue.
  } else if (status == OSSL_CMP_PKISTATUS_rejection || status == OSSL_CMP_PKISTATUS_waiting ||
             status == OSSL_CMP_PKISTATUS_revocationWarning || status == OSSL_CMP_PKISTATUS_revocationNotification ||
             status == OSSL_CMP_PKISTATUS_keyUpdateWarning) {
    std::string names;
    for (int bit = 0; bit <= OSSL_CMP_PKIFAILUREINFO_MAX && info > 0; ++bit) {
      if ((info & (1 << bit)) == 0) continue;
      if (!names.empty()) names += '+';
      names += kFailInfoNames[bit];
    }
    char buf[512];
    const char* text = ::OSSL_CMP_CTX_snprint_PKIStatus(ctx, buf, sizeof buf);
    ::ERR_clear_error();
    return Failure{status == OSSL_CMP_PKISTATUS_rejection
                       ? "cmp.rejected." + (names.empty() ? std::string("noFailInfo") : names)
                       : "cmp.status" + std::to_string(status),
                   text != nullptr ? text : "status " + std::to_string(status)};
  }
  const unsigned long error = ::ERR_peek_last_error();
  const char* reason = error != 0 ? ::ERR_reason_error_string(error) : nullptr;
  std::string detail = ossl::drain_errors();
  if (!t_last_cmp_log.empty()) detail += (detail.empty() ? "" : " | ") + std::exchange(t_last_cmp_log, {});
  return Failure{"cmp.client." + token(reason != nullptr ? reason : "unknown"), detail};
}

// ir-sig and kur need a certificate of this CA to begin with: enrolled here by MAC, before the
// measured window (or taken from --cert/--key).
Done CmpWorker::bootstrap() {
  if (!m_options.cmp_cert.empty()) {
    auto cert = ossl::read_pem_certificate(m_options.cmp_cert);
    if (!cert) return failure("setup.credential", cert.error().message);
    ossl::BioPtr bio(::BIO_new_file(m_options.cmp_key.c_str(), "r"));
    ossl::EvpPkeyPtr key(bio ? ::PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!key) return failure("setup.credential", "cannot read the private key " + m_options.cmp_key);
    m_cert = std::move(*cert);
    m_cert_key = std::move(key);
    return {};
  }
  auto ctx = new_context(true, true);
  if (!ctx) return tl::unexpected(ctx.error());
  auto key = make_p256_key();
  if (!key) return tl::unexpected(key.error());
  auto subject = make_subject("enroll-load-signer-" + std::to_string(::getpid()) + "-w" + std::to_string(m_index));
  if (!subject) return tl::unexpected(subject.error());
  auto for_ctx = ossl::up_ref(key->get());
  if (::OSSL_CMP_CTX_set0_newPkey(ctx->get(), 1, for_ctx.get()) != 1) {
    return failure("setup.cmp", "cannot set the new key");
  }
  (void)for_ctx.release();
  ::OSSL_CMP_CTX_set1_subjectName(ctx->get(), subject->get());
  ::X509* cert = ::OSSL_CMP_exec_IR_ses(ctx->get());
  if (cert == nullptr) {
    Failure why = classify(ctx->get());
    return failure("setup.bootstrap",
                   "enrolling the signing certificate by MAC failed: " + why.kind + ": " + why.detail);
  }
  m_cert = ossl::up_ref(cert);
  m_cert_key = std::move(*key);
  return {};
}

Done CmpWorker::prepare() {
  auto checker = load_checker(m_options);
  if (!checker) return tl::unexpected(checker.error());
  m_checker = std::move(*checker);
  const int pool = key_pool_size(m_options);
  // kur replaces the key each time: two keys at least, so the new one is never the old.
  auto devices = make_devices(m_options, m_index, std::max(pool, 2), m_options.scenario == Scenario::kP10cr);
  if (!devices) return tl::unexpected(devices.error());
  m_devices = std::move(*devices);
  if (m_options.scenario == Scenario::kIrSig || m_options.scenario == Scenario::kKur) {
    if (auto ok = bootstrap(); !ok) return ok;
  }
  const bool mac = m_options.scenario == Scenario::kIrMac || m_options.scenario == Scenario::kP10cr ||
                   m_options.scenario == Scenario::kOpenTxns;
  auto ctx = new_context(mac, m_implicit_confirm);
  if (!ctx) return tl::unexpected(ctx.error());
  m_ctx = std::move(*ctx);
  if (m_hold_certconf) {
    auto warm = new_context(true, true);
    if (!warm) return tl::unexpected(warm.error());
    m_warm_ctx = std::move(*warm);
  }
  if (m_options.scenario == Scenario::kIrSig) {
    if (::OSSL_CMP_CTX_set1_cert(m_ctx.get(), m_cert.get()) != 1 ||
        ::OSSL_CMP_CTX_set1_pkey(m_ctx.get(), m_cert_key.get()) != 1) {
      return failure("setup.cmp", "cannot set the signing credential: " + ossl::drain_errors());
    }
  }
  return {};
}

Done CmpWorker::enroll(bool verify) {
  ::ERR_clear_error();
  m_transport_failure.reset();
  if (m_options.scenario == Scenario::kKur) {
    // OpenSSL 3.0 keeps the chain it built for the first protection certificate across
    // OSSL_CMP_CTX_set1_cert and reinit, and would send the replaced certificate in extraCerts;
    // each update therefore gets a fresh context, as a device updating its key would.
    auto fresh = new_context(false, m_implicit_confirm);
    if (!fresh) return tl::unexpected(fresh.error());
    m_ctx = std::move(*fresh);
  } else if (::OSSL_CMP_CTX_reinit(m_ctx.get()) != 1) {
    return failure("cmp.client.reinit", ossl::drain_errors());
  }
  ::OSSL_CMP_CTX* ctx = m_ctx.get();
  if (m_options.scenario == Scenario::kKur && ::EVP_PKEY_eq(m_cert_key.get(), m_devices[m_next].key.get()) == 1) {
    // The pool came round to the key being updated (after failed updates): a new key must differ.
    m_next = (m_next + 1) % m_devices.size();
  }
  Device& device = m_devices[m_next];
  m_next = (m_next + 1) % m_devices.size();

  auto new_key = ossl::up_ref(device.key.get());
  if (::OSSL_CMP_CTX_set0_newPkey(ctx, 1, new_key.get()) != 1)
    return failure("cmp.client.newPkey", ossl::drain_errors());
  (void)new_key.release();

  ::X509* cert = nullptr;
  const ::X509_NAME* expected_subject = device.subject.get();
  ossl::X509NamePtr old_subject;
  switch (m_options.scenario) {
    case Scenario::kIrMac:
    case Scenario::kIrSig:
      ::OSSL_CMP_CTX_set1_subjectName(ctx, device.subject.get());
      cert = ::OSSL_CMP_exec_IR_ses(ctx);
      break;
    case Scenario::kOpenTxns: {
      ::OSSL_CMP_CTX_set1_subjectName(ctx, device.subject.get());
      m_holding = true;
      ::X509* returned = ::OSSL_CMP_exec_IR_ses(ctx);
      m_holding = false;
      auto held = held_open(ctx, returned);
      if (!held) return tl::unexpected(held.error());
      cert = *held;
      break;
    }
    case Scenario::kKur:
      // RFC 4210 5.3.5 / RFC 9483 4.1.3: signed with the certificate being updated, which the
      // request names as oldCertID; the subject stays.
      ::OSSL_CMP_CTX_set1_cert(ctx, m_cert.get());
      ::OSSL_CMP_CTX_set1_pkey(ctx, m_cert_key.get());
      ::OSSL_CMP_CTX_set1_oldCert(ctx, m_cert.get());
      old_subject.reset(::X509_NAME_dup(::X509_get_subject_name(m_cert.get())));
      expected_subject = old_subject.get();
      cert = ::OSSL_CMP_exec_KUR_ses(ctx);
      break;
    case Scenario::kP10cr:
      ::OSSL_CMP_CTX_set1_p10CSR(ctx, device.csr.get());
      cert = ::OSSL_CMP_exec_P10CR_ses(ctx);
      break;
    case Scenario::kEstKeepAlive:
    case Scenario::kEstHandshake:
    case Scenario::kRejects: return failure("usage", "not a CMP enrollment scenario");
  }
  if (cert == nullptr) return tl::unexpected(classify(ctx));
  if (verify && m_checker) {
    if (auto ok = m_checker->check(cert, device.key.get(), expected_subject); !ok) return ok;
  }
  if (m_options.scenario == Scenario::kKur) {
    // The next update starts from what this one issued.
    m_cert = ossl::up_ref(cert);
    m_cert_key = ossl::up_ref(device.key.get());
  }
  return {};
}

Outcome<::X509*> CmpWorker::held_open(::OSSL_CMP_CTX* ctx, ::X509* cert) {
  if (cert != nullptr) {
    return failure("open.confirmed", "the server granted implicit confirmation unasked: the transaction is closed");
  }
  if (!m_transport_failure || m_transport_failure->kind != kHeldKind) return tl::unexpected(classify(ctx));
  // The exchange "failed" at the certConf we kept: what OpenSSL queued about it is no news.
  m_transport_failure.reset();
  ::ERR_clear_error();
  t_last_cmp_log.clear();
  ::X509* issued = ::OSSL_CMP_CTX_get0_newCert(ctx);
  if (issued == nullptr) return failure("open.no_certificate", "the ip was taken but no certificate is in the context");
  ++m_held;
  if (m_held_first.size() < kHeldKept) {
    m_held_first.push_back(std::move(m_held_now));
  } else {
    m_held_last.push_back(std::move(m_held_now));
    if (m_held_last.size() > kHeldKept) m_held_last.pop_front();
  }
  m_held_now.clear();
  return issued;
}

Done CmpWorker::warmup() {
  if (!m_hold_certconf) return enroll(false);
  // An implicitly confirmed ir: it warms the server up and leaves no transaction open.
  ::ERR_clear_error();
  m_transport_failure.reset();
  if (::OSSL_CMP_CTX_reinit(m_warm_ctx.get()) != 1) return failure("cmp.client.reinit", ossl::drain_errors());
  Device& device = m_devices[m_next];
  m_next = (m_next + 1) % m_devices.size();
  auto new_key = ossl::up_ref(device.key.get());
  if (::OSSL_CMP_CTX_set0_newPkey(m_warm_ctx.get(), 1, new_key.get()) != 1)
    return failure("cmp.client.newPkey", ossl::drain_errors());
  (void)new_key.release();
  ::OSSL_CMP_CTX_set1_subjectName(m_warm_ctx.get(), device.subject.get());
  if (::OSSL_CMP_exec_IR_ses(m_warm_ctx.get()) == nullptr) return tl::unexpected(classify(m_warm_ctx.get()));
  return {};
}

HeldProbe CmpWorker::probe_held() {
  HeldProbe probe;
  probe.held = m_held;
  std::vector<const std::string*> sample;
  for (const auto& der : m_held_first) sample.push_back(&der);
  for (const auto& der : m_held_last) sample.push_back(&der);
  for (const std::string* der : sample) {
    ++probe.probed;
    auto response = m_http.post("application/pkixcmp", *der, {}, m_options.cmp_keep_alive);
    std::string why;
    if (!response) {
      why = response.error().kind + ": " + response.error().detail;
    } else {
      const HttpResponse& reply = **response;
      const auto* in = reinterpret_cast<const unsigned char*>(reply.body.data());
      std::unique_ptr<::OSSL_CMP_MSG, ossl::Deleter<::OSSL_CMP_MSG_free>> message(
          ::d2i_OSSL_CMP_MSG(nullptr, &in, static_cast<long>(reply.body.size())));
      const int type = message ? ::OSSL_CMP_MSG_get_bodytype(message.get()) : -1;
      if (type == kBodyPkiConf) {
        ++probe.confirmed;
        continue;
      }
      why = "HTTP " + std::to_string(reply.status) + ", " +
            (message ? "PKIBody type " + std::to_string(type) : "not a PKIMessage: " + reply.body.substr(0, 200));
    }
    ::ERR_clear_error();
    if (probe.failure.empty()) probe.failure = why;
  }
  return probe;
}

}  // namespace

std::unique_ptr<Worker> make_cmp_worker(const Options& options, int index) {
  return std::make_unique<CmpWorker>(options, index);
}

}  // namespace enrolld::load
