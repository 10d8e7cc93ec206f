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

// An AS number as OONI's collector and pipeline read it: "AS" and the number, without leading
// zeros ("AS01234" would be read as AS 1234 by some tools and refused by others). Exit 64.
inline CLI::Validator asn_option() {
  return CLI::Validator(
      [](std::string& value) {
        const std::string digits = value.size() > 2 ? value.substr(2) : std::string();
        const bool ok = value.starts_with("AS") && !digits.empty() && digits.size() <= 10 &&
                        digits.find_first_not_of("0123456789") == std::string::npos &&
                        (digits == "0" || digits[0] != '0') && std::stoull(digits) <= 4294967295ULL;
        return ok ? std::string() : "'" + value + "' is not AS followed by a number without leading zeros";
      },
      "ASN");
}

// An ISO 3166-1 alpha-2 country code, taken in either case and kept upper-case (OONI's collector
// refuses lower case). Exit 64.
inline CLI::Validator cc_option() {
  return CLI::Validator(
      [](std::string& value) {
        const auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
        if (value.size() != 2 || !letter(value[0]) || !letter(value[1])) {
          return "'" + value + "' is not a two-letter country code";
        }
        for (char& c : value) {
          c = static_cast<char>(c >= 'a' ? c - 'a' + 'A' : c);
        }
        return std::string();
      },
      "CC");
}

}  // namespace probe
