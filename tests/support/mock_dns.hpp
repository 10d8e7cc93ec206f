#pragma once

#include <cstdint>
#include <string>

#include "support/fixture_process.hpp"

namespace probe::test {

// Runs tests/fixtures/mock_dns for as long as the object lives: a loopback DNS server whose
// reply is chosen by the first label of the name asked for (nxdomain.test, silent.test, ...;
// the table is at the top of fixtures/mock_dns.cpp). Each instance is a separate process on its own
// port, so tests running in parallel do not see each other's queries.
//
// The server is tied to the thread that creates the object: it is sent SIGTERM if that thread
// exits, which is what keeps a crashed test from leaving it running.
class MockDns {
public:
  // Throws std::runtime_error when the server cannot be started or prints no port within 5 s.
  // `ip` is a loopback address (127.0.0.0/8); port 0 lets the server pick a free one.
  explicit MockDns(std::string ip = "127.0.0.1", std::uint16_t port = 0);
  MockDns(const MockDns&) = delete;
  MockDns& operator=(const MockDns&) = delete;
  MockDns(MockDns&&) = delete;
  MockDns& operator=(MockDns&&) = delete;

  std::uint16_t port() const { return m_port; }
  // "127.0.0.1:PORT", the form the probe takes for a resolver.
  std::string address() const;

private:
  std::string m_ip;  // declared first: the server is started with it
  FixtureProcess m_process;
  std::uint16_t m_port = 0;
};

}  // namespace probe::test
