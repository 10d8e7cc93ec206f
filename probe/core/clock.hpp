#pragma once

#include <chrono>
#include <string>

namespace probe {

using SystemTime = std::chrono::system_clock::time_point;

// "2026-11-28T18:10:46Z" (RFC 3339, UTC, whole seconds).
std::string format_rfc3339_utc(SystemTime time);
// "20261128T181046Z", used in report file names so that they sort by time.
std::string format_compact_utc(SystemTime time);

}  // namespace probe
