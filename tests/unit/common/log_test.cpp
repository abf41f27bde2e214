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

// journald stamps lines itself: under it (JOURNAL_STREAM) the pattern keeps the level only.
TEST(LogPattern, TheJournalGetsNoTimestamp) {
  EXPECT_EQ(log::pattern(true), "%l %v");
  EXPECT_EQ(log::pattern(false), "%Y-%m-%dT%H:%M:%S.%eZ %l %v");
}

}  // namespace
}  // namespace enrolld
