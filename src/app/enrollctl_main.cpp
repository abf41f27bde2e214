// enrollctl: the operator's command line, reading the same store as enrolld.
//   enrollctl --config FILE cert list
//   enrollctl --config FILE cert show SERIAL
//   enrollctl --config FILE audit list
//   enrollctl --config FILE cmp process --in REQUEST.der --out RESPONSE.der

#include <algorithm>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "app/config.h"
#include "app/core.h"
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

int show_certificate(enrolld::store::Store& store, std::string serial) {
  // Stored serials are whole octets in lower-case hex with no leading zero octet ("0f5c...");
  // accept any case and any number of leading zeros.
  for (auto& c : serial) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  serial.erase(0, std::min(serial.find_first_not_of('0'), serial.size()));
  if (serial.size() % 2 == 1) serial.insert(0, "0");
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
  CLI11_PARSE(cli, argc, argv);

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
