#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/history.hpp"
#include "store/report_reader.hpp"
#include "store/row_scanner.hpp"
#include "store/sqlite_db.hpp"
#include "core/error.hpp"
#include "store/retention.hpp"
#include "model/signature.hpp"
#include "support/reports.hpp"
#include "support/run_command.hpp"
#include "support/temp_dir.hpp"

// The verdict's signatures as analysts use them: `probe summary --signature S` and `--by
// signature` (from the report files and from the history index alike), `probe diff` on a changed
// set, and the history index's column with its migration from layout version 1.
using nlohmann::json;
using probe::test::report_fixture;
using probe::test::run_probe;
using probe::test::TempDir;
namespace fs = std::filesystem;

namespace {

const fs::path& k_fixtures = probe::test::k_report_fixtures;

// 01-open.json as a schema_version 2 report with run id `run` at `started`, chat.signal.org
// judged as given and every other verdict accessible with no signature.
json report_with(const std::string& run, const std::string& started, const std::string& status,
                 const json& method, const std::vector<std::string>& signatures) {
  json report = report_fixture("01-open.json");
  report["schema_version"] = 2;
  report["run_id"] = run;
  report["started_at"] = started;
  for (auto& result : report["results"]) {
    json& verdict = result["verdict"];
    if (!verdict.is_object()) {
      continue;
    }
    verdict["signatures"] = json::array();
    if (result["host"] == "chat.signal.org") {
      verdict["status"] = status;
      verdict["method"] = method;
      verdict["methods"] = method.is_null() ? json::array() : json::array({method});
      verdict["signatures"] = signatures;
    }
  }
  return report;
}

// Three runs: chat.signal.org blocked by an SNI reset twice, then accessible.
void three_runs(TempDir& dir) {
  dir.write("a.json", report_with(std::string(31, '0') + "1", "2026-11-01T00:00:00Z", "blocked", "tls",
                                  {"tls_reset", "sni"})
                          .dump());
  dir.write("b.json", report_with(std::string(31, '0') + "2", "2026-11-02T00:00:00Z", "blocked", "tls",
                                  {"tls_reset", "sni"})
                          .dump());
  dir.write("c.json", report_with(std::string(31, '0') + "3", "2026-11-03T00:00:00Z", "accessible", nullptr, {})
                          .dump());
}

}  // namespace

TEST_CASE("every signature has one name, read back as itself, and a layer a verdict's method names",
          "[signature]") {
  std::vector<std::string> names;
  for (probe::Signature signature : probe::k_all_signatures) {
    const std::string name(probe::to_string(signature));
    CHECK(probe::signature_from_string(name) == signature);
    names.push_back(name);
    const std::string_view layer = probe::layer_of(signature);
    CHECK((layer.empty() || layer == "dns" || layer == "tcp_ip" || layer == "tls" || layer == "http"));
  }
  std::sort(names.begin(), names.end());
  CHECK(std::adjacent_find(names.begin(), names.end()) == names.end());
  CHECK_FALSE(probe::signature_from_string("SNI").has_value());
  CHECK(probe::layer_of(probe::Signature::sni) == "tls");
  CHECK(probe::refines(probe::Signature::sni));
  CHECK_FALSE(probe::refines(probe::Signature::tls_reset));
}

TEST_CASE("reading a report's rows gives each verdict's signatures, the streaming scanner as the JSON reader",
          "[analyst][signature]") {
  const json report = report_with(std::string(32, 'a'), "2026-11-01T00:00:00Z", "blocked", "tls", {"tls_reset", "sni"});
  const auto scanned = probe::scan_report_rows(report.dump(), "a.json", "a.json", false);
  REQUIRE(scanned);
  const auto parsed = probe::run_rows(report, "a.json");
  REQUIRE(scanned->rows.size() == parsed.size());
  for (std::size_t k = 0; k < parsed.size(); ++k) {
    CHECK(scanned->rows[k].signatures == parsed[k].signatures);
    if (parsed[k].key.host == "chat.signal.org") {
      CHECK(parsed[k].signatures == std::vector<std::string>{"tls_reset", "sni"});
    } else {
      CHECK(parsed[k].signatures.empty());
    }
  }
}

TEST_CASE("summary --signature selects the targets that carried it, with all their runs, and --by signature "
          "groups by it, from the files and from the index alike",
          "[analyst][summary][signature]") {
  TempDir dir;
  three_runs(dir);
  for (const std::string source : {"json", "index"}) {
    if (source == "index") {
      REQUIRE(run_probe({"history", "rebuild", "--out", dir.path().string()}).exit_code == 0);
      REQUIRE(probe::history_up_to_date(dir.path()));
    }
    INFO(source);
    auto result = run_probe({"summary", dir.path().string(), "--since", "2026-10-01", "--format", "greatfire",
                             "--signature", "sni"});
    REQUIRE(result.exit_code == 0);
    json entries = json::parse(result.out);
    REQUIRE(entries.size() == 1);
    CHECK(entries[0]["host"] == "chat.signal.org");
    CHECK(entries[0]["blocked"] == 2);
    CHECK(entries[0]["accessible"] == 1);  // the accessible run of a selected target still counts

    result = run_probe({"summary", dir.path().string(), "--since", "2026-10-01", "--format", "greatfire",
                        "--signature", "mitm"});
    REQUIRE(result.exit_code == 0);
    CHECK(json::parse(result.out).empty());

    result = run_probe({"summary", dir.path().string(), "--since", "2026-10-01", "--format", "greatfire", "--by",
                        "signature", "--app", "signal"});
    REQUIRE(result.exit_code == 0);
    entries = json::parse(result.out);
    std::vector<std::string> chat_groups;
    for (const json& entry : entries) {
      if (entry["host"] == "chat.signal.org") {
        chat_groups.push_back(entry["signature"].is_null() ? "-" : entry["signature"].get<std::string>());
        if (entry["signature"] == "sni") {
          CHECK(entry["blocked"] == 2);
          CHECK(entry["found"] == 2);
        }
        if (entry["signature"].is_null()) {
          CHECK(entry["accessible"] == 1);
        }
      } else {
        CHECK(entry["signature"].is_null());  // no signature: the "-" group
      }
    }
    std::sort(chat_groups.begin(), chat_groups.end());
    CHECK(chat_groups == std::vector<std::string>{"-", "sni", "tls_reset"});
  }
  const auto bad = run_probe({"summary", dir.path().string(), "--signature", "sni-filtering"});
  CHECK(bad.exit_code == 64);
}

TEST_CASE("diff reports a changed signature set where status and method stay", "[analyst][diff][signature]") {
  TempDir dir;
  const auto before = dir.write("before.json", report_with(std::string(31, '0') + "1", "2026-11-01T00:00:00Z",
                                                           "blocked", "tls", {"tls_reset"})
                                                   .dump());
  const auto after = dir.write("after.json", report_with(std::string(31, '0') + "2", "2026-11-02T00:00:00Z",
                                                         "blocked", "tls", {"tls_reset", "sni"})
                                                 .dump());
  auto result = run_probe({"diff", "--json", before.string(), after.string()});
  CHECK(result.exit_code == 1);
  const json diff = json::parse(result.out);
  REQUIRE(diff["changed"].size() == 1);
  CHECK(diff["changed"][0]["host"] == "chat.signal.org");
  REQUIRE(diff["changed"][0]["changes"].size() == 1);
  const json& change = diff["changed"][0]["changes"][0];
  CHECK(change["field"] == "signatures");
  CHECK(change["old"] == json::array({"tls_reset"}));
  CHECK(change["new"] == json::array({"sni", "tls_reset"}));
  // Order is not a change: the set is compared.
  const auto reordered = dir.write("reordered.json", report_with(std::string(31, '0') + "3", "2026-11-03T00:00:00Z",
                                                                 "blocked", "tls", {"sni", "tls_reset"})
                                                         .dump());
  result = run_probe({"diff", after.string(), reordered.string()});
  CHECK(result.exit_code == 0);
  result = run_probe({"diff", before.string(), after.string()});
  CHECK(result.out.find("signatures") != std::string::npos);
}

TEST_CASE("the history index gains the signatures column: a version-1 index is migrated and its old rows read "
          "as having none, a newer one is refused",
          "[analyst][history][signature]") {
  TempDir dir;
  {
    // The layout of version 1, with one row, as an older probe left it.
    probe::SqliteDb db(probe::history_path(dir.path()), true);
    db.exec(
        "CREATE TABLE files (stem TEXT PRIMARY KEY, file_name TEXT NOT NULL, run_id TEXT);"
        "CREATE TABLE results (run_id TEXT NOT NULL, started_at TEXT NOT NULL, vantage_id TEXT, asn TEXT, cc TEXT,"
        " app TEXT NOT NULL, host TEXT NOT NULL, port INTEGER, kind TEXT NOT NULL, url TEXT, status TEXT,"
        " method TEXT, report_file TEXT NOT NULL);"
        "INSERT INTO results VALUES ('" +
        std::string(32, 'b') +
        "', '2026-10-01T00:00:00Z', NULL, NULL, NULL, 'signal', 'old.signal.org', 443, 'tls', NULL, 'blocked', "
        "'tls', 'old.json');"
        "PRAGMA user_version = 1;");
  }
  const probe::HistoryFilter all;
  auto rows = probe::read_history(probe::history_path(dir.path()), all);  // read before any write
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].signatures.empty());

  probe::index_report(dir.path(),
                      report_with(std::string(31, '0') + "1", "2026-11-01T00:00:00Z", "blocked", "tls",
                                  {"tls_reset", "sni"}),
                      "a.json");
  rows = probe::read_history(probe::history_path(dir.path()), all);
  REQUIRE(rows.size() == 12);
  for (const probe::RunRow& row : rows) {
    if (row.key.host == "old.signal.org") {
      CHECK(row.signatures.empty());
      CHECK(row.status == std::optional<std::string>("blocked"));
    } else if (row.key.host == "chat.signal.org") {
      CHECK(row.signatures == std::vector<std::string>{"tls_reset", "sni"});
    } else {
      CHECK(row.signatures.empty());
    }
  }
  {
    probe::SqliteDb db(probe::history_path(dir.path()), false);
    probe::SqliteStatement version(db, "PRAGMA user_version");
    REQUIRE(version.step());
    CHECK(version.integer(0) == 3);  // and on to 3 (interrupted), test_analyst.cpp
  }

  TempDir newer;
  {
    probe::SqliteDb db(probe::history_path(newer.path()), true);
    db.exec("PRAGMA user_version = 9");
  }
  CHECK_THROWS_AS(probe::index_report(newer.path(), report_fixture("01-open.json"), "01-open.json"), probe::UserError);
}

TEST_CASE("every signature is in the schema's closed list and has a line in reports/README.md, and nothing else is",
          "[signature][schema]") {
  const std::string root = PROBE_SOURCE_DIR;
  const json schema = json::parse(probe::read_report_text(root + "/reports/schema.json"));
  std::vector<std::string> listed;
  for (const json& value : schema["$defs"]["verdict"]["properties"]["signatures"]["items"]["enum"]) {
    listed.push_back(value.get<std::string>());
  }
  std::vector<std::string> names;
  for (probe::Signature signature : probe::k_all_signatures) {
    names.emplace_back(probe::to_string(signature));
  }
  CHECK(listed == names);
  const std::string readme = probe::read_report_text(root + "/reports/README.md");
  for (const std::string& name : names) {
    INFO(name);
    CHECK(readme.find("| `" + name + "` |") != std::string::npos);
  }
}
