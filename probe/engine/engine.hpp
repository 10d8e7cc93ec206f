#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/target.hpp"
#include "dns/bogon.hpp"
#include "dns/resolver.hpp"
#include "net/event_loop.hpp"
#include "report/report.hpp"

namespace probe {

inline constexpr const char* k_default_user_agent =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36";

struct RunSettings {
  int timeout_ms = 5000;               // per step (and per DNS try)
  int tries = 2;
  std::size_t concurrency = 256;       // operations in flight at once, across all targets
  std::vector<ResolverSpec> resolvers;  // system resolvers first, then --resolver ones
  std::vector<Cidr> allow_bogon;
  std::string mozilla_roots = "/usr/share/ca-certificates/mozilla";
  std::vector<std::string> ca_files;   // --ca-file: added to the roots and the targets' own CAs
  std::string user_agent = k_default_user_agent;  // a tool-specific one would single volunteers out
  std::size_t body_cap = 1u << 20;
};

// Measures every target on the direct path: DNS (A and AAAA) through every resolver, then, for
// each address the answers gave (or the host's own IP literal), the steps the kind needs: TCP
// connect, TLS handshake, HTTP GET, or a STUN binding request. One event loop, no thread per
// target: the run costs as long as its slowest chain of steps, not their sum. Results come back
// in the order of `targets`; queries sorted by resolver and type, endpoints by address.
std::vector<TargetResult> measure(const std::vector<Target>& targets, const RunSettings& settings,
                                  MonoTime run_start);

// Whether this host has a route for the address family (4 or 6): a UDP connect to a
// documentation address, which looks the route up and sends nothing.
bool has_route(int family);

}  // namespace probe
