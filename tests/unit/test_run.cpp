#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "support/mock_dns.hpp"
#include "support/reports.hpp"
#include "support/run_command.hpp"
#include "support/temp_dir.hpp"
#include "support/skip.hpp"

using nlohmann::json;
using probe::test::MockDns;
using probe::test::only_report;
using probe::test::read_file;
using probe::test::run_command;
using probe::test::run_probe;
using probe::test::run_sampling_threads;
using probe::test::TempDir;
using probe::test::validates;

namespace {

std::string dns_list(const std::vector<std::string>& hosts) {
  json targets = json::array();
  for (const auto& host : hosts) {
    targets.push_back({{"host", host}, {"kind", "dns"}, {"purpose", "test"}, {"sources", {"test"}}});
  }
  return json{{"app", "test"}, {"reviewed", "2026-11-28"}, {"targets", targets}}.dump();
}

// "PREFIX.n0SUFFIX" ... "PREFIX.n{count-1}SUFFIX": distinct names whose first label picks
// mock_dns's behaviour.
std::vector<std::string> numbered_hosts(const std::string& prefix, int count, const std::string& suffix) {
  std::vector<std::string> hosts;
  for (int i = 0; i < count; ++i) {
    hosts.push_back(prefix + ".n" + std::to_string(i) + suffix);
  }
  return hosts;
}

}  // namespace

TEST_CASE("probe run writes a valid report of DNS observations", "[run]") {
  MockDns server;
  TempDir dir;
  const auto list = dir.write("test.json", dns_list({"plain.test", "nxdomain.test", "servfail.test"}));
  const auto out = dir.path() / "reports";
  const auto result = run_probe({"run", "--targets", list.string(), "--out", out.string(), "--no-system-resolver",
                                 "--resolver", server.address(), "--timeout", "1", "--tries", "1",
                                 "--allow-bogon", "192.0.2.0/24", "--allow-bogon", "2001:db8::/32",
                                 "--vantage", "lab", "--cc", "ZZ"});
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  const auto report_path = only_report(out);
  CHECK(result.out == report_path.string() + "\n");
  CHECK(validates({report_path.string()}));
  const json report = json::parse(read_file(report_path));
  CHECK(report["vantage"]["id"] == "lab");
  CHECK(report["options"]["resolvers"] == json({server.address()}));
  CHECK(report["options"]["allow_bogon"] == json({"192.0.2.0/24", "2001:db8::/32"}));
  REQUIRE(report["results"].size() == 3);
  std::map<std::string, std::string> failures;
  for (const auto& target : report["results"]) {
    // A direct-only run never says blocked or down: without a control, DNS failures are no signature.
    CHECK(target["verdict"]["status"] == "inconclusive");
    for (const auto& query : target["paths"]["direct"]["queries"]) {
      failures[target["host"].get<std::string>() + " " + query["type"].get<std::string>()] =
          query["failure"].is_null() ? "none" : query["failure"].get<std::string>();
    }
  }
  CHECK(failures == std::map<std::string, std::string>{{"nxdomain.test A", "dns_nxdomain_error"},
                                                       {"nxdomain.test AAAA", "dns_nxdomain_error"},
                                                       {"plain.test A", "none"},
                                                       {"plain.test AAAA", "none"},
                                                       {"servfail.test A", "dns_servfail_error"},
                                                       {"servfail.test AAAA", "dns_servfail_error"}});
  CHECK(report["apps"]["test"]["unjudged"] == 0);
  CHECK(report["apps"]["test"]["inconclusive"] == 3);
}

TEST_CASE("system resolvers come from resolv.conf, labelled as such", "[run]") {
  if (geteuid() != 0) {
    PROBE_SKIP("resolv.conf has no port, and port 53 needs root");
  }
  // resolv.conf cannot name a port: serve on port 53 of a loopback address of our own.
  const std::string ip = "127.53." + std::to_string(getpid() % 250 + 1) + ".1";
  MockDns server(ip, 53);
  TempDir dir;
  const auto list = dir.write("test.json", dns_list({"plain.test"}));
  const auto conf = dir.write("resolv.conf", "nameserver " + ip + "\n");
  const auto out = dir.path() / "reports";
  const auto result = run_probe({"run", "--targets", list.string(), "--out", out.string(), "--resolv-conf",
                                 conf.string(), "--timeout", "1", "--allow-bogon", "192.0.2.0/24"});
  REQUIRE(result.exit_code == 0);
  const json report = json::parse(read_file(only_report(out)));
  const auto& query = report["results"][0]["paths"]["direct"]["queries"][0];
  CHECK(query["resolver"] == "system:" + server.address());
  CHECK(query["failure"] == nullptr);
}

TEST_CASE("500 names against a silent server finish in one timeout, on one thread", "[run][concurrency]") {
  MockDns server;
  TempDir dir;
  const auto list = dir.write("test.json", dns_list(numbered_hosts("silent", 500, ".test")));
  const std::string out = (dir.path() / "reports").string();
  const std::vector<std::string> args = {PROBE_BINARY, "run", "--targets", list.string(), "--out", out,
                                         "--no-system-resolver", "--resolver", server.address(), "--timeout", "2",
                                         "--tries", "1", "--concurrency", "1000", "-q"};
  // c-ares and the loop must not add any threads to the probe.
  const auto run = run_sampling_threads(args);
  REQUIRE(run.exited);
  CHECK(run.exit_code == 0);
  // One timeout, not one per name: every query was sent before the first could time out (the
  // report's own clock, so a slow process start, as in the sanitizer build, does not count), and
  // the whole run stays under two timeouts and a margin.
  CHECK(run.seconds < 2.0 * 2 + 2.0);
  CHECK(run.first_threads == 1);
  CHECK(run.max_threads == run.first_threads);
  const json report = json::parse(read_file(only_report(out)));
  REQUIRE(report["results"].size() == 500);
  double first_start = 1e9;
  double last_start = 0;
  for (const auto& target : report["results"]) {
    for (const auto& query : target["paths"]["direct"]["queries"]) {
      CHECK(query["failure"] == "generic_timeout_error");
      first_start = std::min(first_start, query["t0_ms"].get<double>());
      last_start = std::max(last_start, query["t0_ms"].get<double>());
    }
  }
  CHECK(last_start - first_start < 2000.0);
}

namespace {

// A run of 1000 names at --concurrency 1000 against a forwarder that holds 16 queries at once
// and drops the rest (mock_dns's "forward" names): how many of the 2000 queries got an answer.
std::size_t forwarder_burst_answered(const std::string& inflight, const std::string& tries) {
  MockDns server;
  TempDir dir;
  const auto list = dir.write("test.json", dns_list(numbered_hosts("forward", 1000, ".burst.test")));
  const std::string out = (dir.path() / "reports").string();
  const auto result = run_probe({"run", "--targets", list.string(), "--out", out, "--no-system-resolver", "--resolver",
                                 server.address(), "--timeout", "2", "--tries", tries, "--concurrency", "1000",
                                 "--resolver-inflight", inflight, "-q"});
  REQUIRE(result.exit_code == 0);
  const json report = json::parse(read_file(only_report(out)));
  CHECK(report["options"]["resolver_inflight"] == std::stoi(inflight));
  REQUIRE(report["results"].size() == 1000);
  std::size_t answered = 0;
  for (const auto& target : report["results"]) {
    for (const auto& query : target["paths"]["direct"]["queries"]) {
      answered += query["rcode"] == "NOERROR" ? 1 : 0;
    }
  }
  return answered;
}

}  // namespace

TEST_CASE("a burst of 1000 names at --concurrency 1000 is paced per resolver: a forwarder that drops "
          "past 16 at once answers every name",
          "[run][pacing]") {
  // The peer: unpaced (a window as wide as the burst), the forwarder drops most of it.
  const std::size_t unpaced = forwarder_burst_answered("1000", "1");
  CHECK(unpaced < 2000);
  // Under its limit from the start: every name answered, each on its first try.
  CHECK(forwarder_burst_answered("16", "1") == 2000);
  // Over its limit at first: the losses halve the window, and the names lost go again on the
  // second try, under the smaller window.
  CHECK(forwarder_burst_answered("64", "2") == 2000);
}

TEST_CASE("probe run with no network at all: every query failed, every target inconclusive with one reason",
          "[run][netns]") {
  if (geteuid() != 0) {
    PROBE_SKIP("unshare -n needs root");
  }
  TempDir dir;
  const auto out = dir.path() / "reports";
  // The shipped targets and the system's resolv.conf, in a network namespace with no interface up:
  // nothing can be sent anywhere.
  const auto result = run_command({"unshare", "-n", PROBE_BINARY, "run", "--targets",
                                   std::string(PROBE_SOURCE_DIR) + "/targets", "--out", out.string(),
                                   "--timeout", "1", "--tries", "1", "--resolver", "192.0.2.53"});
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  const auto report_path = only_report(out);
  CHECK(validates({report_path.string()}));
  const json report = json::parse(read_file(report_path));
  REQUIRE(report["results"].size() >= 30);
  std::size_t queries = 0;
  for (const auto& target : report["results"]) {
    for (const auto& query : target["paths"]["direct"]["queries"]) {
      ++queries;
      CHECK(query["failure"].is_string());
      CHECK(query["answers"].empty());
    }
  }
  CHECK(queries >= 2 * report["results"].size());
  // Offline is not blocked and not down: every verdict is inconclusive, with a one-line reason.
  for (const auto& target : report["results"]) {
    INFO(target["host"]);
    REQUIRE(target["verdict"].is_object());
    CHECK(target["verdict"]["status"] == "inconclusive");
    CHECK(target["verdict"]["method"].is_null());
    const std::string detail = target["verdict"]["detail"];
    CHECK_FALSE(detail.empty());
    CHECK(detail.find('\n') == std::string::npos);
    CHECK(detail.find("offline") != std::string::npos);
  }
  for (const auto& [app, counts] : report["apps"].items()) {
    CHECK(counts["inconclusive"] == counts["targets"]);
  }
}

TEST_CASE("run refuses bad options with exit 64, a missing input with 66, an unusable output folder with 73", "[run]") {
  TempDir dir;
  const auto file = dir.write("plain", "x");
  auto result = run_probe({"run", "--resolver", "dns.example", "--no-system-resolver"});
  CHECK(result.exit_code == 64);
  CHECK(result.err == "probe: error: --resolver 'dns.example': 'dns.example' is not an IP address (resolvers are given by address)\n");
  result = run_probe({"run", "--allow-bogon", "10.0.0.0/40"});
  CHECK(result.exit_code == 64);
  result = run_probe({"run", "--timeout", "0"});
  CHECK(result.exit_code == 64);
  result = run_probe({"run", "--cc", "Z1"});
  CHECK(result.exit_code == 64);
  for (const char* inflight : {"0", "1001", "nan", "-3", "8x"}) {
    INFO("--resolver-inflight " << inflight);
    result = run_probe({"run", "--resolver-inflight", inflight, "--resolver", "127.0.0.1:9", "--no-system-resolver"});
    CHECK(result.exit_code == 64);
    CHECK(result.err.find("--resolver-inflight") != std::string::npos);
  }
  result = run_probe({"run", "--no-system-resolver"});
  CHECK(result.exit_code == 64);
  result = run_probe({"run", "--resolv-conf", (dir.path() / "missing.conf").string()});
  CHECK(result.exit_code == 66);
  CHECK(result.err == "probe: error: " + (dir.path() / "missing.conf").string() +
                          ": cannot read: No such file or directory\n");
  result = run_probe({"run", "--out", (file / "sub").string(), "--resolver", "127.0.0.1:9", "--url",
                      "https://plain.test/", "--no-system-resolver"});
  CHECK(result.exit_code == 73);
}
