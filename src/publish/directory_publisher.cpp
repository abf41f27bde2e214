#include "publish/directory_publisher.h"

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

// A file descriptor closed on every path out.
class Fd {
 public:
  explicit Fd(int fd) : m_fd(fd) {}
  ~Fd() {
    if (m_fd >= 0) ::close(m_fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return m_fd; }
  // Closes now, for the error close() may report (NFS reports write errors only there).
  bool close() { return ::close(std::exchange(m_fd, -1)) == 0; }

 private:
  int m_fd;
};

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

bool is_ca_name(const std::string& name) {
  return name == "issuing" || name == "root";
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

Status write_all(int fd, const Bytes& bytes, const fs::path& path) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ::ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return disk_error("write", path, n < 0 ? errno : ENOSPC);
    done += static_cast<std::size_t>(n);
  }
  return {};
}

// Makes the rename itself durable: it is an entry in the folder.
Status sync_folder(const fs::path& folder) {
  Fd fd(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) return disk_error("sync folder", folder, errno);
  return {};
}

// Writes a unique temp file next to `path`, syncs it and renames it over `path`; the temp file is
// removed again if any step fails. (ossl::write_file_atomically uses one fixed ".tmp" name, leaves
// it behind on a failed write and reports every failure as kSystemFailure without errno: a full
// disk must be kSystemUnavailable here, and a half-written temp file must not stay for the web
// server to serve.)
Status replace_file(const fs::path& path, const Bytes& bytes) {
  std::string pattern = (path.parent_path() / ("." + path.filename().string() + ".XXXXXX")).string();
  Fd fd(::mkostemp(pattern.data(), O_CLOEXEC));
  if (fd.get() < 0) return disk_error("create a temp file for", path, errno);
  const fs::path tmp = pattern;
  auto written = [&]() -> Status {
    if (::fchmod(fd.get(), kFileMode) != 0) return disk_error("set the mode of", tmp, errno);
    if (auto ok = write_all(fd.get(), bytes, tmp); !ok) return ok;
    if (::fsync(fd.get()) != 0 || !fd.close()) return disk_error("sync", tmp, errno);
    if (::rename(tmp.c_str(), path.c_str()) != 0) return disk_error("rename a temp file to", path, errno);
    return {};
  }();
  if (!written) {
    ::unlink(tmp.c_str());
    return written;
  }
  return sync_folder(path.has_parent_path() ? path.parent_path() : fs::path("."));
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
      if (!is_ca_name(item.name)) return refuse("'issuing' or 'root'");
      return m_root / (item.name + ".crt");
    case Publication::Kind::kCrl:
      if (!is_ca_name(item.name)) return refuse("'issuing' or 'root'");
      return m_root / (item.name + ".crl");
    case Publication::Kind::kDeltaCrl:
      if (!is_ca_name(item.name)) return refuse("'issuing' or 'root'");
      return m_root / (item.name + "-delta.crl");
  }
  return fail(ErrorCode::kSystemFailure, "directory publisher: unknown publication kind");
}

Status DirectoryPublisher::publish(const Publication& item) {
  auto path = path_for(item);
  if (!path) return tl::unexpected(path.error());
  if (item.der.empty()) return fail(ErrorCode::kSystemFailure, "directory publisher: no DER for " + path->string());
  if (auto ok = make_folders(path->parent_path()); !ok) return ok;
  return replace_file(*path, item.der);
}

}  // namespace enrolld::publish
