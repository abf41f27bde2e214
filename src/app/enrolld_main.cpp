// enrolld: the certificate-enrollment appliance daemon.
//   enrolld --config FILE [--check-config]
//   enrolld demo --dir DIR [--http-port P]

#include <iostream>

#include <CLI/CLI.hpp>

#include "app/appliance.h"
#include "app/demo.h"
#include "common/log.h"

namespace {

void print_endpoints(const std::filesystem::path& dir) {
  std::ifstream in(dir / "endpoints.env");
  std::cout << "enrolld demo is serving. Endpoints (" << (dir / "endpoints.env").string() << "):\n"
            << in.rdbuf() << "\nEnroll with:\n  . " << (dir / "endpoints.env").string()
            << "\n  openssl ecparam -genkey -name prime256v1 -out device.key\n"
            << "  openssl cmp -cmd ir -server \"$CMP_URL\" -ref \"$CMP_REF\" -secret \"pass:$CMP_SECRET\" "
               "-newkey device.key -subject /CN=device-1 -certout device.pem\n"
            << std::flush;
}

int run_demo(const std::filesystem::path& dir, std::optional<std::uint16_t> http_port) {
  auto config_file = enrolld::app::ensure_demo_instance(dir, http_port.value_or(0));
  if (!config_file) {
    std::cerr << "enrolld demo: " << config_file.error().message << "\n";
    return 1;
  }
  auto config = enrolld::app::load_config(*config_file);
  if (!config) {
    std::cerr << config.error().message << "\n";
    return 1;
  }
  enrolld::app::RunOptions options;
  // The port the demo was made with is in its config and in its certificates' URLs; another one
  // moves the listener, and certificates issued before still name the first.
  if (http_port.value_or(0) != 0 && *http_port != config->http_port) {
    spdlog::warn("listening on port {}, but the demo's CRL and OCSP URLs name port {}", *http_port, config->http_port);
    options.http_port = *http_port;
  }
  options.on_listening = [&](const enrolld::app::Listening& listening) {
    if (auto ok = enrolld::app::write_endpoints(dir, *config, listening); !ok) {
      spdlog::error("cannot write endpoints: {}", ok.error().message);
      return;
    }
    print_endpoints(std::filesystem::absolute(dir));
  };
  return enrolld::app::run(*config, options);
}

}  // namespace

int main(int argc, char** argv) {
  enrolld::app::prepare_signals();
  CLI::App cli{"enrolld: CMP/EST certificate-enrollment appliance"};
  cli.set_version_flag("--version", std::string("enrolld ") + ENROLLD_VERSION);
  std::string config_file;
  bool check_only = false;
  cli.add_option("--config", config_file, "configuration file (TOML)");
  cli.add_flag("--check-config", check_only, "check the configuration file and exit");

  auto* demo = cli.add_subcommand("demo", "create (on first use) and run a self-contained demo appliance");
  std::string demo_dir;
  std::optional<std::uint16_t> http_port;
  demo->add_option("--dir", demo_dir, "folder of the demo instance")->required();
  demo->add_option("--http-port", http_port, "HTTP port, fixed when the demo is made (0: pick a free one)");
  CLI11_PARSE(cli, argc, argv);

  enrolld::log::init("info");
  if (*demo) return run_demo(demo_dir, http_port);
  if (config_file.empty()) {
    std::cerr << cli.help();
    return 2;
  }
  auto config = enrolld::app::load_config(config_file);
  if (!config) {
    std::cerr << config.error().message << "\n";
    return 1;
  }
  if (check_only) {
    std::cout << config_file << ": OK\n";
    return 0;
  }
  spdlog::set_level(spdlog::level::from_str(config->log_level));
  return enrolld::app::run(*config, {});
}
