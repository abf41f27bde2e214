// [ca] root_update: the three certificates are read and must link the current and the new root.
#include "app/root_rollover.h"

#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ca/ca_certificates.h"
#include "hsm/software_signer.h"
#include "support/softhsm_fixture.h"
#include "support/temp_dir.h"

namespace enrolld::app {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class RootUpdateFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto root = ca::make_root_certificate({{{"CN", "Old Root"}}, std::chrono::hours(24 * 365), -1}, old_signer);
    ASSERT_TRUE(root);
    old_root = std::move(*root);
    auto rolled = ca::make_root_rollover(old_root.get(), old_signer, new_signer, std::chrono::hours(24 * 730));
    ASSERT_TRUE(rolled);
    write(kNewWithNewFile, rolled->new_with_new.get());
    write(kNewWithOldFile, rolled->new_with_old.get());
    write(kOldWithNewFile, rolled->old_with_new.get());
    rollover = std::move(*rolled);
  }

  void write(const char* file, const ::X509* cert) {
    ASSERT_TRUE(ossl::write_file_atomically((dir.path() / file).string(), ossl::pem_of(cert), 0644));
  }

  hsm::SoftwareSigner old_signer{testing::make_ec_key()};
  hsm::SoftwareSigner new_signer{testing::make_ec_key()};
  ossl::X509Ptr old_root;
  ca::RootRollover rollover;
  testing::TempDir dir{"enrolld-root-update"};
};

TEST_F(RootUpdateFilesTest, ARolloverOfTheCurrentRootIsRead) {
  auto update = load_root_update(dir.path(), old_root.get());
  ASSERT_TRUE(update) << update.error().message;
  EXPECT_EQ(update->new_with_new, ossl::der_of(rollover.new_with_new.get()));
  EXPECT_EQ(update->new_with_old, ossl::der_of(rollover.new_with_old.get()));
  EXPECT_EQ(update->old_with_new, ossl::der_of(rollover.old_with_new.get()));
}

TEST_F(RootUpdateFilesTest, CertificatesThatDoNotLinkTheRootsAreRefusedByFile) {
  // Swapped transition certificates.
  write(kNewWithOldFile, rollover.old_with_new.get());
  write(kOldWithNewFile, rollover.new_with_old.get());
  auto swapped = load_root_update(dir.path(), old_root.get());
  ASSERT_FALSE(swapped);
  EXPECT_EQ(swapped.error().code, ErrorCode::kConfigInvalid);
  EXPECT_THAT(swapped.error().message, HasSubstr(kNewWithOldFile));

  // A rollover of another root.
  hsm::SoftwareSigner stranger{testing::make_ec_key()};
  auto other = ca::make_root_certificate({{{"CN", "Other Root"}}, std::chrono::hours(24), -1}, stranger);
  ASSERT_TRUE(other);
  write(kNewWithOldFile, rollover.new_with_old.get());
  write(kOldWithNewFile, rollover.old_with_new.get());
  auto foreign = load_root_update(dir.path(), other->get());
  ASSERT_FALSE(foreign);
  EXPECT_THAT(foreign.error().message, HasSubstr("current root"));

  fs::remove(dir.path() / kNewWithNewFile);
  auto missing = load_root_update(dir.path(), old_root.get());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kConfigInvalid);
  EXPECT_THAT(missing.error().message, HasSubstr("ca.root_update"));
}

}  // namespace
}  // namespace enrolld::app
