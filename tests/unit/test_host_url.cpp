#include <catch2/catch.hpp>

#include "targets/host.hpp"
#include "targets/url.hpp"

using namespace probe;

TEST_CASE("host names and IP literals", "[host]") {
  CHECK_FALSE(host_problem("chat.signal.org"));
  CHECK_FALSE(host_problem("xn--80ak6aa92e.com"));
  CHECK_FALSE(host_problem("_sip._udp.example.org"));
  CHECK_FALSE(host_problem("192.0.2.1"));
  CHECK_FALSE(host_problem("2001:db8::1"));
  CHECK_FALSE(host_problem("localhost"));
  CHECK(host_problem("") == "empty host");
  CHECK(host_problem("exa mple.com") == "character ' ' not allowed in a host name");
  CHECK(host_problem("example.com.") == "host name ends with a dot (write it without the trailing dot)");
  CHECK(host_problem("a..b") == "empty label in host name");
  CHECK(host_problem("-a.b") == "label '-a' starts or ends with '-'");
  CHECK(host_problem(std::string(64, 'a') + ".org") == "label '" + std::string(64, 'a') + "' longer than 63 characters");
  CHECK(host_problem(std::string(250, 'a') + ".org") == "host name longer than 253 characters");
  CHECK(host_problem("1.2.3.4.5") == "not a valid IP address, and a host name cannot end in an all-numeric label");
  CHECK(host_problem("999.1.1.1").has_value());
  CHECK(host_problem("[2001:db8::1]").has_value());
  CHECK(lowercase("WWW.Example.ORG") == "www.example.org");
}

TEST_CASE("a NUL byte ends no host: text after it is not ignored", "[host]") {
  // inet_pton stops at the NUL, so this once passed as the address 192.0.2.7.
  const std::string host("192.0.2.7\0evil.example", 22);
  CHECK_FALSE(is_ip_literal(host));
  CHECK(host_problem(host).has_value());
  CHECK(host_problem(std::string("2001:db8::1\0", 12)).has_value());
  std::string problem;
  CHECK_FALSE(parse_target_url("https://" + host + "/", &problem));
}

TEST_CASE("target URLs", "[url]") {
  std::string problem;
  auto url = parse_target_url("HTTPS://WWW.Example.org/a/b?c=d#frag", &problem);
  REQUIRE(url);
  CHECK(url->kind == Kind::https);
  CHECK(url->host == "www.example.org");
  CHECK(url->port == 443);
  CHECK(url->path == "/a/b?c=d");

  url = parse_target_url("http://[2001:db8::1]:8080", &problem);
  REQUIRE(url);
  CHECK(url->host == "2001:db8::1");
  CHECK(url->port == 8080);
  CHECK(url->path == "/");

  url = parse_target_url("tls://chat.signal.org:443", &problem);
  REQUIRE(url);
  CHECK(url->kind == Kind::tls);

  url = parse_target_url("http://example.org?q", &problem);
  REQUIRE(url);
  CHECK(url->path == "/?q");

  const auto rejected = [&](const std::string& text) {
    problem.clear();
    CHECK_FALSE(parse_target_url(text, &problem));
    return problem;
  };
  CHECK(rejected("example.org") == "not a URL (expected scheme://host, e.g. https://example.org/)");
  CHECK(rejected("ftp://example.org/") == "unsupported scheme 'ftp' (use http, https, tls, tcp or stun)");
  CHECK(rejected("dns://example.org") == "unsupported scheme 'dns' (use http, https, tls, tcp or stun)");
  CHECK(rejected("https://user:pw@example.org/") == "user names and passwords are not allowed in target URLs");
  CHECK(rejected("https://example.org:0/") == "port '0' is not a number from 1 to 65535");
  CHECK(rejected("https://example.org:70000/") == "port '70000' is not a number from 1 to 65535");
  CHECK(rejected("https://example.org:/") == "empty port after ':'");
  CHECK(rejected("https://exa mple.org/") == "character ' ' not allowed in a host name");
  CHECK(rejected("tcp://example.org") == "a tcp:// URL needs a port");
  CHECK(rejected("tls://example.org:443/x") == "a tls:// URL cannot have a path");
  CHECK(rejected("https://[2001:db8::1/") == "unclosed '[' in IPv6 address");
  // Without brackets, the last group could be a port or part of the address.
  const std::string k_brackets = "an IPv6 address needs brackets: [ADDRESS] or [ADDRESS]:PORT";
  CHECK(rejected("https://2001:db8::1:2/") == k_brackets);
  CHECK(rejected("tcp://2001:db8::1:443") == k_brackets);
  CHECK(rejected("https://2001:db8::1/") == k_brackets);
  CHECK(rejected("https://::1") == k_brackets);
  // curl refuses these URLs: such a target could never be measured.
  const std::string k_bad_path = "spaces and control characters are not allowed in the path (percent-encode them)";
  CHECK(rejected("https://example.org/a b") == k_bad_path);
  CHECK(rejected("https://example.org/?q=a b") == k_bad_path);
  CHECK(rejected("https://example.org/a\tb") == k_bad_path);
  CHECK(rejected("http://example.org/a\nGET /x") == k_bad_path);
  CHECK(rejected("https://example.org/a\x7F") == k_bad_path);
  CHECK(rejected(std::string("https://example.org/a\0b", 23)) == k_bad_path);
  CHECK(parse_target_url("https://example.org/a%20b#not part of the path", &problem));
  CHECK(parse_target_url("https://example.org/caf\xC3\xA9", &problem));
}
