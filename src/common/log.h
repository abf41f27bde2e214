#pragma once
// Logging through spdlog: one line per event with "key=value" fields and the transaction id
// where known. Secrets (MAC secrets, PINs, private keys) are never passed to the logger.

#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace enrolld::log {

// Sets up the process-wide logger on stdout (journald picks it up under systemd).
// `level` is one of trace, debug, info, warn, error; an unknown name means "info".
void init(std::string_view level);

// Text a client chose, made safe for one log line: control characters become '?', and it is
// cut at `max_length` bytes, so a client can neither forge lines nor flood the log.
std::string client_text(std::string_view text, std::size_t max_length = 200);

}  // namespace enrolld::log
