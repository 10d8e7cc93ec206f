#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace probe::test {

// The checked-in report fixtures (tests/fixtures/reports): the folder, and one report read
// (gzip or not) and parsed.
extern const std::filesystem::path k_report_fixtures;
nlohmann::json report_fixture(const std::string& name);

// The one file a probe run wrote into `folder` (besides the output lock's .probe.lock and the
// history index); the test fails (REQUIRE) unless there is exactly one.
std::filesystem::path only_report(const std::filesystem::path& folder);

// Whether tests/schema/validate.py accepts every file in `files` against reports/schema.json, or
// with `expect_invalid` whether it rejects every one.
bool validates(const std::vector<std::string>& files, bool expect_invalid = false);

// Why the schema rejects a document: one error per failed rule, down to the innermost (each branch
// of an anyOf), as the JSON path of the value ("results/1/verdict/status", "" for the top) and the
// JSON Schema keyword that failed ("enum", "required", "additionalProperties", ...).
struct SchemaError {
  std::string path;
  std::string keyword;
};
// The errors of each file in `files`, in order (tests/schema/validate.py --explain).
std::vector<std::vector<SchemaError>> schema_errors(const std::vector<std::string>& files);

}  // namespace probe::test
