// ossl::RecentCertificates: what came recently is decoded once; bounded in entries and size.
#include "common/recent_certificates.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <atomic>
#include <thread>
#include <vector>

namespace enrolld::ossl {
namespace {

// A self-signed certificate; `comment_bytes` > 0 adds a Netscape comment of that length.
Bytes certificate(std::size_t comment_bytes = 0) {
  EvpPkeyPtr key(::EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  X509Ptr cert(::X509_new());
  ::ASN1_INTEGER_set(::X509_get_serialNumber(cert.get()), 7);
  ::X509_gmtime_adj(::X509_getm_notBefore(cert.get()), 0);
  ::X509_gmtime_adj(::X509_getm_notAfter(cert.get()), 3600);
  ::X509_set_pubkey(cert.get(), key.get());
  if (comment_bytes > 0) {
    std::unique_ptr<::ASN1_IA5STRING, Deleter<::ASN1_IA5STRING_free>> comment(::ASN1_IA5STRING_new());
    const std::string text(comment_bytes, 'x');
    EXPECT_EQ(::ASN1_STRING_set(comment.get(), text.data(), static_cast<int>(text.size())), 1);
    EXPECT_EQ(::X509_add1_ext_i2d(cert.get(), NID_netscape_comment, comment.get(), 0, 0), 1);
  }
  EXPECT_GT(::X509_sign(cert.get(), key.get(), ::EVP_sha256()), 0);
  return der_of(cert.get());
}

TEST(RecentCertificates, ACertificateSeenAgainIsTheObjectDecodedBefore) {
  RecentCertificates recent;
  const Bytes der = certificate();
  auto first = recent.decode(der);
  auto again = recent.decode(der);
  ASSERT_TRUE(first && again);
  EXPECT_EQ(first->get(), again->get());
  EXPECT_EQ(der_of(again->get()), der);
  EXPECT_EQ(recent.size(), 1U);
}

TEST(RecentCertificates, StartsAgainEmptyWhenFull) {
  RecentCertificates recent(2);
  const Bytes a = certificate(), b = certificate(), c = certificate();
  auto first_a = recent.decode(a);
  ASSERT_TRUE(first_a && recent.decode(b));
  EXPECT_EQ(recent.size(), 2U);
  ASSERT_TRUE(recent.decode(c));
  EXPECT_EQ(recent.size(), 1U) << "full: emptied, then c kept";
  auto later_a = recent.decode(a);
  ASSERT_TRUE(later_a);
  EXPECT_NE(later_a->get(), first_a->get()) << "decoded anew after the reset";
  EXPECT_EQ(der_of(later_a->get()), a);
}

TEST(RecentCertificates, KeepsNeitherWhatIsNoCertificateNorALargeOne) {
  RecentCertificates recent;
  auto garbage = recent.decode(Bytes{0x30, 0x03, 0x02, 0x01, 0x01});
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().code, ErrorCode::kBadDataFormat);
  Bytes trailing = certificate();
  trailing.push_back(0x00);
  EXPECT_FALSE(recent.decode(trailing)) << "a certificate with a byte after it";
  const Bytes large = certificate(RecentCertificates::kLargestRemembered);
  ASSERT_GT(large.size(), RecentCertificates::kLargestRemembered);
  auto decoded = recent.decode(large);
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(der_of(decoded->get()), large);
  EXPECT_EQ(recent.size(), 0U);
}

TEST(RecentCertificates, ConcurrentDecodesAgreeAndStayBounded) {
  RecentCertificates recent(8);
  std::vector<Bytes> ders;
  for (int i = 0; i < 12; ++i) ders.push_back(certificate());
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 50; ++round) {
        const Bytes& der = ders[(round * 5 + t) % ders.size()];
        auto cert = recent.decode(der);
        if (!cert || der_of(cert->get()) != der) ++wrong;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_LE(recent.size(), 8U);
}

}  // namespace
}  // namespace enrolld::ossl
