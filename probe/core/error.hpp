#pragma once

#include <stdexcept>
#include <string>

namespace probe {

// An error meant for the user: its message is complete (file, line, field) and it carries the
// process exit code. Anything else that escapes to main() is a bug (exit 70).
class UserError : public std::runtime_error {
public:
  UserError(int exit_code, const std::string& message)
      : std::runtime_error(visible_nul(message)), m_exit_code(exit_code) {}
  int exit_code() const noexcept { return m_exit_code; }

private:
  // what() is a C string: a NUL quoted from the input would cut the message short there, so it
  // is written as "\0".
  static std::string visible_nul(const std::string& message) {
    std::string out;
    for (char c : message) {
      if (c == '\0') {
        out += "\\0";
      } else {
        out += c;
      }
    }
    return out;
  }

  int m_exit_code;
};

}  // namespace probe
