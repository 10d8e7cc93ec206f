#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "support/fixture_process.hpp"
#include "support/temp_dir.hpp"

namespace probe::test {

// Runs tests/fixtures/net_fixture for as long as the object lives: one loopback process with a
// port per TCP/TLS/HTTP/STUN misbehaviour (closed, reset_after_hello, expired, stun_wrong_id, ...;
// the table is at the top of fixtures/net_fixture.cpp). Its certificates come from a test CA made
// afresh for each instance, so trust it through ca_file() and nothing else.
//
// The server is tied to the thread that creates the object: it is sent SIGTERM if that thread
// exits, which is what keeps a crashed test from leaving it running.
class NetFixture {
public:
  // Throws std::runtime_error when the server cannot be started or prints no ports within 10 s.
  NetFixture();
  NetFixture(const NetFixture&) = delete;
  NetFixture& operator=(const NetFixture&) = delete;
  NetFixture(NetFixture&&) = delete;
  NetFixture& operator=(NetFixture&&) = delete;

  // The port serving behaviour `name` on 127.0.0.1; throws std::out_of_range for unknown names.
  std::uint16_t port(const std::string& name) const;
  // PEM file of the test CA that issued every certificate but the untrusted one.
  std::string ca_file() const;

private:
  TempDir m_dir;  // declared first so it outlives the server writing into it
  FixtureProcess m_process;
  std::map<std::string, std::uint16_t> m_ports;
};

}  // namespace probe::test
