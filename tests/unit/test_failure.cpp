#include <catch2/catch.hpp>

#include <set>

#include "core/failure.hpp"
#include "core/target.hpp"

using namespace probe;

TEST_CASE("failure strings are OONI's and round-trip", "[failure]") {
  std::set<std::string> seen;
  for (Failure failure : k_all_failures) {
    const std::string text(to_string(failure));
    CHECK(seen.insert(text).second);  // no two failures share a string
    REQUIRE(failure_from_string(text) == failure);
  }
  CHECK(seen.size() == 18);
  CHECK(to_string(Failure::generic_timeout_error) == "generic_timeout_error");
  CHECK(to_string(Failure::dns_nxdomain_error) == "dns_nxdomain_error");
  CHECK(to_string(Failure::ssl_unknown_authority) == "ssl_unknown_authority");
  CHECK_FALSE(failure_from_string("timeout"));
}

TEST_CASE("unknown_failure always carries a detail", "[failure]") {
  CHECK(FailureInfo{Failure::unknown_failure, "EPROTO"}.str() == "unknown_failure: EPROTO");
  CHECK(FailureInfo{Failure::unknown_failure, ""}.str() == "unknown_failure: no detail");
  CHECK(FailureInfo{Failure::connection_reset, "ignored"}.str() == "connection_reset");
}

TEST_CASE("kinds, default ports and URLs", "[target]") {
  for (Kind kind : k_all_kinds) {
    CHECK(kind_from_string(to_string(kind)) == kind);
  }
  CHECK(default_port(Kind::https) == 443);
  CHECK(default_port(Kind::tls) == 443);
  CHECK(default_port(Kind::http) == 80);
  CHECK(default_port(Kind::stun) == 3478);
  CHECK_FALSE(default_port(Kind::tcp));
  CHECK_FALSE(default_port(Kind::dns));

  Target web;
  web.host = "chat.signal.org";
  web.kind = Kind::https;
  web.port = 443;
  web.path = "/v1/x?y=1";
  CHECK(web.url() == "https://chat.signal.org/v1/x?y=1");
  web.port = 8443;
  CHECK(web.url() == "https://chat.signal.org:8443/v1/x?y=1");
  Target tls;
  tls.host = "2001:db8::1";
  tls.kind = Kind::tls;
  tls.port = 443;
  CHECK(tls.url() == "tls://[2001:db8::1]:443");
  Target dns;
  dns.host = "uptime.signal.org";
  dns.kind = Kind::dns;
  CHECK(dns.url().empty());
}
