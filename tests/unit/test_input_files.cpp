// Local inputs that are not what they say (issue 20, items 7, 11, 13): a FIFO named *.json or
// *.toml, a .json symlink to /dev/zero, a small .json.gz that inflates without end, a file over
// its cap, a symlink loop in a targets folder. Each is refused at once by name, with its exit
// code, in bounded memory: never a hang, never gigabytes read.

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "core/input_file.hpp"
#include "store/retention.hpp"
#include "support/reports.hpp"
#include "support/run_command.hpp"
#include "support/temp_dir.hpp"

using probe::test::run_measured;
using probe::test::TempDir;
namespace fs = std::filesystem;

namespace {

// What read_input_file threw: its exit code and message (0 and "" when it read the file).
std::pair<int, std::string> refusal(const fs::path& path, std::uintmax_t limit) {
  try {
    probe::read_input_file(path, limit, "target list");
    return {0, ""};
  } catch (const probe::UserError& error) {
    return {error.exit_code(), error.what()};
  }
}

fs::path make_fifo(const TempDir& dir, const std::string& name) {
  const fs::path path = dir.path() / name;
  REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
  return path;
}

// Every command reads its inputs within this (the probe is killed after it); a sanitizer build
// is slower.
constexpr unsigned k_seconds = 20;
#if defined(__SANITIZE_ADDRESS__)
constexpr std::size_t k_peak_limit_kib = 1024 * 1024;
#else
constexpr std::size_t k_peak_limit_kib = 400 * 1024;
#endif

}  // namespace

TEST_CASE("read_input_file reads regular files up to their cap and refuses the rest by name, at once",
          "[input_files]") {
  TempDir dir;
  const fs::path list = dir.write("list.json", std::string(100, 'x'));
  CHECK(probe::read_input_file(list, 100, "target list") == std::string(100, 'x'));
  CHECK(refusal(list, 99) ==
        std::pair<int, std::string>{65, list.string() + ": 100 bytes, more than the 99 bytes a target list file may hold"});
  CHECK(refusal(make_fifo(dir, "fifo.json"), 100) ==
        std::pair<int, std::string>{65, (dir.path() / "fifo.json").string() +
                                            ": a FIFO, not a target list file (only regular files are read)"});
  fs::create_symlink("/dev/zero", dir.path() / "zero.json");
  CHECK(refusal(dir.path() / "zero.json", 100).second.ends_with("zero.json: a device, not a target list file "
                                                                "(only regular files are read)"));
  CHECK(refusal(dir.path(), 100).second.ends_with(": a folder, not a target list file (only regular files are read)"));
  CHECK(refusal(dir.path() / "missing.json", 100) ==
        std::pair<int, std::string>{66, (dir.path() / "missing.json").string() +
                                            ": cannot read: No such file or directory"});
  fs::create_symlink("loop-b.json", dir.path() / "loop-a.json");
  fs::create_symlink("loop-a.json", dir.path() / "loop-b.json");
  CHECK(refusal(dir.path() / "loop-a.json", 100).first == 66);
  CHECK(probe::size_text(128 * probe::k_mib) == "128 MiB");
  CHECK(probe::size_text(300 * 1024) == "300 KiB");
  CHECK(probe::size_text(1) == "1 byte");
}

TEST_CASE("FIFOs named *.json, *.jsonl and *.toml: every reader refuses them at once with 65", "[input_files]") {
  TempDir dir;
  const std::string fifo = make_fifo(dir, "fifo.json").string();
  const std::string log = make_fifo(dir, "fifo.jsonl").string();
  const std::string toml = make_fifo(dir, "fifo.toml").string();
  const std::string good = (probe::test::k_report_fixtures / "01-open.json").string();
  const std::string offline[] = {"--no-system-resolver", "--resolver", "127.0.0.1:1"};
  const std::vector<std::vector<std::string>> commands = {
      {"diff", good, fifo},
      {"export", fifo},
      {"summary", fifo},
      {"recover", log},
      {"targets", "validate", fifo},
      {"run", "--targets", fifo, "--out", (dir.path() / "r1").string(), offline[0], offline[1], offline[2]},
      {"--config", toml, "run", "--url", "tcp://127.0.0.1:1", "--out", (dir.path() / "r2").string()},
  };
  for (const auto& command : commands) {
    std::vector<std::string> args = {PROBE_BINARY};
    args.insert(args.end(), command.begin(), command.end());
    const auto ran = run_measured(args, k_seconds);
    INFO(command[0] << " " << command[1] << ": " << ran.result.err);
    CHECK(ran.result.exit_code == 65);
    CHECK_THAT(ran.result.err, Catch::Contains("a FIFO, not a"));
  }
  // Nothing was created for the refused runs: no report, no crash log.
  CHECK_FALSE(fs::exists(dir.path() / "r2"));
}

TEST_CASE("A report that is /dev/zero, too large, or a small .json.gz inflating past 128 MiB is refused with 65 "
          "in bounded memory",
          "[input_files]") {
  TempDir dir;
  fs::create_symlink("/dev/zero", dir.path() / "zero.json");
  // 129 MiB of spaces, about 130 KiB compressed: JSON that parses, if it were ever inflated whole.
  const std::string bomb = probe::gzip_compress("{\"schema_version\": 2" + std::string(129 * probe::k_mib, ' ') + "}");
  REQUIRE(bomb.size() < probe::k_mib);
  const fs::path gz = dir.write("bomb.json.gz", bomb);
  // A plain report over the cap: sparse, so it costs no disk.
  const fs::path big = dir.path() / "big.json";
  {
    std::FILE* file = std::fopen(big.c_str(), "w");
    REQUIRE(file != nullptr);
    std::fputc('{', file);
    REQUIRE(::ftruncate(fileno(file), static_cast<off_t>(probe::k_max_report_read_bytes + 1)) == 0);
    std::fclose(file);
  }
  const std::vector<std::pair<std::string, std::string>> cases = {
      {(dir.path() / "zero.json").string(), "a device, not a report file"},
      {gz.string(), "more than 128 MiB uncompressed"},
      {big.string(), "more than the 128 MiB a report file may hold"},
  };
  for (const auto& [file, message] : cases) {
    for (const std::vector<std::string>& command :
         std::vector<std::vector<std::string>>{{"export", file}, {"summary", file}, {"diff", file, file}}) {
      std::vector<std::string> args = {PROBE_BINARY};
      args.insert(args.end(), command.begin(), command.end());
      const auto ran = run_measured(args, k_seconds);
      INFO(command[0] << " " << file << ": " << ran.result.err << " peak " << ran.peak_kib << " KiB");
      CHECK(ran.result.exit_code == 65);
      CHECK_THAT(ran.result.err, Catch::Contains(message));
      CHECK(ran.peak_kib < k_peak_limit_kib);
    }
  }
  // In a folder, each is left out with a warning naming it (the symlink to a device is not a
  // report file at all), and the summary goes on.
  const auto folder = run_measured({PROBE_BINARY, "summary", dir.path().string()}, k_seconds);
  INFO(folder.result.err);
  CHECK(folder.result.exit_code == 0);
  CHECK_THAT(folder.result.err, Catch::Contains("bomb.json.gz: more than 128 MiB uncompressed"));
  CHECK_THAT(folder.result.err, Catch::Contains("big.json: 134217729 bytes, more than the 128 MiB a report file may hold"));
  CHECK(folder.peak_kib < k_peak_limit_kib);
}

TEST_CASE("A configuration of /dev/zero or over 1 MiB given to --config is refused before it is read", "[input_files]") {
  TempDir dir;
  const fs::path large = dir.write("large.toml", "# " + std::string(probe::k_mib, 'x') + "\n");
  for (const std::string& config : {std::string("/dev/zero"), large.string()}) {
    const auto ran = run_measured({PROBE_BINARY, "--config", config, "run", "--url", "tcp://127.0.0.1:1", "--out",
                                   (dir.path() / "r").string()},
                                  k_seconds);
    INFO(ran.result.err);
    CHECK(ran.result.exit_code == 65);
    CHECK_THAT(ran.result.err, Catch::StartsWith("probe: --config: " + config + ": "));
    CHECK(ran.peak_kib < k_peak_limit_kib);
  }
  CHECK_FALSE(fs::exists(dir.path() / "r"));
}

TEST_CASE("A symlink loop or a FIFO in a --targets folder is named with 66 or 65, not an internal error",
          "[input_files]") {
  TempDir dir;
  const fs::path lists = dir.path() / "lists";
  fs::create_directories(lists);
  fs::copy_file("targets/twitter.json", lists / "twitter.json");
  fs::create_symlink("b.json", lists / "a.json");
  fs::create_symlink("a.json", lists / "b.json");
  auto ran = probe::test::run_probe({"targets", "list", "--targets", lists.string()});
  INFO(ran.err);
  CHECK(ran.exit_code == 66);
  CHECK_THAT(ran.err, Catch::Contains((lists / "a.json").string() + ": cannot read: Too many levels of symbolic links"));
  fs::remove(lists / "a.json");
  fs::remove(lists / "b.json");
  REQUIRE(::mkfifo((lists / "pipe.csv").c_str(), 0600) == 0);
  ran = probe::test::run_probe({"targets", "list", "--targets", lists.string()});
  CHECK(ran.exit_code == 65);
  CHECK_THAT(ran.err, Catch::Contains((lists / "pipe.csv").string() + ": a FIFO, not a target list file"));
  fs::remove(lists / "pipe.csv");
  CHECK(probe::test::run_probe({"targets", "list", "--targets", lists.string()}).exit_code == 0);
}

TEST_CASE("One damaged report in a folder is skipped with a warning by summary and history rebuild, a damaged "
          "index is read around by summary and made again by rebuild",
          "[input_files][history]") {
  TempDir dir;
  const fs::path folder = dir.path() / "reports";
  fs::create_directories(folder);
  for (const char* name : {"01-open.json", "02-sni-reset.json", "04-mixed.json"}) {
    fs::copy_file(probe::test::k_report_fixtures / name, folder / name);
  }
  const std::string whole = probe::test::read_file(probe::test::k_report_fixtures / "05-open.json");
  dir.write("reports/05-cut.json", whole.substr(0, whole.size() / 2));
  const std::vector<std::string> summary = {"summary", folder.string(), "--since", "2020-01-01", "--format", "csv"};

  auto ran = probe::test::run_probe(summary);
  INFO(ran.err);
  CHECK(ran.exit_code == 0);
  CHECK_THAT(ran.err, Catch::Contains("05-cut.json: not JSON") && Catch::Contains("; skipped"));
  const std::string from_files = ran.out;
  CHECK(from_files.find(",3,") != std::string::npos);  // three runs of each target, not four

  ran = probe::test::run_probe({"history", "rebuild", "--out", folder.string()});
  CHECK(ran.exit_code == 0);
  CHECK_THAT(ran.err, Catch::Contains("05-cut.json: not JSON") && Catch::Contains("left out 1 damaged reports"));
  // Named on the command line, it is an error still.
  CHECK(probe::test::run_probe({"summary", (folder / "05-cut.json").string()}).exit_code == 65);

  // An index that is not a database: summary reads the reports instead, rebuild moves it aside
  // and makes it again.
  fs::remove(folder / "05-cut.json");
  dir.write("reports/history.sqlite", std::string(4096, 'x'));
  ran = probe::test::run_probe(summary);
  CHECK(ran.exit_code == 0);
  CHECK_THAT(ran.err, Catch::Contains("history.sqlite: cannot prepare a statement: file is not a database; "
                                      "reading the reports instead"));
  CHECK(ran.out == from_files);
  ran = probe::test::run_probe({"history", "rebuild", "--out", folder.string()});
  INFO(ran.err);
  CHECK(ran.exit_code == 0);
  CHECK_THAT(ran.err, Catch::Contains("moved to " + (folder / "history.sqlite.damaged").string()));
  CHECK(probe::test::read_file(folder / "history.sqlite.damaged") == std::string(4096, 'x'));
  // The new index is whole: summary reads it, silently, to the same numbers.
  ran = probe::test::run_probe({"-v", "summary", folder.string(), "--since", "2020-01-01", "--format", "csv"});
  CHECK(ran.exit_code == 0);
  CHECK_THAT(ran.err, Catch::Contains("reading the history index"));
  CHECK(ran.out == from_files);
}

TEST_CASE("Standard output that fails: exit 74 naming the reason for a full disk, quiet 141 for a reader "
          "that went away",
          "[input_files][stdout]") {
  TempDir dir;
  const std::string a = (probe::test::k_report_fixtures / "01-open.json").string();
  const std::string b = (probe::test::k_report_fixtures / "04-mixed.json").string();
  const std::string c = (probe::test::k_report_fixtures / "05-open.json").string();
  // /dev/full: every write fails with ENOSPC, as on a full disk. Before, each of these exited 0.
  for (const std::string& command : {std::string("export \"$1\""), std::string("export --format csv \"$1\""),
                                     std::string("diff \"$1\" \"$1\""), std::string("summary \"$1\""),
                                     std::string("version"), std::string("--help")}) {
    const auto ran = probe::test::run_command({"sh", "-c", "exec \"$0\" " + command + " > /dev/full", PROBE_BINARY, a});
    INFO(command << ": " << ran.err);
    CHECK(ran.exit_code == 74);
    CHECK_THAT(ran.err, Catch::Contains("standard output: write failed: No space left on device"));
  }
  // A reader that stops early (head) with SIGPIPE ignored, as some schedulers leave it: EPIPE ends
  // the command without a word, with the status SIGPIPE would give.
  const auto ran = probe::test::run_command(
      {"sh", "-c",
       "trap '' PIPE; { \"$0\" export --probe-asn AS1 --probe-cc IT \"$1\" \"$2\" \"$3\" 2> \"$4/err\"; echo $? > \"$4/status\"; } | head -c 10 "
       "> /dev/null",
       PROBE_BINARY, a, b, c, dir.path().string()});
  REQUIRE(ran.exit_code == 0);
  CHECK(probe::test::read_file(dir.path() / "status") == "141\n");
  CHECK(probe::test::read_file(dir.path() / "err").empty());
}

TEST_CASE("A bad CA file is refused before the run writes anything, and targets validate checks ca_files as a "
          "run reads them",
          "[input_files][ca]") {
  TempDir dir;
  const fs::path out = dir.path() / "reports";
  const fs::path not_pem = dir.write("not.pem", "hello\n");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--ca-file", (dir.path() / "missing.pem").string()}, "missing.pem: cannot read"},
      {{"--ca-file", not_pem.string()}, "not.pem: holds no PEM certificate"},
      {{"--ca-file", dir.path().string()}, "a folder, not a CA certificate file"},
  };
  for (const auto& [flags, message] : cases) {
    std::vector<std::string> args = {"run", "--url", "https://127.0.0.1:1/", "--no-system-resolver", "--resolver",
                                     "127.0.0.1:1", "--out", out.string()};
    args.insert(args.end(), flags.begin(), flags.end());
    const auto ran = probe::test::run_probe(args);
    INFO(ran.err);
    CHECK((ran.exit_code == 65 || ran.exit_code == 66));
    CHECK_THAT(ran.err, Catch::Contains(message));
    // Nothing in the reports folder: no report, no crash log (.jsonl) left behind.
    std::error_code ec;
    CHECK((!fs::exists(out) || fs::is_empty(out) ||
           std::none_of(fs::directory_iterator(out), fs::directory_iterator(), [](const fs::directory_entry& entry) {
             return entry.path().extension() == ".jsonl" || entry.path().extension() == ".json";
           })));
  }

  // A list's ca_files: inside the list's folder, and PEM, for validate as for run.
  fs::create_directories(dir.path() / "lists" / "ca");
  fs::copy_file(not_pem, dir.path() / "lists" / "ca" / "bad.pem");
  const std::string target = R"({"host": "a.org", "kind": "https", "purpose": "p", "sources": ["s"], "ca_files": [)";
  const auto outside = dir.write("lists/x.json", R"({"app": "x", "reviewed": "2026-11-28", "targets": [)" + target +
                                                     R"("../not.pem"]}]})");
  auto ran = probe::test::run_probe({"targets", "validate", outside.string()});
  CHECK(ran.exit_code == 65);
  CHECK_THAT(ran.err, Catch::Contains("targets[0].ca_files[0]: '../not.pem' is not inside the list's folder"));
  const auto bad = dir.write("lists/y.json", R"({"app": "y", "reviewed": "2026-11-28", "targets": [)" + target +
                                                 R"("ca/bad.pem"]}]})");
  ran = probe::test::run_probe({"targets", "validate", bad.string()});
  CHECK(ran.exit_code == 65);
  CHECK_THAT(ran.err, Catch::Contains("bad.pem: holds no PEM certificate"));
  ran = probe::test::run_probe({"run", "--targets", bad.string(), "--no-system-resolver", "--resolver", "127.0.0.1:1",
                                "--out", out.string()});
  CHECK(ran.exit_code == 65);
  CHECK_FALSE(fs::exists(out));
}
