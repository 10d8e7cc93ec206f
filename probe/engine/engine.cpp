#include "engine/engine.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <tuple>
#include <unordered_map>

#include "dns/dns_message.hpp"
#include "engine/scheduler.hpp"
#include "dns/doh_resolver.hpp"
#include "dns/stream_resolver.hpp"
#include "net/curl_multi.hpp"
#include "net/curl_path.hpp"
#include "net/proxy_tunnel.hpp"
#include "net/socket_address.hpp"
#include "net/stream_connect.hpp"
#include "path/egress.hpp"
#include "steps/ca_bundle.hpp"
#include "steps/stun.hpp"
#include "steps/tcp_connect.hpp"
#include "steps/tls_http.hpp"
#include "targets/host.hpp"

namespace probe {

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

namespace {

bool needs_tls(Kind kind) { return kind == Kind::tls || kind == Kind::https; }

// One path during a run: how its steps and its DNS are carried, and what it has shown so far.
struct PathRuntime {
  PathSpec spec;
  int timeout_ms = 5000;
  StreamConnector connector;
  CurlPath curl;
  std::string bind_device;  // interface paths
  bool ipv6 = true;         // whether the path can carry IPv6 (a proxy is asked; it says)
  std::vector<std::unique_ptr<Resolver>> resolvers;
  Scheduler scheduler;
  PathHealth health;

  PathRuntime(PathSpec path, int timeout, std::size_t concurrency, std::size_t per_address)
      : spec(std::move(path)), timeout_ms(timeout), scheduler(concurrency, per_address) {
    health.name = spec.name;
  }
};

ProxyEndpoint proxy_endpoint(const PathSpec& spec) {
  ProxyEndpoint proxy;
  proxy.kind = spec.kind == PathKind::http_proxy ? ProxyKind::http_connect : ProxyKind::socks5;
  proxy.address = spec.proxy_address;
  proxy.port = spec.proxy_port;
  proxy.username = spec.username;
  proxy.password = spec.password;
  return proxy;
}

std::string host_for_url(const std::string& address) {
  return address.find(':') != std::string::npos ? "[" + address + "]" : address;
}

// The run: everything the callbacks of one measure_paths() call share.
class Run {
public:
  Run(const std::vector<Target>& targets, const RunSettings& settings, MonoTime run_start)
      : m_targets(targets), m_settings(settings), m_run_start(run_start), m_bogons(settings.allow_bogon),
        m_curl(m_loop), m_results(targets.size()), m_pending_queries(targets.size(), 0) {
    std::vector<std::string> ca_files = settings.ca_files;
    bool any_tls = false;
    for (const Target& target : targets) {
      any_tls = any_tls || needs_tls(target.kind);
      ca_files.insert(ca_files.end(), target.ca_files.begin(), target.ca_files.end());
    }
    std::sort(ca_files.begin(), ca_files.end());
    ca_files.erase(std::unique(ca_files.begin(), ca_files.end()), ca_files.end());
    if (any_tls || std::any_of(settings.controls.begin(), settings.controls.end(),
                               [](const ControlSettings& control) { return !control.doh_url.empty(); })) {
      m_ca_bundle = std::make_unique<CaBundle>(settings.mozilla_roots, ca_files);
    }
    add_direct_path();
    for (const ControlSettings& control : settings.controls) {
      add_control_path(control);
    }
  }

  Measurement run() {
    check_paths();
    for (std::size_t i = 0; i < m_targets.size(); ++i) {
      m_results[i].target = m_targets[i];
      for (const auto& path : m_paths) {
        m_results[i].paths[path->spec.name] = PathObservations{};
      }
      if (is_ip_literal(m_targets[i].host)) {
        add_endpoints(i, {{m_targets[i].host, {}}});
        continue;
      }
      for (const auto& path : m_paths) {
        for (const auto& resolver : path->resolvers) {
          for (const std::uint16_t type : {k_type_a, k_type_aaaa}) {
            ++m_pending_queries[i];
            PathRuntime* on = path.get();
            Resolver* channel = resolver.get();
            on->scheduler.add("", [this, i, on, channel, type](std::function<void()> done) {
              const Target& target = m_targets[i];
              channel->query(target.host, type, target.bogon_expected, [this, i, on, done](DnsQuery query) {
                if (!query.failure) {
                  ++on->health.successes;
                }
                m_results[i].paths[on->spec.name].queries.push_back(std::move(query));
                if (--m_pending_queries[i] == 0) {
                  add_endpoints(i, addresses_of(i));
                }
                done();
              });
            });
          }
        }
      }
    }
    for (const auto& path : m_paths) {
      path->scheduler.pump();
    }
    m_loop.run();

    Measurement out;
    for (auto& result : m_results) {
      for (auto& [name, path] : result.paths) {
        std::sort(path.queries.begin(), path.queries.end(), [](const DnsQuery& a, const DnsQuery& b) {
          return std::tie(a.resolver, a.type) < std::tie(b.resolver, b.type);
        });
        std::sort(path.endpoints.begin(), path.endpoints.end(),
                  [](const EndpointObservation& a, const EndpointObservation& b) {
                    return std::tie(a.family, a.address) < std::tie(b.family, b.address);
                  });
      }
    }
    out.results = std::move(m_results);
    for (const auto& path : m_paths) {
      out.paths.push_back(path->health);
    }
    return out;
  }

private:
  void add_direct_path() {
    PathSpec spec;
    spec.name = "direct";
    auto path = std::make_unique<PathRuntime>(spec, m_settings.timeout_ms, m_settings.concurrency,
                                              m_settings.per_address);
    path->connector = plain_connector(m_loop);
    path->ipv6 = has_route(AF_INET6);
    DnsSettings dns;
    dns.timeout_ms = m_settings.timeout_ms;
    dns.tries = m_settings.tries;
    for (const ResolverSpec& resolver : m_settings.resolvers) {
      path->resolvers.push_back(std::make_unique<DnsResolver>(m_loop, resolver, dns, m_bogons, m_run_start));
    }
    m_paths.push_back(std::move(path));
  }

  void add_control_path(const ControlSettings& control) {
    auto path = std::make_unique<PathRuntime>(control.spec, control.timeout_ms, control.concurrency,
                                              m_settings.per_address);
    DnsSettings dns;
    dns.timeout_ms = control.timeout_ms;
    dns.tries = m_settings.tries;
    const PathSpec& spec = path->spec;
    if (spec.kind == PathKind::interface) {
      path->bind_device = spec.interface;
      path->connector = plain_connector(m_loop, spec.interface);
      path->curl.interface = spec.interface;
      path->ipv6 = egress_interface("2001:db8::1", spec.interface).has_value();
    } else {
      path->connector = tunnel_connector(m_loop, proxy_endpoint(spec));
      // Transfers are pinned to an address with CONNECT_TO, so the proxy is only ever asked for
      // addresses: plain socks5 whatever the user wrote (socks5h matters for DoH's name only).
      const std::string host = host_for_url(spec.proxy_address) + ":" + std::to_string(spec.proxy_port);
      path->curl.proxy = (spec.kind == PathKind::http_proxy ? "http://" : "socks5://") + host;
      path->curl.proxy_username = spec.username;
      path->curl.proxy_password = spec.password;
    }
    if (!control.doh_url.empty()) {
      CurlPath doh_path = path->curl;
      if (spec.kind == PathKind::socks5h || spec.kind == PathKind::socks5) {
        // The proxy resolves the DoH server's name: nothing is asked on the direct path.
        doh_path.proxy = "socks5h://" + host_for_url(spec.proxy_address) + ":" + std::to_string(spec.proxy_port);
      }
      DohServer server;
      server.url = control.doh_url;
      server.path = doh_path;
      if (!control.doh_address.empty()) {
        server.address = control.doh_address;
      }
      server.ca_bundle = m_ca_bundle ? m_ca_bundle->path() : std::string();
      path->resolvers.push_back(std::make_unique<DohResolver>(m_loop, m_curl, server, dns, m_bogons, m_run_start));
    } else {
      for (ResolverSpec resolver : control.resolvers) {
        resolver.system = false;
        if (spec.kind == PathKind::interface) {
          resolver.bind_device = spec.interface;
          path->resolvers.push_back(std::make_unique<DnsResolver>(m_loop, resolver, dns, m_bogons, m_run_start));
        } else {
          path->resolvers.push_back(std::make_unique<StreamResolver>(m_loop, path->connector, resolver, dns,
                                                                     m_bogons, m_run_start, "tcp:"));
        }
      }
    }
    m_paths.push_back(std::move(path));
  }

  // Start-up checks of the control paths, on the loop alongside the measurements: a proxy must
  // accept a connection and its handshake; an interface must have a route.
  void check_paths() {
    for (const auto& path : m_paths) {
      PathRuntime* on = path.get();
      if (on->spec.kind == PathKind::direct) {
        continue;
      }
      if (on->spec.kind == PathKind::interface) {
        on->health.checked = true;
        if (!interface_exists(on->spec.interface)) {
          on->health.check_failure = FailureInfo{Failure::network_unreachable, ""};
          on->health.check_detail = "no interface " + on->spec.interface;
        } else if (!egress_interface("192.0.2.1", on->spec.interface) &&
                   !egress_interface("2001:db8::1", on->spec.interface)) {
          on->health.check_failure = FailureInfo{Failure::network_unreachable, ""};
          on->health.check_detail = "no route by " + on->spec.interface;
        }
        continue;
      }
      check_proxy(m_loop, proxy_endpoint(on->spec), Millis(on->timeout_ms),
                  [on](std::optional<FailureInfo> failure) {
                    on->health.checked = true;
                    if (failure) {
                      on->health.check_detail = failure->detail.empty() ? failure->str() : failure->detail;
                      on->health.check_failure = std::move(failure);
                    }
                  });
    }
  }

  // Addresses any path's resolvers gave, with the paths that gave each; bogons included (they
  // are listed, not connected to).
  std::vector<std::pair<std::string, std::vector<std::string>>> addresses_of(std::size_t i) const {
    std::map<std::string, std::set<std::string>> sources;
    for (const auto& [name, path] : m_results[i].paths) {
      for (const DnsQuery& query : path.queries) {
        for (const DnsAnswer& answer : query.answers) {
          if (answer.type == "A" || answer.type == "AAAA") {
            sources[answer.value].insert(name);
          }
        }
      }
    }
    std::vector<std::pair<std::string, std::vector<std::string>>> out;
    for (const auto& [address, names] : sources) {
      out.emplace_back(address, std::vector<std::string>(names.begin(), names.end()));
    }
    return out;
  }

  void add_endpoints(std::size_t i, const std::vector<std::pair<std::string, std::vector<std::string>>>& addresses) {
    const Target& target = m_targets[i];
    if (target.kind == Kind::dns || !target.port) {
      return;  // a dns target's answers are its whole measurement
    }
    for (std::size_t p = 0; p < m_paths.size(); ++p) {
      PathRuntime& path = *m_paths[p];
      auto& endpoints = m_results[i].paths[path.spec.name].endpoints;
      for (const auto& [address, sources] : addresses) {
        EndpointObservation endpoint;
        endpoint.address = address;
        endpoint.port = *target.port;
        endpoint.family = address.find(':') != std::string::npos ? 6 : 4;
        endpoint.sources = sources;
        if (m_bogons.is_bogon(address)) {
          endpoint.not_tested = "special-purpose address (allow its range with --allow-bogon to test it)";
        } else if (endpoint.family == 6 && !path.ipv6) {
          // Many networks have no IPv6 at all: that is not a failure of the target. (An IPv4
          // address without a route is measured: network_unreachable says the vantage is offline.)
          endpoint.not_tested = "no IPv6 route on this path";
        } else if (target.kind == Kind::stun && path.spec.is_proxy()) {
          endpoint.not_tested = "UDP is not carried over a proxy path";
        }
        endpoints.push_back(std::move(endpoint));
        if (endpoints.back().not_tested) {
          continue;
        }
        const std::size_t index = endpoints.size() - 1;
        path.scheduler.add(address, [this, i, p, index](std::function<void()> done) {
          start_steps(i, p, index, std::move(done));
        });
      }
      path.scheduler.pump();
    }
  }

  EndpointObservation& endpoint_at(std::size_t i, std::size_t p, std::size_t index) {
    return m_results[i].paths[m_paths[p]->spec.name].endpoints[index];
  }

  void count(std::size_t p, const std::optional<StepTiming>& step) {
    if (step && !step->failure) {
      ++m_paths[p]->health.successes;
    }
  }

  void start_steps(std::size_t i, std::size_t p, std::size_t index, std::function<void()> done) {
    const Target& target = m_targets[i];
    PathRuntime& path = *m_paths[p];
    const EndpointObservation& endpoint = endpoint_at(i, p, index);
    const Millis timeout(path.timeout_ms);
    if (target.kind == Kind::stun) {
      start_stun(
          m_loop, endpoint.address, endpoint.port, timeout, m_run_start,
          [this, i, p, index, done](StepTiming stun) {
            endpoint_at(i, p, index).stun = stun;
            count(p, stun);
            done();
          },
          path.bind_device);
      return;
    }
    start_tcp_connect(path.connector, endpoint.address, endpoint.port, timeout, m_run_start,
                      [this, i, p, index, done](TcpObservation tcp) {
                        const bool connected = !tcp.failure;
                        endpoint_at(i, p, index).tcp = std::move(tcp);
                        count(p, endpoint_at(i, p, index).tcp);
                        if (!connected || m_targets[i].kind == Kind::tcp) {
                          done();
                          return;
                        }
                        start_transfer_for(i, p, index, done);
                      });
  }

  void start_transfer_for(std::size_t i, std::size_t p, std::size_t index, std::function<void()> done) {
    const Target& target = m_targets[i];
    const PathRuntime& path = *m_paths[p];
    TransferRequest request;
    request.kind = target.kind;
    request.host = target.host;
    request.address = endpoint_at(i, p, index).address;
    request.port = endpoint_at(i, p, index).port;
    request.path = target.path;
    request.connect_timeout = Millis(path.timeout_ms);
    // The body may take longer than a handshake; a slow body is still a success (truncated).
    request.total_timeout = Millis(path.timeout_ms * 3);
    request.ca_bundle = m_ca_bundle ? m_ca_bundle->path() : std::string();
    request.user_agent = m_settings.user_agent;
    request.body_cap = m_settings.body_cap;
    request.carrier = path.curl;
    start_transfer(m_curl, request, m_run_start, [this, i, p, index, done](TransferResult result) {
      endpoint_at(i, p, index).tls = std::move(result.tls);
      endpoint_at(i, p, index).http = std::move(result.http);
      count(p, endpoint_at(i, p, index).tls);
      count(p, endpoint_at(i, p, index).http);
      done();
    });
  }

  const std::vector<Target>& m_targets;
  const RunSettings& m_settings;
  MonoTime m_run_start;
  BogonTable m_bogons;
  EventLoop m_loop;
  CurlMulti m_curl;
  std::unique_ptr<CaBundle> m_ca_bundle;
  std::vector<std::unique_ptr<PathRuntime>> m_paths;  // direct first; destroyed before the loop
  std::vector<TargetResult> m_results;
  std::vector<std::size_t> m_pending_queries;
};

}  // namespace

Measurement measure_paths(const std::vector<Target>& targets, const RunSettings& settings, MonoTime run_start) {
  Run run(targets, settings, run_start);
  return run.run();
}

std::vector<TargetResult> measure(const std::vector<Target>& targets, const RunSettings& settings,
                                  MonoTime run_start) {
  return measure_paths(targets, settings, run_start).results;
}

}  // namespace probe
