#include "engine/engine.hpp"

#include <algorithm>
#include <deque>
#include <functional>
#include <memory>
#include <tuple>

#include "dns/dns_message.hpp"
#include "targets/host.hpp"

namespace probe {

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

}  // namespace

std::vector<TargetResult> measure(const std::vector<Target>& targets, const RunSettings& settings,
                                  MonoTime run_start) {
  std::vector<TargetResult> results(targets.size());
  for (std::size_t i = 0; i < targets.size(); ++i) {
    results[i].target = targets[i];
    results[i].paths[k_direct] = PathObservations{};
  }
  EventLoop loop;
  const BogonTable bogons(settings.allow_bogon);
  DnsSettings dns_settings;
  dns_settings.timeout_ms = settings.timeout_ms;
  dns_settings.tries = settings.tries;
  std::vector<std::unique_ptr<DnsResolver>> resolvers;
  for (const ResolverSpec& spec : settings.resolvers) {
    resolvers.push_back(std::make_unique<DnsResolver>(loop, spec, dns_settings, bogons, run_start));
  }

  Scheduler scheduler(settings.concurrency);
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const Target& target = targets[i];
    if (is_ip_literal(target.host)) {
      continue;  // nothing to resolve
    }
    for (const auto& resolver : resolvers) {
      for (const std::uint16_t type : {k_type_a, k_type_aaaa}) {
        DnsResolver* channel = resolver.get();
        scheduler.add([&results, i, channel, type, &target](std::function<void()> done) {
          channel->query(target.host, type, target.bogon_expected, [&results, i, done](DnsQuery query) {
            results[i].paths[k_direct].queries.push_back(std::move(query));
            done();
          });
        });
      }
    }
  }
  scheduler.pump();
  loop.run();

  for (auto& result : results) {
    auto& queries = result.paths[k_direct].queries;
    std::sort(queries.begin(), queries.end(), [](const DnsQuery& a, const DnsQuery& b) {
      return std::tie(a.resolver, a.type) < std::tie(b.resolver, b.type);
    });
  }
  return results;
}

}  // namespace probe
