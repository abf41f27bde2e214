#include "publish/ldap_publisher.h"

#include <ldap.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <span>
#include <utility>
#include <vector>

#include "common/log.h"

namespace enrolld::publish {

namespace {

// RFC 4523: certificates and CRLs are requested and transferred with the ;binary option (RFC 4522),
// as the BER of the value; slapd checks that they parse as a Certificate / CertificateList.
constexpr const char* kCaCertificate = "cACertificate;binary";
constexpr const char* kCrl = "certificateRevocationList;binary";
constexpr const char* kDeltaCrl = "deltaRevocationList;binary";
constexpr const char* kUserCertificate = "userCertificate;binary";
// RFC 5280 4.1.2.2: "Conforming CAs MUST NOT use serialNumber values longer than 20 octets."
constexpr std::size_t kMaxSerialHex = 40;

// One attribute and its values; no values in a replace removes the attribute.
struct Attribute {
  std::string type;
  std::vector<Bytes> values;
};

// An entry as a publish writes it: `identity` (objectClass, cn) only when adding it, `values`
// replaced on every publish.
struct Entry {
  std::string dn;
  std::vector<Attribute> identity;
  std::vector<Attribute> values;
  std::vector<std::string> parents;  // the entries above it that may be created, nearest first
};

// The connection and where it goes, for messages.
struct Session {
  ::LDAP* ld;
  const std::string& url;
};

Attribute text_attribute(std::string type, std::initializer_list<std::string_view> values) {
  Attribute attribute{std::move(type), {}};
  for (auto value : values) attribute.values.push_back(to_bytes(value));
  return attribute;
}

// The NULL-terminated LDAPMod array libldap takes, pointing into `attributes` (which must outlive it).
class Mods {
 public:
  Mods(const std::vector<Attribute>& attributes, int op)
      : m_bervals(attributes.size()), m_values(attributes.size()), m_mods(attributes.size()) {
    for (std::size_t i = 0; i < attributes.size(); ++i) {
      for (const auto& value : attributes[i].values) {
        // libldap's API is not const-correct; it only reads the values.
        m_bervals[i].push_back({value.size(), reinterpret_cast<char*>(const_cast<std::uint8_t*>(value.data()))});
      }
      for (auto& berval : m_bervals[i]) m_values[i].push_back(&berval);
      m_values[i].push_back(nullptr);
      m_mods[i].mod_op = op | LDAP_MOD_BVALUES;
      m_mods[i].mod_type = const_cast<char*>(attributes[i].type.c_str());
      m_mods[i].mod_bvalues = m_values[i].data();
      m_pointers.push_back(&m_mods[i]);
    }
    m_pointers.push_back(nullptr);
  }
  Mods(const Mods&) = delete;
  Mods& operator=(const Mods&) = delete;
  ::LDAPMod** get() { return m_pointers.data(); }

 private:
  std::vector<std::vector<::berval>> m_bervals;
  std::vector<std::vector<::berval*>> m_values;
  std::vector<::LDAPMod> m_mods;
  std::vector<::LDAPMod*> m_pointers;
};

// libldap writes with write(2), so a server that closed the connection raises SIGPIPE on this
// thread, whose default action would end the whole daemon. Blocked for the duration of a publish;
// one raised meanwhile is thread-directed, so it is pending on this thread and consumed here (the
// way libpq does it). One that was pending before is left alone.
class SigpipeBlocked {
 public:
  SigpipeBlocked() {
    ::sigemptyset(&m_set);
    ::sigaddset(&m_set, SIGPIPE);
    m_blocked = ::pthread_sigmask(SIG_BLOCK, &m_set, &m_old) == 0;
    m_was_pending = pending();
  }
  ~SigpipeBlocked() {
    if (!m_blocked) return;
    if (!m_was_pending && pending()) {
      const ::timespec now{0, 0};
      ::sigtimedwait(&m_set, nullptr, &now);
    }
    ::pthread_sigmask(SIG_SETMASK, &m_old, nullptr);
  }
  SigpipeBlocked(const SigpipeBlocked&) = delete;
  SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;

 private:
  static bool pending() {
    ::sigset_t set;
    return ::sigpending(&set) == 0 && ::sigismember(&set, SIGPIPE) == 1;
  }
  ::sigset_t m_set{};
  ::sigset_t m_old{};
  bool m_blocked = false;
  bool m_was_pending = false;
};

bool is_serial(const std::string& name) {
  return !name.empty() && name.size() <= kMaxSerialHex &&
         std::all_of(name.begin(), name.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

ErrorCode code_of(int rc) {
  switch (rc) {
    case LDAP_SERVER_DOWN:
    case LDAP_CONNECT_ERROR:
    case LDAP_TIMEOUT:
    case LDAP_X_CONNECTING:
    case LDAP_DECODING_ERROR:  // the connection broke in the middle of a reply
    case LDAP_UNAVAILABLE:
    case LDAP_BUSY:
    case LDAP_TIMELIMIT_EXCEEDED:
    case LDAP_OTHER:  // slapd's "internal error", e.g. a full database (MDB_MAP_FULL)
      return ErrorCode::kSystemUnavailable;
    case LDAP_NO_MEMORY:
    case LDAP_ENCODING_ERROR:  // we built a request libldap cannot encode
      return ErrorCode::kSystemFailure;
    default:  // credentials, access, naming, schema, syntax: the same request fails again
      return ErrorCode::kConfigInvalid;
  }
}

// The server's own words about the last result, made safe for one log line.
std::string diagnostic(::LDAP* ld) {
  char* text = nullptr;
  if (ld == nullptr || ::ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &text) != LDAP_OPT_SUCCESS ||
      text == nullptr) {
    return {};
  }
  std::string out = *text != '\0' ? " (" + log::client_text(text) + ")" : "";
  ::ldap_memfree(text);
  return out;
}

tl::unexpected<Error> ldap_error(const Session& session, int rc, std::string_view what, const std::string& dn) {
  std::string message = "ldap publisher: cannot " + std::string(what) + " " + dn + " at " + session.url + ": " +
                        ::ldap_err2string(rc) + diagnostic(session.ld);
  // Only an add whose parents may not be created ends here: the base DN's parent is missing.
  if (rc == LDAP_NO_SUCH_OBJECT) message += "; the entry above the base DN must exist";
  return fail(code_of(rc), std::move(message));
}

int modify(const Session& session, const Entry& entry) {
  Mods mods(entry.values, LDAP_MOD_REPLACE);
  return ::ldap_modify_ext_s(session.ld, entry.dn.c_str(), mods.get(), nullptr, nullptr);
}

int add(const Session& session, const std::string& dn, const std::vector<Attribute>& attributes) {
  Mods mods(attributes, LDAP_MOD_ADD);
  return ::ldap_add_ext_s(session.ld, dn.c_str(), mods.get(), nullptr, nullptr);
}

// The attributes of a container entry at `dn`, which must be ou=<name>,... (a single-valued RDN).
Result<std::vector<Attribute>> organizational_unit(const std::string& dn) {
  ::LDAPDN parsed = nullptr;
  std::string ou;
  if (::ldap_str2dn(dn.c_str(), &parsed, LDAP_DN_FORMAT_LDAPV3) == LDAP_SUCCESS && parsed != nullptr &&
      parsed[0] != nullptr && parsed[0][0] != nullptr && parsed[0][1] == nullptr) {
    const ::LDAPAVA* ava = parsed[0][0];
    const std::string_view type(ava->la_attr.bv_val, ava->la_attr.bv_len);
    if (type.size() == 2 && (type[0] == 'o' || type[0] == 'O') && (type[1] == 'u' || type[1] == 'U')) {
      ou.assign(ava->la_value.bv_val, ava->la_value.bv_len);
    }
  }
  ::ldap_dnfree(parsed);
  if (ou.empty()) {
    return fail(ErrorCode::kConfigInvalid, "ldap publisher: " + dn +
                                               " does not exist and is not an ou=... entry enrolld could create: "
                                               "create it in the directory, or choose a base DN that exists");
  }
  return std::vector<Attribute>{text_attribute("objectClass", {"top", "organizationalUnit"}),
                                text_attribute("ou", {ou})};
}

// Adds the entry at `dn`; when its parent is missing, first adds the parent from `parents`
// (nearest first, each an ou= container) the same way. Returns the result code of the entry's add,
// or the error that stopped a parent's.
Result<int> add_entry(const Session& session, const std::string& dn, const std::vector<Attribute>& attributes,
                      std::span<const std::string> parents) {
  const int rc = add(session, dn, attributes);
  if (rc != LDAP_NO_SUCH_OBJECT || parents.empty()) return rc;
  auto container = organizational_unit(parents.front());
  if (!container) return tl::unexpected(container.error());
  auto made = add_entry(session, parents.front(), *container, parents.subspan(1));
  if (!made) return made;
  // Already there: another node made it a moment ago.
  if (*made != LDAP_SUCCESS && *made != LDAP_ALREADY_EXISTS) return ldap_error(session, *made, "add", parents.front());
  return add(session, dn, attributes);
}

// Replaces the entry's values, adding the entry (and the entries above it) if it does not exist yet.
Status put(const Session& session, const Entry& entry) {
  int rc = modify(session, entry);
  if (rc != LDAP_NO_SUCH_OBJECT) {
    if (rc != LDAP_SUCCESS) return ldap_error(session, rc, "modify", entry.dn);
    return {};
  }
  std::vector<Attribute> attributes = entry.identity;
  for (const auto& attribute : entry.values) {
    if (!attribute.values.empty()) attributes.push_back(attribute);
  }
  auto added = add_entry(session, entry.dn, attributes, entry.parents);
  if (!added) return tl::unexpected(added.error());
  rc = *added;
  // Another node added it between our modify and add: replace its values after all.
  if (rc == LDAP_ALREADY_EXISTS) rc = modify(session, entry);
  if (rc != LDAP_SUCCESS) return ldap_error(session, rc, "add", entry.dn);
  return {};
}

// What publishing `item` at `dn` writes.
Entry entry_of(const Publication& item, std::string dn, const std::string& base) {
  Entry entry{std::move(dn), {}, {}, {base}};
  if (item.kind == Publication::Kind::kCertificate) {
    entry.identity = {text_attribute("objectClass", {"top", "applicationProcess", "pkiUser"}),
                      text_attribute("cn", {item.name})};
    entry.values = {Attribute{kUserCertificate, {item.der}}};
    entry.parents.insert(entry.parents.begin(), "ou=certificates," + base);
  } else {
    // RFC 4523: pkiCA "MAY ( cACertificate $ certificateRevocationList $ authorityRevocationList
    // $ crossCertificatePair )", deltaCRL "MAY deltaRevocationList". Both are auxiliary, so the
    // structural applicationProcess (MUST cn) carries them: no cACertificate is needed to publish
    // a CRL first.
    entry.identity = {text_attribute("objectClass", {"top", "applicationProcess", "pkiCA", "deltaCRL"}),
                      text_attribute("cn", {item.name + "-ca"})};
    const char* type = item.kind == Publication::Kind::kCaCertificate ? kCaCertificate
                       : item.kind == Publication::Kind::kCrl         ? kCrl
                                                                      : kDeltaCrl;
    entry.values = {Attribute{type, {item.der}}};
  }
  const bool certificate =
      item.kind == Publication::Kind::kCertificate || item.kind == Publication::Kind::kCaCertificate;
  if (certificate && !item.subject.empty()) entry.values.push_back(text_attribute("description", {item.subject}));
  return entry;
}

// RFC 4511 4.4.1: a server ending a connection on its own initiative (idle timeout, restart) sends
// a Notice of Disconnection or just closes it. An idle connection has nothing to read, so one
// that is readable or hung up is gone: reconnect instead of failing the next publish on it.
bool still_open(::LDAP* ld) {
  int fd = -1;
  if (::ldap_get_option(ld, LDAP_OPT_DESC, &fd) != LDAP_OPT_SUCCESS || fd < 0) return false;
  ::pollfd watch{fd, POLLIN, 0};
  return ::poll(&watch, 1, 0) == 0;
}

}  // namespace

void LdapPublisher::Unbind::operator()(::ldap* ld) const noexcept {
  SigpipeBlocked sigpipe;  // the unbind request is a write too, also from the destructor
  ::ldap_unbind_ext_s(ld, nullptr, nullptr);
}

LdapPublisher::LdapPublisher(LdapOptions options) : m_options(std::move(options)) {
  // A zero timeout would mean "do not wait at all" to libldap.
  m_options.timeout = std::max(m_options.timeout, std::chrono::seconds(1));
}

LdapPublisher::~LdapPublisher() = default;

Result<std::string> LdapPublisher::dn_for(const Publication& item) const {
  const std::string& base = m_options.base_dn;
  switch (item.kind) {
    case Publication::Kind::kCertificate:
      if (is_serial(item.name)) return "cn=" + item.name + ",ou=certificates," + base;
      return fail(ErrorCode::kSystemFailure,
                  "ldap publisher: refusing serial '" + item.name + "': expected lower-case hex, at most 40 digits");
    case Publication::Kind::kCaCertificate:
    case Publication::Kind::kCrl:
    case Publication::Kind::kDeltaCrl:
      if (is_ca_name(item.name)) return "cn=" + item.name + "-ca," + base;
      return fail(ErrorCode::kSystemFailure,
                  "ldap publisher: refusing CA name '" + item.name + "': expected a-z, 0-9 and '-'");
  }
  return fail(ErrorCode::kSystemFailure, "ldap publisher: unknown publication kind");
}

Status LdapPublisher::connect() {
  ::LDAP* raw = nullptr;
  const int rc = ::ldap_initialize(&raw, m_options.url.c_str());
  Connection ld(raw);
  if (rc != LDAP_SUCCESS || !ld) {
    return fail(ErrorCode::kConfigInvalid, "ldap publisher: bad URL '" + m_options.url + "': " + ::ldap_err2string(rc));
  }
  const int version = LDAP_VERSION3;
  const ::timeval timeout{static_cast<::time_t>(m_options.timeout.count()), 0};
  if (::ldap_set_option(ld.get(), LDAP_OPT_PROTOCOL_VERSION, &version) != LDAP_OPT_SUCCESS ||
      ::ldap_set_option(ld.get(), LDAP_OPT_NETWORK_TIMEOUT, &timeout) != LDAP_OPT_SUCCESS ||
      ::ldap_set_option(ld.get(), LDAP_OPT_TIMEOUT, &timeout) != LDAP_OPT_SUCCESS ||
      // Referrals would be chased with an anonymous bind: a write there fails anyway.
      ::ldap_set_option(ld.get(), LDAP_OPT_REFERRALS, LDAP_OPT_OFF) != LDAP_OPT_SUCCESS ||
      ::ldap_set_option(ld.get(), LDAP_OPT_RESTART, LDAP_OPT_ON) != LDAP_OPT_SUCCESS) {
    return fail(ErrorCode::kSystemFailure, "ldap publisher: libldap refused its options");
  }
  // RFC 4513 5.1.2: a name with an empty password is an unauthenticated bind, and "Clients SHOULD
  // disallow an empty password input to a Name/Password Authentication user interface."
  if (!m_options.bind_dn.empty() && m_options.password.empty()) {
    return fail(ErrorCode::kConfigInvalid, "ldap publisher: bind DN " + m_options.bind_dn + " has no password");
  }
  ::berval password{m_options.password.size(), m_options.password.data()};
  const int bound =
      ::ldap_sasl_bind_s(ld.get(), m_options.bind_dn.c_str(), LDAP_SASL_SIMPLE, &password, nullptr, nullptr, nullptr);
  if (bound != LDAP_SUCCESS) {
    const std::string who = m_options.bind_dn.empty() ? "anonymously" : "as " + m_options.bind_dn;
    return ldap_error(Session{ld.get(), m_options.url}, bound, "bind", who);
  }
  m_ld = std::move(ld);
  return {};
}

Status LdapPublisher::publish(const Publication& item) {
  auto dn = dn_for(item);
  if (!dn) return tl::unexpected(dn.error());
  if (item.der.empty()) return fail(ErrorCode::kSystemFailure, "ldap publisher: no DER for " + *dn);
  const Entry entry = entry_of(item, std::move(*dn), m_options.base_dn);

  SigpipeBlocked sigpipe;
  if (m_ld && !still_open(m_ld.get())) m_ld.reset();
  Status done = m_ld ? Status{} : connect();
  if (done) done = put(Session{m_ld.get(), m_options.url}, entry);
  // Whatever failed, the next publish starts from a fresh connection.
  if (!done) m_ld.reset();
  return done;
}

}  // namespace enrolld::publish
