// Every reader of reports survives every report that parses as JSON: each field of a real report
// (each place in its structure once) is given each wrong type in turn, then left out, and every
// analyst reader is run on the result. Each either works or refuses with exit 65 naming the file and the field; none
// throws anything else (before, `"interrupted": "yes"` was exit 70, "internal error").
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analyst/diff.hpp"
#include "analyst/ooni_export.hpp"
#include "analyst/summary.hpp"
#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "store/partial_log.hpp"
#include "store/report_reader.hpp"
#include "store/row_scanner.hpp"
#include "support/reports.hpp"
#include "support/run_command.hpp"
#include "support/temp_dir.hpp"

using nlohmann::json;
using probe::test::report_fixture;
using probe::test::run_probe;
using probe::test::TempDir;

namespace {

// One JSON pointer per place in the report's structure: array elements are one place ("*"), so a
// field of every result is mutated once, in the first result that has it.
void places(const json& value, const json::json_pointer& at, const std::string& shape, std::set<std::string>& seen,
            std::vector<json::json_pointer>& out) {
  if (!at.empty() && seen.insert(shape).second) {
    out.push_back(at);
  }
  if (value.is_object()) {
    for (const auto& [key, member] : value.items()) {
      places(member, at / key, shape + "/" + key, seen, out);
    }
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      places(value[i], at / i, shape + "/*", seen, out);
    }
  }
}

const std::vector<json>& wrong_values() {
  static const std::vector<json> values = {json(),       json("x"),      json(7),           json(-1),
                                           json(2.5),    json(true),     json::array(),     json::object(),
                                           json(18446744073709551615ULL), json::array({1, "x"})};
  return values;
}

// Runs `read`: nothing, or a UserError 65 whose message starts with the file's name and names a
// field. Anything else fails the test, naming the mutation. Returns whether it was refused.
template <typename Read>
bool refused(const std::string& mutation, const char* reader, Read read) {
  try {
    read();
    return false;
  } catch (const probe::UserError& error) {
    INFO(mutation << " | " << reader << " | " << error.what());
    CHECK(error.exit_code() == probe::exit_code::k_data_error);
    CHECK(std::string(error.what()).starts_with("v.json: "));
    return true;
  } catch (const std::exception& error) {
    FAIL(mutation << " | " << reader << " threw " << error.what());
    return true;
  }
}

}  // namespace

TEST_CASE("Every analyst reader takes a report with a wrong type anywhere as exit 65 naming the file, "
          "never a crash or an internal error",
          "[report_types][hostile]") {
  const json base_json = report_fixture("04-mixed.json");
  const probe::LoadedReport base = probe::loaded_report(base_json, "base.json");
  std::set<std::string> seen;
  std::vector<json::json_pointer> pointers;
  places(base_json, json::json_pointer(), "", seen, pointers);
  REQUIRE(pointers.size() > 100);

  std::size_t variants = 0;
  std::size_t loaded_refused = 0;
  std::size_t scan_refused = 0;
  for (const json::json_pointer& pointer : pointers) {
    // Each wrong value, then the field left out (the last round, `value` discarded).
    std::vector<json> values = wrong_values();
    values.push_back(json(json::value_t::discarded));
    for (const json& value : values) {
      json variant = base_json;
      std::string mutation = pointer.to_string() + " = " + value.dump();
      if (value.is_discarded()) {
        json& parent = variant[pointer.parent_pointer()];
        if (!parent.is_object()) {
          continue;
        }
        parent.erase(pointer.back());
        mutation = pointer.to_string() + " left out";
      } else {
        variant[pointer] = value;
      }
      ++variants;
      // What diff and export read: the whole report.
      std::optional<probe::LoadedReport> loaded;
      const bool load_refused = refused(mutation, "load", [&] { loaded = probe::loaded_report(variant, "v.json"); });
      if (loaded) {
        refused(mutation, "diff", [&] {
          probe::render_diff(probe::diff_reports(base, *loaded));
          probe::diff_json(probe::diff_reports(*loaded, base));
        });
        refused(mutation, "export", [&] {
          probe::ooni_measurements(*loaded, {});
          probe::export_csv_rows(*loaded);
          probe::run_rows(loaded->json, "v.json");
        });
      }
      loaded_refused += load_refused ? 1 : 0;
      // What summary and the history index read: the scan of a few fields. It checks what it reads,
      // as the whole reading does, so it never refuses what the whole reading takes.
      std::optional<probe::ScannedReport> scanned;
      const bool scan_no = refused(mutation, "scan", [&] {
        scanned = probe::scan_report_rows(variant.dump(), "v.json", "v.json", false);
      });
      if (scanned) {
        refused(mutation, "summary", [&] {
          const auto summaries = probe::summarise(scanned->rows, "target");
          probe::render_summary_table(summaries, "target");
          probe::render_summary_csv(summaries, "target");
          probe::greatfire_json(summaries, "app");
        });
      }
      if (!load_refused) {
        INFO(mutation);
        CHECK_FALSE(scan_no);
      }
      scan_refused += scan_no ? 1 : 0;
    }
  }
  INFO(variants << " variants, " << loaded_refused << " refused by the whole reading, " << scan_refused
                << " by the scan");
  // Most places refuse most wrong types; a few (options, free text) take anything.
  CHECK(loaded_refused > variants / 2);
  CHECK(scan_refused > 0);
  CHECK(loaded_refused < variants);
}

TEST_CASE("A wrong type in the report's frame names the field: interrupted, vantage, run_id, a result",
          "[report_types]") {
  const json base = report_fixture("01-open.json");
  const auto message = [&](const char* pointer, const json& value) {
    json variant = base;
    variant[json::json_pointer(pointer)] = value;
    std::string load;
    std::string scan;
    try {
      probe::loaded_report(variant, "r.json");
    } catch (const probe::UserError& error) {
      load = error.what();
    }
    try {
      probe::scan_report_rows(variant.dump(), "r.json", "r.json", false);
    } catch (const probe::UserError& error) {
      scan = error.what();
    }
    CHECK(load == scan);
    return load;
  };
  CHECK(message("/interrupted", "yes") == "r.json: interrupted: expected true or false, got \"yes\"");
  CHECK(message("/vantage", 5) == "r.json: vantage: expected an object, got 5");
  CHECK(message("/vantage/cc", 5) == "r.json: vantage/cc: expected a string or null, got 5");
  CHECK(message("/run_id", json::array()) == "r.json: run_id: expected a string, got an array");
  CHECK(message("/results/1", nullptr) == "r.json: results/1: expected an object, got null");
  CHECK(message("/results/0/kind", "bogus") ==
        "r.json: results/0/kind: expected a kind (dns, tcp, tls, http, https, stun), got \"bogus\"");
  CHECK(message("/results/0/verdict/status", 5) == "r.json: results/0/verdict/status: expected a string, got 5");
  CHECK(message("/results/0/verdict/status", "lost").starts_with("r.json: results/0/verdict/status: expected a status"));
  CHECK(message("/results/0/port", 70000) ==
        "r.json: results/0/port: expected a whole number from 0 to 65535, got 70000");
}

namespace {

// The log a run of 04-mixed's targets would have left: the header (the report without results,
// each target unfinished) and one line per result, in order.
struct FixtureLog {
  json header;
  std::vector<json> lines;

  std::string text() const {
    std::string out = header.dump() + "\n";
    for (const json& line : lines) {
      out += line.dump() + "\n";
    }
    return out;
  }
};

FixtureLog fixture_log(const json& report = report_fixture("04-mixed.json")) {
  FixtureLog log;
  json frame = report;
  frame.erase("results");
  frame.erase("apps");
  json targets = json::array();
  for (std::size_t i = 0; i < report["results"].size(); ++i) {
    json target = report["results"][i];
    target["paths"] = json::object();
    target["verdict"] = nullptr;
    targets.push_back(target);
    log.lines.push_back({{"index", i}, {"at", "2026-01-01T00:00:0" + std::to_string(i % 10) + "Z"},
                         {"result", report["results"][i]}});
  }
  log.header = {{"probe_partial_log", 1}, {"report", frame}, {"targets", targets}};
  return log;
}

std::size_t judged(const json& report) {
  return static_cast<std::size_t>(std::count_if(report["results"].begin(), report["results"].end(),
                                                [](const json& result) { return !result["verdict"].is_null(); }));
}

}  // namespace

TEST_CASE("probe recover takes each line as the report writer would: a bad line is skipped, a bad header refused",
          "[report_types][recover]") {
  const FixtureLog good = fixture_log();
  const std::size_t targets = good.lines.size();
  const json whole = probe::recover_report_text(good.text(), "x.jsonl");
  REQUIRE(whole["results"].size() == targets);
  CHECK(judged(whole) == targets);
  CHECK_NOTHROW(probe::loaded_report(whole, "x.json"));

  // A result of an unknown kind, an index past the run's targets, and a line whose result is
  // another target's than its index names: each line is left out (its target stays unfinished).
  FixtureLog damaged = good;
  damaged.lines[0]["result"]["kind"] = "bogus";
  damaged.lines[1]["index"] = targets + 3;
  damaged.lines[2]["index"] = 3;  // line 3 holds target 2's result
  damaged.lines[4]["result"]["paths"]["direct"]["endpoints"][0]["tcp"]["failure"] = "not_a_failure";
  const json recovered = probe::recover_report_text(damaged.text(), "x.jsonl");
  CHECK(recovered["results"].size() == targets);
  CHECK(judged(recovered) == targets - 4);
  CHECK_NOTHROW(probe::loaded_report(recovered, "x.json"));

  // A header of a schema this probe does not write, or a frame of the wrong types, is refused.
  const auto refusal = [](const FixtureLog& log) {
    try {
      probe::recover_report_text(log.text(), "x.jsonl");
    } catch (const probe::UserError& error) {
      CHECK(error.exit_code() == probe::exit_code::k_data_error);
      return std::string(error.what());
    }
    return std::string("accepted");
  };
  FixtureLog future = good;
  future.header["report"]["schema_version"] = 99;
  CHECK(refusal(future).starts_with("x.jsonl:1: report: schema_version 99 is not supported"));
  FixtureLog frame = good;
  frame.header["report"]["interrupted"] = "no";
  CHECK(refusal(frame) == "x.jsonl:1: report: interrupted: expected true or false, got \"no\"");
  FixtureLog target = good;
  target.header["targets"][1]["kind"] = "bogus";
  CHECK(refusal(target).starts_with("x.jsonl:1: targets/1/kind: expected a kind"));
}

TEST_CASE("The real binary: a wrong type is exit 65 naming the file and field in export, diff and summary, "
          "recover warns of each line it skips and writes a report the schema takes",
          "[report_types][recover]") {
  TempDir dir;
  json report = report_fixture("01-open.json");
  report["interrupted"] = "yes";
  const std::string bad = dir.write("bad.json", report.dump()).string();
  const std::string good = (probe::test::k_report_fixtures / "01-open.json").string();
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"export", "--format", "ooni", bad}, {"diff", good, bad}, {"summary", bad}}) {
    const auto ran = run_probe(args);
    INFO(args[0] << ": " << ran.err);
    CHECK(ran.exit_code == 65);
    CHECK_THAT(ran.err, Catch::Contains("bad.json: interrupted: expected true or false, got \"yes\""));
    CHECK(ran.out.empty());
  }

  // The log of a run of this probe (the fixtures predate schema_version 2), offline: nothing listens.
  const auto run = run_probe({"-q", "run", "--url", "tcp://127.0.0.1:1", "--url", "tcp://127.0.0.1:2", "--url",
                              "http://127.0.0.1:3/", "--no-system-resolver", "--resolver", "127.0.0.1:1",
                              "--no-compress", "--out", (dir.path() / "run").string()});
  REQUIRE(run.exit_code == 0);
  FixtureLog log = fixture_log(json::parse(probe::test::read_file(probe::test::only_report(dir.path() / "run"))));
  log.lines[0]["result"]["kind"] = "bogus";
  log.lines[1]["index"] = log.lines.size() + 3;
  const auto ran = run_probe({"recover", dir.write("x.jsonl", log.text()).string(), "--out", (dir.path() / "out").string()});
  INFO(ran.err);
  REQUIRE(ran.exit_code == 0);
  CHECK_THAT(ran.err, Catch::Contains("x.jsonl:2: result/kind: expected a kind"));
  CHECK_THAT(ran.err, Catch::Contains("x.jsonl:3: index " + std::to_string(log.lines.size() + 3) +
                                      " is past the run's " + std::to_string(log.lines.size()) + " targets"));
  CHECK(probe::test::validates({(dir.path() / "out" / "x.json").string()}));
}
