#pragma once
// The appliance without its transports: HSM signer, CA, store, enrollment service, trust and
// the CMP handler, built from the configuration. The daemon puts HTTP in front of it;
// `enrollctl cmp process` hands it request files (offline enrollment, seed 003).

#include <memory>
#include <string>
#include <vector>

#include "app/config.h"
#include "ca/certificate_authority.h"
#include "common/error.h"
#include "protocols/cmp/cmp_server.h"
#include "protocols/est/est_server.h"
#include "ra/passwords.h"

namespace enrolld::app {

// What a reload swapped in, for its log line.
struct ReloadSummary {
  std::size_t profiles = 0;     // "default" included
  std::size_t credentials = 0;  // [[cmp.credential]]
  std::size_t anchors = 0;      // certificates in [cmp] and [est] trust_anchors
  std::size_t ras = 0;          // certificates in [cmp] ra_certificates
};

// The configured certificate profiles as the CA applies them, with "default" (from [ca]) first
// unless configured explicitly; a profile's own repository URLs replace [ca]'s.
std::vector<ca::Profile> certificate_profiles(const Config& config);

// Thread-safety: as its parts (the CMP handler may be called concurrently).
class Core final : public ra::OperationsReport {
 public:
  // Opens the HSM key, checks it against the CA certificate, opens the store read-write and
  // wires everything. Errors name what failed: kConfigInvalid, kSystemUnavailable (HSM, or the
  // store held by a running enrolld).
  static Result<std::unique_ptr<Core>> build(const Config& config);
  ~Core() override;

  cmp::CmpServer& cmp();
  est::EstServer& est();
  ra::PasswordAdministration& passwords();  // EST users (HTTP Basic)
  // The core as the protocols see it (e.g. for the repository's CRL and CA certificates).
  ra::EnrollmentService& enrollment();
  ra::ApprovalQueue& approvals();
  ra::RevocationAdministration& revocations();
  ra::StatusResponder& status();  // the OCSP responder
  // Expires transactions past their deadline (see EnrollmentServiceImpl::expire_overdue).
  Result<std::size_t> expire_overdue();
  // Signs the CRLs that are due by the [crl] schedule, whether or not anybody asks for them.
  Status refresh_crls();
  // Hands the publishers what waits in the outbox (see ra::OutboxDrainer::drain_once).
  Result<std::size_t> publish_outbox();
  bool has_publishers() const;
  // Swaps in what `config` says of the profiles and [review], the [[cmp.credential]] secrets,
  // [cmp] trust_anchors and ra_certificates and [est] trust_anchors; everything else stays as
  // built. All or nothing: when a file cannot be read its error is returned (kConfigInvalid,
  // naming the file) and nothing changes. Requests under way finish with what they started
  // with; each of the four is swapped on its own, so a request arriving during the swap may
  // see new secrets with the old profiles, never half of either.
  Result<ReloadSummary> reload(const Config& config);
  // Version, CAs, CRLs, publisher backlog and pending approvals (enrollctl status).
  ra::OperationsReport& operations();
  Result<ra::ApplianceReport> report() override;
  Status readiness() override;
  Metrics& metrics();
  std::string ca_name() const;

  struct Parts;

 private:
  explicit Core(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> m_parts;
};

}  // namespace enrolld::app
