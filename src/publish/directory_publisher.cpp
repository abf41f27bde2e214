#include "publish/directory_publisher.h"

#include "common/openssl_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

namespace enrolld::publish {

namespace {

namespace fs = std::filesystem;

constexpr ::mode_t kFolderMode = 0755;
constexpr ::mode_t kFileMode = 0644;
// RFC 5280 4.1.2.2: "Conforming CAs MUST NOT use serialNumber values longer than 20 octets."
constexpr std::size_t kMaxSerialHex = 40;

tl::unexpected<Error> disk_error(const std::string& what, const fs::path& path, int error) {
  return fail(ErrorCode::kSystemUnavailable,
              "directory publisher: cannot " + what + " " + path.string() + ": " + std::strerror(error));
}

bool is_serial(const std::string& name) {
  if (name.empty() || name.size() > kMaxSerialHex) return false;
  for (char c : name) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Makes `folder` and its missing ancestors with mode 0755 (set explicitly: the process umask
// must not hide them from the web server). Folders that exist keep the mode an operator gave them.
Status make_folders(const fs::path& folder) {
  std::vector<fs::path> missing;
  for (fs::path p = folder; !p.empty(); p = p.parent_path()) {
    struct ::stat st {};
    if (::stat(p.c_str(), &st) == 0) break;
    if (errno != ENOENT) return disk_error("reach", p, errno);
    missing.push_back(p);
    if (p == p.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), kFolderMode) != 0 && errno != EEXIST) return disk_error("create folder", *it, errno);
    if (::chmod(it->c_str(), kFolderMode) != 0) return disk_error("set the mode of", *it, errno);
  }
  return {};
}

}  // namespace

DirectoryPublisher::DirectoryPublisher(std::filesystem::path root) : m_root(std::move(root)) {}

Result<std::filesystem::path> DirectoryPublisher::path_for(const Publication& item) const {
  // Names come from our own code, never from a client; one that does not fit is a bug upstream.
  auto refuse = [&](const char* expected) {
    return fail(ErrorCode::kSystemFailure, "directory publisher: refusing name '" + item.name + "', expected " +
                                               expected + " (it could name a file outside " + m_root.string() + ")");
  };
  switch (item.kind) {
    case Publication::Kind::kCertificate:
      if (!is_serial(item.name)) return refuse("a lower-case hex serial");
      return m_root / "certs" / (item.name + ".crt");
    case Publication::Kind::kCaCertificate:
      if (!is_ca_name(item.name)) return refuse("a CA name (a-z, 0-9, '-')");
      return m_root / (item.name + ".crt");
    case Publication::Kind::kCrl:
      if (!is_ca_name(item.name)) return refuse("a CA name (a-z, 0-9, '-')");
      return m_root / (item.name + ".crl");
    case Publication::Kind::kDeltaCrl:
      if (!is_ca_name(item.name)) return refuse("a CA name (a-z, 0-9, '-')");
      return m_root / (item.name + "-delta.crl");
  }
  return fail(ErrorCode::kSystemFailure, "directory publisher: unknown publication kind");
}

Status DirectoryPublisher::publish(const Publication& item) {
  auto path = path_for(item);
  if (!path) return tl::unexpected(path.error());
  if (item.der.empty()) return fail(ErrorCode::kSystemFailure, "directory publisher: no DER for " + path->string());
  if (auto ok = make_folders(path->parent_path()); !ok) return ok;
  auto written = ossl::write_file_atomically(
      path->string(), std::string_view(reinterpret_cast<const char*>(item.der.data()), item.der.size()), kFileMode,
      ossl::Durability::kSyncedByCaller);
  if (!written) return fail(written.error().code, "directory publisher: " + written.error().message);
  m_unsynced = true;
  return {};
}

Status DirectoryPublisher::flush() {
  if (!m_unsynced) return {};
  if (auto synced = ossl::sync_file_system(m_root.string()); !synced) {
    return fail(synced.error().code, "directory publisher: " + synced.error().message);
  }
  m_unsynced = false;
  return {};
}

}  // namespace enrolld::publish
