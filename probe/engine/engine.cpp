#include "engine/engine.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <tuple>

#include "dns/dns_message.hpp"
#include "net/curl_multi.hpp"
#include "net/socket_address.hpp"
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

// Starts queued operations while fewer than `limit` are in flight; each operation calls the
// `done` it is given exactly once.
class Scheduler {
public:
  using Operation = std::function<void(std::function<void()> done)>;

  explicit Scheduler(std::size_t limit) : m_limit(std::max<std::size_t>(limit, 1)) {}

  void add(Operation operation) { m_queue.push_back(std::move(operation)); }

  void pump() {
    while (m_in_flight < m_limit && !m_queue.empty()) {
      Operation operation = std::move(m_queue.front());
      m_queue.pop_front();
      ++m_in_flight;
      operation([this]() {
        --m_in_flight;
        pump();
      });
    }
  }

private:
  std::size_t m_limit;
  std::size_t m_in_flight = 0;
  std::deque<Operation> m_queue;
};

constexpr const char* k_direct = "direct";

bool needs_tls(Kind kind) { return kind == Kind::tls || kind == Kind::https; }

// The run: everything the callbacks of one measure() call share.
class Run {
public:
  Run(const std::vector<Target>& targets, const RunSettings& settings, MonoTime run_start)
      : m_targets(targets), m_settings(settings), m_run_start(run_start), m_bogons(settings.allow_bogon),
        m_scheduler(settings.concurrency), m_curl(m_loop), m_results(targets.size()),
        m_pending_queries(targets.size(), 0) {
    m_ipv6_routed = has_route(AF_INET6);
    std::vector<std::string> ca_files = settings.ca_files;
    bool any_tls = false;
    for (const Target& target : targets) {
      any_tls = any_tls || needs_tls(target.kind);
      ca_files.insert(ca_files.end(), target.ca_files.begin(), target.ca_files.end());
    }
    std::sort(ca_files.begin(), ca_files.end());
    ca_files.erase(std::unique(ca_files.begin(), ca_files.end()), ca_files.end());
    if (any_tls) {
      m_ca_bundle = std::make_unique<CaBundle>(settings.mozilla_roots, ca_files);
    }
    DnsSettings dns_settings;
    dns_settings.timeout_ms = settings.timeout_ms;
    dns_settings.tries = settings.tries;
    for (const ResolverSpec& spec : settings.resolvers) {
      m_resolvers.push_back(std::make_unique<DnsResolver>(m_loop, spec, dns_settings, m_bogons, run_start));
    }
  }

  std::vector<TargetResult> run() {
    for (std::size_t i = 0; i < m_targets.size(); ++i) {
      m_results[i].target = m_targets[i];
      m_results[i].paths[k_direct] = PathObservations{};
      if (is_ip_literal(m_targets[i].host)) {
        add_endpoint_steps(i, {m_targets[i].host});
        continue;
      }
      for (const auto& resolver : m_resolvers) {
        for (const std::uint16_t type : {k_type_a, k_type_aaaa}) {
          ++m_pending_queries[i];
          Resolver* channel = resolver.get();
          m_scheduler.add([this, i, channel, type](std::function<void()> done) {
            const Target& target = m_targets[i];
            channel->query(target.host, type, target.bogon_expected, [this, i, done](DnsQuery query) {
              m_results[i].paths[k_direct].queries.push_back(std::move(query));
              if (--m_pending_queries[i] == 0) {
                add_endpoint_steps(i, addresses_of(i));
              }
              done();
            });
          });
        }
      }
    }
    m_scheduler.pump();
    m_loop.run();
    for (auto& result : m_results) {
      auto& path = result.paths[k_direct];
      std::sort(path.queries.begin(), path.queries.end(), [](const DnsQuery& a, const DnsQuery& b) {
        return std::tie(a.resolver, a.type) < std::tie(b.resolver, b.type);
      });
      std::sort(path.endpoints.begin(), path.endpoints.end(),
                [](const EndpointObservation& a, const EndpointObservation& b) {
                  return std::tie(a.family, a.address) < std::tie(b.family, b.address);
                });
    }
    return std::move(m_results);
  }

private:
  // Addresses the direct path's resolvers gave, bogons included (they are listed, not connected to).
  std::vector<std::string> addresses_of(std::size_t i) const {
    std::set<std::string> addresses;
    for (const DnsQuery& query : m_results[i].paths.at(k_direct).queries) {
      for (const DnsAnswer& answer : query.answers) {
        if (answer.type == "A" || answer.type == "AAAA") {
          addresses.insert(answer.value);
        }
      }
    }
    return {addresses.begin(), addresses.end()};
  }

  void add_endpoint_steps(std::size_t i, const std::vector<std::string>& addresses) {
    const Target& target = m_targets[i];
    if (target.kind == Kind::dns || !target.port) {
      return;  // a dns target's answers are its whole measurement
    }
    for (const std::string& address : addresses) {
      EndpointObservation endpoint;
      endpoint.address = address;
      endpoint.port = *target.port;
      endpoint.family = address.find(':') != std::string::npos ? 6 : 4;
      endpoint.sources = {k_direct};
      if (m_bogons.is_bogon(address)) {
        endpoint.not_tested = "special-purpose address (allow its range with --allow-bogon to test it)";
      } else if (endpoint.family == 6 && !m_ipv6_routed) {
        // Many networks have no IPv6 at all: that is not a failure of the target. (An IPv4
        // address without a route is measured: network_unreachable says the vantage is offline.)
        endpoint.not_tested = "no IPv6 route on this path";
      }
      auto& endpoints = m_results[i].paths[k_direct].endpoints;
      endpoints.push_back(std::move(endpoint));
      const std::size_t index = endpoints.size() - 1;
      if (endpoints[index].not_tested) {
        continue;
      }
      m_scheduler.add([this, i, index](std::function<void()> done) { start_steps(i, index, std::move(done)); });
    }
  }

  EndpointObservation& endpoint_at(std::size_t i, std::size_t index) {
    return m_results[i].paths[k_direct].endpoints[index];
  }

  void start_steps(std::size_t i, std::size_t index, std::function<void()> done) {
    const Target& target = m_targets[i];
    const EndpointObservation& endpoint = endpoint_at(i, index);
    const Millis timeout(m_settings.timeout_ms);
    if (target.kind == Kind::stun) {
      start_stun(m_loop, endpoint.address, endpoint.port, timeout, m_run_start,
                 [this, i, index, done](StepTiming stun) {
                   endpoint_at(i, index).stun = stun;
                   done();
                 });
      return;
    }
    start_tcp_connect(m_direct_connector, endpoint.address, endpoint.port, timeout, m_run_start,
                      [this, i, index, done](TcpObservation tcp) {
                        const bool connected = !tcp.failure;
                        endpoint_at(i, index).tcp = std::move(tcp);
                        if (!connected || m_targets[i].kind == Kind::tcp) {
                          done();
                          return;
                        }
                        start_transfer_for(i, index, done);
                      });
  }

  void start_transfer_for(std::size_t i, std::size_t index, std::function<void()> done) {
    const Target& target = m_targets[i];
    TransferRequest request;
    request.kind = target.kind;
    request.host = target.host;
    request.address = endpoint_at(i, index).address;
    request.port = endpoint_at(i, index).port;
    request.path = target.path;
    request.connect_timeout = Millis(m_settings.timeout_ms);
    // The body may take longer than a handshake; a slow body is still a success (truncated).
    request.total_timeout = Millis(m_settings.timeout_ms * 3);
    request.ca_bundle = m_ca_bundle ? m_ca_bundle->path() : std::string();
    request.user_agent = m_settings.user_agent;
    request.body_cap = m_settings.body_cap;
    start_transfer(m_curl, request, m_run_start, [this, i, index, done](TransferResult result) {
      endpoint_at(i, index).tls = std::move(result.tls);
      endpoint_at(i, index).http = std::move(result.http);
      done();
    });
  }

  const std::vector<Target>& m_targets;
  const RunSettings& m_settings;
  MonoTime m_run_start;
  BogonTable m_bogons;
  EventLoop m_loop;
  Scheduler m_scheduler;
  CurlMulti m_curl;
  StreamConnector m_direct_connector = plain_connector(m_loop);
  std::unique_ptr<CaBundle> m_ca_bundle;
  std::vector<std::unique_ptr<Resolver>> m_resolvers;
  std::vector<TargetResult> m_results;
  std::vector<std::size_t> m_pending_queries;
  bool m_ipv6_routed = false;
};

}  // namespace

std::vector<TargetResult> measure(const std::vector<Target>& targets, const RunSettings& settings,
                                  MonoTime run_start) {
  Run run(targets, settings, run_start);
  return run.run();
}

}  // namespace probe
