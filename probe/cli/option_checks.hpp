#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <CLI/CLI.hpp>

namespace probe {

// A real number given on the command line or in a config file must be finite. CLI11's Range lets
// "nan" through (every comparison with NaN is false): a NaN timeout became INT_MIN milliseconds
// and a run that never ends. Checked beside the Range, as a usage error (exit 64) naming the
// flag, or the file and the key.
inline CLI::Validator finite_number() {
  return CLI::Validator(
      [](std::string& value) {
        const char* begin = value.c_str();
        char* end = nullptr;
        const double number = std::strtod(begin, &end);
        if (end != begin && *end == '\0' && !std::isfinite(number)) {
          return "'" + value + "' is not a finite number";
        }
        return std::string();  // anything else is the Range's to judge
      },
      "");
}

// A value that goes on the wire (a header): no control character, or CR LF would end the header
// and start the caller's own ("--user-agent $'x\r\nX-Injected: 1'"). A usage error (exit 64)
// naming the flag and the first such byte.
inline CLI::Validator no_control_characters() {
  return CLI::Validator(
      [](std::string& value) {
        for (std::size_t i = 0; i < value.size(); ++i) {
          const auto byte = static_cast<unsigned char>(value[i]);
          if (byte < 0x20 || byte == 0x7F) {
            char code[8];
            std::snprintf(code, sizeof code, "0x%02X", byte);
            return std::string("control character ") + code + " at byte " + std::to_string(i + 1) +
                   ": not allowed in a value sent on the wire";
          }
        }
        return std::string();
      },
      "");
}

}  // namespace probe
