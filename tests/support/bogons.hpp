#pragma once

#include <string>

#include "dns/bogon.hpp"

namespace probe::test {

// The mock DNS server answers from documentation ranges (192.0.2.0/24, 198.18.0.0/15,
// 2001:db8::/32), as the lab does; a lab run allows them, and so do the tests that ask it.
inline BogonTable lab_bogons() {
  std::string problem;
  return BogonTable({*parse_cidr("192.0.2.0/24", &problem), *parse_cidr("198.18.0.0/15", &problem),
                     *parse_cidr("2001:db8::/32", &problem)});
}

}  // namespace probe::test
