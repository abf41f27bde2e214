#include "ca/ca_certificates.h"

#include <openssl/x509v3.h>

#include "ca/certificate_authority.h"

namespace enrolld::ca {

namespace {

Result<ossl::X509NamePtr> build_name(const std::vector<std::pair<std::string, std::string>>& parts) {
  ossl::X509NamePtr name(::X509_NAME_new());
  for (const auto& [field, value] : parts) {
    if (!name || ::X509_NAME_add_entry_by_txt(name.get(), field.c_str(), MBSTRING_UTF8,
                                              reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1, 0) != 1) {
      return fail(ErrorCode::kConfigInvalid, "bad name attribute " + field + "=" + value);
    }
  }
  return name;
}

using Extensions = std::vector<std::pair<int, std::string>>;

// A certificate for `subject_key` with `extensions` (besides SKI and AKI), issued by `issuer`
// (self-signed when null) and signed by `signer`.
// `subject_name`, when given, is used as it is instead of spec.subject (a rollover keeps the old
// root's name byte for byte).
Result<ossl::X509Ptr> make_certificate(const CaCertificateSpec& spec, ::EVP_PKEY* subject_key, const ::X509* issuer,
                                       const hsm::Signer& signer, Extensions extensions,
                                       const ::X509_NAME* subject_name = nullptr) {
  auto subject = subject_name != nullptr ? Result<ossl::X509NamePtr>(ossl::X509NamePtr(::X509_NAME_dup(subject_name)))
                                         : build_name(spec.subject);
  if (!subject || !*subject) return fail(ErrorCode::kSystemFailure, "cannot build the subject name");
  Bytes serial = random_serial();
  ossl::BignumPtr serial_bn(::BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  ossl::Asn1IntegerPtr serial_int(::BN_to_ASN1_INTEGER(serial_bn.get(), nullptr));
  ossl::X509Ptr cert(::X509_new());
  const ::X509_NAME* issuer_name = issuer != nullptr ? ::X509_get_subject_name(issuer) : subject->get();
  if (!cert || !serial_int || ::X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      ::X509_set_serialNumber(cert.get(), serial_int.get()) != 1 ||
      ::X509_set_subject_name(cert.get(), subject->get()) != 1 ||
      ::X509_set_issuer_name(cert.get(), issuer_name) != 1 || ::X509_set_pubkey(cert.get(), subject_key) != 1 ||
      ::X509_gmtime_adj(::X509_getm_notBefore(cert.get()), -300) == nullptr ||
      ::X509_gmtime_adj(::X509_getm_notAfter(cert.get()), static_cast<long>(spec.validity.count())) == nullptr) {
    return fail(ErrorCode::kSystemFailure, "cannot build certificate: " + ossl::drain_errors());
  }
  ::X509V3_CTX ctx;
  ::X509V3_set_ctx(&ctx, issuer != nullptr ? const_cast<::X509*>(issuer) : cert.get(), cert.get(), nullptr, nullptr, 0);
  extensions.emplace_back(NID_subject_key_identifier, "hash");
  extensions.emplace_back(NID_authority_key_identifier, "keyid:always");
  for (const auto& [nid, value] : extensions) {
    ossl::X509ExtensionPtr ext(::X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
    if (!ext || ::X509_add_ext(cert.get(), ext.get(), -1) != 1) {
      return fail(ErrorCode::kSystemFailure, std::string("cannot add ") + ::OBJ_nid2sn(nid) + ossl::drain_errors());
    }
  }
  if (::X509_sign(cert.get(), signer.signing_key(), signer.digest()) <= 0) {
    return fail(ErrorCode::kSystemUnavailable, "HSM could not sign: " + ossl::drain_errors());
  }
  if (::X509_verify(cert.get(), signer.public_key()) != 1) {
    return fail(ErrorCode::kSystemFailure, "HSM signature does not verify");
  }
  return cert;
}

Result<ossl::X509Ptr> make_ca_certificate(const CaCertificateSpec& spec, ::EVP_PKEY* subject_key, const ::X509* issuer,
                                          const hsm::Signer& signer) {
  const std::string basic = spec.path_length >= 0 ? "critical,CA:TRUE,pathlen:" + std::to_string(spec.path_length)
                                                  : std::string("critical,CA:TRUE");
  return make_certificate(
      spec, subject_key, issuer, signer,
      {{NID_basic_constraints, basic}, {NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature"}});
}

}  // namespace

Result<ossl::X509Ptr> make_root_certificate(const CaCertificateSpec& spec, const hsm::Signer& signer) {
  return make_ca_certificate(spec, signer.public_key(), nullptr, signer);
}

Result<ossl::X509Ptr> make_subordinate_certificate(const CaCertificateSpec& spec, ::EVP_PKEY* subject_key,
                                                   const ::X509* issuer, const hsm::Signer& issuer_signer) {
  return make_ca_certificate(spec, subject_key, issuer, issuer_signer);
}

namespace {

// Seconds from now until `cert` expires (at least one).
std::chrono::seconds remaining_validity(const ::X509* cert) {
  int days = 0;
  int seconds = 0;
  if (::ASN1_TIME_diff(&days, &seconds, nullptr, ::X509_get0_notAfter(cert)) != 1) return std::chrono::seconds(1);
  return std::max(std::chrono::seconds(1), std::chrono::seconds(std::int64_t{days} * 86400 + seconds));
}

}  // namespace

Result<RootRollover> make_root_rollover(const ::X509* old_root, const hsm::Signer& old_signer,
                                        const hsm::Signer& new_signer, std::chrono::seconds validity) {
  if (::EVP_PKEY_eq(old_signer.public_key(), new_signer.public_key()) == 1) {
    return fail(ErrorCode::kConfigInvalid, "the new root key is the old one");
  }
  const ::X509_NAME* name = ::X509_get_subject_name(old_root);
  const long path_length = ::X509_get_pathlen(const_cast<::X509*>(old_root));  // -1: none
  const std::string basic =
      path_length >= 0 ? "critical,CA:TRUE,pathlen:" + std::to_string(path_length) : std::string("critical,CA:TRUE");
  const Extensions ca_extensions = {{NID_basic_constraints, basic},
                                    {NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature"}};
  auto new_with_new =
      make_certificate({{}, validity, -1}, new_signer.public_key(), nullptr, new_signer, ca_extensions, name);
  if (!new_with_new) return tl::unexpected(new_with_new.error());
  const CaCertificateSpec transition{{}, remaining_validity(old_root), -1};
  auto new_with_old = make_certificate(transition, new_signer.public_key(), old_root, old_signer, ca_extensions, name);
  if (!new_with_old) return tl::unexpected(new_with_old.error());
  auto old_with_new =
      make_certificate(transition, ::X509_get0_pubkey(old_root), new_with_new->get(), new_signer, ca_extensions, name);
  if (!old_with_new) return tl::unexpected(old_with_new.error());
  return RootRollover{std::move(*new_with_new), std::move(*new_with_old), std::move(*old_with_new)};
}

namespace {

// The certificate of a service that signs in the CA's name (key generation authority, OCSP
// responder): an end entity whose key only signs, for the purpose `extended_key_usage`, with
// `more` extensions after it.
Result<ossl::X509Ptr> make_service_certificate(const CaCertificateSpec& spec, ::EVP_PKEY* subject_key,
                                               const ::X509* issuer, const hsm::Signer& issuer_signer,
                                               const std::string& extended_key_usage, const Extensions& more = {}) {
  Extensions extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                           {NID_key_usage, "critical,digitalSignature"},
                           {NID_ext_key_usage, extended_key_usage}};
  extensions.insert(extensions.end(), more.begin(), more.end());
  return make_certificate(spec, subject_key, issuer, issuer_signer, std::move(extensions));
}

}  // namespace

Result<ossl::X509Ptr> make_key_generation_certificate(const CaCertificateSpec& spec, ::EVP_PKEY* subject_key,
                                                      const ::X509* issuer, const hsm::Signer& issuer_signer) {
  // RFC 9483 4.1.6: the key generation authority's certificate carries id-kp-cmKGA (RFC 9480 2.10).
  return make_service_certificate(spec, subject_key, issuer, issuer_signer, "1.3.6.1.5.5.7.3.32");
}

Result<ossl::X509Ptr> make_ocsp_signing_certificate(const CaCertificateSpec& spec, ::EVP_PKEY* subject_key,
                                                    const ::X509* issuer, const hsm::Signer& issuer_signer) {
  // RFC 6960 4.2.2.2: "OCSP signing delegation SHALL be designated by the inclusion of
  // id-kp-OCSPSigning in an extended key usage certificate extension". RFC 6960 4.2.2.2.1:
  // id-pkix-ocsp-nocheck "SHOULD be a non-critical extension. The value of the extension SHOULD
  // be NULL" (OpenSSL writes NULL whatever the text).
  return make_service_certificate(spec, subject_key, issuer, issuer_signer, "OCSPSigning",
                                  {{NID_id_pkix_OCSP_noCheck, "ignored"}});
}

Result<ossl::X509ReqPtr> make_ca_request(const std::vector<std::pair<std::string, std::string>>& subject,
                                         const hsm::Signer& signer) {
  auto name = build_name(subject);
  if (!name) return tl::unexpected(name.error());
  ossl::X509ReqPtr request(::X509_REQ_new());
  ossl::X509ExtensionsPtr extensions(sk_X509_EXTENSION_new_null());
  if (!request || !extensions || ::X509_REQ_set_version(request.get(), X509_REQ_VERSION_1) != 1 ||
      ::X509_REQ_set_subject_name(request.get(), name->get()) != 1 ||
      ::X509_REQ_set_pubkey(request.get(), signer.public_key()) != 1) {
    return fail(ErrorCode::kSystemFailure, "cannot build the CA request: " + ossl::drain_errors());
  }
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                            std::pair{NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature"}}) {
    ::X509_EXTENSION* extension = ::X509V3_EXT_conf_nid(nullptr, nullptr, nid, value);
    if (extension == nullptr || sk_X509_EXTENSION_push(extensions.get(), extension) == 0) {
      ::X509_EXTENSION_free(extension);
      return fail(ErrorCode::kSystemFailure, "cannot build the CA request's extensions");
    }
  }
  if (::X509_REQ_add_extensions(request.get(), extensions.get()) != 1) {
    return fail(ErrorCode::kSystemFailure, "cannot add the requested extensions: " + ossl::drain_errors());
  }
  if (::X509_REQ_sign(request.get(), signer.signing_key(), signer.digest()) <= 0) {
    return fail(ErrorCode::kSystemUnavailable, "HSM could not sign the request: " + ossl::drain_errors());
  }
  if (::X509_REQ_verify(request.get(), signer.public_key()) != 1) {
    return fail(ErrorCode::kSystemFailure, "HSM signature on the request does not verify");
  }
  return request;
}

Status check_issuing_certificate(const ::X509* cert, const std::vector<ossl::X509Ptr>& chain,
                                 const hsm::Signer& signer) {
  ::X509* subject = const_cast<::X509*>(cert);
  if (::EVP_PKEY_eq(::X509_get0_pubkey(subject), signer.public_key()) != 1) {
    return fail(ErrorCode::kConfigInvalid, "the certificate is not for the CA key in the HSM");
  }
  // RFC 5280 4.2.1.9: "If the basic constraints extension is not present ... or the cA boolean is
  // not asserted, then the certified public key MUST NOT be used to verify certificate signatures."
  // X509_check_ca() is 1 only for basicConstraints cA:TRUE; its other non-zero answers are for
  // certificates without basicConstraints.
  if (::X509_check_ca(subject) != 1 || (::X509_get_extension_flags(subject) & EXFLAG_KUSAGE) == 0 ||
      (::X509_get_key_usage(subject) & KU_KEY_CERT_SIGN) == 0) {
    return fail(ErrorCode::kConfigInvalid, "the certificate is not a CA certificate with keyUsage keyCertSign");
  }
  if (chain.empty() || ::X509_check_issued(chain.back().get(), chain.back().get()) != X509_V_OK) {
    return fail(ErrorCode::kConfigInvalid, "the chain must end with a self-signed root CA certificate");
  }
  std::unique_ptr<::X509_STORE, ossl::Deleter<::X509_STORE_free>> anchors(::X509_STORE_new());
  std::unique_ptr<::X509_STORE_CTX, ossl::Deleter<::X509_STORE_CTX_free>> context(::X509_STORE_CTX_new());
  ossl::X509StackPtr untrusted(sk_X509_new_null());
  if (!anchors || !context || !untrusted || ::X509_STORE_add_cert(anchors.get(), chain.back().get()) != 1) {
    return fail(ErrorCode::kSystemFailure, "out of memory");
  }
  for (std::size_t i = 0; i + 1 < chain.size(); ++i) {
    if (sk_X509_push(untrusted.get(), ossl::up_ref(chain[i].get()).release()) == 0) {
      return fail(ErrorCode::kSystemFailure, "out of memory");
    }
  }
  if (::X509_STORE_CTX_init(context.get(), anchors.get(), subject, untrusted.get()) != 1) {
    return fail(ErrorCode::kSystemFailure, "cannot set up path validation");
  }
  if (::X509_verify_cert(context.get()) != 1) {
    return fail(ErrorCode::kConfigInvalid,
                std::string("the chain does not validate the certificate: ") +
                    ::X509_verify_cert_error_string(::X509_STORE_CTX_get_error(context.get())));
  }
  return {};
}

}  // namespace enrolld::ca
