#include <catch2/catch.hpp>

#include <set>

#include "core/error.hpp"
#include "support/temp_dir.hpp"
#include "targets/loader.hpp"
#include "targets/target_list.hpp"

using namespace probe;
using probe::test::TempDir;

namespace {

// A valid list whose first target is `target_body`; lines are stable so tests can name positions.
std::string list_with(const std::string& target_body) {
  return "{\n"
         "  \"app\": \"demo\",\n"
         "  \"reviewed\": \"2026-11-28\",\n"
         "  \"targets\": [\n"
         "    {" + target_body + "}\n"
         "  ]\n"
         "}\n";
}

const std::string k_ok_fields = "\"purpose\": \"p\", \"sources\": [\"s\"]";

struct Failure {
  int code = 0;
  std::string message;
};

Failure load_error(const TempDir& dir, const std::string& text, const std::string& name = "demo.json") {
  const auto path = dir.write(name, text);
  try {
    load_target_file(path.string());
  } catch (const UserError& error) {
    return {error.exit_code(), error.what()};
  }
  return {0, ""};
}

}  // namespace

TEST_CASE("a valid list loads with defaults and provenance", "[targets]") {
  TempDir dir;
  dir.write("ca/extra.pem", "not parsed here");
  const auto path = dir.write(
      "demo.json",
      "{\n"
      "  \"app\": \"demo\", \"reviewed\": \"2024-02-29\", \"notes\": \"n\",\n"
      "  \"targets\": [\n"
      "    {\"host\": \"Chat.Example.ORG\", \"kind\": \"https\", \"any_response\": true,\n"
      "     \"ca_files\": [\"ca/extra.pem\"], \"purpose\": \"chat\", \"sources\": [\"a\", \"b\"]},\n"
      "    {\"host\": \"uptime.example.org\", \"kind\": \"dns\", \"bogon_expected\": true, \"purpose\": \"p\",\n"
      "     \"sources\": [\"s\"]},\n"
      "    {\"host\": \"192.0.2.7\", \"kind\": \"tcp\", \"port\": 5222, \"purpose\": \"p\", \"sources\": [\"s\"],\n"
      "     \"uncertain\": true, \"note\": \"why\"},\n"
      "    {\"host\": \"example.org\", \"kind\": \"http\", \"path\": \"/x?y=1\", \"purpose\": \"p\", \"sources\": [\"s\"]},\n"
      "    {\"host\": \"stun.example.org\", \"kind\": \"stun\", \"purpose\": \"p\", \"sources\": [\"s\"]}\n"
      "  ]\n"
      "}\n");
  const TargetList list = load_target_file(path.string());
  CHECK(list.format == "json");
  CHECK(list.reviewed == "2024-02-29");
  CHECK(list.sha256.size() == 64);
  REQUIRE(list.targets.size() == 5);
  const Target& chat = list.targets[0];
  CHECK(chat.app == "demo");
  CHECK(chat.host == "chat.example.org");
  CHECK(chat.port == 443);
  CHECK(chat.path == "/");
  CHECK(chat.any_response);
  REQUIRE(chat.ca_files.size() == 1);
  CHECK(chat.ca_files[0] == (dir.path() / "ca/extra.pem").string());
  CHECK(chat.sources == std::vector<std::string>{"a", "b"});
  CHECK(chat.origin.line == 4);
  CHECK(list.targets[2].origin.line == 8);
  CHECK_FALSE(list.targets[1].port);
  CHECK(list.targets[1].bogon_expected);
  CHECK_FALSE(chat.bogon_expected);
  CHECK(list.targets[2].port == 5222);
  CHECK(list.targets[2].uncertain);
  CHECK(list.targets[2].note == "why");
  CHECK(list.targets[3].port == 80);
  CHECK(list.targets[3].url() == "http://example.org/x?y=1");
  CHECK(list.targets[4].port == 3478);
}

TEST_CASE("every kind of bad target list gets file, line, column, field and exit 65", "[targets]") {
  TempDir dir;
  const std::string file = (dir.path() / "demo.json").string();
  struct Case {
    const char* name;
    std::string text;
    std::string expected;  // after "<file>:"
  };
  const std::vector<Case> cases = {
      {"syntax error", "{\n  \"app\": \"demo\"\n  \"reviewed\": \"2026-11-28\"\n}\n",
       "3:3: syntax error while parsing object - unexpected string literal; expected '}'"},
      {"wrong type", list_with("\"host\": \"example.org\", \"kind\": \"https\", \"port\": \"443\", " + k_ok_fields),
       "5:54: targets[0].port: expected an integer from 1 to 65535, found a string"},
      {"fractional port", list_with("\"host\": \"example.org\", \"kind\": \"https\", \"port\": 443.5, " + k_ok_fields),
       "5:54: targets[0].port: expected an integer from 1 to 65535, found a number with a fraction"},
      {"unknown field", list_with("\"host\": \"example.org\", \"kind\": \"https\", \"prot\": 443, " + k_ok_fields),
       "5:46: targets[0].prot: unknown field (known fields: any_response, bogon_expected, ca_files, host, kind, "
       "note, path, port, purpose, sources, uncertain)"},
      {"unknown top-level field",
       "{\"app\": \"demo\", \"reviewed\": \"2026-11-28\", \"target\": []}",
       "1:43: target: unknown field (known fields: app, notes, reviewed, targets)"},
      {"bad host", list_with("\"host\": \"exa mple.org\", \"kind\": \"https\", " + k_ok_fields),
       "5:14: targets[0].host: 'exa mple.org': character ' ' not allowed in a host name"},
      // inet_pton stops at a NUL: this host once loaded as the address 192.0.2.7.
      {"IP address then NUL", list_with("\"host\": \"192.0.2.7\\u0000x\", \"kind\": \"tls\", " + k_ok_fields),
       "5:14: targets[0].host: '192.0.2.7\\0x': character '\\0' not allowed in a host name"},
      {"port out of range", list_with("\"host\": \"example.org\", \"kind\": \"tcp\", \"port\": 70000, " + k_ok_fields),
       "5:52: targets[0].port: 70000 is out of range 1-65535"},
      {"port zero", list_with("\"host\": \"example.org\", \"kind\": \"tcp\", \"port\": 0, " + k_ok_fields),
       "5:52: targets[0].port: 0 is out of range 1-65535"},
      {"negative port", list_with("\"host\": \"example.org\", \"kind\": \"tcp\", \"port\": -1, " + k_ok_fields),
       "5:52: targets[0].port: -1 is out of range 1-65535"},
      {"empty list", "{\"app\": \"demo\", \"reviewed\": \"2026-11-28\",\n \"targets\": []}",
       "2:13: targets: the list is empty: a list must hold at least one target"},
      {"bad kind", list_with("\"host\": \"example.org\", \"kind\": \"udp\", " + k_ok_fields),
       "5:37: targets[0].kind: 'udp' is not a kind (dns, tcp, tls, http, https, stun)"},
      {"missing host", list_with("\"kind\": \"https\", " + k_ok_fields),
       "5:5: targets[0]: missing required field 'host'"},
      {"missing sources", list_with("\"host\": \"example.org\", \"kind\": \"https\", \"purpose\": \"p\""),
       "5:5: targets[0]: missing required field 'sources'"},
      {"empty sources", list_with("\"host\": \"example.org\", \"kind\": \"https\", \"purpose\": \"p\", \"sources\": []"),
       "5:73: targets[0].sources: must name at least one source"},
      {"empty purpose", list_with("\"host\": \"example.org\", \"kind\": \"https\", \"purpose\": \"\", \"sources\": [\"s\"]"),
       "5:57: targets[0].purpose: must not be empty: say what the app uses it for"},
      {"dns with port", list_with("\"host\": \"example.org\", \"kind\": \"dns\", \"port\": 53, " + k_ok_fields),
       "5:52: targets[0].port: a dns target has no port"},
      {"tcp without port", list_with("\"host\": \"example.org\", \"kind\": \"tcp\", " + k_ok_fields),
       "5:5: targets[0]: a tcp target needs a 'port'"},
      {"path on tls", list_with("\"host\": \"example.org\", \"kind\": \"tls\", \"path\": \"/\", " + k_ok_fields),
       "5:52: targets[0].path: only http and https targets have a path"},
      {"relative path", list_with("\"host\": \"example.org\", \"kind\": \"https\", \"path\": \"x\", " + k_ok_fields),
       "5:54: targets[0].path: must start with '/'"},
      {"any_response on tls", list_with("\"host\": \"example.org\", \"kind\": \"tls\", \"any_response\": true, " + k_ok_fields),
       "5:60: targets[0].any_response: only for http and https targets"},
      {"any_response not bool", list_with("\"host\": \"example.org\", \"kind\": \"https\", \"any_response\": 1, " + k_ok_fields),
       "5:62: targets[0].any_response: expected true or false, found an integer"},
      {"missing CA file", list_with("\"host\": \"example.org\", \"kind\": \"https\", \"ca_files\": [\"nope.pem\"], " + k_ok_fields),
       "5:59: targets[0].ca_files[0]: cannot read certificate file '" + (dir.path() / "nope.pem").string() + "'"},
      {"bad review date", "{\"app\": \"demo\", \"reviewed\": \"2026-02-30\", \"targets\": [1]}",
       "1:29: reviewed: '2026-02-30' is not a date as YYYY-MM-DD"},
      {"missing review date", "{\"app\": \"demo\", \"targets\": [1]}",
       "1:1: reviewed: missing required field 'reviewed' (the date the list was last checked)"},
      {"bad app name", "{\"app\": \"Demo App\", \"reviewed\": \"2026-11-28\", \"targets\": [1]}",
       "1:9: app: 'Demo App' is not an app name (1-32 of a-z, 0-9, '_', '-')"},
      {"target not an object", "{\"app\": \"demo\", \"reviewed\": \"2026-11-28\", \"targets\": [\n  42]}",
       "2:3: targets[0]: expected an object, found an integer"},
      {"top level not an object", "[]", "1:1: (top level): expected an object with app, reviewed and targets, found an array"},
      {"duplicate target",
       "{\"app\": \"demo\", \"reviewed\": \"2026-11-28\", \"targets\": [\n"
       "  {\"host\": \"example.org\", \"kind\": \"tls\", " + k_ok_fields + "},\n"
       "  {\"host\": \"EXAMPLE.org\", \"kind\": \"tls\", " + k_ok_fields + "}]}",
       "3:3: targets[1]: duplicate of an earlier target (tls example.org)"},
      {"duplicate field", list_with("\"host\": \"a.org\", \"host\": \"b.org\", \"kind\": \"https\", " + k_ok_fields),
       "5:23: duplicate field 'host'"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    const auto error = load_error(dir, c.text);
    CHECK(error.code == 65);
    CHECK(error.message == file + ":" + c.expected);
  }
}

TEST_CASE("files that cannot be read or are not lists", "[targets]") {
  TempDir dir;
  try {
    load_target_file((dir.path() / "missing.json").string());
    FAIL("no error");
  } catch (const UserError& error) {
    CHECK(error.exit_code() == 66);
    CHECK(std::string(error.what()).find("missing.json: cannot read") != std::string::npos);
  }
  const auto error = load_error(dir, "x", "list.yaml");
  CHECK(error.code == 65);
  CHECK(error.message.find("list.yaml: unknown list format") != std::string::npos);
}

TEST_CASE("the shipped target lists are valid, dated and sourced", "[targets][shipped]") {
  const LoadedTargets loaded = load_targets({{std::string(PROBE_SOURCE_DIR) + "/targets"}, {}, {}});
  std::set<std::string> apps;
  for (const TargetList& list : loaded.lists) {
    INFO(list.file);
    CHECK(list.reviewed.has_value());
    for (const Target& target : list.targets) {
      apps.insert(target.app);
      CHECK_FALSE(target.sources.empty());
      // A TLS service checked with TCP alone passes middleboxes that terminate TCP.
      if (target.port == 443) {
        CHECK(target.kind != Kind::tcp);
      }
    }
  }
  CHECK(apps == std::set<std::string>{"clubhouse", "facebook", "signal", "twitter"});
  // Signal's service endpoints are served under Signal's own CA, shipped in the repository.
  int signal_services = 0;
  for (const Target& target : loaded.targets) {
    if (target.app == "signal" && target.host.find("signal.org") != std::string::npos &&
        target.host != "signal.org" && target.host != "www.signal.org" && target.kind == Kind::https) {
      ++signal_services;
      REQUIRE(target.ca_files.size() == 1);
      CHECK(target.ca_files[0].find("targets/ca/signal-messenger-ca.pem") != std::string::npos);
    }
  }
  CHECK(signal_services >= 4);
}
