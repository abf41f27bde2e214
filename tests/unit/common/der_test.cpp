#include "common/der.h"

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

namespace enrolld::der {
namespace {

// True if `part` is a view into `whole` starting at `offset` with `size` bytes.
::testing::AssertionResult IsSubrange(ByteView part, const Bytes& whole, std::size_t offset, std::size_t size) {
  if (part.data() != whole.data() + offset) {
    return ::testing::AssertionFailure() << "starts at offset " << (part.data() - whole.data()) << ", expected "
                                         << offset;
  }
  if (part.size() != size) return ::testing::AssertionFailure() << "size " << part.size() << ", expected " << size;
  return ::testing::AssertionSuccess();
}

Bytes filled(std::size_t count, std::uint8_t value) {
  return Bytes(count, value);
}

TEST(DerReadElement, ShortFormLength) {
  const Bytes input = {0x04, 0x03, 0xaa, 0xbb, 0xcc};
  auto element = read_element(input);
  ASSERT_TRUE(element.has_value());
  EXPECT_EQ(element->tag, 0x04);
  EXPECT_TRUE(IsSubrange(element->whole, input, 0, 5));
  EXPECT_TRUE(IsSubrange(element->content, input, 2, 3));
}

TEST(DerReadElement, ZeroLengthContent) {
  const Bytes input = {0x05, 0x00};  // NULL
  auto element = read_element(input);
  ASSERT_TRUE(element.has_value());
  EXPECT_EQ(element->tag, 0x05);
  EXPECT_TRUE(IsSubrange(element->whole, input, 0, 2));
  EXPECT_TRUE(element->content.empty());
}

TEST(DerReadElement, ShortFormMaximum127) {
  Bytes input = {0x04, 0x7f};
  auto body = filled(127, 0x11);
  input.insert(input.end(), body.begin(), body.end());
  auto element = read_element(input);
  ASSERT_TRUE(element.has_value());
  EXPECT_TRUE(IsSubrange(element->content, input, 2, 127));
  EXPECT_TRUE(IsSubrange(element->whole, input, 0, 129));
}

TEST(DerReadElement, LongFormOneOctet) {
  Bytes input = {0x30, 0x81, 0x80};
  auto body = filled(128, 0x22);
  input.insert(input.end(), body.begin(), body.end());
  auto element = read_element(input);
  ASSERT_TRUE(element.has_value());
  EXPECT_EQ(element->tag, 0x30);
  EXPECT_TRUE(IsSubrange(element->whole, input, 0, 131));
  EXPECT_TRUE(IsSubrange(element->content, input, 3, 128));
}

TEST(DerReadElement, LongFormTwoOctets) {
  Bytes input = {0x30, 0x82, 0x01, 0x2c};  // 300
  auto body = filled(300, 0x33);
  input.insert(input.end(), body.begin(), body.end());
  auto element = read_element(input);
  ASSERT_TRUE(element.has_value());
  EXPECT_TRUE(IsSubrange(element->whole, input, 0, 304));
  EXPECT_TRUE(IsSubrange(element->content, input, 4, 300));
}

TEST(DerReadElement, LongFormThreeOctets) {
  Bytes input = {0x04, 0x83, 0x01, 0x00, 0x00};  // 65536
  auto body = filled(65536, 0x44);
  input.insert(input.end(), body.begin(), body.end());
  auto element = read_element(input);
  ASSERT_TRUE(element.has_value());
  EXPECT_TRUE(IsSubrange(element->content, input, 5, 65536));
}

TEST(DerReadElement, IgnoresBytesAfterTheElement) {
  const Bytes input = {0x02, 0x01, 0x05, 0xde, 0xad};
  auto element = read_element(input);
  ASSERT_TRUE(element.has_value());
  EXPECT_EQ(element->tag, 0x02);
  EXPECT_TRUE(IsSubrange(element->whole, input, 0, 3));
  EXPECT_TRUE(IsSubrange(element->content, input, 2, 1));
}

TEST(DerReadElement, ContextSpecificConstructedTag) {
  const Bytes input = {0xa0, 0x02, 0x05, 0x00};
  auto element = read_element(input);
  ASSERT_TRUE(element.has_value());
  EXPECT_EQ(element->tag, 0xa0);
  EXPECT_TRUE(IsSubrange(element->content, input, 2, 2));
}

TEST(DerReadElement, TagNumber30IsStillLowForm) {
  const Bytes input = {0x1e, 0x00};  // BMPString, tag number 30: the highest single-octet tag
  auto element = read_element(input);
  ASSERT_TRUE(element.has_value());
  EXPECT_EQ(element->tag, 0x1e);
}

TEST(DerReadElement, RejectsEmptyInput) {
  EXPECT_FALSE(read_element(ByteView()).has_value());
}

TEST(DerReadElement, RejectsTagWithoutLength) {
  const Bytes input = {0x30};
  EXPECT_FALSE(read_element(input).has_value());
}

TEST(DerReadElement, RejectsTruncatedShortFormContent) {
  const Bytes input = {0x04, 0x05, 0x01, 0x02, 0x03, 0x04};  // one byte short
  EXPECT_FALSE(read_element(input).has_value());
}

TEST(DerReadElement, RejectsTruncatedLongFormLengthOctets) {
  const Bytes input = {0x30, 0x82, 0x01};  // needs two length octets, has one
  EXPECT_FALSE(read_element(input).has_value());
  const Bytes no_octets = {0x30, 0x81};
  EXPECT_FALSE(read_element(no_octets).has_value());
}

TEST(DerReadElement, RejectsTruncatedLongFormContent) {
  Bytes input = {0x30, 0x81, 0x80};
  auto body = filled(127, 0x00);  // one byte short of 128
  input.insert(input.end(), body.begin(), body.end());
  EXPECT_FALSE(read_element(input).has_value());
}

TEST(DerReadElement, RejectsIndefiniteLength) {
  const Bytes input = {0x30, 0x80, 0x05, 0x00, 0x00, 0x00};
  EXPECT_FALSE(read_element(input).has_value());
}

TEST(DerReadElement, RejectsNonMinimalLongFormForShortLength) {
  const Bytes input = {0x04, 0x81, 0x05, 0x01, 0x02, 0x03, 0x04, 0x05};
  EXPECT_FALSE(read_element(input).has_value());
}

TEST(DerReadElement, RejectsNonMinimalLongFormAt127) {
  Bytes input = {0x04, 0x81, 0x7f};
  auto body = filled(127, 0x00);
  input.insert(input.end(), body.begin(), body.end());
  EXPECT_FALSE(read_element(input).has_value());
}

TEST(DerReadElement, RejectsLeadingZeroLengthOctet) {
  Bytes input = {0x04, 0x82, 0x00, 0x80};  // 128 encoded in two octets
  auto body = filled(128, 0x00);
  input.insert(input.end(), body.begin(), body.end());
  EXPECT_FALSE(read_element(input).has_value());
}

TEST(DerReadElement, RejectsHighTagNumberForm) {
  const Bytes universal = {0x1f, 0x20, 0x00};
  EXPECT_FALSE(read_element(universal).has_value());
  const Bytes context = {0xbf, 0x81, 0x00, 0x00};  // [context 128] constructed
  EXPECT_FALSE(read_element(context).has_value());
}

TEST(DerReadElement, RejectsLengthBeyondInput) {
  const Bytes input = {0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x00};
  EXPECT_FALSE(read_element(input).has_value());
}

TEST(DerReadElement, RejectsLengthOver2To31) {
  const Bytes input = {0x30, 0x84, 0x80, 0x00, 0x00, 0x00, 0x00};
  EXPECT_FALSE(read_element(input).has_value());
  const Bytes all_ones = {0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00};
  EXPECT_FALSE(read_element(all_ones).has_value());
}

TEST(DerReadElement, RejectsMoreThanFourLengthOctets) {
  const Bytes input = {0x30, 0x85, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00};
  EXPECT_FALSE(read_element(input).has_value());
}

TEST(DerReadChildren, SplitsSequenceContent) {
  // SEQUENCE { INTEGER 5, OCTET STRING 'ab', NULL }
  const Bytes input = {0x30, 0x09, 0x02, 0x01, 0x05, 0x04, 0x02, 0x61, 0x62, 0x05, 0x00};
  auto sequence = read_element(input);
  ASSERT_TRUE(sequence.has_value());
  auto children = read_children(sequence->content);
  ASSERT_TRUE(children.has_value());
  ASSERT_EQ(children->size(), 3u);
  EXPECT_EQ((*children)[0].tag, 0x02);
  EXPECT_TRUE(IsSubrange((*children)[0].whole, input, 2, 3));
  EXPECT_TRUE(IsSubrange((*children)[0].content, input, 4, 1));
  EXPECT_EQ((*children)[1].tag, 0x04);
  EXPECT_TRUE(IsSubrange((*children)[1].whole, input, 5, 4));
  EXPECT_TRUE(IsSubrange((*children)[1].content, input, 7, 2));
  EXPECT_EQ((*children)[2].tag, 0x05);
  EXPECT_TRUE(IsSubrange((*children)[2].whole, input, 9, 2));
  EXPECT_TRUE((*children)[2].content.empty());
}

TEST(DerReadChildren, EmptyContentHasNoChildren) {
  auto children = read_children(ByteView());
  ASSERT_TRUE(children.has_value());
  EXPECT_TRUE(children->empty());
}

TEST(DerReadChildren, ChildWithLongFormLength) {
  Bytes content = {0x04, 0x81, 0x80};
  auto body = filled(128, 0x55);
  content.insert(content.end(), body.begin(), body.end());
  content.insert(content.end(), {0x05, 0x00});
  auto children = read_children(content);
  ASSERT_TRUE(children.has_value());
  ASSERT_EQ(children->size(), 2u);
  EXPECT_TRUE(IsSubrange((*children)[0].content, content, 3, 128));
  EXPECT_EQ((*children)[1].tag, 0x05);
}

TEST(DerReadChildren, RejectsSingleTrailingByte) {
  const Bytes content = {0x02, 0x01, 0x05, 0x00};
  EXPECT_FALSE(read_children(content).has_value());
}

TEST(DerReadChildren, RejectsTrailingTruncatedElement) {
  const Bytes content = {0x02, 0x01, 0x05, 0x04, 0x05, 0x61};
  EXPECT_FALSE(read_children(content).has_value());
}

TEST(DerReadChildren, RejectsMalformedChild) {
  const Bytes indefinite = {0x02, 0x01, 0x05, 0x30, 0x80, 0x00, 0x00};
  EXPECT_FALSE(read_children(indefinite).has_value());
  const Bytes high_tag = {0x1f, 0x20, 0x00};
  EXPECT_FALSE(read_children(high_tag).has_value());
}

TEST(DerElement, ShortFormKeepsTheTag) {
  EXPECT_EQ(element(0xa5, Bytes{0x30, 0x00}), (Bytes{0xa5, 0x02, 0x30, 0x00}));
  EXPECT_EQ(sequence({}), (Bytes{0x30, 0x00}));
}

TEST(DerElement, LongFormLengthsAreMinimalAndReadBack) {
  for (std::size_t size : {127U, 128U, 255U, 256U, 70000U}) {
    const Bytes content(size, 0x5a);
    const Bytes encoded = element(0x04, content);
    const std::size_t length_octets = size < 0x80 ? 0 : size <= 0xff ? 1 : size <= 0xffff ? 2 : 3;
    ASSERT_EQ(encoded.size(), 2 + length_octets + size) << size;
    if (length_octets > 0) {
      EXPECT_EQ(encoded[1], 0x80 | length_octets) << size;
    }
    auto read = read_element(encoded);  // rejects non-minimal lengths
    ASSERT_TRUE(read.has_value()) << size;
    EXPECT_EQ(read->tag, 0x04);
    EXPECT_EQ(Bytes(read->content.begin(), read->content.end()), content);
  }
}

}  // namespace
}  // namespace enrolld::der
