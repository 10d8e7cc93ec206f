#include <catch2/catch.hpp>

#include <sys/stat.h>

#include "core/error.hpp"
#include "net/curl_path.hpp"
#include "path/egress.hpp"
#include "path/path.hpp"
#include "support/temp_dir.hpp"

using namespace probe;
using probe::test::TempDir;

namespace {

PathSpec parsed(const std::string& text) {
  std::string problem;
  auto spec = parse_control(text, &problem);
  INFO(text << ": " << problem);
  REQUIRE(spec);
  return *spec;
}

std::string problem_of(const std::string& text) {
  std::string problem;
  CHECK_FALSE(parse_control(text, &problem));
  return problem;
}

}  // namespace

TEST_CASE("control paths parse into kind, proxy address and port", "[path]") {
  auto spec = parsed("socks5h://127.0.0.1:9050");
  CHECK(spec.kind == PathKind::socks5h);
  CHECK(spec.proxy_address == "127.0.0.1");
  CHECK(spec.proxy_port == 9050);
  CHECK_FALSE(spec.has_credentials());
  CHECK(spec.display() == "socks5h://127.0.0.1:9050");

  spec = parsed("socks5://localhost:1080");
  CHECK(spec.kind == PathKind::socks5);
  CHECK(spec.proxy_address == "127.0.0.1");

  spec = parsed("http://[2001:db8::1]:8080/");
  CHECK(spec.kind == PathKind::http_proxy);
  CHECK(spec.proxy_address == "2001:db8::1");
  CHECK(spec.proxy_port == 8080);
  CHECK(spec.display() == "http://[2001:db8::1]:8080");

  spec = parsed("iface:wg0");
  CHECK(spec.kind == PathKind::interface);
  CHECK(spec.interface == "wg0");
  CHECK(spec.display() == "iface:wg0");
}

TEST_CASE("credentials in a control URL are decoded and never displayed", "[path]") {
  auto spec = parsed("socks5h://alice:s%3Acr%40t@10.0.0.1:1080");
  CHECK(spec.username == "alice");
  CHECK(spec.password == "s:cr@t");
  CHECK(spec.display() == "socks5h://10.0.0.1:1080");

  spec = parsed("http://bob@10.0.0.1:3128");
  CHECK(spec.username == "bob");
  CHECK(spec.password.empty());

  // A bad URL's message must not repeat the credentials either.
  const std::string problem = problem_of("socks5://alice:hunter2@proxy.example:1080");
  CHECK(problem.find("hunter2") == std::string::npos);
  CHECK(problem.find("alice") == std::string::npos);
  CHECK(problem.find("by IP address") != std::string::npos);
  CHECK(problem_of("socks5://alice:%zz@10.0.0.1:1080").find("%-escape") != std::string::npos);
}

TEST_CASE("a URL quoted in a message loses whatever stands before the last @ of its authority", "[path]") {
  CHECK(without_userinfo("socks5h://alice:pw@10.0.0.1:1080") == "socks5h://***@10.0.0.1:1080");
  CHECK(without_userinfo("socks5://alice:p@ss:w@rd@10.0.0.1:1080") == "socks5://***@10.0.0.1:1080");
  CHECK(without_userinfo("ftp://u:hunter2@10.0.0.1:21/x@y") == "ftp://***@10.0.0.1:21/x@y");
  CHECK(without_userinfo("alice:hunter2@10.0.0.1:1080") == "***@10.0.0.1:1080");  // no scheme
  CHECK(without_userinfo("https://u:p@dns.example/dns-query") == "https://***@dns.example/dns-query");
  CHECK(without_userinfo("socks5h://10.0.0.1:1080") == "socks5h://10.0.0.1:1080");
  CHECK(without_userinfo("iface:wg0") == "iface:wg0");
  CHECK(without_userinfo("") == "");
}

TEST_CASE("malformed control paths are refused with the reason", "[path]") {
  CHECK(problem_of("10.0.0.1:1080").find("expected socks5h://") != std::string::npos);
  CHECK(problem_of("https://10.0.0.1:443").find("unsupported proxy scheme 'https'") != std::string::npos);
  CHECK(problem_of("socks5://10.0.0.1").find("port is missing") != std::string::npos);
  CHECK(problem_of("socks5://10.0.0.1:0").find("not a number from 1 to 65535") != std::string::npos);
  CHECK(problem_of("socks5://10.0.0.1:70000").find("not a number from 1 to 65535") != std::string::npos);
  CHECK(problem_of("socks5://[2001:db8::1]1080").find("[IPV6]:PORT") != std::string::npos);
  CHECK(problem_of("iface:").find("not an interface name") != std::string::npos);
  CHECK(problem_of("iface:averyveryverylongname").find("not an interface name") != std::string::npos);
  CHECK(problem_of("iface:../etc").find("not an interface name") != std::string::npos);
}

TEST_CASE("proxy credentials from the environment or a private file fill paths without their own", "[path]") {
  std::vector<PathSpec> paths = {parsed("socks5h://10.0.0.1:1080"), parsed("http://u:p@10.0.0.2:3128"),
                                 parsed("iface:wg0")};
  apply_credentials(paths, "envuser:env:pass", "");
  CHECK(paths[0].username == "envuser");
  CHECK(paths[0].password == "env:pass");
  CHECK(paths[1].username == "u");  // the URL's own win
  CHECK_FALSE(paths[2].has_credentials());

  TempDir dir;
  const auto file = dir.write("auth", "fileuser:filepass\r\nignored\n");
  ::chmod(file.c_str(), 0600);
  paths = {parsed("socks5h://10.0.0.1:1080")};
  apply_credentials(paths, "envuser:x", file.string());  // the file wins over the environment
  CHECK(paths[0].username == "fileuser");
  CHECK(paths[0].password == "filepass");

  ::chmod(file.c_str(), 0640);
  try {
    apply_credentials(paths, nullptr, file.string());
    FAIL("a file the group can read was accepted");
  } catch (const UserError& error) {
    CHECK(error.exit_code() == 78);
    CHECK(std::string(error.what()).find("mode 640") != std::string::npos);
    CHECK(std::string(error.what()).find("filepass") == std::string::npos);
  }
  try {
    apply_credentials(paths, nullptr, (dir.path() / "missing").string());
    FAIL("a missing file was accepted");
  } catch (const UserError& error) {
    CHECK(error.exit_code() == 66);
  }
  const auto bad = dir.write("bad", "no-colon-here\n");
  ::chmod(bad.c_str(), 0600);
  try {
    apply_credentials(paths, nullptr, bad.string());
    FAIL("a file without USER:PASSWORD was accepted");
  } catch (const UserError& error) {
    CHECK(error.exit_code() == 65);
    CHECK(std::string(error.what()).find(":1: expected USER:PASSWORD") != std::string::npos);
    CHECK(std::string(error.what()).find("no-colon-here") == std::string::npos);
  }
  try {
    apply_credentials(paths, "nocolon", "");
    FAIL("a malformed PROBE_CONTROL_AUTH was accepted");
  } catch (const UserError& error) {
    CHECK(error.exit_code() == 64);
    CHECK(std::string(error.what()).find("nocolon") == std::string::npos);
  }
}

TEST_CASE("percent-decoding", "[path]") {
  CHECK(percent_decode("a%20b%2F") == std::optional<std::string>("a b/"));
  CHECK_FALSE(percent_decode("%"));
  CHECK_FALSE(percent_decode("%4"));
  CHECK_FALSE(percent_decode("%G0"));
}

TEST_CASE("egress: loopback routes by lo, an unknown device has no route", "[path]") {
  CHECK(egress_interface("127.0.0.1") == std::optional<std::string>("lo"));
  CHECK(egress_interface("127.0.0.1", "lo") == std::optional<std::string>("lo"));
  CHECK_FALSE(egress_interface("127.0.0.1", "nosuchdev0"));
  CHECK_FALSE(egress_interface("not an address"));
  CHECK(interface_exists("lo"));
  CHECK_FALSE(interface_exists("nosuchdev0"));
  CHECK_FALSE(is_tunnel_device("lo"));
  CHECK_FALSE(is_tunnel_device("../lo"));
}
