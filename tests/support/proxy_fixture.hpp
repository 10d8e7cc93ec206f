#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "support/fixture_process.hpp"

namespace probe::test {

// Runs tests/fixtures/proxy_fixture for as long as the object lives: one loopback process with a
// port per SOCKS5 or HTTP CONNECT behaviour (socks_ok, socks_auth, socks_reply_05, http_407,
// blackhole, ...; the table is at the top of fixtures/proxy_fixture.cpp). Its relays reach only
// loopback destinations, e.g. the ports of a NetFixture.
//
// The server is tied to the thread that creates the object: it is sent SIGTERM if that thread
// exits, which is what keeps a crashed test from leaving it running.
class ProxyFixture {
public:
  // The credentials socks_auth and http_auth accept.
  static constexpr const char* k_user = "u";
  static constexpr const char* k_password = "p w:%";

  // Throws std::runtime_error when the server cannot be started or prints no ports within 10 s.
  ProxyFixture();
  ProxyFixture(const ProxyFixture&) = delete;
  ProxyFixture& operator=(const ProxyFixture&) = delete;
  ProxyFixture(ProxyFixture&&) = delete;
  ProxyFixture& operator=(ProxyFixture&&) = delete;

  // The port serving behaviour `name` on 127.0.0.1; throws std::out_of_range for unknown names.
  std::uint16_t port(const std::string& name) const;

private:
  FixtureProcess m_process;
  std::map<std::string, std::uint16_t> m_ports;
};

}  // namespace probe::test
