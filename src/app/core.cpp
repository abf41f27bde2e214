#include "app/core.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>

#include "app/hsm_keys.h"
#include "app/root_rollover.h"
#include "ca/certificate_authority.h"
#include "hsm/pkcs11/token.h"
#include "protocols/repository/repository_routes.h"
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

// [ca] as the first of the issuing CAs, then [[issuing_ca]].
std::vector<IssuingCaConfig> issuing_ca_configs(const Config& config) {
  std::vector<IssuingCaConfig> cas;
  cas.push_back({ca::kFirstIssuingCa, config.ca_certificate, config.ca_chain, config.ca_key, config.crl_url,
                 config.ocsp_url, config.ca_issuers_url, config.delta_crl_url, config.ocsp_signer_key,
                 config.ocsp_signer_certificate});
  cas.insert(cas.end(), config.issuing_cas.begin(), config.issuing_cas.end());
  return cas;
}

// Where a message about a CA's keys points the operator: the first CA's are [ca] key and
// [ocsp] signer_key, another's its [[issuing_ca]].
std::string key_name(const IssuingCaConfig& ca, const char* which) {
  if (ca.name == ca::kFirstIssuingCa) return std::string(which) == "key" ? "ca.key" : "ocsp.signer_key";
  return "issuing_ca '" + ca.name + "' " + which;
}

Result<std::vector<ossl::X509Ptr>> load_ca_chain(const IssuingCaConfig& ca, const hsm::Signer& signer) {
  auto own = load_certificate_for(ca.certificate, signer, key_name(ca, "key"));
  if (!own) return tl::unexpected(own.error());
  std::vector<ossl::X509Ptr> chain;
  chain.push_back(std::move(*own));
  if (ca.chain) {
    auto above = ossl::read_pem_certificates(ca.chain->string());
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

// One issuing CA as start-up read it from the HSM and the files.
struct LoadedCa {
  std::string name;
  std::unique_ptr<hsm::Signer> signer;
  std::vector<ossl::X509Ptr> chain;
  std::string delta_crl_url;
  std::unique_ptr<hsm::Signer> ocsp_signer;  // a delegated responder's key and certificate, or both null
  ossl::X509Ptr ocsp_certificate;
  std::string hsm_module;  // where the CA key is, for the operator
  std::string hsm_token;
};

Result<LoadedCa> load_issuing_ca(const Config& config, const IssuingCaConfig& ca, OpenTokens& tokens) {
  LoadedCa loaded{ca.name, {}, {}, ca.delta_crl_url, {}, {}, {}, {}};
  auto key = locate_key(config, ca.key);
  if (!key) return tl::unexpected(key.error());
  auto signer = open_located(*key, tokens);
  if (!signer) return tl::unexpected(signer.error());
  auto chain = load_ca_chain(ca, **signer);
  if (!chain) return tl::unexpected(chain.error());
  loaded.signer = std::move(*signer);
  loaded.chain = std::move(*chain);
  loaded.hsm_module = key->token.module_path;
  loaded.hsm_token = key->token.token_label;
  if (ca.ocsp_signer_key) {
    auto ocsp = open_signer(config, *ca.ocsp_signer_key, tokens);
    if (!ocsp) return tl::unexpected(ocsp.error());
    auto cert = load_certificate_for(*ca.ocsp_signer_certificate, **ocsp, key_name(ca, "ocsp_signer_key"));
    if (!cert) return tl::unexpected(cert.error());
    loaded.ocsp_signer = std::move(*ocsp);
    loaded.ocsp_certificate = std::move(*cert);
  }
  return loaded;
}

// Every issuing CA, the first first. Two CAs with one subject could not be told apart by the
// certificates they issue: refused.
Result<std::vector<LoadedCa>> load_issuing_cas(const Config& config, OpenTokens& tokens) {
  std::vector<LoadedCa> cas;
  for (const auto& ca : issuing_ca_configs(config)) {
    auto loaded = load_issuing_ca(config, ca, tokens);
    if (!loaded) return tl::unexpected(loaded.error());
    const std::string subject = ossl::name_to_string(::X509_get_subject_name(loaded->chain.front().get()));
    for (const auto& other : cas) {
      if (ossl::name_to_string(::X509_get_subject_name(other.chain.front().get())) == subject) {
        return fail(ErrorCode::kConfigInvalid, "issuing CAs '" + other.name + "' and '" + ca.name +
                                                   "' have the same subject (" + subject + "): give each its own");
      }
    }
    cas.push_back(std::move(*loaded));
  }
  return cas;
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

// The repository URLs an issuing CA writes into its certificates unless a profile says otherwise.
struct CaUrls {
  std::string crl;
  std::string ocsp;
  std::string ca_issuers;
};
CaUrls ca_urls(const Config& config, const std::string& ca_name) {
  for (const auto& ca : config.issuing_cas) {
    if (ca.name == ca_name) return {ca.crl_url, ca.ocsp_url, ca.ca_issuers_url};
  }
  return {config.crl_url, config.ocsp_url, config.ca_issuers_url};
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
    profile.issuing_ca = p.issuing_ca;
    const CaUrls urls = ca_urls(config, p.issuing_ca);
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
    profile.crl_url = p.crl_url.value_or(urls.crl);
    profile.ocsp_url = p.ocsp_url.value_or(urls.ocsp);
    profile.ca_issuers_url = p.ca_issuers_url.value_or(urls.ca_issuers);
    profiles.push_back(std::move(profile));
  }
  return profiles;
}

// Members in construction order: each refers only to those above it.
struct Core::Parts {
  std::unique_ptr<Metrics> metrics;  // first: everything below reports into it
  std::unique_ptr<store::RocksDbStore> store;
  std::vector<std::unique_ptr<ca::CertificateAuthority>> authorities;  // the issuing CAs, the first first
  std::vector<std::unique_ptr<hsm::Signer>> ocsp_signers;  // per CA: a delegated responder's key; null: the CA signs
  ra::EnrollmentServiceImpl service;
  ra::StaticSharedSecrets secrets;
  ra::CertificateTrustImpl trust;
  ra::HsmMessageSigner response_signer;
  cmp::CmpServer cmp;
  ra::PasswordStore passwords;
  ra::CertificateTrustImpl est_trust;  // manufacturer anchors of [est], and our CAs
  est::EstServer est;
  ra::OcspStatusResponder ocsp;
  ra::OutboxDrainer outbox;

  // What start-up read from the HSM and the files, before anything is built from it.
  struct Loaded {
    std::unique_ptr<Metrics> metrics;
    std::unique_ptr<store::RocksDbStore> store;
    std::vector<LoadedCa> cas;  // the first first
    std::vector<Bytes> anchors;
    std::vector<Bytes> ras;
    std::vector<Bytes> est_anchors;
    std::optional<ra::KeyGenerationAuthority> kga;
    std::optional<ra::RootCaUpdate> root_update;
    std::vector<std::unique_ptr<publish::Publisher>> publishers;
  };

  Parts(const Config& config, Loaded loaded)
      : metrics(std::move(loaded.metrics)),
        store(std::move(loaded.store)),
        authorities(make_authorities(loaded.cas, metrics.get())),
        ocsp_signers(take_ocsp_signers(loaded.cas)),
        service(*store, issuing_authorities(loaded.cas, authorities), certificate_profiles(config), policy_of(config),
                system_clock(), std::move(loaded.kga), std::move(loaded.root_update), metrics.get()),
        secrets(shared_secrets(config)),
        trust(*store, chains_of(service), loaded.anchors, std::move(loaded.ras), system_clock()),
        response_signer(authorities.front()->signer(), service.ca_chain()),
        cmp(service, secrets, cmp_options(config, *metrics), &trust, &response_signer),
        passwords(*store,
                  ra::LockoutPolicy{config.est.max_password_failures, std::chrono::seconds(config.est.lockout_seconds)},
                  system_clock()),
        est_trust(*store, chains_of(service), loaded.est_anchors, {}, system_clock()),
        est(service, est_trust, passwords, est::EstOptions{config.est.reenroll_same_key}),
        ocsp(*store, ocsp_issuers(loaded.cas), std::chrono::seconds(config.ocsp_validity_seconds), system_clock()),
        outbox(*store, std::move(loaded.publishers), system_clock()),
        hsm_module(loaded.cas.front().hsm_module),
        hsm_token(loaded.cas.front().hsm_token),
        store_path(config.store_path.string()) {}

  static std::vector<std::unique_ptr<ca::CertificateAuthority>> make_authorities(std::vector<LoadedCa>& cas,
                                                                                 Metrics* metrics) {
    std::vector<std::unique_ptr<ca::CertificateAuthority>> out;
    auto hsm_in_use = std::make_shared<InUse>();  // one HSM gauge for all: each CA registers it again
    for (auto& ca : cas) {
      out.push_back(std::make_unique<ca::CertificateAuthority>(std::move(ca.chain), std::move(ca.signer),
                                                               system_clock(), metrics, hsm_in_use));
    }
    return out;
  }
  static std::vector<std::unique_ptr<hsm::Signer>> take_ocsp_signers(std::vector<LoadedCa>& cas) {
    std::vector<std::unique_ptr<hsm::Signer>> out;
    for (auto& ca : cas) out.push_back(std::move(ca.ocsp_signer));
    return out;
  }
  static std::vector<ra::IssuingAuthority> issuing_authorities(
      const std::vector<LoadedCa>& cas, const std::vector<std::unique_ptr<ca::CertificateAuthority>>& authorities) {
    std::vector<ra::IssuingAuthority> out;
    for (std::size_t i = 0; i < cas.size(); ++i) {
      out.push_back({cas[i].name, authorities[i].get(), cas[i].delta_crl_url});
    }
    return out;
  }
  static std::vector<std::vector<Bytes>> chains_of(const ra::EnrollmentService& service) {
    std::vector<std::vector<Bytes>> chains;
    for (const auto& ca : service.issuing_cas()) chains.push_back(ca.chain);
    return chains;
  }
  // Each CA answers for itself, signed by its delegated responder or by itself.
  std::vector<ra::OcspIssuer> ocsp_issuers(std::vector<LoadedCa>& cas) const {
    std::vector<ra::OcspIssuer> out;
    for (std::size_t i = 0; i < authorities.size(); ++i) {
      const ca::CertificateAuthority& authority = *authorities[i];
      const bool delegated = ocsp_signers[i] != nullptr;
      out.push_back({&authority, delegated ? ocsp_signers[i].get() : &authority.signer(),
                     delegated ? std::move(cas[i].ocsp_certificate) : ossl::up_ref(authority.chain().front().get())});
    }
    return out;
  }

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
    metrics->gauge("enrolld_crl_age_seconds", "Seconds since the thisUpdate of each CA's current CRL, by kind", [this] {
      std::vector<std::pair<MetricLabels, double>> ages;
      const auto now = std::chrono::duration_cast<std::chrono::seconds>(system_clock()().time_since_epoch()).count();
      for (const auto& ca : service.issuing_cas()) {
        for (const char* kind : {"full", "delta"}) {
          auto crl = store->find_crl(ra::crl_store_kind(ca.name, kind));
          if (crl && *crl) ages.push_back({{{"ca", ca.name}, {"kind", kind}}, double(now - (*crl)->this_update)});
        }
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
    const auto& cas = service.issuing_cas();
    std::vector<std::pair<std::string, const Bytes*>> certificates;  // by publication name
    for (std::size_t i = 0; i < cas.size(); ++i) {
      certificates.emplace_back(cas[i].name, &cas[i].chain.front());
      if (auto root = repository::root_name(cas, i); !root.empty())
        certificates.emplace_back(root, &cas[i].chain.back());
    }
    for (const auto& publisher : outbox.publisher_names()) {
      for (const auto& [which, der] : certificates) {
        auto cert = ossl::x509_from_der(*der);
        if (!cert) return tl::unexpected(cert.error());
        writes.outbox.push_back({publisher,
                                 store::kOutboxCaCertificate,
                                 which,
                                 ossl::name_to_string(::X509_get_subject_name(cert->get())),
                                 *der,
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
    // Every URL a CA's certificates and full CRLs name for its CRLs, profiles' own included.
    auto add = [&](const std::string& ca_name, const std::string& url) {
      auto& urls = options.crl_urls[ca_name];
      if (!url.empty() && std::find(urls.begin(), urls.end(), url) == urls.end()) urls.push_back(url);
    };
    for (const auto& ca : issuing_ca_configs(config)) {
      add(ca.name, ca.crl_url);
      add(ca.name, ca.delta_crl_url);
    }
    for (const auto& profile : certificate_profiles(config)) add(profile.issuing_ca, profile.crl_url);
    return options;
  }
};

Result<std::unique_ptr<Core>> Core::build(const Config& config) {
  OpenTokens tokens;  // the signers keep their token open
  auto cas = load_issuing_cas(config, tokens);
  if (!cas) return tl::unexpected(cas.error());
  const std::vector<ossl::X509Ptr>& chain = cas->front().chain;
  auto trust = load_trust_files(config);
  if (!trust) return tl::unexpected(trust.error());
  auto kga = load_kga(config, chain, tokens);
  if (!kga) return tl::unexpected(kga.error());
  std::optional<ra::RootCaUpdate> root_update;
  if (config.root_update) {
    auto loaded = load_root_update(*config.root_update, chain.back().get());
    if (!loaded) return tl::unexpected(loaded.error());
    root_update = std::move(*loaded);
  }
  auto publishers = make_publishers(config);
  if (!publishers) return tl::unexpected(publishers.error());
  auto metrics = std::make_unique<Metrics>();
  auto store =
      store::RocksDbStore::open(config.store_path.string(), store::RocksDbStore::Mode::kReadWrite, metrics.get());
  if (!store) return tl::unexpected(store.error());
  auto parts = std::make_unique<Parts>(
      config, Parts::Loaded{std::move(metrics), std::move(*store), std::move(*cas), std::move(trust->anchors),
                            std::move(trust->ras), std::move(trust->est_anchors), std::move(*kga),
                            std::move(root_update), std::move(*publishers)});
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
  // The store answers a read, and the HSM signs with every CA key.
  if (auto crl = m_parts->store->find_crl("full"); !crl) return tl::unexpected(crl.error());
  for (const auto& authority : m_parts->authorities) {
    auto signature = authority->signer().sign(to_bytes("enrolld readiness probe"));
    if (!signature) return tl::unexpected(signature.error());
  }
  return {};
}

Result<ra::ApplianceReport> Core::report() {
  ra::ApplianceReport report;
  report.version = ENROLLD_VERSION;
  for (const auto& authority : m_parts->authorities) {
    for (const auto& cert : authority->chain()) {
      struct tm tm {};
      ::ASN1_TIME_to_tm(::X509_get0_notAfter(cert.get()), &tm);
      ra::ApplianceReport::Ca ca{ossl::name_to_string(::X509_get_subject_name(cert.get())), ::timegm(&tm)};
      const bool listed = std::any_of(report.cas.begin(), report.cas.end(), [&](const ra::ApplianceReport::Ca& other) {
        return other.subject == ca.subject;
      });
      if (!listed) report.cas.push_back(std::move(ca));
    }
  }
  report.hsm = probe_hsm(m_parts->authorities.front()->signer(), m_parts->hsm_module, m_parts->hsm_token);
  report.store = probe_store(*m_parts->store, m_parts->store_path);
  if (!report.store.reads) return report;  // what the store holds cannot be told
  for (const auto& ca : m_parts->service.issuing_cas()) {
    for (const char* kind : {"full", "delta"}) {
      auto crl = m_parts->store->find_crl(ra::crl_store_kind(ca.name, kind));
      if (!crl) return tl::unexpected(crl.error());
      if (*crl) report.crls.push_back({kind, (*crl)->number, (*crl)->this_update, (*crl)->next_update, ca.name});
    }
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
  for (const auto& ca : m_parts->service.issuing_cas()) {
    if (auto full = m_parts->service.current_crl(ca.name); !full) return tl::unexpected(full.error());
    if (auto delta = m_parts->service.current_delta_crl(ca.name); !delta) return tl::unexpected(delta.error());
  }
  return {};
}
std::string Core::ca_name() const {
  return m_parts->authorities.front()->name();
}

}  // namespace enrolld::app
