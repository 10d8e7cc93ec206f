#include <catch2/catch.hpp>

#include <chrono>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/mock_dns.hpp"
#include "support/run_command.hpp"

// The other DNS tests trust this fixture, so it is checked against an independent client (dig)
// rather than against the probe's own parser.

using probe::test::CommandResult;
using probe::test::MockDns;
using probe::test::run_command;

namespace {

// dig's exit status when no reply arrived.
constexpr int k_dig_no_reply = 9;

// One try, so a deliberately missing reply costs a single timeout.
CommandResult dig(const MockDns& dns, const std::vector<std::string>& query, int timeout_s = 2) {
  std::vector<std::string> args = {"dig", "@127.0.0.1", "-p", std::to_string(dns.port()), "+tries=1",
                                   "+time=" + std::to_string(timeout_s)};
  args.insert(args.end(), query.begin(), query.end());
  return run_command(args);
}

// The answer section with dig's column padding collapsed, e.g. "bogon.test. 60 IN A 10.10.10.10".
std::vector<std::string> answers(const MockDns& dns, const std::string& name, const std::string& type,
                                 const std::vector<std::string>& options = {}) {
  std::vector<std::string> query = {name, type, "+noall", "+answer"};
  query.insert(query.end(), options.begin(), options.end());
  const auto result = dig(dns, query);
  REQUIRE(result.exit_code == 0);
  std::vector<std::string> records;
  std::istringstream lines(result.out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string word;
    std::string record;
    while (words >> word) {
      record += (record.empty() ? "" : " ") + word;
    }
    if (!record.empty() && record[0] != ';') {
      records.push_back(record);
    }
  }
  return records;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The flags of dig's ";; flags: qr tc rd ra; QUERY: ..." line.
std::string flags(const std::string& dig_output) {
  const auto start = dig_output.find(";; flags:");
  if (start == std::string::npos) {
    return {};
  }
  const auto end = dig_output.find(';', start + 3);
  return dig_output.substr(start + 9, end - start - 9) + " ";
}

}  // namespace

TEST_CASE("mock DNS starts on a loopback port", "[fixture]") {
  MockDns dns;
  CHECK(dns.port() != 0);
  CHECK(dns.address() == "127.0.0.1:" + std::to_string(dns.port()));
}

TEST_CASE("mock DNS answers ordinary names with documentation addresses", "[fixture]") {
  MockDns dns;
  CHECK(answers(dns, "default.test", "A") == std::vector<std::string>{"default.test. 300 IN A 192.0.2.1"});
  CHECK(answers(dns, "www.example.org", "AAAA") == std::vector<std::string>{"www.example.org. 300 IN AAAA 2001:db8::1"});
  CHECK(answers(dns, "www.example.org", "A", {"+tcp"}) ==
        std::vector<std::string>{"www.example.org. 300 IN A 192.0.2.1"});
  CHECK(answers(dns, "default.test", "TXT").empty());
  CHECK(answers(dns, "bogon.test", "A") == std::vector<std::string>{"bogon.test. 60 IN A 10.10.10.10"});
  CHECK(answers(dns, "bogon.test", "AAAA") == std::vector<std::string>{"bogon.test. 60 IN AAAA fd00::1"});
  CHECK(answers(dns, "loopback.test", "A") == std::vector<std::string>{"loopback.test. 60 IN A 127.0.0.1"});
  CHECK(answers(dns, "loopback.test", "AAAA") == std::vector<std::string>{"loopback.test. 60 IN AAAA ::1"});
  CHECK(answers(dns, "ttl0.test", "A") == std::vector<std::string>{"ttl0.test. 0 IN A 192.0.2.1"});
}

TEST_CASE("mock DNS returns the error codes its first label names", "[fixture]") {
  MockDns dns;
  // Mixed case too: resolvers that randomise the case of names (0x20) must still get the behaviour.
  auto result = dig(dns, {"NxDomain.Example.ORG", "A"});
  CHECK(result.exit_code == 0);
  CHECK(contains(result.out, "status: NXDOMAIN"));
  CHECK(contains(result.out, "ANSWER: 0,"));

  result = dig(dns, {"servfail.test", "AAAA"});
  CHECK(contains(result.out, "status: SERVFAIL"));
  result = dig(dns, {"refused.test", "A"});
  CHECK(contains(result.out, "status: REFUSED"));
  result = dig(dns, {"empty.test", "A"});
  CHECK(contains(result.out, "status: NOERROR"));
  CHECK(contains(result.out, "ANSWER: 0,"));
}

TEST_CASE("mock DNS truncates over UDP and answers in full over TCP", "[fixture]") {
  MockDns dns;
  auto result = dig(dns, {"truncated.test", "A", "+ignore"});
  CHECK(contains(flags(result.out), " tc "));
  CHECK(contains(result.out, "ANSWER: 0,"));
  CHECK(answers(dns, "truncated.test", "A", {"+tcp"}) ==
        std::vector<std::string>{"truncated.test. 300 IN A 192.0.2.53"});
  CHECK(answers(dns, "truncated.test", "AAAA", {"+tcp"}) ==
        std::vector<std::string>{"truncated.test. 300 IN AAAA 2001:db8::53"});

  result = dig(dns, {"many.test", "A", "+ignore"});
  CHECK(contains(flags(result.out), " tc "));
  result = dig(dns, {"many.test", "A", "+tcp"});
  CHECK(contains(result.out, "ANSWER: 2000,"));
  CHECK(!contains(flags(result.out), " tc "));

  // Without +tcp dig falls back by itself, as the probe's resolver library should.
  const auto records = answers(dns, "many.test", "AAAA");
  CHECK(records.size() == 2000);
  CHECK(std::set<std::string>(records.begin(), records.end()).size() == 2000);
  CHECK(records.front() == "many.test. 30 IN AAAA 2001:db8::1");
}

TEST_CASE("mock DNS follows a CNAME chain", "[fixture]") {
  MockDns dns;
  CHECK(answers(dns, "cname.test", "A") == std::vector<std::string>{
                                               "cname.test. 100 IN CNAME alias.cname-target.test.",
                                               "alias.cname-target.test. 100 IN CNAME final.cname-target.test.",
                                               "final.cname-target.test. 100 IN A 192.0.2.77",
                                           });
  const auto records = answers(dns, "cname.test", "AAAA", {"+tcp"});
  REQUIRE(records.size() == 3);
  CHECK(records[2] == "final.cname-target.test. 100 IN AAAA 2001:db8::77");
}

TEST_CASE("mock DNS misbehaves on request", "[fixture]") {
  MockDns dns;
  auto result = dig(dns, {"silent.test", "A"}, 1);
  CHECK(result.exit_code == k_dig_no_reply);
  result = dig(dns, {"silent.test", "A", "+tcp"}, 1);
  CHECK(result.exit_code == k_dig_no_reply);

  result = dig(dns, {"malformed.test", "A"});
  CHECK(contains(result.out + result.err, "malformed"));

  // dig drops the short datagram and keeps waiting for a real reply that never comes.
  result = dig(dns, {"garbage.test", "A"}, 1);
  CHECK(result.exit_code == k_dig_no_reply);
  CHECK(contains(result.out + result.err, "short"));

  const auto start = std::chrono::steady_clock::now();
  CHECK(answers(dns, "slow.test", "A", {"+time=3"}) == std::vector<std::string>{"slow.test. 300 IN A 192.0.2.1"});
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(1400));
}

TEST_CASE("mock DNS answers with the wrong ID or breaks the TCP connection on request", "[fixture]") {
  MockDns dns;
  auto result = dig(dns, {"wrongid.test", "A", "+tcp"}, 1);
  CHECK(contains(result.out + result.err, "ID mismatch"));
  // Over UDP dig skips the stray datagram and takes the right one that follows.
  CHECK(answers(dns, "wrongidfirst.test", "A") == std::vector<std::string>{"wrongidfirst.test. 300 IN A 192.0.2.1"});

  result = dig(dns, {"cutoff.test", "A", "+tcp"}, 1);
  CHECK(contains(result.out + result.err, "end of file"));
  result = dig(dns, {"hangup.test", "A", "+tcp"}, 1);
  CHECK(contains(result.out + result.err, "end of file"));
  result = dig(dns, {"reset.test", "A", "+tcp"}, 1);
  CHECK(contains(result.out + result.err, "connection reset"));
  // Over UDP these three just never answer.
  CHECK(dig(dns, {"reset.test", "A"}, 1).exit_code == k_dig_no_reply);
}
