// Unattended operation: signals, the append-only log and `probe recover`, the output lock, and an
// output folder that is read-only or full. Every run is against a loopback mock DNS server.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/mock_dns.hpp"
#include "support/reports.hpp"
#include "support/run_command.hpp"
#include "support/temp_dir.hpp"
#include "support/skip.hpp"

extern char** environ;

using nlohmann::json;
using probe::test::MockDns;
using probe::test::only_report;
using probe::test::read_file;
using probe::test::run_command;
using probe::test::run_probe;
using probe::test::TempDir;
using probe::test::validates;
namespace fs = std::filesystem;

namespace {

// `answered` names the mock answers at once, then `silent` names it never answers: with
// --timeout 5 the run is still waiting for those when the test signals it.
std::string dns_list(int answered, int silent) {
  json targets = json::array();
  for (int i = 0; i < answered; ++i) {
    targets.push_back({{"host", "plain.n" + std::to_string(i) + ".test"}, {"kind", "dns"}, {"purpose", "test"},
                       {"sources", {"test"}}});
  }
  for (int i = 0; i < silent; ++i) {
    targets.push_back({{"host", "silent.n" + std::to_string(i) + ".test"}, {"kind", "dns"}, {"purpose", "test"},
                       {"sources", {"test"}}});
  }
  return json{{"app", "test"}, {"reviewed", "2026-11-28"}, {"targets", targets}}.dump();
}

// The probe started in the background (stdout and stderr to files), for tests that signal it.
class Background {
public:
  // `hangup_ignored`: started as nohup starts it, SIGHUP ignored; otherwise SIGHUP has its default
  // action in the child whatever this process does with it.
  Background(const std::vector<std::string>& args, const fs::path& log_prefix, bool hangup_ignored = false)
      : m_err(log_prefix.string() + ".err") {
    std::vector<std::string> all = {PROBE_BINARY};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& arg : all) {
      argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const std::string out = log_prefix.string() + ".out";
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, m_err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    struct sigaction previous {};
    if (hangup_ignored) {
      struct sigaction ignore {};
      ignore.sa_handler = SIG_IGN;
      ::sigaction(SIGHUP, &ignore, &previous);  // an ignored signal stays ignored across exec
    } else {
      sigset_t hangup;
      sigemptyset(&hangup);
      sigaddset(&hangup, SIGHUP);
      posix_spawnattr_setsigdefault(&attributes, &hangup);
      posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF);
    }
    const int rc = posix_spawn(&m_pid, PROBE_BINARY, &actions, &attributes, argv.data(), environ);
    if (hangup_ignored) {
      ::sigaction(SIGHUP, &previous, nullptr);
    }
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(rc == 0);
  }
  ~Background() {
    if (m_pid > 0) {
      ::kill(m_pid, SIGKILL);
      ::waitpid(m_pid, nullptr, 0);
    }
  }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  void signal(int sig) const { ::kill(m_pid, sig); }
  // The exit code (128 + signal when killed), or -1 if it is still running after `limit`.
  int wait(std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      int status = 0;
      if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
        m_pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }
  std::string err() const { return read_file(m_err); }

private:
  pid_t m_pid = -1;
  std::string m_err;
};

// The run's .jsonl in `folder`, once it holds at least `lines` lines (the header, then one per
// finished target); empty if that does not happen within 5 s.
fs::path wait_for_log(const fs::path& folder, std::size_t lines) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < end) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(folder, ec)) {
      if (entry.path().extension() == ".jsonl") {
        const std::string content = read_file(entry.path());
        if (static_cast<std::size_t>(std::count(content.begin(), content.end(), '\n')) >= lines) {
          return entry.path();
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return {};
}

std::vector<std::string> run_args(const fs::path& list, const fs::path& out, const MockDns& server) {
  return {"run", "--targets", list.string(), "--out", out.string(), "--no-system-resolver", "--resolver",
          server.address(), "--timeout", "5", "--tries", "1", "--allow-bogon", "192.0.2.0/24",
          "--allow-bogon", "2001:db8::/32"};
}

std::size_t count_files(const fs::path& folder, const std::string& extension) {
  std::size_t n = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    n += entry.path().extension() == extension ? 1 : 0;
  }
  return n;
}

}  // namespace

TEST_CASE("SIGTERM, SIGINT or SIGHUP mid-run: a report marked interrupted, steps in flight say so, exit 143, 130 "
          "or 129",
          "[operations]") {
  const int sig = GENERATE(SIGTERM, SIGINT, SIGHUP);
  MockDns server;
  TempDir dir;
  const auto list = dir.write("test.json", dns_list(3, 5));
  const fs::path out = dir.path() / "reports";
  Background probe(run_args(list, out, server), dir.path() / "probe");
  // The header and the 3 answered targets are in the log: the silent ones are in flight.
  REQUIRE_FALSE(wait_for_log(out, 4).empty());
  const auto signalled = std::chrono::steady_clock::now();
  probe.signal(sig);
  const int code = probe.wait(std::chrono::seconds(3));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - signalled).count();
  INFO(probe.err());
  CHECK(code == 128 + sig);
  CHECK(seconds < 1.0);  // it stops at once, not at the end of the 5 s timeout
  CHECK(probe.err().find(sig == SIGTERM  ? "stopped by SIGTERM"
                         : sig == SIGINT ? "stopped by SIGINT"
                                         : "stopped by SIGHUP") != std::string::npos);
  const fs::path report_path = only_report(out);
  CHECK(validates({report_path.string()}));
  CHECK(count_files(out, ".jsonl") == 0);  // the report replaces the log
  const json report = json::parse(read_file(report_path));
  CHECK(report["interrupted"] == true);
  REQUIRE(report["results"].size() == 8);
  std::size_t interrupted = 0;
  for (const auto& result : report["results"]) {
    const bool silent = result["host"].get<std::string>().rfind("silent.", 0) == 0;
    for (const auto& query : result["paths"]["direct"]["queries"]) {
      // Never a timeout: that would read as blocking.
      CHECK(query["failure"] == (silent ? json("interrupted") : json(nullptr)));
      interrupted += query["failure"] == "interrupted" ? 1 : 0;
    }
    CHECK(result["verdict"]["status"] == "inconclusive");
    if (silent) {
      CHECK(result["verdict"]["detail"] == "interrupted");
    }
  }
  CHECK(interrupted == 10);
}

TEST_CASE("started with SIGHUP ignored (nohup), a run ignores it and goes on", "[operations]") {
  MockDns server;
  TempDir dir;
  const auto list = dir.write("test.json", dns_list(3, 5));
  const fs::path out = dir.path() / "reports";
  Background probe(run_args(list, out, server), dir.path() / "probe", true);
  REQUIRE_FALSE(wait_for_log(out, 4).empty());
  probe.signal(SIGHUP);
  CHECK(probe.wait(std::chrono::milliseconds(500)) == -1);  // still running
  probe.signal(SIGTERM);
  CHECK(probe.wait(std::chrono::seconds(3)) == 143);
  CHECK(probe.err().find("stopped by SIGTERM") != std::string::npos);
  CHECK(validates({only_report(out).string()}));
}

TEST_CASE("SIGKILL mid-run leaves a log that probe recover turns into a valid report marked interrupted",
          "[operations]") {
  MockDns server;
  TempDir dir;
  const auto list = dir.write("test.json", dns_list(3, 5));
  const fs::path out = dir.path() / "reports";
  Background probe(run_args(list, out, server), dir.path() / "probe");
  const fs::path log = wait_for_log(out, 4);
  REQUIRE_FALSE(log.empty());
  probe.signal(SIGKILL);
  REQUIRE(probe.wait(std::chrono::seconds(3)) == 128 + SIGKILL);
  CHECK(count_files(out, ".json") == 0);
  CHECK((fs::status(log).permissions() & fs::perms::all) == (fs::perms::owner_read | fs::perms::owner_write));

  const auto recovered = run_probe({"recover", log.string()});
  INFO(recovered.err);
  REQUIRE(recovered.exit_code == 0);
  fs::path report_path = log;
  report_path.replace_extension(".json");
  CHECK(recovered.out == report_path.string() + "\n");
  CHECK_FALSE(fs::exists(log));
  CHECK(validates({report_path.string()}));
  const json report = json::parse(read_file(report_path));
  CHECK(report["interrupted"] == true);
  // What had finished: the 3 answered targets, with their verdicts and the run's header; the 5
  // the run never finished are listed unjudged, with nothing measured.
  REQUIRE(report["results"].size() == 8);
  for (const auto& result : report["results"]) {
    if (result["host"].get<std::string>().rfind("plain.", 0) == 0) {
      CHECK(result["verdict"]["status"] == "inconclusive");  // no control path: never blocked
      CHECK_FALSE(result["paths"]["direct"]["queries"].empty());
    } else {
      CHECK(result["host"].get<std::string>().rfind("silent.", 0) == 0);
      CHECK(result["verdict"].is_null());
      CHECK(result["paths"] == json::object());
      CHECK(result["kind"] == "dns");
    }
  }
  CHECK(report["apps"]["test"]["targets"] == 8);
  CHECK(report["apps"]["test"]["unjudged"] == 5);
  CHECK(report["options"]["timeout_ms"] == 5000);
  CHECK(report["finished_at"] >= report["started_at"]);

  // Recovering again: the log is gone (66); a log whose report exists is refused (73).
  CHECK(run_probe({"recover", log.string()}).exit_code == 66);
}

TEST_CASE("probe recover leaves the log of a run still going alone: exit 75, no report", "[operations]") {
  MockDns server;
  TempDir dir;
  const auto list = dir.write("test.json", dns_list(3, 5));
  const fs::path out = dir.path() / "reports";
  Background probe(run_args(list, out, server), dir.path() / "probe");
  const fs::path log = wait_for_log(out, 4);
  REQUIRE_FALSE(log.empty());
  const std::string before = read_file(log);

  auto result = run_probe({"recover", log.string()});
  CHECK(result.exit_code == 75);
  CHECK(result.err.find("another probe run is writing to " + out.string()) != std::string::npos);
  CHECK(result.out.empty());
  CHECK(fs::exists(log));
  CHECK(read_file(log).rfind(before, 0) == 0);  // untouched (the run may have added lines)
  CHECK(count_files(out, ".json") == 0);
  // Written elsewhere, the same: the log is the live run's.
  result = run_probe({"recover", log.string(), "--out", (dir.path() / "elsewhere").string()});
  CHECK(result.exit_code == 75);
  CHECK_FALSE(fs::exists(dir.path() / "elsewhere"));

  probe.signal(SIGKILL);
  REQUIRE(probe.wait(std::chrono::seconds(3)) == 128 + SIGKILL);
  // Once the run is gone, the same log is recovered.
  result = run_probe({"recover", log.string()});
  INFO(result.err);
  CHECK(result.exit_code == 0);
  CHECK_FALSE(fs::exists(log));
}

TEST_CASE("probe recover refuses what is not a probe log, skips a last line cut short", "[operations]") {
  TempDir dir;
  const auto not_log = dir.write("x.jsonl", "{\"hello\": 1}\n");
  auto result = run_probe({"recover", not_log.string()});
  CHECK(result.exit_code == 65);
  CHECK(result.err.find(not_log.string() + ":1: not the log of a probe run") != std::string::npos);
  CHECK(run_probe({"recover", dir.write("x.txt", "").string()}).exit_code == 64);

  // A real log, cut in the middle of its last line (the process died while writing it).
  MockDns server;
  const auto list = dir.write("test.json", dns_list(2, 3));
  const fs::path out = dir.path() / "reports";
  Background probe(run_args(list, out, server), dir.path() / "probe");
  const fs::path log = wait_for_log(out, 3);
  REQUIRE_FALSE(log.empty());
  probe.signal(SIGKILL);
  REQUIRE(probe.wait(std::chrono::seconds(3)) == 128 + SIGKILL);
  std::string content = read_file(log);
  const std::string cut = content.substr(0, content.size() - 20);
  const auto cut_log = dir.write("cut.jsonl", cut);
  result = run_probe({"recover", cut_log.string(), "--out", (dir.path() / "recovered").string()});
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  CHECK(result.err.find("cut.jsonl:3: the last line was cut short") != std::string::npos);
  const json report = json::parse(read_file(dir.path() / "recovered" / "cut.json"));
  REQUIRE(report["results"].size() == 5);  // every target of the run, one of them finished
  CHECK(std::count_if(report["results"].begin(), report["results"].end(),
                      [](const json& entry) { return !entry["verdict"].is_null(); }) == 1);
  // The same damage before the last line is not guessed at.
  const auto middle = dir.write("middle.jsonl", cut + "\n" + content.substr(content.rfind('\n', content.size() - 2) + 1));
  result = run_probe({"recover", middle.string(), "--out", (dir.path() / "recovered2").string()});
  CHECK(result.exit_code == 65);
  CHECK(result.err.find("middle.jsonl:3: not a result line") != std::string::npos);
  // A header whose target list is damaged is refused, naming its line.
  json header = json::parse(content.substr(0, content.find('\n')));
  header["targets"][0].erase("host");
  const auto bad_header =
      dir.write("header.jsonl", header.dump() + "\n" + content.substr(content.find('\n') + 1));
  result = run_probe({"recover", bad_header.string(), "--out", (dir.path() / "recovered3").string()});
  CHECK(result.exit_code == 65);
  CHECK(result.err.find("header.jsonl:1: the header's targets are not a list of targets") != std::string::npos);
  // A report already there is never overwritten.
  CHECK(run_probe({"recover", log.string()}).exit_code == 0);
  const auto again = dir.write("again.jsonl", content);
  fs::copy_file(dir.path() / "recovered" / "cut.json", dir.path() / "again.json");
  CHECK(run_probe({"recover", again.string()}).exit_code == 73);
}

TEST_CASE("one run at a time per output folder: a second exits 75 at once, a killed run's lock never blocks",
          "[operations]") {
  MockDns server;
  TempDir dir;
  const auto list = dir.write("test.json", dns_list(1, 3));
  const fs::path out = dir.path() / "reports";
  {
    Background first(run_args(list, out, server), dir.path() / "first");
    REQUIRE_FALSE(wait_for_log(out, 2).empty());
    const auto started = std::chrono::steady_clock::now();
    const auto second = run_probe(run_args(list, out, server));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    CHECK(second.exit_code == 75);
    CHECK(seconds < 1.0);
    CHECK(second.err.find("another probe run is writing to " + out.string()) != std::string::npos);
    CHECK(count_files(out, ".jsonl") == 1);  // the second one wrote nothing
    first.signal(SIGKILL);
    REQUIRE(first.wait(std::chrono::seconds(3)) == 128 + SIGKILL);
  }
  // The killed run's lock file is still there; its lock is not.
  CHECK(fs::exists(out / ".probe.lock"));
  const auto list2 = dir.write("quick.json", dns_list(2, 0));
  const auto next = run_probe({"run", "--targets", list2.string(), "--out", out.string(), "--no-system-resolver",
                               "--resolver", server.address(), "--timeout", "1", "--tries", "1", "--allow-bogon",
                               "192.0.2.0/24", "--allow-bogon", "2001:db8::/32"});
  INFO(next.err);
  CHECK(next.exit_code == 0);
}

TEST_CASE("open files: the soft limit is raised to the hard one, a concurrency beyond the hard one is lowered, "
          "with a warning", "[operations]") {
  MockDns server;
  TempDir dir;
  const auto list = dir.write("test.json", dns_list(3, 0));
  const auto run_limited = [&](const std::string& nofile, const std::string& name) {
    std::vector<std::string> args = {"prlimit", "--nofile=" + nofile, PROBE_BINARY};
    for (const auto& arg : run_args(list, dir.path() / name, server)) {
      args.push_back(arg);
    }
    args.insert(args.end(), {"--concurrency", "1000"});
    return run_command(args);
  };
  // soft 100, hard 4096: raised, so 1000 at once fit
  const auto raised = run_limited("100:4096", "raised");
  INFO(raised.err);
  REQUIRE(raised.exit_code == 0);
  CHECK(raised.err.find("needs more open files") == std::string::npos);
  CHECK(json::parse(read_file(only_report(dir.path() / "raised"))).at("options").at("concurrency") == 1000);
  // hard 200: 64 kept for the rest, 136 at once, said on stderr and in the report
  const auto capped = run_limited("200:200", "capped");
  INFO(capped.err);
  REQUIRE(capped.exit_code == 0);
  CHECK(capped.err.find("--concurrency 1000 needs more open files than this process may have (200); measuring 136 "
                        "at once") != std::string::npos);
  const json report = json::parse(read_file(only_report(dir.path() / "capped")));
  CHECK(report.at("options").at("concurrency") == 136);
  CHECK(report.at("results").size() == 3);
}

TEST_CASE("a read-only or full output folder: a clear error (73, 74), earlier reports intact", "[operations]") {
  if (geteuid() != 0) {
    PROBE_SKIP("needs root to mount a read-only and a tiny tmpfs (root ignores file permissions)");
  }
  if (run_command({"unshare", "-m", "true"}).exit_code != 0) {
    PROBE_SKIP("cannot make a mount namespace here");
  }
  MockDns server;
  TempDir dir;
  const auto list = dir.write("test.json", dns_list(40, 0));
  const fs::path out = dir.path() / "out";
  fs::create_directories(out);
  const std::string probe_cmd = std::string(PROBE_BINARY) + " run --targets " + list.string() + " --out " +
                                out.string() + " --no-system-resolver --resolver " + server.address() +
                                " --timeout 1 --tries 1 --allow-bogon 192.0.2.0/24 --allow-bogon 2001:db8::/32";
  // Read-only: a tmpfs mounted read-only in a private mount namespace.
  auto result = run_command({"unshare", "-m", "sh", "-c",
                             "mount -t tmpfs -o ro,size=1m none " + out.string() + " && exec " + probe_cmd});
  CHECK(result.exit_code == 73);
  CHECK(result.err.find(out.string()) != std::string::npos);
  CHECK(result.err.find("Read-only file system") != std::string::npos);

  // Full: an earlier report fills most of a 64 KiB tmpfs; this run's report does not fit.
  const std::string earlier(40000, 'x');
  result = run_command(
      {"unshare", "-m", "sh", "-c",
       "mount -t tmpfs -o size=64k none " + out.string() + " && printf '%s' " + earlier + " > " + out.string() +
           "/20260101T000000Z_earlier.json && " + probe_cmd +
           "; code=$?; wc -c < " + out.string() + "/20260101T000000Z_earlier.json; ls " + out.string() +
           "; exit $code"});
  INFO(result.err);
  CHECK(result.exit_code == 74);
  CHECK(result.err.find("No space left on device") != std::string::npos);
  CHECK(result.out.find("40000\n") == 0);  // the earlier report, whole
  CHECK(result.out.find(".tmp") == std::string::npos);  // no temporary file left behind
  // The crash log is kept, and the message says where and how to make the report from it.
  CHECK(result.out.find(".jsonl") != std::string::npos);
  CHECK(result.err.find("; the crash log " + out.string() + "/") != std::string::npos);
  CHECK(result.err.find("'probe recover " + out.string() + "/") != std::string::npos);
}

TEST_CASE("a handshake cut by SIGTERM records what was known: its server name and when it started",
          "[operations]") {
  // A listener that never answers: connections complete (the kernel's backlog) and the TLS
  // handshake waits for a server hello that never comes.
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(listener >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(::listen(listener, 16) == 0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  const std::string url = "https://127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/";

  TempDir dir;
  const fs::path out = dir.path() / "reports";
  Background probe({"run", "--url", url, "--out", out.string(), "--no-system-resolver", "--resolver", "127.0.0.1:1",
                    "--timeout", "5", "--tries", "1", "--allow-bogon", "127.0.0.0/8"},
                   dir.path() / "probe");
  REQUIRE_FALSE(wait_for_log(out, 1).empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(700));  // connected, the handshake waiting
  probe.signal(SIGTERM);
  REQUIRE(probe.wait(std::chrono::seconds(3)) == 128 + SIGTERM);
  ::close(listener);
  const json report = json::parse(read_file(only_report(out)));
  std::size_t cut = 0;
  for (const auto& endpoint : report["results"][0]["paths"]["direct"]["endpoints"]) {
    INFO(endpoint.dump());
    for (const char* step : {"decoy_tls", "tls"}) {
      const json& tls = endpoint[step];
      if (tls.is_object() && tls["failure"] == "interrupted") {
        ++cut;
        CHECK_FALSE(tls["sni"].get<std::string>().empty());  // before: "" and t0_ms 0
        CHECK(tls["t0_ms"].get<double>() > 0);
        CHECK(tls["decoy_sni"] == (std::string(step) == "decoy_tls"));
      }
    }
  }
  CHECK(cut >= 1);
}
