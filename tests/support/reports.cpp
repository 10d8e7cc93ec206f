#include "support/reports.hpp"

#include <catch2/catch.hpp>

#include "support/run_command.hpp"

namespace probe::test {

namespace {

const std::string k_schema = std::string(PROBE_SOURCE_DIR) + "/reports/schema.json";
const std::string k_validator = std::string(PROBE_SOURCE_DIR) + "/tests/schema/validate.py";

}  // namespace

std::filesystem::path only_report(const std::filesystem::path& folder) {
  std::vector<std::filesystem::path> found;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    // The output lock's file stays (empty but for a pid), and so does the history index; anything
    // else left beside the report (a .jsonl log, a temporary file) fails the test.
    const std::string name = entry.path().filename().string();
    if (name != ".probe.lock" && !name.starts_with("history.sqlite")) {
      found.push_back(entry.path());
    }
  }
  REQUIRE(found.size() == 1);
  return found[0];
}

bool validates(const std::vector<std::string>& files, bool expect_invalid) {
  std::vector<std::string> args = {"/usr/bin/python3", k_validator, k_schema};
  if (expect_invalid) {
    args.push_back("--expect-invalid");
  }
  args.insert(args.end(), files.begin(), files.end());
  const auto result = run_command(args);
  INFO(result.out << result.err);
  return result.exit_code == 0;
}

}  // namespace probe::test
