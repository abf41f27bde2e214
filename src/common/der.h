#pragma once
// A minimal DER tag-length-value walker. It never decodes content; it only finds the byte ranges
// of elements, e.g. the header and body of a PKIMessage, whose exact bytes a MAC covers.

#include <cstdint>
#include <optional>

#include "common/bytes.h"

namespace enrolld::der {

struct Element {
  std::uint8_t tag = 0;  // identifier octet (single-byte tags only; CMP needs no others)
  ByteView whole;        // tag + length + content
  ByteView content;
};

// Reads one element at the start of `input`; nullopt for truncated input, indefinite or
// non-minimal lengths, multi-byte tags, or lengths over 2^31.
std::optional<Element> read_element(ByteView input);

// Reads the elements inside a constructed element's content, in order. nullopt if any element
// is malformed or bytes are left over.
std::optional<std::vector<Element>> read_children(ByteView content);

// DER element with a one-byte `tag` and `content` as its content octets.
Bytes element(std::uint8_t tag, ByteView content);

// DER SEQUENCE with `content` as its content octets.
Bytes sequence(ByteView content);

}  // namespace enrolld::der
