#include "core/clock.hpp"

#include <ctime>

namespace probe {

namespace {
std::string format_utc(SystemTime time, const char* pattern) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char buffer[64];
  const std::size_t length = std::strftime(buffer, sizeof buffer, pattern, &parts);
  return std::string(buffer, length);
}
}  // namespace

std::string format_rfc3339_utc(SystemTime time) { return format_utc(time, "%Y-%m-%dT%H:%M:%SZ"); }

std::string format_compact_utc(SystemTime time) { return format_utc(time, "%Y%m%dT%H%M%SZ"); }

}  // namespace probe
