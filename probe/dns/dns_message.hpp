#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace probe {

inline constexpr std::uint16_t k_type_a = 1;
inline constexpr std::uint16_t k_type_cname = 5;
inline constexpr std::uint16_t k_type_aaaa = 28;

struct DnsRecord {
  std::string owner;
  std::uint16_t type = 0;
  std::uint32_t ttl = 0;
  std::string value;  // address text for A/AAAA, name for CNAME
};

// The parts of a DNS reply a measurement needs. Parsed by us, not by c-ares, so that a reply
// that is odd (injected, truncated, malformed) is described rather than dropped.
struct DnsReply {
  std::uint16_t id = 0;
  int rcode = 0;
  bool truncated = false;
  std::vector<DnsRecord> answers;  // A, AAAA and CNAME records of the answer section, in order
};

// Parses a DNS reply. nullopt with `problem` set when it is malformed.
std::optional<DnsReply> parse_dns_reply(std::string_view packet, std::string* problem);

// Whether `reply` answers `query` (both whole DNS messages): the same ID and the same question
// (name compared without regard to ASCII case, as RFC 4343 says). A reply too short for its header
// or question is `malformed`: it cannot be matched, and parsing it says why. A reply without a
// question (allowed for some errors) matches on its ID alone.
enum class ReplyMatch { matches, mismatched, malformed };
ReplyMatch match_reply(std::string_view reply, std::string_view query);

// "NOERROR", "NXDOMAIN", ... for rcodes 0-10, "RCODE<n>" beyond.
std::string rcode_name(int rcode);

// "A", "AAAA", "CNAME" or "TYPE<n>".
std::string type_name(std::uint16_t type);

}  // namespace probe
