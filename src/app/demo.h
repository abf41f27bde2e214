#pragma once
// The demo instance: everything an appliance needs, made under one folder on first use and
// reused afterwards. Tests and benchmarks start the same instance.

#include <cstdint>
#include <filesystem>

#include "app/appliance.h"
#include "app/config.h"
#include "common/error.h"

namespace enrolld::app {

// Makes sure `dir` holds a complete demo instance: a SoftHSM2 token (own softhsm2.conf), root
// and issuing CA keys generated inside it (P-256), their certificates, a store folder, a CMP MAC
// credential and the config file enrolld.toml (written last: its presence marks a complete
// instance). The HTTP port is fixed then (`http_port`, or a free one for 0), because issued
// certificates name it in their CRL and OCSP URLs. A second call with the same folder changes
// nothing. Returns the config file path, or kSystemUnavailable / kSystemFailure naming the step
// that failed.
Result<std::filesystem::path> ensure_demo_instance(const std::filesystem::path& dir, std::uint16_t http_port = 0);

// Writes dir/endpoints.env: shell assignments (CMP_URL, CMP_POLL_URL, CMP_REF, CMP_SECRET,
// CMP_TRUST, CMP_CHAIN, CMP_CLIENT_CERT/KEY, ADMIN_URL, HTTP_PORT, CRL_URL, OCSP_URL, REPO_URL,
// EST_...) for clients and scripts.
Status write_endpoints(const std::filesystem::path& dir, const Config& config, const Listening& listening);

}  // namespace enrolld::app
