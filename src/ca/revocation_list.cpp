// CertificateAuthority::sign_crl: RFC 5280 section 5 profile.
#include <openssl/x509v3.h>

#include "ca/certificate_authority.h"

namespace enrolld::ca {

namespace {

using CrlPtr = std::unique_ptr<::X509_CRL, ossl::Deleter<::X509_CRL_free>>;
using RevokedPtr = std::unique_ptr<::X509_REVOKED, ossl::Deleter<::X509_REVOKED_free>>;
using TimePtr = std::unique_ptr<::ASN1_TIME, ossl::Deleter<::ASN1_TIME_free>>;
using EnumeratedPtr = std::unique_ptr<::ASN1_ENUMERATED, ossl::Deleter<::ASN1_ENUMERATED_free>>;

constexpr int kReasonUnspecified = 0;

TimePtr asn1_time(std::int64_t seconds) {
  return TimePtr(::ASN1_TIME_set(nullptr, static_cast<std::time_t>(seconds)));
}

std::int64_t seconds_of(std::chrono::system_clock::time_point at) {
  return std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count();
}

Result<RevokedPtr> revoked_entry(const RevokedEntry& entry) {
  ::BIGNUM* raw = nullptr;
  if (entry.serial_hex.empty() ||
      ::BN_hex2bn(&raw, entry.serial_hex.c_str()) != static_cast<int>(entry.serial_hex.size())) {
    ::BN_free(raw);
    return fail(ErrorCode::kBadCertId, "serial '" + entry.serial_hex + "' is not hex");
  }
  ossl::BignumPtr serial(raw);
  ossl::Asn1IntegerPtr serial_int(::BN_to_ASN1_INTEGER(serial.get(), nullptr));
  RevokedPtr revoked(::X509_REVOKED_new());
  TimePtr date = asn1_time(entry.revoked_at);
  if (!serial_int || !revoked || !date || ::X509_REVOKED_set_serialNumber(revoked.get(), serial_int.get()) != 1 ||
      ::X509_REVOKED_set_revocationDate(revoked.get(), date.get()) != 1) {
    return fail(ErrorCode::kSystemFailure, "cannot build CRL entry: " + ossl::drain_errors());
  }
  // RFC 5280 5.3.1: "the reason code CRL entry extension SHOULD be absent instead of using the
  // unspecified (0) reasonCode value".
  if (entry.reason != kReasonUnspecified) {
    EnumeratedPtr reason(::ASN1_ENUMERATED_new());
    if (!reason || ::ASN1_ENUMERATED_set(reason.get(), entry.reason) != 1 ||
        ::X509_REVOKED_add1_ext_i2d(revoked.get(), NID_crl_reason, reason.get(), 0, 0) != 1) {
      return fail(ErrorCode::kSystemFailure, "cannot add reasonCode: " + ossl::drain_errors());
    }
  }
  return revoked;
}

// RFC 5280 5.2.4: "The delta CRL indicator is a critical CRL extension"; 5.2.6: freshestCRL
// "MUST be marked as non-critical".
Status add_delta_extensions(::X509_CRL* crl, ::X509V3_CTX* ctx, const CrlInput& input) {
  if (input.delta_base) {
    ossl::Asn1IntegerPtr base(::ASN1_INTEGER_new());
    if (!base || ::ASN1_INTEGER_set_uint64(base.get(), *input.delta_base) != 1 ||
        ::X509_CRL_add1_ext_i2d(crl, NID_delta_crl, base.get(), 1, 0) != 1) {
      return fail(ErrorCode::kSystemFailure, "cannot add deltaCRLIndicator: " + ossl::drain_errors());
    }
  }
  if (!input.freshest_crl_url.empty()) {
    const std::string value = "URI:" + input.freshest_crl_url;
    ossl::X509ExtensionPtr freshest(::X509V3_EXT_conf_nid(nullptr, ctx, NID_freshest_crl, value.c_str()));
    if (!freshest || ::X509_CRL_add_ext(crl, freshest.get(), -1) != 1) {
      return fail(ErrorCode::kSystemFailure, "cannot add freshestCRL: " + ossl::drain_errors());
    }
  }
  return {};
}

}  // namespace

Result<Bytes> CertificateAuthority::sign_crl(const CrlInput& input) const {
  CrlPtr crl(::X509_CRL_new());
  TimePtr this_update = asn1_time(seconds_of(input.this_update));
  TimePtr next_update = asn1_time(seconds_of(input.next_update));
  ossl::Asn1IntegerPtr number(::ASN1_INTEGER_new());
  if (!crl || !this_update || !next_update || !number || ::X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
      ::X509_CRL_set_issuer_name(crl.get(), ::X509_get_subject_name(certificate())) != 1 ||
      ::X509_CRL_set1_lastUpdate(crl.get(), this_update.get()) != 1 ||
      ::X509_CRL_set1_nextUpdate(crl.get(), next_update.get()) != 1 ||
      ::ASN1_INTEGER_set_uint64(number.get(), input.number) != 1 ||
      ::X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, 0) != 1) {
    return fail(ErrorCode::kSystemFailure, "cannot build CRL: " + ossl::drain_errors());
  }
  ::X509V3_CTX ctx;
  ::X509V3_set_ctx(&ctx, const_cast<::X509*>(certificate()), nullptr, nullptr, crl.get(), 0);
  ossl::X509ExtensionPtr akid(::X509V3_EXT_conf_nid(nullptr, &ctx, NID_authority_key_identifier, "keyid:always"));
  if (!akid || ::X509_CRL_add_ext(crl.get(), akid.get(), -1) != 1) {
    return fail(ErrorCode::kSystemFailure, "cannot add authorityKeyIdentifier: " + ossl::drain_errors());
  }
  if (auto ok = add_delta_extensions(crl.get(), &ctx, input); !ok) return tl::unexpected(ok.error());
  for (const auto& entry : input.revoked) {
    auto revoked = revoked_entry(entry);
    if (!revoked) return tl::unexpected(revoked.error());
    if (::X509_CRL_add0_revoked(crl.get(), revoked->get()) != 1)
      return fail(ErrorCode::kSystemFailure, "out of memory");
    revoked->release();
  }
  ::X509_CRL_sort(crl.get());
  const bool signed_ok = [&] {
    ScopedTimer timer(m_sign_crl);
    ScopedUse session(m_signing.get());
    return ::X509_CRL_sign(crl.get(), m_signer->signing_key(), m_signer->digest()) > 0;
  }();
  if (!signed_ok) {
    return fail(ErrorCode::kSystemUnavailable, "HSM could not sign the CRL: " + ossl::drain_errors());
  }
  if (::X509_CRL_verify(crl.get(), m_signer->public_key()) != 1) {
    return fail(ErrorCode::kSystemFailure, "HSM signature on the CRL does not verify: " + ossl::drain_errors());
  }
  return ossl::der_with(crl.get(), ::i2d_X509_CRL);
}

}  // namespace enrolld::ca
