#pragma once
// Logging through spdlog: one line per event with "key=value" fields and the transaction id
// where known. Secrets (MAC secrets, PINs, private keys) are never passed to the logger.

#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace enrolld::log {

// Sets up the process-wide logger on stdout (journald picks it up under systemd): the pattern
// of pattern(), for the journal when JOURNAL_STREAM is set.
// `level` is one of trace, debug, info, warn, error; an unknown name means "info".
void init(std::string_view level);

// The spdlog pattern of a line: "<UTC timestamp> <level> <message>", without the timestamp
// when `to_journal` (journald stamps lines itself).
std::string pattern(bool to_journal);

// Text a client chose, made safe for one log line: control characters become '?', and it is
// cut at `max_length` bytes, so a client can neither forge lines nor flood the log.
std::string client_text(std::string_view text, std::size_t max_length = 200);

}  // namespace enrolld::log
