#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace enrolld {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

std::string to_hex(ByteView bytes);
// Returns the decoded bytes, or an empty vector with ok=false for odd length / non-hex input.
Bytes from_hex(std::string_view hex, bool* ok = nullptr);
Bytes to_bytes(std::string_view text);
// Base64 (RFC 4648) on one line, with padding.
std::string to_base64(ByteView bytes);
// Strict base64: whole quads of the alphabet, '=' only as the last one or two characters;
// nullopt otherwise (no white space either: callers that allow it remove it first).
std::optional<Bytes> from_base64(std::string_view text);
// Fills `count` bytes from OpenSSL's CSPRNG; aborts if the CSPRNG is unusable (a broken invariant).
Bytes random_bytes(std::size_t count);

}  // namespace enrolld
