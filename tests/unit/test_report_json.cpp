#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "model/report_json.hpp"
#include "support/reports.hpp"
#include "support/run_command.hpp"
#include "support/temp_dir.hpp"

// model/report_json.hpp: a result is written and read in one place. What the writer writes reads
// back to the same JSON; every report fixture (schema_version 1) reads back with nothing lost; and
// a field of the wrong type is exit 65 naming the file and the field, in the library and in the
// commands that read reports (diff, export).
using nlohmann::json;
using namespace probe;
using probe::test::report_fixture;
using probe::test::run_probe;
using probe::test::TempDir;

namespace {

// A result with every optional part present, so the round trip covers every field.
TargetResult full_result() {
  TargetResult result;
  result.target.app = "signal";
  result.target.host = "chat.example.org";
  result.target.port = 8443;
  result.target.kind = Kind::https;
  result.target.path = "/v1/x?y=1";
  DnsQuery query;
  query.resolver = "system";
  query.type = "A";
  query.rcode = "NOERROR";
  query.answers = {{"CNAME", "edge.example.net", 30, false}, {"A", "192.0.2.7", 60, false}};
  query.cname_chain = {"edge.example.net"};
  query.t0_ms = 1.5;
  query.duration_ms = 2.25;
  query.raw_base64 = "AAEC";
  DnsQuery failed = query;
  failed.type = "AAAA";
  failed.answers.clear();
  failed.failure = FailureInfo{Failure::unknown_failure, "resolver said: no"};
  EndpointObservation endpoint;
  endpoint.address = "192.0.2.7";
  endpoint.port = 8443;
  endpoint.sources = {"direct", "control"};
  endpoint.tcp = TcpObservation{};
  endpoint.tcp->t0_ms = 3;
  TlsObservation tls;
  tls.t0_ms = 4;
  tls.duration_ms = 5;
  tls.sni = "chat.example.org";
  tls.version = "TLSv1.3";
  tls.cipher = "TLS_AES_128_GCM_SHA256";
  tls.alpn = "http/1.1";
  tls.verified = true;
  tls.chain = {{"CN=chat.example.org", "CN=Example CA", "ab12", ""}};
  tls.root = "CN=Example Root";
  tls.bytes_received = 4000;
  tls.bytes_sent = 600;
  tls.idle_ms = 12;
  endpoint.tls = tls;
  endpoint.decoy_tls = tls;
  endpoint.decoy_tls->decoy_sni = true;
  endpoint.decoy_tls->failure = FailureInfo{Failure::connection_reset, ""};
  HttpObservation http;
  http.failure = FailureInfo{Failure::generic_timeout_error, ""};
  http.status = 200;
  http.headers = {{"Content-Type", "text/html"}, {"Server", "x"}};
  http.title = "Signal";
  http.body_length = 1234;
  http.body_sha256 = "cd34";
  http.body_stop = "stalled";
  http.bytes = 1234;
  http.bytes_received = 2000;
  http.bytes_sent = 300;
  http.idle_ms = 6000;
  http.location = "https://elsewhere.example/";
  endpoint.http = http;
  endpoint.retest = RetestObservation{};
  endpoint.retest->step = "http";
  endpoint.retest->budget_ms = 10000;
  endpoint.retest->failure = FailureInfo{Failure::generic_timeout_error, ""};
  ThroughputObservation throughput;
  RateSample sample;
  sample.bytes = 65536;
  sample.rate = 12000;
  sample.body_stop = "cap";
  throughput.sample = sample;
  throughput.handshake = sample;
  throughput.decoy_handshake = sample;
  throughput.decoy_sample = sample;
  endpoint.throughput = throughput;
  endpoint.residual = true;
  EndpointObservation skipped;
  skipped.address = "2001:db8::7";
  skipped.port = 8443;
  skipped.family = 6;
  skipped.not_tested = "no IPv6 route";
  result.paths["direct"].queries = {query, failed};
  result.paths["direct"].endpoints = {endpoint, skipped};
  result.paths["control"].queries = {query};
  Verdict verdict;
  verdict.status = Status::restricted;
  verdict.method = "http";
  verdict.methods = {"http"};
  verdict.detail = "stalled";
  verdict.evidence = {"direct 192.0.2.7:8443 http 200 body stalled"};
  verdict.signatures = {Signature::stalled, Signature::residual};
  result.verdict = verdict;
  return result;
}

// Whether every member `original` has is in `written` with the same value (arrays element by
// element): what an older writer wrote, the reader kept.
bool keeps(const json& original, const json& written) {
  if (original.is_object()) {
    if (!written.is_object()) {
      return false;
    }
    for (const auto& [key, value] : original.items()) {
      if (!written.contains(key) || !keeps(value, written[key])) {
        UNSCOPED_INFO("lost or changed: " << key);
        return false;
      }
    }
    return true;
  }
  if (original.is_array()) {
    if (!written.is_array() || written.size() != original.size()) {
      return false;
    }
    for (std::size_t i = 0; i < original.size(); ++i) {
      if (!keeps(original[i], written[i])) {
        return false;
      }
    }
    return true;
  }
  return original == written;
}

std::string read_error(const json& result) {
  try {
    result_from_json(result, "r.json: results/0");
  } catch (const UserError& error) {
    CHECK(error.exit_code() == 65);
    return error.what();
  }
  return "";
}

}  // namespace

TEST_CASE("report JSON: a result written, read back and written again is the same JSON", "[report_json]") {
  const TargetResult result = full_result();
  const json written = result_to_json(result, result.verdict);
  const TargetResult read = result_from_json(written, "full: results/0");
  CHECK(result_to_json(read, read.verdict) == written);
  CHECK(read.target.url() == "https://chat.example.org:8443/v1/x?y=1");
  REQUIRE(read.verdict);
  CHECK(read.verdict->signatures == result.verdict->signatures);
  CHECK(read.paths.at("direct").queries[1].failure->detail == "resolver said: no");

  TargetResult unjudged = result;
  unjudged.verdict.reset();
  const json bare = result_to_json(unjudged, std::nullopt);
  CHECK(bare["verdict"].is_null());
  CHECK_FALSE(result_from_json(bare, "bare: results/0").verdict);
}

TEST_CASE("report JSON: every result of every report fixture reads back with nothing lost", "[report_json]") {
  for (const char* name : {"01-open.json", "02-sni-reset.json", "03-ip-blackhole.json.gz", "04-mixed.json",
                           "05-open.json"}) {
    const json report = report_fixture(name);
    for (std::size_t i = 0; i < report["results"].size(); ++i) {
      INFO(name << " result " << i);
      const json& original = report["results"][i];
      const TargetResult read = result_from_json(original, std::string(name) + ": results/" + std::to_string(i));
      CHECK(keeps(original, result_to_json(read, read.verdict)));
    }
  }
}

TEST_CASE("report JSON: a field of the wrong type is exit 65 naming the field", "[report_json][hostile]") {
  const json good = result_to_json(full_result(), full_result().verdict);
  REQUIRE(read_error(good).empty());
  struct Case {
    std::string pointer;
    json value;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"", nullptr, "r.json: results/0: expected an object, got null"},
      {"/app", 5, "r.json: results/0/app: expected a string, got 5"},
      {"/kind", 3, "r.json: results/0/kind: expected a string, got 3"},
      {"/kind", "carrier-pigeon", "r.json: results/0/kind: expected a kind"},
      {"/port", 70000, "r.json: results/0/port: expected a whole number from 0 to 65535"},
      {"/paths", json::array(), "r.json: results/0/paths: expected an object"},
      {"/paths/direct", nullptr, "r.json: results/0/paths/direct: expected an object, got null"},
      {"/paths/direct", "x", "r.json: results/0/paths/direct: expected an object"},
      {"/paths/direct/queries", json::object(), "r.json: results/0/paths/direct/queries: expected an array"},
      {"/paths/direct/queries/0/t0_ms", "s", "r.json: results/0/paths/direct/queries/0/t0_ms: expected a number"},
      {"/paths/direct/queries/0/answers/1/ttl", -1, "answers/1/ttl: expected a whole number"},
      {"/paths/direct/endpoints/0", 7, "r.json: results/0/paths/direct/endpoints/0: expected an object, got 7"},
      {"/paths/direct/endpoints/0/tcp", "ok", "endpoints/0/tcp: expected an object"},
      {"/paths/direct/endpoints/0/tcp/failure", 5, "endpoints/0/tcp/failure: expected a string, got 5"},
      {"/paths/direct/endpoints/0/tls/failure", "connection_lost",
       "endpoints/0/tls/failure: expected a failure string"},
      {"/paths/direct/endpoints/0/tls/duration_ms", "s", "endpoints/0/tls/duration_ms: expected a number"},
      {"/paths/direct/endpoints/0/http/headers/0", "Server: x", "http/headers/0: expected a [name, value] pair"},
      {"/paths/direct/endpoints/0/throughput/sample", 1, "throughput/sample: expected an object"},
      {"/paths/direct/endpoints/0/residual", "yes", "endpoints/0/residual: expected true or false"},
      {"/verdict", "blocked", "r.json: results/0/verdict: expected an object"},
      {"/verdict/status", "censored", "verdict/status: expected a status"},
      {"/verdict/signatures/0", "dpi", "verdict/signatures/0: expected a signature"},
      {"/verdict/evidence", "x", "verdict/evidence: expected an array of strings"},
  };
  for (const Case& bad : cases) {
    INFO(bad.pointer << " = " << bad.value.dump());
    json result = good;
    result[json::json_pointer(bad.pointer)] = bad.value;
    CHECK_THAT(read_error(result), Catch::Contains(bad.message));
  }
}

TEST_CASE("report JSON: diff and export exit 65 naming the file and the field of a damaged report",
          "[report_json][hostile][analyst]") {
  TempDir dir;
  json report = report_fixture("01-open.json");
  report["results"][0]["paths"]["direct"] = nullptr;
  const std::string damaged = dir.write("damaged.json", report.dump()).string();
  json other = report_fixture("01-open.json");
  other["results"][2]["paths"]["direct"]["endpoints"][0]["tcp"]["duration_ms"] = "s";
  const std::string typo = dir.write("typo.json", other.dump()).string();
  const std::string good = (probe::test::k_report_fixtures / "01-open.json").string();
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"diff", good, damaged},
                                             {"export", "--format", "ooni", damaged},
                                             {"export", "--format", "csv", damaged}}) {
    INFO(args[0] << " " << args[1]);
    const auto ran = run_probe(args);
    CHECK(ran.exit_code == 65);
    CHECK_THAT(ran.err, Catch::Contains("damaged.json: results/0/paths/direct: expected an object, got null"));
  }
  const auto ran = run_probe({"diff", typo, good});
  CHECK(ran.exit_code == 65);
  CHECK_THAT(ran.err, Catch::Contains("typo.json: results/2/paths/direct/endpoints/0/tcp/duration_ms: expected a number"));
}
