#pragma once

#include <string>
#include <string_view>

namespace probe {

// Lowercases ASCII letters only, whatever the locale: DNS names, URL schemes, header names and
// error texts are compared case-insensitively as ASCII, never as the user's language.
inline std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

}  // namespace probe
