// PKCS#10 requests read with the key kept encoded: what OpenSSL's own X509_REQ reads of the same
// bytes (subject, key, extensions), the self-signature checked, and the refusals.
#include "common/pkcs10.h"

#include <algorithm>
#include <initializer_list>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "common/der.h"

namespace enrolld::pkcs10 {
namespace {

using ReqPtr = std::unique_ptr<::X509_REQ, ossl::Deleter<::X509_REQ_free>>;

Bytes concat_bytes(std::initializer_list<ByteView> parts) {
  Bytes out;
  for (ByteView part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

// A CSR made with OpenSSL for `key`, asking for a subjectAltName and carrying a challengePassword.
Bytes openssl_csr(::EVP_PKEY* key) {
  ReqPtr req(::X509_REQ_new());
  ::X509_NAME_add_entry_by_txt(::X509_REQ_get_subject_name(req.get()), "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>("device-1"), -1, -1, 0);
  ::X509_REQ_set_pubkey(req.get(), key);
  ossl::X509ExtensionsPtr exts(sk_X509_EXTENSION_new_null());
  sk_X509_EXTENSION_push(exts.get(),
                         ::X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, "DNS:device-1.example"));
  ::X509_REQ_add_extensions(req.get(), exts.get());
  ::X509_REQ_add1_attr_by_NID(req.get(), NID_pkcs9_challengePassword, MBSTRING_ASC,
                              reinterpret_cast<const unsigned char*>("binding"), -1);
  EXPECT_GT(::X509_REQ_sign(req.get(), key, ::EVP_sha256()), 0);
  return ossl::der_with(req.get(), ::i2d_X509_REQ);
}

ossl::EvpPkeyPtr p256() {
  return ossl::EvpPkeyPtr(::EVP_EC_gen("P-256"));
}

TEST(Pkcs10, ReadsWhatOpenSslReadsOfTheSameRequest) {
  for (auto* make : {+[] { return p256(); }, +[] { return ossl::EvpPkeyPtr(::EVP_RSA_gen(2048)); }}) {
    ossl::EvpPkeyPtr key = make();
    const Bytes der = openssl_csr(key.get());
    auto request = parse(der);
    ASSERT_TRUE(request) << request.error().message;
    const unsigned char* p = der.data();
    ReqPtr theirs(::d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
    ASSERT_TRUE(theirs);
    EXPECT_EQ(to_hex(request->subject_der), to_hex(ossl::der_of(::X509_REQ_get_subject_name(theirs.get()))));
    EXPECT_EQ(to_hex(request->public_key_der), to_hex(ossl::der_of_public_key(key.get())));
    ossl::X509ExtensionsPtr exts(::X509_REQ_get_extensions(theirs.get()));
    auto requested = requested_extensions(*request);
    ASSERT_TRUE(requested) << requested.error().message;
    EXPECT_EQ(to_hex(*requested), to_hex(ossl::der_with(exts.get(), ::i2d_X509_EXTENSIONS)));
    auto password = single_value(*request, ::OBJ_nid2obj(NID_pkcs9_challengePassword));
    ASSERT_TRUE(password && *password);
    const ::ASN1_STRING* text = (**password)->value.asn1_string;
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(::ASN1_STRING_get0_data(text)), ::ASN1_STRING_length(text)),
              "binding");
  }
}

TEST(Pkcs10, ABrokenSignatureIsBadPopAndOtherBytesBadDataFormat) {
  ossl::EvpPkeyPtr key = p256();
  Bytes der = openssl_csr(key.get());
  Bytes flipped = der;
  flipped.back() ^= 0x01;  // the last octet of the signature
  auto broken = parse(flipped);
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().code, ErrorCode::kBadPop);

  Bytes trailing = der;
  trailing.push_back(0x00);
  EXPECT_EQ(parse(trailing).error().code, ErrorCode::kBadDataFormat);
  EXPECT_EQ(parse(to_bytes("not a request")).error().code, ErrorCode::kBadDataFormat);
  EXPECT_EQ(parse({}).error().code, ErrorCode::kBadDataFormat);
}

// The signature covers the CertificationRequestInfo as the requester encoded it: attributes in
// an order DER would not sort them into must still verify (a re-encoding would sort them).
TEST(Pkcs10, TheSignatureIsCheckedOverTheBytesAsReceived) {
  ossl::EvpPkeyPtr key = p256();
  const Bytes name = der::sequence(der::element(
      0x31, der::sequence(concat_bytes({Bytes{0x06, 0x03, 0x55, 0x04, 0x03}, der::element(0x0c, to_bytes("x"))}))));
  // challengePassword (1.2.840.113549.1.9.7) after a longer attribute of a private OID: in DER
  // order the shorter encoding would come first.
  const Bytes long_attr =
      der::sequence(concat_bytes({Bytes{0x06, 0x04, 0x2a, 0x03, 0x04, 0x05},
                                  der::element(0x31, der::element(0x0c, to_bytes("a much longer value")))}));
  const Bytes password =
      der::sequence(concat_bytes({Bytes{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x07},
                                  der::element(0x31, der::element(0x13, to_bytes("pw")))}));
  const Bytes info = der::sequence(concat_bytes({Bytes{0x02, 0x01, 0x00}, name, ossl::der_of_public_key(key.get()),
                                                 der::element(0xa0, concat_bytes({long_attr, password}))}));
  ossl::EvpMdCtxPtr ctx(::EVP_MD_CTX_new());
  std::size_t length = 0;
  ASSERT_EQ(::EVP_DigestSignInit(ctx.get(), nullptr, ::EVP_sha256(), nullptr, key.get()), 1);
  ASSERT_EQ(::EVP_DigestSign(ctx.get(), nullptr, &length, info.data(), info.size()), 1);
  Bytes signature(length);
  ASSERT_EQ(::EVP_DigestSign(ctx.get(), signature.data(), &length, info.data(), info.size()), 1);
  signature.resize(length);
  const Bytes ecdsa_with_sha256 = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
  const Bytes csr = der::sequence(
      concat_bytes({info, ecdsa_with_sha256, der::element(0x03, concat_bytes({Bytes{0x00}, signature}))}));
  auto request = parse(csr);
  ASSERT_TRUE(request) << request.error().message;
  auto value = single_value(*request, ::OBJ_nid2obj(NID_pkcs9_challengePassword));
  ASSERT_TRUE(value && *value);
}

TEST(Pkcs10, AKeyThatCannotBeBuiltIsBadAlgorithm) {
  // An EC key on a curve OpenSSL does not know: the signature cannot even be checked.
  ossl::EvpPkeyPtr key = p256();
  Bytes der = openssl_csr(key.get());
  const Bytes prime256v1 = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
  auto at = std::search(der.begin(), der.end(), prime256v1.begin(), prime256v1.end());
  ASSERT_NE(at, der.end());
  *(at + 9) = 0x7f;  // 1.2.840.10045.3.1.127
  auto request = parse(der);
  ASSERT_FALSE(request);
  EXPECT_EQ(request.error().code, ErrorCode::kBadAlgorithm);
}

}  // namespace
}  // namespace enrolld::pkcs10
