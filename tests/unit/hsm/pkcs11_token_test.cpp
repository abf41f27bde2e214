// Against a real SoftHSM2 token through PKCS#11 (provisioning) and libp11 (signing).
#include "hsm/pkcs11/token.h"

#include <thread>

#include <openssl/err.h>

#include <gtest/gtest.h>

#include "common/openssl_util.h"
#include "support/softhsm_fixture.h"

namespace enrolld::hsm {
namespace {

bool verifies(const Signer& signer, ByteView data, const Bytes& signature) {
  ossl::EvpMdCtxPtr ctx(::EVP_MD_CTX_new());
  return ::EVP_DigestVerifyInit(ctx.get(), nullptr, signer.digest(), nullptr, signer.public_key()) == 1 &&
         ::EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), data.data(), data.size()) == 1;
}

TEST(Pkcs11Token, SignsInsideTheTokenAndTheSignatureVerifies) {
  testing::SoftHsmToken token({{"ec", KeyType::kEcP256}, {"rsa", KeyType::kRsa2048}});
  for (const char* label : {"ec", "rsa"}) {
    auto signer = token.signer(label);
    const Bytes data = to_bytes("to be signed");
    auto signature = signer->sign(data);
    ASSERT_TRUE(signature) << signature.error().message;
    EXPECT_TRUE(verifies(*signer, data, *signature)) << label;
    EXPECT_FALSE(verifies(*signer, to_bytes("something else"), *signature)) << label;
  }
}

TEST(Pkcs11Token, ProvisioningIsIdempotent) {
  testing::SoftHsmToken token({{"k", KeyType::kEcP256}});
  EXPECT_TRUE(ensure_token(token.access(), "5678"));
  auto again = ensure_key_pair(token.access(), "k", KeyType::kEcP256);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(*again) << "an existing key must not be generated again";
}

TEST(Pkcs11Token, KeyNeverLeavesTheTokenButItsPublicHalfDoes) {
  testing::SoftHsmToken token({{"k", KeyType::kEcP256}});
  auto signer = token.signer("k");
  EXPECT_EQ(::EVP_PKEY_get_bits(signer->public_key()), 256);
  // Whatever OpenSSL can encode from the handle, it is not the private key: the token holds the
  // key sensitive and not extractable. A key rebuilt from that encoding cannot sign.
  unsigned char* der = nullptr;
  const int len = ::i2d_PrivateKey(signer->signing_key(), &der);
  const unsigned char* p = der;
  ossl::EvpPkeyPtr exported(len > 0 ? ::d2i_AutoPrivateKey(nullptr, &p, len) : nullptr);
  ::OPENSSL_free(der);
  ::ERR_clear_error();
  if (exported) {
    const Bytes data = to_bytes("probe");
    ossl::EvpMdCtxPtr ctx(::EVP_MD_CTX_new());
    std::size_t sig_len = 0;
    Bytes signature(256);
    sig_len = signature.size();
    bool signed_ok = ::EVP_DigestSignInit(ctx.get(), nullptr, ::EVP_sha256(), nullptr, exported.get()) == 1 &&
                     ::EVP_DigestSign(ctx.get(), signature.data(), &sig_len, data.data(), data.size()) == 1;
    signature.resize(signed_ok ? sig_len : 0);
    EXPECT_FALSE(signed_ok && verifies(*signer, data, signature)) << "the private key left the token";
  }
}

TEST(Pkcs11Token, RefusesUnknownKeyTokenAndWrongPin) {
  testing::SoftHsmToken token({{"k", KeyType::kEcP256}});
  auto opened = Pkcs11Token::open(token.access());
  ASSERT_TRUE(opened);
  EXPECT_EQ((*opened)->signer("absent").error().code, ErrorCode::kConfigInvalid);

  TokenAccess wrong_label = token.access();
  wrong_label.token_label = "no-such-token";
  EXPECT_EQ(Pkcs11Token::open(wrong_label).error().code, ErrorCode::kConfigInvalid);

  TokenAccess wrong_module = token.access();
  wrong_module.module_path = "/nonexistent/module.so";
  EXPECT_EQ(Pkcs11Token::open(wrong_module).error().code, ErrorCode::kSystemUnavailable);
}

TEST(Pkcs11Token, ManyThreadsSignConcurrently) {
  testing::SoftHsmToken token({{"k", KeyType::kEcP256}});
  std::shared_ptr<Signer> signer = token.signer("k");
  constexpr int kThreads = 4;
  constexpr int kSignaturesEach = 25;
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kSignaturesEach; ++i) {
        Bytes data = to_bytes("message " + std::to_string(t) + "/" + std::to_string(i));
        auto signature = signer->sign(data);
        if (signature && verifies(*signer, data, *signature)) ++good;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(good.load(), kThreads * kSignaturesEach);
}

}  // namespace
}  // namespace enrolld::hsm
