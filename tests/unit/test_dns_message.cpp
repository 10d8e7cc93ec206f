#include <catch2/catch.hpp>

#include "dns/dns_message.hpp"
#include "dns/resolver.hpp"

using namespace probe;

namespace {

// Builds replies byte by byte, so each test states exactly what the server sent.
class Packet {
public:
  Packet(std::uint16_t flags, std::uint16_t answers) {
    u16(0x1234);
    u16(flags);
    u16(1);  // one question
    u16(answers);
    u16(0);
    u16(0);
    name("www.example.org");
    u16(1);
    u16(1);
  }
  Packet& u16(unsigned value) {
    m_bytes += static_cast<char>((value >> 8) & 0xFF);
    m_bytes += static_cast<char>(value & 0xFF);
    return *this;
  }
  Packet& u32(unsigned value) { return u16(value >> 16).u16(value & 0xFFFF); }
  Packet& name(const std::string& dotted) {
    std::size_t start = 0;
    while (start < dotted.size()) {
      const auto dot = std::min(dotted.find('.', start), dotted.size());
      m_bytes += static_cast<char>(dot - start);
      m_bytes += dotted.substr(start, dot - start);
      start = dot + 1;
    }
    m_bytes += '\0';
    return *this;
  }
  Packet& raw(const std::string& bytes) {
    m_bytes += bytes;
    return *this;
  }
  Packet& a(const std::string& owner_pointer, std::uint32_t ttl, const std::string& four) {
    raw(owner_pointer).u16(k_type_a).u16(1).u32(ttl).u16(4).raw(four);
    return *this;
  }
  const std::string& bytes() const { return m_bytes; }

private:
  std::string m_bytes;
};

const std::string k_question_pointer("\xC0\x0C", 2);
constexpr std::uint16_t k_ok = 0x8180;

DnsQuery observe(const std::string& packet, std::uint16_t type = k_type_a, const BogonTable& bogons = BogonTable()) {
  DnsQuery query;
  fill_from_reply(query, packet, type, bogons, 4096);
  return query;
}

std::string failure_of(const DnsQuery& query) { return query.failure ? query.failure->str() : "none"; }

}  // namespace

TEST_CASE("a NOERROR reply with addresses, a CNAME chain and TTLs", "[dns]") {
  Packet packet(k_ok, 3);
  packet.raw(k_question_pointer).u16(k_type_cname).u16(1).u32(100).u16(13).name("cdn.example");  // 13 bytes
  packet.a(std::string("\x03" "cdn\x07" "example\x00", 13), 60, std::string("\x9D\xF0\x01\x23", 4));
  packet.a(k_question_pointer, 30, std::string("\x08\x08\x04\x04", 4));
  const DnsQuery query = observe(packet.bytes());
  CHECK(failure_of(query) == "none");
  CHECK(query.rcode == "NOERROR");
  REQUIRE(query.answers.size() == 3);
  CHECK(query.answers[0].type == "CNAME");
  CHECK(query.answers[0].value == "cdn.example");
  CHECK(query.answers[1].value == "157.240.1.35");
  CHECK(query.answers[1].ttl == 60);
  CHECK_FALSE(query.answers[1].bogon);
  CHECK(query.answers[2].value == "8.8.4.4");
  CHECK(query.answers[2].ttl == 30);
  CHECK(query.cname_chain == std::vector<std::string>{"cdn.example"});
  CHECK(query.raw_base64.size() == (packet.bytes().size() + 2) / 3 * 4);
  CHECK_FALSE(query.raw_truncated);
}

TEST_CASE("rcodes and empty answers map to OONI's DNS failure strings", "[dns]") {
  CHECK(failure_of(observe(Packet(0x8183, 0).bytes())) == "dns_nxdomain_error");
  CHECK(failure_of(observe(Packet(0x8182, 0).bytes())) == "dns_servfail_error");
  CHECK(failure_of(observe(Packet(0x8185, 0).bytes())) == "dns_refused_error");
  CHECK(failure_of(observe(Packet(0x8180, 0).bytes())) == "dns_no_answer");
  CHECK(failure_of(observe(Packet(0x8184, 0).bytes())) == "unknown_failure: DNS rcode NOTIMP");
  CHECK(observe(Packet(0x8183, 0).bytes()).rcode == "NXDOMAIN");
  // An A record in reply to an AAAA question is not an answer to it.
  Packet mismatched(k_ok, 1);
  mismatched.a(k_question_pointer, 30, std::string("\x08\x08\x04\x04", 4));
  CHECK(failure_of(observe(mismatched.bytes(), k_type_aaaa)) == "dns_no_answer");
}

TEST_CASE("bogon answers fail with dns_bogon_error unless allowed", "[dns]") {
  Packet packet(k_ok, 1);
  packet.a(k_question_pointer, 30, std::string("\x0A\x0A\x0A\x0A", 4));
  CHECK(failure_of(observe(packet.bytes())) == "dns_bogon_error");
  std::string problem;
  const BogonTable lab({*parse_cidr("10.10.0.0/16", &problem)});
  const DnsQuery allowed = observe(packet.bytes(), k_type_a, lab);
  CHECK(failure_of(allowed) == "none");
  CHECK_FALSE(allowed.answers[0].bogon);
  // A name whose normal answer is special-purpose (uptime.signal.org answers 127.0.0.1): the
  // answer is still flagged, but it is not a failure.
  DnsQuery expected;
  fill_from_reply(expected, packet.bytes(), k_type_a, BogonTable(), 4096, true);
  CHECK(failure_of(expected) == "none");
  CHECK(expected.answers[0].bogon);
}

TEST_CASE("malformed replies are described, never trusted", "[dns]") {
  CHECK(failure_of(observe("\x12\x34\x81")) == "unknown_failure: malformed DNS reply: reply shorter than a DNS header");
  Packet cut(k_ok, 1);
  cut.raw(std::string("\xC0\x0C\x00", 3));
  CHECK(failure_of(observe(cut.bytes())) == "unknown_failure: malformed DNS reply: malformed answer record");
  Packet overrun(k_ok, 1);
  overrun.raw(k_question_pointer).u16(k_type_a).u16(1).u32(1).u16(200).raw("abcd");
  CHECK(failure_of(observe(overrun.bytes())) ==
        "unknown_failure: malformed DNS reply: answer record data runs past the end of the reply");
  Packet loop(k_ok, 1);
  loop.raw(std::string("\xC0\x21", 2)).u16(k_type_a).u16(1).u32(1).u16(4).raw("abcd");  // offset 33: points at itself
  CHECK(failure_of(observe(loop.bytes())) == "unknown_failure: malformed DNS reply: malformed answer record");
  Packet short_address(k_ok, 1);
  short_address.raw(k_question_pointer).u16(k_type_a).u16(1).u32(1).u16(3).raw("abc");
  CHECK(failure_of(observe(short_address.bytes())) ==
        "unknown_failure: malformed DNS reply: address record of the wrong length");
  std::string query_not_reply = Packet(0x0100, 0).bytes();
  CHECK(failure_of(observe(query_not_reply)) == "unknown_failure: malformed DNS reply: not a reply (QR bit clear)");
}

TEST_CASE("raw replies are capped and say so", "[dns]") {
  Packet packet(k_ok, 0);
  DnsQuery query;
  fill_from_reply(query, packet.bytes(), k_type_a, BogonTable(), 12);
  CHECK(query.raw_truncated);
  CHECK(query.raw_base64.size() == 16);  // 12 bytes
}

TEST_CASE("resolver addresses", "[dns]") {
  std::string problem;
  auto spec = parse_resolver("192.0.2.53", &problem);
  REQUIRE(spec);
  CHECK(spec->port == 53);
  CHECK(spec->label() == "192.0.2.53:53");
  spec = parse_resolver("127.0.0.1:5353", &problem);
  REQUIRE(spec);
  CHECK(spec->port == 5353);
  spec = parse_resolver("[::1]:5353", &problem);
  REQUIRE(spec);
  CHECK(spec->address == "::1");
  CHECK(spec->label() == "[::1]:5353");
  spec = parse_resolver("2001:db8::53", &problem);
  REQUIRE(spec);
  CHECK(spec->port == 53);
  CHECK_FALSE(parse_resolver("dns.google", &problem));
  CHECK(problem == "'dns.google' is not an IP address (resolvers are given by address)");
  CHECK_FALSE(parse_resolver("127.0.0.1:0", &problem));
  CHECK(problem == "port '0' is not a number from 1 to 65535");
  CHECK_FALSE(parse_resolver("127.0.0.1:", &problem));
  CHECK_FALSE(parse_resolver("[::1", &problem));
}
