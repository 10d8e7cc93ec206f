// run/pipeline: a run from settings to a stored report, without the command line. One target on
// the loopback fixture (no DNS, no network beyond 127.0.0.1).
#include <catch2/catch.hpp>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "run/pipeline.hpp"
#include "store/history.hpp"
#include "store/output_lock.hpp"
#include "support/net_fixture.hpp"
#include "support/reports.hpp"
#include "support/temp_dir.hpp"

using namespace probe;
using nlohmann::json;
using probe::test::NetFixture;
using probe::test::only_report;
using probe::test::read_file;
using probe::test::TempDir;
using probe::test::validates;
namespace fs = std::filesystem;

namespace {

// The files in `folder` whose name ends with `suffix`.
std::size_t count_files(const fs::path& folder, const std::string& suffix) {
  std::size_t count = 0;
  for (const auto& entry : fs::directory_iterator(folder)) {
    count += entry.path().filename().string().ends_with(suffix) ? 1 : 0;
  }
  return count;
}

std::size_t count_lines(const fs::path& file) {
  std::ifstream in(file);
  std::size_t count = 0;
  for (std::string line; std::getline(in, line);) {
    ++count;
  }
  return count;
}

// A run of one TCP target, the fixture's TLS port on 127.0.0.1 (an IP literal: no DNS), on the
// direct path only, into `folder`.
RunRequest one_target(const NetFixture& fixture, const fs::path& folder) {
  RunRequest request;
  Target target;
  target.app = "test";
  target.host = "127.0.0.1";
  target.kind = Kind::tcp;
  target.port = fixture.port("https");
  target.purpose = "test";
  target.sources = {"test"};
  request.targets.targets = {target};
  request.settings.timeout_ms = 1000;
  std::string problem;
  request.settings.allow_bogon = {*parse_cidr("127.0.0.0/8", &problem)};
  request.paths = describe_paths(request.settings.controls);
  request.vantage.id = "lab";
  request.options = json{{"timeout_ms", 1000}};
  request.folder = folder;
  return request;
}

}  // namespace

TEST_CASE("run_pipeline measures, judges and writes the report under the folder's lock, then removes the crash log "
          "and indexes the report",
          "[pipeline]") {
  NetFixture fixture;
  TempDir dir;
  const fs::path folder = dir.path() / "reports";
  RunRequest request = one_target(fixture, folder);
  std::size_t log_lines_when_measured = 0;
  std::size_t progress_calls = 0;
  request.settings.on_progress = [&progress_calls](std::size_t, std::size_t) { ++progress_calls; };
  request.on_measured = [&]() {
    // Measured, not yet written: the crash log holds its header and the target's judged line.
    REQUIRE(count_files(folder, ".jsonl") == 1);
    for (const auto& entry : fs::directory_iterator(folder)) {
      if (entry.path().extension() == ".jsonl") {
        log_lines_when_measured = count_lines(entry.path());
      }
    }
    CHECK(count_files(folder, ".json") == 0);
  };

  const RunOutcome outcome = run_pipeline(request);
  CHECK(log_lines_when_measured == 2);
  CHECK(progress_calls >= 1);
  CHECK_FALSE(outcome.report.interrupted);
  REQUIRE(outcome.report.results.size() == 1);
  REQUIRE(outcome.report.results[0].verdict.has_value());

  // The report is the one file left beside the lock and the index: the crash log is gone.
  CHECK(only_report(folder) == outcome.path);
  CHECK(count_files(folder, ".jsonl") == 0);
  CHECK(fs::exists(history_path(folder)));
  CHECK(validates({outcome.path.string()}));
  const json report = json::parse(read_file(outcome.path));
  CHECK(report["run_id"] == outcome.report.run_id);
  CHECK(report["vantage"]["id"] == "lab");
  CHECK(report["options"]["timeout_ms"] == 1000);
  REQUIRE(report["results"].size() == 1);
  CHECK(report["results"][0]["port"] == fixture.port("https"));
  CHECK(report["results"][0]["verdict"]["status"] == "accessible");  // it connected on the direct path
  CHECK(report["results"][0]["paths"]["direct"]["endpoints"][0]["tcp"]["failure"].is_null());
}

TEST_CASE("run_pipeline while another run holds the folder's lock: UserError 75, nothing measured or written",
          "[pipeline]") {
  NetFixture fixture;
  TempDir dir;
  const fs::path folder = dir.path() / "reports";
  fs::create_directories(folder);

  bool measured = false;
  const auto second_run = [&]() {
    RunRequest second = one_target(fixture, folder);
    second.on_measured = [&measured]() { measured = true; };
    try {
      run_pipeline(second);
    } catch (const UserError& error) {
      CHECK(std::string(error.what()).find("another probe run is writing to " + folder.string()) !=
            std::string::npos);
      return error.exit_code();
    }
    return exit_code::k_ok;
  };

  SECTION("a lock taken by another run") {
    const OutputLock held(folder);
    CHECK(second_run() == exit_code::k_locked);
    CHECK_FALSE(measured);
    CHECK(count_files(folder, ".jsonl") == 0);
    CHECK(count_files(folder, ".json") == 0);
  }
  SECTION("the lock of a finished run, kept until its outcome goes") {
    RunOutcome first = run_pipeline(one_target(fixture, folder));
    CHECK(second_run() == exit_code::k_locked);
    CHECK_FALSE(measured);
    CHECK(only_report(folder) == first.path);  // neither a second report nor a crash log
    first.lock.reset();
    CHECK(second_run() == exit_code::k_ok);
    CHECK(measured);
    CHECK(count_files(folder, ".json") == 2);
  }
}

TEST_CASE("run_pipeline refuses, before anything is made, a list whose bare results cannot fit the report's limit",
          "[pipeline]") {
  TempDir dir;
  const fs::path folder = dir.path() / "reports";
  NetFixture fixture;
  RunRequest request = one_target(fixture, folder);
  const Target one = request.targets.targets[0];
  const std::size_t each = minimum_results_bytes({one}, request.paths);
  CHECK(each > 200);  // a bare result: its key, its paths, a verdict
  // Just over the limit, by this lower bound: refused with 65, naming the size and the limit.
  const std::size_t count = k_max_report_bytes / each + 1;
  request.targets.targets.assign(count, one);
  request.targets.lists = {TargetList{"big.csv", "citizenlab_csv", "", std::nullopt, {}, {}}};
  bool measured = false;
  request.on_measured = [&measured]() { measured = true; };
  try {
    run_pipeline(request);
    FAIL("accepted");
  } catch (const UserError& error) {
    CHECK(error.exit_code() == exit_code::k_data_error);
    CHECK_THAT(error.what(), Catch::StartsWith("big.csv: " + std::to_string(count) + " targets over 1 paths need at least") &&
                                 Catch::Contains("more than the 64 MiB a report may hold"));
  }
  CHECK_FALSE(measured);
  CHECK_FALSE(fs::exists(folder));  // nothing made: no folder, no lock, no crash log
  // The bound is a sum over targets: one target fewer fits it.
  request.targets.targets.resize(count - 1);
  CHECK(minimum_results_bytes(request.targets.targets, request.paths) <= k_max_report_bytes);
}
