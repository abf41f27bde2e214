#pragma once
#include <map>
#include <string>

#include "ra/enrollment_service.h"

namespace enrolld::ra {

// Shared secrets fixed at start-up (from the configuration).
// Thread-safety: immutable after construction.
class StaticSharedSecrets final : public SharedSecrets {
 public:
  explicit StaticSharedSecrets(std::map<std::string, Bytes, std::less<>> secrets) : m_secrets(std::move(secrets)) {}
  std::optional<Bytes> find_secret(std::string_view reference) const override {
    auto it = m_secrets.find(reference);
    if (it == m_secrets.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::map<std::string, Bytes, std::less<>> m_secrets;
};

}  // namespace enrolld::ra
