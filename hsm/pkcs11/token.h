#pragma once
// A logged-in PKCS#11 token reached through libp11, and the signers for keys inside it.
// libp11 keeps its own pool of PKCS#11 sessions per slot, so one token serves many signing
// threads; the session handling stays hidden in here.

#include <memory>
#include <string_view>

#include "hsm/pkcs11/provisioner.h"
#include "hsm/signer.h"

struct PKCS11_ctx_st;
struct PKCS11_slot_st;

namespace enrolld::hsm {

// Thread-safety: signer() is for start-up; the signers it returns are safe for concurrent use
// and keep the token open for as long as they live.
class Pkcs11Token : public std::enable_shared_from_this<Pkcs11Token> {
 public:
  // Loads the module, finds the token by label and logs in with the user PIN.
  // Returns kSystemUnavailable (module, token) or kConfigInvalid (wrong PIN, no such token).
  static Result<std::shared_ptr<Pkcs11Token>> open(const TokenAccess& access);
  ~Pkcs11Token();
  Pkcs11Token(const Pkcs11Token&) = delete;
  Pkcs11Token& operator=(const Pkcs11Token&) = delete;

  // Returns a signer for the private key labelled `key_label`, or kConfigInvalid if the token
  // has no such key.
  Result<std::unique_ptr<Signer>> signer(std::string_view key_label);

 private:
  Pkcs11Token() = default;
  PKCS11_ctx_st* m_ctx = nullptr;
  PKCS11_slot_st* m_slots = nullptr;
  unsigned int m_slot_count = 0;
  PKCS11_slot_st* m_slot = nullptr;  // points into m_slots
  bool m_loaded = false;
};

}  // namespace enrolld::hsm
