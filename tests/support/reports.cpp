#include "support/reports.hpp"

#include <catch2/catch.hpp>

#include <sstream>

#include <nlohmann/json.hpp>

#include "store/retention.hpp"
#include "support/run_command.hpp"

namespace probe::test {

namespace {

const std::string k_schema = std::string(PROBE_SOURCE_DIR) + "/reports/schema.json";
const std::string k_validator = std::string(PROBE_SOURCE_DIR) + "/tests/schema/validate.py";

}  // namespace

const std::filesystem::path k_report_fixtures = std::filesystem::path(PROBE_SOURCE_DIR) / "tests/fixtures/reports";

nlohmann::json report_fixture(const std::string& name) {
  return nlohmann::json::parse(probe::read_report_text(k_report_fixtures / name));
}

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

std::vector<std::vector<SchemaError>> schema_errors(const std::vector<std::string>& files) {
  std::vector<std::string> args = {"/usr/bin/python3", k_validator, k_schema, "--explain"};
  args.insert(args.end(), files.begin(), files.end());
  const auto result = run_command(args);
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  std::vector<std::vector<SchemaError>> out;
  std::istringstream lines(result.out);
  for (std::string line; std::getline(lines, line);) {
    std::vector<SchemaError> errors;
    const nlohmann::json explained = nlohmann::json::parse(line);  // kept: the loop reads into it
    for (const auto& error : explained.at("errors")) {
      errors.push_back({error.at("path").get<std::string>(), error.at("keyword").get<std::string>()});
    }
    out.push_back(std::move(errors));
  }
  REQUIRE(out.size() == files.size());
  return out;
}

}  // namespace probe::test
