#pragma once
#include <map>
#include <string>

#include "common/swappable.h"
#include "ra/enrollment_service.h"

namespace enrolld::ra {

// Shared secrets from the configuration ([[cmp.credential]]): fixed at start-up, replaced as a
// whole when the configuration is reloaded.
// Thread-safety: find_secret() and replace() may run concurrently; a lookup sees the old set
// or the new one, never a mix.
class StaticSharedSecrets final : public SharedSecrets {
 public:
  using Secrets = std::map<std::string, Bytes, std::less<>>;

  explicit StaticSharedSecrets(Secrets secrets) : m_secrets(std::move(secrets)) {}

  std::optional<Bytes> find_secret(std::string_view reference) const override {
    const auto secrets = m_secrets.get();
    auto it = secrets->find(reference);
    if (it == secrets->end()) return std::nullopt;
    return it->second;
  }

  // Replaces every secret: a reference absent from `secrets` is unknown from now on.
  void replace(Secrets secrets) { m_secrets.replace(std::move(secrets)); }

  std::size_t size() const { return m_secrets.get()->size(); }

 private:
  Swappable<Secrets> m_secrets;
};

}  // namespace enrolld::ra
