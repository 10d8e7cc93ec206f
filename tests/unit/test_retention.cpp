#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "store/retention.hpp"
#include "support/mock_dns.hpp"
#include "support/run_command.hpp"
#include "support/temp_dir.hpp"

using probe::apply_retention;
using probe::RetentionPolicy;
using probe::test::read_file;
using probe::test::TempDir;
namespace fs = std::filesystem;

namespace {

const std::string k_id = "0123456789abcdef0123456789abcdef";

probe::SystemTime at(int year, unsigned month, unsigned day, int hour = 0) {
  return std::chrono::time_point_cast<probe::SystemTime::duration>(
      std::chrono::sys_days(std::chrono::year{year} / month / day) + std::chrono::hours(hour));
}

std::set<std::string> names(const fs::path& folder) {
  std::set<std::string> out;
  for (const auto& entry : fs::directory_iterator(folder)) {
    out.insert(entry.path().filename().string());
  }
  return out;
}

// A folder of reports started 12 h, 3, 10 and 40 days before 2026-11-29T00:00Z, a current one,
// and files that are not reports.
struct Folder {
  TempDir dir;
  fs::path current;
  Folder() {
    for (const std::string stamp : {"20261128T120000Z", "20261126T000000Z", "20261119T000000Z", "20261020T000000Z"}) {
      dir.write(stamp + "_" + k_id + ".json", "{\"started\": \"" + stamp + "\"}\n");
    }
    current = dir.write("20261129T000000Z_" + k_id + ".json", "{}\n");
    dir.write("notes.txt", "mine");
    dir.write(".probe.lock", "1\n");
    dir.write("20261001T000000Z_" + k_id + ".jsonl", "{}\n");
    dir.write("20261001T000000Z_" + k_id.substr(1) + ".json", "{}\n");  // not a report's name
  }
};

}  // namespace

TEST_CASE("report names give their start time, anything else is not a report", "[retention]") {
  CHECK(probe::report_time_from_name("20261129T001500Z_" + k_id + ".json") ==
        at(2026, 11, 29) + std::chrono::minutes(15));
  CHECK(probe::report_time_from_name("20261129T001500Z_" + k_id + ".json.gz").has_value());
  for (const std::string& bad : std::vector<std::string>{"20261129T001500Z_" + k_id + ".jsonl", "20261129T001500Z_" + k_id,
                                "20261340T001500Z_" + k_id + ".json", "20261129T251500Z_" + k_id + ".json",
                                "20261129T001500Z_0123456789ABCDEF0123456789abcdef.json", "x.json",
                                "20261129X001500Z_" + k_id + ".json"}) {
    CHECK_FALSE(probe::report_time_from_name(bad).has_value());
  }
}

TEST_CASE("gzip: what is compressed comes back, plain text passes, damage is an error", "[retention]") {
  std::string text(100000, 'a');
  for (std::size_t i = 0; i < text.size(); i += 7) {
    text[i] = static_cast<char>('a' + i % 26);
  }
  const std::string packed = probe::gzip_compress(text);
  CHECK(packed.size() < text.size() / 4);
  CHECK(probe::maybe_gunzip(packed, text.size()) == text);
  CHECK(probe::maybe_gunzip("{\"plain\": 1}", 100) == "{\"plain\": 1}");
  CHECK_THROWS(probe::maybe_gunzip(packed.substr(0, packed.size() / 2), text.size()));
  // It stops at the cap: a small file that inflates past it is refused, not inflated on.
  CHECK_THROWS_WITH(probe::maybe_gunzip(packed, text.size() - 1), Catch::Contains("uncompressed, more than"));
  std::string flipped = packed;
  flipped[packed.size() / 2] = static_cast<char>(flipped[packed.size() / 2] ^ 0x55);
  CHECK_THROWS(probe::maybe_gunzip(flipped, text.size()));
}

TEST_CASE("retention: reports older than --compress-after become .json.gz, same content", "[retention]") {
  Folder folder;
  const auto outcome = apply_retention(folder.dir.path(), RetentionPolicy{std::nullopt, std::nullopt, 7},
                                       at(2026, 11, 29), folder.current);
  CHECK(outcome.compressed == 2);
  CHECK(outcome.removed == 0);
  CHECK(names(folder.dir.path()) == std::set<std::string>{
                                        "20261128T120000Z_" + k_id + ".json", "20261126T000000Z_" + k_id + ".json",
                                        "20261119T000000Z_" + k_id + ".json.gz", "20261020T000000Z_" + k_id + ".json.gz",
                                        "20261129T000000Z_" + k_id + ".json", "notes.txt", ".probe.lock",
                                        "20261001T000000Z_" + k_id + ".jsonl",
                                        "20261001T000000Z_" + k_id.substr(1) + ".json"});
  CHECK(probe::read_report_text(folder.dir.path() / ("20261119T000000Z_" + k_id + ".json.gz")) ==
        "{\"started\": \"20261119T000000Z\"}\n");
  CHECK(probe::read_report_text(folder.dir.path() / ("20261128T120000Z_" + k_id + ".json")) ==
        "{\"started\": \"20261128T120000Z\"}\n");
  // Compressed ones are not compressed again; 0 compresses every earlier report.
  const auto again = apply_retention(folder.dir.path(), RetentionPolicy{std::nullopt, std::nullopt, 0},
                                     at(2026, 11, 29), folder.current);
  CHECK(again.compressed == 2);
  CHECK(names(folder.dir.path()).count("20261129T000000Z_" + k_id + ".json") == 1);  // the current one
}

TEST_CASE("retention: --keep-days and --keep remove old reports, never anything else", "[retention]") {
  Folder folder;
  auto outcome = apply_retention(folder.dir.path(), RetentionPolicy{std::nullopt, 30, 7}, at(2026, 11, 29),
                                 folder.current);
  CHECK(outcome.removed == 1);  // the 40-day-old one
  CHECK(names(folder.dir.path()).count("20261020T000000Z_" + k_id + ".json") == 0);
  outcome = apply_retention(folder.dir.path(), RetentionPolicy{std::size_t{2}, std::nullopt, std::nullopt},
                            at(2026, 11, 29), folder.current);
  CHECK(outcome.removed == 2);  // 3 others; the current one and the newest other stay
  CHECK(names(folder.dir.path()) == std::set<std::string>{"20261128T120000Z_" + k_id + ".json",
                                                          "20261129T000000Z_" + k_id + ".json", "notes.txt",
                                                          ".probe.lock", "20261001T000000Z_" + k_id + ".jsonl",
                                                          "20261001T000000Z_" + k_id.substr(1) + ".json"});
}

TEST_CASE("probe run --keep 2 --compress-after 0: the folder after a run", "[retention]") {
  probe::test::MockDns server;
  TempDir dir;
  const auto list = dir.write("test.json", nlohmann::json{{"app", "test"}, {"reviewed", "2026-11-28"},
                                                           {"targets", {{{"host", "plain.test"}, {"kind", "dns"},
                                                                         {"purpose", "test"}, {"sources", {"test"}}}}}}
                                               .dump());
  const fs::path out = dir.path() / "reports";
  fs::create_directories(out);
  for (const std::string stamp : {"20200101T000000Z", "20200102T000000Z", "20200103T000000Z"}) {
    std::ofstream(out / (stamp + "_" + k_id + ".json")) << "{}\n";
  }
  const auto result = probe::test::run_probe({"run", "--targets", list.string(), "--out", out.string(),
                                              "--no-system-resolver", "--resolver", server.address(), "--timeout",
                                              "1", "--tries", "1", "--keep", "2", "--compress-after", "0"});
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  const auto left = names(out);
  CHECK(left.count("20200103T000000Z_" + k_id + ".json.gz") == 1);
  CHECK(left.count("20200102T000000Z_" + k_id + ".json") == 0);
  CHECK(left.count("20200101T000000Z_" + k_id + ".json") == 0);
  CHECK(left.count("history.sqlite") == 1);
  CHECK(left.size() == 4);  // this run's report, the newest earlier one (compressed), the lock, the index
  CHECK(result.err.find("retention: 2 old reports removed, 1 compressed") != std::string::npos);
  CHECK(probe::test::run_probe({"run", "--keep", "0"}).exit_code == 64);
}
