#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "dns/bogon.hpp"
#include "dns/resolver.hpp"
#include "net/curl_multi.hpp"
#include "net/curl_path.hpp"
#include "net/event_loop.hpp"
#include "net/proxy_tunnel.hpp"
#include "net/stream_connect.hpp"
#include "path/path.hpp"

// How one path carries a run's measurements: the stream connector its TCP steps and DNS-over-TCP
// use (a plain connect, bound to an interface, or a proxy's tunnel), the curl settings of its
// transfers, whether it carries IPv6, and its resolvers, each paced. The engine asks for a path's
// carriage and measures through it; it builds none of this itself.
namespace probe {

struct PathCarriage {
  StreamConnector connector;
  CurlPath curl;
  std::string bind_device;  // interface paths
  bool ipv6 = true;         // whether the path can carry IPv6
  std::vector<std::unique_ptr<Resolver>> resolvers;
};

// What every path's resolvers share in one run.
struct ResolverContext {
  EventLoop& loop;
  CurlMulti& curl;
  const BogonTable& bogons;
  MonoTime run_start;
  // Queries in flight to one server at most (dns/paced_resolver.hpp): a burst never goes past
  // what a home router's dnsmasq and the socket's receive buffer take, whatever --concurrency says.
  std::size_t inflight = 0;
  int tries = 2;          // of a query, on every path
  std::string ca_bundle;  // the run's CA file, for DoH (empty when the run has none)
};

// The direct path: plain connects, IPv6 when the host has a route for it, UDP to each of
// `resolvers` (the system's first) and the injection probes (asked once: silence is the expected
// answer).
PathCarriage direct_carriage(const ResolverContext& context, int timeout_ms, const std::vector<ResolverSpec>& resolvers,
                             const std::vector<ResolverSpec>& injection_probes);

// A control path. An interface: sockets bound to it, UDP resolvers bound to it, IPv6 when it has a
// route. A proxy: streams through its tunnel, transfers through it (plain socks5 or an HTTP
// CONNECT, pinned to addresses), DNS over TCP through the tunnel; with `doh_url`, DoH through the
// proxy instead (socks5h: the proxy resolves the DoH server's name; `doh_address` pins it).
PathCarriage control_carriage(const ResolverContext& context, const PathSpec& spec, int timeout_ms,
                              const std::vector<ResolverSpec>& resolvers, const std::string& doh_url,
                              const std::string& doh_address);

// The tunnel a proxy path's streams go through (its start-up check uses it too).
ProxyEndpoint proxy_endpoint(const PathSpec& spec);

// Whether the host has a route for `family` (AF_INET, AF_INET6): a UDP connect to a documentation
// address, which sends nothing.
bool has_route(int family);

}  // namespace probe
