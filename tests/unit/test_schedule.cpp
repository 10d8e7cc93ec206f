#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli/default_targets.hpp"
#include "cli/schedule.hpp"
#include "core/duration.hpp"
#include "steps/transfer_workers.hpp"
#include "support/reports.hpp"
#include "support/run_command.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using probe::test::CommandResult;
using probe::test::only_report;
using probe::test::read_file;
using probe::test::run_command;
using probe::test::run_probe;
using probe::test::TempDir;
using std::chrono::seconds;

extern char** environ;

namespace {

// The probe's path as /proc/self/exe gives it: what schedule writes.
std::string probe_path() { return fs::canonical(PROBE_BINARY).string(); }

// Runs `binary` with `args` in the working directory `cwd`.
CommandResult run_in(const fs::path& cwd, const std::string& binary, const std::vector<std::string>& args) {
  std::vector<std::string> full = {"/bin/sh", "-c", "cd \"$1\" && shift && exec \"$@\"", "sh", cwd.string(), binary};
  full.insert(full.end(), args.begin(), args.end());
  return run_command(full);
}

CommandResult probe_in(const fs::path& cwd, const std::vector<std::string>& args) {
  return run_in(cwd, PROBE_BINARY, args);
}

// A folder (its canonical path: what getcwd() gives the probe) holding lists/test.json.
struct Workspace {
  TempDir dir;
  fs::path base = fs::canonical(dir.path());
  Workspace() {
    dir.write("lists/test.json", R"({"app": "test", "reviewed": "2026-11-28", "targets": [
      {"host": "127.0.0.1", "kind": "tcp", "port": 1, "purpose": "test", "sources": ["test"]}]})");
  }
};

// A run that does nothing on the network: its only target is a loopback address, which a run does
// not connect to without --allow-bogon, and it asks no resolver.
std::vector<std::string> offline_run(const fs::path& out) {
  return {"run", "--url", "tcp://127.0.0.1:1", "--no-system-resolver", "--resolver", "127.0.0.1:1",
          "--tries", "1", "--out", out.string()};
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST_CASE("durations are parsed strictly and printed back the same way", "[schedule]") {
  CHECK(probe::parse_duration("90s", nullptr) == seconds(90));
  CHECK(probe::parse_duration("30m", nullptr) == seconds(1800));
  CHECK(probe::parse_duration("6h", nullptr) == seconds(6 * 3600));
  CHECK(probe::parse_duration("1d", nullptr) == seconds(86400));
  CHECK(probe::parse_duration("0", nullptr) == seconds(0));
  CHECK(probe::parse_duration("0s", nullptr) == seconds(0));
  for (const char* bad : {"", "6", "h", "6x", "1.5h", "-1h", "+1h", " 6h", "6h ", "6 h", "1h30m", "6H", "99999999999d"}) {
    INFO(bad);
    std::string problem;
    CHECK_FALSE(probe::parse_duration(bad, &problem));
    CHECK_FALSE(problem.empty());
  }
  CHECK(probe::format_duration(seconds(1800)) == "30m");
  CHECK(probe::format_duration(seconds(90)) == "90s");
  CHECK(probe::format_duration(seconds(7200)) == "2h");
  CHECK(probe::format_duration(seconds(0)) == "0s");
  CHECK(probe::format_systemd_span(seconds(1800)) == "30min");
  CHECK(probe::format_systemd_span(seconds(86400)) == "1d");
}

TEST_CASE("cron fields exist only for intervals that divide an hour, a day or a week evenly", "[schedule]") {
  CHECK(probe::cron_fields(seconds(60)) == "* * * * *");
  CHECK(probe::cron_fields(seconds(900)) == "*/15 * * * *");
  CHECK(probe::cron_fields(seconds(3600)) == "0 * * * *");
  CHECK(probe::cron_fields(seconds(8 * 3600)) == "0 */8 * * *");
  CHECK(probe::cron_fields(seconds(86400)) == "0 0 * * *");
  CHECK(probe::cron_fields(seconds(7 * 86400)) == "0 0 * * 0");
  for (const long long bad : {0LL, 30LL, 90LL, 45LL * 60, 90LL * 60, 5LL * 3600, 2LL * 86400}) {
    INFO(bad);
    CHECK_FALSE(probe::cron_fields(seconds(bad)));
  }
  CHECK(probe::shell_quote("/a/b-c_d.json") == "/a/b-c_d.json");
  CHECK(probe::shell_quote("/my reports/it's") == "'/my reports/it'\\''s'");
  CHECK(probe::shell_quote("") == "''");
  CHECK(probe::systemd_quote("/a/b") == "/a/b");
  CHECK(probe::systemd_quote("/a/100%$") == "/a/100%%$$");
  CHECK(probe::systemd_quote("/my \"reports\"") == "\"/my \\\"reports\\\"\"");
}

TEST_CASE("schedule prints one crontab line with absolute paths, fields from --every", "[schedule]") {
  Workspace space;
  const std::string tail = " --targets " + (space.base / "lists").string() + " --out " +
                           (space.base / "reports").string() + " >/dev/null\n";
  struct Case {
    std::string every;
    std::string jitter;
    std::string fields;
  };
  for (const Case& c : std::vector<Case>{{"15m", "", "*/15 * * * *"},
                                         {"1h", "", "0 * * * *"},
                                         {"60m", "", "0 * * * *"},
                                         {"6h", "30m", "0 */6 * * *"},
                                         {"12h", "", "0 */12 * * *"},
                                         {"1d", "90s", "0 0 * * *"},
                                         {"7d", "", "0 0 * * 0"},
                                         {"120s", "", "*/2 * * * *"}}) {
    std::vector<std::string> args = {"schedule", "--every", c.every, "--targets", "lists", "--out", "reports"};
    if (!c.jitter.empty()) {
      args.insert(args.end(), {"--jitter", c.jitter});
    }
    const auto result = probe_in(space.base, args);
    INFO(c.every << " " << result.err);
    CHECK(result.exit_code == 0);
    CHECK(result.out == c.fields + " " + probe_path() + " -q run" + (c.jitter.empty() ? "" : " --jitter " + c.jitter) +
                            tail);
  }
  // --cron is the default, said out loud.
  const auto result = probe_in(space.base, {"schedule", "--cron", "--every", "6h", "--targets", "lists", "--out", "reports"});
  CHECK(result.out == "0 */6 * * * " + probe_path() + " -q run" + tail);
}

TEST_CASE("the crontab line passes run options on, paths made absolute, quoted for sh, % escaped", "[schedule]") {
  Workspace space;
  // The run's own checks read the credentials file (it must be there, private) and the CA file.
  fs::create_directories(space.base / "sub");
  fs::copy_file("targets/ca/signal-messenger-ca.pem", space.base / "ca.pem");
  fs::permissions(space.dir.write("auth", "user:password\n"), fs::perms::owner_read | fs::perms::owner_write);
  const auto result = probe_in(space.base, {"schedule", "--every", "1h", "--targets", "lists", "--out", "it's 100%",
                                            "--", "--ca-file=ca.pem", "--resolver", "9.9.9.9",
                                            "--control-auth-file", "sub/../auth", "--vantage", "home"});
  INFO(result.err);
  CHECK(result.exit_code == 0);
  CHECK(result.out == "0 * * * * " + probe_path() + " -q run --targets " + (space.base / "lists").string() +
                          " --out '" + (space.base).string() + "/it'\\''s 100\\%' --ca-file=" +
                          (space.base / "ca.pem").string() + " --resolver 9.9.9.9 --control-auth-file " +
                          (space.base / "auth").string() + " --vantage home >/dev/null\n");

  // A typo in the run's options is refused now rather than at every run.
  const auto typo = probe_in(space.base, {"schedule", "--every", "1h", "--targets", "lists", "--", "--timeot", "3"});
  CHECK(typo.exit_code == 64);
  CHECK(typo.err.find("--timeot") != std::string::npos);
  // So is a list that cannot be read.
  CHECK(probe_in(space.base, {"schedule", "--every", "1h", "--targets", "nosuch"}).exit_code == 66);
}

TEST_CASE("schedule without --targets uses the folder a run started here would read", "[schedule]") {
  Workspace space;
  space.dir.write("targets/test.json", read_file(space.base / "lists" / "test.json"));
  const auto result = probe_in(space.base, {"schedule", "--every", "6h"});
  INFO(result.err);
  CHECK(result.exit_code == 0);
  CHECK(result.out == "0 */6 * * * " + probe_path() + " -q run --targets " + (space.base / "targets").string() +
                          " --out " + (space.base / "reports").string() + " >/dev/null\n");
  CHECK(result.err.find("no --targets: reading targets (the working directory's)") != std::string::npos);
}

TEST_CASE("bad durations and intervals cron cannot keep exit 64 naming the flag", "[schedule]") {
  Workspace space;
  struct Case {
    std::vector<std::string> args;
    std::string flag;
  };
  const std::vector<Case> cases = {
      {{"--every", "6x"}, "--every"},   {{"--every", "6"}, "--every"},     {{"--every", "1.5h"}, "--every"},
      {{"--every", "-1h"}, "--every"},  {{"--every", "1h30m"}, "--every"}, {{"--every", ""}, "--every"},
      {{"--every", "0"}, "--every"},    {{"--every", "90s"}, "--every"},   {{"--every", "45m"}, "--every"},
      {{"--every", "5h"}, "--every"},   {{"--every", "2d"}, "--every"},    {{"--every", "6h", "--jitter", "5q"}, "--jitter"},
      {{"--every", "1h", "--jitter", "1h"}, "--jitter"}, {{"--jitter", "1m"}, "--every"}};
  for (const Case& c : cases) {
    std::vector<std::string> args = {"schedule", "--targets", "lists"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const auto result = probe_in(space.base, args);
    INFO(c.args[0] << " " << c.args[1] << ": " << result.err);
    CHECK(result.exit_code == 64);
    CHECK(result.err.find(c.flag) != std::string::npos);
    CHECK(result.out.empty());
  }
  const auto cron = probe_in(space.base, {"schedule", "--every", "45m", "--targets", "lists"});
  CHECK(cron.err.find("cron cannot run this evenly") != std::string::npos);
  CHECK(cron.err.find("--systemd") != std::string::npos);

  const auto run = run_probe({"run", "--jitter", "abc"});
  CHECK(run.exit_code == 64);
  CHECK(run.err.find("--jitter: 'abc': expected a whole number and a unit") != std::string::npos);
}

TEST_CASE("schedule --systemd writes a oneshot service and its timer", "[schedule]") {
  Workspace space;
  auto result = probe_in(space.base, {"schedule", "--every", "6h", "--jitter", "30m", "--systemd", "units",
                                      "--targets", "lists", "--out", "reports"});
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  const fs::path units = space.base / "units";
  CHECK(result.out == (units / "probe.service").string() + "\n" + (units / "probe.timer").string() + "\n");
  const std::string service = read_file(units / "probe.service");
  CHECK(service.find("\nType=oneshot\n") != std::string::npos);
  CHECK(service.find("runs never overlap") != std::string::npos);
  CHECK(service.find("\nSuccessExitStatus=143\n") != std::string::npos);
  // Absolute paths; no --jitter, no -q: systemd delays the start, the journal keeps the summary.
  CHECK(service.find("\nExecStart=" + probe_path() + " run --targets " + (space.base / "lists").string() +
                     " --out " + (space.base / "reports").string() + "\n") != std::string::npos);
  const std::string timer = read_file(units / "probe.timer");
  CHECK(timer.find("\nOnCalendar=*-*-* 00/6:00:00\n") != std::string::npos);
  CHECK(timer.find("\nRandomizedDelaySec=30min\n") != std::string::npos);
  CHECK(timer.find("\nPersistent=true\n") != std::string::npos);
  CHECK(timer.find("\nWantedBy=timers.target\n") != std::string::npos);
  CHECK((fs::status(units / "probe.timer").permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read));
  if (access("/usr/bin/systemd-analyze", X_OK) == 0) {
    const auto verify = run_command({"/usr/bin/systemd-analyze", "verify", (units / "probe.service").string(),
                                     (units / "probe.timer").string()});
    INFO(verify.out << verify.err);
    CHECK(verify.exit_code == 0);
  }

  // An interval without a calendar form (cron refuses it): counted from the last start.
  result = probe_in(space.base, {"schedule", "--every", "90m", "--systemd", "other", "--targets", "lists"});
  REQUIRE(result.exit_code == 0);
  const std::string monotonic = read_file(space.base / "other" / "probe.timer");
  CHECK(monotonic.find("\nOnUnitActiveSec=90min\n") != std::string::npos);
  CHECK(monotonic.find("OnCalendar=") == std::string::npos);
  CHECK(monotonic.find("RandomizedDelaySec") == std::string::npos);
}

TEST_CASE("schedule --systemd replaces different unit files only with --force", "[schedule]") {
  Workspace space;
  const fs::path units = space.base / "units";
  const std::vector<std::string> base_args = {"schedule", "--systemd", "units", "--targets", "lists"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base_args;
    args.insert(args.end(), extra.begin(), extra.end());
    return probe_in(space.base, args);
  };
  REQUIRE(with({"--every", "6h"}).exit_code == 0);
  const std::string service = read_file(units / "probe.service");
  const std::string timer = read_file(units / "probe.timer");

  auto result = with({"--every", "6h"});  // the same files again: nothing to refuse
  CHECK(result.exit_code == 0);
  CHECK(result.err.find("probe.timer is unchanged") != std::string::npos);

  result = with({"--every", "12h"});
  CHECK(result.exit_code == 73);
  CHECK(result.err.find((units / "probe.timer").string() + ": exists with other content (--force replaces it)") !=
        std::string::npos);
  CHECK(read_file(units / "probe.timer") == timer);
  CHECK(read_file(units / "probe.service") == service);

  result = with({"--every", "12h", "--force"});
  CHECK(result.exit_code == 0);
  CHECK(read_file(units / "probe.timer").find("OnCalendar=*-*-* 00/12:00:00") != std::string::npos);
  CHECK(read_file(units / "probe.service") == service);

  CHECK(probe_in(space.base, {"schedule", "--every", "6h", "--force", "--targets", "lists"}).exit_code == 64);
  space.dir.write("plain-file", "x");
  result = probe_in(space.base, {"schedule", "--every", "6h", "--systemd", "plain-file", "--targets", "lists"});
  CHECK(result.exit_code == 73);
  CHECK(std::count_if(fs::directory_iterator(units), fs::directory_iterator(), [](const auto&) { return true; }) == 2);
}

TEST_CASE("run --jitter waits a random time below the bound, 0 not at all", "[schedule]") {
  TempDir dir;
  auto args = offline_run(dir.path() / "now");
  args.insert(args.end(), {"--jitter", "0"});
  auto start = std::chrono::steady_clock::now();
  auto result = run_probe(args);
  INFO(result.err);
  CHECK(result.exit_code == 0);
  CHECK(result.err.find("waiting") == std::string::npos);
  CHECK(seconds_since(start) < 3.0);  // generous: loaded machines, sanitizer builds
  only_report(dir.path() / "now");

  args = offline_run(dir.path() / "later");
  args.insert(args.end(), {"--jitter", "1s"});
  start = std::chrono::steady_clock::now();
  result = run_probe(args);
  const double elapsed = seconds_since(start);
  INFO(result.err);
  CHECK(result.exit_code == 0);
  std::smatch match;
  REQUIRE(std::regex_search(result.err, match, std::regex("--jitter 1s: waiting ([0-9]+\\.[0-9]{3}) s before measuring")));
  const double waited = std::stod(match[1].str());
  CHECK(waited >= 0.0);
  CHECK(waited < 1.0);
  CHECK(elapsed >= waited - 0.01);
  only_report(dir.path() / "later");
}

TEST_CASE("run --jitter: SIGTERM during the wait ends the run at once", "[schedule]") {
  TempDir dir;
  std::vector<std::string> args = {PROBE_BINARY};
  const auto run = offline_run(dir.path() / "reports");
  args.insert(args.end(), run.begin(), run.end());
  args.insert(args.end(), {"--jitter", "1d"});
  std::vector<char*> argv;
  for (auto& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  REQUIRE(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) == 0);
  posix_spawn_file_actions_destroy(&actions);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto start = std::chrono::steady_clock::now();
  ::kill(pid, SIGTERM);
  int status = 0;
  bool ended = false;
  while (!ended && seconds_since(start) < 5.0) {
    ended = waitpid(pid, &status, WNOHANG) == pid;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!ended) {
    ::kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  CHECK(ended);
  CHECK(seconds_since(start) < 2.0);
  // Killed by the signal, or (with a handler installed) exited 143 as a stopped run does.
  CHECK(((WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) || (WIFEXITED(status) && WEXITSTATUS(status) == 143)));
}

TEST_CASE("a config file gives flag values, the command line wins over them", "[schedule][config]") {
  Workspace space;
  const fs::path config = space.dir.write("probe.toml", "# a scheduled run's settings\n"
                                                        "[run]\n"
                                                        "timeout = 0.5\n"
                                                        "vantage = \"from-config\"\n");
  auto args = offline_run(space.base / "one");
  args.insert(args.begin(), {"--config", config.string()});
  auto result = run_probe(args);
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  json report = json::parse(read_file(only_report(space.base / "one")));
  CHECK(report["options"]["timeout_ms"] == 500);
  CHECK(report["vantage"]["id"] == "from-config");

  // After the subcommand too; the command line wins.
  args = offline_run(space.base / "two");
  args.insert(args.end(), {"--config", config.string(), "--vantage", "from-flag", "--timeout", "0.25"});
  result = run_probe(args);
  REQUIRE(result.exit_code == 0);
  report = json::parse(read_file(only_report(space.base / "two")));
  CHECK(report["options"]["timeout_ms"] == 250);
  CHECK(report["vantage"]["id"] == "from-flag");
}

TEST_CASE("a bad config file exits 64 naming the file and the key, a missing one 66", "[schedule][config]") {
  TempDir dir;
  struct Case {
    std::string content;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"[run]\ntimeot = 3\n", "run.timeot: 'probe run' has no flag --timeot"},
           {"[run]\ntimeout = \"abc\"\n", "run.timeout: Value abc not in range"},
           {"[run]\ncc = \"Z1\"\n", "run.cc: 'Z1' is not a two-letter country code"},
           {"[run]\njitter = \"soon\"\n", "run.jitter: 'soon': expected a whole number and a unit"},
           {"[rnu]\ntimeout = 3\n", "[rnu]: no command 'rnu'"},
           {"verbos = 1\n", "verbos: 'probe' has no flag --verbos"},
       }) {
    const fs::path file = dir.write("bad.toml", c.content);
    const auto result = run_probe({"--config", file.string(), "targets", "list"});
    INFO(c.content << result.err);
    CHECK(result.exit_code == 64);
    CHECK(result.err.find("probe: " + file.string() + ": " + c.message) == 0);
  }
  const auto missing = run_probe({"run", "--config", (dir.path() / "nosuch.toml").string()});
  CHECK(missing.exit_code == 66);
  CHECK(missing.err.find("nosuch.toml") != std::string::npos);
}

TEST_CASE("schedule --config passes the file on, and refuses relative paths in it", "[schedule][config]") {
  Workspace space;
  const fs::path config = space.dir.write("probe.toml", "[run]\nout = \"" + (space.base / "kept").string() + "\"\n");
  auto result = probe_in(space.base, {"schedule", "--every", "1h", "--config", "probe.toml", "--targets", "lists"});
  INFO(result.err);
  CHECK(result.exit_code == 0);
  // No --out: the file's would lose to it.
  CHECK(result.out == "0 * * * * " + probe_path() + " -q --config " + (space.base / "probe.toml").string() +
                          " run --targets " + (space.base / "lists").string() + " >/dev/null\n");

  space.dir.write("relative.toml", "[run]\nout = \"reports\"\n");
  result = probe_in(space.base, {"schedule", "--every", "1h", "--config", "relative.toml", "--targets", "lists"});
  CHECK(result.exit_code == 78);
  CHECK(result.err.find((space.base / "relative.toml").string() + ": run.out 'reports': ") != std::string::npos);
}

TEST_CASE("default target folders: working directory, installed beside the binary, checkout, configured prefix",
          "[schedule][install]") {
  const auto folders = probe::default_targets_folders("/opt/probe/bin/probe", "bin", "share", "/usr/local/share");
  std::vector<std::string> paths;
  for (const auto& folder : folders) {
    paths.push_back(folder.path.string());
  }
  CHECK(paths == std::vector<std::string>{"targets", "/opt/probe/share/probe/targets", "/opt/probe/targets",
                                          "/usr/local/share/probe/targets"});
  CHECK(probe::default_targets_folders("", "bin", "share", "/usr/share").size() == 2);
}

TEST_CASE("cmake --install: the installed binary finds its installed lists from any folder", "[schedule][install]") {
  TempDir prefix_dir;
  const fs::path prefix = fs::canonical(prefix_dir.path());
  const auto install = run_command({CMAKE_COMMAND_PATH, "--install", fs::path(PROBE_BINARY).parent_path().string(),
                                    "--prefix", prefix.string()});
  INFO(install.out << install.err);
  REQUIRE(install.exit_code == 0);
  const fs::path binary = prefix / "bin" / "probe";
  const fs::path lists = prefix / "share" / "probe" / "targets";
  CHECK(fs::is_regular_file(binary));
  CHECK(fs::is_regular_file(lists / "signal.json"));
  CHECK(fs::is_regular_file(lists / "ca" / "signal-messenger-ca.pem"));

  TempDir elsewhere;  // no targets/ here
  auto result = run_in(elsewhere.path(), binary.string(), {"targets", "list", "--app", "signal", "--json"});
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  CHECK(result.err.find("no --targets: reading " + lists.string() + " (installed beside the binary)") !=
        std::string::npos);
  const json listed = json::parse(result.out);
  REQUIRE_FALSE(listed.empty());
  bool names_ca = false;
  for (const auto& target : listed) {
    for (const auto& ca : target["ca_files"]) {
      names_ca = true;
      CHECK(ca == (lists / "ca" / "signal-messenger-ca.pem").string());
    }
  }
  CHECK(names_ca);

  result = run_in(elsewhere.path(), binary.string(), {"schedule", "--every", "6h", "--out", "/var/tmp/r"});
  CHECK(result.exit_code == 0);
  CHECK(result.out == "0 */6 * * * " + binary.string() + " -q run --targets " + lists.string() +
                          " --out /var/tmp/r >/dev/null\n");
}

TEST_CASE("the TLS threads option: the report records it, one per core by default, out of range exits 64",
          "[cli][concurrency]") {
  Workspace space;
  auto args = offline_run(space.base / "one");
  args.insert(args.end(), {"--tls-threads", "1"});
  auto result = run_probe(args);
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  CHECK(json::parse(read_file(only_report(space.base / "one")))["options"]["tls_threads"] == 1);

  result = run_probe(offline_run(space.base / "two"));
  REQUIRE(result.exit_code == 0);
  CHECK(json::parse(read_file(only_report(space.base / "two")))["options"]["tls_threads"] ==
        probe::TransferWorkers::default_threads());

  args = offline_run(space.base / "three");
  args.insert(args.end(), {"--tls-threads", "17"});
  result = run_probe(args);
  CHECK(result.exit_code == 64);
  CHECK(result.err.find("--tls-threads") != std::string::npos);
}

TEST_CASE("a real-number flag is finite: nan and inf exit 64 on the command line, in a config file and after "
          "schedule --",
          "[schedule][config]") {
  Workspace space;
  for (const std::string& value : std::vector<std::string>{"nan", "NaN", "-nan", "inf", "-infinity"}) {
    INFO(value);
    const bool nan = value.find("nan") != std::string::npos || value.find("NaN") != std::string::npos;
    for (const std::string& flag : std::vector<std::string>{"--timeout", "--control-timeout"}) {
      // Offline: were the value taken, the run would measure loopback only.
      auto args = offline_run(space.base / "out");
      args.insert(args.end(), {flag, value});
      const auto result = run_probe(args);
      CHECK(result.exit_code == 64);
      // NaN passes every range check, so it has its own message; an infinity is out of range.
      CHECK(result.err.find(flag + ": ") == 7);
      CHECK(result.err.find(nan ? "'" + value + "' is not a finite number" : value + " not in range") !=
            std::string::npos);
    }
    const fs::path file = space.dir.write("nan.toml", "[run]\ntimeout = \"" + value + "\"\n");
    std::vector<std::string> args = {"--config", file.string()};
    const auto offline = offline_run(space.base / "out");
    args.insert(args.end(), offline.begin(), offline.end());
    const auto configured = run_probe(args);
    CHECK(configured.exit_code == 64);
    CHECK(configured.err.find("probe: " + file.string() + ": run.timeout: ") == 0);
    CHECK(configured.err.find(value) != std::string::npos);
    const auto scheduled =
        probe_in(space.base, {"schedule", "--every", "1h", "--targets", "lists", "--", "--timeout", value});
    CHECK(scheduled.exit_code == 64);
    CHECK(scheduled.err.find("--timeout: ") != std::string::npos);
  }
  // Finite values are the Range's to judge, as before.
  auto args = offline_run(space.base / "out");
  args.insert(args.end(), {"--timeout", "1e9"});
  CHECK(run_probe(args).exit_code == 64);
}

TEST_CASE("a user agent with a control character (CR LF would add headers) exits 64, in flags and config files",
          "[schedule][config]") {
  Workspace space;
  for (const std::string& value : {std::string("probe\r\nX-Injected: 1"), std::string("probe\nX: 1"),
                                  std::string("a\tb"), std::string("nul\x7f")}) {
    auto args = offline_run(space.base / "out");
    args.insert(args.end(), {"--user-agent", value});
    const auto result = run_probe(args);
    CHECK(result.exit_code == 64);
    CHECK(result.err.find("--user-agent: control character 0x") != std::string::npos);
    CHECK(result.err.find("X-Injected") == std::string::npos);
    CHECK_FALSE(fs::exists(space.base / "out"));
  }
  // A config line cannot hold a raw CR LF; any other control byte is refused the same way.
  const fs::path file = space.dir.write("ua.toml", "[run]\nuser-agent = \"probe\x01X\"\n");
  std::vector<std::string> args = {"--config", file.string()};
  const auto offline = offline_run(space.base / "out");
  args.insert(args.end(), offline.begin(), offline.end());
  const auto configured = run_probe(args);
  CHECK(configured.exit_code == 64);
  CHECK(configured.err.find("run.user-agent: control character 0x01 at byte 6") != std::string::npos);
  // Printable text is taken as it is.
  auto fine = offline_run(space.base / "out");
  fine.insert(fine.end(), {"--user-agent", "Mozilla/5.0 (X11; Linux x86_64) probe-test"});
  CHECK(run_probe(fine).exit_code == 0);
}

TEST_CASE("schedule checks the run's options as probe run would, and refuses a password in --control with 78",
          "[schedule]") {
  Workspace space;
  struct Case {
    std::vector<std::string> run_args;
    int exit_code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--control", "garbage"}, 64, "--control 'garbage': expected socks5h://HOST:PORT"},
      {{"--resolver", "999.1.1.1"}, 64, "--resolver '999.1.1.1': '999.1.1.1' is not an IP address"},
      {{"--url", "ftp://x"}, 64, "--url 'ftp://x': unsupported scheme 'ftp'"},
      {{"--control-doh", "http://doh.example/"}, 64, "--control-doh 'http://doh.example/': expected an https:// URL"},
      {{"--allow-bogon", "10.0.0.0/99"}, 64, "--allow-bogon"},
      {{"--control", "socks5h://user:secret@127.0.0.1:1080"}, 78,
       "--control 'socks5h://***@127.0.0.1:1080' carries a user and password"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"schedule", "--every", "6h", "--targets", "lists", "--"};
    args.insert(args.end(), c.run_args.begin(), c.run_args.end());
    const auto result = probe_in(space.base, args);
    INFO(c.run_args[0] << " " << c.run_args[1] << ": " << result.err);
    CHECK(result.exit_code == c.exit_code);
    CHECK_THAT(result.err, Catch::Contains("the run's options: " + c.message));
    CHECK(result.out.empty());
    CHECK(result.err.find("secret") == std::string::npos);
  }
  // What a run takes, schedule takes (the crontab line on stdout).
  const auto good = probe_in(space.base, {"schedule", "--every", "6h", "--targets", "lists", "--", "--control",
                                          "socks5h://127.0.0.1:1080", "--resolver", "127.0.0.1:53"});
  INFO(good.err);
  CHECK(good.exit_code == 0);
  CHECK_THAT(good.out, Catch::Contains("--control socks5h://127.0.0.1:1080"));
}
