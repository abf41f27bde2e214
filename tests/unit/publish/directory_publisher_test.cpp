#include "publish/directory_publisher.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace enrolld::publish {
namespace {

namespace fs = std::filesystem;
using enrolld::testing::TempDir;
using Kind = Publication::Kind;

Publication item(Kind kind, std::string name, Bytes der) {
  return Publication{kind, std::move(name), "", std::move(der)};
}

Bytes read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

unsigned mode_of(const fs::path& path) {
  struct ::stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

std::vector<std::string> files_under(const fs::path& root) {
  std::vector<std::string> names;
  if (!fs::exists(root)) return names;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    names.push_back(fs::relative(entry.path(), root).string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Sets the process umask for one test; publishing must not depend on it.
class Umask {
 public:
  explicit Umask(::mode_t mask) : m_old(::umask(mask)) {}
  ~Umask() { ::umask(m_old); }

 private:
  ::mode_t m_old;
};

TEST(DirectoryPublisher, EveryKindLandsAtItsPathWithExactlyItsBytes) {
  TempDir dir("enrolld-publish");
  const fs::path root = dir.path() / "repo";
  DirectoryPublisher publisher(root);
  EXPECT_EQ(publisher.name(), "directory");

  struct Case {
    Publication item;
    fs::path path;
  };
  const std::vector<Case> cases = {
      {item(Kind::kCaCertificate, "issuing", {0x30, 0x01, 0x02}), root / "issuing.crt"},
      {item(Kind::kCaCertificate, "root", {0x30, 0x03, 0x00, 0xff, 0x0a}), root / "root.crt"},
      {item(Kind::kCrl, "issuing", {0x30, 0x05, 0x0d, 0x0a, 0x00}), root / "issuing.crl"},
      {item(Kind::kDeltaCrl, "issuing", {0x30, 0x07}), root / "issuing-delta.crl"},
      {item(Kind::kCertificate, "0f5c9a", {0x30, 0x09, 0x1a}), root / "certs" / "0f5c9a.crt"},
      // Another issuing CA of the appliance, and its own root.
      {item(Kind::kCrl, "devices", {0x30, 0x0b}), root / "devices.crl"},
      {item(Kind::kCaCertificate, "devices-root", {0x30, 0x0d}), root / "devices-root.crt"},
  };
  for (const auto& c : cases) {
    auto path = publisher.path_for(c.item);
    ASSERT_TRUE(path) << path.error().message;
    EXPECT_EQ(*path, c.path);
    auto done = publisher.publish(c.item);
    ASSERT_TRUE(done) << c.path << ": " << done.error().message;
    EXPECT_EQ(read_file(c.path), c.item.der) << c.path;
    EXPECT_EQ(mode_of(c.path), 0644u) << c.path;
  }
  EXPECT_EQ(files_under(root),
            (std::vector<std::string>{"certs", "certs/0f5c9a.crt", "devices-root.crt", "devices.crl",
                                      "issuing-delta.crl", "issuing.crl", "issuing.crt", "root.crt"}));
}

TEST(DirectoryPublisher, MissingFoldersAreMadeReadableWhateverTheUmask) {
  TempDir dir("enrolld-publish");
  const fs::path root = dir.path() / "a" / "b";
  Umask strict(077);
  DirectoryPublisher publisher(root);
  auto done = publisher.publish(item(Kind::kCertificate, "01", {0x30, 0x00}));
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_EQ(mode_of(dir.path() / "a"), 0755u);
  EXPECT_EQ(mode_of(root), 0755u);
  EXPECT_EQ(mode_of(root / "certs"), 0755u);
  EXPECT_EQ(mode_of(root / "certs" / "01.crt"), 0644u);
}

TEST(DirectoryPublisher, ASecondPublishReplacesTheFileAndLeavesNoTempFile) {
  TempDir dir("enrolld-publish");
  DirectoryPublisher publisher(dir.path());
  ASSERT_TRUE(publisher.publish(item(Kind::kCrl, "issuing", Bytes(4096, 0x11))));
  const Bytes newer = {0x30, 0x02, 0x22, 0x22};
  ASSERT_TRUE(publisher.publish(item(Kind::kCrl, "issuing", newer)));
  EXPECT_EQ(read_file(dir.path() / "issuing.crl"), newer);
  EXPECT_EQ(files_under(dir.path()), std::vector<std::string>{"issuing.crl"});
}

// flush() syncs the root's file system once for what was published; with the root gone there is
// nothing to sync it through, which is an error only when something waits to be made durable.
TEST(DirectoryPublisher, FlushSyncsThroughTheRootAndFailsNamingItWhenTheRootIsGone) {
  TempDir dir("enrolld-publish");
  const fs::path root = dir.path() / "repo";
  DirectoryPublisher publisher(root);
  EXPECT_TRUE(publisher.flush()) << "nothing published, nothing to sync, even without the root";
  ASSERT_TRUE(publisher.publish(item(Kind::kCrl, "issuing", {0x30, 0x00})));
  auto synced = publisher.flush();
  EXPECT_TRUE(synced) << synced.error().message;
  EXPECT_EQ(read_file(root / "issuing.crl"), (Bytes{0x30, 0x00}));

  ASSERT_TRUE(publisher.publish(item(Kind::kCrl, "issuing", {0x30, 0x01})));
  fs::remove_all(root);
  auto lost = publisher.flush();
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().code, ErrorCode::kSystemUnavailable);
  EXPECT_NE(lost.error().message.find(root.string()), std::string::npos) << lost.error().message;
  EXPECT_FALSE(publisher.flush()) << "still unsynced: the next flush tries again";
}

// Tests run as root, which a chmod 0555 folder does not stop: a root below a regular file
// cannot be made by anyone.
TEST(DirectoryPublisher, AFolderThatCannotBeMadeIsSystemUnavailableNamingThePath) {
  TempDir dir("enrolld-publish");
  std::ofstream(dir.path() / "plain-file") << "not a folder";
  const fs::path root = dir.path() / "plain-file" / "repo";
  DirectoryPublisher publisher(root);
  auto done = publisher.publish(item(Kind::kCrl, "issuing", {0x30, 0x00}));
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().code, ErrorCode::kSystemUnavailable);
  EXPECT_NE(done.error().message.find((dir.path() / "plain-file").string()), std::string::npos) << done.error().message;
  EXPECT_NE(done.error().message.find("Not a directory"), std::string::npos) << done.error().message;
}

TEST(DirectoryPublisher, AnUnwritableFileIsSystemUnavailable) {
  TempDir dir("enrolld-publish");
  // The target is a folder: rename(2) cannot put a file there.
  fs::create_directories(dir.path() / "issuing.crl" / "inside");
  DirectoryPublisher publisher(dir.path());
  auto done = publisher.publish(item(Kind::kCrl, "issuing", {0x30, 0x00}));
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().code, ErrorCode::kSystemUnavailable);
  EXPECT_NE(done.error().message.find((dir.path() / "issuing.crl").string()), std::string::npos)
      << done.error().message;
  // The temp file went again.
  EXPECT_EQ(files_under(dir.path()), (std::vector<std::string>{"issuing.crl", "issuing.crl/inside"}));
}

TEST(DirectoryPublisher, NamesThatCouldEscapeTheFolderAreRefusedAndNothingIsWritten) {
  TempDir dir("enrolld-publish");
  const fs::path root = dir.path() / "repo";
  DirectoryPublisher publisher(root);
  const std::vector<Publication> bad = {
      item(Kind::kCertificate, "../../etc/passwd", {0x30, 0x00}),
      item(Kind::kCertificate, "../issuing", {0x30, 0x00}),
      item(Kind::kCertificate, "0A1B", {0x30, 0x00}),  // serials are lower-case hex
      item(Kind::kCertificate, "", {0x30, 0x00}),
      item(Kind::kCertificate, std::string(42, 'a'), {0x30, 0x00}),  // RFC 5280 4.1.2.2: at most 20 octets
      item(Kind::kCaCertificate, "../root", {0x30, 0x00}),
      item(Kind::kCaCertificate, "issuing/../../x", {0x30, 0x00}),
      item(Kind::kCrl, "/etc/issuing", {0x30, 0x00}),
      item(Kind::kDeltaCrl, "Devices", {0x30, 0x00}),  // CA names are lower-case
      item(Kind::kCrl, "certs", {0x30, 0x00}),         // the folder of issued certificates
      item(Kind::kCrl, std::string(49, 'a'), {0x30, 0x00}),
      item(Kind::kCrl, "issuing", {}),  // no DER at all
  };
  for (const auto& publication : bad) {
    auto done = publisher.publish(publication);
    ASSERT_FALSE(done) << publication.name;
    EXPECT_EQ(done.error().code, ErrorCode::kSystemFailure) << publication.name;
  }
  EXPECT_FALSE(fs::exists(root));
  EXPECT_EQ(files_under(dir.path()), std::vector<std::string>{});
}

}  // namespace
}  // namespace enrolld::publish
