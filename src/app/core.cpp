#include "app/core.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>

#include "app/hsm_keys.h"
#include "app/root_rollover.h"
#include "ca/certificate_authority.h"
#include "hsm/pkcs11/token.h"
#include "publish/directory_publisher.h"
#include "publish/ldap_publisher.h"
#include "ra/certificate_trust_impl.h"
#include "ra/enrollment_service_impl.h"
#include "ra/hsm_message_signer.h"
#include "ra/ocsp_status_responder.h"
#include "ra/outbox_drainer.h"
#include "ra/password_store.h"
#include "ra/static_secrets.h"
#include "store/rocksdb/rocksdb_store.h"

namespace enrolld::app {

namespace {

constexpr std::size_t kPendingLimit = 100'000;  // more held requests than any officer works through

// Tokens opened at start-up, by module and token label: a module is loaded once, because
// loading it again (C_Initialize/C_Finalize) invalidates the sessions of the first load.
using OpenTokens = std::map<std::pair<std::string, std::string>, std::shared_ptr<hsm::Pkcs11Token>>;

// The key at `key` in the HSM.
Result<std::unique_ptr<hsm::Signer>> open_located(const KeyLocation& key, OpenTokens& tokens) {
  std::shared_ptr<hsm::Pkcs11Token>& token = tokens[{key.token.module_path, key.token.token_label}];
  if (!token) {
    auto opened = hsm::Pkcs11Token::open(key.token);
    if (!opened) return tl::unexpected(opened.error());
    token = std::move(*opened);
  }
  return token->signer(key.object);
}

// The key that `key_uri` (RFC 7512) names in the HSM.
Result<std::unique_ptr<hsm::Signer>> open_signer(const Config& config, const std::string& key_uri, OpenTokens& tokens) {
  auto key = locate_key(config, key_uri);
  if (!key) return tl::unexpected(key.error());
  return open_located(*key, tokens);
}

// The certificate in `file`, which must be for the key of `signer` (`key_name` says which key).
Result<ossl::X509Ptr> load_certificate_for(const std::filesystem::path& file, const hsm::Signer& signer,
                                           const std::string& key_name) {
  auto own = ossl::read_pem_certificate(file.string());
  if (!own) return tl::unexpected(own.error());
  if (::EVP_PKEY_eq(::X509_get0_pubkey(own->get()), signer.public_key()) != 1) {
    return fail(ErrorCode::kConfigInvalid, key_name + " does not hold the key of " + file.string());
  }
  return own;
}

Result<std::vector<ossl::X509Ptr>> load_ca_chain(const Config& config, const hsm::Signer& signer) {
  auto own = load_certificate_for(config.ca_certificate, signer, "ca.key");
  if (!own) return tl::unexpected(own.error());
  std::vector<ossl::X509Ptr> chain;
  chain.push_back(std::move(*own));
  if (config.ca_chain) {
    auto above = ossl::read_pem_certificates(config.ca_chain->string());
    if (!above) return tl::unexpected(above.error());
    for (auto& cert : *above) chain.push_back(std::move(cert));
  }
  return chain;
}

// The key generation authority for central key generation, if configured: its key, its
// certificate and then the CA chain.
Result<std::optional<ra::KeyGenerationAuthority>> load_kga(const Config& config,
                                                           const std::vector<ossl::X509Ptr>& ca_chain,
                                                           OpenTokens& tokens) {
  if (!config.kga_key) return std::nullopt;
  auto signer = open_signer(config, *config.kga_key, tokens);
  if (!signer) return tl::unexpected(signer.error());
  auto cert = load_certificate_for(*config.kga_certificate, **signer, "cmp.kga_key");
  if (!cert) return tl::unexpected(cert.error());
  ra::KeyGenerationAuthority kga{std::move(*signer),
                                 {},
                                 config.central_key_package == "asymmetric-key-package"
                                     ? ra::KeyPackageFormat::kAsymmetricKeyPackage
                                     : ra::KeyPackageFormat::kSingleKey};
  kga.chain.push_back(std::move(*cert));
  for (const auto& above : ca_chain) kga.chain.push_back(ossl::up_ref(above.get()));
  return kga;
}

// The delegated OCSP responder ([ocsp] signer_key and signer_certificate), if configured.
Result<std::pair<std::unique_ptr<hsm::Signer>, ossl::X509Ptr>> load_ocsp_signer(const Config& config,
                                                                                OpenTokens& tokens) {
  if (!config.ocsp_signer_key) return std::pair<std::unique_ptr<hsm::Signer>, ossl::X509Ptr>();
  auto signer = open_signer(config, *config.ocsp_signer_key, tokens);
  if (!signer) return tl::unexpected(signer.error());
  auto cert = load_certificate_for(*config.ocsp_signer_certificate, **signer, "ocsp.signer_key");
  if (!cert) return tl::unexpected(cert.error());
  return std::pair{std::move(*signer), std::move(*cert)};
}

// The configured publishers ([publish.directory], [publish.ldap]), in that order.
Result<std::vector<std::unique_ptr<publish::Publisher>>> make_publishers(const Config& config) {
  std::vector<std::unique_ptr<publish::Publisher>> publishers;
  if (config.publish_directory) {
    publishers.push_back(std::make_unique<publish::DirectoryPublisher>(config.publish_directory->path));
  }
  if (config.publish_ldap) {
    auto password = ossl::read_first_line(config.publish_ldap->password_file.string());
    if (!password) return tl::unexpected(password.error());
    publishers.push_back(std::make_unique<publish::LdapPublisher>(publish::LdapOptions{
        config.publish_ldap->url, config.publish_ldap->bind_dn, std::move(*password), config.publish_ldap->base_dn,
        std::chrono::seconds(config.publish_ldap->timeout_seconds)}));
  }
  return publishers;
}

ra::StaticSharedSecrets::Secrets shared_secrets(const Config& config) {
  ra::StaticSharedSecrets::Secrets secrets;
  for (const auto& credential : config.credentials) secrets[credential.reference] = to_bytes(credential.secret);
  return secrets;
}

// Every certificate in the PEM files, DER.
Result<std::vector<Bytes>> load_certificates(const std::vector<std::filesystem::path>& files) {
  std::vector<Bytes> out;
  for (const auto& file : files) {
    auto certs = ossl::read_pem_certificates(file.string());
    if (!certs) return tl::unexpected(certs.error());
    for (const auto& cert : *certs) out.push_back(ossl::der_of(cert.get()));
  }
  return out;
}

constexpr std::string_view kProbeData = "enrolld status probe";

// A test signature with the CA key, timed: what the HSM costs a request now.
ra::ApplianceReport::Hsm probe_hsm(const hsm::Signer& signer, std::string module, std::string token) {
  ra::ApplianceReport::Hsm hsm{std::move(module), std::move(token), false, 0, {}};
  const auto start = std::chrono::steady_clock::now();
  auto signature = signer.sign(to_bytes(kProbeData));
  hsm.sign_micros =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
  hsm.signs = signature.has_value();
  if (!signature) hsm.error = signature.error().message;
  return hsm;
}

// A test read and the backend's estimates of what it holds.
ra::ApplianceReport::Store probe_store(store::Store& store, std::string path) {
  ra::ApplianceReport::Store state{std::move(path), false, 0, 0, {}};
  if (auto read = store.find_crl("full"); !read) {
    state.error = read.error().message;
    return state;
  }
  state.reads = true;
  // Estimates are a nicety: a backend that cannot give them still reads.
  if (auto statistics = store.statistics()) {
    state.estimated_records = statistics->estimated_records;
    state.size_bytes = statistics->size_bytes;
  }
  return state;
}

// What a request's signer is validated against, read from the files the config names: what
// start-up and a reload read.
struct TrustFiles {
  std::vector<Bytes> anchors;      // [cmp] trust_anchors
  std::vector<Bytes> ras;          // [cmp] ra_certificates
  std::vector<Bytes> est_anchors;  // [est] trust_anchors
};

Result<TrustFiles> load_trust_files(const Config& config) {
  auto anchors = load_certificates(config.trust_anchors);
  if (!anchors) return tl::unexpected(anchors.error());
  auto ras = load_certificates(config.ra_certificates);
  if (!ras) return tl::unexpected(ras.error());
  auto est_anchors = load_certificates(config.est.trust_anchors);
  if (!est_anchors) return tl::unexpected(est_anchors.error());
  return TrustFiles{std::move(*anchors), std::move(*ras), std::move(*est_anchors)};
}

// "a,b,c": OpenSSL's configuration syntax for a list of usages.
std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ",") + name;
  return out;
}
// Key type names as the config spells them (checked there) to the CA's rules.
std::vector<ca::KeyRule> key_rules(const std::vector<std::string>& names) {
  static const std::map<std::string, ca::KeyRule, std::less<>> kRules = {
      {"P-256", {EVP_PKEY_EC, NID_X9_62_prime256v1, 0}},
      {"P-384", {EVP_PKEY_EC, NID_secp384r1, 0}},
      {"RSA-2048", {EVP_PKEY_RSA, 0, 2048}},
      {"RSA-3072", {EVP_PKEY_RSA, 0, 3072}},
      {"RSA-4096", {EVP_PKEY_RSA, 0, 4096}}};
  std::vector<ca::KeyRule> rules;
  for (const auto& name : names) rules.push_back(kRules.at(name));
  return rules;
}

}  // namespace

std::vector<ca::Profile> certificate_profiles(const Config& config) {
  std::vector<ProfileConfig> wanted = config.profiles;
  auto is_default = [](const ProfileConfig& p) { return p.name == "default"; };
  auto found = std::find_if(wanted.begin(), wanted.end(), is_default);
  if (found == wanted.end()) {
    ProfileConfig implied;
    implied.name = "default";
    wanted.insert(wanted.begin(), std::move(implied));
  } else {
    std::rotate(wanted.begin(), found, found + 1);
  }
  std::vector<ca::Profile> profiles;
  for (const auto& p : wanted) {
    ca::Profile profile;
    profile.name = p.name;
    profile.validity = std::chrono::hours(24) * p.validity_days.value_or(config.validity_days);
    if (!p.key_types.empty()) profile.keys = key_rules(p.key_types);
    profile.subject_required = p.subject_required;
    profile.subject_forbidden = p.subject_forbidden;
    profile.san = {p.san_dns, p.san_ip, p.san_uri, p.san_email};
    profile.san_required = p.san_required;
    profile.key_usage = joined(p.key_usage);
    profile.extended_key_usage = joined(p.extended_key_usage);
    profile.policies = p.certificate_policies;
    profile.requester_validity = p.requester_validity;
    profile.copy_subject_alt_name = p.copy_subject_alt_name;
    profile.crl_url = p.crl_url.value_or(config.crl_url);
    profile.ocsp_url = p.ocsp_url.value_or(config.ocsp_url);
    profile.ca_issuers_url = p.ca_issuers_url.value_or(config.ca_issuers_url);
    profiles.push_back(std::move(profile));
  }
  return profiles;
}

// Members in construction order: each refers only to those above it.
struct Core::Parts {
  std::unique_ptr<Metrics> metrics;  // first: everything below reports into it
  std::unique_ptr<store::RocksDbStore> store;
  ca::CertificateAuthority authority;
  ra::EnrollmentServiceImpl service;
  ra::StaticSharedSecrets secrets;
  ra::CertificateTrustImpl trust;
  ra::HsmMessageSigner response_signer;
  cmp::CmpServer cmp;
  ra::PasswordStore passwords;
  ra::CertificateTrustImpl est_trust;  // manufacturer anchors of [est], and this CA
  est::EstServer est;
  std::unique_ptr<hsm::Signer> ocsp_signer;  // a delegated responder's key; null: the CA signs
  ra::OcspStatusResponder ocsp;
  ra::OutboxDrainer outbox;

  // What start-up read from the HSM and the files, before anything is built from it.
  struct Loaded {
    std::unique_ptr<Metrics> metrics;
    std::unique_ptr<store::RocksDbStore> store;
    std::vector<ossl::X509Ptr> chain;
    std::unique_ptr<hsm::Signer> signer;
    std::vector<Bytes> anchors;
    std::vector<Bytes> ras;
    std::vector<Bytes> est_anchors;
    std::optional<ra::KeyGenerationAuthority> kga;
    std::optional<ra::RootCaUpdate> root_update;
    std::unique_ptr<hsm::Signer> ocsp_signer;  // with its certificate, or both null
    ossl::X509Ptr ocsp_certificate;
    std::vector<std::unique_ptr<publish::Publisher>> publishers;
    std::string hsm_module;  // where the CA key is, for the operator
    std::string hsm_token;
  };

  Parts(const Config& config, Loaded loaded)
      : metrics(std::move(loaded.metrics)),
        store(std::move(loaded.store)),
        authority(std::move(loaded.chain), std::move(loaded.signer), system_clock(), metrics.get()),
        service(*store, authority, certificate_profiles(config), policy_of(config), system_clock(),
                std::move(loaded.kga), std::move(loaded.root_update), metrics.get()),
        secrets(shared_secrets(config)),
        trust(*store, service.ca_chain(), loaded.anchors, std::move(loaded.ras), system_clock()),
        response_signer(authority.signer(), service.ca_chain()),
        cmp(service, secrets, cmp_options(config, *metrics), &trust, &response_signer),
        passwords(*store,
                  ra::LockoutPolicy{config.est.max_password_failures, std::chrono::seconds(config.est.lockout_seconds)},
                  system_clock()),
        est_trust(*store, service.ca_chain(), loaded.est_anchors, {}, system_clock()),
        est(service, est_trust, passwords, est::EstOptions{config.est.reenroll_same_key}),
        ocsp_signer(std::move(loaded.ocsp_signer)),
        ocsp(*store, authority, ocsp_signer ? *ocsp_signer : authority.signer(),
             loaded.ocsp_certificate ? std::move(loaded.ocsp_certificate)
                                     : ossl::up_ref(authority.chain().front().get()),
             std::chrono::seconds(config.ocsp_validity_seconds), system_clock()),
        outbox(*store, std::move(loaded.publishers), system_clock()),
        hsm_module(std::move(loaded.hsm_module)),
        hsm_token(std::move(loaded.hsm_token)),
        store_path(config.store_path.string()) {}

  // Not used to build anything: what the operator is told (enrollctl status).
  std::string hsm_module;
  std::string hsm_token;
  std::string store_path;

  static ra::Policy policy_of(const Config& config) {
    ra::Policy policy;
    policy.grant_implicit_confirm = config.grant_implicit_confirm;
    policy.confirm_wait = std::chrono::seconds(config.confirm_wait_seconds);
    policy.revoke_replaced_certificate = config.revoke_replaced_on_key_update;
    policy.check_after = std::chrono::seconds(config.check_after_seconds);
    policy.approval_wait = std::chrono::seconds(config.approval_wait_seconds);
    policy.crl.validity = std::chrono::seconds(config.crl_validity_seconds);
    policy.crl.refresh = std::chrono::seconds(config.crl_refresh_seconds.value_or(config.crl_validity_seconds / 2));
    policy.crl.on_revocation = config.crl_on_revocation;
    policy.crl.delta_validity = std::chrono::seconds(config.delta_crl_validity_seconds);
    policy.crl.delta_url = config.delta_crl_url;
    policy.review = {config.review.subjects, config.review.sans, config.review.requesters};
    // The names the publishers go by (publish::DirectoryPublisher, LdapPublisher).
    if (config.publish_directory) {
      policy.crl.publishers.push_back("directory");
      if (config.publish_directory->certificates) policy.certificate_publishers.push_back("directory");
    }
    if (config.publish_ldap) {
      policy.crl.publishers.push_back("ldap");
      if (config.publish_ldap->certificates) policy.certificate_publishers.push_back("ldap");
    }
    for (const auto& p : config.profiles) {
      if (p.require_approval) policy.approval_profiles.insert(p.name);
      if (p.require_channel_binding) policy.channel_binding_profiles.insert(p.name);
    }
    return policy;
  }
  // What is computed when /metrics is scraped: each a store read, never on a request's path.
  void register_gauges() {
    metrics->gauge("enrolld_pending_approvals", "Requests waiting for an officer or for their requester", [this] {
      auto pending = service.pending(kPendingLimit);
      return pending ? std::vector<std::pair<MetricLabels, double>>{{{}, static_cast<double>(pending->size())}}
                     : std::vector<std::pair<MetricLabels, double>>{};
    });
    metrics->gauge("enrolld_crl_age_seconds", "Seconds since the thisUpdate of the CA's current CRL, by kind", [this] {
      std::vector<std::pair<MetricLabels, double>> ages;
      const auto now = std::chrono::duration_cast<std::chrono::seconds>(system_clock()().time_since_epoch()).count();
      for (const char* kind : {"full", "delta"}) {
        auto crl = store->find_crl(kind);
        if (crl && *crl)
          ages.push_back({{{"ca", authority.name()}, {"kind", kind}}, double(now - (*crl)->this_update)});
      }
      return ages;
    });
    metrics->gauge("enrolld_publisher_backlog", "Outbox records a publisher has not taken yet", [this] {
      std::vector<std::pair<MetricLabels, double>> waiting;
      auto backlog = outbox.backlog();
      for (const auto& b : backlog ? *backlog : std::vector<ra::PublisherBacklog>{}) {
        waiting.push_back({{{"publisher", b.publisher}}, static_cast<double>(b.waiting)});
      }
      return waiting;
    });
  }

  // Every start hands the publishers the CA certificates again: cheap, and a new publisher (or
  // a wiped directory) gets them without anybody asking.
  Status queue_ca_certificates() {
    store::WriteSet writes;
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(system_clock()().time_since_epoch()).count();
    const auto& chain = authority.chain();
    for (const auto& name : outbox.publisher_names()) {
      for (auto [which, cert] : {std::pair{"issuing", chain.front().get()}, std::pair{"root", chain.back().get()}}) {
        writes.outbox.push_back({name,
                                 store::kOutboxCaCertificate,
                                 which,
                                 ossl::name_to_string(::X509_get_subject_name(cert)),
                                 ossl::der_of(cert),
                                 0,
                                 now,
                                 0,
                                 0,
                                 {}});
      }
    }
    return writes.outbox.empty() ? Status() : store->commit(writes);
  }

  static cmp::CmpServerOptions cmp_options(const Config& config, Metrics& metrics) {
    cmp::CmpServerOptions options;
    options.metrics = &metrics;
    options.pbm = config.pbm;
    for (const auto* url : {&config.crl_url, &config.delta_crl_url}) {
      if (!url->empty()) options.crl_urls.push_back(*url);
    }
    return options;
  }
};

Result<std::unique_ptr<Core>> Core::build(const Config& config) {
  OpenTokens tokens;  // the signers keep their token open
  auto ca_key = locate_key(config, config.ca_key);
  if (!ca_key) return tl::unexpected(ca_key.error());
  auto signer = open_located(*ca_key, tokens);
  if (!signer) return tl::unexpected(signer.error());
  auto chain = load_ca_chain(config, **signer);
  if (!chain) return tl::unexpected(chain.error());
  auto trust = load_trust_files(config);
  if (!trust) return tl::unexpected(trust.error());
  auto kga = load_kga(config, *chain, tokens);
  if (!kga) return tl::unexpected(kga.error());
  std::optional<ra::RootCaUpdate> root_update;
  if (config.root_update) {
    auto loaded = load_root_update(*config.root_update, chain->back().get());
    if (!loaded) return tl::unexpected(loaded.error());
    root_update = std::move(*loaded);
  }
  auto ocsp = load_ocsp_signer(config, tokens);
  if (!ocsp) return tl::unexpected(ocsp.error());
  auto publishers = make_publishers(config);
  if (!publishers) return tl::unexpected(publishers.error());
  auto metrics = std::make_unique<Metrics>();
  auto store =
      store::RocksDbStore::open(config.store_path.string(), store::RocksDbStore::Mode::kReadWrite, metrics.get());
  if (!store) return tl::unexpected(store.error());
  auto parts = std::make_unique<Parts>(
      config, Parts::Loaded{std::move(metrics), std::move(*store), std::move(*chain), std::move(*signer),
                            std::move(trust->anchors), std::move(trust->ras), std::move(trust->est_anchors),
                            std::move(*kga), std::move(root_update), std::move(ocsp->first), std::move(ocsp->second),
                            std::move(*publishers), ca_key->token.module_path, ca_key->token.token_label});
  if (auto ok = parts->ocsp.configuration(); !ok) return tl::unexpected(ok.error());
  if (auto ok = parts->queue_ca_certificates(); !ok) return tl::unexpected(ok.error());
  parts->register_gauges();
  return std::unique_ptr<Core>(new Core(std::move(parts)));
}

Core::Core(std::unique_ptr<Parts> parts) : m_parts(std::move(parts)) {}
Core::~Core() = default;

cmp::CmpServer& Core::cmp() {
  return m_parts->cmp;
}
est::EstServer& Core::est() {
  return m_parts->est;
}
ra::PasswordAdministration& Core::passwords() {
  return m_parts->passwords;
}
ra::EnrollmentService& Core::enrollment() {
  return m_parts->service;
}
ra::ApprovalQueue& Core::approvals() {
  return m_parts->service;
}
ra::RevocationAdministration& Core::revocations() {
  return m_parts->service;
}
ra::StatusResponder& Core::status() {
  return m_parts->ocsp;
}
Result<std::size_t> Core::expire_overdue() {
  return m_parts->service.expire_overdue();
}
Result<std::size_t> Core::publish_outbox() {
  return m_parts->outbox.drain_once();
}
bool Core::has_publishers() const {
  return !m_parts->outbox.publisher_names().empty();
}
ra::OperationsReport& Core::operations() {
  return *this;
}
Metrics& Core::metrics() {
  return *m_parts->metrics;
}

Result<ReloadSummary> Core::reload(const Config& config) {
  // Everything is read before anything is replaced: a file that fails leaves all as it was.
  auto trust = load_trust_files(config);
  if (!trust) return tl::unexpected(trust.error());
  std::vector<ca::Profile> profiles = certificate_profiles(config);
  ReloadSummary summary{profiles.size(), config.credentials.size(), trust->anchors.size() + trust->est_anchors.size(),
                        trust->ras.size()};
  if (auto ok = m_parts->service.replace_profiles(std::move(profiles), Parts::policy_of(config)); !ok) {
    return tl::unexpected(ok.error());
  }
  m_parts->secrets.replace(shared_secrets(config));
  m_parts->trust.replace_anchors(trust->anchors, std::move(trust->ras));
  m_parts->est_trust.replace_anchors(trust->est_anchors, {});
  return summary;
}

Status Core::readiness() {
  // The store answers a read, and the HSM signs with the CA key.
  if (auto crl = m_parts->store->find_crl("full"); !crl) return tl::unexpected(crl.error());
  auto signature = m_parts->authority.signer().sign(to_bytes("enrolld readiness probe"));
  if (!signature) return tl::unexpected(signature.error());
  return {};
}

Result<ra::ApplianceReport> Core::report() {
  ra::ApplianceReport report;
  report.version = ENROLLD_VERSION;
  for (const auto& cert : m_parts->authority.chain()) {
    struct tm tm {};
    ::ASN1_TIME_to_tm(::X509_get0_notAfter(cert.get()), &tm);
    report.cas.push_back({ossl::name_to_string(::X509_get_subject_name(cert.get())), ::timegm(&tm)});
  }
  report.hsm = probe_hsm(m_parts->authority.signer(), m_parts->hsm_module, m_parts->hsm_token);
  report.store = probe_store(*m_parts->store, m_parts->store_path);
  if (!report.store.reads) return report;  // what the store holds cannot be told
  for (const char* kind : {"full", "delta"}) {
    auto crl = m_parts->store->find_crl(kind);
    if (!crl) return tl::unexpected(crl.error());
    if (*crl) report.crls.push_back({kind, (*crl)->number, (*crl)->this_update, (*crl)->next_update});
  }
  auto backlog = m_parts->outbox.backlog();
  if (!backlog) return tl::unexpected(backlog.error());
  for (auto& b : *backlog) {
    report.publishers.push_back({b.publisher, b.waiting, b.oldest_created_at, b.attempts, std::move(b.last_error)});
  }
  auto pending = m_parts->service.pending(kPendingLimit);
  if (!pending) return tl::unexpected(pending.error());
  report.pending_approvals = pending->size();
  return report;
}

Status Core::refresh_crls() {
  if (auto full = m_parts->service.current_crl(); !full) return tl::unexpected(full.error());
  if (auto delta = m_parts->service.current_delta_crl(); !delta) return tl::unexpected(delta.error());
  return {};
}
std::string Core::ca_name() const {
  return m_parts->authority.name();
}

}  // namespace enrolld::app
