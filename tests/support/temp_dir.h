#pragma once
#include <filesystem>
#include <string>

namespace enrolld::testing {

// A fresh private folder under $TMPDIR (or /tmp), removed with everything in it on destruction.
// Each test gets its own, so tests run in parallel without sharing files.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "enrolld-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return m_path; }

 private:
  std::filesystem::path m_path;
};

}  // namespace enrolld::testing
