#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace probe::test {

// The one file a probe run wrote into `folder` (besides the output lock's .probe.lock and the
// history index); the test fails (REQUIRE) unless there is exactly one.
std::filesystem::path only_report(const std::filesystem::path& folder);

// Whether tests/schema/validate.py accepts every file in `files` against reports/schema.json, or
// with `expect_invalid` whether it rejects every one.
bool validates(const std::vector<std::string>& files, bool expect_invalid = false);

}  // namespace probe::test
