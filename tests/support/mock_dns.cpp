#include "support/mock_dns.hpp"

#include <charconv>
#include <stdexcept>

namespace probe::test {

namespace {

constexpr auto k_start_timeout = std::chrono::seconds(5);
constexpr std::size_t k_max_port_line = 64;

std::uint16_t parse_port(const std::string& line) {
  unsigned value = 0;
  const char* end = line.data() + line.size();
  const auto [stop, error] = std::from_chars(line.data(), end, value);
  if (error != std::errc{} || stop != end || value == 0 || value > 65535) {
    throw std::runtime_error("mock_dns printed \"" + line + "\" instead of a port");
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace

MockDns::MockDns(std::string ip, std::uint16_t port) : m_ip(std::move(ip)), m_process("mock_dns on " + m_ip) {
  const auto& line = m_process.start({MOCK_DNS_BINARY, "--address", m_ip, "--port", std::to_string(port)},
                                     k_start_timeout, k_max_port_line);
  try {
    m_port = parse_port(line);
  } catch (...) {
    m_process.kill();
    throw;
  }
  m_process.set_name("mock_dns on port " + std::to_string(m_port));
}

std::string MockDns::address() const { return m_ip + ":" + std::to_string(m_port); }

}  // namespace probe::test
