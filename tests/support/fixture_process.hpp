#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace probe::test {

// One run of a fixture program (tests/fixtures/) for as long as the object lives. The fixtures
// announce themselves with a first line on stdout (their ports), so start() returns that line;
// the destructor sends SIGTERM, then SIGKILL after a grace time, and warns on stderr when the
// program did not exit with status 0.
//
// The program is tied to the thread that calls start(): it is sent SIGTERM if that thread exits,
// which is what keeps a crashed test from leaving it running.
class FixtureProcess {
public:
  // `name` stands for the program in error messages and in the exit warning.
  explicit FixtureProcess(std::string name);
  ~FixtureProcess();
  FixtureProcess(const FixtureProcess&) = delete;
  FixtureProcess& operator=(const FixtureProcess&) = delete;
  FixtureProcess(FixtureProcess&&) = delete;
  FixtureProcess& operator=(FixtureProcess&&) = delete;

  // Runs argv[0] (a path, not looked up in PATH) with stdin on /dev/null and returns its first
  // line of stdout without the newline. Throws std::runtime_error, with the program killed, when
  // that line does not come within `timeout`, grows past `max_line` bytes, or the program exits
  // first. Call it once.
  const std::string& start(const std::vector<std::string>& argv, std::chrono::seconds timeout, std::size_t max_line);
  const std::string& first_line() const { return m_first_line; }

  // For a first line the caller cannot use: the program is killed at once, and no warning follows.
  void kill();

  // Renames the program for the exit warning, e.g. with the port it turned out to serve on.
  void set_name(std::string name) { m_name = std::move(name); }

private:
  std::string m_name;
  pid_t m_pid = -1;
  std::string m_first_line;
};

}  // namespace probe::test
