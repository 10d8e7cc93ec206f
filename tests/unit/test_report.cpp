#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <functional>
#include <regex>

#include "core/digest.hpp"
#include "report/report.hpp"
#include "report/scrub.hpp"
#include "support/reports.hpp"
#include "support/temp_dir.hpp"

using namespace probe;
using nlohmann::json;
using probe::test::read_file;
using probe::test::TempDir;
using probe::test::validates;

namespace {

Target make_target(const std::string& app, const std::string& host, Kind kind) {
  Target target;
  target.app = app;
  target.host = host;
  target.kind = kind;
  target.port = default_port(kind);
  return target;
}

// A report that uses every part of the contract, including bytes that are not UTF-8.
Report full_report() {
  Report report;
  report.run_id = "0123456789abcdef0123456789abcdef";
  report.started_at = SystemTime(std::chrono::seconds(1764353446));
  report.finished_at = report.started_at + std::chrono::seconds(12);
  report.vantage = Vantage{"home-line", "AS64500", "ZZ"};
  report.paths = {PathInfo{"direct", "direct", "unchecked", "eth0", "", std::nullopt, 12, {}},
                  PathInfo{"control", "socks5h", "unhealthy", "eth0", "socks5h://127.0.0.1:9050", "proxy_error", 0, {}}};
  report.options = {{"timeout_ms", 5000}, {"tries", 1}, {"apps", {"signal"}}};
  TargetList list;
  list.file = "/home/someone/lists/signal.json";
  list.format = "json";
  list.sha256 = sha256_hex("x");
  list.reviewed = "2026-11-28";
  list.targets.push_back(make_target("signal", "chat.signal.org", Kind::https));
  report.target_lists.push_back(list);

  TargetResult web;
  web.target = make_target("signal", "chat.signal.org", Kind::https);
  DnsQuery query;
  query.resolver = "system";
  query.type = "A";
  query.rcode = "NOERROR";
  query.answers = {DnsAnswer{"CNAME", "edge.signal.org", 60, false}, DnsAnswer{"A", "192.0.2.1", 300, true}};
  query.cname_chain = {"edge.signal.org"};
  query.t0_ms = 1.25;
  query.duration_ms = 20.5;
  query.raw_base64 = base64_encode("\x12\x34\x81\x80");
  DnsQuery failed = query;
  failed.type = "AAAA";
  failed.rcode = std::nullopt;
  failed.answers.clear();
  failed.cname_chain.clear();
  failed.failure = FailureInfo{Failure::generic_timeout_error, ""};
  failed.raw_base64.clear();
  EndpointObservation endpoint;
  endpoint.address = "192.0.2.1";
  endpoint.port = 443;
  endpoint.sources = {"direct", "control"};
  endpoint.tcp = TcpObservation{};
  TlsObservation tls;
  tls.sni = "chat.signal.org";
  tls.version = "TLSv1.3";
  tls.cipher = "TLS_AES_128_GCM_SHA256";
  tls.alpn = "http/1.1";
  tls.verified = true;
  tls.chain = {
      CertificateInfo{"CN=chat.signal.org", "CN=Signal Messenger", sha256_hex("leaf"), base64_encode("leaf")}};
  tls.root = "CN=Signal Messenger";
  endpoint.tls = tls;
  HttpObservation http;
  http.status = 404;
  http.headers = {{"Server", "nginx"}, {"X-Bytes", "\xff\xfe not UTF-8"}};
  http.title = std::string("caf\xe9 \xc3(");
  http.body_length = 12;
  http.body_sha256 = sha256_hex("body");
  http.bytes = 340;
  http.location = "https://signal.org/";
  endpoint.http = http;
  EndpointObservation v6;
  v6.address = "2001:db8::1";
  v6.port = 443;
  v6.family = 6;
  v6.sources = {"direct"};
  v6.not_tested = "no IPv6 route on this path";
  EndpointObservation reset = endpoint;
  reset.tls = TlsObservation{};
  reset.tls->sni = "example.org";
  reset.tls->decoy_sni = true;
  reset.tls->failure = FailureInfo{Failure::unknown_failure, "weird \xff error"};
  reset.http.reset();
  web.paths["direct"] = PathObservations{{query, failed}, {endpoint, v6, reset}};
  web.paths["control"] = PathObservations{{query}, {}};
  web.verdict = Verdict{Status::blocked, "tls", {"tls", "dns"}, "sni", {"reset after ClientHello"}, {}};
  report.results.push_back(web);

  TargetResult dns;
  dns.target = make_target("signal", "uptime.signal.org", Kind::dns);
  report.results.push_back(dns);  // unjudged: no verdict yet
  TargetResult tcp = {make_target("facebook", "edge-mqtt.facebook.com", Kind::tcp), {}, std::nullopt};
  tcp.target.port = 5222;
  report.results.push_back(tcp);
  return report;
}

}  // namespace

TEST_CASE("reports are written atomically, 0600, under a sortable name", "[report]") {
  TempDir dir;
  const Report report = full_report();
  const auto path = write_report(report, dir.path() / "new" / "reports");
  CHECK(path.filename() == "20251128T181046Z_0123456789abcdef0123456789abcdef.json");
  CHECK(std::regex_match(path.filename().string(), std::regex(R"(\d{8}T\d{6}Z_[0-9a-f]{32}\.json)")));
  struct stat info {};
  REQUIRE(stat(path.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
  CHECK(read_file(path) == serialize(report));
}

TEST_CASE("produced reports validate against reports/schema.json", "[report][schema]") {
  TempDir dir;
  Report empty;
  empty.run_id = new_run_id();
  empty.started_at = std::chrono::system_clock::now();
  empty.finished_at = empty.started_at;
  const auto full = write_report(full_report(), dir.path());
  const auto minimal = write_report(empty, dir.path());
  CHECK(validates({full.string(), minimal.string()}));
}

// Whether `path` is `of` or lies above it ("results/1" is above "results/1/verdict").
bool at_or_above(const std::string& path, const std::string& of) {
  return path.empty() || path == of || of.starts_with(path + "/");
}

TEST_CASE("the schema rejects reports that break the contract, each for the rule it breaks", "[report][schema]") {
  TempDir dir;
  const json good = to_json(full_report());
  // Mutations edit a result that has a verdict and paths, so a rule about a verdict's or a step's
  // value is tested on a document that has everything else that rule's object requires.
  std::size_t judged = good["results"].size();
  for (std::size_t i = 0; i < good["results"].size(); ++i) {
    if (good["results"][i]["host"] == "chat.signal.org") {
      judged = i;
    }
  }
  REQUIRE(judged < good["results"].size());
  REQUIRE(good["results"][judged]["verdict"].is_object());
  REQUIRE(good["results"][judged]["paths"]["direct"]["queries"][1]["failure"].is_string());
  REQUIRE(good["results"][judged]["paths"]["direct"]["endpoints"][0]["http"]["headers"].size() > 0);
  const std::string r = "results/" + std::to_string(judged);
  const auto result = [judged](json& report) -> json& { return report["results"][judged]; };
  struct Mutation {
    std::string name;
    std::string path;     // where the schema must complain
    std::string keyword;  // and with which rule
    std::function<void(json&)> apply;
  };
  const std::vector<Mutation> mutations = {
      {"missing run_id", "", "required", [](json& d) { d.erase("run_id"); }},
      {"unknown top-level field", "", "additionalProperties", [](json& d) { d["probe_ip"] = "203.0.113.9"; }},
      {"bad status", r + "/verdict/status", "enum", [&](json& d) { result(d)["verdict"]["status"] = "blocky"; }},
      {"bad method", r + "/verdict/method", "enum", [&](json& d) { result(d)["verdict"]["method"] = "magic"; }},
      {"bad method in methods", r + "/verdict/methods/1", "enum",
       [&](json& d) { result(d)["verdict"]["methods"][1] = "magic"; }},
      {"failure not in the vocabulary", r + "/paths/direct/queries/1/failure", "enum",
       [&](json& d) { result(d)["paths"]["direct"]["queries"][1]["failure"] = "timeout"; }},
      {"unknown_failure without detail", r + "/paths/direct/queries/1/failure", "pattern",
       [&](json& d) { result(d)["paths"]["direct"]["queries"][1]["failure"] = "unknown_failure"; }},
      {"step failure not in the vocabulary", r + "/paths/direct/endpoints/0/tcp/failure", "enum",
       [&](json& d) { result(d)["paths"]["direct"]["endpoints"][0]["tcp"]["failure"] = "reset"; }},
      {"port out of range", "results/0/port", "maximum", [](json& d) { d["results"][0]["port"] = 70000; }},
      {"unknown endpoint field", r + "/paths/direct/endpoints/0", "additionalProperties",
       [&](json& d) { result(d)["paths"]["direct"]["endpoints"][0]["rtt"] = 1; }},
      {"header not a pair", r + "/paths/direct/endpoints/0/http/headers/0", "minItems",
       [&](json& d) { result(d)["paths"]["direct"]["endpoints"][0]["http"]["headers"][0] = {"a"}; }},
      {"started_at not RFC 3339 UTC", "started_at", "pattern",
       [](json& d) { d["started_at"] = "2026-11-28 18:10:46"; }},
      {"credentials in a path", "paths/1", "additionalProperties", [](json& d) { d["paths"][1]["password"] = "hunter2"; }},
      {"unknown option", "options", "additionalProperties", [](json& d) { d["options"]["proxy_password"] = "x"; }},
      {"missing verdict", r, "required", [&](json& d) { result(d).erase("verdict"); }},
      {"bad run id", "run_id", "pattern", [](json& d) { d["run_id"] = "xyz"; }},
      {"count not an integer", "apps/signal/blocked", "type", [](json& d) { d["apps"]["signal"]["blocked"] = "1"; }},
  };
  std::vector<std::string> files;
  for (std::size_t i = 0; i < mutations.size(); ++i) {
    json copy = good;
    mutations[i].apply(copy);
    const bool changed = copy != good;  // not in the assertion: a reporter would print both documents
    REQUIRE(changed);
    files.push_back(
        dir.write("bad-" + std::to_string(i) + ".json", copy.dump(1, ' ', false, json::error_handler_t::replace)).string());
  }
  const auto errors = probe::test::schema_errors(files);
  for (std::size_t i = 0; i < mutations.size(); ++i) {
    const Mutation& mutation = mutations[i];
    INFO(mutation.name << ": want " << mutation.keyword << " at '" << mutation.path << "'");
    bool named_rule = false;
    for (const auto& error : errors[i]) {
      INFO("error: " << error.keyword << " at '" << error.path << "'");
      named_rule = named_rule || (error.path == mutation.path && error.keyword == mutation.keyword);
      // Anything else is the other branch of an anyOf on the way down (a verdict or a failure that
      // may be null), never a rule the mutation did not mean to break, such as a missing field.
      CHECK((error.path == mutation.path || (error.keyword == "type" && at_or_above(error.path, mutation.path))));
    }
    CHECK(named_rule);
  }
  // and the unmutated document passes, so the rejections are the mutations' doing.
  CHECK(validates({dir.write("good.json", good.dump(1, ' ', false, json::error_handler_t::replace)).string()}));
}

TEST_CASE("invalid UTF-8 from the network is written safely", "[report]") {
  const std::string text = serialize(full_report());
  // Replaced, not dropped: U+FFFD marks where the bad bytes were.
  CHECK(text.find("\xef\xbf\xbd not UTF-8") != std::string::npos);
  CHECK(text.find("weird \xef\xbf\xbd error") != std::string::npos);
  CHECK(text.find('\xff') == std::string::npos);
  const json reparsed = json::parse(text);  // strict parser: throws on invalid UTF-8
  CHECK(reparsed["results"][1]["paths"]["direct"]["endpoints"][0]["http"]["title"] == "caf\xef\xbf\xbd \xef\xbf\xbd(");
}

TEST_CASE("report content follows the contract", "[report]") {
  const json report = to_json(full_report());
  CHECK(report["schema_version"] == 2);
  CHECK(report["started_at"] == "2025-11-28T18:10:46Z");
  CHECK(report["finished_at"] == "2025-11-28T18:10:58Z");
  CHECK(report["interrupted"] == false);
  // Results are sorted (app, host, ...), so reports of the same lists diff cleanly.
  CHECK(report["results"][0]["host"] == "edge-mqtt.facebook.com");
  CHECK(report["results"][1]["host"] == "chat.signal.org");
  CHECK(report["results"][2]["host"] == "uptime.signal.org");
  CHECK(report["results"][1]["url"] == "https://chat.signal.org/");
  CHECK(report["results"][2]["url"] == nullptr);
  CHECK(report["results"][2]["port"] == nullptr);
  CHECK(report["results"][2]["verdict"] == nullptr);
  CHECK(report["results"][0]["url"] == "tcp://edge-mqtt.facebook.com:5222");
  const json& direct = report["results"][1]["paths"]["direct"];
  CHECK(direct["queries"][1]["failure"] == "generic_timeout_error");
  // In memory the bytes are as received; they are replaced only when written.
  CHECK(direct["endpoints"][2]["tls"]["failure"].get<std::string>() == "unknown_failure: weird \xff error");
  CHECK(direct["endpoints"][1]["not_tested"] == "no IPv6 route on this path");
  CHECK(direct["endpoints"][0]["tcp"]["failure"] == nullptr);
  // Per-app counts, with targets that have no verdict yet counted as unjudged.
  CHECK(report["apps"]["signal"]["targets"] == 2);
  CHECK(report["apps"]["signal"]["blocked"] == 1);
  CHECK(report["apps"]["signal"]["unjudged"] == 1);
  CHECK(report["apps"]["signal"]["methods"] == json({"dns", "tls"}));
  CHECK(report["apps"]["facebook"]["unjudged"] == 1);
  // A list's full path could name the local user: only the file name is recorded.
  CHECK(report["target_lists"][0]["file"] == "signal.json");
  CHECK(report["target_lists"][0]["targets"] == 1);
  CHECK(serialize(full_report()) == serialize(full_report()));
}

TEST_CASE("run ids are random hex", "[report]") {
  const std::string a = new_run_id();
  const std::string b = new_run_id();
  CHECK(std::regex_match(a, std::regex("[0-9a-f]{32}")));
  CHECK(a != b);
}

TEST_CASE("base64 encoding", "[report]") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("foob") == "Zm9vYg==");
  CHECK(base64_encode(std::string("\xff\x00\x10", 3)) == "/wAQ");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("the example in reports/README.md follows the schema", "[report][schema]") {
  const std::string readme = read_file(std::string(PROBE_SOURCE_DIR) + "/reports/README.md");
  const auto start = readme.find("```json\n");
  REQUIRE(start != std::string::npos);
  const auto end = readme.find("```", start + 8);
  REQUIRE(end != std::string::npos);
  TempDir dir;
  const auto example = dir.write("example.json", readme.substr(start + 8, end - start - 8));
  CHECK(validates({example.string()}));
}

TEST_CASE("the report is written one result at a time, as the same text as the whole document", "[report]") {
  const auto whole = [](const Report& report) {
    return to_json(report).dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  };
  Report report = full_report();
  auto scrubber = std::make_shared<Scrubber>();
  scrubber->add_address("192.0.2.1");
  report.scrubber = scrubber;
  const std::string text = serialize(report);
  CHECK(text == whole(report));
  CHECK(text.find("192.0.2.1") == std::string::npos);
  CHECK(json::parse(text)["results"].size() == 3);

  report.results.resize(1);
  CHECK(serialize(report) == whole(report));
  report.results.clear();
  CHECK(serialize(report) == whole(report));
  CHECK(json::parse(serialize(report))["results"] == json::array());
}
