#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace probe {

// An IPv4 or IPv6 network. IPv4 is held as an IPv4-mapped IPv6 prefix so one comparison serves both.
struct Cidr {
  std::array<std::uint8_t, 16> bytes{};
  unsigned prefix = 0;  // in IPv6 bits (an IPv4 /8 is /104 here)
  std::string text;     // as written, for reports

  bool contains(const std::array<std::uint8_t, 16>& address) const;
};

// Parses "10.0.0.0/8", "fd00::/8" or a bare address (a /32 or /128). nullopt with `problem` set
// when the text is not a network.
std::optional<Cidr> parse_cidr(std::string_view text, std::string* problem);

// Parses an IPv4 or IPv6 literal into the mapped 16-byte form.
std::optional<std::array<std::uint8_t, 16>> parse_address(std::string_view text);

// Special-purpose addresses (RFC 6890 and friends: private, loopback, link-local, shared,
// documentation, benchmarking, multicast, reserved). A DNS answer in these ranges is a classic
// censorship signature, and the probe never connects to one unless the user allowed its range.
class BogonTable {
public:
  explicit BogonTable(std::vector<Cidr> allowed = {});
  // True for a special-purpose address that no --allow-bogon range exempts.
  bool is_bogon(std::string_view address) const;
  const std::vector<Cidr>& allowed() const { return m_allowed; }

private:
  std::vector<Cidr> m_ranges;
  std::vector<Cidr> m_allowed;
};

}  // namespace probe
