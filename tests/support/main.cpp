// The test binary's main(): Catch's session, plus the bookkeeping of skipped test cases
// (support/skip.hpp).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <iostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "support/skip.hpp"

namespace {

struct SkipBook {
  std::size_t cases_run = 0;
  std::string current;
  std::vector<std::pair<std::string, std::string>> skips;  // test case, reason
};

SkipBook& book() {
  static SkipBook instance;
  return instance;
}

class SkipListener : public Catch::TestEventListenerBase {
public:
  using TestEventListenerBase::TestEventListenerBase;
  void testCaseStarting(const Catch::TestCaseInfo& info) override {
    ++book().cases_run;
    book().current = info.name;
  }
};

}  // namespace

CATCH_REGISTER_LISTENER(SkipListener)

namespace probe::test {

void record_skip(const std::string& reason) {
  book().skips.emplace_back(book().current, reason);
  WARN("SKIP: " << reason);
}

}  // namespace probe::test

// The exit code ctest reads as "skipped" (SKIP_RETURN_CODE in tests/CMakeLists.txt), as automake's.
constexpr int k_skipped = 77;

int main(int argc, char* argv[]) {
  const int failed = Catch::Session().run(argc, argv);
  std::set<std::string> skipped_cases;
  for (const auto& [name, reason] : book().skips) {
    std::cout << "SKIP: " << name << ": " << reason << "\n";
    skipped_cases.insert(name);
  }
  std::cout.flush();
  if (failed == 0 && !skipped_cases.empty() && skipped_cases.size() == book().cases_run) {
    return k_skipped;
  }
  return failed;
}
