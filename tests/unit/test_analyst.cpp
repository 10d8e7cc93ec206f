#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analyst/ooni_export.hpp"
#include "analyst/summary.hpp"
#include "store/history.hpp"
#include "store/report_reader.hpp"
#include "store/retention.hpp"
#include "store/row_scanner.hpp"
#include "store/sqlite_db.hpp"
#include "support/mock_dns.hpp"
#include "support/reports.hpp"
#include "support/run_command.hpp"
#include "support/temp_dir.hpp"

using nlohmann::json;
using probe::test::report_fixture;
using probe::test::run_probe;
using probe::test::TempDir;
namespace fs = std::filesystem;

namespace {

const fs::path& k_fixtures = probe::test::k_report_fixtures;
const std::vector<std::string> k_fixture_names = {"01-open.json", "02-sni-reset.json", "03-ip-blackhole.json.gz",
                                                  "04-mixed.json", "05-open.json"};

std::string key_of(const json& result) {
  return result["app"].get<std::string>() + "|" + result["host"].get<std::string>() + "|" + result["port"].dump() +
         "|" + result["kind"].get<std::string>() + "|" + result["url"].dump();
}

// The expected (target, field) changes, computed here from the JSON on its own terms: verdict
// status and method; the set of direct A/AAAA answers; the HTTP statuses on direct.
std::set<std::string> expected_changes(const json& old_report, const json& new_report) {
  auto fields = [](const json& result) {
    std::map<std::string, json> out;
    out["status"] = result["verdict"]["status"];
    out["method"] = result["verdict"]["method"];
    std::set<std::string> answers;
    std::set<long long> statuses;
    for (const auto& query : result["paths"]["direct"]["queries"]) {
      for (const auto& answer : query["answers"]) {
        if (answer["type"] == "A" || answer["type"] == "AAAA") {
          answers.insert(answer["value"].get<std::string>());
        }
      }
    }
    for (const auto& endpoint : result["paths"]["direct"]["endpoints"]) {
      const auto& sources = endpoint["sources"];
      const bool own = sources.empty() || std::find(sources.begin(), sources.end(), json("direct")) != sources.end();
      if (own && endpoint["http"].is_object() && endpoint["http"]["status"].is_number()) {
        statuses.insert(endpoint["http"]["status"].get<long long>());
      }
    }
    out["dns_answers"] = answers;
    out["http_status"] = statuses;
    return out;
  };
  std::map<std::string, const json*> before;
  for (const auto& result : old_report["results"]) {
    before[key_of(result)] = &result;
  }
  std::set<std::string> changes;
  for (const auto& result : new_report["results"]) {
    const auto a = fields(*before.at(key_of(result)));
    const auto b = fields(result);
    for (const auto& [name, value] : a) {
      if (b.at(name) != value) {
        changes.insert(key_of(result) + "#" + name);
      }
    }
  }
  return changes;
}

std::string fixture_path(const std::string& name) { return (k_fixtures / name).string(); }

}  // namespace

TEST_CASE("diff of 01-open and 04-mixed finds exactly the changes the fixtures hold", "[analyst][diff]") {
  const auto result = run_probe({"diff", "--json", fixture_path("01-open.json"), fixture_path("04-mixed.json")});
  REQUIRE(result.exit_code == 1);
  const json diff = json::parse(result.out);
  CHECK(diff["added"].empty());
  CHECK(diff["removed"].empty());
  std::set<std::string> found;
  std::set<std::string> changed_targets;
  for (const auto& target : diff["changed"]) {
    changed_targets.insert(key_of(target));
    for (const auto& change : target["changes"]) {
      CHECK(change["old"] != change["new"]);
      const std::string field = change["field"];
      if (field != "failing_step" && field != "http_title") {
        found.insert(key_of(target) + "#" + field);
      }
    }
  }
  CHECK(found == expected_changes(report_fixture("01-open.json"), report_fixture("04-mixed.json")));
  CHECK(diff["unchanged"].get<std::size_t>() + changed_targets.size() == 11);

  // The failing step on direct, for the targets the mixed scenario blocks its own way.
  std::map<std::string, std::string> steps;
  for (const auto& target : diff["changed"]) {
    for (const auto& change : target["changes"]) {
      if (change["field"] == "failing_step") {
        CHECK(change["old"].is_null());
        steps[target["host"].get<std::string>() + " " + target["kind"].get<std::string>()] = change["new"];
      }
    }
  }
  CHECK(steps.at("chat.signal.org https") == "tls connection_reset");
  CHECK(steps.at("www.facebook.com https") == "dns dns_nxdomain_error");
  CHECK(steps.at("x.com https") == "tcp generic_timeout_error");

  // The human table says the same, one line per changed field.
  const auto table = run_probe({"diff", fixture_path("01-open.json"), fixture_path("04-mixed.json")});
  CHECK(table.exit_code == 1);
  CHECK(table.out.find("https://chat.signal.org/") != std::string::npos);
  CHECK(table.out.find("9 targets changed, 0 added, 0 removed, 2 unchanged") != std::string::npos);
}

TEST_CASE("diff of a report with itself exits 0, added and removed targets, bad input exits 64, 65, 66",
          "[analyst][diff]") {
  auto result = run_probe({"diff", fixture_path("03-ip-blackhole.json.gz"), fixture_path("03-ip-blackhole.json.gz")});
  CHECK(result.exit_code == 0);
  CHECK(result.out.find("0 targets changed, 0 added, 0 removed, 11 unchanged") != std::string::npos);

  TempDir dir;
  json fewer = report_fixture("01-open.json");
  fewer["results"].erase(0);
  const auto smaller = dir.write("smaller.json", fewer.dump());
  result = run_probe({"diff", "--json", fixture_path("01-open.json"), smaller.string()});
  CHECK(result.exit_code == 1);
  const json diff = json::parse(result.out);
  REQUIRE(diff["removed"].size() == 1);
  CHECK(diff["removed"][0]["host"] == "www.clubhouse.com");
  CHECK(diff["removed"][0]["fields"]["status"] == "accessible");
  CHECK(diff["added"].empty());

  json future = report_fixture("01-open.json");
  future["schema_version"] = 3;
  const auto unknown = dir.write("future.json", future.dump());
  result = run_probe({"diff", fixture_path("01-open.json"), unknown.string()});
  CHECK(result.exit_code == 65);
  CHECK(result.err.find(unknown.string()) != std::string::npos);
  CHECK(result.err.find("schema_version 3 is not supported (this probe reads schema_version 1 and 2)") !=
        std::string::npos);

  result = run_probe({"diff", fixture_path("01-open.json"), dir.write("bad.json", "{not json").string()});
  CHECK(result.exit_code == 65);
  result = run_probe({"diff", fixture_path("01-open.json"), (dir.path() / "missing.json").string()});
  CHECK(result.exit_code == 66);
  result = run_probe({"diff", fixture_path("01-open.json")});
  CHECK(result.exit_code == 64);
}

TEST_CASE("summary over the 5 fixtures: percent blocked is blocked tests over all tests of the window",
          "[analyst][summary]") {
  auto result = run_probe({"summary", k_fixtures.string(), "--since", "2026-01-01", "--format", "greatfire"});
  REQUIRE(result.exit_code == 0);
  const json summary = json::parse(result.out);
  REQUIRE(summary.size() == 11);
  std::map<std::string, json> by_target;
  for (const auto& entry : summary) {
    by_target[entry["host"].get<std::string>() + " " + entry["kind"].get<std::string>()] = entry;
    CHECK(entry["found"] == 5);
    CHECK(entry["first_tested"] == "2026-11-29T01:15:44Z");
    CHECK(entry["last_tested"] == "2026-11-29T01:15:59Z");
  }
  // Blocked by sni-reset (02) and mixed (04); accessible in the three others.
  const json& chat = by_target.at("chat.signal.org https");
  CHECK(chat["blocked"] == 2);
  CHECK(chat["accessible"] == 3);
  CHECK(chat["tests"] == 5);
  CHECK(chat["blocked_percent"] == 40.0);
  CHECK(chat["restricted_percent"] == 0.0);
  CHECK(chat["first_blocked"] == "2026-11-29T01:15:46Z");
  CHECK(chat["last_blocked"] == "2026-11-29T01:15:53Z");
  CHECK(chat["verdict"] == "not blocked");  // 2 of 5 tests: under half
  CHECK(chat["url"] == "https://chat.signal.org/");
  // Inconclusive in mixed (04): found, counted beside, not a test.
  const json& stun = by_target.at("stun.fbsbx.com stun");
  CHECK(stun["inconclusive"] == 1);
  CHECK(stun["accessible"] == 4);
  CHECK(stun["tests"] == 4);
  CHECK(stun["blocked_percent"] == 0.0);
  CHECK(stun["verdict"] == "not blocked");
  const json& uptime = by_target.at("uptime.signal.org dns");
  CHECK(uptime["port"].is_null());
  CHECK(uptime["url"].is_null());
}

TEST_CASE("summary denominator: blocked 2, inconclusive 1, accessible 2 is 2 of 4 tests, 50%, and none tested is "
          "not enough data",
          "[analyst][summary]") {
  TempDir dir;
  // The fixtures with chat.signal.org made inconclusive in 05 and stun.fbsbx.com in every run.
  for (const std::string& name : k_fixture_names) {
    json report = report_fixture(name);
    for (auto& result : report["results"]) {
      if ((name == "05-open.json" && result["host"] == "chat.signal.org") || result["host"] == "stun.fbsbx.com") {
        result["verdict"]["status"] = "inconclusive";
        result["verdict"]["method"] = nullptr;
      }
    }
    dir.write(probe::report_stem(name) + ".json", report.dump());
  }
  for (const std::string& source : {std::string("json"), std::string("index")}) {
    if (source == "index") {
      REQUIRE(run_probe({"history", "rebuild", "--out", dir.path().string()}).exit_code == 0);
      REQUIRE(probe::history_up_to_date(dir.path()));
    }
    INFO(source);
    const auto result = run_probe({"summary", dir.path().string(), "--since", "2026-01-01", "--format", "greatfire"});
    REQUIRE(result.exit_code == 0);
    for (const auto& entry : json::parse(result.out)) {
      if (entry["host"] == "chat.signal.org") {
        CHECK(entry["blocked"] == 2);
        CHECK(entry["inconclusive"] == 1);
        CHECK(entry["accessible"] == 2);
        CHECK(entry["found"] == 5);
        CHECK(entry["tests"] == 4);
        CHECK(entry["blocked_percent"] == 50.0);
        CHECK(entry["latest_status"] == "inconclusive");
        CHECK(entry["latest_method"].is_null());
        CHECK(entry["last_tested"] == "2026-11-29T01:15:53Z");  // 04: 05 was inconclusive, not a test
        CHECK(entry["verdict"] == "blocked");  // 2 of 4 tests: half
      }
      if (entry["host"] == "stun.fbsbx.com") {
        CHECK(entry["tests"] == 0);
        CHECK(entry["blocked_percent"].is_null());
        CHECK(entry["restricted_percent"].is_null());
        CHECK(entry["first_tested"].is_null());
        CHECK(entry["last_tested"].is_null());
        CHECK(entry["verdict"] == "not enough data");
        CHECK(entry["inconclusive"] == 5);
      }
    }
  }
}

TEST_CASE("summary blocked percent is blocked over tests: anomaly, inconclusive, unjudged and interrupted runs are "
          "not tests, down runs are",
          "[analyst][summary]") {
  TempDir dir;
  // Nine runs of chat.signal.org, one of each status, three blocked, and last a run interrupted
  // after chat.signal.org was judged blocked. Tests: accessible, the three blocked, down: 3 of 5 is
  // 60%, where the formulas one might write by mistake give other numbers (blocked / (blocked +
  // accessible) 75%, over all runs 33.3%, the interrupted run a test 66.7%, anomaly a test 50%).
  const std::vector<std::string> statuses = {"accessible", "blocked", "down",        "blocked", "anomaly",
                                             "blocked",    "inconclusive", "",         "blocked"};
  const json base = report_fixture("02-sni-reset.json");
  for (std::size_t i = 0; i < statuses.size(); ++i) {
    json report = base;
    report["run_id"] = std::string(31, '0') + std::to_string(i);
    report["started_at"] = "2026-11-29T02:0" + std::to_string(i) + ":00Z";
    report["finished_at"] = "2026-11-29T02:0" + std::to_string(i) + ":30Z";
    report["interrupted"] = i == 8;
    for (auto& result : report["results"]) {
      if (result["host"] != "chat.signal.org") {
        continue;
      }
      if (statuses[i].empty()) {
        result["verdict"] = nullptr;  // unjudged: the run ended before its verdict
      } else {
        result["verdict"]["status"] = statuses[i];
        result["verdict"]["method"] = statuses[i] == "blocked" ? json("tls") : json();
      }
    }
    dir.write("run-" + std::to_string(i) + ".json", report.dump());
  }
  for (const std::string& source : {std::string("json"), std::string("index")}) {
    if (source == "index") {
      REQUIRE(run_probe({"history", "rebuild", "--out", dir.path().string()}).exit_code == 0);
      REQUIRE(probe::history_up_to_date(dir.path()));
    }
    INFO(source);
    const auto result = run_probe({"summary", dir.path().string(), "--since", "2026-01-01", "--format", "greatfire"});
    REQUIRE(result.exit_code == 0);
    bool seen = false;
    for (const auto& entry : json::parse(result.out)) {
      if (entry["host"] != "chat.signal.org") {
        CHECK(entry["interrupted"] == 1);  // every target of the interrupted run
        CHECK(entry["tests"] == 8);
        continue;
      }
      seen = true;
      CHECK(entry["found"] == 9);
      CHECK(entry["tests"] == 5);
      CHECK(entry["blocked"] == 3);
      CHECK(entry["accessible"] == 1);
      CHECK(entry["down"] == 1);
      CHECK(entry["anomaly"] == 1);
      CHECK(entry["inconclusive"] == 1);
      CHECK(entry["unjudged"] == 1);
      CHECK(entry["interrupted"] == 1);
      CHECK(entry["blocked_percent"] == 60.0);
      CHECK(entry["first_tested"] == "2026-11-29T02:00:00Z");
      CHECK(entry["last_tested"] == "2026-11-29T02:05:00Z");
      CHECK(entry["last_blocked"] == "2026-11-29T02:05:00Z");  // not the interrupted run's
      CHECK(entry["verdict"] == "blocked");                    // 3 of 5 tests
      CHECK(entry["latest_status"] == "blocked");              // the interrupted run, the latest of all
      CHECK(entry["latest_method"] == "tls");
    }
    CHECK(seen);
  }
}

TEST_CASE("summary filters (--since, --app), --by, and the csv and table formats", "[analyst][summary]") {
  // 04-mixed started at 01:15:53: --since after it leaves only 05-open.
  auto result = run_probe({"summary", k_fixtures.string(), "--since", "2026-11-29T01:15:54Z", "--format", "greatfire"});
  REQUIRE(result.exit_code == 0);
  for (const auto& entry : json::parse(result.out)) {
    CHECK(entry["found"] == 1);
    CHECK(entry["blocked"] == 0);
  }
  // The default window is the last 30 days: a run long ago is left out.
  TempDir dir;
  json old = report_fixture("02-sni-reset.json");
  old["started_at"] = "2020-01-01T00:00:00Z";
  dir.write("old.json", old.dump());
  result = run_probe({"summary", dir.path().string(), "--format", "csv"});
  CHECK(result.exit_code == 0);
  CHECK(result.out.find("signal") == std::string::npos);

  result = run_probe({"summary", k_fixtures.string(), "--since", "2026-01-01", "--app", "twitter", "--format", "csv"});
  REQUIRE(result.exit_code == 0);
  std::istringstream lines(result.out);
  std::string line;
  std::getline(lines, line);
  CHECK(line == "url,host,app,port,kind,found,tests,blocked,restricted,accessible,down,anomaly,inconclusive,unjudged,"
                "interrupted,blocked_percent,restricted_percent,first_tested,last_tested,first_blocked,last_blocked,"
                "verdict,latest_status,latest_method\r");
  std::vector<std::string> rows;
  while (std::getline(lines, line)) {
    rows.push_back(line);
  }
  REQUIRE(rows.size() == 2);
  // Blocked in 03 and 04 of the five: 2 of 5 tests.
  CHECK(rows[0] == "https://api.x.com/,api.x.com,twitter,443,https,5,5,2,0,3,0,0,0,0,0,40.0,0.0,2026-11-29T01:15:44Z,"
                   "2026-11-29T01:15:59Z,2026-11-29T01:15:47Z,2026-11-29T01:15:53Z,not blocked,accessible,\r");

  result = run_probe({"summary", k_fixtures.string(), "--since", "2026-01-01", "--by", "asn", "--app", "signal"});
  REQUIRE(result.exit_code == 0);
  CHECK(result.out.rfind("asn ", 0) == 0);
  CHECK(result.out.find("AS64500  signal") != std::string::npos);
  CHECK(result.out.find("40.0") != std::string::npos);

  CHECK(run_probe({"summary", k_fixtures.string(), "--since", "yesterday"}).exit_code == 64);
  CHECK(run_probe({"summary", k_fixtures.string(), "--format", "xml"}).exit_code == 64);
  CHECK(run_probe({"summary", (dir.path() / "missing").string()}).exit_code == 66);
}

namespace {

// One run of https://chat.signal.org/ per status, a minute apart from 03:00: "" for a run that did
// not judge it, "interrupted" for a run interrupted after judging it blocked.
std::vector<probe::RunRow> window(const std::vector<std::string>& statuses) {
  std::vector<probe::RunRow> rows;
  for (std::size_t i = 0; i < statuses.size(); ++i) {
    const std::string minute = (i < 10 ? "0" : "") + std::to_string(i);
    probe::RunRow row;
    row.run_id = "run-" + minute;
    row.started_at = "2026-11-29T03:" + minute + ":00Z";
    row.key = {"signal", "chat.signal.org", 443, "https", "https://chat.signal.org/"};
    if (statuses[i] == "interrupted") {
      row.interrupted = true;
      row.status = "blocked";
      row.method = "tls";
    } else if (!statuses[i].empty()) {
      row.status = statuses[i];
      row.method = statuses[i] == "blocked" ? std::optional<std::string>("tls") : std::nullopt;
    }
    rows.push_back(row);
  }
  return rows;
}

// The window's greatfire entry (one target, no --by).
json greatfire_entry(const std::vector<std::string>& statuses) {
  const auto entries = probe::greatfire_json(probe::summarise(window(statuses), ""), "");
  REQUIRE(entries.size() == 1);
  return json::parse(entries[0].dump());
}

}  // namespace

TEST_CASE("summary counts as GreatFire: 5 blocked, 2 restricted, 3 accessible of 10 tests are 50% and 20%, "
          "blocked, whatever else the window holds",
          "[analyst][summary]") {
  // Fourteen runs: the ten tests of GreatFire's example and one of each run that is not a test.
  // Worked by hand: found 14, tests 10 (5 blocked, 2 restricted, 3 accessible), beside them
  // 1 anomaly, 1 inconclusive, 1 unjudged, 1 interrupted; blocked 5/10 = 50.0%, restricted
  // 2/10 = 20.0%; 5 blocked of 10 is half: "blocked". (blocked / (blocked + accessible) was 62.5%.)
  const json entry = greatfire_entry({"accessible", "blocked", "inconclusive", "blocked", "restricted", "anomaly",
                                      "blocked", "accessible", "", "blocked", "restricted", "interrupted", "blocked",
                                      "accessible"});
  CHECK(entry["found"] == 14);
  CHECK(entry["tests"] == 10);
  CHECK(entry["blocked"] == 5);
  CHECK(entry["restricted"] == 2);
  CHECK(entry["accessible"] == 3);
  CHECK(entry["down"] == 0);
  CHECK(entry["anomaly"] == 1);
  CHECK(entry["inconclusive"] == 1);
  CHECK(entry["unjudged"] == 1);
  CHECK(entry["interrupted"] == 1);
  CHECK(entry["blocked_percent"] == 50.0);
  CHECK(entry["restricted_percent"] == 20.0);
  CHECK(entry["verdict"] == "blocked");
  CHECK(entry["first_tested"] == "2026-11-29T03:00:00Z");
  CHECK(entry["last_tested"] == "2026-11-29T03:13:00Z");
  CHECK(entry["first_blocked"] == "2026-11-29T03:01:00Z");
  CHECK(entry["last_blocked"] == "2026-11-29T03:12:00Z");  // the interrupted run's blocked (03:11) is not a test
  CHECK(entry["latest_status"] == "accessible");
  CHECK(entry["latest_method"].is_null());
}

TEST_CASE("summary of accessible, blocked, blocked, down is 2 of 4 tests: 50% and blocked, over the window not "
          "the latest run",
          "[analyst][summary]") {
  json entry = greatfire_entry({"accessible", "blocked", "blocked", "down"});
  CHECK(entry["tests"] == 4);
  CHECK(entry["blocked_percent"] == 50.0);  // not 66.7: down is a test
  CHECK(entry["restricted_percent"] == 0.0);
  CHECK(entry["verdict"] == "blocked");
  CHECK(entry["latest_status"] == "down");
  // The latest run blocked, the window not: 1 of 4.
  entry = greatfire_entry({"accessible", "accessible", "down", "blocked"});
  CHECK(entry["blocked_percent"] == 25.0);
  CHECK(entry["verdict"] == "not blocked");
  CHECK(entry["latest_status"] == "blocked");
}

TEST_CASE("summary with no test (inconclusive, anomaly, unjudged, interrupted runs only) has null percents and "
          "not enough data",
          "[analyst][summary]") {
  const json entry = greatfire_entry({"inconclusive", "anomaly", "", "interrupted"});
  CHECK(entry["found"] == 4);
  CHECK(entry["tests"] == 0);
  CHECK(entry["interrupted"] == 1);
  CHECK(entry["blocked"] == 0);
  CHECK(entry["blocked_percent"].is_null());
  CHECK(entry["restricted_percent"].is_null());
  CHECK(entry["first_tested"].is_null());
  CHECK(entry["last_tested"].is_null());
  CHECK(entry["first_blocked"].is_null());
  CHECK(entry["verdict"] == "not enough data");
  CHECK(entry["latest_status"] == "blocked");  // the interrupted run is the latest run
  CHECK(entry["latest_method"] == "tls");
  const auto summaries = probe::summarise(window({"inconclusive", "anomaly", "", "interrupted"}), "");
  CHECK(probe::render_summary_table(summaries, "").find("not enough data") != std::string::npos);
  // found 4, tests and the four test counts 0, the four others 1, six empty fields (percents and times).
  const std::string row = "https,4,0,0,0,0,0,1,1,1,1," + std::string(6, ',') + "not enough data,blocked,tls\r\n";
  CHECK(probe::render_summary_csv(summaries, "").find(row) != std::string::npos);
}

TEST_CASE("summary verdict restricted: blocked and restricted tests together at least half, blocked alone under",
          "[analyst][summary]") {
  // 1 blocked, 2 restricted, 3 accessible: 1/6 = 16.7%, 2/6 = 33.3%, 3 of 6 blocked or restricted.
  json entry = greatfire_entry({"blocked", "restricted", "accessible", "restricted", "accessible", "accessible"});
  CHECK(entry["tests"] == 6);
  CHECK(entry["blocked_percent"] == 16.7);
  CHECK(entry["restricted_percent"] == 33.3);
  CHECK(entry["verdict"] == "restricted");
  const auto summaries =
      probe::summarise(window({"blocked", "restricted", "accessible", "restricted", "accessible", "accessible"}), "");
  const std::string table = probe::render_summary_table(summaries, "");
  CHECK(table.find("16.7") != std::string::npos);
  CHECK(table.find("33.3") != std::string::npos);
  CHECK(table.find("restricted") != std::string::npos);
  // Restricted alone, under half: 2 of 5.
  entry = greatfire_entry({"restricted", "accessible", "restricted", "accessible", "accessible"});
  CHECK(entry["restricted_percent"] == 40.0);
  CHECK(entry["verdict"] == "not blocked");
}

TEST_CASE("summary verdict not blocked: blocked and restricted tests together under half", "[analyst][summary]") {
  // 1 blocked, 1 restricted, 3 accessible: 20% and 20%, 2 of 5 under half; the inconclusive run
  // would make it half if it were a test.
  const json entry = greatfire_entry({"blocked", "accessible", "restricted", "inconclusive", "accessible",
                                      "accessible"});
  CHECK(entry["tests"] == 5);
  CHECK(entry["blocked_percent"] == 20.0);
  CHECK(entry["restricted_percent"] == 20.0);
  CHECK(entry["verdict"] == "not blocked");
}

TEST_CASE("summary greatfire fields and csv columns are these, in this order, with the group first with --by",
          "[analyst][summary]") {
  const std::vector<std::string> fields = {
      "url",          "host",     "app",         "port",           "kind",           "found",
      "tests",        "blocked",  "restricted",  "accessible",     "down",           "anomaly",
      "inconclusive", "unjudged", "interrupted", "blocked_percent", "restricted_percent", "first_tested",
      "last_tested",  "first_blocked", "last_blocked", "verdict",   "latest_status",  "latest_method"};
  for (const std::string& by : {std::string(), std::string("vantage")}) {
    INFO(by);
    std::vector<std::string> args = {"summary", k_fixtures.string(), "--since", "2026-01-01", "--format", "greatfire"};
    std::vector<std::string> expected = fields;
    if (!by.empty()) {
      args.insert(args.end(), {"--by", by});
      expected.insert(expected.begin(), by);
    }
    auto result = run_probe(args);
    REQUIRE(result.exit_code == 0);
    const auto entries = nlohmann::ordered_json::parse(result.out);
    REQUIRE(entries.size() == 11);
    for (const auto& entry : entries) {
      std::vector<std::string> keys;
      for (const auto& item : entry.items()) {
        keys.push_back(item.key());
      }
      CHECK(keys == expected);
    }
    args[5] = "csv";
    result = run_probe(args);
    REQUIRE(result.exit_code == 0);
    std::string header;
    for (const std::string& field : expected) {
      header += (header.empty() ? "" : ",") + field;
    }
    CHECK(result.out.substr(0, result.out.find("\r\n")) == header);
  }
  const std::string table = probe::render_summary_table({}, "");
  CHECK(table.rfind("app  target  found  tests  blocked %  restricted %  verdict  blk  rst  acc  down  anom  inc  "
                    "unj  intr  first blocked  last blocked  last tested  latest",
                    0) == 0);
}

TEST_CASE("an interrupted report's rows say so from the scanner, the JSON reader and the history index alike",
          "[analyst][summary][history]") {
  json report = report_fixture("02-sni-reset.json");
  report["interrupted"] = true;
  const auto scanned = probe::scan_report_rows(report.dump(), "i.json", "i.json", false);
  REQUIRE(scanned);
  const auto parsed = probe::run_rows(report, "i.json");
  REQUIRE(scanned->rows.size() == 11);
  REQUIRE(parsed.size() == 11);
  for (std::size_t k = 0; k < parsed.size(); ++k) {
    CHECK(scanned->rows[k].interrupted);
    CHECK(parsed[k].interrupted);
  }
  TempDir dir;
  probe::index_report(dir.path(), report, "i.json");
  probe::index_report(dir.path(), report_fixture("01-open.json"), "01-open.json");
  std::size_t interrupted = 0;
  for (const probe::RunRow& row : probe::read_history(probe::history_path(dir.path()), {})) {
    CHECK(row.interrupted == (row.report_file == "i.json"));
    interrupted += row.interrupted ? 1 : 0;
  }
  CHECK(interrupted == 11);
  CHECK_FALSE(probe::run_rows(report_fixture("01-open.json"), "01-open.json")[0].interrupted);
}

TEST_CASE("a history index of layout 2 is out of date until rebuilt: it does not know which runs were interrupted",
          "[analyst][history]") {
  TempDir dir;
  json report = report_fixture("02-sni-reset.json");
  report["interrupted"] = true;
  dir.write("i.json", report.dump());
  {
    // The layout of version 2, as an older probe left it, having indexed i.json.
    probe::SqliteDb db(probe::history_path(dir.path()), true);
    db.exec(
        "CREATE TABLE files (stem TEXT PRIMARY KEY, file_name TEXT NOT NULL, run_id TEXT);"
        "CREATE TABLE results (run_id TEXT NOT NULL, started_at TEXT NOT NULL, vantage_id TEXT, asn TEXT, cc TEXT,"
        " app TEXT NOT NULL, host TEXT NOT NULL, port INTEGER, kind TEXT NOT NULL, url TEXT, status TEXT,"
        " method TEXT, report_file TEXT NOT NULL, signatures TEXT);"
        "INSERT INTO files VALUES ('i', 'i.json', '" +
        report["run_id"].get<std::string>() +
        "');"
        "INSERT INTO results VALUES ('" +
        report["run_id"].get<std::string>() +
        "', '2026-11-29T01:15:46Z', NULL, NULL, NULL, 'signal', 'chat.signal.org', 443, 'https', "
        "'https://chat.signal.org/', 'blocked', 'tls', 'i.json', '');"
        "PRAGMA user_version = 2;");
  }
  // Read, not written: its rows read as not interrupted, so the summary does not use it.
  CHECK_FALSE(probe::history_up_to_date(dir.path()));
  const auto read = probe::read_history(probe::history_path(dir.path()), {});
  REQUIRE(read.size() == 1);
  CHECK_FALSE(read[0].interrupted);
  const auto chat_of = [&dir]() {
    const auto result = run_probe({"summary", dir.path().string(), "--since", "2026-01-01", "--format", "greatfire",
                                   "--app", "signal"});
    REQUIRE(result.exit_code == 0);
    for (const json& entry : json::parse(result.out)) {
      if (entry["host"] == "chat.signal.org") {
        return entry;
      }
    }
    FAIL("no chat.signal.org");
    return json();
  };
  json chat = chat_of();
  CHECK(chat["interrupted"] == 1);
  CHECK(chat["tests"] == 0);

  // Written by this probe (a run's end): migrated to 3, and it forgets the files it had read.
  probe::index_report(dir.path(), report_fixture("01-open.json"), "01-open.json");
  {
    probe::SqliteDb db(probe::history_path(dir.path()), false);
    probe::SqliteStatement version(db, "PRAGMA user_version");
    REQUIRE(version.step());
    CHECK(version.integer(0) == 3);
  }
  CHECK_FALSE(probe::history_up_to_date(dir.path()));
  REQUIRE(run_probe({"history", "rebuild", "--out", dir.path().string()}).exit_code == 0);
  CHECK(probe::history_up_to_date(dir.path()));  // 01-open.json is not in the folder: i.json is all
  chat = chat_of();
  CHECK(chat["found"] == 2);
  CHECK(chat["interrupted"] == 1);
  CHECK(chat["tests"] == 1);
  CHECK(chat["accessible"] == 1);
}

TEST_CASE("history: rebuild equals indexing report by report, twice changes nothing, .json.gz is read",
          "[analyst][history]") {
  TempDir rebuilt;
  TempDir incremental;
  for (const std::string& name : k_fixture_names) {
    fs::copy_file(k_fixtures / name, rebuilt.path() / name);
    probe::index_report(incremental.path(), report_fixture(name), name);
  }
  const auto result = run_probe({"history", "rebuild", "--out", rebuilt.path().string()});
  REQUIRE(result.exit_code == 0);
  const probe::HistoryFilter all;
  auto dump = [&](const fs::path& folder) {
    std::vector<std::string> rows;
    for (const auto& row : probe::read_history(probe::history_path(folder), all)) {
      rows.push_back(row.run_id + "|" + row.started_at + "|" + row.vantage_id.value_or("") + "|" +
                     row.asn.value_or("") + "|" + row.cc.value_or("") + "|" + row.key.app + "|" + row.key.host +
                     "|" + (row.key.port ? std::to_string(*row.key.port) : "null") + "|" + row.key.kind + "|" +
                     row.key.url.value_or("null") + "|" + row.status.value_or("null") + "|" +
                     row.method.value_or("null") + "|" + row.report_file);
    }
    std::sort(rows.begin(), rows.end());
    return rows;
  };
  const auto rows = dump(rebuilt.path());
  CHECK(rows.size() == 55);
  CHECK(rows == dump(incremental.path()));
  // The compressed report's rows are there, with its file name.
  CHECK(std::count_if(rows.begin(), rows.end(), [](const std::string& row) {
          return row.ends_with("|03-ip-blackhole.json.gz");
        }) == 11);
  CHECK(std::find(rows.begin(), rows.end(),
                  "d1529fa9c9740c3a16ae31fce20b769b|2026-11-29T01:15:47Z|lab-a|AS64500|ZZ|twitter|x.com|443|https|"
                  "https://x.com/|blocked|tcp_ip|03-ip-blackhole.json.gz") != rows.end());

  REQUIRE(run_probe({"history", "rebuild", "--out", rebuilt.path().string()}).exit_code == 0);
  CHECK(dump(rebuilt.path()) == rows);
  probe::index_report(incremental.path(), report_fixture("04-mixed.json"), "04-mixed.json");
  CHECK(dump(incremental.path()) == rows);

  // Pruning a report keeps its rows; the index still counts as up to date.
  CHECK(probe::history_up_to_date(rebuilt.path()));
  fs::remove(rebuilt.path() / "02-sni-reset.json");
  REQUIRE(run_probe({"history", "rebuild", "--out", rebuilt.path().string()}).exit_code == 0);
  CHECK(dump(rebuilt.path()) == rows);
  CHECK(probe::history_up_to_date(rebuilt.path()));
  // A new report not yet indexed makes it stale (summary then reads the JSON).
  json extra = report_fixture("05-open.json");
  extra["run_id"] = "0123456789abcdef0123456789abcdef";
  rebuilt.write("06-extra.json", extra.dump());
  CHECK_FALSE(probe::history_up_to_date(rebuilt.path()));

  // A report it cannot read is left out with a warning naming it; the others are indexed, and the
  // index stays out of date while the bad report is there.
  json future = report_fixture("01-open.json");
  future["schema_version"] = 7;
  rebuilt.write("07-future.json", future.dump());
  const auto rebuild = run_probe({"history", "rebuild", "--out", rebuilt.path().string()});
  CHECK(rebuild.exit_code == 0);
  CHECK_THAT(rebuild.err, Catch::Contains("07-future.json: schema_version 7 is not supported") &&
                              Catch::Contains("; skipped"));
  const auto after = dump(rebuilt.path());
  CHECK(after.size() == rows.size() + extra["results"].size());
  CHECK(std::none_of(after.begin(), after.end(), [](const std::string& row) { return row.ends_with("07-future.json"); }));
  CHECK_FALSE(probe::history_up_to_date(rebuilt.path()));
}

// The export's lines of `reports`, parsed.
std::vector<json> ooni_lines(const std::vector<std::string>& reports, std::vector<std::string> flags = {}) {
  std::vector<std::string> args = {"export", "--format", "ooni"};
  args.insert(args.end(), flags.begin(), flags.end());
  args.insert(args.end(), reports.begin(), reports.end());
  const auto result = run_probe(args);
  REQUIRE(result.exit_code == 0);
  std::vector<json> lines;
  std::istringstream in(result.out);
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(json::parse(line));
  }
  return lines;
}

const json& line_for(const std::vector<json>& lines, const std::string& input) {
  const auto found = std::find_if(lines.begin(), lines.end(), [&](const json& m) { return m["input"] == input; });
  REQUIRE(found != lines.end());
  return *found;
}

TEST_CASE("OONI export: urlgetter and stunreachability lines that tests/ooni_check.py finds no fault in",
          "[analyst][export]") {
  std::vector<std::string> reports;
  for (const std::string& name : k_fixture_names) {
    reports.push_back(fixture_path(name));
  }
  const std::vector<json> lines = ooni_lines(reports, {"--probe-asn", "AS64500", "--probe-cc", "it"});
  CHECK(lines.size() == 55);
  // The collector's six fields: time, test name without '_', country, AS number, collector, random.
  const std::regex report_id(R"(\d{8}T\d{6}Z_(urlgetter|stunreachability)_IT_64500_n0_[0-9a-f]{32})");
  const std::regex input(R"((https?://.+|tlshandshake://[^/]+:\d+|tcpconnect://[^/]+:\d+|dnslookup://[^/:]+|stun://[^/]+:\d+))");
  std::set<std::string> names;
  for (const json& m : lines) {
    CHECK_FALSE(m.contains("measurement_uid"));  // the collector's key, never a client's
    CHECK(std::regex_match(m["report_id"].get<std::string>(), report_id));
    CHECK(m["probe_cc"] == "IT");
    CHECK(std::regex_match(m["input"].get<std::string>(), input));
    const bool stun = m["annotations"]["target_kind"] == "stun";
    CHECK(m["test_name"] == (stun ? "stunreachability" : "urlgetter"));
    CHECK(m["input"].get<std::string>().starts_with(stun ? "stun://" : ""));
    for (const char* key : {"architecture", "platform", "engine_name", "engine_version"}) {
      CHECK_FALSE(m["annotations"][key].get<std::string>().empty());
    }
    CHECK(m["extensions"].contains("dnst"));
    names.insert(m["test_name"].get<std::string>());
    // Every key of test_keys is one the test name has, or ours under x_.
    for (const auto& [key, value] : m["test_keys"].items()) {
      const std::set<std::string> own = stun ? std::set<std::string>{"endpoint", "failure", "queries"}
                                             : std::set<std::string>{"agent", "failure", "queries", "tcp_connect",
                                                                     "tls_handshakes", "requests"};
      CHECK((own.count(key) == 1 || key.starts_with("x_")));
    }
  }
  CHECK(names == std::set<std::string>{"stunreachability", "urlgetter"});

  // The independent checker: every rule of OONI's formats and of the pipeline's join holds.
  TempDir dir;
  std::string text;
  for (const json& m : lines) {
    text += m.dump() + "\n";
  }
  const fs::path file = dir.write("export.jsonl", text);
  const auto checked = probe::test::run_command({"python3", std::string(PROBE_SOURCE_DIR) + "/tests/ooni_check.py",
                                                 "--quiet", file.string()});
  INFO(checked.out << checked.err);
  CHECK(checked.exit_code == 0);
  CHECK_THAT(checked.out, Catch::Contains("ooni_check: 55 lines, ") && Catch::EndsWith(", 0 violations\n"));
}

TEST_CASE("OONI export: the decoy handshake and the re-test have their own connections, a failed transfer its request",
          "[analyst][export]") {
  const json m = line_for(ooni_lines({fixture_path("02-sni-reset.json")}), "https://chat.signal.org/");
  const json& keys = m["test_keys"];
  REQUIRE(keys["tls_handshakes"].size() == 3);
  const json& real = keys["tls_handshakes"][0];
  const json& decoy = keys["tls_handshakes"][1];
  const json& retest = keys["tls_handshakes"][2];
  // The real handshake first, with the reset, on the connection of the TCP step.
  CHECK(real["server_name"] == "chat.signal.org");
  CHECK(real["failure"] == "connection_reset");
  CHECK(real["tags"].empty());
  CHECK(decoy["tags"] == json::array({"decoy_sni"}));
  CHECK(decoy["failure"].is_null());
  CHECK(decoy["no_tls_verify"] == true);
  CHECK(retest["tags"] == json::array({"retest"}));
  CHECK(retest["failure"] == "connection_reset");
  // Three connections, three transactions, each with its own tcp_connect on the same address:
  // the pipeline joins the reset to the blocked host's DNS and TCP rows, the decoy's success to
  // none of them.
  std::set<long long> ids;
  for (const json& handshake : {real, decoy, retest}) {
    ids.insert(handshake["transaction_id"].get<long long>());
    const auto connect = std::find_if(keys["tcp_connect"].begin(), keys["tcp_connect"].end(), [&](const json& tcp) {
      return tcp["transaction_id"] == handshake["transaction_id"];
    });
    REQUIRE(connect != keys["tcp_connect"].end());
    CHECK(handshake["address"] == (*connect)["ip"].get<std::string>() + ":" + (*connect)["port"].dump());
    CHECK((*connect)["tags"] == handshake["tags"]);
  }
  CHECK(ids.size() == 3);
  CHECK(keys["tcp_connect"].size() == 3);
  // The transfer that never got its response is a request with the failure that ended it.
  REQUIRE(keys["requests"].size() == 1);
  CHECK(keys["requests"][0]["failure"] == "connection_reset");
  CHECK(keys["requests"][0]["transaction_id"] == real["transaction_id"]);
  CHECK(keys["requests"][0]["response"]["code"] == 0);
  CHECK(keys["requests"][0]["response"]["body"].is_null());
  CHECK(keys["failure"] == "connection_reset");
  CHECK(m["test_keys"]["x_probe_verdict"]["method"] == "tls");

  // A transfer's re-test that got through kept no response: its connection alone, no request
  // claiming a response without a status.
  json report = report_fixture("02-sni-reset.json");
  bool edited = false;
  for (json& result : report["results"]) {
    for (json& endpoint : result["paths"]["direct"]["endpoints"]) {
      if (result["url"] == "https://chat.signal.org/" && endpoint.contains("retest") && endpoint["retest"].is_object()) {
        endpoint["retest"]["step"] = "http";
        endpoint["retest"]["failure"] = nullptr;
        edited = true;
      }
    }
  }
  REQUIRE(edited);
  TempDir dir;
  const json passed = line_for(ooni_lines({dir.write("retest.json", report.dump()).string()}), "https://chat.signal.org/");
  for (const json& request : passed["test_keys"]["requests"]) {
    CHECK(request["tags"].empty());
  }
  CHECK(std::any_of(passed["test_keys"]["tcp_connect"].begin(), passed["test_keys"]["tcp_connect"].end(),
                    [](const json& tcp) { return tcp["tags"] == json::array({"retest"}) && tcp["status"]["success"] == true; }));
}

TEST_CASE("OONI export: the headers sent, a body not kept as null, IANA cipher names", "[analyst][export]") {
  const json report = report_fixture("01-open.json");
  const std::vector<json> lines = ooni_lines({fixture_path("01-open.json")});
  const json& m = line_for(lines, "https://chat.signal.org/");
  const json& request = m["test_keys"]["requests"].at(0);
  CHECK(request["failure"].is_null());
  CHECK(request["request"]["headers_list"] ==
        json::array({json::array({"Host", "chat.signal.org"}),
                     json::array({"User-Agent", report["options"]["user_agent"]}),
                     json::array({"Accept", "text/html,application/xhtml+xml,*/*;q=0.8"}),
                     json::array({"Accept-Language", "en-US,en;q=0.5"})}));
  CHECK(request["request"]["headers"]["Host"] == "chat.signal.org");
  const json& response = request["response"];
  CHECK(response["code"].get<int>() > 0);
  CHECK(response["body"].is_null());  // kept as length and digest, not bytes: never ""
  CHECK(response["x_body_length"].get<long long>() > 0);
  CHECK(response["x_body_sha256"].get<std::string>().size() == 64);
  // The report's OpenSSL names as IANA's.
  bool named = false;
  for (const json& line : lines) {
    for (const json& handshake : line["test_keys"].value("tls_handshakes", json::array())) {
      const std::string suite = handshake["cipher_suite"];
      CHECK((suite.empty() || suite.starts_with("TLS_")));
      named = named || !suite.empty();
    }
  }
  CHECK(named);
  CHECK(probe::iana_cipher_name("ECDHE-RSA-AES128-GCM-SHA256") == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
  CHECK(probe::iana_cipher_name("ECDHE-ECDSA-AES256-GCM-SHA384") == "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384");
  CHECK(probe::iana_cipher_name("TLS_AES_128_GCM_SHA256") == "TLS_AES_128_GCM_SHA256");
  CHECK(probe::iana_cipher_name("NOT-A-CIPHER").empty());
}

TEST_CASE("OONI export: peer_certificates are the report's DER, in the chain's order", "[analyst][export]") {
  json report = report_fixture("01-open.json");
  json* result = nullptr;
  for (json& candidate : report["results"]) {
    result = candidate["url"] == "https://chat.signal.org/" ? &candidate : result;
  }
  REQUIRE(result != nullptr);
  json& chain = (*result)["paths"]["direct"]["endpoints"][0]["tls"]["chain"];
  REQUIRE(chain.size() == 1);
  // Two certificates, the second not kept (a report over its certificates' cap).
  chain.push_back({{"subject", "CN=Other"}, {"issuer", "CN=Other"}, {"sha256", std::string(64, 'e')}});
  report["certificates"] = {{chain[0]["sha256"].get<std::string>(), "MIIBAA=="}};
  report["certificates_truncated"] = true;
  TempDir dir;
  const std::vector<json> lines = ooni_lines({dir.write("certs.json", report.dump()).string()});
  const json& m = line_for(lines, "https://chat.signal.org/");
  CHECK(m["test_keys"]["tls_handshakes"][0]["peer_certificates"] ==
        json::array({{{"format", "base64"}, {"data", "MIIBAA=="}}}));
  // Without the report's certificates, none.
  const json plain = line_for(ooni_lines({fixture_path("01-open.json")}), "https://chat.signal.org/");
  CHECK(plain["test_keys"]["tls_handshakes"][0]["peer_certificates"].empty());
}

TEST_CASE("OONI export: control paths under x_control_paths, test_runtime over every exchange, STUN results kept",
          "[analyst][export]") {
  const std::vector<json> lines = ooni_lines({fixture_path("04-mixed.json")});
  for (const json& m : lines) {
    const json& keys = m["test_keys"];
    CHECK_FALSE(keys.contains("control_paths"));
    REQUIRE(keys["x_control_paths"].contains("control"));
    // The runtime reaches the end of the last exchange, on control too.
    double last = 0;
    for (const json* set : {&keys, &keys["x_control_paths"]["control"]}) {
      for (const char* list : {"queries", "tcp_connect", "tls_handshakes", "requests", "x_stun"}) {
        for (const json& event : set->value(list, json::array())) {
          last = std::max(last, event["t"].get<double>());
        }
      }
    }
    CHECK(m["test_runtime"].get<double>() >= last);
    CHECK(m["test_helpers"]["control"]["type"] == "socks5h");
  }
  const auto stun = std::find_if(lines.begin(), lines.end(), [](const json& m) { return m["test_name"] == "stunreachability"; });
  REQUIRE(stun != lines.end());
  CHECK((*stun)["test_keys"]["endpoint"] == (*stun)["input"].get<std::string>().substr(7));
  CHECK((*stun)["test_keys"]["failure"].is_null());
  REQUIRE_FALSE((*stun)["test_keys"]["x_stun"].empty());
  CHECK((*stun)["test_keys"]["x_stun"][0]["failure"].is_null());
  CHECK_FALSE((*stun)["test_keys"].contains("tls_handshakes"));
}

TEST_CASE("OONI export: --probe-asn and --probe-cc in the forms OONI reads, AS0 and ZZ said", "[analyst][export]") {
  const std::string report = fixture_path("02-sni-reset.json");
  for (const char* bad : {"1234", "AS01234", "AS", "as1234", "AS4294967296"}) {
    INFO(bad);
    const auto refused = run_probe({"export", "--probe-asn", bad, report});
    CHECK(refused.exit_code == 64);
    CHECK_THAT(refused.err, Catch::Contains("--probe-asn") && Catch::Contains("AS followed by a number"));
  }
  for (const char* bad : {"ITA", "I", "1T", ""}) {
    INFO(bad);
    CHECK(run_probe({"export", "--probe-cc", bad, report}).exit_code == 64);
  }
  const json m = ooni_lines({report}, {"--probe-asn", "AS1", "--probe-cc", "it"}).at(0);
  CHECK(m["probe_asn"] == "AS1");
  CHECK(m["probe_cc"] == "IT");
  CHECK(m["report_id"].get<std::string>().find("_IT_1_n0_") != std::string::npos);

  // A report's own vantage is read as OONI reads it, and the collector's discards are said.
  TempDir dir;
  json odd = report_fixture("02-sni-reset.json");
  odd["vantage"] = {{"id", nullptr}, {"asn", "AS064500"}, {"cc", "de"}};
  const auto normalised = ooni_lines({dir.write("odd.json", odd.dump()).string()}).at(0);
  CHECK(normalised["probe_asn"] == "AS64500");
  CHECK(normalised["probe_cc"] == "DE");
  odd["vantage"] = {{"id", nullptr}, {"asn", nullptr}, {"cc", nullptr}};
  const auto unknown = run_probe({"export", dir.write("none.json", odd.dump()).string()});
  REQUIRE(unknown.exit_code == 0);
  CHECK_THAT(unknown.err, Catch::Contains("none.json: probe_asn is AS0") && Catch::Contains("give --probe-asn") &&
                              Catch::Contains("none.json: probe_cc is ZZ") && Catch::Contains("give --probe-cc"));
  CHECK_THAT(unknown.out, Catch::Contains("\"probe_asn\":\"AS0\"") && Catch::Contains("\"probe_cc\":\"ZZ\""));
}

TEST_CASE("CSV export: a header, then one row per target per path", "[analyst][export]") {
  const auto result = run_probe({"export", "--format", "csv", fixture_path("04-mixed.json"), fixture_path("03-ip-blackhole.json.gz")});
  REQUIRE(result.exit_code == 0);
  std::istringstream lines(result.out);
  std::string line;
  std::getline(lines, line);
  CHECK(line == "report,run_id,started_at,app,host,port,kind,path,dns_answers,dns_failure,tcp_failure,tls_failure,"
                "http_failure,http_status,verdict_status,method\r");
  std::vector<std::string> rows;
  while (std::getline(lines, line)) {
    rows.push_back(line);
  }
  CHECK(rows.size() == 2 * 11 * 2);
  CHECK(std::find_if(rows.begin(), rows.end(), [](const std::string& row) {
          return row.find("04-mixed.json,") == 0 && row.find(",chat.signal.org,443,https,direct,") != std::string::npos &&
                 row.find(",connection_reset,") != std::string::npos && row.ends_with(",blocked,tls\r");
        }) != rows.end());
  CHECK(run_probe({"export", "--format", "ooni"}).exit_code == 64);
}

TEST_CASE("probe run adds its report to the folder's history index, an index it cannot write is a warning",
          "[analyst][history]") {
  probe::test::MockDns server;
  TempDir dir;
  const auto list = dir.write("test.json", json{{"app", "test"}, {"reviewed", "2026-11-28"},
                                                {"targets", {{{"host", "plain.test"}, {"kind", "dns"},
                                                              {"purpose", "test"}, {"sources", {"test"}}}}}}
                                               .dump());
  const fs::path out = dir.path() / "reports";
  auto run = [&]() {
    return run_probe({"run", "--targets", list.string(), "--out", out.string(), "--no-system-resolver", "--resolver",
                      server.address(), "--timeout", "1", "--tries", "1", "--json"});
  };
  auto result = run();
  REQUIRE(result.exit_code == 0);
  const json report = json::parse(result.out);
  const auto rows = probe::read_history(probe::history_path(out), {});
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].run_id == report["run_id"]);
  CHECK(rows[0].key.host == "plain.test");
  CHECK(probe::history_up_to_date(out));

  fs::remove(probe::history_path(out));
  fs::create_directory(probe::history_path(out));  // cannot be opened as a database
  result = run();
  CHECK(result.exit_code == 0);
  CHECK(result.err.find("history index not updated") != std::string::npos);
}
