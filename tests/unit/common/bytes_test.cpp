#include "common/bytes.h"

#include <gtest/gtest.h>

namespace enrolld {
namespace {

TEST(BytesHex, ToHexIsLowerCaseTwoDigitsPerByte) {
  const Bytes input = {0x00, 0x01, 0x0f, 0x10, 0xab, 0xff};
  EXPECT_EQ(to_hex(input), "00010f10abff");
}

TEST(BytesHex, ToHexOfEmptyIsEmpty) {
  EXPECT_EQ(to_hex(Bytes{}), "");
}

TEST(BytesHex, RoundTripAllByteValues) {
  Bytes all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<std::uint8_t>(i));
  const std::string hex = to_hex(all);
  ASSERT_EQ(hex.size(), 512u);
  bool ok = false;
  EXPECT_EQ(from_hex(hex, &ok), all);
  EXPECT_TRUE(ok);
}

TEST(BytesHex, FromHexAcceptsUpperAndMixedCase) {
  bool ok = false;
  EXPECT_EQ(from_hex("DEADbeef", &ok), (Bytes{0xde, 0xad, 0xbe, 0xef}));
  EXPECT_TRUE(ok);
}

TEST(BytesHex, FromHexOfEmptyIsOkAndEmpty) {
  bool ok = false;
  EXPECT_TRUE(from_hex("", &ok).empty());
  EXPECT_TRUE(ok);
}

TEST(BytesHex, FromHexWithoutOkPointer) {
  EXPECT_EQ(from_hex("0a0b"), (Bytes{0x0a, 0x0b}));
}

TEST(BytesHex, FromHexRejectsOddLength) {
  for (const char* input : {"0", "abc", "0102030"}) {
    bool ok = true;
    EXPECT_TRUE(from_hex(input, &ok).empty()) << input;
    EXPECT_FALSE(ok) << input;
  }
}

TEST(BytesHex, FromHexRejectsNonHexCharacters) {
  for (const char* input : {"zz", "0g", "g0", "01 2", "0x01", "ab-d", "12\n4", "+1"}) {
    bool ok = true;
    EXPECT_TRUE(from_hex(input, &ok).empty()) << input;
    EXPECT_FALSE(ok) << input;
  }
}

TEST(BytesHex, FromHexRejectsBadCharacterAfterGoodPrefix) {
  // The good leading bytes must not leak out.
  bool ok = true;
  EXPECT_TRUE(from_hex("0102zz", &ok).empty());
  EXPECT_FALSE(ok);
}

TEST(BytesHex, FromHexRejectsEmbeddedNul) {
  bool ok = true;
  EXPECT_TRUE(from_hex(std::string_view("0\0", 2), &ok).empty());
  EXPECT_FALSE(ok);
}

TEST(BytesHex, FromHexWithoutOkPointerStillReturnsEmptyOnError) {
  EXPECT_TRUE(from_hex("01x2").empty());
}

TEST(BytesToBytes, CopiesTextBytes) {
  EXPECT_EQ(to_bytes("Ab\x01"), (Bytes{0x41, 0x62, 0x01}));
  EXPECT_TRUE(to_bytes("").empty());
}

// RFC 4648 section 10.
TEST(BytesBase64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(to_base64(to_bytes(plain)), encoded);
    if (*plain == '\0') continue;  // empty input is not base64 to decode
    auto decoded = from_base64(encoded);
    ASSERT_TRUE(decoded.has_value()) << encoded;
    EXPECT_EQ(*decoded, to_bytes(plain));
  }
}

TEST(BytesBase64, RoundTripsAllByteValues) {
  Bytes all(256);
  for (int i = 0; i < 256; ++i) all[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i);
  const std::string encoded = to_base64(all);
  EXPECT_EQ(encoded.find('\n'), std::string::npos);
  EXPECT_EQ(from_base64(encoded), all);
}

TEST(BytesBase64, FromBase64RejectsWhatIsNotStrictBase64) {
  for (const char* text :
       {"", "Zg", "Zg=", "====", "A===", "Zg==Zg==", "Z=g=", "Zm9v\n", "Zm 9v", "Zm9-", "Zm9_", "Zm9v\xff"}) {
    EXPECT_FALSE(from_base64(text).has_value()) << text;
  }
}

TEST(BytesRandom, HasRequestedLength) {
  for (std::size_t count : {std::size_t{0}, std::size_t{1}, std::size_t{16}, std::size_t{1000}}) {
    EXPECT_EQ(random_bytes(count).size(), count);
  }
}

TEST(BytesRandom, TwoDrawsDiffer) {
  const Bytes a = random_bytes(32);
  const Bytes b = random_bytes(32);
  EXPECT_NE(a, b);  // equal with probability 2^-256
}

TEST(BytesRandom, IsNotAllZero) {
  const Bytes a = random_bytes(32);
  EXPECT_NE(a, Bytes(32, 0));
}

}  // namespace
}  // namespace enrolld
