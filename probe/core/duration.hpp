#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace probe {

// The longest duration accepted anywhere (--every, --jitter): a year is already absurd, and the
// cap keeps every computation on seconds far from overflow.
inline constexpr std::chrono::seconds k_max_duration{366LL * 24 * 3600};

// Parses a duration strictly: a whole number directly followed by one unit, `s`, `m`, `h` or `d`
// ("90s", "30m", "6h", "1d"); "0" alone is zero. No sign, no fraction, no space, no compound
// ("1h30m"). Returns nullopt, with the reason in *problem when given, for anything else.
std::optional<std::chrono::seconds> parse_duration(std::string_view text, std::string* problem);

// The shortest text parse_duration reads back as the same value: "30m", "6h", "90s", "0s".
std::string format_duration(std::chrono::seconds value);

// The same value as a systemd time span (systemd.time(7)): "30min", "6h", "90s", "1d".
std::string format_systemd_span(std::chrono::seconds value);

}  // namespace probe
