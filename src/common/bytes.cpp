#include "common/bytes.h"

#include <cstdlib>

#include <openssl/rand.h>

namespace enrolld {

std::string to_hex(ByteView bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (auto b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

Bytes from_hex(std::string_view hex, bool* ok) {
  Bytes out;
  bool good = hex.size() % 2 == 0;
  for (std::size_t i = 0; good && i < hex.size(); i += 2) {
    int hi = hex_value(hex[i]);
    int lo = hex_value(hex[i + 1]);
    good = hi >= 0 && lo >= 0;
    if (good) out.push_back(static_cast<std::uint8_t>(hi << 4 | lo));
  }
  if (ok != nullptr) *ok = good;
  if (!good) out.clear();
  return out;
}

Bytes to_bytes(std::string_view text) {
  return Bytes(text.begin(), text.end());
}

Bytes random_bytes(std::size_t count) {
  Bytes out(count);
  if (count > 0 && ::RAND_bytes(out.data(), static_cast<int>(count)) != 1) std::abort();
  return out;
}

}  // namespace enrolld
