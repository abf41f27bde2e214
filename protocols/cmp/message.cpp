#include "protocols/cmp/message.h"

#include <algorithm>

#include <openssl/evp.h>
#include <openssl/objects.h>

#include "common/der.h"

namespace enrolld::cmp {

namespace {

constexpr std::uint8_t kSequenceTag = 0x30;
constexpr std::uint8_t kExtraCertsTag = 0xa1;  // [1] EXPLICIT, constructed
constexpr std::size_t kNonceBytes = 16;        // RFC 9483 3.1: 128 bits

bool set_octets(::ASN1_OCTET_STRING** target, const Bytes& value) {
  if (value.empty()) return true;
  *target = ::ASN1_OCTET_STRING_new();
  return *target != nullptr && ::ASN1_OCTET_STRING_set(*target, value.data(), static_cast<int>(value.size())) == 1;
}

bool add_implicit_confirm(ECMP_HEADER& header) {
  ECMP_ITAV* itav = ECMP_ITAV_new();
  if (itav == nullptr) return false;
  itav->infoType = ::OBJ_nid2obj(NID_id_it_implicitConfirm);
  itav->infoValue = ::ASN1_TYPE_new();
  if (itav->infoValue == nullptr) {
    ECMP_ITAV_free(itav);
    return false;
  }
  ::ASN1_TYPE_set(itav->infoValue, V_ASN1_NULL, nullptr);
  if (header.generalInfo == nullptr) header.generalInfo = sk_ECMP_ITAV_new_null();
  return header.generalInfo != nullptr && sk_ECMP_ITAV_push(header.generalInfo, itav) > 0;
}

::X509_ALGOR* algorithm_of(const Protection& protection) {
  if (const auto* mac = std::get_if<MacProtection>(&protection)) return make_pbm_algorithm(mac->params);
  const Bytes& der = std::get<SignatureProtection>(protection).signer->algorithm();
  const unsigned char* p = der.data();
  return ::d2i_X509_ALGOR(nullptr, &p, static_cast<long>(der.size()));
}

Bytes sender_kid_of(const Protection& protection) {
  if (const auto* mac = std::get_if<MacProtection>(&protection)) return mac->sender_kid;
  return std::get<SignatureProtection>(protection).signer->key_identifier();
}

Result<Bytes> protection_value(const Protection& protection, ByteView covered) {
  if (const auto* mac = std::get_if<MacProtection>(&protection)) return pbm_mac(mac->params, mac->key, covered);
  return std::get<SignatureProtection>(protection).signer->sign(covered);
}

Result<HeaderPtr> build_header(const ResponseHeader& rh, const Protection* protection) {
  HeaderPtr header(ECMP_HEADER_new());
  if (!header) return fail(ErrorCode::kSystemFailure, "out of memory");
  ::X509_NAME* sender = ::X509_NAME_dup(rh.sender.get());
  if (sender != nullptr) ::GENERAL_NAME_set0_value(header->sender, GEN_DIRNAME, sender);
  bool ok = sender != nullptr && ::ASN1_INTEGER_set(header->pvno, rh.pvno) == 1 &&
            set_octets(&header->transactionID, rh.transaction_id) &&
            set_octets(&header->senderNonce, rh.sender_nonce) && set_octets(&header->recipNonce, rh.recipient_nonce);
  if (ok && rh.recipient) {
    ::GENERAL_NAME_free(header->recipient);
    header->recipient = ::GENERAL_NAME_dup(rh.recipient.get());
    ok = header->recipient != nullptr;
  }
  header->messageTime = ::ASN1_GENERALIZEDTIME_set(nullptr, ::time(nullptr));
  ok = ok && header->messageTime != nullptr;
  if (ok && protection != nullptr) {
    header->protectionAlg = algorithm_of(*protection);
    ok = header->protectionAlg != nullptr && set_octets(&header->senderKID, sender_kid_of(*protection));
  }
  if (ok && rh.implicit_confirm) ok = add_implicit_confirm(*header);
  if (!ok) return fail(ErrorCode::kSystemFailure, "cannot build CMP header: " + ossl::drain_errors());
  return header;
}

// The PKIMessages inside a nested body ([20] EXPLICIT SEQUENCE OF PKIMessage), which the
// decoder has already accepted; empty if the walker disagrees.
std::vector<Bytes> inner_messages_of(const der::Element& body) {
  auto list = der::read_element(body.content);
  auto elements = list ? der::read_children(list->content) : std::nullopt;
  std::vector<Bytes> out;
  if (!elements) return out;
  for (const auto& element : *elements) out.emplace_back(element.whole.begin(), element.whole.end());
  return out;
}

// The certificates of extraCerts ([1] EXPLICIT SEQUENCE OF CMPCertificate), each taken from
// `known` when it is there, else decoded; kBadDataFormat for anything that is not that.
Result<ossl::X509StackPtr> extra_certificates(const der::Element& element, const KnownCertificates* known,
                                              ossl::RecentCertificates* recent) {
  auto list = der::read_element(element.content);
  auto certificates = list && list->tag == kSequenceTag && list->whole.size() == element.content.size()
                          ? der::read_children(list->content)
                          : std::nullopt;
  if (!certificates) return fail(ErrorCode::kBadDataFormat, "cannot decode PKIMessage: malformed extraCerts");
  ossl::X509StackPtr stack(sk_X509_new_null());
  for (const auto& certificate : *certificates) {
    ::X509* decoded = known != nullptr ? known->find(certificate.whole) : nullptr;
    auto cert = decoded != nullptr  ? Result<ossl::X509Ptr>(ossl::up_ref(decoded))
                : recent != nullptr ? recent->decode(certificate.whole)
                                    : ossl::x509_from_der(certificate.whole);
    if (!cert) return fail(ErrorCode::kBadDataFormat, "cannot decode PKIMessage: " + cert.error().message);
    if (!stack || sk_X509_push(stack.get(), cert->get()) <= 0) return fail(ErrorCode::kSystemFailure, "out of memory");
    cert->release();
  }
  return stack;
}

}  // namespace

Result<ParsedMessage> parse_message(ByteView der, const KnownCertificates* known, ossl::RecentCertificates* recent) {
  auto outer = der::read_element(der);
  if (!outer || outer->tag != kSequenceTag || outer->whole.size() != der.size()) {
    return fail(ErrorCode::kBadDataFormat, "not a DER PKIMessage");
  }
  auto parts = der::read_children(outer->content);
  if (!parts || parts->size() < 2) return fail(ErrorCode::kBadDataFormat, "PKIMessage without header and body");
  // extraCerts, the last element when present, is decoded apart (extra_certificates); the
  // template decodes the rest.
  const bool has_extra_certs = parts->size() >= 3 && parts->back().tag == kExtraCertsTag;
  Bytes without_extra_certs;
  if (has_extra_certs) {
    Bytes content;
    for (std::size_t i = 0; i + 1 < parts->size(); ++i) {
      content.insert(content.end(), (*parts)[i].whole.begin(), (*parts)[i].whole.end());
    }
    without_extra_certs = der::sequence(content);
  }
  const ByteView decoded = has_extra_certs ? ByteView(without_extra_certs) : der;
  const unsigned char* p = decoded.data();
  MsgPtr message(d2i_ECMP_MSG(nullptr, &p, static_cast<long>(decoded.size())));
  if (!message || p != decoded.data() + decoded.size()) {
    return fail(ErrorCode::kBadDataFormat, "cannot decode PKIMessage: " + ossl::drain_errors());
  }
  if (has_extra_certs) {
    // The rest holding extraCerts too means two of them: not a PKIMessage.
    if (message->extraCerts != nullptr) return fail(ErrorCode::kBadDataFormat, "PKIMessage with two extraCerts");
    auto certificates = extra_certificates(parts->back(), known, recent);
    if (!certificates) return tl::unexpected(certificates.error());
    message->extraCerts = certificates->release();
  }
  Bytes covered((*parts)[0].whole.begin(), (*parts)[0].whole.end());
  covered.insert(covered.end(), (*parts)[1].whole.begin(), (*parts)[1].whole.end());
  ParsedMessage parsed{std::move(message), der::sequence(covered), ossl::sha256(der), {}};
  if (parsed.message->body->type == ECMP_BODY_NESTED) parsed.inner_messages = inner_messages_of((*parts)[1]);
  return parsed;
}

Bytes octets(const ::ASN1_OCTET_STRING* s) {
  if (s == nullptr) return {};
  return Bytes(s->data, s->data + s->length);
}

bool has_implicit_confirm(const ECMP_HEADER& header) {
  for (int i = 0; i < sk_ECMP_ITAV_num(header.generalInfo); ++i) {
    if (::OBJ_obj2nid(sk_ECMP_ITAV_value(header.generalInfo, i)->infoType) == NID_id_it_implicitConfirm) return true;
  }
  return false;
}

ResponseHeader response_header_for(const ECMP_HEADER& request, const ::X509_NAME* responder) {
  ResponseHeader rh;
  const long pvno = ::ASN1_INTEGER_get(request.pvno);
  rh.pvno = pvno == kPvno2021 ? kPvno2021 : kPvno2000;
  rh.sender.reset(::X509_NAME_dup(responder));
  rh.recipient.reset(::GENERAL_NAME_dup(request.sender));
  rh.transaction_id = octets(request.transactionID);
  rh.sender_nonce = random_bytes(kNonceBytes);
  rh.recipient_nonce = octets(request.senderNonce);
  return rh;
}

KnownCertificates::KnownCertificates(const std::vector<Bytes>& ders) {
  for (const auto& der : ders) {
    if (auto cert = ossl::x509_from_der(der)) m_certificates.emplace_back(der, std::move(*cert));
  }
}

::X509* KnownCertificates::find(ByteView der) const {
  for (const auto& [encoding, cert] : m_certificates) {
    if (std::equal(encoding.begin(), encoding.end(), der.begin(), der.end())) return cert.get();
  }
  return nullptr;
}

Result<Bytes> encode_message(const ResponseHeader& rh, BodyPtr body, const std::vector<Bytes>& extra_certs,
                             const Protection* protection, const KnownCertificates* known) {
  auto header = build_header(rh, protection);
  if (!header) return tl::unexpected(header.error());
  MsgPtr message(ECMP_MSG_new());
  if (!message) return fail(ErrorCode::kSystemFailure, "out of memory");
  ECMP_HEADER_free(message->header);
  ECMP_BODY_free(message->body);
  message->header = header->release();
  message->body = body.release();

  std::vector<Bytes> certificates;
  if (protection != nullptr) {
    if (const auto* signature = std::get_if<SignatureProtection>(protection)) {
      certificates = signature->signer->certificates();
    }
  }
  for (const auto& der : extra_certs) {
    if (std::find(certificates.begin(), certificates.end(), der) == certificates.end()) certificates.push_back(der);
  }
  for (const auto& der : certificates) {
    ::X509* decoded = known != nullptr ? known->find(der) : nullptr;
    auto cert = decoded != nullptr ? Result<ossl::X509Ptr>(ossl::up_ref(decoded)) : ossl::x509_from_der(der);
    if (!cert) return tl::unexpected(cert.error());
    if (message->extraCerts == nullptr) message->extraCerts = sk_X509_new_null();
    if (message->extraCerts == nullptr || sk_X509_push(message->extraCerts, cert->get()) <= 0) {
      return fail(ErrorCode::kSystemFailure, "out of memory");
    }
    cert->release();
  }
  if (protection != nullptr) {
    ECMP_PROTECTEDPART part{message->header, message->body};
    Bytes covered = ossl::der_with(&part, i2d_ECMP_PROTECTEDPART);
    if (covered.empty()) return fail(ErrorCode::kSystemFailure, "cannot encode ProtectedPart");
    auto value = protection_value(*protection, covered);
    if (!value) return tl::unexpected(value.error());
    Bytes mac = std::move(*value);
    message->protection = ::ASN1_BIT_STRING_new();
    if (message->protection == nullptr ||
        ::ASN1_BIT_STRING_set(message->protection, mac.data(), static_cast<int>(mac.size())) != 1) {
      return fail(ErrorCode::kSystemFailure, "out of memory");
    }
    // No unused bits: MACs and signatures are whole octets.
    message->protection->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
    message->protection->flags |= ASN1_STRING_FLAG_BITS_LEFT;
  }
  Bytes der = ossl::der_with(message.get(), i2d_ECMP_MSG);
  if (der.empty()) return fail(ErrorCode::kSystemFailure, "cannot encode PKIMessage: " + ossl::drain_errors());
  return der;
}

PkiSiPtr make_status_info(PkiStatus status, int failure_bit, const std::string& text) {
  PkiSiPtr si(ECMP_PKISI_new());
  if (!si || ::ASN1_INTEGER_set(si->status, static_cast<long>(status)) != 1) return nullptr;
  if (!text.empty()) {
    ::ASN1_UTF8STRING* utf8 = ::ASN1_UTF8STRING_new();
    si->statusString = sk_ASN1_UTF8STRING_new_null();
    if (utf8 == nullptr || si->statusString == nullptr ||
        ::ASN1_STRING_set(utf8, text.data(), static_cast<int>(text.size())) != 1 ||
        sk_ASN1_UTF8STRING_push(si->statusString, utf8) <= 0) {
      ::ASN1_UTF8STRING_free(utf8);
      return nullptr;
    }
  }
  if (failure_bit >= 0) {
    si->failInfo = ::ASN1_BIT_STRING_new();
    if (si->failInfo == nullptr || ::ASN1_BIT_STRING_set_bit(si->failInfo, failure_bit, 1) != 1) return nullptr;
  }
  return si;
}

}  // namespace enrolld::cmp
