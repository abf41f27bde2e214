#pragma once
// Publishers put what relying parties fetch (CA certificates, CRLs, optionally issued certificates)
// where they fetch it: a directory a web server or CDN serves, an LDAP directory. They are called by
// the outbox drainer, never on a request's path, so a publisher that is down delays publishing only.
#include <string>

#include "common/bytes.h"
#include "common/error.h"

namespace enrolld::publish {

// One thing to publish. `kind` says what it is; `name` tells items of one kind apart.
struct Publication {
  enum class Kind { kCaCertificate, kCrl, kDeltaCrl, kCertificate };
  Kind kind = Kind::kCrl;
  // kCaCertificate, kCrl, kDeltaCrl: the CA's name (see is_ca_name: "issuing", "root", another
  // issuing CA's name or "<name>-root"); kCertificate: lower-case hex serial, as ossl::integer_hex
  // writes it.
  std::string name;
  std::string subject;  // RFC 2253 subject of the certificate (kCaCertificate, kCertificate); empty otherwise
  Bytes der;            // the DER certificate or CRL
};

// Whether `name` may name a CA in a publication: 1-48 of a-z, 0-9 and '-' (it names files and
// LDAP entries, so nothing that could reach outside them), and not "certs" (the folder of issued
// certificates).
inline bool is_ca_name(const std::string& name) {
  return !name.empty() && name.size() <= 48 && name != "certs" &&
         name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string::npos;
}

// Thread-safety: publish() is called from one thread at a time (the drainer's).
class Publisher {
 public:
  virtual ~Publisher() = default;
  virtual const std::string& name() const = 0;  // for logs and the backlog ("directory", "ldap")
  // Puts `item` in place, replacing an older one of the same kind and name. Returns kSystemUnavailable when the
  // target cannot take it now (down, unreachable, disk full: the drainer retries later with back-off), kConfigInvalid
  // when it never will (e.g. bad credentials, no such base DN) — also retried, but logged as an error.
  // kSystemFailure when `item` itself is malformed (a name that could escape its folder or DN, no DER): a bug
  // upstream; nothing is written.
  [[nodiscard]] virtual Status publish(const Publication& item) = 0;
  // Makes what publish() put in place since the last flush() durable. The drainer calls it once
  // per round, before it marks that round's records done, so that one sync serves many items; a
  // crash before it republishes them. Returns kSystemUnavailable when that cannot be promised.
  [[nodiscard]] virtual Status flush() { return {}; }
};

}  // namespace enrolld::publish
