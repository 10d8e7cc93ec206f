#include "path/carriage.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include "dns/doh_resolver.hpp"
#include "dns/paced_resolver.hpp"
#include "dns/stream_resolver.hpp"
#include "dns/udp_resolver.hpp"
#include "net/proxy_tunnel.hpp"
#include "net/socket_address.hpp"
#include "path/egress.hpp"

namespace probe {

namespace {

// Every resolver is paced (dns/paced_resolver.hpp). A server silent for an eighth of the step
// timeout after the first query is not held to the window (dead or blocked: nothing comes back to
// overflow), so a dead resolver still costs one timeout per try, not one per window of queries.
// `tries` > 1: the pacer retries lost queries itself, under its window (UDP servers, whose
// resolver is then given one try).
std::unique_ptr<Resolver> paced(const ResolverContext& context, std::unique_ptr<Resolver> resolver, int timeout_ms,
                                int tries = 1) {
  return std::make_unique<PacedResolver>(context.loop, std::move(resolver), context.inflight, Millis(timeout_ms),
                                         context.run_start, tries);
}

DnsSettings one_try(DnsSettings dns) {
  dns.tries = 1;
  return dns;
}

std::unique_ptr<Resolver> udp(const ResolverContext& context, const ResolverSpec& resolver, const DnsSettings& dns) {
  return paced(context,
               std::make_unique<DnsResolver>(context.loop, resolver, one_try(dns), context.bogons, context.run_start),
               dns.timeout_ms, dns.tries);
}

std::string host_for_url(const std::string& address) {
  return address.find(':') != std::string::npos ? "[" + address + "]" : address;
}

}  // namespace

ProxyEndpoint proxy_endpoint(const PathSpec& spec) {
  ProxyEndpoint proxy;
  proxy.kind = spec.kind == PathKind::http_proxy ? ProxyKind::http_connect : ProxyKind::socks5;
  proxy.address = spec.proxy_address;
  proxy.port = spec.proxy_port;
  proxy.username = spec.username;
  proxy.password = spec.password;
  return proxy;
}

bool has_route(int family) {
  const int fd = ::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return false;
  }
  const auto target = socket_address(family == AF_INET ? "192.0.2.1" : "2001:db8::1", 9);
  const bool routed = ::connect(fd, target->get(), target->length) == 0;
  ::close(fd);
  return routed;
}

PathCarriage direct_carriage(const ResolverContext& context, int timeout_ms, const std::vector<ResolverSpec>& resolvers,
                             const std::vector<ResolverSpec>& injection_probes) {
  PathCarriage path;
  path.connector = plain_connector(context.loop);
  path.ipv6 = has_route(AF_INET6);
  DnsSettings dns;
  dns.timeout_ms = timeout_ms;
  dns.tries = context.tries;
  for (const ResolverSpec& resolver : resolvers) {
    path.resolvers.push_back(udp(context, resolver, dns));
  }
  DnsSettings probe_dns = one_try(dns);  // silence is the expected answer: waiting once is enough
  for (ResolverSpec resolver : injection_probes) {
    resolver.injection = true;
    resolver.system = false;
    path.resolvers.push_back(paced(
        context, std::make_unique<DnsResolver>(context.loop, resolver, probe_dns, context.bogons, context.run_start),
        dns.timeout_ms));
  }
  return path;
}

PathCarriage control_carriage(const ResolverContext& context, const PathSpec& spec, int timeout_ms,
                              const std::vector<ResolverSpec>& resolvers, const std::string& doh_url,
                              const std::string& doh_address) {
  PathCarriage path;
  DnsSettings dns;
  dns.timeout_ms = timeout_ms;
  dns.tries = context.tries;
  if (spec.kind == PathKind::interface) {
    path.bind_device = spec.interface;
    path.connector = plain_connector(context.loop, spec.interface);
    path.curl.interface = spec.interface;
    path.ipv6 = egress_interface("2001:db8::1", spec.interface).has_value();
  } else {
    path.connector = tunnel_connector(context.loop, proxy_endpoint(spec));
    // Transfers are pinned to an address with CONNECT_TO, so the proxy is only ever asked for
    // addresses: plain socks5 whatever the user wrote (socks5h matters for DoH's name only).
    const std::string host = host_for_url(spec.proxy_address) + ":" + std::to_string(spec.proxy_port);
    path.curl.proxy = (spec.kind == PathKind::http_proxy ? "http://" : "socks5://") + host;
    path.curl.proxy_username = spec.username;
    path.curl.proxy_password = spec.password;
  }
  if (!doh_url.empty()) {
    CurlPath doh_path = path.curl;
    if (spec.kind == PathKind::socks5h || spec.kind == PathKind::socks5) {
      // The proxy resolves the DoH server's name: nothing is asked on the direct path.
      doh_path.proxy = "socks5h://" + host_for_url(spec.proxy_address) + ":" + std::to_string(spec.proxy_port);
    }
    DohServer server;
    server.url = doh_url;
    server.path = doh_path;
    if (!doh_address.empty()) {
      server.address = doh_address;
    }
    server.ca_bundle = context.ca_bundle;
    path.resolvers.push_back(paced(
        context, std::make_unique<DohResolver>(context.loop, context.curl, server, dns, context.bogons, context.run_start),
        dns.timeout_ms));
    return path;
  }
  for (ResolverSpec resolver : resolvers) {
    resolver.system = false;
    if (spec.kind == PathKind::interface) {
      resolver.bind_device = spec.interface;
      path.resolvers.push_back(udp(context, resolver, dns));
    } else {
      path.resolvers.push_back(paced(context,
                                     std::make_unique<StreamResolver>(context.loop, path.connector, resolver, dns,
                                                                      context.bogons, context.run_start, "tcp:"),
                                     dns.timeout_ms));
    }
  }
  return path;
}

}  // namespace probe
