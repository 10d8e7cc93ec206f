#pragma once

#include <string>
#include <vector>

namespace probe::test {

struct CommandResult {
  int exit_code = -1;  // 128 + signal when killed by a signal
  std::string out;
  std::string err;
};

// Runs a program (no shell) with `args`, waits for it, and captures its output.
CommandResult run_command(const std::vector<std::string>& args);

// Runs the probe binary built alongside the tests.
CommandResult run_probe(const std::vector<std::string>& args);

}  // namespace probe::test
