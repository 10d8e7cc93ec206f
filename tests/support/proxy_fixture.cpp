#include "support/proxy_fixture.hpp"

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace probe::test {

namespace {

// Generous for a loaded machine running a sanitizer build; the fixture itself starts at once.
constexpr auto k_start_timeout = std::chrono::seconds(10);
// The line holds about forty "name":port pairs; anything this long is not it.
constexpr std::size_t k_max_line = 64 * 1024;

std::map<std::string, std::uint16_t> parse_ports(const std::string& line) {
  const auto fail = [&line]() -> std::runtime_error {
    return std::runtime_error("proxy_fixture printed \"" + line + "\" instead of a JSON object of ports");
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

ProxyFixture::ProxyFixture() : m_process("proxy_fixture") {
  const auto& line = m_process.start({PROXY_FIXTURE_BINARY}, k_start_timeout, k_max_line);
  try {
    m_ports = parse_ports(line);
  } catch (...) {
    m_process.kill();
    throw;
  }
}

std::uint16_t ProxyFixture::port(const std::string& name) const {
  const auto it = m_ports.find(name);
  if (it == m_ports.end()) {
    throw std::out_of_range("proxy_fixture has no behaviour called \"" + name + "\"");
  }
  return it->second;
}

}  // namespace probe::test
