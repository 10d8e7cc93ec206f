#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/digest.hpp"
#include "report/scrub.hpp"

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
