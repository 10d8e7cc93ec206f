#include "support/net_fixture.hpp"

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace probe::test {

namespace {

// Key and certificate generation happen before the line is printed; under a sanitizer build on a
// loaded machine that can take a while, hence more than mock_dns gets.
constexpr auto k_start_timeout = std::chrono::seconds(10);
// The line holds about fifteen "name":port pairs; anything this long is not it.
constexpr std::size_t k_max_line = 64 * 1024;

std::map<std::string, std::uint16_t> parse_ports(const std::string& line) {
  const auto fail = [&line]() -> std::runtime_error {
    return std::runtime_error("net_fixture printed \"" + line + "\" instead of a JSON object of ports");
  };
  const auto json = nlohmann::json::parse(line, nullptr, false);
  if (!json.is_object() || json.empty()) {
    throw fail();
  }
  std::map<std::string, std::uint16_t> ports;
  for (const auto& [name, value] : json.items()) {
    if (!value.is_number_unsigned() || value.get<std::uint64_t>() == 0 || value.get<std::uint64_t>() > 65535) {
      throw fail();
    }
    ports.emplace(name, static_cast<std::uint16_t>(value.get<std::uint64_t>()));
  }
  return ports;
}

}  // namespace

NetFixture::NetFixture() : m_process("net_fixture in " + m_dir.path().string()) {
  const auto& line = m_process.start({NET_FIXTURE_BINARY, "--dir", m_dir.path().string()}, k_start_timeout, k_max_line);
  try {
    m_ports = parse_ports(line);
  } catch (...) {
    m_process.kill();
    throw;
  }
}

std::uint16_t NetFixture::port(const std::string& name) const {
  const auto it = m_ports.find(name);
  if (it == m_ports.end()) {
    throw std::out_of_range("net_fixture has no behaviour called \"" + name + "\"");
  }
  return it->second;
}

std::string NetFixture::ca_file() const { return (m_dir.path() / "ca.pem").string(); }

}  // namespace probe::test
