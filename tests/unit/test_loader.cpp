#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "support/temp_dir.hpp"
#include "targets/loader.hpp"

using namespace probe;
using probe::test::TempDir;

namespace {
std::string list_json(const std::string& app, const std::string& host) {
  return "{\"app\": \"" + app + "\", \"reviewed\": \"2026-11-28\", \"targets\": [{\"host\": \"" + host +
         "\", \"kind\": \"https\", \"purpose\": \"p\", \"sources\": [\"s\"]}]}";
}

int error_code_of(const TargetSelection& selection, std::string* message) {
  try {
    load_targets(selection);
  } catch (const UserError& error) {
    *message = error.what();
    return error.exit_code();
  }
  return 0;
}
}  // namespace

TEST_CASE("folders, files, URLs and app selection", "[loader]") {
  TempDir dir;
  dir.write("lists/b.json", list_json("beta", "b.example.org"));
  dir.write("lists/a.json", list_json("alpha", "a.example.org"));
  dir.write("lists/readme.md", "ignored");
  dir.write("lists/sub/c.json", list_json("gamma", "c.example.org"));  // folders do not recurse
  dir.write("g.csv", "url,category_code,category_description,date_added,source,notes\n"
                     "https://a.example.org/,X,x,2020-01-01,,\nhttps://z.example.org/,X,x,2020-01-01,,\n");
  const std::string lists = (dir.path() / "lists").string();

  LoadedTargets loaded = load_targets({{lists}, {}, {}});
  REQUIRE(loaded.lists.size() == 2);
  CHECK(loaded.lists[0].file == (dir.path() / "lists/a.json").string());  // sorted by name
  REQUIRE(loaded.targets.size() == 2);

  loaded = load_targets({{lists, (dir.path() / "g.csv").string()}, {"https://adhoc.example.org/x"}, {}});
  CHECK(loaded.lists.size() == 4);
  REQUIRE(loaded.targets.size() == 5);
  CHECK(loaded.targets.back().app == "adhoc");
  CHECK(loaded.targets.back().path == "/x");

  loaded = load_targets({{lists}, {}, {"beta"}});
  REQUIRE(loaded.targets.size() == 1);
  CHECK(loaded.targets[0].host == "b.example.org");
  CHECK(loaded.lists.size() == 2);  // the report still records every list read
}

TEST_CASE("the same target from two lists is measured once", "[loader]") {
  TempDir dir;
  dir.write("one.json", list_json("alpha", "a.example.org"));
  dir.write("two.json", list_json("alpha", "a.example.org"));
  const LoadedTargets loaded = load_targets({{dir.path().string()}, {}, {}});
  CHECK(loaded.lists.size() == 2);
  CHECK(loaded.targets.size() == 1);
}

TEST_CASE("selection errors have their own exit codes", "[loader]") {
  TempDir dir;
  dir.write("lists/a.json", list_json("alpha", "a.example.org"));
  std::filesystem::create_directories(dir.path() / "empty");
  const std::string lists = (dir.path() / "lists").string();
  std::string message;

  CHECK(error_code_of({{lists}, {}, {"nosuch"}}, &message) == 64);
  CHECK(message == "--app 'nosuch' matches no target (apps: alpha)");
  CHECK(error_code_of({{lists}, {"ftp://x.org/"}, {}}, &message) == 64);
  CHECK(message == "--url 'ftp://x.org/': unsupported scheme 'ftp' (use http, https, tls, tcp or stun)");
  CHECK(error_code_of({{(dir.path() / "nope").string()}, {}, {}}, &message) == 66);
  CHECK(message == (dir.path() / "nope").string() + ": no such file or folder");
  CHECK(error_code_of({{(dir.path() / "empty").string()}, {}, {}}, &message) == 65);
  CHECK(message == (dir.path() / "empty").string() + ": folder holds no target lists (*.json, *.csv)");
}
