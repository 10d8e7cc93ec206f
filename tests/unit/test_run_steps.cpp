#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <fstream>

#include <nlohmann/json.hpp>

#include "engine/engine.hpp"
#include "support/net_fixture.hpp"
#include "support/reports.hpp"
#include "support/run_command.hpp"
#include "support/temp_dir.hpp"
#include "support/skip.hpp"

using namespace probe;
using nlohmann::json;
using probe::test::count_entries;
using probe::test::NetFixture;
using probe::test::only_report;
using probe::test::read_file;
using probe::test::run_command;
using probe::test::run_sampling_threads;
using probe::test::TempDir;
using probe::test::validates;

namespace {

Target tcp_target(const std::string& address, std::uint16_t port) {
  Target target;
  target.app = "test";
  target.host = address;
  target.kind = Kind::tcp;
  target.port = port;
  return target;
}

// Shell commands that give a fresh network namespace a default route whose gateway is a
// permanent neighbour entry nobody answers for: every packet sent there leaves by a veth and is
// dropped by its peer (not its MAC address), so connects time out instead of failing fast.
const char* k_blackhole =
    "ip link set lo up && ip link add bh0 type veth peer name bh1 && ip link set bh0 up && "
    "ip link set bh1 up && ip addr add 10.255.0.1/24 dev bh0 && "
    "ip neigh add 10.255.0.2 lladdr 02:00:00:00:00:02 dev bh0 nud permanent && "
    "ip route add default via 10.255.0.2";

}  // namespace

TEST_CASE("the engine measures every endpoint of every target and gives its descriptors back", "[engine]") {
  NetFixture fixture;
  RunSettings settings;
  settings.timeout_ms = 1000;
  std::string problem;
  settings.allow_bogon = {*parse_cidr("127.0.0.0/8", &problem)};
  settings.ca_files = {fixture.ca_file()};
  std::vector<Target> targets = {tcp_target("127.0.0.1", fixture.port("closed")),
                                 tcp_target("127.0.0.1", fixture.port("silent"))};
  Target https = tcp_target("127.0.0.1", fixture.port("https"));
  https.kind = Kind::https;
  targets.push_back(https);
  Target stun = tcp_target("127.0.0.1", fixture.port("stun"));
  stun.kind = Kind::stun;
  targets.push_back(stun);
  Target bogon = tcp_target("10.1.2.3", 443);  // not allowed: listed, never connected to
  targets.push_back(bogon);

  const std::size_t fds_before = count_entries("/proc/self/fd");
  const auto results = measure(targets, settings, EventLoop::now());
  CHECK(count_entries("/proc/self/fd") == fds_before);
  REQUIRE(results.size() == 5);
  const auto& closed = results[0].paths.at("direct").endpoints.at(0);
  CHECK(closed.tcp->failure->str() == "connection_refused");
  CHECK_FALSE(closed.tls);
  CHECK_FALSE(results[1].paths.at("direct").endpoints.at(0).tcp->failure);
  const auto& web = results[2].paths.at("direct").endpoints.at(0);
  CHECK_FALSE(web.tcp->failure);
  REQUIRE(web.tls);
  CHECK_FALSE(web.tls->failure);  // the certificate has 127.0.0.1 among its names
  CHECK(web.tls->verified);
  REQUIRE(web.http);
  CHECK(web.http->status == 200);
  const auto& binding = results[3].paths.at("direct").endpoints.at(0);
  REQUIRE(binding.stun);
  CHECK_FALSE(binding.stun->failure);
  CHECK_FALSE(binding.tcp);
  const auto& skipped = results[4].paths.at("direct").endpoints.at(0);
  CHECK(skipped.not_tested.has_value());
  CHECK_FALSE(skipped.tcp);
}

TEST_CASE("300 addresses that never answer finish in one timeout, with no thread per target", "[engine][concurrency]") {
  if (geteuid() != 0) {
    PROBE_SKIP("a network namespace needs root");
  }
  TempDir dir;
  json targets = json::array();
  for (int i = 0; i < 300; ++i) {
    const std::string address = "198.18." + std::to_string(1 + i / 250) + "." + std::to_string(1 + i % 250);
    targets.push_back({{"host", address}, {"kind", "tls"}, {"purpose", "t"}, {"sources", {"t"}}});
  }
  const auto list = dir.write("t.json", json{{"app", "t"}, {"reviewed", "2026-11-28"}, {"targets", targets}}.dump());
  const std::string out = (dir.path() / "reports").string();
  const std::string command = std::string(k_blackhole) + " && exec " + PROBE_BINARY + " -q run --targets " +
                              list.string() + " --out " + out +
                              " --no-system-resolver --resolver 10.255.0.53 --timeout 2 --concurrency 1000 --tls-threads 2"
                              " --allow-bogon 198.18.0.0/15";
  const std::vector<std::string> args = {"unshare", "-n", "sh", "-c", command};
  // After exec the spawned process is the probe; only its threads count.
  const auto run = run_sampling_threads(args, "probe");
  REQUIRE(run.exited);
  REQUIRE(run.exit_code == 0);
  // One timeout, not one per target: every connect started before the first could time out (the
  // report's own clock, so a slow start of the process, as in the sanitizer build, does not
  // count), and the whole run, process start included, stays under two timeouts and a margin.
  CHECK(run.seconds < 2.0 * 2 + 2.0);
  CHECK(run.max_threads == 3);  // the loop and the 2 TLS threads asked for: none per target
  CHECK(validates({only_report(out).string()}));
  const json report = json::parse(read_file(only_report(out)));
  REQUIRE(report["results"].size() == 300);
  double first_start = 1e9;
  double last_start = 0;
  for (const auto& result : report["results"]) {
    const json& tcp = result["paths"]["direct"]["endpoints"][0]["tcp"];
    CHECK(tcp["failure"] == "generic_timeout_error");
    first_start = std::min(first_start, tcp["t0_ms"].get<double>());
    last_start = std::max(last_start, tcp["t0_ms"].get<double>());
  }
  CHECK(last_start - first_start < 2000.0);
}

TEST_CASE("50 handshakes read the CA store once per TLS thread, never /etc/ssl/certs, and start no thread per transfer",
          "[engine][ca]") {
  if (run_command({"strace", "-V"}).exit_code != 0) {
    PROBE_SKIP("strace is not installed");
  }
  NetFixture fixture;
  TempDir dir;
  json targets = json::array();
  for (int i = 0; i < 50; ++i) {
    targets.push_back({{"host", "127.0.0.1"}, {"kind", "https"}, {"port", fixture.port("https")},
                       {"path", "/?n=" + std::to_string(i)}, {"purpose", "t"}, {"sources", {"t"}}});
  }
  const auto list = dir.write("t.json", json{{"app", "t"}, {"reviewed", "2026-11-28"}, {"targets", targets}}.dump());
  const std::string trace = (dir.path() / "trace").string();
  const std::string out = (dir.path() / "reports").string();
  // LeakSanitizer cannot run under ptrace: turn it off for this one run of a sanitizer build.
  const auto result = run_command({"env", "ASAN_OPTIONS=detect_leaks=0", "strace", "-f", "-e", "trace=openat,clone,clone3", "-o", trace, PROBE_BINARY, "-q", "run",
                                   "--targets", list.string(), "--out", out, "--no-system-resolver", "--resolver",
                                   "127.0.0.1:9", "--allow-bogon", "127.0.0.0/8", "--ca-file", fixture.ca_file(),
                                   "--tls-threads", "2"});
  REQUIRE(result.exit_code == 0);
  CHECK(validates({only_report(out).string()}));
  const json report = json::parse(read_file(only_report(out)));
  int handshakes = 0;
  for (const auto& target : report["results"]) {
    const auto& tls = target["paths"]["direct"]["endpoints"][0]["tls"];
    handshakes += (tls.is_object() && tls["failure"].is_null()) ? 1 : 0;
  }
  CHECK(handshakes == 50);
  std::ifstream in(trace);
  std::string line;
  int bundle_reads = 0;
  int system_certs = 0;
  int threads_started = 0;
  while (std::getline(in, line)) {
    if (line.find("probe-ca-") != std::string::npos && line.find("O_RDONLY") != std::string::npos &&
        line.find("O_CREAT") == std::string::npos) {
      ++bundle_reads;
    }
    if (line.find("/etc/ssl/certs") != std::string::npos) {
      ++system_certs;
    }
    if (line.find("clone") != std::string::npos && line.find("resumed") == std::string::npos) {
      ++threads_started;  // curl's threaded resolver would start one per transfer
    }
  }
  // Each TLS thread's curl keeps its own cache of the store.
  CHECK(bundle_reads >= 1);
  CHECK(bundle_reads <= 2);
  CHECK(system_certs == 0);
  CHECK(threads_started == 2);
}
