#pragma once
// The CA hierarchy with its keys in the HSM, as enrollctl sets it up: a root (`ca init`), an
// intermediate under it (`ca create-intermediate`), or an issuing CA under an outside root: a CSR
// for a key made in the HSM (`ca csr`), signed elsewhere, then installed (`ca import`). Nothing
// here needs a running enrolld; every signature the HSM makes is checked before it is written.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "app/hsm_keys.h"
#include "ca/ca_certificates.h"
#include "common/error.h"

namespace enrolld::app {

// openssl's -subj form, "/O=Example/CN=Example Root CA", as name attributes in order. Errors:
// kConfigInvalid (no leading '/', an attribute without '=' or value).
[[nodiscard]] Result<std::vector<std::pair<std::string, std::string>>> parse_subject(std::string_view text);

// Makes the token if `so_pin` is given and no token has its label, a new key pair `key` (a label
// in use is refused: it may be another CA's key) and a self-signed root certificate for it.
// Returns the certificate as PEM. Errors: kConfigInvalid, kSystemUnavailable (HSM), kSystemFailure.
[[nodiscard]] Result<std::string> init_root(const KeyLocation& key, hsm::KeyType type,
                                            const std::optional<std::string>& so_pin,
                                            const ca::CaCertificateSpec& spec);

// Makes a new key pair labelled `key_label` in the token of `root_key` and a CA certificate for
// it issued by `root` (whose key `root_key` must be). Returns the certificate as PEM. Errors: as
// init_root.
[[nodiscard]] Result<std::string> create_intermediate(const KeyLocation& root_key, const ::X509* root,
                                                      const std::string& key_label, hsm::KeyType type,
                                                      const ca::CaCertificateSpec& spec);

// Makes a new key pair `key` (a label in use is refused, as for init_root) and returns a PKCS#10
// request for it (PEM) asking for a CA certificate. Errors: as init_root.
[[nodiscard]] Result<std::string> issuing_request(const KeyLocation& key, hsm::KeyType type,
                                                  const std::vector<std::pair<std::string, std::string>>& subject);

// Checks the certificate in `cert_file` (for the key `key`, a CA, validated by the chain in
// `chain_file`, which ends with the root) and writes `out_dir`/issuing.pem and chain.pem, what
// [ca] certificate and chain name. Errors: kConfigInvalid saying what is wrong, kSystemUnavailable.
[[nodiscard]] Status import_issuing(const KeyLocation& key, const std::filesystem::path& cert_file,
                                    const std::filesystem::path& chain_file, const std::filesystem::path& out_dir);

}  // namespace enrolld::app
