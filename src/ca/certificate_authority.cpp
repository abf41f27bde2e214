#include "ca/certificate_authority.h"

#include "ca/profile_policy.h"

#include <openssl/x509v3.h>

namespace enrolld::ca {

namespace {

constexpr int kSerialDraws = 4;  // a collision at 127 bits means a broken RNG, not bad luck

Status add_extension(::X509* cert, ::X509V3_CTX* ctx, int nid, const char* value) {
  ossl::X509ExtensionPtr ext(::X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
  if (!ext || ::X509_add_ext(cert, ext.get(), -1) != 1) {
    return fail(ErrorCode::kSystemFailure,
                std::string("cannot add extension ") + ::OBJ_nid2sn(nid) + ": " + ossl::drain_errors());
  }
  return {};
}

Result<ossl::X509ExtensionsPtr> decode_extensions(ByteView der) {
  const unsigned char* p = der.data();
  ossl::X509ExtensionsPtr exts(::d2i_X509_EXTENSIONS(nullptr, &p, static_cast<long>(der.size())));
  if (!exts || p != der.data() + der.size()) {
    return fail(ErrorCode::kBadCertTemplate, "requested extensions are not DER Extensions");
  }
  return exts;
}

Status copy_requested_extensions(::X509* cert, ByteView der, const Profile& profile) {
  if (der.empty() || !profile.copy_subject_alt_name) return {};
  auto exts = decode_extensions(der);
  if (!exts) return tl::unexpected(exts.error());
  int at = ::X509v3_get_ext_by_NID(exts->get(), NID_subject_alt_name, -1);
  if (at >= 0 && ::X509_add_ext(cert, ::X509v3_get_ext(exts->get(), at), -1) != 1) {
    return fail(ErrorCode::kSystemFailure, "cannot copy subjectAltName");
  }
  return {};
}

// extendedKeyUsage and certificatePolicies, as the profile sets them.
Status add_profile_usages(::X509* cert, ::X509V3_CTX* ctx, const Profile& profile) {
  if (!profile.extended_key_usage.empty()) {
    if (auto ok = add_extension(cert, ctx, NID_ext_key_usage, profile.extended_key_usage.c_str()); !ok) return ok;
  }
  if (profile.policies.empty()) return {};
  // Built directly: OpenSSL's text form of certificatePolicies wants a configuration database.
  std::unique_ptr<CERTIFICATEPOLICIES, ossl::Deleter<CERTIFICATEPOLICIES_free>> policies(CERTIFICATEPOLICIES_new());
  for (const auto& oid : profile.policies) {
    POLICYINFO* info = POLICYINFO_new();
    if (info != nullptr) info->policyid = ::OBJ_txt2obj(oid.c_str(), 1);
    if (!policies || info == nullptr || info->policyid == nullptr || sk_POLICYINFO_push(policies.get(), info) == 0) {
      POLICYINFO_free(info);
      return fail(ErrorCode::kSystemFailure, "cannot build certificatePolicies for " + oid);
    }
  }
  if (::X509_add1_ext_i2d(cert, NID_certificate_policies, policies.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return fail(ErrorCode::kSystemFailure, "cannot add certificatePolicies: " + ossl::drain_errors());
  }
  return {};
}

// cRLDistributionPoints and authorityInfoAccess from the profile's URLs.
Status add_repository_urls(::X509* cert, ::X509V3_CTX* ctx, const Profile& profile) {
  if (!profile.crl_url.empty()) {
    const std::string value = "URI:" + profile.crl_url;
    if (auto ok = add_extension(cert, ctx, NID_crl_distribution_points, value.c_str()); !ok) return ok;
  }
  std::string access;
  if (!profile.ocsp_url.empty()) access = "OCSP;URI:" + profile.ocsp_url;
  if (!profile.ca_issuers_url.empty()) {
    // Appended piece by piece: GCC 12 -O3 warns (falsely, -Wrestrict) about a concatenation here.
    if (!access.empty()) access.push_back(',');
    access.append("caIssuers;URI:").append(profile.ca_issuers_url);
  }
  if (access.empty()) return {};
  return add_extension(cert, ctx, NID_info_access, access.c_str());
}

}  // namespace

bool key_allowed(::EVP_PKEY* key, const std::vector<KeyRule>& rules) {
  const int type = ::EVP_PKEY_get_base_id(key);
  for (const auto& rule : rules) {
    if (rule.type != type) continue;
    if (type == EVP_PKEY_RSA && ::EVP_PKEY_get_bits(key) >= rule.min_bits) return true;
    if (type == EVP_PKEY_EC) {
      char curve[64] = {};
      if (::EVP_PKEY_get_utf8_string_param(key, "group", curve, sizeof curve, nullptr) == 1 &&
          ::OBJ_txt2nid(curve) == rule.curve_nid) {
        return true;
      }
    }
  }
  return false;
}

Bytes algorithm_identifier_der(const KeyRule& rule) {
  std::unique_ptr<::X509_ALGOR, ossl::Deleter<::X509_ALGOR_free>> algorithm(::X509_ALGOR_new());
  if (rule.type == EVP_PKEY_EC) {
    ::X509_ALGOR_set0(algorithm.get(), ::OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT,
                      ::OBJ_nid2obj(rule.curve_nid));
  } else {
    ::X509_ALGOR_set0(algorithm.get(), ::OBJ_nid2obj(NID_rsaEncryption), V_ASN1_NULL, nullptr);
  }
  return ossl::der_with(algorithm.get(), ::i2d_X509_ALGOR);
}

Bytes random_serial() {
  Bytes serial = random_bytes(16);
  serial[0] &= 0x7f;
  if (serial[0] == 0) serial[0] = 0x01;
  return serial;
}

CertificateAuthority::CertificateAuthority(std::vector<ossl::X509Ptr> chain, std::unique_ptr<hsm::Signer> signer,
                                           Clock clock, Metrics* metrics, std::shared_ptr<InUse> hsm_in_use)
    : m_chain(std::move(chain)), m_signer(std::move(signer)), m_clock(std::move(clock)) {
  if (metrics == nullptr) return;
  const char* help = "Signatures the HSM made for the CA, by what was signed";
  m_sign_certificate = &metrics->histogram("enrolld_hsm_sign_seconds", help, {{"operation", "certificate"}});
  m_sign_crl = &metrics->histogram("enrolld_hsm_sign_seconds", help, {{"operation", "crl"}});
  m_signing = hsm_in_use ? std::move(hsm_in_use) : std::make_shared<InUse>();
  metrics->gauge("enrolld_hsm_signing_now", "CA signatures in the HSM right now (PKCS#11 sessions busy)",
                 [signing = m_signing] {
                   return Metrics::Readings{{{}, static_cast<double>(signing->now())}};
                 });
  metrics->gauge("enrolld_hsm_signing_peak", "The most CA signatures that were in the HSM at once",
                 [signing = m_signing] {
                   return Metrics::Readings{{{}, static_cast<double>(signing->peak())}};
                 });
}

std::string CertificateAuthority::name() const {
  return ossl::name_to_string(::X509_get_subject_name(certificate()));
}

Result<IssuedCertificate> CertificateAuthority::issue(const CertificationInput& input, const Profile& profile,
                                                      const SerialTaken& serial_taken) const {
  std::time_t now = std::chrono::system_clock::to_time_t(m_clock());
  // Checked again here, whatever the caller checked: nothing outside the profile is ever signed.
  if (auto ok = check_request(input, profile, now); !ok) return tl::unexpected(ok.error());
  auto subject = ossl::name_from_der(input.subject_der);
  auto key = ossl::public_key_from_der(input.public_key_der);
  if (!subject || !key) return fail(ErrorCode::kSystemFailure, "a checked request no longer decodes");

  Bytes serial;
  for (int draw = 0; draw < kSerialDraws && serial.empty(); ++draw) {
    Bytes candidate = random_serial();
    auto taken = serial_taken(to_hex(candidate));
    if (!taken) return tl::unexpected(taken.error());
    if (!*taken) serial = std::move(candidate);
  }
  if (serial.empty()) return fail(ErrorCode::kSystemFailure, "no free serial number after several draws");

  ossl::X509Ptr cert(::X509_new());
  ossl::BignumPtr serial_bn(::BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  ossl::Asn1IntegerPtr serial_int(::BN_to_ASN1_INTEGER(serial_bn.get(), nullptr));
  const auto not_before = now - profile.backdate.count();
  auto not_after = now + profile.validity.count();
  if (profile.requester_validity && input.requested_not_after && *input.requested_not_after > now &&
      *input.requested_not_after < not_after) {
    not_after = static_cast<std::time_t>(*input.requested_not_after);
  }
  if (!cert || !serial_int || ::X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      ::X509_set_serialNumber(cert.get(), serial_int.get()) != 1 ||
      ::X509_set_issuer_name(cert.get(), ::X509_get_subject_name(certificate())) != 1 ||
      ::X509_set_subject_name(cert.get(), subject->get()) != 1 ||
      !ossl::set_public_key(cert.get(), input.public_key_der) ||
      ::X509_time_adj_ex(::X509_getm_notBefore(cert.get()), 0, static_cast<long>(not_before - now), &now) == nullptr ||
      ::X509_time_adj_ex(::X509_getm_notAfter(cert.get()), 0, static_cast<long>(not_after - now), &now) == nullptr) {
    return fail(ErrorCode::kSystemFailure, "cannot build certificate: " + ossl::drain_errors());
  }
  // Never outlive the CA certificate (RFC 5280 6.1: the path would not validate after it).
  if (::ASN1_TIME_compare(::X509_get0_notAfter(cert.get()), ::X509_get0_notAfter(certificate())) > 0) {
    ::X509_set1_notAfter(cert.get(), ::X509_get0_notAfter(certificate()));
  }

  ::X509V3_CTX ctx;
  ::X509V3_set_ctx(&ctx, const_cast<::X509*>(certificate()), cert.get(), nullptr, nullptr, 0);
  const bool is_rsa = ::EVP_PKEY_get_base_id(key->get()) == EVP_PKEY_RSA;
  const std::string key_usage = "critical," + (!profile.key_usage.empty() ? profile.key_usage
                                               : is_rsa                   ? "digitalSignature,keyEncipherment"
                                                                          : "digitalSignature");
  for (auto [nid, value] :
       {std::pair{NID_basic_constraints, "critical,CA:FALSE"}, std::pair{NID_key_usage, key_usage.c_str()},
        std::pair{NID_subject_key_identifier, "hash"}, std::pair{NID_authority_key_identifier, "keyid:always"}}) {
    if (auto ok = add_extension(cert.get(), &ctx, nid, value); !ok) return tl::unexpected(ok.error());
  }
  if (auto ok = add_profile_usages(cert.get(), &ctx, profile); !ok) return tl::unexpected(ok.error());
  if (auto ok = add_repository_urls(cert.get(), &ctx, profile); !ok) return tl::unexpected(ok.error());
  if (auto ok = copy_requested_extensions(cert.get(), input.extensions_der, profile); !ok) {
    return tl::unexpected(ok.error());
  }

  const bool signed_ok = [&] {
    ScopedTimer timer(m_sign_certificate);
    ScopedUse session(m_signing.get());
    return ::X509_sign(cert.get(), m_signer->signing_key(), m_signer->digest()) > 0;
  }();
  if (!signed_ok) {
    return fail(ErrorCode::kSystemUnavailable, "HSM could not sign: " + ossl::drain_errors());
  }
  // A faulty HSM or driver must not put a bad signature into the world.
  if (::X509_verify(cert.get(), m_signer->public_key()) != 1) {
    return fail(ErrorCode::kSystemFailure, "HSM signature does not verify: " + ossl::drain_errors());
  }
  // Handed out as built: decoding the signed DER again only to get a key object would cost
  // OpenSSL 3.0's decoder framework about 1.5 million instructions per certificate.
  std::string serial_hex = ossl::integer_hex(::X509_get0_serialNumber(cert.get()));
  return IssuedCertificate{std::move(cert), std::move(serial_hex)};
}

}  // namespace enrolld::ca
