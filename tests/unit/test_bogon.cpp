#include <catch2/catch.hpp>

#include "dns/bogon.hpp"

using namespace probe;

TEST_CASE("special-purpose addresses are bogons", "[bogon]") {
  const BogonTable table;
  for (const char* address : {"10.1.2.3", "127.0.0.1", "192.168.1.1", "172.16.0.1", "172.31.255.255", "169.254.1.1",
                              "100.64.0.1", "0.0.0.0", "192.0.2.1", "198.18.0.1", "224.0.0.1", "255.255.255.255",
                              "::1", "::", "fd00::1", "fe80::1", "2001:db8::1", "ff02::1", "::ffff:10.0.0.1"}) {
    INFO(address);
    CHECK(table.is_bogon(address));
  }
  for (const char* address : {"8.8.8.8", "172.32.0.1", "157.240.1.35", "2a03:2880:f10c:83:face:b00c:0:25de",
                              "::ffff:8.8.8.8", "not an address"}) {
    INFO(address);
    CHECK_FALSE(table.is_bogon(address));
  }
}

TEST_CASE("allowed ranges (--allow-bogon) exempt addresses", "[bogon]") {
  std::string problem;
  const auto lab = parse_cidr("10.77.0.0/16", &problem);
  const auto v6 = parse_cidr("fd00:77::/32", &problem);
  REQUIRE(lab);
  REQUIRE(v6);
  const BogonTable table({*lab, *v6});
  CHECK_FALSE(table.is_bogon("10.77.3.4"));
  CHECK(table.is_bogon("10.78.3.4"));
  CHECK_FALSE(table.is_bogon("fd00:77::5"));
  CHECK(table.is_bogon("fd00:78::5"));
}

TEST_CASE("CIDR parsing", "[bogon]") {
  std::string problem;
  const auto host = parse_cidr("192.0.2.7", &problem);
  REQUIRE(host);
  CHECK(host->prefix == 128);
  CHECK(host->contains(*parse_address("192.0.2.7")));
  CHECK_FALSE(host->contains(*parse_address("192.0.2.8")));
  const auto all = parse_cidr("0.0.0.0/0", &problem);
  REQUIRE(all);
  CHECK(all->contains(*parse_address("8.8.8.8")));
  CHECK_FALSE(all->contains(*parse_address("2001:db8::1")));  // IPv4 /0 covers IPv4 only
  CHECK_FALSE(parse_cidr("10.0.0.0/33", &problem));
  CHECK(problem == "'33' is not a prefix length from 0 to 32");
  CHECK_FALSE(parse_cidr("10.0.0.0/", &problem));
  CHECK_FALSE(parse_cidr("example.org/8", &problem));
  CHECK(problem == "'example.org' is not an IP address");
  CHECK_FALSE(parse_cidr("fd00::/129", &problem));
}
