#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "steps/stun.hpp"

namespace {

// A Binding Success Response (transaction id 0x01..0x0c) with the given attributes.
std::vector<unsigned char> response(const std::vector<unsigned char>& attributes) {
  std::vector<unsigned char> out = {0x01, 0x01, 0, static_cast<unsigned char>(attributes.size()), 0x21, 0x12, 0xA4, 0x42};
  for (unsigned char i = 1; i <= 12; ++i) {
    out.push_back(i);
  }
  out.insert(out.end(), attributes.begin(), attributes.end());
  return out;
}

}  // namespace

TEST_CASE("STUN: the mapped address comes from XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS", "[stun]") {
  // 203.0.113.7 XOR 0x2112A442 = 0xEA12D545
  const auto xor_v4 = response({0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0x11, 0x2b, 0xEA, 0x12, 0xD5, 0x45});
  CHECK(probe::stun_mapped_address(xor_v4.data(), xor_v4.size()) == "203.0.113.7");
  const auto plain = response({0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0x30, 0x39, 198, 51, 100, 9});
  CHECK(probe::stun_mapped_address(plain.data(), plain.size()) == "198.51.100.9");
  // An unknown attribute with padding first, then both: XOR-MAPPED-ADDRESS wins.
  auto both = response({0x80, 0x22, 0x00, 0x03, 'a', 'b', 'c', 0x00,
                        0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0x30, 0x39, 198, 51, 100, 9,
                        0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0x11, 0x2b, 0xEA, 0x12, 0xD5, 0x45});
  CHECK(probe::stun_mapped_address(both.data(), both.size()) == "203.0.113.7");
  // IPv6: 2001:db8::1 XOR (cookie + transaction id).
  std::vector<unsigned char> v6 = {0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0x11, 0x2b};
  const unsigned char address[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  const unsigned char mask[16] = {0x21, 0x12, 0xA4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  for (int i = 0; i < 16; ++i) {
    v6.push_back(static_cast<unsigned char>(address[i] ^ mask[i]));
  }
  const auto xor_v6 = response(v6);
  CHECK(probe::stun_mapped_address(xor_v6.data(), xor_v6.size()) == "2001:db8::1");
}

TEST_CASE("STUN: no or damaged address attributes give nothing, never a read past the end", "[stun]") {
  const auto empty = response({});
  CHECK_FALSE(probe::stun_mapped_address(empty.data(), empty.size()).has_value());
  const auto cut = response({0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0x11, 0x2b, 0xEA, 0x12, 0xD5, 0x45});
  for (std::size_t n = 0; n < cut.size(); ++n) {
    CHECK_FALSE(probe::stun_mapped_address(cut.data(), n).has_value());
  }
  const auto lying = response({0x00, 0x20, 0x00, 0x40, 0x00, 0x01, 0x11, 0x2b, 0xEA, 0x12, 0xD5, 0x45});
  CHECK_FALSE(probe::stun_mapped_address(lying.data(), lying.size()).has_value());
  const auto family = response({0x00, 0x20, 0x00, 0x08, 0x00, 0x07, 0x11, 0x2b, 0xEA, 0x12, 0xD5, 0x45});
  CHECK_FALSE(probe::stun_mapped_address(family.data(), family.size()).has_value());
}
