#include <catch2/catch.hpp>

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/digest.hpp"
#include "report/scrub.hpp"
#include "support/reports.hpp"
#include "support/run_command.hpp"
#include "support/skip.hpp"
#include "support/temp_dir.hpp"

using probe::Scrubber;

namespace {

Scrubber lab_scrubber() {
  Scrubber scrubber;
  scrubber.add_address("10.77.1.2");
  scrubber.add_address("2001:db8::5");
  scrubber.add_path("/home/alice/");
  scrubber.add_word("alice");
  return scrubber;
}

// A DNS reply: one A record (`address`, 4 bytes) and an OPT record with an EDNS Client Subnet
// option for 198.51.100.0/24.
std::string reply_with(const std::string& address) {
  std::string m = std::string("\x12\x34\x81\x80\x00\x01\x00\x01\x00\x00\x00\x01", 12);
  m += std::string("\x07" "example" "\x03" "org" "\x00", 13) + std::string("\x00\x01\x00\x01", 4);
  m += std::string("\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04", 12) + address;
  m += std::string("\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x0b", 11);            // OPT, rdlength 11
  m += std::string("\x00\x08\x00\x07\x00\x01\x18\x00\xc6\x33\x64", 11);            // ECS: family 1, /24
  return m;
}

}  // namespace

TEST_CASE("scrub: own addresses, home and user name become [scrubbed], only where they stand alone", "[scrub]") {
  const Scrubber scrubber = lab_scrubber();
  CHECK(scrubber.text("X-Client-Address: 10.77.1.2") == "X-Client-Address: [scrubbed]");
  CHECK(scrubber.text("from 10.77.1.2:51234 to 10.77.13.1:443") == "from [scrubbed]:51234 to 10.77.13.1:443");
  CHECK(scrubber.text("::ffff:10.77.1.2") == "::ffff:[scrubbed]");
  CHECK(scrubber.text("10.77.1.20 110.77.1.2 10.77.1.2.5") == "10.77.1.20 110.77.1.2 10.77.1.2.5");
  CHECK(scrubber.text("10.77.1.2.") == "[scrubbed].");  // a sentence's full stop
  CHECK(scrubber.text("[2001:db8::5]:443") == "[[scrubbed]]:443");
  CHECK(scrubber.text("2001:db8::50 2001:db8::5:1") == "2001:db8::50 2001:db8::5:1");
  CHECK(scrubber.text("/home/alice/targets/x.json") == "[scrubbed]/targets/x.json");
  CHECK(scrubber.text("/home/alicex/x") == "/home/alicex/x");
  CHECK(scrubber.text("run by alice, not malice or alice_b") == "run by [scrubbed], not malice or alice_b");
  CHECK(scrubber.text("nothing here") == "nothing here");
}

TEST_CASE("scrub: a target's name is never taken for the machine's home or user, whatever the user is called",
          "[scrub]") {
  for (const std::string& user : std::vector<std::string>{"root", "ubuntu", "alice", "nobody", "debian"}) {
    INFO(user);
    const std::string home = user == "root" ? "/root" : "/home/" + user;
    Scrubber scrubber;  // as for_this_machine() sets it up for this user
    scrubber.add_path(home);
    scrubber.add_word(user);
    // Names of targets, and what servers send about them: untouched.
    for (const std::string& text : std::vector<std::string>{
             "https://" + user + ".example.org/", "https://" + user + ".com/", "https://www." + user + ".com/" + user + "/",
             "tcp://" + user + "-box.example:443", "https://" + user + "/x", "Location: https://cdn.example/home/" + user,
             home + "fs/x", "http://h" + home + "/x", "CN=" + user + ".example.org"}) {
      CHECK(scrubber.text(text) == text);
    }
    // The machine's own folder in a path or a message: scrubbed.
    CHECK(scrubber.text(home + "/targets/x.json") == "[scrubbed]/targets/x.json");
    CHECK(scrubber.text("cannot read " + home + "/x.pem: denied") == "cannot read [scrubbed]/x.pem: denied");
    CHECK(scrubber.text("'" + home + "'") == "'[scrubbed]'");
    // A result's identity is kept as its list gave it; what the network said about it is scrubbed.
    nlohmann::json result = {{"host", user + ".example.org"},
                             {"url", "https://" + user + ".example.org" + home + "/"},
                             {"http", {{"title", "files in " + home + "/x"}}}};
    scrubber.scrub(result);
    CHECK(result["host"] == user + ".example.org");
    CHECK(result["url"] == "https://" + user + ".example.org" + home + "/");
    CHECK(result["http"]["title"] == "files in [scrubbed]/x");
  }
  Scrubber named;
  named.add_word("ubuntu");
  CHECK(named.text("run by ubuntu, as ubuntu") == "run by [scrubbed], as [scrubbed]");
}

TEST_CASE("scrub: a run as root, and as another user, keeps target names whole in its report", "[scrub][root]") {
  if (geteuid() != 0) {
    PROBE_SKIP("needs root to run the probe as root's home and as the user nobody");
  }
  probe::test::TempDir dir;
  std::filesystem::permissions(dir.path(), std::filesystem::perms::all);  // nobody writes its report here
  struct As {
    std::vector<std::string> prefix;
    std::string user;
  };
  const std::vector<As> runs = {{{"env", "HOME=/root"}, "root"},
                                {{"runuser", "-u", "nobody", "--", "env", "HOME=/nonexistent"}, "nobody"}};
  for (const As& as : runs) {
    INFO(as.user);
    const std::filesystem::path out = dir.path() / as.user;
    const std::string url = "https://" + as.user + ".example.org/" + as.user + "/";
    std::vector<std::string> args = as.prefix;
    // Offline: the only resolver is a closed loopback port, so nothing leaves the machine.
    args.insert(args.end(), {PROBE_BINARY, "-q", "run", "--url", url, "--no-system-resolver", "--resolver",
                             "127.0.0.1:1", "--tries", "1", "--timeout", "1", "--out", out.string()});
    const auto result = probe::test::run_command(args);
    INFO(result.err);
    REQUIRE(result.exit_code == 0);
    const auto report_path = probe::test::only_report(out);
    CHECK(probe::test::validates({report_path.string()}));
    const auto report = nlohmann::json::parse(probe::test::read_file(report_path));
    REQUIRE(report["results"].size() == 1);
    CHECK(report["results"][0]["url"] == url);
    CHECK(report["results"][0]["host"] == as.user + ".example.org");
  }
}

TEST_CASE("scrub: a user called root or a two-letter name is not a word to remove", "[scrub]") {
  Scrubber scrubber;
  scrubber.add_word("root");
  scrubber.add_word("al");
  CHECK(scrubber.text("root CA, al") == "root CA, al");
}

TEST_CASE("scrub: raw DNS replies lose own addresses and every Client Subnet address, nothing else", "[scrub]") {
  const Scrubber scrubber = lab_scrubber();
  const std::string own = reply_with(std::string("\x0a\x4d\x01\x02", 4));  // 10.77.1.2
  const std::string cleaned = scrubber.dns_message(own);
  REQUIRE(cleaned.size() == own.size());
  CHECK(cleaned.substr(0, 41) == own.substr(0, 41));
  CHECK(cleaned.substr(41, 4) == std::string(4, '\0'));            // the A record's address
  CHECK(cleaned.substr(45, 19) == own.substr(45, 19));             // OPT header and ECS head
  CHECK(cleaned.substr(64, 3) == std::string(3, '\0'));            // the ECS address
  const std::string other = reply_with(std::string("\x0a\x4d\x0d\x01", 4));  // 10.77.13.1: kept
  CHECK(scrubber.dns_message(other).substr(41, 4) == other.substr(41, 4));

  nlohmann::json report = {{"queries", {{{"raw_base64", probe::base64_encode(own)}, {"resolver", "10.77.1.2:53"}}}}};
  scrubber.scrub(report);
  CHECK(report["queries"][0]["resolver"] == "[scrubbed]:53");
  CHECK(probe::base64_decode(report["queries"][0]["raw_base64"].get<std::string>()) == cleaned);
}

TEST_CASE("scrub: hostile DNS bytes (cut, looping, random) never read out of bounds", "[scrub]") {
  const Scrubber scrubber = lab_scrubber();
  const std::string full = reply_with(std::string("\x0a\x4d\x01\x02", 4));
  for (std::size_t n = 0; n <= full.size(); ++n) {
    CHECK(scrubber.dns_message(full.substr(0, n)).size() == n);
  }
  std::mt19937 random(7);
  for (int i = 0; i < 2000; ++i) {
    std::string bytes = full;
    bytes[random() % bytes.size()] = static_cast<char>(random());
    bytes[random() % bytes.size()] = static_cast<char>(random());
    CHECK(scrubber.dns_message(bytes).size() == bytes.size());
  }
}

TEST_CASE("base64 decodes what it encodes and refuses what is not base64", "[scrub]") {
  for (const std::string& text : std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    CHECK(probe::base64_decode(probe::base64_encode(text)) == text);
  }
  CHECK_FALSE(probe::base64_decode("abc").has_value());
  CHECK_FALSE(probe::base64_decode("ab!d").has_value());
}

TEST_CASE("scrub: loopback addresses are never scrubbed (names resolve to them legitimately)", "[scrub]") {
  Scrubber scrubber;
  scrubber.add_address("127.0.0.1");
  scrubber.add_address("::1");
  scrubber.add_address("not an address");
  CHECK(scrubber.addresses().empty());
  CHECK(scrubber.text("uptime.signal.org -> 127.0.0.1") == "uptime.signal.org -> 127.0.0.1");
}

namespace {

// What a child in a network namespace of its own, with two addresses on a veth, finds: the
// addresses `ip` lists there and those Scrubber::for_this_machine() collects, as JSON.
// Exit 90: the namespace could not be made.
std::string addresses_in_a_fresh_namespace() {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    if (::unshare(CLONE_NEWNET) != 0 ||
        std::system("ip link set lo up && ip link add sv0 type veth peer name sv1 && "
                    "ip addr add 192.0.2.77/24 dev sv0 && ip -6 addr add 2001:db8::77/64 dev sv0 nodad && "
                    "ip link set sv0 up && ip link set sv1 up") != 0) {
      ::_exit(90);
    }
    nlohmann::json found = {{"listed", nlohmann::json::array()}, {"collected", nlohmann::json::array()}};
    if (FILE* ip = ::popen("ip -j addr show", "r")) {
      std::string text;
      char buffer[4096];
      for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, ip)) > 0;) {
        text.append(buffer, n);
      }
      ::pclose(ip);
      for (const auto& link : nlohmann::json::parse(text)) {
        for (const auto& info : link.value("addr_info", nlohmann::json::array())) {
          found["listed"].push_back(info.at("local"));
        }
      }
    }
    const Scrubber machine = Scrubber::for_this_machine();
    for (const std::string& address : machine.addresses()) {
      found["collected"].push_back(address);
    }
    const std::string out = found.dump();
    const bool written = ::write(fds[1], out.data(), out.size()) == static_cast<ssize_t>(out.size());
    ::_exit(written ? 0 : 91);
  }
  ::close(fds[1]);
  std::string out;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;) {
    out.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return code == 0 ? out : std::to_string(code);
}

}  // namespace

TEST_CASE("scrub: every address of every interface of the machine is collected, loopback aside", "[scrub]") {
  if (::geteuid() != 0) {
    PROBE_SKIP("a network namespace of the test's own needs root");
  }
  const std::string found = addresses_in_a_fresh_namespace();
  if (found == "90") {
    PROBE_SKIP("cannot make a network namespace with a veth here");
  }
  INFO(found);
  const nlohmann::json parsed = nlohmann::json::parse(found);
  const auto collected = parsed.at("collected").get<std::set<std::string>>();
  const auto listed = parsed.at("listed").get<std::set<std::string>>();
  CHECK(collected.count("192.0.2.77") == 1);
  CHECK(collected.count("2001:db8::77") == 1);
  CHECK(collected.count("127.0.0.1") == 0);
  CHECK(collected.count("::1") == 0);
  CHECK(listed.count("192.0.2.77") == 1);  // the namespace is what the test made
  for (const std::string& address : listed) {
    if (address != "127.0.0.1" && address != "::1") {
      INFO(address << " is on an interface");
      CHECK(collected.count(address) == 1);  // the link-local fe80:: of each veth too
    }
  }
}
