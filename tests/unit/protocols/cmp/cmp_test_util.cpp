#include "cmp_test_util.h"

#include <stdexcept>

#include <openssl/err.h>
#include <openssl/objects.h>

#include "support/softhsm_fixture.h"

namespace enrolld::cmp::test {

namespace {

// OpenSSL's CMP log callback has no user argument; the thread's client log collects here.
thread_local std::string t_client_log;

int collect_log(const char* func, const char* /*file*/, int /*line*/, OSSL_CMP_severity level, const char* msg) {
  t_client_log += "[" + std::to_string(level) + "] " + (func != nullptr ? func : "") + ": " + msg + "\n";
  return 1;
}

void require(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string(what) + ": " + ossl::drain_errors());
}

}  // namespace

Bytes der_of_msg(const ECMP_MSG* message) {
  unsigned char* der = nullptr;
  const int len = i2d_ECMP_MSG(const_cast<ECMP_MSG*>(message), &der);
  if (len <= 0) return {};
  Bytes out(der, der + len);
  ::OPENSSL_free(der);
  return out;
}

MsgPtr decode(ByteView der) {
  const unsigned char* p = der.data();
  MsgPtr message(d2i_ECMP_MSG(nullptr, &p, static_cast<long>(der.size())));
  if (message && p != der.data() + der.size()) return nullptr;
  return message;
}

std::vector<int> failure_bits(const ECMP_PKISI* status) {
  std::vector<int> bits;
  if (status == nullptr || status->failInfo == nullptr) return bits;
  for (int bit = 0; bit < status->failInfo->length * 8; ++bit) {
    if (::ASN1_BIT_STRING_get_bit(status->failInfo, bit) == 1) bits.push_back(bit);
  }
  return bits;
}

const ECMP_PKISI* reply_status(const ECMP_MSG& message) {
  switch (message.body->type) {
    case ECMP_BODY_ERROR: return message.body->value.error->pKIStatusInfo;
    case ECMP_BODY_IP:
    case ECMP_BODY_CP:
      if (sk_ECMP_CERTRESPONSE_num(message.body->value.ip->response) < 1) return nullptr;
      return sk_ECMP_CERTRESPONSE_value(message.body->value.ip->response, 0)->status;
    default: return nullptr;
  }
}

void set_octets(::ASN1_OCTET_STRING*& field, const std::optional<Bytes>& value) {
  ::ASN1_OCTET_STRING_free(field);
  field = nullptr;
  if (!value) return;
  field = ::ASN1_OCTET_STRING_new();
  require(field != nullptr && ::ASN1_OCTET_STRING_set(field, value->data(), static_cast<int>(value->size())) == 1,
          "ASN1_OCTET_STRING_set");
}

PbmParameters pbm_parameters_of(const ECMP_MSG& message) {
  auto params = parse_pbm_parameters(message.header->protectionAlg, PbmLimits{});
  if (!params) throw std::runtime_error("message has no usable PBM parameters: " + params.error().message);
  return std::move(*params);
}

Bytes protect(ECMP_MSG& message, const PbmParameters& params, ByteView secret) {
  ::X509_ALGOR_free(message.header->protectionAlg);
  message.header->protectionAlg = make_pbm_algorithm(params);
  require(message.header->protectionAlg != nullptr, "make_pbm_algorithm");
  ECMP_PROTECTEDPART part{message.header, message.body};
  unsigned char* der = nullptr;
  const int len = i2d_ECMP_PROTECTEDPART(&part, &der);
  require(len > 0, "i2d_ECMP_PROTECTEDPART");
  const Bytes covered(der, der + len);
  ::OPENSSL_free(der);
  const Bytes mac = pbm_mac(params, derive_pbm_key(params, secret), covered);
  ::ASN1_BIT_STRING_free(message.protection);
  message.protection = ::ASN1_BIT_STRING_new();
  require(
      message.protection != nullptr && ::ASN1_BIT_STRING_set(message.protection, const_cast<unsigned char*>(mac.data()),
                                                             static_cast<int>(mac.size())) == 1,
      "ASN1_BIT_STRING_set");
  // Whole octets, no unused bits (else i2d would trim trailing zero octets of the MAC).
  message.protection->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
  message.protection->flags |= ASN1_STRING_FLAG_BITS_LEFT;
  Bytes out = der_of_msg(&message);
  require(!out.empty(), "i2d_ECMP_MSG");
  return out;
}

Bytes reprotect(ECMP_MSG& message, ByteView secret) {
  return protect(message, pbm_parameters_of(message), secret);
}

Bytes modified(ByteView der, const std::function<void(ECMP_MSG&)>& change, ByteView secret) {
  MsgPtr message = decode(der);
  if (!message) throw std::runtime_error("not a PKIMessage");
  const PbmParameters params = pbm_parameters_of(*message);
  change(*message);
  return protect(*message, params, secret);
}

bool mac_verifies(ByteView der, ByteView secret) {
  auto parsed = parse_message(der);
  if (!parsed) return false;
  const ECMP_MSG& message = *parsed->message;
  if (!is_password_based_mac(message.header->protectionAlg) || message.protection == nullptr) return false;
  auto params = parse_pbm_parameters(message.header->protectionAlg, PbmLimits{});
  if (!params) return false;
  const Bytes mac = pbm_mac(*params, derive_pbm_key(*params, secret), parsed->protected_part);
  return mac == Bytes(message.protection->data, message.protection->data + message.protection->length);
}

void set_cert_requests(ECMP_BODY& body, OSSL_CRMF_MSGS* requests) {
  STACK_OF(ECMP_CERTREQMSG)* ours = sk_ECMP_CERTREQMSG_new_null();
  for (int i = 0; i < sk_OSSL_CRMF_MSG_num(requests); ++i) {
    const Bytes der = ossl::der_with(sk_OSSL_CRMF_MSG_value(requests, i), i2d_OSSL_CRMF_MSG);
    const unsigned char* p = der.data();
    ECMP_CERTREQMSG* crm = d2i_ECMP_CERTREQMSG(nullptr, &p, static_cast<long>(der.size()));
    if (crm == nullptr) throw std::runtime_error("a CertReqMsg that does not decode: " + ossl::drain_errors());
    sk_ECMP_CERTREQMSG_push(ours, crm);
  }
  ::OSSL_CRMF_MSGS_free(requests);
  sk_ECMP_CERTREQMSG_pop_free(body.value.ir, ECMP_CERTREQMSG_free);  // ir, cr and kur share the slot
  body.value.ir = ours;
}

OSSL_CRMF_MSGS* openssl_cert_requests(const ECMP_BODY& body) {
  OSSL_CRMF_MSGS* theirs = sk_OSSL_CRMF_MSG_new_null();
  for (int i = 0; i < sk_ECMP_CERTREQMSG_num(body.value.ir); ++i) {
    const Bytes der = ossl::der_with(sk_ECMP_CERTREQMSG_value(body.value.ir, i), i2d_ECMP_CERTREQMSG);
    const unsigned char* p = der.data();
    OSSL_CRMF_MSG* crm = ::d2i_OSSL_CRMF_MSG(nullptr, &p, static_cast<long>(der.size()));
    if (crm == nullptr) {
      ::OSSL_CRMF_MSGS_free(theirs);
      return nullptr;
    }
    sk_OSSL_CRMF_MSG_push(theirs, crm);
  }
  return theirs;
}

CmpClient::CmpClient(const std::string& reference, const std::string& secret, const std::string& subject,
                     Transport transport)
    : m_ctx(::OSSL_CMP_CTX_new(nullptr, nullptr)),
      m_key(enrolld::testing::make_ec_key()),
      m_transport(std::move(transport)) {
  require(m_ctx && m_key, "OSSL_CMP_CTX_new / key");
  t_client_log.clear();
  const Bytes name = enrolld::testing::name_der(subject);
  auto parsed = ossl::name_from_der(name);
  require(parsed.has_value(), "subject name");
  m_subject = std::move(*parsed);
  OSSL_CMP_CTX* c = m_ctx.get();
  require(::OSSL_CMP_CTX_set_log_cb(c, collect_log) == 1, "set_log_cb");
  require(::OSSL_CMP_CTX_set_transfer_cb(c, transfer) == 1 && ::OSSL_CMP_CTX_set_transfer_cb_arg(c, this) == 1,
          "set_transfer_cb");
  require(::OSSL_CMP_CTX_set1_referenceValue(c, reinterpret_cast<const unsigned char*>(reference.data()),
                                             static_cast<int>(reference.size())) == 1,
          "set1_referenceValue");
  require(::OSSL_CMP_CTX_set1_secretValue(c, reinterpret_cast<const unsigned char*>(secret.data()),
                                          static_cast<int>(secret.size())) == 1,
          "set1_secretValue");
  require(::OSSL_CMP_CTX_set1_subjectName(c, m_subject.get()) == 1, "set1_subjectName");
  require(::OSSL_CMP_CTX_set0_newPkey(c, 1, ossl::up_ref(m_key.get()).release()) == 1, "set0_newPkey");
  // Errors answering a request whose MAC failed come unprotected (RFC 9483 3.6.4).
  require(::OSSL_CMP_CTX_set_option(c, OSSL_CMP_OPT_UNPROTECTED_ERRORS, 1) == 1, "UNPROTECTED_ERRORS");
}

::X509* CmpClient::exec_ir() {
  return OSSL_CMP_exec_IR_ses(m_ctx.get());
}
::X509* CmpClient::exec_cr() {
  return OSSL_CMP_exec_CR_ses(m_ctx.get());
}

::X509* CmpClient::exec_p10cr() {
  ossl::X509ReqPtr csr(::X509_REQ_new());
  require(csr && ::X509_REQ_set_version(csr.get(), 0) == 1 &&
              ::X509_REQ_set_subject_name(csr.get(), m_subject.get()) == 1 &&
              ::X509_REQ_set_pubkey(csr.get(), m_key.get()) == 1 &&
              ::X509_REQ_sign(csr.get(), m_key.get(), ::EVP_sha256()) > 0,
          "PKCS#10 request");
  require(::OSSL_CMP_CTX_set1_p10CSR(m_ctx.get(), csr.get()) == 1, "set1_p10CSR");
  return OSSL_CMP_exec_P10CR_ses(m_ctx.get());
}

std::string CmpClient::log() const {
  return t_client_log;
}

OSSL_CMP_MSG* CmpClient::transfer(OSSL_CMP_CTX* ctx, const OSSL_CMP_MSG* request) {
  auto* self = static_cast<CmpClient*>(::OSSL_CMP_CTX_get_transfer_cb_arg(ctx));
  unsigned char* der = nullptr;
  const int len = ::i2d_OSSL_CMP_MSG(request, &der);
  if (len <= 0) return nullptr;
  Bytes bytes(der, der + len);
  ::OPENSSL_free(der);
  self->m_sent.push_back(bytes);
  std::optional<Bytes> reply = self->m_transport(bytes);
  if (!reply) return nullptr;
  self->m_received.push_back(*reply);
  const unsigned char* p = reply->data();
  return ::d2i_OSSL_CMP_MSG(nullptr, &p, static_cast<long>(reply->size()));
}

CmpClient::Transport capture_only() {
  return [](const Bytes&) -> std::optional<Bytes> { return std::nullopt; };
}

int openssl_body_type(ByteView der) {
  const unsigned char* p = der.data();
  OsslMsgPtr message(::d2i_OSSL_CMP_MSG(nullptr, &p, static_cast<long>(der.size())));
  if (!message || p != der.data() + der.size()) return -1;
  return ::OSSL_CMP_MSG_get_bodytype(message.get());
}

Bytes concat(std::initializer_list<ByteView> parts) {
  Bytes out;
  for (ByteView part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

Bytes oid_der(int nid) {
  return ossl::der_with(::OBJ_nid2obj(nid), ::i2d_ASN1_OBJECT);
}

Bytes oid_der(const char* dotted) {
  std::unique_ptr<::ASN1_OBJECT, ossl::Deleter<::ASN1_OBJECT_free>> object(::OBJ_txt2obj(dotted, 1));
  return ossl::der_with(object.get(), ::i2d_ASN1_OBJECT);
}

Bytes integer_der(std::int64_t value) {
  ossl::Asn1IntegerPtr integer(::ASN1_INTEGER_new());
  ::ASN1_INTEGER_set_int64(integer.get(), value);
  return ossl::der_with(integer.get(), ::i2d_ASN1_INTEGER);
}

}  // namespace enrolld::cmp::test
