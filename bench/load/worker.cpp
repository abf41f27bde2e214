#include "bench/load/worker.h"

#include <unistd.h>

#include <algorithm>

#include "bench/load/keys.h"

namespace enrolld::load {

int key_pool_size(const Options& options) {
  if (options.key_pool > 0) return options.key_pool;
  if (options.count == 0) return 256;
  return static_cast<int>(
      std::min<std::uint64_t>(options.count / static_cast<std::uint64_t>(options.threads) + 2, 4096));
}

Outcome<std::optional<CertificateChecker>> load_checker(const Options& options) {
  if (options.trust.empty()) return std::optional<CertificateChecker>();
  auto checker = CertificateChecker::load(options.trust, options.chain);
  if (!checker) return tl::unexpected(checker.error());
  return std::optional<CertificateChecker>(std::move(*checker));
}

Outcome<std::vector<Device>> make_devices(const Options& options, int worker, int size, bool with_csr) {
  std::vector<Device> devices;
  devices.reserve(static_cast<std::size_t>(size));
  const std::string stem = "enroll-load-" + std::string(to_string(options.scenario)) + "-" +
                           std::to_string(::getpid()) + "-w" + std::to_string(worker) + "-";
  for (int i = 0; i < size; ++i) {
    Device device;
    auto key = make_p256_key();
    if (!key) return tl::unexpected(key.error());
    auto subject = make_subject(stem + std::to_string(i));
    if (!subject) return tl::unexpected(subject.error());
    device.key = std::move(*key);
    device.subject = std::move(*subject);
    if (with_csr) {
      auto csr = make_csr(device.key.get(), device.subject.get());
      if (!csr) return tl::unexpected(csr.error());
      device.csr = std::move(*csr);
      device.csr_base64 = to_base64(ossl::der_with(device.csr.get(), ::i2d_X509_REQ));
    }
    devices.push_back(std::move(device));
  }
  return devices;
}

}  // namespace enrolld::load
