// EST's wire formats (est_codec), as pure functions: base64 in and out (RFC 8951 2.1), PKCS#10
// requests made with OpenSSL's own API, certs-only PKCS#7 and CsrAttrs read back with OpenSSL's
// decoders, and the multipart/mixed body of serverkeygen byte for byte.

#include "protocols/est/est_codec.h"

#include <gtest/gtest.h>

#include <openssl/asn1.h>
#include <openssl/pkcs7.h>

#include "ca/certificate_authority.h"
#include "est_test_util.h"

namespace enrolld::est::test {
namespace {

using Pkcs7Ptr = std::unique_ptr<::PKCS7, ossl::Deleter<::PKCS7_free>>;
using AttributePtr = std::unique_ptr<::X509_ATTRIBUTE, ossl::Deleter<::X509_ATTRIBUTE_free>>;

void free_any_sequence(STACK_OF(ASN1_TYPE) * sequence) {
  sk_ASN1_TYPE_pop_free(sequence, ::ASN1_TYPE_free);
}
using AnySequencePtr = std::unique_ptr<STACK_OF(ASN1_TYPE), ossl::Deleter<free_any_sequence>>;

Bytes bytes_of(std::string_view text) {
  return Bytes(text.begin(), text.end());
}

std::string text_of(const Bytes& bytes) {
  return std::string(bytes.begin(), bytes.end());
}

std::string oid_text(const ::ASN1_OBJECT* object) {
  char text[128] = {};
  ::OBJ_obj2txt(text, sizeof text, object, 1);
  return text;
}

// ---- base64_line -------------------------------------------------------------------------

TEST(EstBase64Test, LineHasNoBreaksEvenForLongInput) {
  const Bytes data = random_bytes(3000);  // EVP_EncodeUpdate would break this every 64 characters
  const std::string line = base64_line(data);
  EXPECT_EQ(line.size(), 4000u);
  EXPECT_EQ(line.find_first_of("\r\n \t"), std::string::npos);
  EXPECT_EQ(line, b64(data));
}

TEST(EstBase64Test, KnownVectors) {
  // RFC 4648 section 10.
  EXPECT_EQ(base64_line(bytes_of("")), "");
  EXPECT_EQ(base64_line(bytes_of("f")), "Zg==");
  EXPECT_EQ(base64_line(bytes_of("fo")), "Zm8=");
  EXPECT_EQ(base64_line(bytes_of("foo")), "Zm9v");
  EXPECT_EQ(base64_line(bytes_of("foob")), "Zm9vYg==");
  EXPECT_EQ(base64_line(bytes_of("fooba")), "Zm9vYmE=");
  EXPECT_EQ(base64_line(bytes_of("foobar")), "Zm9vYmFy");
}

TEST(EstBase64Test, RoundTripsEveryLength) {
  for (std::size_t length = 1; length <= 100; ++length) {
    const Bytes data = random_bytes(length);
    const std::string line = base64_line(data);
    EXPECT_EQ(line.find('\n'), std::string::npos);
    auto decoded = decode_base64(line);
    ASSERT_TRUE(decoded.has_value()) << "length " << length;
    EXPECT_EQ(to_hex(*decoded), to_hex(data)) << "length " << length;
  }
}

// ---- decode_base64 -----------------------------------------------------------------------

TEST(EstBase64Test, DecodesWithAndWithoutPadding) {
  EXPECT_EQ(decode_base64("Zg==").value_or(Bytes{}), bytes_of("f"));
  EXPECT_EQ(decode_base64("Zm8=").value_or(Bytes{}), bytes_of("fo"));
  EXPECT_EQ(decode_base64("Zm9vYmFy").value_or(Bytes{}), bytes_of("foobar"));
  // Bytes that decode to zeros and 0xff survive (no C-string handling anywhere).
  EXPECT_EQ(to_hex(decode_base64("AAD/").value_or(Bytes{})), "0000ff");
}

TEST(EstBase64Test, AcceptsLineBreaksAndSpacesPerRfc8951) {
  const Bytes data = random_bytes(200);
  const std::string line = b64(data);
  // PEM-like 64-character lines with CRLF, LF only, and stray spaces and tabs.
  std::string crlf, lf, spaced;
  for (std::size_t at = 0; at < line.size(); at += 64) {
    crlf += line.substr(at, 64) + "\r\n";
    lf += line.substr(at, 64) + "\n";
  }
  for (std::size_t at = 0; at < line.size(); at += 7) spaced += line.substr(at, 7) + (at % 2 ? " " : "\t");
  for (const std::string& text : {crlf, lf, spaced, "\r\n" + line + "\r\n", "  " + line}) {
    auto decoded = decode_base64(text);
    ASSERT_TRUE(decoded.has_value()) << text;
    EXPECT_EQ(to_hex(*decoded), to_hex(data));
  }
  // White space inside the padding too.
  EXPECT_EQ(decode_base64("Zg=\r\n=").value_or(Bytes{}), bytes_of("f"));
}

TEST(EstBase64Test, RefusesWhatIsNotBase64) {
  EXPECT_FALSE(decode_base64(""));
  EXPECT_FALSE(decode_base64(" \r\n "));
  // Characters outside the alphabet, including the URL-safe alphabet and NUL.
  EXPECT_FALSE(decode_base64("Zm9v*mFy"));
  EXPECT_FALSE(decode_base64("Zm9v-mFy"));
  EXPECT_FALSE(decode_base64("Zm9v_mFy"));
  EXPECT_FALSE(decode_base64("Zm9v.mFy"));
  EXPECT_FALSE(decode_base64(std::string_view("Zm9v\0mFy", 8)));
  EXPECT_FALSE(decode_base64("Zm9vYmFy\xc3\xa9"));
  // A length that is not a multiple of four.
  EXPECT_FALSE(decode_base64("Zm9vY"));
  EXPECT_FALSE(decode_base64("Zm9vYmF"));
  EXPECT_FALSE(decode_base64("Zg="));
  EXPECT_FALSE(decode_base64("Z"));
  // '=' anywhere but at the very end.
  EXPECT_FALSE(decode_base64("Zg==Zm9v"));
  EXPECT_FALSE(decode_base64("Z=9v"));
  EXPECT_FALSE(decode_base64("Zm=v"));
  EXPECT_FALSE(decode_base64("Z==="));
  EXPECT_FALSE(decode_base64("===="));
  EXPECT_FALSE(decode_base64("Zg=\r\nZm9v="));
}

// ---- parse_certification_request ---------------------------------------------------------

class EstCsrTest : public ::testing::Test {
 protected:
  ossl::EvpPkeyPtr key = p256_key();
};

TEST_F(EstCsrTest, ReadsSubjectKeyAndRequestedExtensions) {
  CsrSpec spec;
  spec.subject = "CN=device-1.example,O=Example";
  spec.subject_alt_names = "DNS:device-1.example,IP:192.0.2.7";
  const Bytes der = make_csr(spec, key.get());

  auto info = parse_certification_request(der);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(to_hex(info->der), to_hex(der));
  EXPECT_EQ(to_hex(info->subject_der), to_hex(ossl::der_of(name_of(spec.subject).get())));
  EXPECT_EQ(to_hex(info->public_key_der), to_hex(ossl::der_of_public_key(key.get())));
  EXPECT_FALSE(info->challenge_password.has_value());
  EXPECT_FALSE(info->asymmetric_decrypt_key_id.has_value());
  EXPECT_FALSE(info->symmetric_decrypt_key_requested);

  // The extensions come back as DER Extensions holding the SAN as requested.
  EXPECT_EQ(to_hex(info->extensions_der), to_hex(san_extensions(spec.subject_alt_names)));
  const unsigned char* p = info->extensions_der.data();
  ossl::X509ExtensionsPtr extensions(
      ::d2i_X509_EXTENSIONS(nullptr, &p, static_cast<long>(info->extensions_der.size())));
  ASSERT_NE(extensions, nullptr);
  ASSERT_EQ(sk_X509_EXTENSION_num(extensions.get()), 1);
  std::unique_ptr<GENERAL_NAMES, ossl::Deleter<::GENERAL_NAMES_free>> names(
      static_cast<GENERAL_NAMES*>(::X509V3_get_d2i(extensions.get(), NID_subject_alt_name, nullptr, nullptr)));
  ASSERT_NE(names, nullptr);
  ASSERT_EQ(sk_GENERAL_NAME_num(names.get()), 2);
  const ::GENERAL_NAME* dns = sk_GENERAL_NAME_value(names.get(), 0);
  ASSERT_EQ(dns->type, GEN_DNS);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(::ASN1_STRING_get0_data(dns->d.dNSName)),
                        static_cast<std::size_t>(::ASN1_STRING_length(dns->d.dNSName))),
            "device-1.example");
  EXPECT_EQ(sk_GENERAL_NAME_value(names.get(), 1)->type, GEN_IPADD);
}

TEST_F(EstCsrTest, NoExtensionRequestGivesNoExtensions) {
  auto info = parse_certification_request(make_csr(CsrSpec{}, key.get()));
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_TRUE(info->extensions_der.empty());
}

TEST_F(EstCsrTest, ReadsChallengePasswordAsUtf8StringOrPrintableString) {
  const std::string binding = b64(random_bytes(32));  // what a channel binding looks like
  for (int type : {V_ASN1_UTF8STRING, V_ASN1_PRINTABLESTRING}) {
    CsrSpec spec;
    spec.challenge_password = binding;
    spec.challenge_password_type = type;
    auto info = parse_certification_request(make_csr(spec, key.get()));
    ASSERT_TRUE(info) << info.error().message;
    ASSERT_TRUE(info->challenge_password.has_value()) << "type " << type;
    EXPECT_EQ(*info->challenge_password, binding);
  }
  // UTF-8 beyond ASCII comes back as the same octets.
  CsrSpec spec;
  spec.challenge_password =
      "gr\xc3\xbc\xc3\x9f"
      "e";
  auto info = parse_certification_request(make_csr(spec, key.get()));
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->challenge_password.value_or(""),
            "gr\xc3\xbc\xc3\x9f"
            "e");
}

TEST_F(EstCsrTest, ChallengePasswordThatIsNotAStringIsBadDataFormat) {
  CsrSpec spec;
  spec.challenge_password = std::string("\x05", 1);
  spec.challenge_password_type = V_ASN1_INTEGER;
  auto info = parse_certification_request(make_csr(spec, key.get()));
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, ErrorCode::kBadDataFormat);
}

TEST_F(EstCsrTest, AttributeTwiceIsBadDataFormat) {
  CsrSpec spec;
  spec.challenge_password = "first-and-only";
  const Bytes twice = with_first_attribute_twice(make_csr(spec, key.get()), key.get());
  // The doubled request itself is well formed and correctly signed.
  {
    const unsigned char* p = twice.data();
    ossl::X509ReqPtr request(::d2i_X509_REQ(nullptr, &p, static_cast<long>(twice.size())));
    ASSERT_NE(request, nullptr);
    EXPECT_EQ(::X509_REQ_verify(request.get(), key.get()), 1);
    EXPECT_EQ(::X509_REQ_get_attr_count(request.get()), 2);
  }
  auto info = parse_certification_request(twice);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, ErrorCode::kBadDataFormat);

  CsrSpec keyed;
  keyed.asymmetric_decrypt_key_id = random_bytes(20);
  auto keyed_info = parse_certification_request(with_first_attribute_twice(make_csr(keyed, key.get()), key.get()));
  ASSERT_FALSE(keyed_info);
  EXPECT_EQ(keyed_info.error().code, ErrorCode::kBadDataFormat);
}

TEST_F(EstCsrTest, TrailingBytesAreBadDataFormat) {
  Bytes der = make_csr(CsrSpec{}, key.get());
  ASSERT_TRUE(parse_certification_request(der));
  der.push_back(0x00);
  auto info = parse_certification_request(der);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, ErrorCode::kBadDataFormat);

  // Two requests back to back are not one request either.
  const Bytes one = make_csr(CsrSpec{}, key.get());
  auto doubled = parse_certification_request(concat({one, one}));
  ASSERT_FALSE(doubled);
  EXPECT_EQ(doubled.error().code, ErrorCode::kBadDataFormat);
}

TEST_F(EstCsrTest, NotARequestIsBadDataFormat) {
  for (const Bytes& der : {Bytes{}, Bytes{0x30, 0x00}, Bytes{0x30, 0x03, 0x02, 0x01, 0x00}, random_bytes(64)}) {
    auto info = parse_certification_request(der);
    ASSERT_FALSE(info);
    EXPECT_EQ(info.error().code, ErrorCode::kBadDataFormat);
  }
  const Bytes der = make_csr(CsrSpec{}, key.get());
  auto truncated = parse_certification_request(ByteView(der).first(der.size() - 1));
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error().code, ErrorCode::kBadDataFormat);
}

TEST_F(EstCsrTest, TamperedSignatureIsBadPop) {
  Bytes der = make_csr(CsrSpec{}, key.get());
  der.back() ^= 0x01;  // the last octet of the ECDSA signature's s
  auto info = parse_certification_request(der);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, ErrorCode::kBadPop);
}

TEST_F(EstCsrTest, RequestSignedByAnotherKeyIsBadPop) {
  // The info names `key`, the signature is by another key.
  const Bytes der = make_csr(CsrSpec{}, key.get());
  auto outer = der::read_element(der);
  ASSERT_TRUE(outer);
  auto parts = der::read_children(outer->content);
  ASSERT_TRUE(parts && parts->size() == 3);
  ossl::EvpPkeyPtr other = p256_key();
  auto info = parse_certification_request(sign_request_info(parts->front().whole, other.get()));
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, ErrorCode::kBadPop);
}

TEST_F(EstCsrTest, ReadsAsymmetricDecryptKeyIdentifier) {
  CsrSpec spec;
  spec.asymmetric_decrypt_key_id = random_bytes(20);
  auto info = parse_certification_request(make_csr(spec, key.get()));
  ASSERT_TRUE(info) << info.error().message;
  ASSERT_TRUE(info->asymmetric_decrypt_key_id.has_value());
  EXPECT_EQ(to_hex(*info->asymmetric_decrypt_key_id), to_hex(*spec.asymmetric_decrypt_key_id));
  EXPECT_FALSE(info->symmetric_decrypt_key_requested);
}

TEST_F(EstCsrTest, AsymmetricDecryptKeyIdentifierThatIsNotAnOctetStringIsBadDataFormat) {
  CsrSpec spec;
  spec.attributes.push_back({kAsymmetricDecryptKeyIdOid, V_ASN1_UTF8STRING, bytes_of("not an octet string")});
  auto info = parse_certification_request(make_csr(spec, key.get()));
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, ErrorCode::kBadDataFormat);
}

TEST_F(EstCsrTest, DecryptKeyIdentifierSetsTheFlag) {
  CsrSpec spec;
  spec.decrypt_key_id = random_bytes(16);
  auto info = parse_certification_request(make_csr(spec, key.get()));
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_TRUE(info->symmetric_decrypt_key_requested);
  EXPECT_FALSE(info->asymmetric_decrypt_key_id.has_value());
}

TEST_F(EstCsrTest, ReadsEverythingTogether) {
  CsrSpec spec;
  spec.subject_alt_names = "DNS:device-1.example";
  spec.challenge_password = "channel-binding";
  spec.asymmetric_decrypt_key_id = random_bytes(20);
  spec.decrypt_key_id = random_bytes(16);
  auto info = parse_certification_request(make_csr(spec, key.get()));
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_FALSE(info->extensions_der.empty());
  EXPECT_EQ(info->challenge_password.value_or(""), "channel-binding");
  EXPECT_EQ(to_hex(info->asymmetric_decrypt_key_id.value_or(Bytes{})), to_hex(*spec.asymmetric_decrypt_key_id));
  EXPECT_TRUE(info->symmetric_decrypt_key_requested);
}

// ---- certs_only --------------------------------------------------------------------------

Pkcs7Ptr read_pkcs7(const Bytes& der) {
  const unsigned char* p = der.data();
  Pkcs7Ptr p7(::d2i_PKCS7(nullptr, &p, static_cast<long>(der.size())));
  EXPECT_EQ(p, der.data() + der.size()) << "trailing bytes after the PKCS#7";
  return p7;
}

TEST(EstCertsOnlyTest, CarriesTheCertificatesAndNoContent) {
  const Credential root = make_credential("CN=Codec Root");
  const Credential leaf = make_credential("CN=Codec Leaf", &root);
  const std::vector<Bytes> certs = {ossl::der_of(leaf.cert.get()), ossl::der_of(root.cert.get())};

  auto bag = certs_only(certs);
  ASSERT_TRUE(bag) << bag.error().message;
  Pkcs7Ptr p7 = read_pkcs7(*bag);
  ASSERT_NE(p7, nullptr) << ossl::drain_errors();
  ASSERT_TRUE(PKCS7_type_is_signed(p7.get()));
  const ::PKCS7_SIGNED* sign = p7->d.sign;
  // Degenerate: no signers, and the encapsulated content is id-data without any octets.
  EXPECT_EQ(sk_PKCS7_SIGNER_INFO_num(sign->signer_info), 0);
  ASSERT_NE(sign->contents, nullptr);
  EXPECT_TRUE(PKCS7_type_is_data(sign->contents));
  EXPECT_EQ(sign->contents->d.data, nullptr);
  EXPECT_EQ(PKCS7_get_detached(p7.get()), 1);
  EXPECT_LE(sk_X509_CRL_num(sign->crl), 0);  // no CRLs: absent (-1) or empty
  // The certificates in the order given.
  ASSERT_EQ(sk_X509_num(sign->cert), 2);
  EXPECT_EQ(to_hex(ossl::der_of(sk_X509_value(sign->cert, 0))), to_hex(certs[0]));
  EXPECT_EQ(to_hex(ossl::der_of(sk_X509_value(sign->cert, 1))), to_hex(certs[1]));
}

TEST(EstCertsOnlyTest, SingleCertificate) {
  const Credential one = make_credential("CN=Only");
  auto bag = certs_only({ossl::der_of(one.cert.get())});
  ASSERT_TRUE(bag) << bag.error().message;
  Pkcs7Ptr p7 = read_pkcs7(*bag);
  ASSERT_NE(p7, nullptr);
  ASSERT_TRUE(PKCS7_type_is_signed(p7.get()));
  ASSERT_EQ(sk_X509_num(p7->d.sign->cert), 1);
  EXPECT_EQ(::X509_cmp(sk_X509_value(p7->d.sign->cert, 0), one.cert.get()), 0);
}

TEST(EstCertsOnlyTest, NotACertificateIsSystemFailure) {
  auto bag = certs_only({Bytes{0x30, 0x03, 0x02, 0x01, 0x01}});
  ASSERT_FALSE(bag);
  EXPECT_EQ(bag.error().code, ErrorCode::kSystemFailure);
}

// ---- csr_attributes ----------------------------------------------------------------------

TEST(EstCsrAttributesTest, ProfileThatAsksForNothingGivesNothing) {
  ra::ProfileInfo profile;
  profile.name = "default";
  profile.restricts_keys = false;
  // Key algorithms are listed, but the profile takes any key the CA supports: nothing to say.
  profile.key_algorithms = {ca::algorithm_identifier_der({EVP_PKEY_EC, NID_X9_62_prime256v1, 0})};
  EXPECT_TRUE(csr_attributes(profile).empty());
}

TEST(EstCsrAttributesTest, ChannelBindingAloneAsksForChallengePassword) {
  ra::ProfileInfo profile;
  profile.requires_channel_binding = true;
  const Bytes der = csr_attributes(profile);
  // SEQUENCE { OBJECT IDENTIFIER challengePassword }
  EXPECT_EQ(to_hex(der), "300b06092a864886f70d010907");
}

TEST(EstCsrAttributesTest, KeyTypesAndChannelBindingReadBack) {
  ra::ProfileInfo profile;
  profile.name = "bound";
  profile.restricts_keys = true;
  profile.requires_channel_binding = true;
  profile.key_algorithms = {ca::algorithm_identifier_der({EVP_PKEY_EC, NID_X9_62_prime256v1, 0}),
                            ca::algorithm_identifier_der({EVP_PKEY_RSA, 0, 3072})};
  const Bytes der = csr_attributes(profile);
  ASSERT_FALSE(der.empty());

  // CsrAttrs ::= SEQUENCE OF AttrOrOID; AttrOrOID ::= CHOICE { oid, attribute }.
  const unsigned char* p = der.data();
  AnySequencePtr items(::d2i_ASN1_SEQUENCE_ANY(nullptr, &p, static_cast<long>(der.size())));
  ASSERT_NE(items, nullptr) << ossl::drain_errors();
  EXPECT_EQ(p, der.data() + der.size());
  ASSERT_EQ(sk_ASN1_TYPE_num(items.get()), 3);

  // 1. Attribute { id-ecPublicKey, SET { prime256v1 } } (RFC 7030 4.5.2's example).
  const ::ASN1_TYPE* ec = sk_ASN1_TYPE_value(items.get(), 0);
  ASSERT_EQ(ec->type, V_ASN1_SEQUENCE);
  const unsigned char* q = ec->value.sequence->data;
  AttributePtr attribute(::d2i_X509_ATTRIBUTE(nullptr, &q, ec->value.sequence->length));
  ASSERT_NE(attribute, nullptr) << ossl::drain_errors();
  EXPECT_EQ(::OBJ_obj2nid(::X509_ATTRIBUTE_get0_object(attribute.get())), NID_X9_62_id_ecPublicKey);
  ASSERT_EQ(::X509_ATTRIBUTE_count(attribute.get()), 1);
  const ::ASN1_TYPE* curve = ::X509_ATTRIBUTE_get0_type(attribute.get(), 0);
  ASSERT_EQ(curve->type, V_ASN1_OBJECT);
  EXPECT_EQ(::OBJ_obj2nid(curve->value.object), NID_X9_62_prime256v1);

  // 2. rsaEncryption, as a bare OID (its parameters are NULL: nothing to name).
  const ::ASN1_TYPE* rsa = sk_ASN1_TYPE_value(items.get(), 1);
  ASSERT_EQ(rsa->type, V_ASN1_OBJECT);
  EXPECT_EQ(::OBJ_obj2nid(rsa->value.object), NID_rsaEncryption);

  // 3. challengePassword: the client must send the channel binding (RFC 7030 3.5).
  const ::ASN1_TYPE* password = sk_ASN1_TYPE_value(items.get(), 2);
  ASSERT_EQ(password->type, V_ASN1_OBJECT);
  EXPECT_EQ(oid_text(password->value.object), "1.2.840.113549.1.9.7");
}

TEST(EstCsrAttributesTest, KeyTypesWithoutChannelBinding) {
  ra::ProfileInfo profile;
  profile.restricts_keys = true;
  profile.key_algorithms = {ca::algorithm_identifier_der({EVP_PKEY_EC, NID_secp384r1, 0})};
  const Bytes der = csr_attributes(profile);
  const unsigned char* p = der.data();
  AnySequencePtr items(::d2i_ASN1_SEQUENCE_ANY(nullptr, &p, static_cast<long>(der.size())));
  ASSERT_NE(items, nullptr);
  ASSERT_EQ(sk_ASN1_TYPE_num(items.get()), 1);
  EXPECT_EQ(sk_ASN1_TYPE_value(items.get(), 0)->type, V_ASN1_SEQUENCE);
}

// ---- multipart_mixed ---------------------------------------------------------------------

TEST(EstMultipartTest, PartsAreBase64WithCrlfAndBoundaries) {
  const Bytes key = random_bytes(121);
  const Bytes cert = random_bytes(700);
  const Bytes body = multipart_mixed(
      {MimePart{"application/pkcs8", key}, MimePart{"application/pkcs7-mime; smime-type=certs-only", cert}},
      "est-b0undary");
  const std::string expected =
      "--est-b0undary\r\n"
      "Content-Type: application/pkcs8\r\n"
      "Content-Transfer-Encoding: base64\r\n"
      "\r\n" +
      b64(key) +
      "\r\n"
      "--est-b0undary\r\n"
      "Content-Type: application/pkcs7-mime; smime-type=certs-only\r\n"
      "Content-Transfer-Encoding: base64\r\n"
      "\r\n" +
      b64(cert) +
      "\r\n"
      "--est-b0undary--\r\n";
  EXPECT_EQ(text_of(body), expected);
  // Every line ends in CRLF: no bare LF anywhere, and each base64 body is one line.
  const std::string text = text_of(body);
  for (std::size_t at = text.find('\n'); at != std::string::npos; at = text.find('\n', at + 1)) {
    ASSERT_GT(at, 0u);
    EXPECT_EQ(text[at - 1], '\r') << "bare LF at " << at;
  }
}

TEST(EstMultipartTest, NoPartsIsOnlyTheClosingBoundary) {
  EXPECT_EQ(text_of(multipart_mixed({}, "b")), "--b--\r\n");
}

TEST(EstMultipartTest, EmptyPartBody) {
  EXPECT_EQ(text_of(multipart_mixed({MimePart{"text/plain", {}}}, "x")),
            "--x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n\r\n--x--\r\n");
}

}  // namespace
}  // namespace enrolld::est::test
