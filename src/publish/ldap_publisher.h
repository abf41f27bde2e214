#pragma once
// Publishes into an LDAP directory, with the attributes of RFC 4523 (X.509 certificates and CRLs
// in LDAP). Entries, all under LdapOptions::base_dn:
//   cn=issuing-ca,<base>  cn=root-ca,<base>  (cn=<name>-ca for another CA)  objectClass top, applicationProcess
//   (structural,
//       MUST cn), pkiCA (cACertificate, certificateRevocationList, authorityRevocationList) and
//       deltaCRL (deltaRevocationList), all from core.schema; description: the CA's subject.
//       kCaCertificate replaces cACertificate;binary, kCrl certificateRevocationList;binary,
//       kDeltaCrl deltaRevocationList;binary; an item's `name` picks the entry.
//   cn=<serial>,ou=certificates,<base>      objectClass top, applicationProcess, pkiUser;
//       userCertificate;binary and description (the certificate's subject).
// The base entry and ou=certificates are created when missing (objectClass organizationalUnit),
// so a directory with only its suffix works; a base whose first RDN is not ou=..., or whose
// parent does not exist, is kConfigInvalid. Entries are only ever modified in the attributes
// above: whatever else an operator adds to them stays.

#include <chrono>
#include <memory>
#include <string>

#include "publish/publisher.h"

struct ldap;  // libldap's LDAP handle; <ldap.h> stays out of this header

namespace enrolld::publish {

struct LdapOptions {
  std::string url;                  // ldap://host:port (ldaps:// uses libldap's TLS settings from ldap.conf)
  std::string bind_dn;              // simple bind; empty for an anonymous one
  std::string password;             // never put in a message or a log line
  std::string base_dn;              // e.g. "ou=pki,dc=example,dc=org"
  std::chrono::seconds timeout{5};  // for connecting and for each operation
};

// Thread-safety: publish() from one thread at a time (Publisher's contract); it owns one
// connection, made on the first publish and again on the next publish after any failure.
class LdapPublisher final : public Publisher {
 public:
  explicit LdapPublisher(LdapOptions options);
  ~LdapPublisher() override;
  LdapPublisher(const LdapPublisher&) = delete;
  LdapPublisher& operator=(const LdapPublisher&) = delete;

  const std::string& name() const override { return m_name; }

  // Replaces the item's attribute on its entry, adding the entry (and the base and
  // ou=certificates) when missing. Returns kSystemUnavailable when the server cannot be reached
  // or answers "busy", "unavailable" or times out; kConfigInvalid for a refusal that retrying will
  // not change (bad credentials, no access, no such base, a schema without RFC 4523's classes),
  // naming the DN and the server's reason, never the password; kSystemFailure for a malformed item.
  [[nodiscard]] Status publish(const Publication& item) override;

  // The DN `item` goes to, or kSystemFailure for a name that does not fit in one RDN safely.
  Result<std::string> dn_for(const Publication& item) const;

 private:
  struct Unbind {
    void operator()(::ldap* ld) const noexcept;
  };
  using Connection = std::unique_ptr<::ldap, Unbind>;

  Status connect();

  LdapOptions m_options;
  std::string m_name = "ldap";
  Connection m_ld;  // null until connected, and again after a failure
};

}  // namespace enrolld::publish
