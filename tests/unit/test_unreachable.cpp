#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "net/curl_multi.hpp"
#include "net/event_loop.hpp"
#include "steps/tls_http.hpp"
#include "support/net_fixture.hpp"
#include "support/reports.hpp"
#include "support/run_command.hpp"
#include "support/temp_dir.hpp"
#include "support/skip.hpp"

using namespace probe;
using nlohmann::json;
using probe::test::NetFixture;
using probe::test::only_report;
using probe::test::read_file;
using probe::test::run_command;
using probe::test::TempDir;

TEST_CASE("a handshake with a server that does not speak TLS is ssl_failed_handshake", "[steps]") {
  NetFixture fixture;
  EventLoop loop;
  CurlMulti multi(loop);
  TransferRequest request;
  request.kind = Kind::https;
  request.host = "good.test";
  request.address = "127.0.0.1";
  request.port = fixture.port("plaintext_reply");  // answers the ClientHello with a plain HTTP 400
  request.connect_timeout = Millis(2000);
  request.ca_bundle = fixture.ca_file();
  TransferResult result;
  start_transfer(multi, request, EventLoop::now(), [&](TransferResult r) { result = std::move(r); });
  loop.run();
  REQUIRE(result.tls);
  REQUIRE(result.tls->failure);
  CHECK(result.tls->failure->str() == "ssl_failed_handshake");
  CHECK_FALSE(result.http);
}

TEST_CASE("no route is network_unreachable, an unanswered neighbour host_unreachable", "[engine][netns]") {
  if (geteuid() != 0) {
    PROBE_SKIP("a network namespace needs root");
  }
  TempDir dir;
  const std::string out = (dir.path() / "reports").string();
  // In a namespace of our own: a link whose /24 has nobody on it (ARP goes unanswered, the kernel
  // gives up after about 3 s: EHOSTUNREACH), and no route at all for 192.0.2.0/24 (ENETUNREACH).
  const std::string command =
      "ip link set lo up && ip link add h0 type veth peer name h1 && ip link set h0 up && ip link set h1 up && "
      "ip addr add 10.254.0.1/24 dev h0 && exec " + std::string(PROBE_BINARY) +
      " -q run --url tcp://10.254.0.99:80 --url tcp://192.0.2.1:80 --no-system-resolver --resolver 10.254.0.53"
      " --allow-bogon 10.254.0.0/16 --allow-bogon 192.0.2.0/24 --timeout 8 --out " + out;
  const auto result = run_command({"unshare", "-n", "sh", "-c", command});
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  const auto report_path = only_report(out);
  const json report = json::parse(read_file(report_path));
  std::map<std::string, std::string> failures;
  for (const auto& target : report["results"]) {
    failures[target["host"]] = target["paths"]["direct"]["endpoints"][0]["tcp"]["failure"];
  }
  CHECK(failures["10.254.0.99"] == "host_unreachable");
  CHECK(failures["192.0.2.1"] == "network_unreachable");
}
