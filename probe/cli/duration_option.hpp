#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "core/duration.hpp"

namespace probe {

// Checks a flag's value with parse_duration: a bad one is a usage error (exit 64) that names the
// flag, e.g. "--every: '6x': expected a whole number and a unit, ...".
inline CLI::Validator duration_validator() {
  return CLI::Validator(
      [](std::string& value) {
        std::string problem;
        return parse_duration(value, &problem) ? std::string() : "'" + value + "': " + problem;
      },
      "");
}

}  // namespace probe
