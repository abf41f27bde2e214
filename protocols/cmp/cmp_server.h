#pragma once
// The CMP message handler: bytes in, bytes out (STYLE.md 5). HTTP, offline files and later
// CoAP all call handle(); it knows nothing of any transport.

#include <map>
#include <string>
#include <vector>

#include <chrono>

#include "common/bytes.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/metrics.h"
#include "common/openssl_util.h"
#include "protocols/cmp/cmp_asn1.h"
#include "protocols/cmp/message.h"
#include "protocols/cmp/protection.h"
#include "ra/enrollment_service.h"

namespace enrolld::cmp {

struct CmpServerOptions {
  PbmLimits pbm;
  // RFC 9483 3.1: a messageTime further than this from our clock is refused with badTime.
  std::chrono::seconds max_clock_skew = std::chrono::minutes(10);
  Clock clock = system_clock();
  // Where each issuing CA publishes its CRLs (the cRLDistributionPoints it writes), by the CA's
  // name: a crlStatusList source naming one of them asks for that CA's CRL.
  std::map<std::string, std::vector<std::string>, std::less<>> crl_urls;
  // Where messages are counted by type and outcome; none when null.
  Metrics* metrics = nullptr;
};

struct CmpRequestContext {
  std::string profile;  // from the path /.well-known/cmp/p/<profile>; empty for the default
  std::string peer;     // transport's description of the client, for logs
};

// Thread-safety: handle() may run concurrently; per-transaction ordering is the service's.
class CmpServer {
 public:
  // Everything referenced must outlive the server. Without `trust` and `signer`, signed
  // requests are refused (badAlg) and only shared-secret (MAC) protection is offered.
  CmpServer(ra::EnrollmentService& service, const ra::SharedSecrets& secrets, CmpServerOptions options,
            const ra::CertificateTrust* trust = nullptr, const ra::MessageSigner* signer = nullptr);

  // Returns the DER PKIMessage answering `request` (a certificate response, pkiConf, or an error
  // message carrying PKIFailureInfo), or kBadDataFormat when the bytes are not a PKIMessage at
  // all, which transports answer in their own way (HTTP 400).
  [[nodiscard]] Result<Bytes> handle(ByteView request, const CmpRequestContext& context);

 private:
  struct Exchange;
  Result<Bytes> handle_at_depth(ByteView request, const CmpRequestContext& context, int depth);
  void count(const char* type, const char* outcome) const;
  Result<Bytes> answer(Exchange& exchange);
  Status authenticate(Exchange& exchange);
  Status authenticate_signature(Exchange& exchange);
  Status check_message_time(const ECMP_HEADER& header) const;
  Result<Bytes> handle_certification(Exchange& exchange);
  Result<std::pair<Bytes, Bytes>> generate_key_for(Exchange& exchange, const Bytes& algorithm_der);
  Result<Bytes> handle_cert_conf(Exchange& exchange);
  Result<Bytes> handle_poll_request(Exchange& exchange);
  Result<Bytes> handle_error_message(Exchange& exchange);
  Result<Bytes> pki_conf(Exchange& exchange);
  Result<Bytes> handle_general_message(Exchange& exchange);
  Result<Bytes> crl_update(const ECMP_ITAV& crl_status_list);
  Bytes root_ca_key_update(const ECMP_ITAV& root_ca_cert) const;
  Result<Bytes> handle_revocation(Exchange& exchange);
  Result<Bytes> handle_nested(Exchange& exchange);
  Result<ra::RevocationRequest> revocation_request(const Exchange& exchange) const;
  Result<Bytes> error_reply(Exchange& exchange, const Error& error);
  // ip/cp/kup with status rejection; by default of the type and certReqId the request implies.
  Result<Bytes> rejection_reply(Exchange& exchange, const Error& error);
  Result<Bytes> rejection_reply(Exchange& exchange, const Error& error, int reply_body_type, int cert_req_id);

  ra::EnrollmentService& m_service;
  const ra::SharedSecrets& m_secrets;
  CmpServerOptions m_options;
  const ra::CertificateTrust* m_trust;
  const ra::MessageSigner* m_signer;
  // An issuing CA as a crlStatusList source may name it: its subject, or a CRL URL of its.
  struct CrlSource {
    std::string ca_name;
    ossl::X509NamePtr subject;
    std::vector<std::string> urls;
  };
  ossl::X509NamePtr m_responder;  // our name in response headers: the first issuing CA's subject
  std::vector<CrlSource> m_crl_sources;
  KnownCertificates m_known;          // the CA chains and the signer's certificates, decoded once
  ossl::RecentCertificates m_recent;  // those of recent requests' extraCerts
};

}  // namespace enrolld::cmp
