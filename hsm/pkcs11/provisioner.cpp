#include "hsm/pkcs11/provisioner.h"

#include <dlfcn.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

#include <p11-kit/pkcs11.h>

#include "common/bytes.h"

namespace enrolld::hsm {

namespace {

std::string rv_text(CK_RV rv) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "CKR 0x%08lx", static_cast<unsigned long>(rv));
  return buf;
}

// The module loaded and initialised for the lifetime of this object.
class Module {
 public:
  static Result<std::unique_ptr<Module>> load(const std::string& path) {
    std::unique_ptr<Module> module(new Module());
    module->m_handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (module->m_handle == nullptr) {
      return fail(ErrorCode::kSystemUnavailable, "cannot load PKCS#11 module " + path + ": " + ::dlerror());
    }
    auto get_list = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(module->m_handle, "C_GetFunctionList"));
    if (get_list == nullptr || get_list(&module->m_fn) != CKR_OK) {
      return fail(ErrorCode::kSystemUnavailable, path + " is not a PKCS#11 module");
    }
    CK_C_INITIALIZE_ARGS args{};
    args.flags = CKF_OS_LOCKING_OK;
    CK_RV rv = module->m_fn->C_Initialize(&args);
    // Already initialised means a Pkcs11Token (libp11) in this process holds the module: share
    // it, and leave finalising to its owner.
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
      return fail(ErrorCode::kSystemUnavailable, "C_Initialize failed: " + rv_text(rv));
    }
    module->m_initialized = rv == CKR_OK;
    return module;
  }
  ~Module() {
    if (m_initialized) m_fn->C_Finalize(nullptr);
    if (m_handle != nullptr) ::dlclose(m_handle);
  }
  CK_FUNCTION_LIST* fn() const { return m_fn; }

 private:
  Module() = default;
  void* m_handle = nullptr;
  CK_FUNCTION_LIST* m_fn = nullptr;
  bool m_initialized = false;
};

class Session {
 public:
  Session(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE handle) : m_fn(fn), m_handle(handle) {}
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session() { m_fn->C_CloseSession(m_handle); }
  CK_SESSION_HANDLE handle() const { return m_handle; }

 private:
  CK_FUNCTION_LIST* m_fn;
  CK_SESSION_HANDLE m_handle;
};

// PKCS#11 labels are 32 bytes padded with blanks.
std::string trimmed_label(const CK_UTF8CHAR (&label)[32]) {
  std::string out(reinterpret_cast<const char*>(label), 32);
  out.erase(out.find_last_not_of(' ') + 1);
  return out;
}

struct SlotState {
  CK_SLOT_ID id;
  bool initialized;
  std::string label;
};

Result<std::vector<SlotState>> list_slots(CK_FUNCTION_LIST* fn) {
  CK_ULONG count = 0;
  CK_RV rv = fn->C_GetSlotList(CK_TRUE, nullptr, &count);
  if (rv != CKR_OK) return fail(ErrorCode::kSystemUnavailable, "C_GetSlotList failed: " + rv_text(rv));
  std::vector<CK_SLOT_ID> ids(count);
  rv = fn->C_GetSlotList(CK_TRUE, ids.data(), &count);
  if (rv != CKR_OK) return fail(ErrorCode::kSystemUnavailable, "C_GetSlotList failed: " + rv_text(rv));
  std::vector<SlotState> out;
  for (CK_ULONG i = 0; i < count; ++i) {
    CK_TOKEN_INFO info{};
    if (fn->C_GetTokenInfo(ids[i], &info) != CKR_OK) continue;
    out.push_back({ids[i], (info.flags & CKF_TOKEN_INITIALIZED) != 0, trimmed_label(info.label)});
  }
  return out;
}

std::optional<CK_SLOT_ID> find_slot(const std::vector<SlotState>& slots, std::string_view label) {
  for (const auto& slot : slots) {
    if (slot.initialized && slot.label == label) return slot.id;
  }
  return std::nullopt;
}

Result<std::unique_ptr<Session>> open_session(CK_FUNCTION_LIST* fn, CK_SLOT_ID slot) {
  CK_SESSION_HANDLE handle = 0;
  CK_RV rv = fn->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &handle);
  if (rv != CKR_OK) return fail(ErrorCode::kSystemUnavailable, "C_OpenSession failed: " + rv_text(rv));
  return std::make_unique<Session>(fn, handle);
}

Status login(CK_FUNCTION_LIST* fn, const Session& session, CK_USER_TYPE user, std::string_view pin) {
  CK_RV rv =
      fn->C_Login(session.handle(), user, reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(pin.data())), pin.size());
  if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
    return fail(rv == CKR_PIN_INCORRECT ? ErrorCode::kConfigInvalid : ErrorCode::kSystemUnavailable,
                "C_Login failed: " + rv_text(rv));
  }
  return {};
}

Status initialise_token(CK_FUNCTION_LIST* fn, const std::vector<SlotState>& slots, const TokenAccess& access,
                        std::string_view so_pin) {
  auto free_slot = std::find_if(slots.begin(), slots.end(), [](const SlotState& s) { return !s.initialized; });
  if (free_slot == slots.end()) return fail(ErrorCode::kSystemUnavailable, "no free slot to create a token in");
  CK_UTF8CHAR label[32];
  std::fill(std::begin(label), std::end(label), ' ');
  std::copy_n(access.token_label.begin(), std::min<std::size_t>(32, access.token_label.size()), label);
  CK_RV rv = fn->C_InitToken(free_slot->id, reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(so_pin.data())),
                             so_pin.size(), label);
  if (rv != CKR_OK) return fail(ErrorCode::kSystemUnavailable, "C_InitToken failed: " + rv_text(rv));

  // SoftHSM renumbers slots after C_InitToken: look the token up again by its label.
  auto relisted = list_slots(fn);
  if (!relisted) return tl::unexpected(relisted.error());
  auto slot = find_slot(*relisted, access.token_label);
  if (!slot) return fail(ErrorCode::kSystemFailure, "token vanished after C_InitToken");
  auto session = open_session(fn, *slot);
  if (!session) return tl::unexpected(session.error());
  if (auto ok = login(fn, **session, CKU_SO, so_pin); !ok) return ok;
  rv = fn->C_InitPIN((*session)->handle(), reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(access.user_pin.data())),
                     access.user_pin.size());
  fn->C_Logout((*session)->handle());
  if (rv != CKR_OK) return fail(ErrorCode::kSystemUnavailable, "C_InitPIN failed: " + rv_text(rv));
  return {};
}

Result<bool> has_private_key(CK_FUNCTION_LIST* fn, const Session& session, std::string_view key_label) {
  CK_OBJECT_CLASS klass = CKO_PRIVATE_KEY;
  CK_ATTRIBUTE query[] = {{CKA_CLASS, &klass, sizeof klass},
                          {CKA_LABEL, const_cast<char*>(key_label.data()), key_label.size()}};
  if (fn->C_FindObjectsInit(session.handle(), query, 2) != CKR_OK) {
    return fail(ErrorCode::kSystemUnavailable, "C_FindObjectsInit failed");
  }
  CK_OBJECT_HANDLE found = 0;
  CK_ULONG count = 0;
  CK_RV rv = fn->C_FindObjects(session.handle(), &found, 1, &count);
  fn->C_FindObjectsFinal(session.handle());
  if (rv != CKR_OK) return fail(ErrorCode::kSystemUnavailable, "C_FindObjects failed: " + rv_text(rv));
  return count > 0;
}

// DER OIDs of the named curves, as CKA_EC_PARAMS wants them.
const Bytes kP256Params = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
const Bytes kP384Params = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};

Status generate_key_pair(CK_FUNCTION_LIST* fn, const Session& session, std::string_view key_label, KeyType type) {
  CK_BBOOL yes = CK_TRUE;
  CK_BBOOL no = CK_FALSE;
  Bytes id = random_bytes(8);
  auto* label = const_cast<char*>(key_label.data());
  const bool is_ec = type == KeyType::kEcP256 || type == KeyType::kEcP384;
  const Bytes& params = type == KeyType::kEcP384 ? kP384Params : kP256Params;
  CK_ULONG modulus_bits = type == KeyType::kRsa3072 ? 3072 : 2048;
  CK_BYTE exponent[] = {0x01, 0x00, 0x01};

  std::vector<CK_ATTRIBUTE> public_template = {{CKA_TOKEN, &yes, sizeof yes},
                                               {CKA_VERIFY, &yes, sizeof yes},
                                               {CKA_LABEL, label, key_label.size()},
                                               {CKA_ID, id.data(), id.size()}};
  if (is_ec) {
    public_template.push_back({CKA_EC_PARAMS, const_cast<std::uint8_t*>(params.data()), params.size()});
  } else {
    public_template.push_back({CKA_MODULUS_BITS, &modulus_bits, sizeof modulus_bits});
    public_template.push_back({CKA_PUBLIC_EXPONENT, exponent, sizeof exponent});
  }
  CK_ATTRIBUTE private_template[] = {{CKA_TOKEN, &yes, sizeof yes},     {CKA_PRIVATE, &yes, sizeof yes},
                                     {CKA_SENSITIVE, &yes, sizeof yes}, {CKA_EXTRACTABLE, &no, sizeof no},
                                     {CKA_SIGN, &yes, sizeof yes},      {CKA_LABEL, label, key_label.size()},
                                     {CKA_ID, id.data(), id.size()}};
  CK_MECHANISM mechanism = {is_ec ? CKM_EC_KEY_PAIR_GEN : CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
  CK_OBJECT_HANDLE public_key = 0;
  CK_OBJECT_HANDLE private_key = 0;
  CK_RV rv = fn->C_GenerateKeyPair(session.handle(), &mechanism, public_template.data(), public_template.size(),
                                   private_template, std::size(private_template), &public_key, &private_key);
  if (rv != CKR_OK) return fail(ErrorCode::kSystemUnavailable, "C_GenerateKeyPair failed: " + rv_text(rv));
  return {};
}

}  // namespace

Result<KeyType> parse_key_type(std::string_view name) {
  if (name == "p256") return KeyType::kEcP256;
  if (name == "p384") return KeyType::kEcP384;
  if (name == "rsa2048") return KeyType::kRsa2048;
  if (name == "rsa3072") return KeyType::kRsa3072;
  return fail(ErrorCode::kConfigInvalid, "unknown key type '" + std::string(name) + "' (p256, p384, rsa2048, rsa3072)");
}

Status ensure_token(const TokenAccess& access, std::string_view so_pin) {
  auto module = Module::load(access.module_path);
  if (!module) return tl::unexpected(module.error());
  auto slots = list_slots((*module)->fn());
  if (!slots) return tl::unexpected(slots.error());
  if (find_slot(*slots, access.token_label)) return {};
  return initialise_token((*module)->fn(), *slots, access, so_pin);
}

Result<bool> ensure_key_pair(const TokenAccess& access, std::string_view key_label, KeyType type) {
  auto module = Module::load(access.module_path);
  if (!module) return tl::unexpected(module.error());
  CK_FUNCTION_LIST* fn = (*module)->fn();
  auto slots = list_slots(fn);
  if (!slots) return tl::unexpected(slots.error());
  auto slot = find_slot(*slots, access.token_label);
  if (!slot) return fail(ErrorCode::kConfigInvalid, "no token labelled '" + access.token_label + "'");
  auto session = open_session(fn, *slot);
  if (!session) return tl::unexpected(session.error());
  if (auto ok = login(fn, **session, CKU_USER, access.user_pin); !ok) return tl::unexpected(ok.error());
  auto present = has_private_key(fn, **session, key_label);
  if (!present) return tl::unexpected(present.error());
  if (*present) return false;
  if (auto ok = generate_key_pair(fn, **session, key_label, type); !ok) return tl::unexpected(ok.error());
  return true;
}

}  // namespace enrolld::hsm
