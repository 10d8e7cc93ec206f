#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace probe::test {

// A third-party server (microsocks, tinyproxy) run on a loopback port for as long as the object
// lives. Unlike the fixtures these print nothing we can wait for, so the constructor waits until
// the port accepts a connection. The destructor sends SIGTERM, then SIGKILL after a grace time.
//
// The program is tied to the thread that creates the object: it is sent SIGTERM if that thread
// exits, which is what keeps a crashed test from leaving it running.
class ServerProcess {
public:
  // Runs argv[0] (a path, not looked up in PATH) with stdin on /dev/null and stdout and stderr
  // appended to `log`. Throws std::runtime_error, with the program killed and the end of its log
  // in the message, when 127.0.0.1:`port` does not accept a connection within `timeout` or the
  // program exits first.
  ServerProcess(std::string name, const std::vector<std::string>& argv, std::uint16_t port,
                const std::filesystem::path& log, std::chrono::seconds timeout = std::chrono::seconds(10));
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ServerProcess(ServerProcess&&) = delete;
  ServerProcess& operator=(ServerProcess&&) = delete;

private:
  void stop();

  std::string m_name;
  pid_t m_pid = -1;
};

}  // namespace probe::test
