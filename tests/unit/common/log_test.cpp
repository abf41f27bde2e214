#include "common/log.h"

#include <gtest/gtest.h>

namespace enrolld {
namespace {

TEST(LogClientText, ControlCharactersCannotStartALogLine) {
  EXPECT_EQ(log::client_text("alice\nINFO forged line\r\x1b[31m\x7f"), "alice?INFO forged line??[31m?");
}

TEST(LogClientText, PrintableAndUtf8TextIsKept) {
  EXPECT_EQ(log::client_text("user@example.com Grüße"), "user@example.com Grüße");
}

TEST(LogClientText, IsCutAtTheLimit) {
  EXPECT_EQ(log::client_text(std::string(500, 'a')).size(), 200u);
  EXPECT_EQ(log::client_text("abcdef", 3), "abc");
  EXPECT_EQ(log::client_text(""), "");
}

}  // namespace
}  // namespace enrolld
