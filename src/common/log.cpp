#include "common/log.h"

#include <cstdlib>

#include <spdlog/sinks/stdout_sinks.h>

namespace enrolld::log {

std::string pattern(bool to_journal) {
  // journald stamps every line itself (and systemd sets JOURNAL_STREAM when stdout goes there):
  // a second timestamp would only make the lines longer.
  return to_journal ? "%l %v" : "%Y-%m-%dT%H:%M:%S.%eZ %l %v";
}

void init(std::string_view level) {
  auto logger = spdlog::stdout_logger_mt("enrolld");
  logger->set_pattern(pattern(std::getenv("JOURNAL_STREAM") != nullptr), spdlog::pattern_time_type::utc);
  auto parsed = spdlog::level::from_str(std::string(level));
  logger->set_level(parsed == spdlog::level::off ? spdlog::level::info : parsed);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
}

std::string client_text(std::string_view text, std::size_t max_length) {
  std::string out(text.substr(0, max_length));
  for (char& c : out) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) c = '?';
  }
  return out;
}

}  // namespace enrolld::log
