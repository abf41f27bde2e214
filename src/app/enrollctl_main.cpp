// enrollctl: the operator's command line, reading the same store as enrolld.
//   enrollctl --config FILE cert list
//   enrollctl --config FILE cert show SERIAL
//   enrollctl --config FILE audit list
//   enrollctl --config FILE cmp process --in REQUEST.der --out RESPONSE.der
//   enrollctl --config FILE [--admin-url URL] pending
//   enrollctl --config FILE [--admin-url URL] approve TRANSACTION [--officer NAME]
//   enrollctl --config FILE [--admin-url URL] reject TRANSACTION --reason TEXT [--officer NAME]
//   enrollctl --config FILE [--admin-url URL] est-user add USER [--profile P] [--one-time] [--password-stdin]
//   enrollctl --config FILE [--admin-url URL] est-user list | remove USER
//   enrollctl --config FILE [--admin-url URL] revoke SERIAL --reason REASON [--officer NAME]
//   enrollctl --config FILE [--admin-url URL] status
//   enrollctl [--config FILE] ca init | create-intermediate | csr | import   (see --help)

#include <algorithm>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>

#include <pwd.h>
#include <unistd.h>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "app/admin_client.h"
#include "app/config.h"
#include "app/core.h"
#include "app/enrollctl_ca.h"
#include "app/root_rollover.h"
#include "common/openssl_util.h"
#include "store/rocksdb/rocksdb_store.h"

namespace {

std::string utc(std::int64_t seconds) {
  std::time_t t = static_cast<std::time_t>(seconds);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return text;
}

// The daemon may hold the store open: read a consistent snapshot without taking its lock.
enrolld::Result<std::unique_ptr<enrolld::store::RocksDbStore>> open_store(const std::string& config_file) {
  auto config = enrolld::app::load_config(config_file);
  if (!config) return tl::unexpected(config.error());
  return enrolld::store::RocksDbStore::open(config->store_path.string(), enrolld::store::RocksDbStore::Mode::kReadOnly);
}

int list_certificates(enrolld::store::Store& store, std::size_t limit) {
  auto certs = store.list_certificates(limit);
  if (!certs) {
    std::cerr << "enrollctl: " << certs.error().message << "\n";
    return 1;
  }
  std::cout << "SERIAL                            STATUS   NOT AFTER             SUBJECT\n";
  for (const auto& cert : *certs) {
    std::printf("%-33s %-8s %-21s %s\n", cert.serial_hex.c_str(), cert.status.c_str(), utc(cert.not_after).c_str(),
                cert.subject.c_str());
  }
  return 0;
}

int list_audit(enrolld::store::Store& store, std::size_t limit) {
  auto records = store.list_audit(limit);
  if (!records) {
    std::cerr << "enrollctl: " << records.error().message << "\n";
    return 1;
  }
  std::cout
      << "TIME                  ACTOR                 ACTION   SUBJECT                                   DETAIL\n";
  for (const auto& r : *records) {
    std::printf("%-21s %-21s %-8s %-41s %s\n", utc(r.at).c_str(), r.actor.c_str(), r.action.c_str(), r.subject.c_str(),
                r.detail.c_str());
  }
  return 0;
}

// Offline enrollment (seed 003): a request file in, a response file out, through the same CMP
// handler as the daemon. Needs the store to itself: stop enrolld first.
int process_cmp_file(const std::string& config_file, const std::string& in, const std::string& out) {
  auto config = enrolld::app::load_config(config_file);
  if (!config) {
    std::cerr << "enrollctl: " << config.error().message << "\n";
    return 1;
  }
  std::ifstream input(in, std::ios::binary);
  if (!input) {
    std::cerr << "enrollctl: cannot read " << in << "\n";
    return 1;
  }
  const enrolld::Bytes request((std::istreambuf_iterator<char>(input)), std::istreambuf_iterator<char>());
  auto core = enrolld::app::Core::build(*config);
  if (!core) {
    std::cerr << "enrollctl: " << core.error().message
              << (core.error().code == enrolld::ErrorCode::kSystemUnavailable
                      ? "\n(is enrolld running? offline processing needs the store to itself)"
                      : "")
              << "\n";
    return 1;
  }
  auto reply = (*core)->cmp().handle(request, enrolld::cmp::CmpRequestContext{"", "file:" + in});
  if (!reply) {
    std::cerr << "enrollctl: " << in << ": " << reply.error().message << "\n";
    return 1;
  }
  const std::string bytes(reply->begin(), reply->end());
  if (auto ok = enrolld::ossl::write_file_atomically(out, bytes); !ok) {
    std::cerr << "enrollctl: " << ok.error().message << "\n";
    return 1;
  }
  std::cout << "wrote " << reply->size() << " bytes to " << out << "\n";
  return 0;
}

// Where the admin API is and the token it wants, from the config (the URL may be overridden:
// a demo picks a free port and writes it to endpoints.env as ADMIN_URL).
struct AdminAccess {
  std::string url;
  std::string token;
};

enrolld::Result<AdminAccess> admin_access(const std::string& config_file, const std::string& url_override) {
  auto config = enrolld::app::load_config(config_file);
  if (!config) return tl::unexpected(config.error());
  if (!config->admin_token_file) {
    return enrolld::fail(enrolld::ErrorCode::kConfigInvalid, config_file + " has no [admin] token_file");
  }
  std::ifstream in(*config->admin_token_file);
  std::string token;
  if (!in || !std::getline(in, token) || token.empty()) {
    return enrolld::fail(enrolld::ErrorCode::kConfigInvalid,
                         "cannot read the admin token " + config->admin_token_file->string());
  }
  if (!url_override.empty()) return AdminAccess{url_override, token};
  if (config->admin_port == 0) {
    return enrolld::fail(enrolld::ErrorCode::kConfigInvalid,
                         "[admin] port is 0 (picked at start-up): pass --admin-url (a demo writes it as ADMIN_URL)");
  }
  return AdminAccess{"http://" + config->admin_listen + ":" + std::to_string(config->admin_port), token};
}

std::string login_name() {
  const passwd* user = ::getpwuid(::geteuid());
  return user != nullptr && user->pw_name != nullptr ? user->pw_name : "operator";
}

// Prints what the admin API said; returns the exit status.
int report_admin_reply(const enrolld::Result<enrolld::app::AdminReply>& reply) {
  if (!reply) {
    std::cerr << "enrollctl: " << reply.error().message << "\n";
    return 1;
  }
  const auto body = nlohmann::json::parse(reply->body, nullptr, false);
  if (reply->status < 200 || reply->status > 299) {
    const std::string why = body.is_object() ? body.value("error", reply->body) : reply->body;
    std::cerr << "enrollctl: enrolld refused (HTTP " << reply->status << "): " << why << "\n";
    return 1;
  }
  return 0;
}

// Stored serials are whole octets in lower-case hex with no leading zero octet ("0f5c...");
// an operator may type any case, a 0x, and any number of leading zeros.
std::string stored_serial(std::string serial) {
  for (auto& c : serial) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (serial.rfind("0x", 0) == 0) serial.erase(0, 2);
  serial.erase(0, std::min(serial.find_first_not_of('0'), serial.size()));
  if (serial.size() % 2 == 1) serial.insert(0, "0");
  return serial;
}

int list_pending(const AdminAccess& admin) {
  auto reply = enrolld::app::admin_request("GET", admin.url + "/admin/pending", admin.token);
  if (int status = report_admin_reply(reply); status != 0) return status;
  const auto list = nlohmann::json::parse(reply->body, nullptr, false);
  if (!list.is_array()) {
    std::cerr << "enrollctl: unexpected reply from enrolld\n";
    return 1;
  }
  std::cout << "TRANSACTION                       STATE                 PROFILE     CREATED               "
               "REQUESTER             SUBJECT\n";
  for (const auto& p : list) {
    std::printf("%-33s %-21s %-11s %-21s %-21s %s\n", p.value("transaction", "").c_str(), p.value("state", "").c_str(),
                p.value("profile", "").c_str(), utc(p.value("created_at", std::int64_t{0})).c_str(),
                p.value("requester", "").c_str(), p.value("subject", "").c_str());
  }
  return 0;
}

int decide(const AdminAccess& admin, const std::string& transaction, const std::string& officer,
           const std::optional<std::string>& reason) {
  nlohmann::json body = {{"officer", officer}};
  if (reason) body["reason"] = *reason;
  const std::string action = reason ? "reject" : "approve";
  std::string id = transaction;  // IDs are stored in lower-case hex; accept any case
  for (auto& c : id) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto reply = enrolld::app::admin_request("POST", admin.url + "/admin/transactions/" + id + "/" + action, admin.token,
                                           body.dump());
  if (int status = report_admin_reply(reply); status != 0) return status;
  std::cout << (reason ? "rejected " : "approved ") << transaction << "\n";
  return 0;
}

// Revokes (or holds, or releases from hold) a certificate through the running enrolld.
int revoke(const AdminAccess& admin, const std::string& serial, const std::string& reason, const std::string& officer) {
  const std::string id = stored_serial(serial);
  nlohmann::json body = {{"officer", officer}, {"reason", reason}};
  auto reply = enrolld::app::admin_request("POST", admin.url + "/admin/certificates/" + id + "/revoke", admin.token,
                                           body.dump());
  if (int status = report_admin_reply(reply); status != 0) return status;
  std::cout << (reason == "removeFromCRL" ? "released " : "revoked ") << id << " (" << reason << ")\n";
  return 0;
}

// The HSM's and the store's lines of `enrollctl status`: each says whether its probe worked
// ("signs" / "reads") or why not ("FAILING: ...").
void print_hsm_and_store(const nlohmann::json& report) {
  const auto hsm = report.value("hsm", nlohmann::json::object());
  std::cout << "HSM        " << hsm.value("module", "?") << ", token \"" << hsm.value("token", "?") << "\": ";
  if (hsm.value("signs", false)) {
    std::cout << "signs (test signature in "
              << fmt::format("{:.1f}", static_cast<double>(hsm.value("sign_micros", std::int64_t{0})) / 1000.0)
              << " ms)\n";
  } else {
    std::cout << "FAILING: " << hsm.value("error", "") << "\n";
  }
  const auto store = report.value("store", nlohmann::json::object());
  std::cout << "store      " << store.value("path", "?") << ": ";
  if (store.value("reads", false)) {
    std::cout << "reads, ~" << store.value("estimated_records", std::uint64_t{0}) << " records, ~"
              << (store.value("size_bytes", std::uint64_t{0}) + 1023) / 1024 << " KiB\n";
  } else {
    std::cout << "FAILING: " << store.value("error", "") << "\n";
  }
}

// What the running enrolld reports of itself: version, CAs, HSM, store, CRLs, publishers,
// pending approvals.
int print_status(const AdminAccess& admin) {
  auto reply = enrolld::app::admin_request("GET", admin.url + "/admin/status", admin.token);
  if (int status = report_admin_reply(reply); status != 0) return status;
  const auto report = nlohmann::json::parse(reply->body, nullptr, false);
  if (!report.is_object()) {
    std::cerr << "enrollctl: unexpected reply from enrolld\n";
    return 1;
  }
  std::cout << "enrolld " << report.value("version", "?") << "\n";
  for (const auto& ca : report.value("cas", nlohmann::json::array())) {
    std::cout << "CA         " << ca.value("subject", "") << "  (until " << utc(ca.value("not_after", std::int64_t{0}))
              << ")\n";
  }
  print_hsm_and_store(report);
  for (const auto& crl : report.value("crls", nlohmann::json::array())) {
    std::cout << "CRL        " << crl.value("kind", "") << " number " << crl.value("number", std::uint64_t{0})
              << ", this update " << utc(crl.value("this_update", std::int64_t{0})) << ", next update "
              << utc(crl.value("next_update", std::int64_t{0})) << "\n";
  }
  for (const auto& p : report.value("publishers", nlohmann::json::array())) {
    std::cout << "publisher  " << p.value("name", "") << ": " << p.value("waiting", std::size_t{0}) << " waiting";
    if (p.value("waiting", std::size_t{0}) > 0) {
      std::cout << ", oldest " << utc(p.value("oldest_created_at", std::int64_t{0}));
    }
    if (p.value("attempts", 0) > 0) {
      std::cout << ", " << p.value("attempts", 0) << " failed attempts, last: " << p.value("last_error", "");
    }
    std::cout << "\n";
  }
  std::cout << "pending    " << report.value("pending_approvals", std::size_t{0}) << " request(s) for an officer\n";
  return 0;
}

// EST users (HTTP Basic). Without --password-stdin enrolld generates the password, and it is
// printed once: only its hash is kept.
int add_est_user(const AdminAccess& admin, const std::string& user, const std::string& profile, bool one_time,
                 bool password_from_stdin) {
  nlohmann::json body = {{"user", user}, {"profile", profile}, {"one_time", one_time}};
  if (password_from_stdin) {
    std::string password;
    std::getline(std::cin, password);
    body["password"] = password;
  }
  auto reply = enrolld::app::admin_request("POST", admin.url + "/admin/est/users", admin.token, body.dump());
  if (int status = report_admin_reply(reply); status != 0) return status;
  const auto answer = nlohmann::json::parse(reply->body, nullptr, false);
  if (answer.is_object() && answer.contains("password")) {
    std::cout << answer.value("password", "") << "\n";
  } else {
    std::cout << "password set for " << user << "\n";
  }
  return 0;
}

int list_est_users(const AdminAccess& admin) {
  auto reply = enrolld::app::admin_request("GET", admin.url + "/admin/est/users", admin.token);
  if (int status = report_admin_reply(reply); status != 0) return status;
  const auto list = nlohmann::json::parse(reply->body, nullptr, false);
  if (!list.is_array()) {
    std::cerr << "enrollctl: unexpected reply from enrolld\n";
    return 1;
  }
  std::cout << "USER                             PROFILE      KIND       CREATED\n";
  for (const auto& u : list) {
    const std::string kind =
        u.value("one_time", false) ? (u.value("used", false) ? "spent" : "one-time") : std::string("reusable");
    std::printf("%-32s %-12s %-10s %s\n", u.value("user", "").c_str(), u.value("profile", "").c_str(), kind.c_str(),
                utc(u.value("created_at", std::int64_t{0})).c_str());
  }
  return 0;
}

int remove_est_user(const AdminAccess& admin, const std::string& user) {
  auto reply = enrolld::app::admin_request("DELETE", admin.url + "/admin/est/users/" + user, admin.token);
  if (int status = report_admin_reply(reply); status != 0) return status;
  std::cout << "removed " << user << "\n";
  return 0;
}

int roll_root_over(const std::string& config_file, const std::string& root_key, const std::string& new_key,
                   const std::string& out_dir, unsigned validity_days) {
  auto config = enrolld::app::load_config(config_file);
  if (!config) {
    std::cerr << "enrollctl: " << config.error().message << "\n";
    return 1;
  }
  const std::filesystem::path out = std::filesystem::absolute(out_dir);
  auto rolled = enrolld::app::roll_root_over(*config, root_key, new_key, out, std::chrono::hours(24) * validity_days);
  if (!rolled) {
    std::cerr << "enrollctl: " << rolled.error().message << "\n";
    return 1;
  }
  std::cout << "wrote " << (out / enrolld::app::kNewWithNewFile).string() << ", " << enrolld::app::kNewWithOldFile
            << " and " << enrolld::app::kOldWithNewFile << "\n"
            << "announce them: add to [ca] in " << config_file << ":\n  root_update = \"" << out.string()
            << "\"\nand restart enrolld\n";
  return 0;
}

int show_certificate(enrolld::store::Store& store, const std::string& typed) {
  const std::string serial = stored_serial(typed);
  auto cert = store.find_certificate(serial);
  if (!cert) {
    std::cerr << "enrollctl: " << cert.error().message << "\n";
    return 1;
  }
  if (!*cert) {
    std::cerr << "enrollctl: no certificate with serial " << serial << "\n";
    return 1;
  }
  auto x509 = enrolld::ossl::x509_from_der((*cert)->der);
  if (!x509) {
    std::cerr << "enrollctl: stored certificate is corrupt\n";
    return 1;
  }
  std::cout << enrolld::ossl::pem_of(x509->get());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"enrollctl: operate an enrolld appliance"};
  cli.set_version_flag("--version", std::string("enrollctl ") + ENROLLD_VERSION);
  std::string config_file = "/etc/enrolld/enrolld.conf";
  cli.add_option("--config", config_file, "enrolld configuration file")->capture_default_str();
  cli.require_subcommand(1);

  auto* cert = cli.add_subcommand("cert", "issued certificates");
  cert->require_subcommand(1);
  auto* list = cert->add_subcommand("list", "list issued certificates");
  std::size_t limit = 1000;
  list->add_option("--limit", limit, "at most this many")->capture_default_str();
  auto* show = cert->add_subcommand("show", "print one certificate as PEM");
  std::string serial;
  show->add_option("serial", serial, "serial number in hex")->required();
  auto* audit = cli.add_subcommand("audit", "the audit trail");
  audit->require_subcommand(1);
  auto* audit_list = audit->add_subcommand("list", "list audit records, oldest first");
  audit_list->add_option("--limit", limit, "at most this many")->capture_default_str();
  auto* cmp = cli.add_subcommand("cmp", "CMP without a network");
  cmp->require_subcommand(1);
  auto* process = cmp->add_subcommand("process", "answer a DER CMP request file with a response file");
  std::string in_file;
  std::string out_file;
  process->add_option("--in", in_file, "request (DER PKIMessage)")->required();
  process->add_option("--out", out_file, "where to write the response (DER PKIMessage)")->required();
  auto* ca = cli.add_subcommand("ca", "the CA itself");
  ca->require_subcommand(1);
  auto* rollover = ca->add_subcommand("rollover-root", "make a new root CA key and the transition certificates");
  std::string root_key;
  std::string new_key;
  std::string rollover_out;
  unsigned rollover_days = 3650;
  rollover->add_option("--root-key", root_key, "the current root's key (RFC 7512 pkcs11: URI)")->required();
  rollover->add_option("--new-key", new_key, "label of the new root key in the same token (made if absent)")
      ->required();
  rollover->add_option("--out", rollover_out, "folder for new-with-new.pem, new-with-old.pem, old-with-new.pem")
      ->required();
  rollover->add_option("--validity-days", rollover_days, "validity of the new root")->capture_default_str();
  const enrolld::app::CaSetupCommands ca_setup(*ca);
  std::string admin_url;
  cli.add_option("--admin-url", admin_url, "enrolld's admin listener (default: from [admin] in the config)");
  std::string transaction;
  std::string officer = login_name();
  std::string reason;
  auto* pending = cli.add_subcommand("pending", "list requests waiting for an officer's approval");
  auto* approve = cli.add_subcommand("approve", "approve a held request; it is issued when the requester polls");
  approve->add_option("transaction", transaction, "transaction ID (hex)")->required();
  approve->add_option("--officer", officer, "who decides (for the audit trail)")->capture_default_str();
  auto* reject = cli.add_subcommand("reject", "reject a held request; the requester is told the reason");
  reject->add_option("transaction", transaction, "transaction ID (hex)")->required();
  reject->add_option("--reason", reason, "why, in words the requester's operator can act on")->required();
  reject->add_option("--officer", officer, "who decides (for the audit trail)")->capture_default_str();
  std::string revoke_serial, revoke_reason;
  auto* revoke_cmd = cli.add_subcommand("revoke", "revoke a certificate (or put it on hold, or lift the hold)");
  revoke_cmd->add_option("serial", revoke_serial, "serial number (hex, as 'cert list' shows it)")->required();
  revoke_cmd
      ->add_option("--reason", revoke_reason,
                   "RFC 5280 reason: unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, "
                   "cessationOfOperation, certificateHold (suspend), removeFromCRL (lift a hold), "
                   "privilegeWithdrawn, aACompromise")
      ->required();
  revoke_cmd->add_option("--officer", officer, "who revokes (for the audit trail)")->capture_default_str();
  auto* status_cmd =
      cli.add_subcommand("status", "what the running enrolld reports: CAs, HSM, store, CRLs, publishers, pending");
  auto* est_user = cli.add_subcommand("est-user", "EST users (HTTP Basic passwords, kept hashed)");
  est_user->require_subcommand(1);
  std::string user, user_profile;
  bool one_time = false, password_stdin = false;
  auto* user_add = est_user->add_subcommand("add", "add a user or set its password; prints a generated one");
  user_add->add_option("user", user, "user name")->required();
  user_add->add_option("--profile", user_profile, "the only profile (EST label) it may enroll under");
  user_add->add_flag("--one-time", one_time, "an enrollment secret: good for one certificate");
  user_add->add_flag("--password-stdin", password_stdin, "read the password (12+ characters) from stdin");
  auto* user_list = est_user->add_subcommand("list", "list EST users");
  auto* user_remove = est_user->add_subcommand("remove", "remove an EST user");
  user_remove->add_option("user", user, "user name")->required();
  CLI11_PARSE(cli, argc, argv);

  if (*est_user) {
    auto admin = admin_access(config_file, admin_url);
    if (!admin) {
      std::cerr << "enrollctl: " << admin.error().message << "\n";
      return 1;
    }
    if (*user_add) return add_est_user(*admin, user, user_profile, one_time, password_stdin);
    if (*user_list) return list_est_users(*admin);
    return remove_est_user(*admin, user);
  }

  if (*status_cmd) {
    auto admin = admin_access(config_file, admin_url);
    if (!admin) {
      std::cerr << "enrollctl: " << admin.error().message << "\n";
      return 1;
    }
    return print_status(*admin);
  }

  if (*revoke_cmd) {
    auto admin = admin_access(config_file, admin_url);
    if (!admin) {
      std::cerr << "enrollctl: " << admin.error().message << "\n";
      return 1;
    }
    return revoke(*admin, revoke_serial, revoke_reason, officer);
  }

  if (*pending || *approve || *reject) {
    auto admin = admin_access(config_file, admin_url);
    if (!admin) {
      std::cerr << "enrollctl: " << admin.error().message << "\n";
      return 1;
    }
    if (*pending) return list_pending(*admin);
    return decide(*admin, transaction, officer, *reject ? std::optional<std::string>(reason) : std::nullopt);
  }

  if (ca_setup.chosen()) return ca_setup.run(config_file);
  if (*rollover) return roll_root_over(config_file, root_key, new_key, rollover_out, rollover_days);

  if (*process) {
    spdlog::set_default_logger(spdlog::stderr_logger_mt("enrollctl"));
    return process_cmp_file(config_file, in_file, out_file);
  }

  auto store = open_store(config_file);
  if (!store) {
    std::cerr << "enrollctl: " << store.error().message << "\n";
    return 1;
  }
  if (*list) return list_certificates(**store, limit);
  if (*audit_list) return list_audit(**store, limit);
  return show_certificate(**store, serial);
}
