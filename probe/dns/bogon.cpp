#include "dns/bogon.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace probe {

bool Cidr::contains(const std::array<std::uint8_t, 16>& address) const {
  unsigned bits = prefix;
  for (std::size_t i = 0; i < 16 && bits > 0; ++i) {
    const unsigned take = bits >= 8 ? 8 : bits;
    const auto mask = static_cast<std::uint8_t>(0xFF << (8 - take));
    if ((address[i] & mask) != (bytes[i] & mask)) {
      return false;
    }
    bits -= take;
  }
  return true;
}

std::optional<std::array<std::uint8_t, 16>> parse_address(std::string_view text) {
  const std::string copy(text);
  std::array<std::uint8_t, 16> out{};
  in_addr v4{};
  if (inet_pton(AF_INET, copy.c_str(), &v4) == 1) {
    out[10] = 0xFF;
    out[11] = 0xFF;
    std::memcpy(out.data() + 12, &v4, 4);
    return out;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, copy.c_str(), &v6) == 1) {
    std::memcpy(out.data(), &v6, 16);
    return out;
  }
  return std::nullopt;
}

std::optional<Cidr> parse_cidr(std::string_view text, std::string* problem) {
  const auto slash = text.find('/');
  const std::string_view address_text = text.substr(0, slash);
  const auto address = parse_address(address_text);
  if (!address) {
    *problem = "'" + std::string(address_text) + "' is not an IP address";
    return std::nullopt;
  }
  const bool v4 = address_text.find(':') == std::string_view::npos;
  const unsigned max_bits = v4 ? 32 : 128;
  unsigned bits = max_bits;
  if (slash != std::string_view::npos) {
    const std::string_view bits_text = text.substr(slash + 1);
    const auto [end, ec] = std::from_chars(bits_text.data(), bits_text.data() + bits_text.size(), bits);
    if (bits_text.empty() || ec != std::errc() || end != bits_text.data() + bits_text.size() || bits > max_bits) {
      *problem = "'" + std::string(bits_text) + "' is not a prefix length from 0 to " + std::to_string(max_bits);
      return std::nullopt;
    }
  }
  Cidr cidr;
  cidr.bytes = *address;
  cidr.prefix = v4 ? bits + 96 : bits;
  cidr.text = std::string(text);
  return cidr;
}

namespace {
constexpr const char* k_special_ranges[] = {
    // IPv4
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    // IPv6 (IPv4-mapped addresses are checked through the IPv4 ranges above)
    "::/128", "::1/128", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "fc00::/7",
    "fe80::/10", "fec0::/10", "ff00::/8",
};
}  // namespace

BogonTable::BogonTable(std::vector<Cidr> allowed) : m_allowed(std::move(allowed)) {
  std::string problem;
  for (const char* text : k_special_ranges) {
    m_ranges.push_back(*parse_cidr(text, &problem));
  }
}

bool BogonTable::is_bogon(std::string_view address) const {
  const auto bytes = parse_address(address);
  if (!bytes) {
    return false;
  }
  for (const Cidr& allowed : m_allowed) {
    if (allowed.contains(*bytes)) {
      return false;
    }
  }
  for (const Cidr& range : m_ranges) {
    if (range.contains(*bytes)) {
      return true;
    }
  }
  return false;
}

}  // namespace probe
