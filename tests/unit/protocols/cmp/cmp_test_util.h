#pragma once
// Helpers for the CMP tests: OpenSSL's own CMP client driven in-process, and the tools to take
// a real request apart with our templates, change one thing and protect it again.

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include <openssl/cmp.h>

#include "common/bytes.h"
#include "common/openssl_util.h"
#include "protocols/cmp/cmp_asn1.h"
#include "protocols/cmp/message.h"
#include "protocols/cmp/protection.h"

namespace enrolld::cmp::test {

using CmpCtxPtr = std::unique_ptr<OSSL_CMP_CTX, ossl::Deleter<::OSSL_CMP_CTX_free>>;
using OsslMsgPtr = std::unique_ptr<OSSL_CMP_MSG, ossl::Deleter<::OSSL_CMP_MSG_free>>;
using AlgorPtr = std::unique_ptr<::X509_ALGOR, ossl::Deleter<::X509_ALGOR_free>>;

// ---- DER and our templates ----

// DER of one of our template structures (empty on failure).
Bytes der_of_msg(const ECMP_MSG* message);
// Decodes exactly one PKIMessage with our templates; nullptr if the bytes are anything else.
MsgPtr decode(ByteView der);
// The PKIFailureInfo bits set in `status` (empty for none or null), ascending.
std::vector<int> failure_bits(const ECMP_PKISI* status);
// The status that matters in a reply: the error's PKIStatusInfo, the first CertResponse's
// status of an ip/cp; null for other bodies.
const ECMP_PKISI* reply_status(const ECMP_MSG& message);
// The parts one after another (DER built by hand in tests).
Bytes concat(std::initializer_list<ByteView> parts);
// DER OBJECT IDENTIFIER of `nid`, or of the dotted `oid`.
Bytes oid_der(int nid);
Bytes oid_der(const char* dotted);
// DER INTEGER.
Bytes integer_der(std::int64_t value);
// Replaces an OCTET STRING field (null `value` removes it).
void set_octets(::ASN1_OCTET_STRING*& field, const std::optional<Bytes>& value);

// ---- protection ----

// The PBM parameters of a message's protectionAlg, parsed with default limits.
PbmParameters pbm_parameters_of(const ECMP_MSG& message);
// Sets protectionAlg from `params`, computes the MAC over ProtectedPart{header, body} with
// `secret` and returns the DER of the whole message.
Bytes protect(ECMP_MSG& message, const PbmParameters& params, ByteView secret);
// protect() with the parameters the message already carries.
Bytes reprotect(ECMP_MSG& message, ByteView secret);
// Decodes `der`, applies `change`, protects with the message's own PBM parameters and `secret`.
Bytes modified(ByteView der, const std::function<void(ECMP_MSG&)>& change, ByteView secret);
// True if the message is PBM-protected and its MAC verifies with `secret`.
bool mac_verifies(ByteView der, ByteView secret);

// Replaces the ir/cr/kur body's CertReqMessages with `requests`, made with OpenSSL's CRMF API
// (taken over, and freed).
void set_cert_requests(ECMP_BODY& body, OSSL_CRMF_MSGS* requests);
// The body's CertReqMessages as OpenSSL's CRMF API reads them (null if they do not decode so).
OSSL_CRMF_MSGS* openssl_cert_requests(const ECMP_BODY& body);

// ---- OpenSSL's CMP client ----

// Thread-safety: one thread. Every message the client sends goes through `transport`; a
// transport returning nullopt makes the client see no answer (so it stops there).
class CmpClient {
 public:
  using Transport = std::function<std::optional<Bytes>(const Bytes& request)>;

  CmpClient(const std::string& reference, const std::string& secret, const std::string& subject, Transport transport);
  CmpClient(const CmpClient&) = delete;
  CmpClient& operator=(const CmpClient&) = delete;

  OSSL_CMP_CTX* ctx() const { return m_ctx.get(); }
  ::EVP_PKEY* key() const { return m_key.get(); }
  const ::X509_NAME* subject() const { return m_subject.get(); }

  // Each returns the enrolled certificate (owned by the context) or nullptr.
  ::X509* exec_ir();
  ::X509* exec_cr();
  ::X509* exec_p10cr();  // with a PKCS#10 request for key() and subject()

  const std::vector<Bytes>& sent() const { return m_sent; }
  const std::vector<Bytes>& received() const { return m_received; }
  // What the client logged (its errors explain a failed exchange).
  std::string log() const;

 private:
  static OSSL_CMP_MSG* transfer(OSSL_CMP_CTX* ctx, const OSSL_CMP_MSG* request);

  CmpCtxPtr m_ctx;
  ossl::EvpPkeyPtr m_key;
  ossl::X509NamePtr m_subject;
  Transport m_transport;
  std::vector<Bytes> m_sent;
  std::vector<Bytes> m_received;
};

// A transport that answers nothing: the client's first request is only captured.
CmpClient::Transport capture_only();

// OpenSSL 3.0 keeps its OSSL_CMP_PKIBODY_* constants internal; these are the same numbers, the
// PKIBody CHOICE positions of RFC 4210 5.1.2, written down independently of ECMP_BODY_*.
#ifndef OSSL_CMP_PKIBODY_IR
enum OpenSslBody : int {
  OSSL_CMP_PKIBODY_IR = 0,
  OSSL_CMP_PKIBODY_IP = 1,
  OSSL_CMP_PKIBODY_CR = 2,
  OSSL_CMP_PKIBODY_CP = 3,
  OSSL_CMP_PKIBODY_P10CR = 4,
  OSSL_CMP_PKIBODY_PKICONF = 19,
  OSSL_CMP_PKIBODY_GENM = 21,
  OSSL_CMP_PKIBODY_ERROR = 23,
  OSSL_CMP_PKIBODY_CERTCONF = 24,
};
#endif

// OpenSSL's body type of a DER PKIMessage decoded by OpenSSL (-1 if it does not decode).
int openssl_body_type(ByteView der);

}  // namespace enrolld::cmp::test
