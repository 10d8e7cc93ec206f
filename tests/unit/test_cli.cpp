#include <catch2/catch.hpp>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "support/run_command.hpp"
#include "support/temp_dir.hpp"

using probe::test::run_probe;
using probe::test::TempDir;

namespace {
const std::string k_targets = std::string(PROBE_SOURCE_DIR) + "/targets";

std::size_t lines_in(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}
}  // namespace

TEST_CASE("unknown flags and missing subcommands exit 64 with a one-line hint", "[cli]") {
  auto result = run_probe({"targets", "list", "--frobnicate"});
  CHECK(result.exit_code == 64);
  CHECK(result.err == "probe: The following argument was not expected: --frobnicate (see 'probe targets list --help')\n");
  CHECK(result.out.empty());

  result = run_probe({});
  CHECK(result.exit_code == 64);
  CHECK(lines_in(result.err) == 1);
  CHECK(result.err.find("see 'probe --help'") != std::string::npos);

  result = run_probe({"nosuchcommand"});
  CHECK(result.exit_code == 64);
  CHECK(lines_in(result.err) == 1);

  result = run_probe({"targets", "validate"});
  CHECK(result.exit_code == 64);
  CHECK(result.err.find("files is required") != std::string::npos);
}

TEST_CASE("help (--help) explains the subcommands and exits 0", "[cli]") {
  auto result = run_probe({"--help"});
  CHECK(result.exit_code == 0);
  CHECK(result.out.find("targets") != std::string::npos);
  CHECK(result.out.find("Exit codes") != std::string::npos);
  result = run_probe({"targets", "list", "--help"});
  CHECK(result.exit_code == 0);
  CHECK(result.out.find("--app") != std::string::npos);
  result = run_probe({"version"});
  CHECK(result.exit_code == 0);
  CHECK(result.out.rfind("probe 0.", 0) == 0);
  CHECK(result.out.find("c-ares 1.") != std::string::npos);
}

TEST_CASE("targets validate reports each bad file with its position and exit 65", "[cli]") {
  TempDir dir;
  const auto good = dir.write("a.json", "{\"app\": \"a\", \"reviewed\": \"2026-11-28\", \"targets\": "
                                           "[{\"host\": \"a.org\", \"kind\": \"tls\", \"purpose\": \"p\", \"sources\": [\"s\"]}]}");
  const auto bad = dir.write("bad.json", "{\"app\": \"a\", \"reviewed\": \"2026-11-28\", \"targets\": [\n"
                                         "  {\"host\": \"a.org\", \"kind\": \"tcp\", \"port\": 99999, \"purpose\": \"p\", \"sources\": [\"s\"]}]}");
  auto result = run_probe({"targets", "validate", good.string(), bad.string()});
  CHECK(result.exit_code == 65);
  CHECK(result.out == good.string() + ": ok, 1 targets, reviewed 2026-11-28\n");
  CHECK(result.err == "probe: " + bad.string() + ":2:44: targets[0].port: 99999 is out of range 1-65535\n");

  result = run_probe({"targets", "validate", (dir.path() / "missing.json").string()});
  CHECK(result.exit_code == 66);
}

TEST_CASE("targets validate refuses an app that is not the file's name and a review date in the future, "
          "a run warns of them",
          "[cli]") {
  TempDir dir;
  const std::string targets = "\"targets\": [{\"host\": \"a.org\", \"kind\": \"tls\", \"purpose\": \"p\", "
                              "\"sources\": [\"s\"]}]}";
  const auto renamed = dir.write("signal-copy.json", "{\"app\": \"signal\", \"reviewed\": \"2026-11-28\", " + targets);
  const auto future = dir.write("b.json", "{\"app\": \"b\",\n \"reviewed\": \"2999-01-01\", " + targets);
  const auto good = dir.write("c.json", "{\"app\": \"c\", \"reviewed\": \"2026-11-28\", " + targets);
  auto result = run_probe({"targets", "validate", renamed.string(), future.string(), good.string()});
  CHECK(result.exit_code == 65);
  CHECK(result.err == "probe: " + renamed.string() +
                          ":1:9: app: 'signal' is not the file's name 'signal-copy' (a list is named after its app)\n"
                          "probe: " + future.string() + ":2:14: reviewed: '2999-01-01' is in the future (a typo?)\n");
  CHECK(result.out == good.string() + ": ok, 1 targets, reviewed 2026-11-28\n");
  // A run (here: the list it would measure) goes on, and says so.
  result = run_probe({"targets", "list", "--targets", renamed.string()});
  CHECK(result.exit_code == 0);
  CHECK_THAT(result.err, Catch::Contains("app: 'signal' is not the file's name 'signal-copy'") &&
                             Catch::Contains("(probe targets validate refuses it)"));
}

TEST_CASE("targets list prints the shipped lists, JSON on stdout and logs on stderr", "[cli]") {
  auto result = run_probe({"-v", "targets", "list", "--targets", k_targets, "--app", "signal", "--json"});
  REQUIRE(result.exit_code == 0);
  const auto listed = nlohmann::json::parse(result.out);  // nothing but JSON on stdout
  REQUIRE(listed.size() >= 5);
  for (const auto& target : listed) {
    CHECK(target["app"] == "signal");
  }
  CHECK(result.err.find("signal.json") != std::string::npos);  // the log went to stderr

  result = run_probe({"targets", "list", "--targets", k_targets, "--url", "https://example.org/x"});
  REQUIRE(result.exit_code == 0);
  CHECK(result.out.find("chat.signal.org") != std::string::npos);
  CHECK(result.out.find("adhoc") != std::string::npos);

  result = run_probe({"targets", "list", "--targets", k_targets, "--app", "nosuch"});
  CHECK(result.exit_code == 64);
  result = run_probe({"targets", "list", "--url", "https://exa mple.org/"});
  CHECK(result.exit_code == 64);
  CHECK(result.err == "probe: error: --url 'https://exa mple.org/': character ' ' not allowed in a host name\n");
}
