// Fuzzes what every resolver (c-ares over UDP, DNS over TCP, DoH) does with the bytes of a reply:
// match it to the query, parse it (dns_message) and turn it into an observation
// (fill_from_reply: answers, CNAME chain, bogon flags, failure string).

#include <cstddef>
#include <cstdint>

#include "dns/bogon.hpp"
#include "dns/dns_message.hpp"
#include "dns/resolver.hpp"
#include "fuzz_checks.hpp"

namespace {

// The A query for www.example.org with ID 0x1234, as a resolver sends it.
const std::string k_query("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
                          "\x03www\x07" "example\x03org\x00\x00\x01\x00\x01",
                          33);

// Small enough that the corpus has replies longer than it.
constexpr std::size_t k_raw_cap = 512;

void check_answers(const probe::DnsReply& reply, std::string_view packet) {
  for (const probe::DnsRecord& record : reply.answers) {
    if (record.owner.empty()) {
      probe::fuzz::fail("answer without an owner name", packet);
    }
    if (record.type == probe::k_type_cname) {
      if (record.value.empty()) {
        probe::fuzz::fail("CNAME without a target name", packet);
      }
      continue;
    }
    const auto address = probe::parse_address(record.value);
    const bool v6_text = record.value.find(':') != std::string::npos;
    if (!address || (record.type == probe::k_type_a) == v6_text ||
        (record.type != probe::k_type_a && record.type != probe::k_type_aaaa)) {
      probe::fuzz::fail("answer of an unexpected type or address", record.value);
    }
  }
}

void check_observation(const probe::DnsQuery& query, const std::optional<probe::DnsReply>& reply,
                       std::uint16_t type, std::size_t size) {
  const std::size_t kept = size < k_raw_cap ? size : k_raw_cap;
  if (query.raw_truncated != (size > k_raw_cap) || query.raw_base64.size() != (kept + 2) / 3 * 4) {
    probe::fuzz::fail("raw reply not kept as its capped base64", query.raw_base64);
  }
  if (!reply) {
    if (!query.failure || query.failure->code != probe::Failure::unknown_failure || query.rcode ||
        !query.answers.empty()) {
      probe::fuzz::fail("malformed reply not reported as such", query.raw_base64);
    }
    return;
  }
  if (query.rcode != probe::rcode_name(reply->rcode)) {
    probe::fuzz::fail("rcode not recorded", query.raw_base64);
  }
  std::size_t addresses = 0;
  for (const probe::DnsAnswer& answer : query.answers) {
    if (answer.type == probe::type_name(type)) {
      ++addresses;
    } else if (answer.type != "CNAME" || answer.bogon) {
      probe::fuzz::fail("observation holds an answer of another type", answer.type);
    }
  }
  // Success means a NOERROR reply with at least one address of the type asked.
  if (!query.failure && (reply->rcode != 0 || addresses == 0)) {
    probe::fuzz::fail("reply without an address recorded as a success", query.raw_base64);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view packet = probe::fuzz::as_text(data, size);
  static const probe::BogonTable bogons;

  // A message always answers itself, unless it is too short to be matched at all.
  if (probe::match_reply(packet, packet) == probe::ReplyMatch::mismatched) {
    probe::fuzz::fail("message does not match itself", packet);
  }
  static_cast<void>(probe::match_reply(packet, k_query));

  std::string problem;
  const auto reply = probe::parse_dns_reply(packet, &problem);
  if (reply) {
    check_answers(*reply, packet);
  } else if (problem.empty()) {
    probe::fuzz::fail("reply refused without a reason", packet);
  }
  for (const std::uint16_t type : {probe::k_type_a, probe::k_type_aaaa}) {
    probe::DnsQuery query;
    probe::fill_from_reply(query, packet, type, bogons, k_raw_cap, (size & 1) != 0);
    check_observation(query, reply, type, size);
  }
  return 0;
}
