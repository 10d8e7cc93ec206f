#pragma once

#include <cstddef>
#include <string>
#include <string_view>
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

struct MeasuredRun {
  CommandResult result;   // exit code 137 when it ran past its time and was killed
  double seconds = 0;     // from the spawn to the exit
  std::size_t peak_kib = 0;  // the peak resident set of the command (ru_maxrss), in KiB
};

// Runs a program (no shell) under tests/fixtures/peak_rss, which measures its peak memory and
// kills it (SIGKILL) after `limit_seconds`.
MeasuredRun run_measured(const std::vector<std::string>& args, unsigned limit_seconds);

struct SampledRun {
  bool exited = false;  // false when killed by a signal
  int exit_code = -1;   // 128 + signal when killed by a signal
  double seconds = 0;   // from the spawn to the exit
  // Thread counts of the process, sampled every 20 ms while it runs; 0 when no sample was taken.
  std::size_t first_threads = 0;
  std::size_t max_threads = 0;
};

// Runs a program (looked up in PATH, stdout to /dev/null, stderr inherited) and samples how many
// threads it has until it exits. With a `process_name`, samples count only once the process has
// that name (/proc/PID/comm), e.g. after a wrapper such as `unshare ... sh -c 'exec probe'` has
// exec'd it. Throws std::runtime_error when the program cannot be started.
SampledRun run_sampling_threads(const std::vector<std::string>& args, std::string_view process_name = {});

}  // namespace probe::test
