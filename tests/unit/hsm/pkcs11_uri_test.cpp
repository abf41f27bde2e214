#include "hsm/pkcs11/pkcs11_uri.h"

#include <fstream>

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace enrolld::hsm {
namespace {

TEST(Pkcs11Uri, ReadsTokenObjectAndQueryAttributes) {
  auto uri =
      parse_pkcs11_uri("pkcs11:token=my%20token;object=issuing-ca;type=private?pin-source=file:/p&module-path=/m.so");
  ASSERT_TRUE(uri) << uri.error().message;
  EXPECT_EQ(uri->token, "my token");
  EXPECT_EQ(uri->object, "issuing-ca");
  EXPECT_EQ(uri->pin_source, "file:/p");
  EXPECT_EQ(uri->module_path, "/m.so");
}

TEST(Pkcs11Uri, RefusesWhatItCannotUse) {
  for (const char* bad : {"file:/x", "pkcs11:object=k", "pkcs11:token=t", "pkcs11:token=t;object=%4", "pkcs11:token"}) {
    auto uri = parse_pkcs11_uri(bad);
    ASSERT_FALSE(uri) << bad;
    EXPECT_EQ(uri.error().code, ErrorCode::kConfigInvalid) << bad;
  }
}

TEST(Pkcs11Uri, PinComesFromValueOrFirstLineOfFile) {
  testing::TempDir dir;
  std::ofstream(dir.path() / "pin") << "4321\nignored\n";
  Pkcs11Uri from_file{"t", "k", "file:" + (dir.path() / "pin").string(), "", ""};
  EXPECT_EQ(resolve_pin(from_file).value(), "4321");
  Pkcs11Uri from_value{"t", "k", "", "99", ""};
  EXPECT_EQ(resolve_pin(from_value).value(), "99");
  Pkcs11Uri missing_file{"t", "k", (dir.path() / "nope").string(), "", ""};
  EXPECT_EQ(resolve_pin(missing_file).error().code, ErrorCode::kConfigInvalid);
  Pkcs11Uri none{"t", "k", "", "", ""};
  EXPECT_EQ(resolve_pin(none).error().code, ErrorCode::kConfigInvalid);
}

}  // namespace
}  // namespace enrolld::hsm
