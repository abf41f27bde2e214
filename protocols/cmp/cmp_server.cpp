#include "protocols/cmp/cmp_server.h"

#include <algorithm>

#include <openssl/crypto.h>
#include <openssl/objects.h>

#include <nlohmann/json.hpp>

#include "common/der.h"
#include "common/log.h"
#include "common/pkcs10.h"
#include "protocols/cmp/central_keygen.h"
#include "protocols/cmp/failure_info.h"
#include "protocols/cmp/message.h"

namespace enrolld::cmp {

namespace {

constexpr std::size_t kMinNonceBytes = 16;  // RFC 9483 3.1: nonces and transactionID are 128 bits
constexpr std::size_t kMaxNonceBytes = 64;
constexpr int kCertReqIdCrmf = 0;    // RFC 9483 4.1.1: certReqId MUST be 0
constexpr int kCertReqIdP10 = -1;    // RFC 9483 4.1.4: -1 for p10cr
constexpr int kMaxNestingDepth = 2;  // an RA behind an RA; deeper is refused
// Each inner message may cost a KDF or a key generation: a nested batch stays small.
constexpr std::size_t kMaxNestedMessages = 16;

using CertIdPtr = std::unique_ptr<OSSL_CRMF_CERTID, ossl::Deleter<::OSSL_CRMF_CERTID_free>>;
using CertRepPtr = std::unique_ptr<ECMP_CERTREPMESSAGE, ossl::Deleter<ECMP_CERTREPMESSAGE_free>>;
using ObjectPtr = std::unique_ptr<::ASN1_OBJECT, ossl::Deleter<::ASN1_OBJECT_free>>;

const char* body_name(int type) {
  static constexpr const char* kNames[] = {"ir",   "ip",     "cr",    "cp",       "p10cr",   "popdecc", "popdecr",
                                           "kur",  "kup",    "krr",   "krp",      "rr",      "rp",      "ccr",
                                           "ccp",  "ckuann", "cann",  "rann",     "crlann",  "pkiconf", "nested",
                                           "genm", "genp",   "error", "certConf", "pollReq", "pollRep"};
  return type >= 0 && type < static_cast<int>(std::size(kNames)) ? kNames[type] : "unknown";
}

// ir -> ip, kur -> kup, cr and p10cr -> cp.
int reply_type(int request_type) {
  if (request_type == ECMP_BODY_IR) return ECMP_BODY_IP;
  if (request_type == ECMP_BODY_KUR) return ECMP_BODY_KUP;
  return ECMP_BODY_CP;
}

bool is_content_error(ErrorCode code) {
  // Problems with what was requested are answered in the certificate response itself
  // (status rejection); problems with the message are answered with an error message.
  switch (code) {
    case ErrorCode::kBadPop:
    case ErrorCode::kBadCertTemplate:
    case ErrorCode::kBadAlgorithm:
    case ErrorCode::kNotAuthorized:
    case ErrorCode::kCertRevoked: return true;
    default: return false;
  }
}

// What to certify, as taken from a CRMF CertReqMsg or a PKCS#10 request.
struct Requested {
  Bytes subject_der;
  Bytes public_key_der;  // empty when the key is to be generated centrally
  Bytes extensions_der;
  int cert_req_id = kCertReqIdCrmf;
  bool central_keygen = false;
  Bytes key_algorithm_der;                // central key generation: the kind of key asked for; empty: any
  std::optional<std::int64_t> not_after;  // the template's validity notAfter, if it has one
};

// The notAfter of a template's OptionalValidity (RFC 4211 5), seconds since the epoch.
Result<std::optional<std::int64_t>> requested_not_after(const ECMP_CERTTEMPLATE& tmpl) {
  if (tmpl.validity == nullptr || tmpl.validity->notAfter == nullptr) return std::optional<std::int64_t>();
  struct tm tm {};
  if (::ASN1_TIME_to_tm(tmpl.validity->notAfter, &tm) != 1) {
    return fail(ErrorCode::kBadCertTemplate, "the template's validity notAfter is not a valid time");
  }
  return std::optional<std::int64_t>(static_cast<std::int64_t>(::timegm(&tm)));
}

// How many ProofOfPossession alternatives the CertReqMsg carries (a valid one: at most one).
int proofs_of_possession(const ECMP_CERTREQMSG& crm) {
  return (crm.raVerified != nullptr) + (crm.signature != nullptr) + (crm.keyEncipherment != nullptr) +
         (crm.keyAgreement != nullptr);
}

// RFC 4211 4.1: the POPOSigningKey signs, with the template's key (`spki`, its DER), the DER of
// the CertRequest, or of a POPOSigningKeyInput carrying that same key when the template has no
// subject.
Status verify_signing_key_pop(const ECMP_CERTREQMSG& crm, const Bytes& spki) {
  const ECMP_POPOSIGNINGKEY& pop = *crm.signature;
  const ECMP_CERTTEMPLATE& tmpl = *crm.certReq->certTemplate;
  auto key = ossl::public_key_from_der(spki);
  if (!key) return fail(ErrorCode::kBadPop, "the template's public key cannot be decoded");
  int verified = 0;
  if (pop.poposkInput != nullptr) {
    if (ossl::der_with(pop.poposkInput->publicKey, i2d_ENROLLD_SPKI) != spki) {
      return fail(ErrorCode::kBadPop, "the poposkInput public key is not the template's");
    }
    verified = ::ASN1_item_verify(ASN1_ITEM_rptr(ECMP_POPOSKINPUT), pop.algorithmIdentifier, pop.signature,
                                  pop.poposkInput, key->get());
  } else {
    if (tmpl.subject == nullptr) {
      return fail(ErrorCode::kBadPop, "a template without subject needs poposkInput (RFC 4211 4.1)");
    }
    verified = ::ASN1_item_verify(ASN1_ITEM_rptr(ECMP_CERTREQUEST), pop.algorithmIdentifier, pop.signature, crm.certReq,
                                  key->get());
  }
  if (verified != 1) return fail(ErrorCode::kBadPop, "proof of possession does not verify: " + ossl::drain_errors());
  return {};
}

// RFC 9483 4.1.6: "the publicKey field ... MUST be omitted" or carry only the algorithm with an
// empty subjectPublicKey when the requester wants the key generated centrally.
bool asks_for_central_keygen(const ECMP_CERTTEMPLATE& tmpl) {
  return tmpl.publicKey == nullptr || ::ASN1_STRING_length(tmpl.publicKey->subjectPublicKey) == 0;
}

// The AlgorithmIdentifier of a template's publicKey; empty when there is none.
Bytes key_algorithm_of(const ECMP_CERTTEMPLATE& tmpl) {
  if (tmpl.publicKey == nullptr) return {};
  return ossl::der_with(tmpl.publicKey->algorithm, ::i2d_X509_ALGOR);
}

// `fallback_subject`: for kur, the old certificate's subject, used when the template has none
// (RFC 9483 4.1.3); null otherwise, and then the template must name a subject.
// `from_ra`: the request is protected by an authorized RA, whose raVerified is accepted.
Result<Requested> requested_from_crmf(const STACK_OF(ECMP_CERTREQMSG) * requests, const ::X509_NAME* fallback_subject,
                                      bool from_ra) {
  if (sk_ECMP_CERTREQMSG_num(requests) != 1) {
    return fail(ErrorCode::kUnsupportedRequest, "the request must carry exactly one CertReqMsg (RFC 9483 4.1.1)");
  }
  const ECMP_CERTREQMSG& crm = *sk_ECMP_CERTREQMSG_value(requests, 0);
  std::int64_t cert_req_id = -1;
  if (::ASN1_INTEGER_get_int64(&cert_req_id, crm.certReq->certReqId) != 1 || cert_req_id != kCertReqIdCrmf) {
    return fail(ErrorCode::kBadCertId, "certReqId must be 0 (RFC 9483 4.1.1)");
  }
  if (proofs_of_possession(crm) > 1) {
    return fail(ErrorCode::kBadPop, "the CertReqMsg carries more than one proof of possession");
  }
  const ECMP_CERTTEMPLATE* tmpl = crm.certReq->certTemplate;
  const bool has_subject = tmpl->subject != nullptr && ::X509_NAME_entry_count(tmpl->subject) > 0;
  if (!has_subject && fallback_subject == nullptr) {
    return fail(ErrorCode::kBadCertTemplate, "the certificate template has no subject");
  }
  Requested out;
  out.subject_der = ossl::der_of(has_subject ? tmpl->subject : fallback_subject);
  if (tmpl->extensions != nullptr) out.extensions_der = ossl::der_with(tmpl->extensions, ::i2d_X509_EXTENSIONS);
  auto not_after = requested_not_after(*tmpl);
  if (!not_after) return tl::unexpected(not_after.error());
  out.not_after = *not_after;
  if (asks_for_central_keygen(*tmpl)) {
    if (proofs_of_possession(crm) != 0) {
      return fail(ErrorCode::kBadPop, "a key to be generated centrally has no proof of possession (RFC 9483 4.1.6)");
    }
    out.central_keygen = true;
    out.key_algorithm_der = key_algorithm_of(*tmpl);
    return out;
  }
  out.public_key_der = ossl::der_with(tmpl->publicKey, i2d_ENROLLD_SPKI);
  if (crm.raVerified != nullptr) {
    // RFC 9483 5.2.3.2: raVerified only from an RA that checked the proof itself.
    if (!from_ra) {
      return fail(ErrorCode::kBadPop, "raVerified proof of possession is accepted only from an authorized RA");
    }
  } else if (crm.signature != nullptr) {
    if (auto ok = verify_signing_key_pop(crm, out.public_key_der); !ok) return tl::unexpected(ok.error());
  } else {
    return fail(ErrorCode::kBadPop, crm.keyEncipherment != nullptr || crm.keyAgreement != nullptr
                                        ? "only a signature proves possession here (not keyEncipherment/keyAgreement)"
                                        : "the request has no proof of possession");
  }
  return out;
}

// The oldCertID control of a CertRequest (RFC 4211 6.5); null when it has none.
CertIdPtr old_cert_id(const ECMP_CERTREQUEST& request) {
  for (int i = 0; i < sk_ECMP_ATAV_num(request.controls); ++i) {
    const ECMP_ATAV* control = sk_ECMP_ATAV_value(request.controls, i);
    if (::OBJ_obj2nid(control->type) != NID_id_regCtrl_oldCertID || control->value->type != V_ASN1_SEQUENCE) continue;
    const unsigned char* p = control->value->value.sequence->data;
    return CertIdPtr(::d2i_OSSL_CRMF_CERTID(nullptr, &p, control->value->value.sequence->length));
  }
  return nullptr;
}

// RFC 9483 4.1.3: a kur names the certificate it updates in the oldCertID control, and that is
// the certificate that signed it.
Status check_old_cert_id(const STACK_OF(ECMP_CERTREQMSG) * requests, const ::X509* signer) {
  const ECMP_CERTREQMSG* crm = sk_ECMP_CERTREQMSG_value(requests, 0);
  auto id = crm != nullptr ? old_cert_id(*crm->certReq) : nullptr;
  if (id == nullptr) {
    return fail(ErrorCode::kBadCertId, "a kur must name the certificate to update in oldCertID (RFC 9483 4.1.3)");
  }
  const ::X509_NAME* issuer = ::OSSL_CRMF_CERTID_get0_issuer(id.get());  // null unless a directoryName
  const ::ASN1_INTEGER* serial = ::OSSL_CRMF_CERTID_get0_serialNumber(id.get());
  const bool same = issuer != nullptr && serial != nullptr &&
                    ::X509_NAME_cmp(issuer, ::X509_get_issuer_name(signer)) == 0 &&
                    ::ASN1_INTEGER_cmp(serial, ::X509_get0_serialNumber(signer)) == 0;
  if (!same) return fail(ErrorCode::kBadCertId, "oldCertID does not name the certificate that signed the kur");
  return {};
}

Result<Requested> requested_from_p10(const ENROLLD_P10& csr) {
  auto request = pkcs10::verified(csr);
  if (!request) {
    const ErrorCode code =
        request.error().code == ErrorCode::kBadPop ? ErrorCode::kBadPop : ErrorCode::kBadCertTemplate;
    return fail(code, "the PKCS#10 request: " + request.error().message);
  }
  auto extensions = pkcs10::requested_extensions(*request);
  if (!extensions) return fail(ErrorCode::kBadCertTemplate, extensions.error().message);
  Requested out;
  out.cert_req_id = kCertReqIdP10;
  out.subject_der = std::move(request->subject_der);
  out.public_key_der = std::move(request->public_key_der);
  out.extensions_der = std::move(*extensions);
  return out;
}

// What this protocol keeps with a transaction between its messages: the nonce the certConf must
// echo, and the certReqId and body type (ip, cp, kup) that pollReq answers repeat.
struct ProtocolState {
  Bytes sender_nonce;
  int cert_req_id = 0;
  int reply_type = ECMP_BODY_IP;
};

Bytes encode_protocol_state(const ProtocolState& state) {
  return nlohmann::json::to_cbor(
      {{"nonce", nlohmann::json::binary(state.sender_nonce)}, {"rid", state.cert_req_id}, {"type", state.reply_type}});
}

Result<ProtocolState> decode_protocol_state(const Bytes& bytes) {
  try {
    auto doc = nlohmann::json::from_cbor(bytes);
    const auto& nonce = doc.at("nonce").get_binary();
    return ProtocolState{Bytes(nonce.begin(), nonce.end()), doc.at("rid").get<int>(),
                         doc.value("type", static_cast<int>(ECMP_BODY_IP))};
  } catch (const nlohmann::json::exception& e) {
    return fail(ErrorCode::kSystemFailure, std::string("corrupt CMP transaction state: ") + e.what());
  }
}

Result<Bytes> certificate_hash(ByteView certificate_der, const ECMP_CERTSTATUS& status) {
  if (status.hashAlg != nullptr) {  // RFC 9480 2.10: hashAlg given explicitly (cmp2021)
    const ::ASN1_OBJECT* oid = nullptr;
    ::X509_ALGOR_get0(&oid, nullptr, nullptr, status.hashAlg);
    const ::EVP_MD* md = ::EVP_get_digestbyobj(oid);
    if (md == nullptr) return fail(ErrorCode::kBadAlgorithm, "unsupported certConf hashAlg");
    return ossl::digest(certificate_der, md);
  }
  // RFC 4210 5.3.18: the hash algorithm of the certificate's signature.
  return ossl::signature_digest_of_certificate(certificate_der);
}

// InfoTypeAndValue with a DER SEQUENCE as its value, or with the value absent (empty `der`).
ECMP_ITAV* make_itav(const ::ASN1_OBJECT* type, const Bytes& der) {
  ECMP_ITAV* itav = ECMP_ITAV_new();
  if (itav == nullptr) return nullptr;
  itav->infoType = ::OBJ_dup(type);
  if (itav->infoType == nullptr) {
    ECMP_ITAV_free(itav);
    return nullptr;
  }
  if (der.empty()) return itav;
  ::ASN1_STRING* value = ::ASN1_STRING_type_new(V_ASN1_SEQUENCE);
  itav->infoValue = ::ASN1_TYPE_new();
  if (value == nullptr || itav->infoValue == nullptr ||
      ::ASN1_STRING_set(value, der.data(), static_cast<int>(der.size())) != 1) {
    ::ASN1_STRING_free(value);
    ECMP_ITAV_free(itav);
    return nullptr;
  }
  ::ASN1_TYPE_set(itav->infoValue, V_ASN1_SEQUENCE, value);
  return itav;
}

// id-it-certProfile (RFC 9480 2.4), which OpenSSL 3.0 has no NID for.
const ::ASN1_OBJECT* cert_profile_oid() {
  static const ObjectPtr oid(::OBJ_txt2obj("1.3.6.1.5.5.7.4.21", 1));
  return oid.get();
}

// The DER of an InfoTypeAndValue's value when it is a SEQUENCE (the whole encoding); empty if
// absent or of another type.
ByteView sequence_value(const ECMP_ITAV& itav) {
  if (itav.infoValue == nullptr || itav.infoValue->type != V_ASN1_SEQUENCE) return {};
  const ::ASN1_STRING* seq = itav.infoValue->value.sequence;
  return ByteView(seq->data, static_cast<std::size_t>(seq->length));
}

std::optional<std::chrono::system_clock::time_point> time_point_of(const ::ASN1_TIME* time) {
  struct tm tm {};
  if (time == nullptr || ::ASN1_TIME_to_tm(time, &tm) != 1) return std::nullopt;
  return std::chrono::system_clock::from_time_t(::timegm(&tm));
}

// The profile a request names: by path (/.well-known/cmp/p/<name>) or by generalInfo
// certProfile (a SEQUENCE OF UTF8String; one request, so its first name). Both must agree.
Result<std::string> requested_profile(const ECMP_HEADER& header, const std::string& by_path) {
  for (int i = 0; i < sk_ECMP_ITAV_num(header.generalInfo); ++i) {
    const ECMP_ITAV* itav = sk_ECMP_ITAV_value(header.generalInfo, i);
    if (::OBJ_cmp(itav->infoType, cert_profile_oid()) != 0) continue;
    constexpr int kUtf8StringTag = 0x0c;
    auto outer = der::read_element(sequence_value(*itav));
    auto names = outer ? der::read_children(outer->content) : std::nullopt;
    if (!names || names->empty() || names->front().tag != kUtf8StringTag) {
      return fail(ErrorCode::kBadDataFormat, "certProfile must be a SEQUENCE OF UTF8String");
    }
    std::string by_header(names->front().content.begin(), names->front().content.end());
    if (!by_path.empty() && by_path != by_header) {
      return fail(ErrorCode::kUnsupportedRequest,
                  "the path names profile '" + by_path + "' but certProfile names '" + by_header + "'");
    }
    return by_header;
  }
  return by_path;
}

// Info types of RFC 9480 that OpenSSL 3.0 has no NIDs for.
const ::ASN1_OBJECT* root_ca_cert_oid() {  // id-it-rootCaCert (2.3)
  static const ObjectPtr oid(::OBJ_txt2obj("1.3.6.1.5.5.7.4.20", 1));
  return oid.get();
}
const ::ASN1_OBJECT* crl_status_list_oid() {  // id-it-crlStatusList (2.17)
  static const ObjectPtr oid(::OBJ_txt2obj("1.3.6.1.5.5.7.4.22", 1));
  return oid.get();
}
const ::ASN1_OBJECT* crls_oid() {  // id-it-crls (2.17)
  static const ObjectPtr oid(::OBJ_txt2obj("1.3.6.1.5.5.7.4.23", 1));
  return oid.get();
}

// One CRLStatus of a crlStatusList: the issuing CA of ours its source names (empty: none), and
// the thisUpdate of the CRL the requester has, if any.
struct CrlStatus {
  std::string ca_name;
  std::optional<std::chrono::system_clock::time_point> this_update;
};

bool general_names_include(ByteView general_names_der, const ::X509_NAME* name) {
  const unsigned char* p = general_names_der.data();
  std::unique_ptr<GENERAL_NAMES, ossl::Deleter<::GENERAL_NAMES_free>> names(
      ::d2i_GENERAL_NAMES(nullptr, &p, static_cast<long>(general_names_der.size())));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const ::GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    if (gn->type == GEN_DIRNAME && ::X509_NAME_cmp(gn->d.directoryName, name) == 0) return true;
  }
  return false;
}

// RFC 5280 4.2.1.13: DistributionPointName ::= CHOICE { fullName [0] GeneralNames, ... }
// (implicit tags): whether its fullName holds one of `urls`, where this CA publishes its CRLs.
bool distribution_point_is_ours(ByteView dpn_der, const std::vector<std::string>& urls) {
  constexpr std::uint8_t kFullNameTag = 0xa0;
  auto name = der::read_element(dpn_der);
  if (!name || name->tag != kFullNameTag) return false;
  const Bytes names_der = der::sequence(name->content);
  const unsigned char* p = names_der.data();
  std::unique_ptr<GENERAL_NAMES, ossl::Deleter<::GENERAL_NAMES_free>> names(
      ::d2i_GENERAL_NAMES(nullptr, &p, static_cast<long>(names_der.size())));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const ::GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    if (gn->type != GEN_URI) continue;
    const std::string uri(reinterpret_cast<const char*>(::ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier)),
                          static_cast<std::size_t>(::ASN1_STRING_length(gn->d.uniformResourceIdentifier)));
    if (std::find(urls.begin(), urls.end(), uri) != urls.end()) return true;
  }
  return false;
}

std::optional<std::chrono::system_clock::time_point> time_of(ByteView der) {
  const unsigned char* p = der.data();
  std::unique_ptr<::ASN1_TIME, ossl::Deleter<::ASN1_TIME_free>> time(
      ::d2i_ASN1_TIME(nullptr, &p, static_cast<long>(der.size())));
  return time_point_of(time.get());
}

// RFC 9480 2.17: CRLStatusList ::= SEQUENCE SIZE (1..MAX) OF CRLStatus,
// CRLStatus ::= SEQUENCE { source CRLSource, thisUpdate Time OPTIONAL },
// CRLSource ::= CHOICE { dpn [0] DistributionPointName, issuer [1] GeneralNames } (explicit tags).
template <typename Source>
Result<std::vector<CrlStatus>> parse_crl_status_list(const ECMP_ITAV& itav, const std::vector<Source>& sources) {
  constexpr std::uint8_t kDpnTag = 0xa0;
  constexpr std::uint8_t kIssuerTag = 0xa1;
  constexpr std::uint8_t kUtcTimeTag = 0x17;
  constexpr std::uint8_t kGeneralizedTimeTag = 0x18;
  auto list = der::read_element(sequence_value(itav));
  auto statuses = list ? der::read_children(list->content) : std::nullopt;
  constexpr std::uint8_t kSequenceTag = 0x30;
  if (!list || list->tag != kSequenceTag || !statuses || statuses->empty()) {
    return fail(ErrorCode::kBadDataFormat, "crlStatusList must be a SEQUENCE of one or more CRLStatus");
  }
  std::vector<CrlStatus> out;
  for (const auto& status : *statuses) {
    auto parts = status.tag == kSequenceTag ? der::read_children(status.content) : std::nullopt;
    if (!parts || parts->empty() || parts->size() > 2 ||
        ((*parts)[0].tag != kDpnTag && (*parts)[0].tag != kIssuerTag)) {
      return fail(ErrorCode::kBadDataFormat, "a CRLStatus must be { source [0] dpn or [1] issuer, thisUpdate }");
    }
    CrlStatus parsed;
    // A client takes the source from the certificate's cRLDistributionPoints when it has one
    // (OpenSSL 3.5 does), else from its issuer.
    for (const auto& source : sources) {
      const bool named = (*parts)[0].tag == kIssuerTag
                             ? general_names_include((*parts)[0].content, source.subject.get())
                             : distribution_point_is_ours((*parts)[0].content, source.urls);
      if (named) {
        parsed.ca_name = source.ca_name;
        break;
      }
    }
    if (parts->size() == 2) {
      const auto& time = (*parts)[1];
      parsed.this_update =
          time.tag == kUtcTimeTag || time.tag == kGeneralizedTimeTag ? time_of(time.whole) : std::nullopt;
      if (!parsed.this_update) return fail(ErrorCode::kBadDataFormat, "CRLStatus thisUpdate is not a Time");
    }
    out.push_back(parsed);
  }
  return out;
}

// CertRepMessage with one CertResponse carrying `status`; `response` points at it. Null (and
// `response` too) if memory runs out.
CertRepPtr one_response(int cert_req_id, PkiSiPtr status, ECMP_CERTRESPONSE*& response) {
  CertRepPtr rep(ECMP_CERTREPMESSAGE_new());
  response = ECMP_CERTRESPONSE_new();
  if (!rep || !status || response == nullptr || sk_ECMP_CERTRESPONSE_push(rep->response, response) <= 0) {
    ECMP_CERTRESPONSE_free(response);
    response = nullptr;
    return nullptr;
  }
  ::ASN1_INTEGER_set(response->certReqId, cert_req_id);
  ECMP_PKISI_free(response->status);
  response->status = status.release();
  return rep;
}

// ip/cp/kup with one CertResponse: the issued certificate (with its chain in extraCerts, RFC
// 9483 4.1.1), or status waiting when the request is held for an officer (RFC 9483 4.4).
// `encrypted_key`: a centrally generated private key (EncryptedKey DER) to send with the
// certificate; empty for none.
Result<Bytes> certificate_reply(ResponseHeader& header, const Protection& protection, const KnownCertificates& known,
                                int reply_body_type, int cert_req_id, const ra::Decision& decision,
                                const Bytes& encrypted_key = {}) {
  const auto* issued = std::get_if<ra::IssuedCertificate>(&decision);
  ECMP_CERTRESPONSE* response = nullptr;
  CertRepPtr rep =
      one_response(cert_req_id,
                   make_status_info(issued != nullptr ? PkiStatus::kAccepted : PkiStatus::kWaiting, -1,
                                    issued != nullptr ? "" : "held for approval by an officer; poll with pollReq"),
                   response);
  if (!rep) return fail(ErrorCode::kSystemFailure, "cannot build certificate response");
  std::vector<Bytes> extra_certs;
  if (issued != nullptr) {
    // A fresh issuance comes decoded; one read back from the store is decoded here.
    auto cert = issued->certificate ? Result<ossl::X509Ptr>(ossl::up_ref(issued->certificate.get()))
                                    : ossl::x509_from_der(issued->certificate_der);
    if (!cert) return fail(ErrorCode::kSystemFailure, "cannot build certificate response");
    response->certifiedKeyPair = ECMP_CERTIFIEDKEYPAIR_new();
    response->certifiedKeyPair->certOrEncCert->type = 0;
    response->certifiedKeyPair->certOrEncCert->value.certificate = cert->release();
    if (!encrypted_key.empty()) {
      // EncryptedKey is a CHOICE whose envelopedData is [0] IMPLICIT: kept as its whole encoding.
      ::ASN1_STRING* whole = ::ASN1_STRING_type_new(V_ASN1_OTHER);
      response->certifiedKeyPair->privateKey = ::ASN1_TYPE_new();
      if (whole == nullptr || response->certifiedKeyPair->privateKey == nullptr ||
          ::ASN1_STRING_set(whole, encrypted_key.data(), static_cast<int>(encrypted_key.size())) != 1) {
        ::ASN1_STRING_free(whole);
        return fail(ErrorCode::kSystemFailure, "cannot build certificate response");
      }
      ::ASN1_TYPE_set(response->certifiedKeyPair->privateKey, V_ASN1_OTHER, whole);
    }
    header.implicit_confirm = issued->implicitly_confirmed;
    extra_certs = issued->chain_der;
  }
  BodyPtr body(ECMP_BODY_new());
  body->type = reply_body_type;
  body->value.ip = rep.release();
  return encode_message(header, std::move(body), extra_certs, &protection, &known);
}

// RFC 9483 4.4: "not yet, ask again after checkAfter seconds".
Result<Bytes> poll_reply(const ResponseHeader& header, const Protection& protection, const KnownCertificates& known,
                         int cert_req_id, std::chrono::seconds check_after) {
  ECMP_POLLREP* rep = ECMP_POLLREP_new();
  BodyPtr body(ECMP_BODY_new());
  if (rep == nullptr || !body) {
    ECMP_POLLREP_free(rep);
    return fail(ErrorCode::kSystemFailure, "out of memory");
  }
  body->type = ECMP_BODY_POLLREP;
  body->value.pollRep = sk_ECMP_POLLREP_new_null();
  if (body->value.pollRep == nullptr || sk_ECMP_POLLREP_push(body->value.pollRep, rep) <= 0) {
    ECMP_POLLREP_free(rep);
    return fail(ErrorCode::kSystemFailure, "out of memory");
  }
  ::ASN1_INTEGER_set(rep->certReqId, cert_req_id);
  ::ASN1_INTEGER_set(rep->checkAfter, static_cast<long>(check_after.count()));
  return encode_message(header, std::move(body), {}, &protection, &known);
}

Bytes sequence_of(const std::vector<Bytes>& elements) {
  Bytes content;
  for (const auto& element : elements) content.insert(content.end(), element.begin(), element.end());
  return der::sequence(content);
}

Bytes oid_der(const char* dotted) {
  ObjectPtr oid(::OBJ_txt2obj(dotted, 1));
  return oid ? ossl::der_with(oid.get(), ::i2d_ASN1_OBJECT) : Bytes{};
}

Bytes integer_der(long value) {
  std::unique_ptr<::ASN1_INTEGER, ossl::Deleter<::ASN1_INTEGER_free>> integer(::ASN1_INTEGER_new());
  if (!integer || ::ASN1_INTEGER_set(integer.get(), value) != 1) return {};
  return ossl::der_with(integer.get(), ::i2d_ASN1_INTEGER);
}

bool is_rsa_algorithm(const Bytes& algorithm_der) {
  const unsigned char* p = algorithm_der.data();
  std::unique_ptr<::X509_ALGOR, ossl::Deleter<::X509_ALGOR_free>> algorithm(
      ::d2i_X509_ALGOR(nullptr, &p, static_cast<long>(algorithm_der.size())));
  return algorithm && ::OBJ_obj2nid(algorithm->algorithm) == NID_rsaEncryption;
}

// RFC 9483 4.3.3: CertReqTemplateContent ::= SEQUENCE { certTemplate, keySpec Controls }. The
// template has the subject present but empty (the device fills it in; the CA sets validity,
// issuer and extensions), and keySpec lists the keys the profile accepts: id-regCtrl-algId
// with each EC curve's AlgorithmIdentifier, id-regCtrl-rsaKeyLen with the smallest RSA size.
Bytes cert_req_template(const ra::ProfileInfo& profile) {
  constexpr std::uint8_t kSubjectTag = 0xa5;  // CertTemplate subject: [5] EXPLICIT Name
  static const Bytes kAlgId = oid_der("1.3.6.1.5.5.7.5.1.11");
  static const Bytes kRsaKeyLen = oid_der("1.3.6.1.5.5.7.5.1.12");
  const Bytes cert_template = der::sequence(der::element(kSubjectTag, der::sequence({})));
  std::vector<Bytes> controls;
  for (const auto& algorithm : profile.key_algorithms) {
    if (is_rsa_algorithm(algorithm)) continue;
    controls.push_back(sequence_of({kAlgId, algorithm}));
  }
  if (profile.rsa_min_bits > 0) controls.push_back(sequence_of({kRsaKeyLen, integer_der(profile.rsa_min_bits)}));
  return controls.empty() ? sequence_of({cert_template}) : sequence_of({cert_template, sequence_of(controls)});
}

}  // namespace

struct CmpServer::Exchange {
  ParsedMessage request;
  const CmpRequestContext& context;
  ResponseHeader reply_header;
  std::optional<Protection> protection;  // set once the request's protection has verified
  ra::Requester requester;
  std::string transaction_id_hex;
  std::string profile;  // from the path or from generalInfo certProfile
  int depth = 0;        // 0 for a message received as such; n inside n nested messages
  // What became of it, for the metrics: "answered", "rejected" (a CertResponse or revocation
  // refused), "error" (an error message), "waiting" is left to the service's log.
  const char* outcome = "answered";
  // The profile's configuration once central key generation read it, for the issuance too.
  std::shared_ptr<const ra::ProfileSnapshot> profile_snapshot{};

  const ECMP_HEADER& header() const { return *request.message->header; }
  const ECMP_BODY& body() const { return *request.message->body; }
};

CmpServer::CmpServer(ra::EnrollmentService& service, const ra::SharedSecrets& secrets, CmpServerOptions options,
                     const ra::CertificateTrust* trust, const ra::MessageSigner* signer)
    : m_service(service), m_secrets(secrets), m_options(std::move(options)), m_trust(trust), m_signer(signer) {
  std::vector<Bytes> known;
  for (const auto& ca : m_service.issuing_cas()) known.insert(known.end(), ca.chain.begin(), ca.chain.end());
  if (m_signer != nullptr) known.insert(known.end(), m_signer->certificates().begin(), m_signer->certificates().end());
  m_known = KnownCertificates(known);
  for (const auto& ca : m_service.issuing_cas()) {
    ::X509* cert = m_known.find(ca.chain.front());
    if (cert == nullptr) continue;
    auto urls = m_options.crl_urls.find(ca.name);
    m_crl_sources.push_back({ca.name, ossl::X509NamePtr(::X509_NAME_dup(::X509_get_subject_name(cert))),
                             urls != m_options.crl_urls.end() ? urls->second : std::vector<std::string>()});
  }
  if (!m_crl_sources.empty()) m_responder.reset(::X509_NAME_dup(m_crl_sources.front().subject.get()));
}

Result<Bytes> CmpServer::handle(ByteView request, const CmpRequestContext& context) {
  return handle_at_depth(request, context, 0);
}

Result<Bytes> CmpServer::handle_at_depth(ByteView request, const CmpRequestContext& context, int depth) {
  auto parsed = parse_message(request, &m_known, &m_recent);
  if (!parsed) {
    spdlog::warn("cmp peer={} rejected: {}", context.peer, parsed.error().message);
    count("undecodable", "error");
    return tl::unexpected(parsed.error());
  }
  Exchange exchange{std::move(*parsed), context, {}, std::nullopt, {}, {}, {}, depth};
  exchange.reply_header = response_header_for(exchange.header(), m_responder.get());
  exchange.transaction_id_hex = to_hex(octets(exchange.header().transactionID));
  auto reply = answer(exchange);
  count(body_name(exchange.body().type), reply ? exchange.outcome : "failed");
  return reply;
}

void CmpServer::count(const char* type, const char* outcome) const {
  if (m_options.metrics == nullptr) return;
  m_options.metrics
      ->counter("enrolld_cmp_messages_total",
                "CMP messages by body type and outcome (answered, rejected, error, failed)",
                {{"type", type}, {"outcome", outcome}})
      .add();
}

Result<Bytes> CmpServer::answer(Exchange& ex) {
  const ECMP_HEADER& header = ex.header();
  const long pvno = ::ASN1_INTEGER_get(header.pvno);
  if (pvno != kPvno2000 && pvno != kPvno2021) {
    return error_reply(ex, {ErrorCode::kUnsupportedVersion, "pvno " + std::to_string(pvno) + " is not 2 or 3"});
  }
  if (header.transactionID == nullptr || header.transactionID->length < static_cast<int>(kMinNonceBytes) ||
      header.transactionID->length > static_cast<int>(kMaxNonceBytes)) {
    return error_reply(ex, {ErrorCode::kBadDataFormat, "transactionID must be present and 16 to 64 octets"});
  }
  if (header.senderNonce == nullptr || header.senderNonce->length < static_cast<int>(kMinNonceBytes) ||
      header.senderNonce->length > static_cast<int>(kMaxNonceBytes)) {
    return error_reply(ex, {ErrorCode::kBadSenderNonce, "senderNonce must be present and 16 to 64 octets"});
  }
  if (auto authenticated = authenticate(ex); !authenticated) return error_reply(ex, authenticated.error());
  if (auto timely = check_message_time(header); !timely) return error_reply(ex, timely.error());
  auto profile = requested_profile(header, ex.context.profile);
  if (!profile) return error_reply(ex, profile.error());
  ex.profile = std::move(*profile);

  switch (ex.body().type) {
    case ECMP_BODY_IR:
    case ECMP_BODY_CR:
    case ECMP_BODY_P10CR:
    case ECMP_BODY_KUR: return handle_certification(ex);
    case ECMP_BODY_CERTCONF: return handle_cert_conf(ex);
    case ECMP_BODY_POLLREQ: return handle_poll_request(ex);
    case ECMP_BODY_GENM: return handle_general_message(ex);
    case ECMP_BODY_RR: return handle_revocation(ex);
    case ECMP_BODY_NESTED: return handle_nested(ex);
    case ECMP_BODY_ERROR: return handle_error_message(ex);
    default:
      return error_reply(ex, {ErrorCode::kUnsupportedRequest,
                              std::string("message type ") + body_name(ex.body().type) + " is not supported"});
  }
}

Status CmpServer::check_message_time(const ECMP_HEADER& header) const {
  if (header.messageTime == nullptr) return {};  // optional (RFC 4210 5.1.1)
  const auto sent = time_point_of(header.messageTime);
  if (!sent) return fail(ErrorCode::kBadDataFormat, "messageTime is not a valid GeneralizedTime");
  const auto skew = std::chrono::abs(std::chrono::duration_cast<std::chrono::seconds>(m_options.clock() - *sent));
  if (skew > m_options.max_clock_skew) {
    return fail(ErrorCode::kBadTime, "messageTime is " + std::to_string(skew.count()) +
                                         " s away from the server's clock (at most " +
                                         std::to_string(m_options.max_clock_skew.count()) + " s accepted)");
  }
  return {};
}

Status CmpServer::authenticate_signature(Exchange& ex) {
  const ECMP_HEADER& header = ex.header();
  if (m_trust == nullptr || m_signer == nullptr) {
    return fail(ErrorCode::kBadAlgorithm, "signature-based protection is not configured here; use a shared secret");
  }
  const ::ASN1_OBJECT* oid = nullptr;
  ::X509_ALGOR_get0(&oid, nullptr, nullptr, header.protectionAlg);
  int digest_nid = NID_undef;
  int key_nid = NID_undef;
  // RFC 9481 3: signatures with a SHA-2 digest; the algorithm must fit the signer's key.
  if (::OBJ_find_sigid_algs(::OBJ_obj2nid(oid), &digest_nid, &key_nid) != 1 || digest_nid == NID_undef ||
      digest_nid == NID_sha1 || digest_nid == NID_md5) {
    return fail(ErrorCode::kBadAlgorithm, "unsupported protection algorithm (use ECDSA or RSA with SHA-2)");
  }
  // RFC 9483 3.3: the first certificate in extraCerts is the CMP protection certificate.
  STACK_OF(X509)* extra = ex.request.message->extraCerts;
  if (sk_X509_num(extra) < 1) {
    return fail(ErrorCode::kBadMessageCheck, "a signed message must carry its certificate first in extraCerts");
  }
  ::X509* signer = sk_X509_value(extra, 0);
  // Found by fuzzing: a certificate whose public key does not decode has none to verify with.
  if (::X509_get0_pubkey(signer) == nullptr) {
    ossl::drain_errors();
    return fail(ErrorCode::kBadMessageCheck, "the protection certificate's public key cannot be decoded");
  }
  if (::EVP_PKEY_get_base_id(::X509_get0_pubkey(signer)) != key_nid) {
    return fail(ErrorCode::kBadAlgorithm, "the protection algorithm does not fit the protection certificate's key");
  }
  // RFC 9483 3.1: sender is the subject of the protection certificate; senderKID its SKI.
  if (header.sender->type != GEN_DIRNAME ||
      ::X509_NAME_cmp(header.sender->d.directoryName, ::X509_get_subject_name(signer)) != 0) {
    return fail(ErrorCode::kBadMessageCheck, "sender does not match the subject of the protection certificate");
  }
  const ::ASN1_OCTET_STRING* ski = ::X509_get0_subject_key_id(signer);
  if (header.senderKID != nullptr && ski != nullptr && ::ASN1_OCTET_STRING_cmp(header.senderKID, ski) != 0) {
    return fail(ErrorCode::kBadMessageCheck, "senderKID does not match the protection certificate");
  }
  const ::ASN1_BIT_STRING* signature = ex.request.message->protection;
  ossl::EvpMdCtxPtr ctx(::EVP_MD_CTX_new());
  const ::EVP_MD* digest = ::EVP_get_digestbynid(digest_nid);
  if (!ctx || ::EVP_DigestVerifyInit(ctx.get(), nullptr, digest, nullptr, ::X509_get0_pubkey(signer)) != 1 ||
      ::EVP_DigestVerify(ctx.get(), signature->data, static_cast<std::size_t>(signature->length),
                         ex.request.protected_part.data(), ex.request.protected_part.size()) != 1) {
    ossl::drain_errors();
    return fail(ErrorCode::kBadMessageCheck, "the message signature does not verify");
  }
  // RFC 9483 3.2: a response to a signed request is signed too; so is a refusal of a signer
  // whose signature verified but whose certificate is not accepted (e.g. certRevoked).
  ex.protection = SignatureProtection{m_signer};
  std::vector<::X509*> untrusted;
  for (int i = 1; i < sk_X509_num(extra); ++i) untrusted.push_back(sk_X509_value(extra, i));
  auto requester = m_trust->validate_decoded(signer, untrusted);
  if (!requester) return tl::unexpected(requester.error());
  ex.requester = std::move(*requester);
  return {};
}

Status CmpServer::authenticate(Exchange& ex) {
  const ECMP_HEADER& header = ex.header();
  const ::ASN1_BIT_STRING* protection = ex.request.message->protection;
  if (header.protectionAlg == nullptr || protection == nullptr) {
    return fail(ErrorCode::kBadMessageCheck, "the message is not protected");
  }
  if (!is_password_based_mac(header.protectionAlg)) return authenticate_signature(ex);
  if (header.senderKID == nullptr) {
    return fail(ErrorCode::kBadMessageCheck, "a MAC-protected message must name its reference in senderKID");
  }
  const Bytes kid = octets(header.senderKID);
  const std::string reference(kid.begin(), kid.end());
  auto secret = m_secrets.find_secret(reference);
  if (!secret) return fail(ErrorCode::kBadMessageCheck, "unknown reference (senderKID) or wrong secret");
  auto params = parse_pbm_parameters(header.protectionAlg, m_options.pbm);
  if (!params) return tl::unexpected(params.error());
  Bytes key = derive_pbm_key(*params, *secret);
  Bytes expected = pbm_mac(*params, key, ex.request.protected_part);
  if (expected.size() != static_cast<std::size_t>(protection->length) ||
      ::CRYPTO_memcmp(expected.data(), protection->data, expected.size()) != 0) {
    return fail(ErrorCode::kBadMessageCheck, "unknown reference (senderKID) or wrong secret");
  }
  // RFC 9483 3.2: a response to a MAC-protected request is protected with the same secret.
  // Reusing the request's parameters reuses the derived key: no second KDF per message.
  ex.protection = MacProtection{std::move(*params), std::move(key), kid, *secret};
  ex.requester = ra::Requester{"mac:" + reference, ""};
  return {};
}

Result<Bytes> CmpServer::handle_certification(Exchange& ex) {
  const int request_type = ex.body().type;
  // RFC 9483 4.1.3: a kur is signed with the certificate it updates, which this CA issued.
  const ::X509* old_certificate = nullptr;
  if (request_type == ECMP_BODY_KUR) {
    if (ex.requester.certificate_serial_hex.empty()) {
      return rejection_reply(ex, {ErrorCode::kNotAuthorized,
                                  "a key update must be signed with the certificate to update (RFC 9483 4.1.3)"});
    }
    old_certificate = sk_X509_value(ex.request.message->extraCerts, 0);
    if (auto named = check_old_cert_id(ex.body().value.kur, old_certificate); !named) {
      return rejection_reply(ex, named.error());
    }
  }
  auto requested =
      request_type == ECMP_BODY_P10CR
          ? requested_from_p10(*ex.body().value.p10cr)
          : requested_from_crmf(ex.body().value.ir,
                                old_certificate != nullptr ? ::X509_get_subject_name(old_certificate) : nullptr,
                                ex.requester.registration_authority);
  if (!requested) {
    return is_content_error(requested.error().code) ? rejection_reply(ex, requested.error())
                                                    : error_reply(ex, requested.error());
  }
  Bytes encrypted_private_key;
  // A resend or a reused transaction ID is answered by submit() before any key is used: make
  // none for it (key generation and the HSM signature are the costly part).
  auto existing = requested->central_keygen ? m_service.find(ex.transaction_id_hex)
                                            : Result<std::optional<ra::TransactionView>>(std::nullopt);
  if (!existing) return error_reply(ex, existing.error());
  if (requested->central_keygen && !*existing) {
    auto generated = generate_key_for(ex, requested->key_algorithm_der);
    if (!generated) {
      return is_content_error(generated.error().code) ? rejection_reply(ex, generated.error())
                                                      : error_reply(ex, generated.error());
    }
    requested->public_key_der = std::move(generated->first);
    encrypted_private_key = std::move(generated->second);
  }
  ra::CertificationRequest request;
  request.transaction_id_hex = ex.transaction_id_hex;
  request.protocol = "cmp";
  request.requester = ex.requester;
  request.profile = ex.profile;
  request.profile_snapshot = ex.profile_snapshot;
  request.subject_der = std::move(requested->subject_der);
  request.public_key_der = std::move(requested->public_key_der);
  request.extensions_der = std::move(requested->extensions_der);
  request.requested_not_after = requested->not_after;
  request.implicit_confirm_requested = has_implicit_confirm(ex.header());
  request.fingerprint = ex.request.fingerprint;
  request.replaces_serial_hex = request_type == ECMP_BODY_KUR ? ex.requester.certificate_serial_hex : "";

  const int cert_req_id = requested->cert_req_id;
  const int reply_body_type = reply_type(request_type);
  const Bytes state = encode_protocol_state({ex.reply_header.sender_nonce, cert_req_id, reply_body_type});
  auto encode = [&](const ra::Decision& decision) {
    return certificate_reply(ex.reply_header, *ex.protection, m_known, reply_body_type, cert_req_id, decision,
                             encrypted_private_key);
  };
  auto reply = m_service.submit(request, state, encode);
  if (!reply) {
    return is_content_error(reply.error().code) ? rejection_reply(ex, reply.error()) : error_reply(ex, reply.error());
  }
  spdlog::info("cmp peer={} txn={} {} answered", ex.context.peer, ex.transaction_id_hex, body_name(request_type));
  return reply;
}

// RFC 9483 4.1.6: the core makes the key pair and signs the key package; it goes back encrypted
// to the requester's shared secret or certificate. Returns {public key DER, EncryptedKey DER}.
Result<std::pair<Bytes, Bytes>> CmpServer::generate_key_for(Exchange& ex, const Bytes& algorithm_der) {
  auto profile = m_service.profile(ex.profile);
  if (!profile) return tl::unexpected(profile.error());
  // The generated key would have to wait, unencrypted or stored, for an officer.
  if (profile->requires_approval) {
    return fail(ErrorCode::kNotAuthorized,
                "central key generation is not offered under profile '" + profile->name + "', which needs approval");
  }
  ex.profile_snapshot = profile->snapshot;
  auto generated = m_service.generate_key(*profile, algorithm_der);
  if (!generated) return tl::unexpected(generated.error());
  KeyRecipient recipient;
  if (const auto* mac = std::get_if<MacProtection>(&*ex.protection)) {
    recipient.shared_secret = mac->shared_secret;
  } else {
    recipient.certificate = sk_X509_value(ex.request.message->extraCerts, 0);  // the protection certificate
  }
  auto encrypted = encrypted_key(generated->signed_key_package, recipient);
  // The signed package holds the private key in clear; only the encrypted form may remain.
  ::OPENSSL_cleanse(generated->signed_key_package.data(), generated->signed_key_package.size());
  ::OPENSSL_cleanse(generated->private_key_der.data(), generated->private_key_der.size());
  ::OPENSSL_cleanse(recipient.shared_secret.data(), recipient.shared_secret.size());
  if (!encrypted) return tl::unexpected(encrypted.error());
  return std::pair{std::move(generated->public_key_der), std::move(*encrypted)};
}

Result<Bytes> CmpServer::handle_cert_conf(Exchange& ex) {
  auto found = m_service.find(ex.transaction_id_hex);
  if (!found) return error_reply(ex, found.error());
  if (!*found) return error_reply(ex, {ErrorCode::kUnknownTransaction, "no open transaction with this transactionID"});
  const ra::TransactionView& txn = **found;
  if (txn.request_fingerprint == ex.request.fingerprint) return txn.last_response;  // a resend
  if (txn.requester != ex.requester.identity) {
    return error_reply(ex, {ErrorCode::kNotAuthorized, "certConf must come from the requester of the certificate"});
  }
  auto state = decode_protocol_state(txn.protocol_state);
  if (!state) return error_reply(ex, state.error());
  if (octets(ex.header().recipNonce) != state->sender_nonce) {
    return error_reply(ex, {ErrorCode::kBadRecipientNonce, "recipNonce does not match the senderNonce we sent"});
  }
  STACK_OF(ECMP_CERTSTATUS)* statuses = ex.body().value.certConf;
  bool accepted = false;  // RFC 4210 5.3.18: an empty certConf rejects all certificates
  if (sk_ECMP_CERTSTATUS_num(statuses) > 1) {
    return error_reply(ex, {ErrorCode::kUnsupportedRequest, "certConf must carry at most one CertStatus"});
  }
  if (sk_ECMP_CERTSTATUS_num(statuses) == 1) {
    const ECMP_CERTSTATUS* status = sk_ECMP_CERTSTATUS_value(statuses, 0);
    if (::ASN1_INTEGER_get(status->certReqId) != state->cert_req_id) {
      return error_reply(ex, {ErrorCode::kBadCertId, "certReqId does not match the certificate response"});
    }
    if (txn.certificate_der.empty()) {
      return error_reply(ex, {ErrorCode::kSystemFailure, "the issued certificate is missing"});
    }
    auto hash = certificate_hash(txn.certificate_der, *status);
    if (!hash) return error_reply(ex, hash.error());
    if (*hash != octets(status->certHash)) {
      return error_reply(ex, {ErrorCode::kBadCertId, "certHash does not match the issued certificate"});
    }
    accepted = status->statusInfo == nullptr ||
               ::ASN1_INTEGER_get(status->statusInfo->status) == static_cast<long>(PkiStatus::kAccepted);
  }
  auto reply = pki_conf(ex);
  if (!reply) return tl::unexpected(reply.error());
  auto stored = m_service.confirm(ex.transaction_id_hex, accepted, ex.request.fingerprint, *reply);
  if (!stored) return error_reply(ex, stored.error());
  spdlog::info("cmp peer={} txn={} certConf {} answered with pkiConf", ex.context.peer, ex.transaction_id_hex,
               accepted ? "accepted" : "rejected");
  return stored;
}

Result<Bytes> CmpServer::pki_conf(Exchange& ex) {
  BodyPtr body(ECMP_BODY_new());
  if (!body) return fail(ErrorCode::kSystemFailure, "out of memory");
  body->type = ECMP_BODY_PKICONF;
  body->value.pkiconf = ::ASN1_NULL_new();
  return encode_message(ex.reply_header, std::move(body), {}, &*ex.protection, &m_known);
}

// RFC 9483 3.6.4: a requester that cannot accept a response (or gives up) reports it with an
// error message, which ends the transaction and is answered with pkiConf. A certificate still
// waiting for confirmation is then revoked, as after a rejecting certConf (RFC 4210 5.3.18).
Result<Bytes> CmpServer::handle_error_message(Exchange& ex) {
  const ECMP_PKISI* status = ex.body().value.error->pKIStatusInfo;
  std::string text;
  for (int i = 0; status != nullptr && i < sk_ASN1_UTF8STRING_num(status->statusString); ++i) {
    const ::ASN1_UTF8STRING* part = sk_ASN1_UTF8STRING_value(status->statusString, i);
    text.append(reinterpret_cast<const char*>(part->data), static_cast<std::size_t>(part->length));
  }
  text = log::client_text(text);  // the requester's words go into our log
  spdlog::warn("cmp peer={} txn={} requester={} reports an error: {}", ex.context.peer, ex.transaction_id_hex,
               ex.requester.identity, text.empty() ? "(no text)" : text);
  auto found = m_service.find(ex.transaction_id_hex);
  if (!found) return error_reply(ex, found.error());
  if (*found && (*found)->request_fingerprint == ex.request.fingerprint) return (*found)->last_response;  // a resend
  const bool awaits_confirmation = *found && (*found)->state == "waiting-for-confirmation";
  if (awaits_confirmation && (*found)->requester != ex.requester.identity) {
    return error_reply(ex, {ErrorCode::kNotAuthorized, "only the requester may end its transaction"});
  }
  if (awaits_confirmation) {
    // Like a certConf, it answers our certificate response: its recipNonce echoes that nonce.
    auto state = decode_protocol_state((*found)->protocol_state);
    if (!state) return error_reply(ex, state.error());
    if (octets(ex.header().recipNonce) != state->sender_nonce) {
      return error_reply(ex, {ErrorCode::kBadRecipientNonce, "recipNonce does not match the senderNonce we sent"});
    }
  }
  auto reply = pki_conf(ex);
  if (!reply || !awaits_confirmation) return reply;
  auto ended = m_service.confirm(ex.transaction_id_hex, false, ex.request.fingerprint, *reply);
  if (!ended) return error_reply(ex, ended.error());
  return ended;
}

Result<Bytes> CmpServer::handle_poll_request(Exchange& ex) {
  STACK_OF(ECMP_POLLREQ)* polls = ex.body().value.pollReq;
  if (sk_ECMP_POLLREQ_num(polls) != 1) {
    return error_reply(ex, {ErrorCode::kUnsupportedRequest, "pollReq must carry exactly one certReqId (RFC 9483 4.4)"});
  }
  const long cert_req_id = ::ASN1_INTEGER_get(sk_ECMP_POLLREQ_value(polls, 0)->certReqId);
  auto found = m_service.find(ex.transaction_id_hex);
  if (!found) return error_reply(ex, found.error());
  if (!*found) return error_reply(ex, {ErrorCode::kUnknownTransaction, "no open transaction with this transactionID"});
  if ((*found)->request_fingerprint == ex.request.fingerprint) return (*found)->last_response;  // a resend
  auto state = decode_protocol_state((*found)->protocol_state);
  if (!state) return error_reply(ex, state.error());
  if (octets(ex.header().recipNonce) != state->sender_nonce) {
    return error_reply(ex, {ErrorCode::kBadRecipientNonce, "recipNonce does not match the senderNonce we sent last"});
  }
  if (cert_req_id != state->cert_req_id) {
    return error_reply(ex, {ErrorCode::kBadCertId, "certReqId does not match the request being polled"});
  }
  const Bytes next_state = encode_protocol_state({ex.reply_header.sender_nonce, state->cert_req_id, state->reply_type});
  auto encode = [&](const ra::Decision& decision) -> Result<Bytes> {
    if (const auto* held = std::get_if<ra::HeldForApproval>(&decision)) {
      return poll_reply(ex.reply_header, *ex.protection, m_known, state->cert_req_id, held->check_after);
    }
    return certificate_reply(ex.reply_header, *ex.protection, m_known, state->reply_type, state->cert_req_id, decision);
  };
  auto reply = m_service.collect(ex.transaction_id_hex, ex.requester, ex.request.fingerprint, next_state, encode);
  if (!reply) {
    return is_content_error(reply.error().code)
               ? rejection_reply(ex, reply.error(), state->reply_type, state->cert_req_id)
               : error_reply(ex, reply.error());
  }
  spdlog::info("cmp peer={} txn={} pollReq answered", ex.context.peer, ex.transaction_id_hex);
  return reply;
}

Result<ra::RevocationRequest> CmpServer::revocation_request(const Exchange& ex) const {
  STACK_OF(ECMP_REVDETAILS)* details = ex.body().value.rr;
  if (sk_ECMP_REVDETAILS_num(details) != 1) {
    return fail(ErrorCode::kUnsupportedRequest, "rr must carry exactly one RevDetails (RFC 9483 4.2)");
  }
  const ECMP_REVDETAILS* detail = sk_ECMP_REVDETAILS_value(details, 0);
  const ECMP_CERTTEMPLATE* tmpl = detail->certDetails;
  // RFC 9483 4.2: certDetails MUST contain the issuer and the serialNumber.
  if (tmpl->serialNumber == nullptr || tmpl->issuer == nullptr) {
    return fail(ErrorCode::kBadCertId, "certDetails must name the issuer and the serialNumber");
  }
  ossl::BignumPtr serial(::ASN1_INTEGER_to_BN(tmpl->serialNumber, nullptr));
  if (!serial || ::BN_is_negative(serial.get()) || ::BN_is_zero(serial.get())) {
    return fail(ErrorCode::kBadCertId, "serialNumber must be a positive integer");
  }

  ra::RevocationRequest request{ex.transaction_id_hex, ex.requester, ossl::integer_hex(tmpl->serialNumber),
                                ossl::der_of(tmpl->issuer), 0};
  int critical = 0;
  std::unique_ptr<::ASN1_ENUMERATED, ossl::Deleter<::ASN1_ENUMERATED_free>> reason(
      static_cast<::ASN1_ENUMERATED*>(::X509V3_get_d2i(detail->crlEntryDetails, NID_crl_reason, &critical, nullptr)));
  if (reason) request.reason = static_cast<int>(::ASN1_ENUMERATED_get(reason.get()));
  return request;
}

Result<Bytes> CmpServer::handle_revocation(Exchange& ex) {
  auto request = revocation_request(ex);
  Status revoked = request ? m_service.revoke(*request) : Status(tl::unexpected(request.error()));
  if (!revoked &&
      (revoked.error().code == ErrorCode::kSystemUnavailable || revoked.error().code == ErrorCode::kSystemFailure)) {
    return error_reply(ex, revoked.error());
  }
  if (!revoked) {
    ex.outcome = "rejected";
    spdlog::warn("cmp peer={} txn={} requester={} rr refused: {} ({})", ex.context.peer, ex.transaction_id_hex,
                 ex.requester.identity, revoked.error().message, to_string(revoked.error().code));
  }
  // RFC 9483 4.2: the rp carries one PKIStatusInfo: accepted, or rejection with the reason.
  PkiSiPtr status =
      revoked ? make_status_info(PkiStatus::kAccepted, -1, "")
              : make_status_info(PkiStatus::kRejection, failure_bit(revoked.error().code), revoked.error().message);
  ECMP_REVREPCONTENT* content = ECMP_REVREPCONTENT_new();
  if (!status || content == nullptr || sk_ECMP_PKISI_push(content->status, status.get()) <= 0) {
    ECMP_REVREPCONTENT_free(content);
    return fail(ErrorCode::kSystemFailure, "out of memory");
  }
  status.release();
  BodyPtr body(ECMP_BODY_new());
  body->type = ECMP_BODY_RP;
  body->value.rp = content;
  return encode_message(ex.reply_header, std::move(body), {}, &*ex.protection, &m_known);
}

Result<Bytes> CmpServer::handle_general_message(Exchange& ex) {
  auto profile = m_service.profile(ex.profile);
  if (!profile) return error_reply(ex, profile.error());
  STACK_OF(ECMP_ITAV)* asked = ex.body().value.genm;
  std::vector<std::pair<const ::ASN1_OBJECT*, Bytes>> answers;
  // RFC 9483 4.3.1: caCerts lists the CA certificates; 4.3.2: signKeyPairTypes the key types.
  auto add_ca_certs = [&] {
    answers.emplace_back(::OBJ_nid2obj(NID_id_it_caCerts), sequence_of(profile->issuing_ca->chain));
  };
  auto add_key_types = [&] {
    answers.emplace_back(::OBJ_nid2obj(NID_id_it_signKeyPairTypes), sequence_of(profile->key_algorithms));
  };
  // RFC 4210 5.3.19: an empty genm lets the CA send what it wishes.
  if (sk_ECMP_ITAV_num(asked) == 0) {
    add_ca_certs();
    add_key_types();
  }
  for (int i = 0; i < sk_ECMP_ITAV_num(asked); ++i) {
    const ECMP_ITAV& itav = *sk_ECMP_ITAV_value(asked, i);
    const int nid = ::OBJ_obj2nid(itav.infoType);
    if (nid == NID_id_it_caCerts) add_ca_certs();
    if (nid == NID_id_it_signKeyPairTypes) add_key_types();
    if (nid == NID_id_it_certReqTemplate) {
      answers.emplace_back(::OBJ_nid2obj(NID_id_it_certReqTemplate), cert_req_template(*profile));
    }
    if (::OBJ_cmp(itav.infoType, root_ca_cert_oid()) == 0) {
      answers.emplace_back(::OBJ_nid2obj(NID_id_it_rootCaKeyUpdate), root_ca_key_update(itav));
    }
    if (::OBJ_cmp(itav.infoType, crl_status_list_oid()) == 0) {
      auto crls = crl_update(itav);
      if (!crls) return error_reply(ex, crls.error());
      answers.emplace_back(crls_oid(), std::move(*crls));
    }
    // RFC 4210 5.3.19: a receiver may ignore info types it does not recognise.
  }

  BodyPtr body(ECMP_BODY_new());
  body->type = ECMP_BODY_GENP;
  body->value.genp = sk_ECMP_ITAV_new_null();
  for (const auto& [type, value] : answers) {
    ECMP_ITAV* itav = make_itav(type, value);
    if (itav == nullptr || sk_ECMP_ITAV_push(body->value.genp, itav) <= 0) {
      ECMP_ITAV_free(itav);
      return fail(ErrorCode::kSystemFailure, "out of memory");
    }
  }
  spdlog::info("cmp peer={} txn={} genm answered with {} info value(s)", ex.context.peer, ex.transaction_id_hex,
               answers.size());
  return encode_message(ex.reply_header, std::move(body), {}, &*ex.protection, &m_known);
}

// RFC 9483 4.3.2: RootCaKeyUpdateContent ::= SEQUENCE { newWithNew, newWithOld [0],
// oldWithNew [1] } when an update of the root the requester names (its oldWithOld, if given)
// is under way; no value otherwise.
Bytes CmpServer::root_ca_key_update(const ECMP_ITAV& root_ca_cert) const {
  const auto& update = m_service.root_ca_update();
  if (!update) return {};
  if (root_ca_cert.infoValue != nullptr) {
    const ByteView old_with_old = sequence_value(root_ca_cert);
    const Bytes& our_root = m_service.ca_chain().back();
    if (!std::equal(old_with_old.begin(), old_with_old.end(), our_root.begin(), our_root.end())) {
      return {};  // not our root: nothing known
    }
  }
  Bytes content = update->new_with_new;
  const Bytes new_with_old = der::element(0xa0, update->new_with_old);
  const Bytes old_with_new = der::element(0xa1, update->old_with_new);
  content.insert(content.end(), new_with_old.begin(), new_with_old.end());
  content.insert(content.end(), old_with_new.begin(), old_with_new.end());
  return der::sequence(content);
}

// RFC 9483 4.3.4: the CRLs newer than those the requester has (SEQUENCE OF CertificateList),
// or nothing (the value absent) when it is up to date: the CRLs of our own CAs only.
Result<Bytes> CmpServer::crl_update(const ECMP_ITAV& itav) {
  auto statuses = parse_crl_status_list(itav, m_crl_sources);
  if (!statuses) return tl::unexpected(statuses.error());
  for (const auto& status : *statuses) {
    if (status.ca_name.empty()) {
      std::string ours;
      for (const auto& source : m_crl_sources)
        ours += (ours.empty() ? "" : "; ") + ossl::name_to_string(source.subject.get());
      return fail(ErrorCode::kUnsupportedRequest,
                  "no CRL for that source here: this appliance serves the CRLs of its own CAs, issuers " + ours);
    }
  }
  std::vector<Bytes> newer;
  for (const auto& status : *statuses) {
    auto crl = m_service.current_crl(status.ca_name);
    if (!crl) return tl::unexpected(crl.error());
    const bool outdated = !status.this_update || crl->this_update > *status.this_update;
    if (outdated && std::find(newer.begin(), newer.end(), crl->der) == newer.end()) newer.push_back(crl->der);
  }
  return newer.empty() ? Bytes{} : sequence_of(newer);
}

// RFC 9483 5.2.2.1: an RA forwards requests in a nested message under its own protection
// (adding protection, batching). Each inner message is answered as if received on its own,
// with its own protection checked, and the answers go back nested, in the same order.
Result<Bytes> CmpServer::handle_nested(Exchange& ex) {
  if (!ex.requester.registration_authority) {
    return error_reply(ex, {ErrorCode::kNotAuthorized,
                            "nested messages are accepted only from a registration authority the configuration names"});
  }
  const std::vector<Bytes>& inner = ex.request.inner_messages;
  if (inner.empty() || inner.size() > kMaxNestedMessages) {
    return error_reply(ex, {ErrorCode::kBadDataFormat,
                            "a nested message must carry 1 to " + std::to_string(kMaxNestedMessages) + " PKIMessages"});
  }
  if (ex.depth >= kMaxNestingDepth) {
    return error_reply(ex, {ErrorCode::kUnsupportedRequest,
                            "nested messages may be nested at most " + std::to_string(kMaxNestingDepth) + " deep"});
  }
  BodyPtr body(ECMP_BODY_new());
  if (!body) return fail(ErrorCode::kSystemFailure, "out of memory");
  body->type = ECMP_BODY_NESTED;
  body->value.nested = sk_ECMP_MSG_new_null();
  for (std::size_t i = 0; i < inner.size(); ++i) {
    auto reply = handle_at_depth(inner[i], ex.context, ex.depth + 1);
    if (!reply) {
      return error_reply(ex,
                         {reply.error().code, "inner message " + std::to_string(i + 1) + ": " + reply.error().message});
    }
    const unsigned char* p = reply->data();
    ECMP_MSG* decoded = d2i_ECMP_MSG(nullptr, &p, static_cast<long>(reply->size()));
    if (decoded == nullptr || body->value.nested == nullptr || sk_ECMP_MSG_push(body->value.nested, decoded) <= 0) {
      ECMP_MSG_free(decoded);
      return fail(ErrorCode::kSystemFailure, "cannot assemble the nested response");
    }
  }
  spdlog::info("cmp peer={} txn={} requester={} nested message with {} request(s) answered", ex.context.peer,
               ex.transaction_id_hex, ex.requester.identity, inner.size());
  return encode_message(ex.reply_header, std::move(body), {}, &*ex.protection, &m_known);
}

Result<Bytes> CmpServer::rejection_reply(Exchange& ex, const Error& error) {
  return rejection_reply(ex, error, reply_type(ex.body().type),
                         ex.body().type == ECMP_BODY_P10CR ? kCertReqIdP10 : kCertReqIdCrmf);
}

Result<Bytes> CmpServer::rejection_reply(Exchange& ex, const Error& error, int reply_body_type, int cert_req_id) {
  ex.outcome = "rejected";
  spdlog::warn("cmp peer={} txn={} requester={} rejected: {} ({})", ex.context.peer, ex.transaction_id_hex,
               ex.requester.identity, error.message, to_string(error.code));
  ECMP_CERTRESPONSE* response = nullptr;
  CertRepPtr rep = one_response(
      cert_req_id, make_status_info(PkiStatus::kRejection, failure_bit(error.code), error.message), response);
  if (!rep) return fail(ErrorCode::kSystemFailure, "out of memory");
  BodyPtr body(ECMP_BODY_new());
  body->type = reply_body_type;
  body->value.ip = rep.release();
  return encode_message(ex.reply_header, std::move(body), {}, ex.protection ? &*ex.protection : nullptr, &m_known);
}

Result<Bytes> CmpServer::error_reply(Exchange& ex, const Error& error) {
  ex.outcome = "error";
  spdlog::warn("cmp peer={} txn={} requester={} body={} error: {} ({})", ex.context.peer, ex.transaction_id_hex,
               ex.requester.identity.empty() ? "unauthenticated" : ex.requester.identity, body_name(ex.body().type),
               error.message, to_string(error.code));
  ECMP_ERRORMSG* content = ECMP_ERRORMSG_new();
  PkiSiPtr status = make_status_info(PkiStatus::kRejection, failure_bit(error.code), error.message);
  if (content == nullptr || !status) {
    ECMP_ERRORMSG_free(content);
    return fail(ErrorCode::kSystemFailure, "out of memory");
  }
  ECMP_PKISI_free(content->pKIStatusInfo);
  content->pKIStatusInfo = status.release();
  BodyPtr body(ECMP_BODY_new());
  body->type = ECMP_BODY_ERROR;
  body->value.error = content;
  // RFC 9483 3.6.4: when the request's protection did not verify, the error goes unprotected.
  return encode_message(ex.reply_header, std::move(body), {}, ex.protection ? &*ex.protection : nullptr, &m_known);
}

}  // namespace enrolld::cmp
