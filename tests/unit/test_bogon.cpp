#include <catch2/catch.hpp>

#include <vector>

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

// Every special-purpose range, by its edges: the first and last address inside, and the addresses
// just outside where no other range covers them. Written out here, not read from the table, so a
// range dropped from or narrowed in the table fails its row. (fe80::/10, fec0::/10 and ff00::/8
// adjoin: their shared edges are inside on both sides.)
TEST_CASE("every special-purpose range is a bogon from its first address to its last, and no further",
          "[bogon]") {
  struct Range {
    const char* cidr;
    std::vector<const char*> inside;
    std::vector<const char*> outside;
  };
  const std::vector<Range> ranges = {
      {"0.0.0.0/8", {"0.0.0.0", "0.255.255.255"}, {"1.0.0.0"}},
      {"10.0.0.0/8", {"10.0.0.0", "10.255.255.255"}, {"9.255.255.255", "11.0.0.0"}},
      {"100.64.0.0/10", {"100.64.0.0", "100.127.255.255"}, {"100.63.255.255", "100.128.0.0"}},
      {"127.0.0.0/8", {"127.0.0.0", "127.255.255.255"}, {"126.255.255.255", "128.0.0.0"}},
      {"169.254.0.0/16", {"169.254.0.0", "169.254.255.255"}, {"169.253.255.255", "169.255.0.0"}},
      {"172.16.0.0/12", {"172.16.0.0", "172.31.255.255"}, {"172.15.255.255", "172.32.0.0"}},
      {"192.0.0.0/24", {"192.0.0.0", "192.0.0.255"}, {"191.255.255.255", "192.0.1.0"}},
      {"192.0.2.0/24", {"192.0.2.0", "192.0.2.255"}, {"192.0.1.255", "192.0.3.0"}},
      {"192.88.99.0/24", {"192.88.99.0", "192.88.99.255"}, {"192.88.98.255", "192.88.100.0"}},
      {"192.168.0.0/16", {"192.168.0.0", "192.168.255.255"}, {"192.167.255.255", "192.169.0.0"}},
      {"198.18.0.0/15", {"198.18.0.0", "198.19.255.255"}, {"198.17.255.255", "198.20.0.0"}},
      {"198.51.100.0/24", {"198.51.100.0", "198.51.100.255"}, {"198.51.99.255", "198.51.101.0"}},
      {"203.0.113.0/24", {"203.0.113.0", "203.0.113.255"}, {"203.0.112.255", "203.0.114.0"}},
      {"224.0.0.0/4", {"224.0.0.0", "239.255.255.255"}, {"223.255.255.255"}},
      {"240.0.0.0/4", {"240.0.0.0", "255.255.255.255"}, {}},
      {"::/128", {"::"}, {}},
      {"::1/128", {"::1"}, {"::2"}},
      // The well-known NAT64 prefix 64:ff9b::/96 carries public IPv4 addresses: not a bogon.
      {"64:ff9b:1::/48", {"64:ff9b:1::", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff"}, {"64:ff9b::808:808", "64:ff9b:2::"}},
      {"100::/64", {"100::", "100::ffff:ffff:ffff:ffff"}, {"100:0:0:1::", "ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}},
      {"2001::/23", {"2001::", "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff"}, {"2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2001:200::"}},
      {"2001:db8::/32", {"2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"}, {"2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db9::"}},
      {"fc00::/7", {"fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}, {"fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe00::"}},
      {"fe80::/10", {"fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}, {"fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}},
      {"fec0::/10", {"fec0::", "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}, {}},
      {"ff00::/8", {"ff00::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}, {}},
  };
  CHECK(ranges.size() == 25);
  const BogonTable table;
  for (const Range& range : ranges) {
    INFO(range.cidr);
    for (const char* address : range.inside) {
      INFO(address << " is inside");
      CHECK(table.is_bogon(address));
    }
    for (const char* address : range.outside) {
      INFO(address << " is outside");
      CHECK_FALSE(table.is_bogon(address));
    }
  }
  // IPv4-mapped IPv6 addresses are judged by the IPv4 ranges.
  CHECK(table.is_bogon("::ffff:203.0.113.5"));
  CHECK(table.is_bogon("::ffff:100.64.0.1"));
  CHECK_FALSE(table.is_bogon("::ffff:203.0.114.5"));
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
