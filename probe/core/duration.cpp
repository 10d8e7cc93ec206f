#include "core/duration.hpp"

#include <array>
#include <utility>

namespace probe {

namespace {

struct Unit {
  char suffix;
  long long seconds;
  const char* systemd;
};

// Largest first: formatting picks the largest unit that divides the value.
constexpr std::array<Unit, 4> k_units = {{{'d', 86400, "d"}, {'h', 3600, "h"}, {'m', 60, "min"}, {'s', 1, "s"}}};

std::optional<std::chrono::seconds> fail(std::string* problem, std::string reason) {
  if (problem != nullptr) {
    *problem = std::move(reason);
  }
  return std::nullopt;
}

std::pair<long long, const Unit*> largest_unit(std::chrono::seconds value) {
  for (const Unit& unit : k_units) {
    if (value.count() % unit.seconds == 0 && value.count() != 0) {
      return {value.count() / unit.seconds, &unit};
    }
  }
  return {0, &k_units.back()};
}

}  // namespace

std::optional<std::chrono::seconds> parse_duration(std::string_view text, std::string* problem) {
  const std::string expected = "expected a whole number and a unit, s, m, h or d (e.g. 90s, 30m, 6h, 1d)";
  if (text == "0") {
    return std::chrono::seconds(0);
  }
  if (text.size() < 2) {
    return fail(problem, expected);
  }
  const char suffix = text.back();
  const Unit* unit = nullptr;
  for (const Unit& candidate : k_units) {
    if (candidate.suffix == suffix) {
      unit = &candidate;
    }
  }
  if (unit == nullptr) {
    return fail(problem, expected);
  }
  long long number = 0;
  for (const char c : text.substr(0, text.size() - 1)) {
    if (c < '0' || c > '9') {
      return fail(problem, expected);
    }
    number = number * 10 + (c - '0');
    if (number * unit->seconds > k_max_duration.count()) {
      return fail(problem, "longer than " + format_duration(k_max_duration));
    }
  }
  return std::chrono::seconds(number * unit->seconds);
}

std::string format_duration(std::chrono::seconds value) {
  const auto [count, unit] = largest_unit(value);
  return std::to_string(count) + unit->suffix;
}

std::string format_systemd_span(std::chrono::seconds value) {
  const auto [count, unit] = largest_unit(value);
  return std::to_string(count) + unit->systemd;
}

}  // namespace probe
