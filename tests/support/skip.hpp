#pragma once

#include <sstream>
#include <string>

// A test that cannot run on this machine says so instead of passing: PROBE_SKIP("why") records
// the reason and returns from the test case. The test binary's main() (support/main.cpp) then
// prints "SKIP: <test case>: <why>" and, when every test case it ran was skipped (ctest runs one
// per process), exits 77, which ctest reports as Skipped (SKIP_RETURN_CODE). A skip never
// hides a failure: a case that failed before it skipped still fails.
//
// Only for what the machine lacks (root, a tool, a pseudo-terminal); in CI, scripts/test fails
// on any skip, so the machine CI runs on must be able to run everything.
namespace probe::test {

void record_skip(const std::string& reason);

}  // namespace probe::test

#define PROBE_SKIP(reason)                                    \
  do {                                                        \
    std::ostringstream probe_skip_reason_;                    \
    probe_skip_reason_ << reason;                             \
    ::probe::test::record_skip(probe_skip_reason_.str());     \
    return;                                                   \
  } while (false)
