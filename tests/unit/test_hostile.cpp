// Hostile peers: servers and resolvers that send too much, without end, or bytes that are not
// text. Each case runs the real `probe run` against a loopback fixture and holds it to what a
// volunteer's machine needs: exit 0, a report that follows the schema, the caps and their flags
// in it, invalid UTF-8 written as U+FFFD, the run inside its timeouts and a bounded peak memory.

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dns/resolver.hpp"
#include "report/report.hpp"
#include "steps/tls_http.hpp"
#include "support/mock_dns.hpp"
#include "support/net_fixture.hpp"
#include "support/reports.hpp"
#include "support/run_command.hpp"
#include "support/temp_dir.hpp"

using namespace probe;
using nlohmann::json;
using probe::test::MeasuredRun;
using probe::test::MockDns;
using probe::test::NetFixture;
using probe::test::only_report;
using probe::test::read_file;
using probe::test::run_measured;
using probe::test::TempDir;
using probe::test::validates;

namespace {

// The probe holds a few MiB of its own (about 17 MiB at its peak here); what a peer sends must not
// take it anywhere near this. AddressSanitizer keeps freed memory in quarantine (256 MiB by
// default) and adds its shadow, so a sanitizer build only gets a bound against runaway growth.
#if defined(__SANITIZE_ADDRESS__)
constexpr std::size_t k_peak_limit_kib = 1024 * 1024;
#else
constexpr std::size_t k_peak_limit_kib = 200 * 1024;
#endif
// A probe still running after this is killed, so a hang fails the test instead of stalling it.
constexpr unsigned k_kill_after_seconds = 30;
// Step timeout of the runs: the TLS and HTTP transfer may then take 3 times that in all.
constexpr int k_timeout_seconds = 2;
// Under one transfer's whole timeout: a case that ends sooner was ended by a cap, not the clock.
constexpr double k_quick_run_seconds = 3.0 * k_timeout_seconds - 1.0;
const std::string k_replacement = "\xef\xbf\xbd";  // U+FFFD in UTF-8

struct HostileRun {
  MeasuredRun run;
  json report;
};

// `probe run` on `urls`, the loopback allowed, with `options` added; REQUIREs exit 0 and checks
// the report against the schema and the peak memory against the limit.
HostileRun run_probe_on(const std::vector<std::string>& urls, const std::vector<std::string>& options,
                        int timeout_seconds = k_timeout_seconds) {
  TempDir dir;
  const std::string out = (dir.path() / "reports").string();
  std::vector<std::string> args = {PROBE_BINARY, "-q", "run", "--out", out, "--timeout",
                                   std::to_string(timeout_seconds), "--allow-bogon", "127.0.0.0/8",
                                   "--no-system-resolver"};
  for (const auto& url : urls) {
    args.push_back("--url");
    args.push_back(url);
  }
  args.insert(args.end(), options.begin(), options.end());
  HostileRun hostile;
  hostile.run = run_measured(args, k_kill_after_seconds);
  INFO(hostile.run.result.err);
  REQUIRE(hostile.run.result.exit_code == 0);
  const auto path = only_report(out);
  CHECK(validates({path.string()}));
  const std::string text = read_file(path);
  hostile.report = json::parse(text);
  CHECK(hostile.run.peak_kib > 0);
  CHECK(hostile.run.peak_kib < k_peak_limit_kib);
  return hostile;
}

// The first result whose URL ends with `suffix`.
const json& result_for(const json& report, const std::string& suffix) {
  for (const json& result : report["results"]) {
    const std::string url = result["url"].is_string() ? result["url"].get<std::string>() : "";
    if (url.size() >= suffix.size() && url.compare(url.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return result;
    }
  }
  FAIL("no result for " << suffix);
  throw std::logic_error("unreachable");
}

const json& direct_endpoint(const json& report, const std::string& suffix) {
  const json& endpoints = result_for(report, suffix)["paths"]["direct"]["endpoints"];
  REQUIRE(endpoints.size() == 1);
  return endpoints[0];
}

const json& direct_query(const json& report, const std::string& host, const std::string& type) {
  for (const json& result : report["results"]) {
    if (result["host"] != host) {
      continue;
    }
    for (const json& query : result["paths"]["direct"]["queries"]) {
      if (query["type"] == type && query["rcode"].is_string()) {
        return query;
      }
    }
  }
  FAIL("no answered " << type << " query for " << host);
  throw std::logic_error("unreachable");
}

std::size_t header_bytes(const json& http) {
  std::size_t total = 0;
  for (const json& header : http["headers"]) {
    total += header[0].get<std::string>().size() + header[1].get<std::string>().size();
  }
  return total;
}

std::string header_value(const json& http, const std::string& name) {
  for (const json& header : http["headers"]) {
    if (header[0] == name) {
      return header[1];
    }
  }
  return "(absent)";
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) {
    ++count;
  }
  return count;
}

std::string url(const std::string& scheme, std::uint16_t port, const std::string& path = "/") {
  return scheme + "://127.0.0.1:" + std::to_string(port) + path;
}

}  // namespace

TEST_CASE("an endless body is read up to the body cap (HTTPS: its title window), hashed, and HTTP judged by "
          "its head",
          "[hostile]") {
  NetFixture fixture;
  const auto hostile = run_probe_on({url("https", fixture.port("https"), "/endless"),
                                     url("http", fixture.port("http"), "/endless")},
                                    {"--resolver", "127.0.0.1:9", "--ca-file", fixture.ca_file()});
  CHECK(hostile.run.seconds < k_quick_run_seconds);
  for (const int port : {fixture.port("https"), fixture.port("http")}) {
    const json& http = direct_endpoint(hostile.report, ":" + std::to_string(port) + "/endless")["http"];
    CHECK(http["failure"].is_null());
    CHECK(http["status"] == 200);
    CHECK(http["body_truncated"] == true);
    // The cap stopped it (an HTTPS page is compared with nothing: its window), not the clock.
    const bool https = port == fixture.port("https");
    CHECK(http["body_length"] == (https ? k_https_body_window : k_max_body));
    CHECK(http["body_stop"] == (https ? "window" : "cap"));
    CHECK(http["bytes_received"].get<std::uint64_t>() >= http["body_length"].get<std::uint64_t>());
    CHECK(http["body_sha256"].is_string());
    CHECK(http["duration_ms"].get<double>() < 1000.0 * 3 * k_timeout_seconds);
  }
}

TEST_CASE("a body that trickles without end is cut by the transfer's timeout, still a success", "[hostile]") {
  NetFixture fixture;
  constexpr int k_short_timeout = 1;  // the transfer may take 3 s in all
  const auto hostile = run_probe_on({url("http", fixture.port("http"), "/trickle")}, {"--resolver", "127.0.0.1:9"},
                                    k_short_timeout);
  const json& http = direct_endpoint(hostile.report, "/trickle")["http"];
  CHECK(http["failure"].is_null());
  CHECK(http["status"] == 200);
  CHECK(http["body_truncated"] == true);
  CHECK(http["body_length"].get<std::size_t>() < 100);
  CHECK(http["body_stop"] == "timeout");
  CHECK(http["duration_ms"].get<double>() >= 2500.0);
  CHECK(http["duration_ms"].get<double>() < 4500.0);
  CHECK(hostile.run.seconds < 8.0);
}

TEST_CASE("100,000 response headers: curl refuses the head, the report keeps 100", "[hostile]") {
  NetFixture fixture;
  const auto hostile = run_probe_on({url("https", fixture.port("https"), "/many-headers")},
                                    {"--resolver", "127.0.0.1:9", "--ca-file", fixture.ca_file()});
  CHECK(hostile.run.seconds < k_quick_run_seconds);
  const json& http = direct_endpoint(hostile.report, "/many-headers")["http"];
  // This curl refuses a head over 300 KiB: the server answered, but not with a usable response.
  CHECK(http["failure"].get<std::string>().find("Too large response headers") != std::string::npos);
  CHECK(http["headers"].size() <= k_max_headers);
  CHECK(http["headers_truncated"] == true);
}

TEST_CASE("5,000 short headers: the first 100 are kept, and the cut is flagged", "[hostile]") {
  NetFixture fixture;
  const auto hostile = run_probe_on({url("http", fixture.port("http"), "/small-headers")},
                                    {"--resolver", "127.0.0.1:9"});
  CHECK(hostile.run.seconds < k_quick_run_seconds);
  const json& http = direct_endpoint(hostile.report, "/small-headers")["http"];
  CHECK(http["failure"].is_null());
  CHECK(http["status"] == 200);
  CHECK(http["headers"].size() == k_max_headers);
  CHECK(http["headers_truncated"] == true);
  CHECK(http["headers"][1][0] == "X-Small-1");  // after Connection: in the order received
}

TEST_CASE("long header values are cut, and all headers together stay under 16 KiB", "[hostile]") {
  NetFixture fixture;
  const auto hostile = run_probe_on({url("https", fixture.port("https"), "/fat-headers")},
                                    {"--resolver", "127.0.0.1:9", "--ca-file", fixture.ca_file()});
  const json& http = direct_endpoint(hostile.report, "/fat-headers")["http"];
  CHECK(http["failure"].is_null());
  CHECK(http["headers_truncated"] == true);
  CHECK(header_value(http, "X-Long") == std::string(k_max_header_value, 'l'));
  CHECK(header_bytes(http) <= k_max_header_bytes);
  CHECK(header_bytes(http) > k_max_header_bytes - 1024);  // filled up to the budget, in order
  CHECK(http["headers"].size() < 20);
}

TEST_CASE("a 10 MiB header line is refused by curl and costs no memory", "[hostile]") {
  NetFixture fixture;
  const auto hostile = run_probe_on({url("http", fixture.port("http"), "/huge-header")},
                                    {"--resolver", "127.0.0.1:9"});
  CHECK(hostile.run.seconds < k_quick_run_seconds);
  const json& http = direct_endpoint(hostile.report, "/huge-header")["http"];
  CHECK(http["failure"].is_string());
  CHECK(http["status"].is_null());
  for (const json& header : http["headers"]) {
    CHECK(header[1].get<std::string>().size() <= k_max_header_value);
  }
}

TEST_CASE("bytes that are not UTF-8 in the reason, Location, a header and the title become U+FFFD",
          "[hostile]") {
  NetFixture fixture;
  const auto hostile = run_probe_on({url("http", fixture.port("http"), "/bad-redirect"),
                                     url("https", fixture.port("https"), "/bad-utf8")},
                                    {"--resolver", "127.0.0.1:9", "--ca-file", fixture.ca_file()});
  const json& redirect = direct_endpoint(hostile.report, "/bad-redirect")["http"];
  CHECK(redirect["failure"].is_null());
  CHECK(redirect["status"] == 302);  // recorded, not followed (it leads back to itself)
  const std::string location = redirect["location"];
  CHECK(location.rfind("/bad-redirect?" + k_replacement + k_replacement + "lll", 0) == 0);
  CHECK(location.size() == k_max_header_value - 2 + 2 * k_replacement.size());  // two bytes became three each
  CHECK(redirect["headers_truncated"] == true);  // the Location header's value was cut
  const std::string bad_header = k_replacement + k_replacement + k_replacement + "(";
  CHECK(header_value(redirect, "X-Bad") == bad_header);
  CHECK(redirect["title"] == "Bad " + k_replacement + k_replacement + " title");

  const json& page = direct_endpoint(hostile.report, "/bad-utf8")["http"];
  CHECK(page["failure"].is_null());
  CHECK(header_value(page, "X-Bad") == bad_header);
  CHECK(page["title"] == "Bad " + k_replacement + k_replacement + " title");
  // Not dropped: every bad byte is there as one replacement character.
  CHECK(count_of(hostile.report.dump(), k_replacement) >= (2 + 3 + 2) + (3 + 2));
}

TEST_CASE("a chain of 17 certificates with stuffed names: 5 kept, names cut at 1 KiB", "[hostile]") {
  NetFixture fixture;
  const auto hostile = run_probe_on({url("https", fixture.port("big_chain"))},
                                    {"--resolver", "127.0.0.1:9", "--ca-file", fixture.ca_file()});
  CHECK(hostile.run.seconds < k_quick_run_seconds);
  const json& endpoint = direct_endpoint(hostile.report, ":" + std::to_string(fixture.port("big_chain")) + "/");
  const json& tls = endpoint["tls"];
  CHECK(tls["failure"].is_null());
  CHECK(tls["verified"] == true);
  REQUIRE(tls["chain"].size() == k_max_chain);
  for (const json& certificate : tls["chain"]) {
    CHECK(certificate["subject"].get<std::string>().size() == k_max_name_text);
    CHECK(certificate["issuer"].get<std::string>().size() <= k_max_name_text);
  }
  CHECK(endpoint["http"]["status"] == 200);
}

TEST_CASE("a resolver answering with every record a message holds: 64 addresses kept, and flagged",
          "[hostile][dns]") {
  MockDns dns;
  NetFixture fixture;
  // The addresses are 127.1.x.y (allowed: connected to, refused) and fd00::x (never connected to).
  const std::string target = "tcp://flood.test:" + std::to_string(fixture.port("closed"));
  const auto hostile = run_probe_on({target}, {"--resolver", dns.address(), "--tries", "1"});
  CHECK(hostile.run.seconds < k_quick_run_seconds);
  for (const std::string type : {"A", "AAAA"}) {
    // The 65,507-byte UDP reply is over 512 bytes: c-ares asks again over TCP and gets 64 KiB.
    const json& query = direct_query(hostile.report, "flood.test", type);
    CHECK(query["answers"].size() == k_max_dns_addresses);
    CHECK(query["answers_truncated"] == true);
    CHECK(query["raw_truncated"] == true);
  }
  const json& endpoints = result_for(hostile.report, target)["paths"]["direct"]["endpoints"];
  CHECK(endpoints.size() == 2 * k_max_dns_addresses);
  CHECK(endpoints[0]["tcp"]["failure"] == "connection_refused");
}

TEST_CASE("2,000 CNAMEs, OPT records among the answers, and names that are not text", "[hostile][dns]") {
  MockDns dns;
  const auto hostile = run_probe_on({"tcp://chain.test:9", "tcp://edns.test:9", "tcp://badname.test:9"},
                                    {"--resolver", dns.address(), "--tries", "1"});
  CHECK(hostile.run.seconds < k_quick_run_seconds);

  const json& chain = direct_query(hostile.report, "chain.test", "A");
  CHECK(chain["cname_chain"].size() == k_max_dns_cnames);
  CHECK(chain["cname_chain"][0] == "c1.chain.test");
  CHECK(chain["answers"].size() == k_max_dns_cnames + 1);
  CHECK(chain["answers"].back()["value"] == "192.0.2.1");  // the address after the chain is kept
  CHECK(chain["answers_truncated"] == true);

  const json& edns = direct_query(hostile.report, "edns.test", "A");
  REQUIRE(edns["answers"].size() == 2);
  CHECK(edns["answers"][0]["value"] == "192.0.2.1");
  CHECK(edns["answers"][1]["value"] == "192.0.2.20");
  // (not .2: that is the address of this machine's eth0 in CI, which a report never holds)
  CHECK(edns["answers_truncated"] == false);

  const json& bad = direct_query(hostile.report, "badname.test", "A");
  REQUIRE(bad["cname_chain"].size() == 1);
  const std::string expected = k_replacement + k_replacement + std::string(1, '\0') + "\"\\\x01" "bad.badname-target.test";
  CHECK(bad["cname_chain"][0] == expected);
  CHECK(bad["answers"][0]["value"] == expected);
  CHECK(bad["answers"][1]["value"] == "192.0.2.1");
}

TEST_CASE("a report over its size limit loses the bulk of its largest results first", "[hostile][report]") {
  Report report;
  report.run_id = "0123456789abcdef0123456789abcdef";
  const auto make_result = [](const std::string& host, std::size_t endpoints) {
    TargetResult result;
    result.target.app = "test";
    result.target.host = host;
    result.target.kind = Kind::https;
    result.target.port = 443;
    DnsQuery query;
    query.resolver = "192.0.2.53:53";
    query.type = "A";
    query.rcode = "NOERROR";
    query.raw_base64 = std::string(4096, 'A');
    query.answers.push_back({"A", "192.0.2.1", 60, false});
    result.paths["direct"].queries.push_back(query);
    for (std::size_t i = 0; i < endpoints; ++i) {
      EndpointObservation endpoint;
      endpoint.address = "192.0.2." + std::to_string(i + 1);
      endpoint.port = 443;
      endpoint.tcp = TcpObservation{};
      TlsObservation tls;
      tls.sni = host;
      tls.chain.assign(k_max_chain, CertificateInfo{std::string(k_max_name_text, 's'), std::string(k_max_name_text, 'i'),
                                                    std::string(64, 'a'), ""});
      endpoint.tls = tls;
      HttpObservation http;
      http.status = 200;
      http.headers.assign(16, {"X-Fill", std::string(1000, 'f')});
      endpoint.http = http;
      result.paths["direct"].endpoints.push_back(endpoint);
    }
    return result;
  };
  report.results = {make_result("a.test", 1), make_result("hostile.test", 40), make_result("z.test", 1)};
  const json whole = json::parse(serialize(report));
  for (const json& result : whole["results"]) {
    CHECK(result["cut"].empty());
  }

  // A limit that the hostile result meets once its raw replies and headers are gone (with room for
  // the deeper indentation the cutting does not count), but not before.
  Report without_headers = report;
  DnsQuery& query = without_headers.results[1].paths["direct"].queries[0];
  query.raw_base64.clear();
  query.raw_truncated = true;
  for (EndpointObservation& endpoint : without_headers.results[1].paths["direct"].endpoints) {
    endpoint.http->headers.clear();
    endpoint.http->headers_truncated = true;
  }
  const std::size_t limit = serialize(without_headers).size() + 32 * 1024;
  REQUIRE(serialize(report).size() > limit + 256 * 1024);
  const std::string text = serialize(report, limit);
  CHECK(text.size() <= limit);
  const json cut = json::parse(text);
  // The small results are whole; the hostile one lost only what it had to, bulkiest first.
  CHECK(cut["results"][0] == whole["results"][0]);
  CHECK(cut["results"][2] == whole["results"][2]);
  const json& hostile = cut["results"][1];
  CHECK(hostile["cut"] == json::array({"raw_base64", "headers"}));
  CHECK(hostile["paths"]["direct"]["queries"][0]["raw_base64"] == "");
  CHECK(hostile["paths"]["direct"]["queries"][0]["raw_truncated"] == true);
  CHECK(hostile["paths"]["direct"]["endpoints"][0]["http"]["headers"].empty());
  CHECK(hostile["paths"]["direct"]["endpoints"][0]["http"]["headers_truncated"] == true);
  CHECK(hostile["paths"]["direct"]["endpoints"][0]["tls"]["chain"].size() == k_max_chain);
  TempDir dir;
  CHECK(validates({dir.write("cut.json", text).string()}));

  // A limit the bare results cannot meet: everything is cut, in order, and the results stay.
  const json bare = json::parse(serialize(report, 1024));
  REQUIRE(bare["results"].size() == 3);
  CHECK(bare["results"][1]["cut"] == json::array({"raw_base64", "headers", "chain", "endpoints", "answers"}));
  CHECK(bare["results"][1]["paths"]["direct"]["endpoints"].empty());
  CHECK(bare["results"][1]["verdict"].is_null());
}

TEST_CASE("the public address a STUN server saw is scrubbed wherever another server echoes it", "[hostile][scrub]") {
  NetFixture fixture;
  // stun_mapped says the request came from 203.0.113.77 (the volunteer's NAT, as a real STUN server
  // would see it); /mapped-echo is a "what is my IP" page that prints that address back.
  const auto hostile = run_probe_on({url("stun", fixture.port("stun_mapped")),
                                     url("http", fixture.port("http"), "/mapped-echo")},
                                    {"--resolver", "127.0.0.1:9"});
  const std::string text = hostile.report.dump();
  CHECK(text.find("203.0.113.77") == std::string::npos);
  const json& stun = direct_endpoint(hostile.report, ":" + std::to_string(fixture.port("stun_mapped")));
  CHECK(stun["stun"]["failure"].is_null());  // the binding worked: its answer is where the address came from
  const json& http = direct_endpoint(hostile.report, "/mapped-echo")["http"];
  CHECK(http["status"] == 200);
  CHECK(header_value(http, "X-Client-Address") == "[scrubbed]");
  CHECK(http["title"] == "Your address is [scrubbed]");
}
