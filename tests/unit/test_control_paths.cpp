#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "engine/engine.hpp"
#include "report/report.hpp"
#include "verdict/verdict.hpp"
#include "support/mock_dns.hpp"
#include "support/net_fixture.hpp"
#include "support/ports.hpp"
#include "support/proxy_fixture.hpp"
#include "support/reports.hpp"
#include "support/run_command.hpp"
#include "support/temp_dir.hpp"
#include "support/skip.hpp"

using namespace probe;
using nlohmann::json;
using probe::test::MockDns;
using probe::test::NetFixture;
using probe::test::only_report;
using probe::test::ProxyFixture;
using probe::test::read_file;
using probe::test::run_probe;
using probe::test::TempDir;
using probe::test::validates;

namespace {

Target loopback_target(Kind kind, std::uint16_t port) {
  Target target;
  target.app = "test";
  target.host = "127.0.0.1";
  target.kind = kind;
  target.port = port;
  return target;
}

ControlSettings proxy_control(const std::string& name, PathKind kind, std::uint16_t port) {
  ControlSettings control;
  control.spec.name = name;
  control.spec.kind = kind;
  control.spec.proxy_address = "127.0.0.1";
  control.spec.proxy_port = port;
  control.timeout_ms = 2000;
  return control;
}

RunSettings loopback_settings(const NetFixture& fixture) {
  RunSettings settings;
  settings.timeout_ms = 2000;
  std::string problem;
  settings.allow_bogon = {*parse_cidr("127.0.0.0/8", &problem)};
  settings.ca_files = {fixture.ca_file()};
  return settings;
}

std::string failure_of(const std::optional<StepTiming>& step) {
  if (!step) {
    return "absent";
  }
  return step->failure ? step->failure->str() : "ok";
}

}  // namespace

TEST_CASE("every step runs over SOCKS5, HTTP CONNECT and an interface path as over direct", "[engine][control]") {
  NetFixture fixture;
  ProxyFixture proxies;
  RunSettings settings = loopback_settings(fixture);
  settings.controls = {proxy_control("control", PathKind::socks5h, proxies.port("socks_ok")),
                       proxy_control("control-2", PathKind::http_proxy, proxies.port("http_ok"))};
  ControlSettings iface;
  iface.spec.name = "control-3";
  iface.spec.kind = PathKind::interface;
  iface.spec.interface = "lo";
  iface.timeout_ms = 2000;
  settings.controls.push_back(iface);
  const std::vector<Target> targets = {loopback_target(Kind::https, fixture.port("https")),
                                       loopback_target(Kind::http, fixture.port("http")),
                                       loopback_target(Kind::stun, fixture.port("stun"))};
  const Measurement measured = measure_paths(targets, settings, EventLoop::now());
  REQUIRE(measured.paths.size() == 4);
  for (const char* name : {"direct", "control", "control-2", "control-3"}) {
    INFO("path " << name);
    const auto& https = measured.results[0].paths.at(name).endpoints.at(0);
    CHECK(failure_of(https.tcp) == "ok");
    CHECK(failure_of(https.tls) == "ok");
    REQUIRE(https.http);
    CHECK(https.http->status == 200);
    const auto& http = measured.results[1].paths.at(name).endpoints.at(0);
    CHECK(failure_of(http.tcp) == "ok");
    REQUIRE(http.http);
    CHECK(http.http->status == 200);
  }
  for (std::size_t k = 1; k < 4; ++k) {
    INFO("path " << measured.paths[k].name);
    CHECK(measured.paths[k].checked);
    CHECK_FALSE(measured.paths[k].check_failure);
    CHECK(measured.paths[k].healthy());
  }
  // UDP does not go through a proxy; it does go by an interface.
  CHECK(measured.results[2].paths.at("control").endpoints.at(0).not_tested == "UDP is not carried over a proxy path");
  CHECK(measured.results[2].paths.at("control-2").endpoints.at(0).not_tested.has_value());
  CHECK(failure_of(measured.results[2].paths.at("control-3").endpoints.at(0).stun) == "ok");
}

TEST_CASE("a proxy's word about the destination is the destination's failure, a dead proxy is proxy_error",
          "[engine][control]") {
  NetFixture fixture;
  ProxyFixture proxies;
  RunSettings settings = loopback_settings(fixture);
  settings.controls = {proxy_control("control", PathKind::socks5h, proxies.port("socks_ok")),
                       proxy_control("control-2", PathKind::socks5, proxies.port("socks_reply_04")),
                       proxy_control("control-3", PathKind::http_proxy, probe::test::free_tcp_port()),
                       proxy_control("control-4", PathKind::http_proxy, proxies.port("http_403"))};
  const std::vector<Target> targets = {loopback_target(Kind::tcp, fixture.port("closed")),
                                       loopback_target(Kind::tcp, fixture.port("silent"))};
  const Measurement measured = measure_paths(targets, settings, EventLoop::now());
  const auto tcp_on = [&](std::size_t target, const char* path) {
    return failure_of(measured.results[target].paths.at(path).endpoints.at(0).tcp);
  };
  CHECK(tcp_on(0, "direct") == "connection_refused");
  CHECK(tcp_on(0, "control") == "connection_refused");  // SOCKS reply 5 from a relay that tried
  CHECK(tcp_on(1, "control") == "ok");
  CHECK(tcp_on(0, "control-2") == "host_unreachable");  // SOCKS reply 4
  CHECK(tcp_on(0, "control-3") == "proxy_error");       // nobody listens where the proxy should
  CHECK(tcp_on(0, "control-4") == "proxy_error");       // the proxy forbids the CONNECT
  CHECK(measured.paths[1].healthy());
  CHECK_FALSE(measured.paths[2].check_failure);  // it handshakes; it only fails the destinations
  CHECK_FALSE(measured.paths[2].healthy());      // ... so it never carried a success
  REQUIRE(measured.paths[3].check_failure);
  CHECK(measured.paths[3].check_failure->str() == "proxy_error");
  CHECK_FALSE(measured.paths[3].healthy());
}

TEST_CASE("DNS over a proxy path goes over TCP through the tunnel to the control resolver", "[engine][control]") {
  NetFixture fixture;
  ProxyFixture proxies;
  MockDns control_dns;
  RunSettings settings = loopback_settings(fixture);
  settings.resolvers = {};  // the direct path asks nobody here: only the control path's DNS counts
  ControlSettings control = proxy_control("control", PathKind::socks5h, proxies.port("socks_ok"));
  control.resolvers = {*parse_resolver(control_dns.address(), nullptr)};
  settings.controls = {control};
  Target target;
  target.app = "test";
  target.host = "plain.test";
  target.kind = Kind::dns;
  const Measurement measured = measure_paths({target}, settings, EventLoop::now());
  const auto& queries = measured.results[0].paths.at("control").queries;
  REQUIRE(queries.size() == 2);
  for (const auto& query : queries) {
    INFO(query.type);
    CHECK(query.resolver == "tcp:" + control_dns.address());
    CHECK_FALSE((query.failure && query.failure->code == Failure::proxy_error));
    CHECK(query.rcode.has_value());
  }
  CHECK(measured.results[0].paths.at("direct").queries.empty());
}

TEST_CASE("probe run: control flags are checked before anything is measured", "[cli][control]") {
  TempDir dir;
  const std::string out = (dir.path() / "reports").string();
  const std::vector<std::string> base = {"run", "--url", "tcp://127.0.0.1:9", "--no-system-resolver", "--resolver",
                                         "127.0.0.1:9", "--out", out};
  const auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return run_probe(args);
  };
  auto result = with({"--control", "ftp://127.0.0.1:21"});
  CHECK(result.exit_code == 64);
  CHECK(result.err.find("--control 'ftp://127.0.0.1:21': unsupported proxy scheme 'ftp'") != std::string::npos);

  result = with({"--control", "iface:nosuchdev0"});
  CHECK(result.exit_code == 78);
  CHECK(result.err.find("iface:nosuchdev0: no such interface") != std::string::npos);

  result = with({"--control", "socks5h://127.0.0.1:1080", "--control-doh", "http://127.0.0.1/dns-query"});
  CHECK(result.exit_code == 64);
  CHECK(result.err.find("expected an https:// URL") != std::string::npos);

  const auto auth = dir.write("auth", "user:topsecret\n");
  ::chmod(auth.c_str(), 0644);
  result = with({"--control", "socks5h://127.0.0.1:1080", "--control-auth-file", auth.string()});
  CHECK(result.exit_code == 78);
  CHECK(result.err.find("chmod 600") != std::string::npos);
  CHECK(result.err.find("topsecret") == std::string::npos);
}

TEST_CASE("probe run: a bad --control or --control-doh never repeats its credentials, from flags or a config file",
          "[cli][control]") {
  TempDir dir;
  const std::string out = (dir.path() / "reports").string();
  const std::vector<std::string> base = {"run", "--url", "tcp://127.0.0.1:9", "--no-system-resolver", "--resolver",
                                         "127.0.0.1:9", "--out", out};
  struct Case {
    std::string flag;
    std::string value;
    std::string shown;  // what the message quotes
  };
  for (const Case& c : std::vector<Case>{
           {"control", "ftp://alice:hunter2@127.0.0.1:21", "--control 'ftp://***@127.0.0.1:21'"},
           {"control", "socks5h://alice:hunter2@proxy.example:1080", "--control 'socks5h://***@proxy.example:1080'"},
           {"control", "socks5h://alice:hun@ter2@127.0.0.1", "--control 'socks5h://***@127.0.0.1'"},
           {"control", "alice:hunter2@127.0.0.1:1080", "--control '***@127.0.0.1:1080'"},
           {"control-doh", "https://alice:hunter2@127.0.0.1/dns-query",
            "--control-doh 'https://***@127.0.0.1/dns-query': a DoH URL must not carry credentials"},
           {"control-doh", "http://alice:hunter2@127.0.0.1/dns-query",
            "--control-doh 'http://***@127.0.0.1/dns-query'"},
       }) {
    INFO(c.value);
    std::vector<std::string> args = base;
    args.insert(args.end(), {"--" + c.flag, c.value});
    if (c.flag == "control-doh") {
      args.insert(args.end(), {"--control", "socks5h://127.0.0.1:1080"});
    }
    auto result = run_probe(args);
    CHECK(result.exit_code == 64);
    CHECK(result.err.find(c.shown) != std::string::npos);
    CHECK(result.err.find("hunter2") == std::string::npos);
    CHECK(result.err.find("ter2") == std::string::npos);
    CHECK(result.out.empty());

    const auto config = dir.write("probe.toml", "[run]\n" + c.flag + " = \"" + c.value + "\"\n" +
                                                    (c.flag == "control-doh" ? "control = \"socks5h://127.0.0.1:1080\"\n" : ""));
    std::vector<std::string> configured = {"--config", config.string()};
    configured.insert(configured.end(), base.begin(), base.end());
    result = run_probe(configured);
    CHECK(result.exit_code == 64);
    CHECK(result.err.find(c.shown) != std::string::npos);
    CHECK(result.err.find("hunter2") == std::string::npos);
    CHECK(result.err.find("ter2") == std::string::npos);
  }
}

TEST_CASE("probe run: a dead proxy with credentials leaves no trace of them", "[cli][control]") {
  TempDir dir;
  const std::string out = (dir.path() / "reports").string();
  const std::string url = "socks5h://alice:s3cr%40t@127.0.0.1:" + std::to_string(probe::test::free_tcp_port());
  const auto result = run_probe({"-vv", "run", "--url", "tcp://127.0.0.1:9", "--no-system-resolver", "--resolver",
                                 "127.0.0.1:9", "--allow-bogon", "127.0.0.0/8", "--timeout", "1", "--control", url,
                                 "--control-timeout", "1", "--out", out});
  REQUIRE(result.exit_code == 0);
  const std::string report = read_file(only_report(out));
  CHECK(validates({only_report(out).string()}));
  for (const std::string secret : {"alice", "s3cr@t", "s3cr%40t", "YWxpY2U6czNjckB0"}) {
    INFO(secret);
    CHECK(report.find(secret) == std::string::npos);
    CHECK(result.err.find(secret) == std::string::npos);
    CHECK(result.out.find(secret) == std::string::npos);
  }
  const json parsed = json::parse(report);
  CHECK(parsed["paths"][1]["health"] == "unhealthy");
  CHECK(parsed["paths"][1]["check_failure"] == "proxy_error");
  CHECK(parsed["results"][0]["paths"]["control"]["endpoints"][0]["tcp"]["failure"] == "proxy_error");
  CHECK(result.err.find("failed its start-up check") != std::string::npos);
}

TEST_CASE("DNS over a proxy path can be DoH through the proxy instead", "[engine][control]") {
  NetFixture fixture;
  ProxyFixture proxies;
  RunSettings settings = loopback_settings(fixture);
  settings.resolvers = {};
  ControlSettings control = proxy_control("control", PathKind::socks5h, proxies.port("socks_ok"));
  control.doh_url = "https://127.0.0.1:" + std::to_string(fixture.port("doh")) + "/dns-query";
  settings.controls = {control};
  std::string problem;  // the fixture answers documentation addresses
  settings.allow_bogon.push_back(*parse_cidr("192.0.2.0/24", &problem));
  settings.allow_bogon.push_back(*parse_cidr("2001:db8::/32", &problem));
  Target target;
  target.app = "test";
  target.host = "plain.test";
  target.kind = Kind::dns;
  const Measurement measured = measure_paths({target}, settings, EventLoop::now());
  const auto& queries = measured.results[0].paths.at("control").queries;
  REQUIRE(queries.size() == 2);
  for (const auto& query : queries) {
    INFO(query.type << " " << (query.failure ? query.failure->str() : "ok"));
    CHECK(query.resolver == "doh:" + control.doh_url);
    CHECK_FALSE(query.failure);
    REQUIRE(query.answers.size() == 1);
    CHECK(query.answers[0].value == (query.type == "A" ? "192.0.2.80" : "2001:db8::80"));
  }
  CHECK(measured.paths[1].healthy());
}

TEST_CASE("probe run warns when the default route leaves by a tunnel device", "[cli][control]") {
  if (geteuid() != 0) {
    PROBE_SKIP("a network namespace needs root");
  }
  TempDir dir;
  const std::string out = (dir.path() / "reports").string();
  const std::string command =
      std::string("ip link set lo up && ip tuntap add dev tun9 mode tun && ip link set tun9 up && "
                  "ip addr add 10.254.9.1/24 dev tun9 && ip route add default dev tun9 && exec ") +
      PROBE_BINARY + " run --url tcp://127.0.0.1:9 --no-system-resolver --resolver 127.0.0.1:9 --allow-bogon "
      "127.0.0.0/8 --timeout 1 --out " + out;
  const auto result = probe::test::run_command({"unshare", "-n", "sh", "-c", command});
  REQUIRE(result.exit_code == 0);
  CHECK(result.err.find("the default route leaves by tun9, a tunnel device") != std::string::npos);
  const json report = json::parse(read_file(only_report(out)));
  CHECK(report["paths"][0]["egress"] == "tun9");
}

TEST_CASE("an injection probe records whatever answers from an address that should be silent", "[engine][injection]") {
  MockDns interceptor;  // stands for a middlebox answering on an address that runs no DNS server
  RunSettings settings;
  settings.timeout_ms = 500;
  settings.resolvers = {};
  ResolverSpec silent;
  silent.address = "127.0.0.1";
  silent.port = probe::test::closed_udp_port();
  settings.injection_probes = {*parse_resolver(interceptor.address(), nullptr), silent};
  Target target;
  target.app = "test";
  target.host = "plain.test";
  target.kind = Kind::dns;
  const auto results = measure({target}, settings, EventLoop::now());
  const auto& queries = results[0].paths.at("direct").queries;
  REQUIRE(queries.size() == 4);
  std::size_t answered = 0;
  for (const auto& query : queries) {
    INFO(query.resolver << " " << query.type);
    CHECK(query.resolver.rfind("injection:", 0) == 0);
    if (query.resolver == "injection:" + interceptor.address()) {
      CHECK(query.rcode.has_value());
      answered += query.answers.empty() ? 0 : 1;
    } else {
      CHECK(query.failure.has_value());  // nothing there: refused or silent, never an answer
      CHECK(query.answers.empty());
    }
  }
  CHECK(answered >= 1);
}

TEST_CASE("the engine reports each target's end once, for the progress line", "[engine]") {
  NetFixture fixture;
  RunSettings settings = loopback_settings(fixture);
  settings.resolvers = {};
  std::vector<Target> targets = {loopback_target(Kind::https, fixture.port("https")),
                                 loopback_target(Kind::tcp, fixture.port("closed")),
                                 loopback_target(Kind::stun, fixture.port("stun"))};
  Target bogon = loopback_target(Kind::tcp, 443);
  bogon.host = "10.1.2.3";  // not allowed: nothing to connect to, finished at once
  targets.push_back(bogon);
  Target name = loopback_target(Kind::dns, 0);
  name.host = "plain.test";  // no resolver: no query at all
  targets.push_back(name);
  std::vector<std::pair<std::size_t, std::size_t>> calls;
  settings.on_progress = [&calls](std::size_t done, std::size_t total) { calls.emplace_back(done, total); };
  measure(targets, settings, EventLoop::now());
  REQUIRE(calls.size() == targets.size());
  for (std::size_t k = 0; k < calls.size(); ++k) {
    CHECK(calls[k] == std::make_pair(k + 1, targets.size()));
  }
}

TEST_CASE("a direct transfer that timed out where control, given longer, got through is re-tested with twice "
          "control's time: slow is not blocked",
          "[engine][control][retest]") {
  NetFixture fixture;
  ProxyFixture proxies;
  RunSettings settings = loopback_settings(fixture);
  settings.timeout_ms = 1000;  // direct: the transfer may take 3 s, and /late-head answers after 4 s
  ControlSettings control = proxy_control("control", PathKind::socks5h, proxies.port("socks_ok"));
  control.timeout_ms = 2000;  // control: 6 s
  settings.controls = {control};
  Target target = loopback_target(Kind::http, fixture.port("http"));
  target.path = "/late-head";
  const Measurement measured = measure_paths({target}, settings, EventLoop::now());
  const auto& direct = measured.results[0].paths.at("direct").endpoints.at(0);
  const auto& through_control = measured.results[0].paths.at("control").endpoints.at(0);
  REQUIRE(through_control.http);
  CHECK(failure_of(through_control.http) == "ok");
  CHECK(through_control.http->duration_ms >= 4000);
  REQUIRE(direct.http);
  CHECK(failure_of(direct.http) == "generic_timeout_error");
  // The re-test had at least twice control's time, not direct's own 3 s: it got the page.
  REQUIRE(direct.retest);
  CHECK(direct.retest->step == "http");
  CHECK_FALSE(direct.retest->failure);
  REQUIRE(direct.retest->budget_ms);
  CHECK(*direct.retest->budget_ms >= 2 * through_control.http->duration_ms);
  CHECK(direct.retest->duration_ms >= 4000);
}

TEST_CASE("a target that timed out on every path is re-tested on every path, control's whole chain first: "
          "a first burst's victims come out accessible",
          "[engine][control][retest]") {
  NetFixture fixture;
  ProxyFixture proxies;
  RunSettings settings = loopback_settings(fixture);
  settings.timeout_ms = 1000;  // a transfer may take 3 s; /late-twice's first two heads come after 4 s
  ControlSettings control = proxy_control("control", PathKind::socks5h, proxies.port("socks_ok"));
  control.timeout_ms = 1000;
  settings.controls = {control};
  Target target = loopback_target(Kind::http, fixture.port("http"));
  target.path = "/late-twice";
  const Measurement measured = measure_paths({target}, settings, EventLoop::now());
  const auto& direct = measured.results[0].paths.at("direct").endpoints.at(0);
  const auto& through_control = measured.results[0].paths.at("control").endpoints.at(0);
  CHECK(failure_of(direct.http) == "generic_timeout_error");
  CHECK(failure_of(through_control.http) == "generic_timeout_error");
  // Control's re-test ran the whole chain and got the page; then direct's, whose budget is at
  // least twice what control's re-test took.
  REQUIRE(through_control.retest);
  CHECK(through_control.retest->step == "http");
  CHECK_FALSE(through_control.retest->failure);
  REQUIRE(direct.retest);
  CHECK(direct.retest->step == "http");
  CHECK_FALSE(direct.retest->failure);
  CHECK(direct.retest->t0_ms >= through_control.retest->t0_ms + through_control.retest->duration_ms);
  REQUIRE(direct.retest->budget_ms);
  CHECK(*direct.retest->budget_ms >= 2 * through_control.retest->duration_ms);
  // Two steps are too few to call a path congested.
  REQUIRE(measured.paths.size() == 2);
  for (const PathHealth& path : measured.paths) {
    CHECK_FALSE(path.congestion.overrun);
    CHECK(path.congestion.retested == 1);
    CHECK(path.congestion.recovered == 1);
    CHECK_FALSE(path.congestion.congested);
  }
  const Verdict verdict = judge(measured.results[0], {PathStatus{"direct", false, false},
                                                      PathStatus{"control", true, true, measured.paths[1].congestion.congested}});
  CHECK(to_string(verdict.status) == "accessible");
}

TEST_CASE("a target silent on every path is re-tested on every path, times out again and is down: no path "
          "is congested by it",
          "[engine][control][retest]") {
  NetFixture fixture;
  ProxyFixture proxies;
  RunSettings settings = loopback_settings(fixture);
  settings.timeout_ms = 500;
  ControlSettings control = proxy_control("control", PathKind::socks5h, proxies.port("socks_ok"));
  control.timeout_ms = 500;
  settings.controls = {control};
  const Target target = loopback_target(Kind::tls, fixture.port("silent"));
  const Measurement measured = measure_paths({target}, settings, EventLoop::now());
  for (const char* path : {"direct", "control"}) {
    INFO(path);
    const auto& endpoint = measured.results[0].paths.at(path).endpoints.at(0);
    CHECK(failure_of(endpoint.tcp) == "ok");
    CHECK(failure_of(endpoint.tls) == "generic_timeout_error");
    REQUIRE(endpoint.retest);
    CHECK(endpoint.retest->step == "tls");
    REQUIRE(endpoint.retest->failure);
    CHECK(endpoint.retest->failure->code == Failure::generic_timeout_error);
  }
  for (const PathHealth& path : measured.paths) {
    CHECK(path.congestion.retested == 1);
    CHECK(path.congestion.recovered == 0);
    CHECK_FALSE(path.congestion.congested);
  }
  const Verdict verdict = judge(measured.results[0], {PathStatus{"direct", false, false},
                                                      PathStatus{"control", true, true, measured.paths[1].congestion.congested}});
  CHECK(to_string(verdict.status) == "down");
  CHECK(verdict.signatures.empty());
}

namespace {

// Three targets at full speed and one whose body comes at about 32 KiB/s to the direct path only
// (net_fixture's /throttled keys on the client's address; the proxy fixture's socks_from_2
// connects from another one), all over HTTPS.
std::vector<Target> throttle_targets(const NetFixture& fixture) {
  std::vector<Target> targets;
  for (int k = 0; k < 3; ++k) {
    Target fast = loopback_target(Kind::https, fixture.port("https"));
    fast.path = "/big";
    targets.push_back(fast);
  }
  Target slow = loopback_target(Kind::https, fixture.port("https"));
  slow.path = "/throttled";
  targets.push_back(slow);
  return targets;
}

}  // namespace

TEST_CASE("a body throttled on direct only makes a suspect, sampled on every path: restricted tcp_ip, throttled",
          "[engine][control][throughput]") {
  NetFixture fixture;
  ProxyFixture proxies;
  RunSettings settings = loopback_settings(fixture);
  settings.timeout_ms = 3000;
  ControlSettings control = proxy_control("control", PathKind::socks5h, proxies.port("socks_from_2"));
  control.timeout_ms = 3000;
  settings.controls = {control};
  const std::vector<Target> targets = throttle_targets(fixture);
  const Measurement measured = measure_paths(targets, settings, EventLoop::now());
  REQUIRE(measured.results.size() == 4);
  const std::vector<PathStatus> paths{PathStatus{"direct", false, false}, PathStatus{"control", true, true}};
  for (std::size_t i = 0; i < 3; ++i) {
    INFO(i);
    for (const char* path : {"direct", "control"}) {
      CHECK_FALSE(measured.results[i].paths.at(path).endpoints.at(0).throughput);
    }
    CHECK(to_string(judge(measured.results[i], paths).status) == "accessible");
  }
  const auto& direct = measured.results[3].paths.at("direct").endpoints.at(0);
  const auto& through_control = measured.results[3].paths.at("control").endpoints.at(0);
  REQUIRE(direct.throughput);
  REQUIRE(through_control.throughput);
  REQUIRE(direct.throughput->sample);
  REQUIRE(through_control.throughput->sample);
  const RateSample& slow = *direct.throughput->sample;
  const RateSample& fast = *through_control.throughput->sample;
  CHECK(slow.bytes == 64 * 1024);
  CHECK(slow.body_stop == "cap");
  REQUIRE(slow.rate);
  REQUIRE(fast.rate);
  CHECK(*slow.rate < 64 * 1024);  // the fixture sends about 32 KiB/s
  CHECK(*slow.rate * 4 < *fast.rate);
  // The handshakes are not throttled (the fixture slows the body only): the real name's and the
  // decoy's take alike, so the throttle keys on the address.
  REQUIRE(direct.throughput->handshake);
  REQUIRE(direct.throughput->decoy_handshake);
  CHECK_FALSE(direct.throughput->handshake->failure);
  CHECK_FALSE(direct.throughput->decoy_handshake->failure);
  CHECK(direct.throughput->handshake->bytes > 0);
  CHECK_FALSE(direct.throughput->decoy_sample);  // https: the decoy is compared by its handshake
  CHECK_FALSE(through_control.throughput->handshake);  // on direct only
  // The phase ran after every first attempt.
  CHECK(direct.throughput->handshake->t0_ms >= direct.http->t0_ms + direct.http->duration_ms);
  const Verdict verdict = judge(measured.results[3], paths);
  CHECK(to_string(verdict.status) == "restricted");
  CHECK(verdict.method == std::optional<std::string>("tcp_ip"));
  CHECK(verdict.signatures == std::vector<Signature>{Signature::throttled});
  const std::string written = target_result_json(measured.results[3]).dump();
  CHECK(written.find("\"throughput\"") != std::string::npos);

  // --no-throughput: the same run samples nothing, and the throttle goes unnamed.
  settings.throughput = false;
  const Measurement unsampled = measure_paths(targets, settings, EventLoop::now());
  for (const TargetResult& result : unsampled.results) {
    for (const auto& [name, observations] : result.paths) {
      for (const EndpointObservation& endpoint : observations.endpoints) {
        CHECK_FALSE(endpoint.throughput);
      }
    }
  }
  CHECK(to_string(judge(unsampled.results[3], paths).status) == "accessible");
}
