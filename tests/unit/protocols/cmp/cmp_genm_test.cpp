// genm/genp (RFC 4210 5.3.19, RFC 9483 4.3) against the real stack.
#include <openssl/objects.h>

#include <gtest/gtest.h>

#include "cmp_server_fixture.h"
#include "common/der.h"

namespace enrolld::cmp::test {
namespace {

// A genm carrying one ITAV per (OID, value DER; empty: no value), made from a fresh ir's header
// and protected with the client's secret.
class GenmTest : public CmpServerTest {
 protected:
  Bytes genm(const std::vector<std::pair<std::string, Bytes>>& items) {
    return modified(
        fresh_ir(),
        [&](ECMP_MSG& m) {
          ECMP_BODY_free(m.body);
          m.body = ECMP_BODY_new();
          m.body->type = ECMP_BODY_GENM;
          m.body->value.genm = sk_ECMP_ITAV_new_null();
          for (const auto& [oid, value] : items) {
            ECMP_ITAV* itav = ECMP_ITAV_new();
            itav->infoType = ::OBJ_txt2obj(oid.c_str(), 1);
            if (!value.empty()) {
              ::ASN1_STRING* seq = ::ASN1_STRING_type_new(V_ASN1_SEQUENCE);
              ::ASN1_STRING_set(seq, value.data(), static_cast<int>(value.size()));
              itav->infoValue = ::ASN1_TYPE_new();
              ::ASN1_TYPE_set(itav->infoValue, V_ASN1_SEQUENCE, seq);
            }
            sk_ECMP_ITAV_push(m.body->value.genm, itav);
          }
        },
        secret(kSecret));
  }

  // The genp's ITAVs as (OID text, value DER or empty).
  static std::vector<std::pair<std::string, Bytes>> itavs(const Reply& reply) {
    std::vector<std::pair<std::string, Bytes>> out;
    if (!reply.message || reply.body_type != ECMP_BODY_GENP) return out;
    STACK_OF(ECMP_ITAV)* list = reply.message->body->value.genp;
    for (int i = 0; i < sk_ECMP_ITAV_num(list); ++i) {
      const ECMP_ITAV* itav = sk_ECMP_ITAV_value(list, i);
      char oid[80];
      ::OBJ_obj2txt(oid, sizeof oid, itav->infoType, 1);
      Bytes value;
      if (itav->infoValue != nullptr && itav->infoValue->type == V_ASN1_SEQUENCE) {
        const ::ASN1_STRING* seq = itav->infoValue->value.sequence;
        value.assign(seq->data, seq->data + seq->length);
      }
      out.emplace_back(oid, value);
    }
    return out;
  }

  static Bytes concat_der(const Bytes& a, const Bytes& b) {
    Bytes out = a;
    out.insert(out.end(), b.begin(), b.end());
    return out;
  }

  // DER SEQUENCE OF the given elements.
  static Bytes sequence_of(const std::vector<Bytes>& elements) {
    Bytes content;
    for (const auto& e : elements) content.insert(content.end(), e.begin(), e.end());
    return der::sequence(content);
  }

  static constexpr const char* kCaCerts = "1.3.6.1.5.5.7.4.17";
  static constexpr const char* kRootCaKeyUpdate = "1.3.6.1.5.5.7.4.18";
  static constexpr const char* kRootCaCert = "1.3.6.1.5.5.7.4.20";
  static constexpr const char* kSignKeyPairTypes = "1.3.6.1.5.5.7.4.2";
  static constexpr const char* kCertReqTemplate = "1.3.6.1.5.5.7.4.19";
  static constexpr const char* kCrlStatusList = "1.3.6.1.5.5.7.4.22";
  static constexpr const char* kCrls = "1.3.6.1.5.5.7.4.23";

  // CRLStatus { source issuer [1] GeneralNames { directoryName [4] `issuer` }, thisUpdate }.
  static Bytes crl_status_by_issuer(const ::X509_NAME* issuer, std::optional<std::time_t> this_update) {
    Bytes status = der::element(0xa1, der::sequence(der::element(0xa4, ossl::der_of(issuer))));
    if (this_update) {
      std::unique_ptr<::ASN1_TIME, ossl::Deleter<::ASN1_TIME_free>> time(::ASN1_TIME_set(nullptr, *this_update));
      const Bytes time_der = ossl::der_with(time.get(), ::i2d_ASN1_TIME);
      status.insert(status.end(), time_der.begin(), time_der.end());
    }
    return der::sequence(status);
  }

  const ::X509_NAME* ca_name() const { return ::X509_get_subject_name(ca.issuing->certificate()); }

  // The CRLs of a crls answer, DER; empty for the value absent.
  static std::vector<Bytes> crls_in(const Bytes& value) {
    std::vector<Bytes> out;
    auto outer = der::read_element(value);
    auto children = outer ? der::read_children(outer->content) : std::nullopt;
    for (const auto& child : children.value_or(std::vector<der::Element>{})) {
      out.emplace_back(child.whole.begin(), child.whole.end());
    }
    return out;
  }
};

TEST_F(GenmTest, CaCertsListsTheIssuingCaAndTheRoot) {
  Reply reply = read_reply(send(genm({{kCaCerts, {}}})));
  ASSERT_EQ(reply.body_type, ECMP_BODY_GENP);
  EXPECT_TRUE(reply.is_protected);
  auto answered = itavs(reply);
  ASSERT_EQ(answered.size(), 1U);
  EXPECT_EQ(answered[0].first, kCaCerts);
  EXPECT_EQ(answered[0].second, sequence_of(service.ca_chain()));
  EXPECT_EQ(service.ca_chain().size(), 2U);
}

TEST_F(GenmTest, SignKeyPairTypesListsWhatTheProfileAccepts) {
  Reply reply = read_reply(send(genm({{kSignKeyPairTypes, {}}})));
  auto answered = itavs(reply);
  ASSERT_EQ(answered.size(), 1U);
  EXPECT_EQ(answered[0].first, kSignKeyPairTypes);
  std::vector<Bytes> expected;
  for (const auto& rule : ca::Profile{}.keys) expected.push_back(ca::algorithm_identifier_der(rule));
  EXPECT_EQ(answered[0].second, sequence_of(expected));
  EXPECT_EQ(expected.size(), 3U);
}

TEST_F(GenmTest, CertReqTemplateAsksForTheSubjectAndListsTheAcceptedKeys) {
  Reply reply = read_reply(send(genm({{kCertReqTemplate, {}}})));
  auto answered = itavs(reply);
  ASSERT_EQ(answered.size(), 1U);
  EXPECT_EQ(answered[0].first, kCertReqTemplate);
  // RFC 9483 4.3.3, written out by hand: certTemplate { subject [5] (empty Name) }, keySpec
  // { id-regCtrl-algId P-256, id-regCtrl-algId P-384, id-regCtrl-rsaKeyLen 2048 }.
  const Bytes cert_template = {0x30, 0x04, 0xa5, 0x02, 0x30, 0x00};
  const Bytes alg_id_oid = {0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x05, 0x01, 0x0b};
  const Bytes rsa_key_len_oid = {0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x05, 0x01, 0x0c};
  const Bytes rsa_2048 = {0x02, 0x02, 0x08, 0x00};
  const auto& rules = ca::Profile{}.keys;
  ASSERT_EQ(rules.size(), 3U);
  const Bytes key_spec = sequence_of({sequence_of({alg_id_oid, ca::algorithm_identifier_der(rules[0])}),
                                      sequence_of({alg_id_oid, ca::algorithm_identifier_der(rules[1])}),
                                      sequence_of({rsa_key_len_oid, rsa_2048})});
  EXPECT_EQ(answered[0].second, sequence_of({cert_template, key_spec}));
}

TEST_F(GenmTest, RootCaCertIsAnsweredWithRootCaKeyUpdateWithoutValue) {
  // RFC 9483 4.3.2: no update pending -> id-it-rootCaKeyUpdate with the value absent.
  Reply reply = read_reply(send(genm({{kRootCaCert, ossl::der_of(ca.root.get())}})));
  auto answered = itavs(reply);
  ASSERT_EQ(answered.size(), 1U);
  EXPECT_EQ(answered[0].first, kRootCaKeyUpdate);
  EXPECT_TRUE(answered[0].second.empty());
}

// RFC 9483 4.3.2 during a root CA key update: RootCaKeyUpdateContent for our root only.
TEST_F(GenmTest, RootCaCertDuringAnUpdateGetsTheThreeCertificatesForOurRootOnly) {
  // Any three distinct certificates do: the server passes them on as configured.
  const Bytes nwn = service.ca_chain()[1];
  const Bytes nwo = service.ca_chain()[0];
  const Bytes own = ossl::der_of(ca.issuing->certificate());
  ra::EnrollmentServiceImpl rolling{*store,
                                    *ca.issuing,
                                    {ca::Profile{}},
                                    ra::Policy{},
                                    system_clock(),
                                    std::nullopt,
                                    ra::RootCaUpdate{nwn, nwo, own}};
  CmpServer rolling_server{rolling, secrets, CmpServerOptions{}};
  auto ask = [&](const Bytes& old_with_old) {
    auto reply = rolling_server.handle(genm({{kRootCaCert, old_with_old}}), CmpRequestContext{"", "test"});
    EXPECT_TRUE(reply);
    auto answered = itavs(read_reply(reply ? *reply : Bytes{}));
    EXPECT_EQ(answered.size(), 1U);
    EXPECT_EQ(answered.empty() ? "" : answered[0].first, kRootCaKeyUpdate);
    return answered.empty() ? Bytes{} : answered[0].second;
  };
  Bytes expected = nwn;
  for (const Bytes& tagged : {der::element(0xa0, nwo), der::element(0xa1, own)}) {
    expected.insert(expected.end(), tagged.begin(), tagged.end());
  }
  EXPECT_EQ(ask(ossl::der_of(ca.root.get())), der::sequence(expected));
  EXPECT_EQ(ask({}), der::sequence(expected));                        // no oldWithOld: the update of our root
  EXPECT_TRUE(ask(ossl::der_of(ca.issuing->certificate())).empty());  // another root: nothing known
}

// RFC 9483 4.3.4: crlStatusList -> crls with the CRLs newer than the requester's.
TEST_F(GenmTest, CrlStatusListForThisCaGetsItsCurrentCrlUnlessTheRequesterIsUpToDate) {
  auto answered = itavs(read_reply(send(genm({{kCrlStatusList, sequence_of({crl_status_by_issuer(ca_name(), {})})}}))));
  ASSERT_EQ(answered.size(), 1U);
  EXPECT_EQ(answered[0].first, kCrls);
  auto current = service.current_crl(ca::kFirstIssuingCa);
  ASSERT_TRUE(current);
  EXPECT_EQ(crls_in(answered[0].second), std::vector<Bytes>{current->der});

  const std::time_t has = std::chrono::system_clock::to_time_t(current->this_update);
  auto up_to_date =
      itavs(read_reply(send(genm({{kCrlStatusList, sequence_of({crl_status_by_issuer(ca_name(), has)})}}))));
  ASSERT_EQ(up_to_date.size(), 1U);
  EXPECT_EQ(up_to_date[0].first, kCrls);
  EXPECT_TRUE(up_to_date[0].second.empty());  // the value absent: nothing newer

  auto older =
      itavs(read_reply(send(genm({{kCrlStatusList, sequence_of({crl_status_by_issuer(ca_name(), has - 3600)})}}))));
  ASSERT_EQ(older.size(), 1U);
  EXPECT_EQ(crls_in(older[0].second), std::vector<Bytes>{current->der});
}

// OpenSSL 3.5 names the source by the certificate's cRLDistributionPoints when it has one.
TEST_F(GenmTest, CrlStatusListNamingOurDistributionPointGetsTheCrl) {
  const Bytes dpn = der::sequence(der::element(0xa0, der::element(0xa0, der::element(0x86, to_bytes(kCrlUrl)))));
  auto answered = itavs(read_reply(send(genm({{kCrlStatusList, sequence_of({dpn})}}))));
  ASSERT_EQ(answered.size(), 1U);
  EXPECT_EQ(answered[0].first, kCrls);
  auto current = service.current_crl(ca::kFirstIssuingCa);
  ASSERT_TRUE(current);
  EXPECT_EQ(crls_in(answered[0].second), std::vector<Bytes>{current->der});
}

TEST_F(GenmTest, CrlStatusListForAnotherSourceOrMalformedIsRefused) {
  ossl::X509NamePtr stranger(::X509_NAME_new());
  ::X509_NAME_add_entry_by_txt(stranger.get(), "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("Other CA"),
                               -1, -1, 0);
  const Bytes dpn = der::sequence(der::element(0xa0, der::element(0xa0, der::element(0x86, to_bytes("http://x/crl")))));
  struct Row {
    const char* what;
    Bytes value;
    int bit;
  };
  const std::vector<Row> rows = {
      {"another issuer", sequence_of({crl_status_by_issuer(stranger.get(), {})}), kBadRequest},
      {"a distribution point", sequence_of({dpn}), kBadRequest},
      {"no value", {}, kBadDataFormat},
      {"an empty list", sequence_of({}), kBadDataFormat},
      {"a source of another tag", sequence_of({der::sequence(der::element(0xa2, {}))}), kBadDataFormat},
      {"thisUpdate not a Time",
       sequence_of({der::sequence(concat_der(der::element(0xa1, der::sequence({})), {0x02, 0x01, 0x01}))}),
       kBadDataFormat},
  };
  for (const auto& row : rows) {
    Reply reply = read_reply(send(genm({{kCrlStatusList, row.value}})));
    EXPECT_EQ(reply.body_type, ECMP_BODY_ERROR) << row.what;
    EXPECT_EQ(reply.bits, std::vector<int>{row.bit}) << row.what;
  }
}

TEST_F(GenmTest, UnknownInfoTypesAreLeftOutAndKnownOnesAnswered) {
  Reply reply = read_reply(send(genm({{"1.2.3.4.5", {}}, {kCaCerts, {}}})));
  auto answered = itavs(reply);
  ASSERT_EQ(answered.size(), 1U);
  EXPECT_EQ(answered[0].first, kCaCerts);

  Reply only_unknown = read_reply(send(genm({{"1.2.3.4.5", {}}})));
  EXPECT_EQ(only_unknown.body_type, ECMP_BODY_GENP);
  EXPECT_TRUE(itavs(only_unknown).empty());
}

TEST_F(GenmTest, EmptyGenmGetsWhatTheCaHasToSay) {
  auto answered = itavs(read_reply(send(genm({}))));
  ASSERT_EQ(answered.size(), 2U);
  EXPECT_EQ(answered[0].first, kCaCerts);
  EXPECT_EQ(answered[1].first, kSignKeyPairTypes);
}

TEST_F(GenmTest, UnknownProfileIsBadCertTemplateAndWrongSecretBadMessageCheck) {
  auto reply = server.handle(genm({{kCaCerts, {}}}), CmpRequestContext{"no-such-profile", "test"});
  ASSERT_TRUE(reply);
  Reply unknown = read_reply(*reply);
  EXPECT_EQ(unknown.body_type, ECMP_BODY_ERROR);
  EXPECT_EQ(unknown.bits, std::vector<int>{kBadCertTemplate});

  Bytes forged = modified(
      genm({{kCaCerts, {}}}), [](ECMP_MSG&) {}, secret("not-the-secret"));
  Reply refused = read_reply(send(forged));
  EXPECT_EQ(refused.body_type, ECMP_BODY_ERROR);
  EXPECT_EQ(refused.bits, std::vector<int>{kBadMessageCheck});
  EXPECT_FALSE(refused.is_protected);
}

}  // namespace
}  // namespace enrolld::cmp::test
