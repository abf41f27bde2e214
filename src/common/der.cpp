#include "common/der.h"

namespace enrolld::der {

std::optional<Element> read_element(ByteView input) {
  if (input.size() < 2) return std::nullopt;
  const std::uint8_t tag = input[0];
  if ((tag & 0x1f) == 0x1f) return std::nullopt;  // high tag number form
  std::size_t pos = 1;
  std::size_t length = input[pos++];
  if (length & 0x80) {
    const std::size_t count = length & 0x7f;
    if (count == 0 || count > 4 || input.size() < pos + count) return std::nullopt;
    if (input[pos] == 0) return std::nullopt;  // DER: no leading zero length octets
    length = 0;
    for (std::size_t i = 0; i < count; ++i) length = length << 8 | input[pos++];
    if (length < 0x80 || length > 0x7fffffff) return std::nullopt;  // DER: minimal form
  }
  if (input.size() - pos < length) return std::nullopt;
  return Element{tag, input.subspan(0, pos + length), input.subspan(pos, length)};
}

std::optional<std::vector<Element>> read_children(ByteView content) {
  std::vector<Element> out;
  while (!content.empty()) {
    auto element = read_element(content);
    if (!element) return std::nullopt;
    content = content.subspan(element->whole.size());
    out.push_back(*element);
  }
  return out;
}

Bytes sequence(ByteView content) {
  constexpr std::uint8_t kSequence = 0x30;
  return element(kSequence, content);
}

Bytes element(std::uint8_t tag, ByteView content) {
  Bytes out{tag};
  const std::size_t n = content.size();
  if (n < 0x80) {
    out.push_back(static_cast<std::uint8_t>(n));
  } else {
    Bytes length;
    for (std::size_t v = n; v > 0; v >>= 8) length.insert(length.begin(), static_cast<std::uint8_t>(v & 0xff));
    out.push_back(static_cast<std::uint8_t>(0x80 | length.size()));
    out.insert(out.end(), length.begin(), length.end());
  }
  out.insert(out.end(), content.begin(), content.end());
  return out;
}

}  // namespace enrolld::der
