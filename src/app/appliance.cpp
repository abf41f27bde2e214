#include "app/appliance.h"

#include <signal.h>

#include <cstdlib>
#include <map>

#include "ca/certificate_authority.h"
#include "common/log.h"
#include "hsm/pkcs11/pkcs11_uri.h"
#include "hsm/pkcs11/token.h"
#include "protocols/cmp/cmp_server.h"
#include "protocols/cmp/http_binding.h"
#include "protocols/http/http_server.h"
#include "ra/certificate_trust_impl.h"
#include "ra/enrollment_service_impl.h"
#include "ra/hsm_message_signer.h"
#include "ra/static_secrets.h"
#include "store/rocksdb/rocksdb_store.h"

namespace enrolld::app {

namespace {

Result<std::unique_ptr<hsm::Signer>> open_ca_signer(const Config& config) {
  if (config.softhsm2_conf) ::setenv("SOFTHSM2_CONF", config.softhsm2_conf->c_str(), 1);
  auto uri = hsm::parse_pkcs11_uri(config.ca_key);
  if (!uri) return tl::unexpected(uri.error());
  // A relative pin-source is relative to the config file, like every other path in it.
  std::string pin_path = uri->pin_source.rfind("file:", 0) == 0 ? uri->pin_source.substr(5) : uri->pin_source;
  if (!pin_path.empty() && std::filesystem::path(pin_path).is_relative()) {
    uri->pin_source = (config.file.parent_path() / pin_path).string();
  }
  auto pin = hsm::resolve_pin(*uri);
  if (!pin) return tl::unexpected(pin.error());
  const std::string module = uri->module_path.empty() ? config.hsm_module : uri->module_path;
  auto token = hsm::Pkcs11Token::open({module, uri->token, *pin});
  if (!token) return tl::unexpected(token.error());
  return (*token)->signer(uri->object);
}

Result<std::vector<ossl::X509Ptr>> load_ca_chain(const Config& config, const hsm::Signer& signer) {
  auto own = ossl::read_pem_certificate(config.ca_certificate.string());
  if (!own) return tl::unexpected(own.error());
  if (::EVP_PKEY_eq(::X509_get0_pubkey(own->get()), signer.public_key()) != 1) {
    return fail(ErrorCode::kConfigInvalid, "ca.key does not hold the key of " + config.ca_certificate.string());
  }
  std::vector<ossl::X509Ptr> chain;
  chain.push_back(std::move(*own));
  if (config.ca_chain) {
    auto above = ossl::read_pem_certificates(config.ca_chain->string());
    if (!above) return tl::unexpected(above.error());
    for (auto& cert : *above) chain.push_back(std::move(cert));
  }
  return chain;
}

ra::StaticSharedSecrets shared_secrets(const Config& config) {
  std::map<std::string, Bytes, std::less<>> secrets;
  for (const auto& credential : config.credentials) secrets[credential.reference] = to_bytes(credential.secret);
  return ra::StaticSharedSecrets(std::move(secrets));
}

Result<std::vector<Bytes>> load_trust_anchors(const Config& config) {
  std::vector<Bytes> anchors;
  for (const auto& file : config.trust_anchors) {
    auto certs = ossl::read_pem_certificates(file.string());
    if (!certs) return tl::unexpected(certs.error());
    for (const auto& cert : *certs) anchors.push_back(ossl::der_of(cert.get()));
  }
  return anchors;
}

int wait_for_termination() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int signal = 0;
  sigwait(&set, &signal);
  return signal;
}

int report(const Error& error) {
  spdlog::error("start-up failed: {} ({})", error.message, to_string(error.code));
  return 1;
}

}  // namespace

void block_termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int run(const Config& config, const RunOptions& options) {
  auto signer = open_ca_signer(config);
  if (!signer) return report(signer.error());
  auto chain = load_ca_chain(config, **signer);
  if (!chain) return report(chain.error());
  auto store = store::RocksDbStore::open(config.store_path.string());
  if (!store) return report(store.error());

  auto clock = [] { return std::chrono::system_clock::now(); };
  ca::CertificateAuthority authority(std::move(*chain), std::move(*signer), clock);
  ca::Profile profile;
  profile.validity = std::chrono::hours(24) * config.validity_days;
  ra::Policy policy{config.grant_implicit_confirm, std::chrono::seconds(config.confirm_wait_seconds)};
  ra::EnrollmentServiceImpl service(**store, authority, profile, policy, clock);
  ra::StaticSharedSecrets secrets = shared_secrets(config);
  auto anchors = load_trust_anchors(config);
  if (!anchors) return report(anchors.error());
  ra::CertificateTrustImpl trust(**store, service.ca_chain(), *anchors, clock);
  ra::HsmMessageSigner response_signer(authority.signer(), service.ca_chain());
  cmp::CmpServerOptions cmp_options;
  cmp_options.pbm = config.pbm;
  cmp::CmpServer cmp_server(service, secrets, cmp_options, &trust, &response_signer);

  http::ServerOptions http_options;
  http_options.bind_address = config.listen;
  http_options.port = options.http_port.value_or(config.http_port);
  http_options.threads = config.threads;
  http_options.max_body_bytes = config.max_body_bytes;
  auto server = http::HttpServer::start(http_options, cmp::http_routes(cmp_server));
  if (!server) return report(server.error());

  spdlog::info("enrolld serving: ca=\"{}\" http={}:{} store={}", authority.name(), config.listen, (*server)->port(),
               config.store_path.string());
  if (options.on_listening) options.on_listening(Listening{(*server)->port()});
  const int signal = wait_for_termination();
  spdlog::info("signal {} received: finishing requests in flight", signal);
  (*server)->stop();
  spdlog::info("enrolld stopped");
  return 0;
}

}  // namespace enrolld::app
