#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dns/bogon.hpp"
#include "net/event_loop.hpp"
#include "model/observations.hpp"

namespace probe {

// One DNS server to ask. Each gets its own c-ares channel, so every answer's source is known.
struct ResolverSpec {
  std::string address;  // IP literal
  std::uint16_t port = 53;
  bool system = false;  // listed in resolv.conf, as opposed to given with --resolver
  std::string bind_device;  // when not empty, queries leave by this interface (an interface path)
  // An injection probe: an address that runs no DNS server. Any answer from it proves that
  // something on the path intercepts port 53. Labelled "injection:ADDR:PORT".
  bool injection = false;

  // "system:192.0.2.53:53", "injection:192.0.2.9:53" or "192.0.2.53:53" ("[2001:db8::53]:53" for IPv6).
  std::string label() const;
};

// Parses --resolver "ADDR", "ADDR:PORT", "[V6ADDR]:PORT" or a bare IPv6 address.
std::optional<ResolverSpec> parse_resolver(std::string_view text, std::string* problem);

// The name servers in resolv.conf (as c-ares reads it; `resolv_conf` replaces /etc/resolv.conf
// when not empty), one spec each, in file order. Throws UserError 66 when the file given cannot
// be used.
std::vector<ResolverSpec> system_resolvers(const std::string& resolv_conf = "");

// What one reply may put in the report. A reply can carry about 4,000 records over TCP (64 KiB),
// and every address listed becomes an endpoint measured over every path, so an unbounded list
// would let one resolver (or an injector) multiply the run's connections and the report's size.
// Real answers hold a handful of addresses (large round-robin pools a few dozen) and CNAME chains
// of a few links: 64 and 16 keep every real answer whole. The records beyond are left out and the
// query says `answers_truncated`; its failure is still judged on the whole reply.
inline constexpr std::size_t k_max_dns_addresses = 64;
inline constexpr std::size_t k_max_dns_cnames = 16;
// The raw reply kept (base64) beside the parsed answers: 4096 bytes hold any reply to an A or
// AAAA query that fits the usual EDNS buffer; longer ones (over TCP) are kept cut, and say so.
inline constexpr std::size_t k_max_raw_reply = 4096;

struct DnsSettings {
  int timeout_ms = 5000;  // per try; c-ares doubles it on its own later tries (the engine gives UDP servers one
                          // try and has dns/paced_resolver.hpp retry them)
  int tries = 2;
  std::size_t raw_cap = k_max_raw_reply;  // raw replies longer than this are stored cut, and say so
};

// One source of DNS answers for a path: a UDP server through c-ares, DNS over TCP through a proxy
// tunnel, DoH. Each query becomes a DnsQuery observation with a failure string.
class Resolver {
public:
  using Callback = std::function<void(DnsQuery)>;

  virtual ~Resolver() = default;

  // `type` is k_type_a or k_type_aaaa. `bogon_expected`: the name's normal answer is a
  // special-purpose address (answers are still flagged, but that is not a failure). The callback
  // runs exactly once, from the event loop (or from the destructor, with failure "interrupted",
  // if the resolver goes away first), never from inside this call.
  virtual void query(const std::string& name, std::uint16_t type, bool bogon_expected, Callback callback) = 0;

  // What DnsQuery::resolver says for this resolver's queries.
  virtual std::string label() const = 0;
};

// Turns a reply into an observation: answers, CNAME chain, bogon flags and the failure string
// (NXDOMAIN, SERVFAIL, REFUSED, no answer, bogon unless expected), keeping at most
// k_max_dns_addresses addresses and k_max_dns_cnames CNAMEs. Pure; exposed for tests.
void fill_from_reply(DnsQuery& query, std::string_view packet, std::uint16_t type, const BogonTable& bogons,
                     std::size_t raw_cap, bool bogon_expected = false);

}  // namespace probe
