#pragma once
// Root CA key update (RFC 4210 4.4.1, announced by CMP rootCaKeyUpdate, RFC 9483 4.3.2): the
// operator makes the new root key and the transition certificates with enrollctl; [ca]
// root_update names the folder they are in, and enrolld announces them from then on.

#include <chrono>
#include <filesystem>
#include <string>

#include "app/config.h"
#include "common/error.h"
#include "common/openssl_util.h"
#include "ra/enrollment_service.h"

namespace enrolld::app {

inline constexpr const char* kNewWithNewFile = "new-with-new.pem";
inline constexpr const char* kNewWithOldFile = "new-with-old.pem";
inline constexpr const char* kOldWithNewFile = "old-with-new.pem";

// Makes a key pair labelled `new_key_label` in the token of `root_key_uri` (a label in use is
// refused: it may be another CA's key), and writes the new root and the transition certificates into `out_dir`. The old
// root is the last certificate of the configured CA chain, and `root_key_uri` must hold its key. Errors: kConfigInvalid
// (the key is not the root's), kSystemUnavailable (HSM, disk).
[[nodiscard]] Status roll_root_over(const Config& config, const std::string& root_key_uri,
                                    const std::string& new_key_label, const std::filesystem::path& out_dir,
                                    std::chrono::seconds validity);

// Reads the three certificates from `dir` and checks that they link `old_root` and the new root
// (signatures and keys). Errors: kConfigInvalid saying which file is wrong.
[[nodiscard]] Result<ra::RootCaUpdate> load_root_update(const std::filesystem::path& dir, const ::X509* old_root);

}  // namespace enrolld::app
