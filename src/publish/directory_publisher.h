#pragma once
// Publishes into a folder that a web server or CDN serves as it is. RFC 5280 4.2.1.13: an HTTP
// CRL distribution point "MUST point to a single DER encoded CRL"; 4.2.2.1: a caIssuers URI
// "MUST point to either a single DER encoded certificate [...] or a collection of certificates".
// So every file is the bare DER. Layout under the root:
//   issuing.crt, root.crt         CA certificates (<name>.crt for another issuing CA)
//   issuing.crl, issuing-delta.crl  CRL and delta CRL (<name>.crl, <name>-delta.crl likewise)
//   certs/<serial>.crt            issued certificates, serial in lower-case hex

#include <filesystem>
#include <string>

#include "publish/publisher.h"

namespace enrolld::publish {

// Thread-safety: publish() and flush() from one thread at a time (Publisher's contract). Each file
// is replaced atomically (temp file in the same folder, rename), so a reader sees the old or the
// new bytes, never a mix; temp files are unique, so two processes do not collide. flush() syncs
// the root's file system once for everything published since the last flush: one sync a round
// instead of two per file (a file and its folder).
class DirectoryPublisher final : public Publisher {
 public:
  explicit DirectoryPublisher(std::filesystem::path root);

  const std::string& name() const override { return m_name; }

  // Writes `item` at its path, creating missing folders (0755; the file is 0644). Returns
  // kSystemUnavailable naming the path for a disk error (no space, no permission, a folder that
  // cannot be made), kSystemFailure for a malformed item (see Publisher::publish).
  [[nodiscard]] Status publish(const Publication& item) override;
  // syncfs(2) of the root's file system if anything was published since the last flush.
  // Errors: kSystemUnavailable naming the root and the system's reason.
  [[nodiscard]] Status flush() override;

  // Where `item` goes, or kSystemFailure for a name that could escape the root.
  Result<std::filesystem::path> path_for(const Publication& item) const;

 private:
  std::filesystem::path m_root;
  std::string m_name = "directory";
  bool m_unsynced = false;  // something was published since the last flush
};

}  // namespace enrolld::publish
