// The OCSP responder (RFC 6960) as a relying party sees it: requests built and responses checked
// with OpenSSL's own OCSP client API, responses signed inside SoftHSM.
#include "ca/ocsp_responder.h"

#include <gtest/gtest.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <ctime>
#include <map>
#include <stdexcept>
#include <thread>

#include "ca/ca_certificates.h"
#include "hsm/software_signer.h"
#include "support/faulty_signer.h"
#include "support/softhsm_fixture.h"

namespace enrolld::ca {
namespace {

using RequestPtr = std::unique_ptr<::OCSP_REQUEST, ossl::Deleter<::OCSP_REQUEST_free>>;
using ResponsePtr = std::unique_ptr<::OCSP_RESPONSE, ossl::Deleter<::OCSP_RESPONSE_free>>;
using BasicPtr = std::unique_ptr<::OCSP_BASICRESP, ossl::Deleter<::OCSP_BASICRESP_free>>;
using CertIdPtr = std::unique_ptr<::OCSP_CERTID, ossl::Deleter<::OCSP_CERTID_free>>;
using StorePtr = std::unique_ptr<::X509_STORE, ossl::Deleter<::X509_STORE_free>>;
using testing::FaultySigner;
using testing::mismatched_key_pair;

constexpr std::chrono::seconds kValidity = std::chrono::hours(4);
constexpr int kKeyCompromise = 1;
constexpr int kCertificateHold = 6;
constexpr std::int64_t kRevokedAt = 1700000000;

std::int64_t seconds_of(std::chrono::system_clock::time_point at) {
  return std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count();
}

std::int64_t seconds_of(const ::ASN1_TIME* time) {
  std::tm tm{};
  if (time == nullptr || ::ASN1_TIME_to_tm(time, &tm) != 1) return -1;
  return ::timegm(&tm);
}

// A request as a relying party builds it; `request` is kept for OCSP_check_nonce.
struct ClientRequest {
  RequestPtr request;
  Bytes der;
};

ClientRequest make_request(const std::vector<const ::OCSP_CERTID*>& ids, int nonce_octets = 0,
                           const Bytes& nonce = {}) {
  ClientRequest out{RequestPtr(::OCSP_REQUEST_new()), {}};
  for (const ::OCSP_CERTID* id : ids) {
    ::OCSP_CERTID* copy = ::OCSP_CERTID_dup(id);
    if (::OCSP_request_add0_id(out.request.get(), copy) == nullptr) ::OCSP_CERTID_free(copy);
  }
  if (!nonce.empty()) {
    ::OCSP_request_add1_nonce(out.request.get(), const_cast<unsigned char*>(nonce.data()),
                              static_cast<int>(nonce.size()));
  } else if (nonce_octets > 0) {
    ::OCSP_request_add1_nonce(out.request.get(), nullptr, nonce_octets);  // random, like `openssl ocsp`
  }
  out.der = ossl::der_with(out.request.get(), ::i2d_OCSP_REQUEST);
  return out;
}

// A request whose nonce extension holds `extn_value` as it is (OpenSSL's API always wraps it).
Bytes request_with_raw_nonce(const ::OCSP_CERTID* id, const Bytes& extn_value) {
  ClientRequest request = make_request({id});
  ossl::Asn1OctetStringPtr value(::ASN1_OCTET_STRING_new());
  ::ASN1_OCTET_STRING_set(value.get(), extn_value.data(), static_cast<int>(extn_value.size()));
  ossl::X509ExtensionPtr ext(::X509_EXTENSION_create_by_NID(nullptr, NID_id_pkix_OCSP_Nonce, 0, value.get()));
  ::OCSP_REQUEST_add_ext(request.request.get(), ext.get(), -1);
  return ossl::der_with(request.request.get(), ::i2d_OCSP_REQUEST);
}

ResponsePtr decode_response(const Bytes& der) {
  const unsigned char* p = der.data();
  ResponsePtr response(::d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
  return p == der.data() + der.size() ? std::move(response) : nullptr;
}

int response_status(const OcspAnswer& answer) {
  ResponsePtr response = decode_response(answer.der);
  return response ? ::OCSP_response_status(response.get()) : -1;
}

BasicPtr basic_of(const OcspAnswer& answer) {
  ResponsePtr response = decode_response(answer.der);
  if (!response || ::OCSP_response_status(response.get()) != OCSP_RESPONSE_STATUS_SUCCESSFUL) return nullptr;
  return BasicPtr(::OCSP_response_get1_basic(response.get()));
}

// What OCSP_resp_find_status says of one certificate; status -1 when the response lacks it.
struct SingleStatus {
  int status = -1;
  int reason = -2;
  std::int64_t revoked_at = -1;
  std::int64_t this_update = -1;
  std::int64_t next_update = -1;
  ::ASN1_GENERALIZEDTIME* this_update_asn1 = nullptr;
  ::ASN1_GENERALIZEDTIME* next_update_asn1 = nullptr;
};

SingleStatus find_status(::OCSP_BASICRESP* basic, const ::OCSP_CERTID* id) {
  SingleStatus found;
  ::ASN1_GENERALIZEDTIME* revoked_at = nullptr;
  if (::OCSP_resp_find_status(basic, const_cast<::OCSP_CERTID*>(id), &found.status, &found.reason, &revoked_at,
                              &found.this_update_asn1, &found.next_update_asn1) != 1) {
    return SingleStatus{};
  }
  found.revoked_at = seconds_of(revoked_at);
  found.this_update = seconds_of(found.this_update_asn1);
  found.next_update = seconds_of(found.next_update_asn1);
  return found;
}

// SHA-1 of a certificate's public key, as ResponderID byKey carries it (RFC 6960 4.2.1).
Bytes key_hash(const ::X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  ::X509_pubkey_digest(cert, ::EVP_sha1(), md, &len);
  return Bytes(md, md + len);
}

Bytes responder_key_hash(const ::OCSP_BASICRESP* basic) {
  const ::ASN1_OCTET_STRING* by_key = nullptr;
  const ::X509_NAME* by_name = nullptr;
  if (::OCSP_resp_get0_id(basic, &by_key, &by_name) != 1 || by_key == nullptr || by_name != nullptr) return {};
  return Bytes(::ASN1_STRING_get0_data(by_key), ::ASN1_STRING_get0_data(by_key) + ::ASN1_STRING_length(by_key));
}

class OcspResponderTest : public ::testing::Test {
 protected:
  testing::SoftHsmToken token{
      {{"root", hsm::KeyType::kEcP256}, {"issuing", hsm::KeyType::kEcP256}, {"ocsp", hsm::KeyType::kEcP256}}};
  testing::TestCa test_ca = testing::make_test_ca(token);
  // Whole seconds, as OCSP times are; near the real time so that OCSP_check_validity agrees.
  std::chrono::system_clock::time_point now =
      std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  Clock clock = [this] { return now; };

  std::map<std::string, CertificateStatus> store;  // serial → status; missing: unknown
  std::atomic<int> lookups = 0;
  StatusLookup lookup = [this](const std::string& serial) -> Result<CertificateStatus> {
    ++lookups;
    const auto found = store.find(serial);
    return found == store.end() ? CertificateStatus{} : found->second;
  };

  const ::X509* ca_certificate() const { return test_ca.issuing->certificate(); }

  // A certificate of the issuing CA, good in the store.
  IssuedCertificate issue(const std::string& common_name) {
    ossl::EvpPkeyPtr key = testing::make_ec_key();
    auto issued =
        test_ca.issuing->issue({testing::name_der("CN=" + common_name), testing::public_key_der(key.get()), {}},
                               Profile{}, [](const std::string&) -> Result<bool> { return false; });
    if (!issued) throw std::runtime_error(issued.error().message);
    store[issued->serial_hex] = CertificateStatus{CertificateStatus::Kind::kGood, 0, 0};
    return std::move(*issued);
  }

  CertIdPtr id_of(const IssuedCertificate& cert, const ::EVP_MD* md = ::EVP_sha1()) const {
    return CertIdPtr(::OCSP_cert_to_id(md, cert.certificate.get(), ca_certificate()));
  }

  void revoke(const IssuedCertificate& cert, int reason) {
    store[cert.serial_hex] = CertificateStatus{CertificateStatus::Kind::kRevoked, kRevokedAt, reason};
  }

  // The issuing CA answers for itself.
  std::unique_ptr<OcspResponder> ca_responder(std::size_t cache_entries = 10000) {
    return std::make_unique<OcspResponder>(*test_ca.issuing, test_ca.issuing->signer(),
                                           ossl::up_ref(const_cast<::X509*>(ca_certificate())), kValidity, clock,
                                           cache_entries);
  }

  // OCSP_basic_verify as a relying party calls it: the root trusted, the CA chain alongside.
  int verify(::OCSP_BASICRESP* basic, const ::X509* trusted = nullptr) const {
    StorePtr store_of_roots(::X509_STORE_new());
    ::X509_STORE_add_cert(store_of_roots.get(), const_cast<::X509*>(trusted ? trusted : test_ca.root.get()));
    ossl::X509StackPtr chain(sk_X509_new_null());
    sk_X509_push(chain.get(), ossl::up_ref(const_cast<::X509*>(ca_certificate())).release());
    const int verified = ::OCSP_basic_verify(basic, chain.get(), store_of_roots.get(), 0);
    ossl::drain_errors();
    return verified;
  }
};

// ---- statuses (RFC 6960 2.2) ----

TEST_F(OcspResponderTest, AnswersGoodForAGoodCertificateSignedByTheCa) {
  auto cert = issue("device-good");
  auto id = id_of(cert);
  ClientRequest request = make_request({id.get()});
  OcspAnswer answer = ca_responder()->respond(request.der, lookup);
  ASSERT_EQ(answer.response_status, OCSP_RESPONSE_STATUS_SUCCESSFUL) << answer.problem;
  EXPECT_TRUE(answer.problem.empty());
  EXPECT_FALSE(answer.from_cache);
  EXPECT_EQ(response_status(answer), OCSP_RESPONSE_STATUS_SUCCESSFUL);
  BasicPtr basic = basic_of(answer);
  ASSERT_TRUE(basic);
  EXPECT_EQ(verify(basic.get()), 1);
  SingleStatus status = find_status(basic.get(), id.get());
  EXPECT_EQ(status.status, V_OCSP_CERTSTATUS_GOOD);
  EXPECT_EQ(::OCSP_check_validity(status.this_update_asn1, status.next_update_asn1, 300, -1), 1);
  EXPECT_EQ(lookups.load(), 1);
}

TEST_F(OcspResponderTest, RevokedCarriesTheRevocationTimeAndReason) {
  auto compromised = issue("device-compromised");
  auto held = issue("device-held");
  auto unspecified = issue("device-unspecified");
  revoke(compromised, kKeyCompromise);
  revoke(held, kCertificateHold);
  revoke(unspecified, 0);
  auto compromised_id = id_of(compromised);
  auto held_id = id_of(held);
  auto unspecified_id = id_of(unspecified);
  OcspAnswer answer =
      ca_responder()->respond(make_request({compromised_id.get(), held_id.get(), unspecified_id.get()}).der, lookup);
  BasicPtr basic = basic_of(answer);
  ASSERT_TRUE(basic) << answer.problem;
  EXPECT_EQ(verify(basic.get()), 1);

  SingleStatus status = find_status(basic.get(), compromised_id.get());
  EXPECT_EQ(status.status, V_OCSP_CERTSTATUS_REVOKED);
  EXPECT_EQ(status.reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
  EXPECT_EQ(status.revoked_at, kRevokedAt);
  status = find_status(basic.get(), held_id.get());
  EXPECT_EQ(status.status, V_OCSP_CERTSTATUS_REVOKED);
  EXPECT_EQ(status.reason, OCSP_REVOKED_STATUS_CERTIFICATEHOLD);
  // As on the CRL (RFC 5280 5.3.1): unspecified is written as no reason at all.
  status = find_status(basic.get(), unspecified_id.get());
  EXPECT_EQ(status.status, V_OCSP_CERTSTATUS_REVOKED);
  EXPECT_EQ(status.reason, OCSP_REVOKED_STATUS_NOSTATUS);
}

TEST_F(OcspResponderTest, AnUnknownSerialIsUnknown) {
  auto cert = issue("device-forgotten");
  store.erase(cert.serial_hex);
  auto id = id_of(cert);
  OcspAnswer answer = ca_responder()->respond(make_request({id.get()}).der, lookup);
  BasicPtr basic = basic_of(answer);
  ASSERT_TRUE(basic) << answer.problem;
  EXPECT_EQ(verify(basic.get()), 1);
  EXPECT_EQ(find_status(basic.get(), id.get()).status, V_OCSP_CERTSTATUS_UNKNOWN);
  EXPECT_EQ(lookups.load(), 1);
}

// RFC 6960 2.2: "unknown" ... "usually because the request indicates an unrecognized issuer that
// is not served by this responder".
TEST_F(OcspResponderTest, ACertificateOfAnotherIssuerIsUnknownWithoutALookup) {
  auto good = issue("device-good");
  // The issuing CA's own certificate, asked of its issuer (the root).
  CertIdPtr under_root(::OCSP_cert_to_id(nullptr, ca_certificate(), test_ca.root.get()));
  store[ossl::integer_hex(::X509_get0_serialNumber(ca_certificate()))] =
      CertificateStatus{CertificateStatus::Kind::kGood, 0, 0};
  // The same issuer name with another key, and the serial of a good certificate of ours.
  hsm::SoftwareSigner impostor_signer(testing::make_ec_key());
  auto impostor = make_root_certificate({{{"CN", "Test Issuing CA"}}, std::chrono::hours(24), -1}, impostor_signer);
  ASSERT_TRUE(impostor);
  CertIdPtr same_name(::OCSP_cert_id_new(::EVP_sha1(), ::X509_get_subject_name(ca_certificate()),
                                         ::X509_get0_pubkey_bitstr(impostor->get()),
                                         ::X509_get0_serialNumber(good.certificate.get())));
  for (const ::OCSP_CERTID* id :
       {static_cast<const ::OCSP_CERTID*>(under_root.get()), static_cast<const ::OCSP_CERTID*>(same_name.get())}) {
    OcspAnswer answer = ca_responder()->respond(make_request({id}).der, lookup);
    BasicPtr basic = basic_of(answer);
    ASSERT_TRUE(basic) << answer.problem;
    EXPECT_EQ(find_status(basic.get(), id).status, V_OCSP_CERTSTATUS_UNKNOWN);
  }
  EXPECT_EQ(lookups.load(), 0);
}

TEST_F(OcspResponderTest, AnswersSha256CertIdsAsWellAsSha1AndOtherDigestsAreUnknown) {
  auto cert = issue("device-sha2");
  revoke(cert, kKeyCompromise);
  for (const ::EVP_MD* md : {::EVP_sha1(), ::EVP_sha256(), ::EVP_sha384(), ::EVP_sha512()}) {
    auto id = id_of(cert, md);
    OcspAnswer answer = ca_responder()->respond(make_request({id.get()}).der, lookup);
    BasicPtr basic = basic_of(answer);
    ASSERT_TRUE(basic) << answer.problem;
    // OCSP_resp_find_status matches the whole CertID, hash algorithm included.
    EXPECT_EQ(find_status(basic.get(), id.get()).status, V_OCSP_CERTSTATUS_REVOKED) << ::EVP_MD_get0_name(md);
  }
  const int before = lookups;
  auto md5 = id_of(cert, ::EVP_md5());
  ASSERT_TRUE(md5);
  BasicPtr basic = basic_of(ca_responder()->respond(make_request({md5.get()}).der, lookup));
  ASSERT_TRUE(basic);
  EXPECT_EQ(find_status(basic.get(), md5.get()).status, V_OCSP_CERTSTATUS_UNKNOWN);
  EXPECT_EQ(lookups.load(), before);
}

TEST_F(OcspResponderTest, AnswersSeveralEntriesInTheirOrder) {
  auto good = issue("device-good");
  auto revoked = issue("device-revoked");
  auto forgotten = issue("device-forgotten");
  revoke(revoked, kKeyCompromise);
  store.erase(forgotten.serial_hex);
  CertIdPtr foreign(::OCSP_cert_to_id(nullptr, ca_certificate(), test_ca.root.get()));
  std::vector<CertIdPtr> ids;
  ids.push_back(id_of(revoked));
  ids.push_back(id_of(good, ::EVP_sha256()));
  ids.push_back(std::move(foreign));
  ids.push_back(id_of(forgotten));
  ids.push_back(id_of(good));
  const std::vector<int> expected = {V_OCSP_CERTSTATUS_REVOKED, V_OCSP_CERTSTATUS_GOOD, V_OCSP_CERTSTATUS_UNKNOWN,
                                     V_OCSP_CERTSTATUS_UNKNOWN, V_OCSP_CERTSTATUS_GOOD};
  std::vector<const ::OCSP_CERTID*> raw;
  for (const auto& id : ids) raw.push_back(id.get());

  OcspAnswer answer = ca_responder()->respond(make_request(raw).der, lookup);
  BasicPtr basic = basic_of(answer);
  ASSERT_TRUE(basic) << answer.problem;
  ASSERT_EQ(::OCSP_resp_count(basic.get()), static_cast<int>(ids.size()));
  for (std::size_t i = 0; i < ids.size(); ++i) {
    ::OCSP_SINGLERESP* single = ::OCSP_resp_get0(basic.get(), static_cast<int>(i));
    EXPECT_EQ(::OCSP_id_cmp(::OCSP_SINGLERESP_get0_id(single), ids[i].get()), 0) << "entry " << i;
    EXPECT_EQ(::OCSP_single_get0_status(single, nullptr, nullptr, nullptr, nullptr), expected[i]) << "entry " << i;
  }
}

// ---- nonce (RFC 6960 4.4.1, RFC 8954) ----

TEST_F(OcspResponderTest, EchoesTheNonceAndAddsNoneWhenTheRequestHasNone) {
  auto cert = issue("device-nonce");
  auto id = id_of(cert);
  auto responder = ca_responder();
  for (int octets : {1, 16, 32}) {
    ClientRequest with_nonce = make_request({id.get()}, octets);
    BasicPtr basic = basic_of(responder->respond(with_nonce.der, lookup));
    ASSERT_TRUE(basic) << octets;
    EXPECT_EQ(::OCSP_check_nonce(with_nonce.request.get(), basic.get()), 1) << octets;
  }
  ClientRequest without = make_request({id.get()});
  BasicPtr basic = basic_of(responder->respond(without.der, lookup));
  ASSERT_TRUE(basic);
  EXPECT_EQ(::OCSP_check_nonce(without.request.get(), basic.get()), 2) << "2: absent in both";
  EXPECT_EQ(::OCSP_BASICRESP_get_ext_by_NID(basic.get(), NID_id_pkix_OCSP_Nonce, -1), -1);
}

// RFC 8954 2.1: "A server MUST reject any OCSP request that has a nonce in the Nonce extension
// with a length of either 0 octets or more than 32 octets with the malformedRequest".
TEST_F(OcspResponderTest, RefusesANonceOfMoreThan32OctetsOrNoneOrNotAnOctetString) {
  auto cert = issue("device-nonce");
  auto id = id_of(cert);
  auto responder = ca_responder();
  const Bytes empty_octet_string = {0x04, 0x00};
  const Bytes not_an_octet_string = {0x01, 0x02, 0x03};
  const std::vector<Bytes> refused = {make_request({id.get()}, 33).der, make_request({id.get()}, 64).der,
                                      request_with_raw_nonce(id.get(), empty_octet_string),
                                      request_with_raw_nonce(id.get(), not_an_octet_string)};
  for (std::size_t i = 0; i < refused.size(); ++i) {
    OcspAnswer answer = responder->respond(refused[i], lookup);
    EXPECT_EQ(answer.response_status, OCSP_RESPONSE_STATUS_MALFORMEDREQUEST) << i;
    EXPECT_EQ(response_status(answer), OCSP_RESPONSE_STATUS_MALFORMEDREQUEST) << i;
    EXPECT_NE(answer.problem.find("nonce"), std::string::npos) << answer.problem;
    EXPECT_FALSE(basic_of(answer)) << i;
  }
  EXPECT_EQ(lookups.load(), 0);
  // The same bytes wrapped properly are accepted: the refusals were for the nonce alone.
  const Bytes wrapped = {0x04, 0x03, 0x01, 0x02, 0x03};
  EXPECT_EQ(responder->respond(request_with_raw_nonce(id.get(), wrapped), lookup).response_status,
            OCSP_RESPONSE_STATUS_SUCCESSFUL);
}

// ---- malformed requests (RFC 6960 2.3) ----

TEST_F(OcspResponderTest, MalformedRequestsGetAnUnsignedMalformedRequest) {
  auto cert = issue("device-1");
  auto id = id_of(cert);
  Bytes trailing = make_request({id.get()}).der;
  trailing.push_back(0x00);
  std::vector<CertIdPtr> seventeen;
  std::vector<const ::OCSP_CERTID*> raw;
  for (int i = 0; i < 17; ++i) {
    seventeen.push_back(id_of(cert));
    raw.push_back(seventeen.back().get());
  }
  struct Case {
    const char* what;
    Bytes der;
    const char* problem;
  };
  const std::vector<Case> cases = {
      {"garbage", to_bytes("GET / HTTP/1.1"), "not a DER OCSPRequest"},
      {"empty", {}, "not a DER OCSPRequest"},
      {"trailing bytes", trailing, "bytes after"},
      {"no entries", make_request({}).der, "no certificate"},
      {"17 entries", make_request(raw).der, "more than 16"},
  };
  auto responder = ca_responder();
  for (const auto& c : cases) {
    OcspAnswer answer = responder->respond(c.der, lookup);
    EXPECT_EQ(answer.response_status, OCSP_RESPONSE_STATUS_MALFORMEDREQUEST) << c.what;
    EXPECT_EQ(response_status(answer), OCSP_RESPONSE_STATUS_MALFORMEDREQUEST) << c.what;
    EXPECT_NE(answer.problem.find(c.problem), std::string::npos) << c.what << ": " << answer.problem;
    EXPECT_FALSE(basic_of(answer)) << c.what;
  }
  EXPECT_EQ(lookups.load(), 0);
  raw.pop_back();
  OcspAnswer sixteen = responder->respond(make_request(raw).der, lookup);
  EXPECT_EQ(sixteen.response_status, OCSP_RESPONSE_STATUS_SUCCESSFUL) << sixteen.problem;
}

// ---- server-side failures (RFC 6960 2.3) ----

TEST_F(OcspResponderTest, AStoreThatIsDownMeansTryLaterAndOtherLookupErrorsInternalError) {
  auto cert = issue("device-1");
  auto id = id_of(cert);
  const Bytes der = make_request({id.get()}).der;
  auto responder = ca_responder();
  ASSERT_EQ(responder->respond(der, lookup).response_status, OCSP_RESPONSE_STATUS_SUCCESSFUL);  // cached now

  StatusLookup down = [](const std::string&) -> Result<CertificateStatus> {
    return fail(ErrorCode::kSystemUnavailable, "disk gone");
  };
  OcspAnswer later = responder->respond(der, down);
  EXPECT_EQ(later.response_status, OCSP_RESPONSE_STATUS_TRYLATER);
  EXPECT_EQ(response_status(later), OCSP_RESPONSE_STATUS_TRYLATER);
  EXPECT_FALSE(basic_of(later)) << "no signature, and not the cached answer";
  EXPECT_FALSE(later.from_cache);
  EXPECT_NE(later.problem.find("disk gone"), std::string::npos);

  StatusLookup broken = [](const std::string&) -> Result<CertificateStatus> {
    return fail(ErrorCode::kBadDataFormat, "record undecodable");
  };
  OcspAnswer internal = responder->respond(der, broken);
  EXPECT_EQ(internal.response_status, OCSP_RESPONSE_STATUS_INTERNALERROR);
  EXPECT_EQ(response_status(internal), OCSP_RESPONSE_STATUS_INTERNALERROR);
  EXPECT_FALSE(basic_of(internal));
  EXPECT_NE(internal.problem.find("record undecodable"), std::string::npos);
}

TEST_F(OcspResponderTest, AnHsmThatCannotSignMeansTryLater) {
  auto cert = issue("device-1");
  auto id = id_of(cert);
  auto public_only = ossl::public_key_from_der(ossl::der_of_public_key(::X509_get0_pubkey(ca_certificate())));
  ASSERT_TRUE(public_only);
  FaultySigner cannot_sign(std::move(*public_only), ::X509_get0_pubkey(ca_certificate()));
  OcspResponder responder(*test_ca.issuing, cannot_sign, ossl::up_ref(const_cast<::X509*>(ca_certificate())), kValidity,
                          clock);
  ASSERT_TRUE(responder.configuration());
  OcspAnswer answer = responder.respond(make_request({id.get()}).der, lookup);
  EXPECT_EQ(answer.response_status, OCSP_RESPONSE_STATUS_TRYLATER);
  EXPECT_EQ(response_status(answer), OCSP_RESPONSE_STATUS_TRYLATER);
  EXPECT_NE(answer.problem.find("could not sign"), std::string::npos) << answer.problem;
}

TEST_F(OcspResponderTest, ASignatureThatDoesNotVerifyNeverLeaves) {
  auto cert = issue("device-1");
  auto id = id_of(cert);
  ossl::EvpPkeyPtr wrong = mismatched_key_pair(::X509_get0_pubkey(ca_certificate()));
  ASSERT_TRUE(wrong);
  FaultySigner signs_wrongly(std::move(wrong), ::X509_get0_pubkey(ca_certificate()));
  OcspResponder responder(*test_ca.issuing, signs_wrongly, ossl::up_ref(const_cast<::X509*>(ca_certificate())),
                          kValidity, clock);
  ASSERT_TRUE(responder.configuration());
  OcspAnswer answer = responder.respond(make_request({id.get()}).der, lookup);
  EXPECT_EQ(answer.response_status, OCSP_RESPONSE_STATUS_INTERNALERROR);
  EXPECT_EQ(response_status(answer), OCSP_RESPONSE_STATUS_INTERNALERROR);
  EXPECT_FALSE(basic_of(answer));
  EXPECT_NE(answer.problem.find("does not verify"), std::string::npos) << answer.problem;
}

// ---- who signs (RFC 6960 4.2.1, 4.2.2.2) ----

TEST_F(OcspResponderTest, TheCaSignsByKeyWithoutCertificatesAndOnlyItsRootVerifies) {
  auto cert = issue("device-1");
  auto id = id_of(cert);
  BasicPtr basic = basic_of(ca_responder()->respond(make_request({id.get()}).der, lookup));
  ASSERT_TRUE(basic);
  EXPECT_EQ(verify(basic.get()), 1);
  EXPECT_EQ(responder_key_hash(basic.get()), key_hash(ca_certificate()));
  const STACK_OF(X509)* certs = ::OCSP_resp_get0_certs(basic.get());
  EXPECT_TRUE(certs == nullptr || sk_X509_num(certs) == 0);
  EXPECT_EQ(::OBJ_obj2nid(::OCSP_resp_get0_tbs_sigalg(basic.get())->algorithm), NID_ecdsa_with_SHA256);

  hsm::SoftwareSigner other_signer(testing::make_ec_key());
  auto other_root = make_root_certificate({{{"CN", "Other Root"}}, std::chrono::hours(24), -1}, other_signer);
  ASSERT_TRUE(other_root);
  EXPECT_NE(verify(basic.get(), other_root->get()), 1) << "a relying party with another root must refuse it";
}

TEST_F(OcspResponderTest, ADelegatedResponderSignsWithItsKeyInTheHsmAndSendsItsCertificate) {
  auto ocsp_signer = token.signer("ocsp");
  auto delegated =
      make_ocsp_signing_certificate({{{"CN", "Test OCSP Responder"}}, std::chrono::hours(24 * 7), -1},
                                    ocsp_signer->public_key(), ca_certificate(), test_ca.issuing->signer());
  ASSERT_TRUE(delegated) << delegated.error().message;
  auto cert = issue("device-1");
  revoke(cert, kKeyCompromise);
  auto id = id_of(cert);
  OcspResponder responder(*test_ca.issuing, *ocsp_signer, ossl::up_ref(delegated->get()), kValidity, clock);
  ASSERT_TRUE(responder.configuration()) << responder.configuration().error().message;
  ClientRequest request = make_request({id.get()}, 32);
  OcspAnswer answer = responder.respond(request.der, lookup);
  BasicPtr basic = basic_of(answer);
  ASSERT_TRUE(basic) << answer.problem;

  // OCSP_basic_verify accepts the delegated signer because the CA issued it with id-kp-OCSPSigning.
  EXPECT_EQ(verify(basic.get()), 1);
  EXPECT_EQ(responder_key_hash(basic.get()), key_hash(delegated->get()));
  const STACK_OF(X509)* certs = ::OCSP_resp_get0_certs(basic.get());
  ASSERT_NE(certs, nullptr);
  ASSERT_EQ(sk_X509_num(certs), 1);
  EXPECT_EQ(::X509_cmp(sk_X509_value(certs, 0), delegated->get()), 0);
  EXPECT_EQ(find_status(basic.get(), id.get()).status, V_OCSP_CERTSTATUS_REVOKED);
  EXPECT_EQ(::OCSP_check_nonce(request.request.get(), basic.get()), 1);
}

TEST_F(OcspResponderTest, TheDelegatedCertificateIsAnOcspSigningEndEntityWithNoCheck) {
  auto ocsp_signer = token.signer("ocsp");
  auto delegated =
      make_ocsp_signing_certificate({{{"CN", "Test OCSP Responder"}}, std::chrono::hours(24 * 7), -1},
                                    ocsp_signer->public_key(), ca_certificate(), test_ca.issuing->signer());
  ASSERT_TRUE(delegated);
  ::X509* cert = delegated->get();
  EXPECT_EQ(::X509_check_ca(cert), 0);
  EXPECT_EQ(::X509_check_issued(const_cast<::X509*>(ca_certificate()), cert), X509_V_OK);
  EXPECT_EQ(::X509_verify(cert, ::X509_get0_pubkey(ca_certificate())), 1);
  EXPECT_EQ(::EVP_PKEY_eq(::X509_get0_pubkey(cert), ocsp_signer->public_key()), 1);
  ASSERT_NE(::X509_get_extension_flags(cert) & EXFLAG_XKUSAGE, 0u);
  EXPECT_EQ(::X509_get_extended_key_usage(cert), static_cast<std::uint32_t>(XKU_OCSP_SIGN));
  ASSERT_NE(::X509_get_extension_flags(cert) & EXFLAG_KUSAGE, 0u);
  EXPECT_EQ(::X509_get_key_usage(cert), static_cast<std::uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(::X509_EXTENSION_get_critical(::X509_get_ext(cert, ::X509_get_ext_by_NID(cert, NID_key_usage, -1))), 1);
  // RFC 6960 4.2.2.2.1: id-pkix-ocsp-nocheck "SHOULD be a non-critical extension. The value of
  // the extension SHOULD be NULL."
  const int nocheck_at = ::X509_get_ext_by_NID(cert, NID_id_pkix_OCSP_noCheck, -1);
  ASSERT_GE(nocheck_at, 0);
  ::X509_EXTENSION* nocheck = ::X509_get_ext(cert, nocheck_at);
  EXPECT_EQ(::X509_EXTENSION_get_critical(nocheck), 0);
  const ::ASN1_OCTET_STRING* value = ::X509_EXTENSION_get_data(nocheck);
  EXPECT_EQ(Bytes(::ASN1_STRING_get0_data(value), ::ASN1_STRING_get0_data(value) + ::ASN1_STRING_length(value)),
            (Bytes{0x05, 0x00}));
  EXPECT_NE(::X509_get0_subject_key_id(cert), nullptr);
  EXPECT_EQ(::ASN1_OCTET_STRING_cmp(::X509_get0_authority_key_id(cert),
                                    ::X509_get0_subject_key_id(const_cast<::X509*>(ca_certificate()))),
            0);
}

TEST_F(OcspResponderTest, TheKeyGenerationCertificateKeepsItsShape) {
  hsm::SoftwareSigner kga(testing::make_ec_key());
  auto cert = make_key_generation_certificate({{{"CN", "KGA"}}, std::chrono::hours(24), -1}, kga.public_key(),
                                              ca_certificate(), test_ca.issuing->signer());
  ASSERT_TRUE(cert);
  EXPECT_EQ(::X509_check_ca(cert->get()), 0);
  EXPECT_EQ(::X509_get_key_usage(cert->get()), static_cast<std::uint32_t>(KU_DIGITAL_SIGNATURE));
  std::unique_ptr<EXTENDED_KEY_USAGE, ossl::Deleter<::EXTENDED_KEY_USAGE_free>> eku(
      static_cast<EXTENDED_KEY_USAGE*>(::X509_get_ext_d2i(cert->get(), NID_ext_key_usage, nullptr, nullptr)));
  ASSERT_TRUE(eku);
  ASSERT_EQ(sk_ASN1_OBJECT_num(eku.get()), 1);
  char oid[64];
  ::OBJ_obj2txt(oid, sizeof oid, sk_ASN1_OBJECT_value(eku.get(), 0), 1);
  EXPECT_STREQ(oid, "1.3.6.1.5.5.7.3.32");
  EXPECT_EQ(::X509_get_ext_by_NID(cert->get(), NID_id_pkix_OCSP_noCheck, -1), -1);
}

TEST_F(OcspResponderTest, RefusesASignerCertificateThatIsNotAnOcspDelegationOfTheCa) {
  auto ocsp_signer = token.signer("ocsp");
  auto root_signer = token.signer("root");
  const CaCertificateSpec spec{{{"CN", "Not quite a responder"}}, std::chrono::hours(24), -1};
  auto no_eku =
      make_key_generation_certificate(spec, ocsp_signer->public_key(), ca_certificate(), test_ca.issuing->signer());
  auto by_root = make_ocsp_signing_certificate(spec, ocsp_signer->public_key(), test_ca.root.get(), *root_signer);
  hsm::SoftwareSigner other(testing::make_ec_key());
  auto other_key = make_ocsp_signing_certificate(spec, other.public_key(), ca_certificate(), test_ca.issuing->signer());
  auto expired = make_ocsp_signing_certificate({{{"CN", "Expired responder"}}, std::chrono::seconds(-600), -1},
                                               ocsp_signer->public_key(), ca_certificate(), test_ca.issuing->signer());
  ASSERT_TRUE(no_eku && by_root && other_key && expired);
  struct Case {
    const char* what;
    ossl::X509Ptr certificate;
    const char* problem;
  };
  std::vector<Case> cases;
  cases.push_back({"without id-kp-OCSPSigning", std::move(*no_eku), "id-kp-OCSPSigning"});
  cases.push_back({"issued by the root", std::move(*by_root), "not issued by"});
  cases.push_back({"for another key", std::move(*other_key), "not for the signer's key"});
  cases.push_back({"none", nullptr, "no OCSP signer certificate"});
  cases.push_back({"expired", std::move(*expired), "not valid now"});
  auto cert = issue("device-1");
  auto id = id_of(cert);
  for (auto& c : cases) {
    OcspResponder responder(*test_ca.issuing, *ocsp_signer, std::move(c.certificate), kValidity, clock);
    auto configuration = responder.configuration();
    ASSERT_FALSE(configuration) << c.what;
    EXPECT_EQ(configuration.error().code, ErrorCode::kConfigInvalid) << c.what;
    EXPECT_NE(configuration.error().message.find(c.problem), std::string::npos) << configuration.error().message;
    OcspAnswer answer = responder.respond(make_request({id.get()}).der, lookup);
    EXPECT_EQ(answer.response_status, OCSP_RESPONSE_STATUS_INTERNALERROR) << c.what;
    EXPECT_FALSE(basic_of(answer)) << c.what;
  }
  OcspResponder zero_validity(*test_ca.issuing, test_ca.issuing->signer(),
                              ossl::up_ref(const_cast<::X509*>(ca_certificate())), std::chrono::seconds(0), clock);
  EXPECT_FALSE(zero_validity.configuration());
}

// ---- times (RFC 6960 4.2.2.1) ----

TEST_F(OcspResponderTest, ThisUpdateNextUpdateAndProducedAtFollowTheInjectedClock) {
  auto cert = issue("device-1");
  auto id = id_of(cert);
  auto responder = ca_responder();
  // Far from the system clock, so that a time taken from it would show.
  now += std::chrono::hours(24 * 3) + std::chrono::seconds(17);
  for (int round = 0; round < 2; ++round) {
    BasicPtr basic = basic_of(responder->respond(make_request({id.get()}, 16).der, lookup));
    ASSERT_TRUE(basic);
    SingleStatus status = find_status(basic.get(), id.get());
    EXPECT_EQ(status.this_update, seconds_of(now));
    EXPECT_EQ(status.next_update, seconds_of(now + kValidity));
    EXPECT_EQ(seconds_of(::OCSP_resp_get0_produced_at(basic.get())), seconds_of(now));
    now += std::chrono::minutes(42);
  }
}

// ---- the cache ----

TEST_F(OcspResponderTest, AnIdenticalRequestWithoutNonceIsServedFromTheCache) {
  auto cert = issue("device-1");
  auto id = id_of(cert);
  const Bytes der = make_request({id.get()}).der;
  auto responder = ca_responder();
  OcspAnswer first = responder->respond(der, lookup);
  ASSERT_EQ(first.response_status, OCSP_RESPONSE_STATUS_SUCCESSFUL);
  EXPECT_FALSE(first.from_cache);
  OcspAnswer second = responder->respond(der, lookup);
  EXPECT_TRUE(second.from_cache);
  EXPECT_EQ(second.response_status, OCSP_RESPONSE_STATUS_SUCCESSFUL);
  EXPECT_EQ(second.der, first.der);
  EXPECT_EQ(lookups.load(), 2) << "the status is looked up again every time";
}

TEST_F(OcspResponderTest, ARevocationEndsTheCachedAnswer) {
  auto cert = issue("device-1");
  auto id = id_of(cert);
  const Bytes der = make_request({id.get()}).der;
  auto responder = ca_responder();
  OcspAnswer good = responder->respond(der, lookup);
  ASSERT_TRUE(responder->respond(der, lookup).from_cache);
  revoke(cert, kKeyCompromise);
  OcspAnswer revoked = responder->respond(der, lookup);
  EXPECT_FALSE(revoked.from_cache);
  EXPECT_NE(revoked.der, good.der);
  BasicPtr basic = basic_of(revoked);
  ASSERT_TRUE(basic);
  EXPECT_EQ(find_status(basic.get(), id.get()).status, V_OCSP_CERTSTATUS_REVOKED);
  OcspAnswer again = responder->respond(der, lookup);
  EXPECT_TRUE(again.from_cache);
  EXPECT_EQ(again.der, revoked.der);
}

TEST_F(OcspResponderTest, ARequestWithANonceIsNeverServedFromTheCache) {
  auto cert = issue("device-1");
  auto id = id_of(cert);
  const Bytes fixed_nonce(16, 0x5a);
  const Bytes der = make_request({id.get()}, 0, fixed_nonce).der;  // the very same bytes twice
  auto responder = ca_responder();
  for (int i = 0; i < 3; ++i) {
    OcspAnswer answer = responder->respond(der, lookup);
    ASSERT_EQ(answer.response_status, OCSP_RESPONSE_STATUS_SUCCESSFUL);
    EXPECT_FALSE(answer.from_cache) << i;
  }
}

TEST_F(OcspResponderTest, PastHalfTheValidityTheAnswerIsSignedAfresh) {
  auto cert = issue("device-1");
  auto id = id_of(cert);
  const Bytes der = make_request({id.get()}).der;
  auto responder = ca_responder();
  OcspAnswer first = responder->respond(der, lookup);
  now += kValidity / 2 - std::chrono::seconds(1);
  EXPECT_TRUE(responder->respond(der, lookup).from_cache);
  now += std::chrono::seconds(1);
  OcspAnswer fresh = responder->respond(der, lookup);
  EXPECT_FALSE(fresh.from_cache);
  BasicPtr basic = basic_of(fresh);
  ASSERT_TRUE(basic);
  EXPECT_EQ(find_status(basic.get(), id.get()).this_update, seconds_of(now));
  EXPECT_TRUE(responder->respond(der, lookup).from_cache);
  // A clock that went back never gets a thisUpdate from its future.
  now -= std::chrono::minutes(1);
  EXPECT_FALSE(responder->respond(der, lookup).from_cache);
}

TEST_F(OcspResponderTest, TheCacheIsBounded) {
  auto a = issue("device-a");
  auto b = issue("device-b");
  auto c = issue("device-c");
  auto id_a = id_of(a);
  auto id_b = id_of(b);
  auto id_c = id_of(c);
  const Bytes der_a = make_request({id_a.get()}).der;
  auto two = ca_responder(2);
  (void)two->respond(der_a, lookup);
  (void)two->respond(make_request({id_b.get()}).der, lookup);
  EXPECT_TRUE(two->respond(der_a, lookup).from_cache);
  (void)two->respond(make_request({id_c.get()}).der, lookup);
  EXPECT_FALSE(two->respond(der_a, lookup).from_cache) << "a third entry cannot join two without one leaving";

  auto none = ca_responder(0);
  (void)none->respond(der_a, lookup);
  EXPECT_FALSE(none->respond(der_a, lookup).from_cache);
}

// ---- thread-safety ----

TEST_F(OcspResponderTest, AnswersFromManyThreadsAtOnce) {
  auto cert = issue("device-1");
  auto id = id_of(cert);
  const Bytes cacheable = make_request({id.get()}).der;
  auto responder = ca_responder();
  std::atomic<int> successful = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        const Bytes der = (t + i) % 2 == 0 ? cacheable : make_request({id.get()}, 16).der;
        OcspAnswer answer = responder->respond(der, lookup);
        BasicPtr basic = basic_of(answer);
        if (basic && verify(basic.get()) == 1 && find_status(basic.get(), id.get()).status == V_OCSP_CERTSTATUS_GOOD) {
          ++successful;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(successful, 20);
}

}  // namespace
}  // namespace enrolld::ca
