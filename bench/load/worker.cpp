#include "bench/load/worker.h"

#include <unistd.h>

#include "bench/load/keys.h"

namespace enrolld::load {

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
