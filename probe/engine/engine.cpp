#include "engine/engine.hpp"

#include <malloc.h>


#include <algorithm>
#include <cmath>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <tuple>
#include <unordered_map>

#include "dns/dns_message.hpp"
#include "engine/scheduler.hpp"
#include "model/steps.hpp"
#include "steps/transfer_workers.hpp"
#include "net/curl_multi.hpp"
#include "net/curl_path.hpp"
#include "net/proxy_tunnel.hpp"
#include "net/stream_connect.hpp"
#include "path/carriage.hpp"
#include "path/egress.hpp"
#include "steps/ca_bundle.hpp"
#include "steps/stun.hpp"
#include "steps/tcp_connect.hpp"
#include "steps/tls_http.hpp"
#include "targets/host.hpp"

namespace probe {

namespace {

bool needs_tls(Kind kind) { return kind == Kind::tls || kind == Kind::https; }

// The TLS threads are started only for a run that has transfers to give them.
std::size_t transfer_threads(const std::vector<Target>& targets, const RunSettings& settings) {
  const bool any = std::any_of(targets.begin(), targets.end(), [](const Target& target) {
    return needs_tls(target.kind) || target.kind == Kind::http;
  });
  return any ? settings.transfer_threads : 0;
}

// One path during a run: how its steps and its DNS are carried (path/carriage.hpp), and what it
// has shown so far.
struct PathRuntime : PathCarriage {
  PathSpec spec;
  int timeout_ms = 5000;
  Scheduler scheduler;
  PathHealth health;

  PathRuntime(PathSpec path, int timeout, std::size_t concurrency, std::size_t per_address, PathCarriage carriage)
      : PathCarriage(std::move(carriage)), spec(std::move(path)), timeout_ms(timeout),
        scheduler(concurrency, per_address) {
    health.name = spec.name;
  }
};

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

  // The run's phases, in order: the paths' start-up checks and the first attempt at every target
  // (DNS on every path, then each address over every path), the re-tests, the throughput samples
  // of the suspects, then the observations handed back.
  Measurement run() {
    check_paths();
    for (std::size_t i = 0; i < m_targets.size(); ++i) {
      start_target(i);
    }
    first_phase();
    retest_phase();
    measure_congestion();
    if (m_settings.throughput && !m_interrupted) {
      schedule_throughput();
      m_throughput.pump();
      m_loop.run();
    }
    if (m_interrupted) {
      mark_interrupted();
    }
    if (m_settings.stop_fd >= 0) {
      m_loop.unwatch(m_settings.stop_fd);
    }
    mark_residual(m_results, m_paths[0]->spec.name);  // model/steps.hpp
    if (!m_interrupted) {
      for (const std::size_t i : m_revisited) {
        report_done(i);
      }
    }
    return measurement();
  }

private:
  // A target's observations on every path, and its DNS queued on every path's resolvers (an IP
  // literal goes straight to its endpoints; with no resolver anywhere it is finished).
  void start_target(std::size_t i) {
    m_results[i].target = m_targets[i];
    for (const auto& path : m_paths) {
      m_results[i].paths[path->spec.name] = PathObservations{};
    }
    if (is_ip_literal(m_targets[i].host)) {
      add_endpoints(i, {{m_targets[i].host, {}}});
      return;
    }
    if (std::all_of(m_paths.begin(), m_paths.end(), [](const auto& path) { return path->resolvers.empty(); })) {
      target_finished(i);  // no resolver on any path: nothing to ask, nothing to connect to
      return;
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
              if (m_interrupted) {
                return;  // the run stopped (this is a resolver being torn down): nothing is recorded
              }
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

  // Every first attempt, until the loop has nothing left (or the stop signal came).
  void first_phase() {
    if (m_settings.stop_fd >= 0) {
      // Passive: it does not keep the loop running once the work is done. The signal is left
      // queued for the caller to read (which one it was decides the exit code).
      m_loop.watch_passive(m_settings.stop_fd, EventLoop::k_readable, [this](int, std::uint32_t) {
        m_interrupted = true;
        m_loop.stop();
      });
    }
    for (const auto& path : m_paths) {
      path->scheduler.pump();
    }
    m_loop.run();
    measure_load();
  }

  // The follow-up phase, once every first attempt is in, at low concurrency (lower still when a
  // path is overrun). First the control paths' timed-out steps of targets that failed on every
  // path (so that what control got through is known before direct is judged by it); then each
  // failing direct step that a control path got through, and direct's timed-out steps of the
  // targets that failed everywhere. A burst of failures can be congestion; a censor, or a site
  // that is down, fails them again.
  void retest_phase() {
    if (std::any_of(m_paths.begin(), m_paths.end(), [](const auto& path) { return path->health.congestion.overrun; })) {
      m_retests.set_limit(m_settings.congested_retest_concurrency);
    }
    for (const bool control : {true, false}) {
      schedule_retests(control, m_interrupted);
      if (!m_interrupted) {
        m_retests.pump();
        m_loop.run();
      }
    }
  }

  Measurement measurement() {
    Measurement out;
    out.interrupted = m_interrupted;
    for (auto& result : m_results) {
      sort_observations(result);
    }
    out.results = std::move(m_results);
    for (const auto& path : m_paths) {
      out.paths.push_back(path->health);
    }
    return out;
  }

  ResolverContext resolver_context() {
    return ResolverContext{m_loop,     m_curl,           m_bogons,
                           m_run_start, m_settings.resolver_inflight, m_settings.tries,
                           m_ca_bundle ? m_ca_bundle->path() : std::string()};
  }

  void add_direct_path() {
    PathSpec spec;
    spec.name = "direct";
    m_paths.push_back(std::make_unique<PathRuntime>(
        spec, m_settings.timeout_ms, m_settings.concurrency, m_settings.per_address,
        direct_carriage(resolver_context(), m_settings.timeout_ms, m_settings.resolvers, m_settings.injection_probes)));
  }

  void add_control_path(const ControlSettings& control) {
    m_paths.push_back(std::make_unique<PathRuntime>(
        control.spec, control.timeout_ms, control.concurrency, m_settings.per_address,
        control_carriage(resolver_context(), control.spec, control.timeout_ms, control.resolvers, control.doh_url,
                         control.doh_address)));
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
                  [this, on](std::optional<FailureInfo> failure) {
                    if (m_interrupted) {
                      return;
                    }
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

  // Counts targets whose first phase is over, for the progress line, and hands the result on.
  void target_finished(std::size_t i) {
    ++m_finished;
    if (m_settings.on_progress) {
      m_settings.on_progress(m_finished, m_targets.size());
    }
    report_done(i);
  }

  void report_done(std::size_t i) {
    if (!m_settings.on_target_done) {
      return;
    }
    TargetResult copy = m_results[i];
    sort_observations(copy);
    std::vector<PathHealth> health;
    for (const auto& path : m_paths) {
      health.push_back(path->health);
    }
    m_settings.on_target_done(i, copy, health);
  }

  static void sort_observations(TargetResult& result) {
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

  void add_endpoints(std::size_t i, const std::vector<std::pair<std::string, std::vector<std::string>>>& addresses) {
    const Target& target = m_targets[i];
    if (target.kind == Kind::dns || !target.port) {
      target_finished(i);
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
        ++m_pending_steps[i];
        path.scheduler.add(address, [this, i, p, index](std::function<void()> done) {
          start_steps(i, p, index, [this, i, done = std::move(done)]() {
            if (--m_pending_steps[i] == 0) {
              target_finished(i);
            }
            done();
          });
        });
      }
      path.scheduler.pump();
    }
    if (m_pending_steps[i] == 0) {
      target_finished(i);  // nothing to connect to (no address, or only bogons)
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
            if (m_interrupted) {
              return;
            }
            endpoint_at(i, p, index).stun = stun;
            count(p, stun);
            done();
          },
          path.bind_device, m_settings.on_own_address);
      return;
    }
    start_tcp_connect(path.connector, endpoint.address, endpoint.port, timeout, m_run_start,
                      [this, i, p, index, done](TcpObservation tcp) {
                        if (m_interrupted) {
                          return;
                        }
                        const bool connected = !tcp.failure;
                        endpoint_at(i, p, index).tcp = std::move(tcp);
                        count(p, endpoint_at(i, p, index).tcp);
                        if (!connected || m_targets[i].kind == Kind::tcp) {
                          done();
                          return;
                        }
                        if (p == 0 && needs_tls(m_targets[i].kind)) {
                          start_decoy(i, index, done);
                          return;
                        }
                        start_transfer_for(i, p, index, done);
                      });
  }

  // The decoy handshake runs before the real one on the same address, so that blocking set off
  // by the real name (a censor that drops the address:port for a while) cannot spoil it.
  void start_decoy(std::size_t i, std::size_t index, std::function<void()> done) {
    TransferRequest request = transfer_request(i, 0, index);
    request.kind = Kind::tls;
    request.decoy = true;
    request.host = m_settings.decoy_sni;
    m_transfer_started[{i, 0, index, true}] = ms_between(m_run_start, EventLoop::now());
    m_transfers.start(request, m_run_start, [this, i, index, done](TransferResult result) {
      if (m_interrupted) {
        return;
      }
      endpoint_at(i, 0, index).decoy_tls = std::move(result.tls);
      start_transfer_for(i, 0, index, done);
    });
  }

  TransferRequest transfer_request(std::size_t i, std::size_t p, std::size_t index) {
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
    return request;
  }

  // Congestion is measured in two halves. After the first phase a path is `overrun` when at least
  // k_overrun_min_steps connection steps finished, a fifth or more of them timed out, and at least
  // one got through (bytes still flow: a dead or fully blocked path is not overrun, it is dead or
  // blocked); the re-tests then run 4 at a time instead of 16. A fifth: in a healthy run timeouts
  // are the rare blocked or down target, while a slow link that a burst of transfers overruns
  // times out a third or more of them (shipped lists at 1 Mbit/s, --timeout 2: 29 of 79 steps).
  // Fewer than ten steps say too little to tell.
  // After the re-tests, an overrun path is `congested` when at least half of its re-tested
  // timeouts got through at low concurrency: the timeouts were the load's, not the targets'. A
  // site that is down times out again, so a run whose only timeouts are a dead site's is not
  // congested however many there are (the lab's down scenario). On a congested path a timeout
  // that the re-test did not clear says nothing about the target (verdict.cpp: inconclusive,
  // signature congested, rather than down).
  static constexpr std::size_t k_overrun_min_steps = 10;
  static constexpr std::size_t k_overrun_fraction = 5;  // timeouts * 5 >= steps

  void measure_load() {
    for (auto& path : m_paths) {
      std::size_t steps = 0;
      std::size_t timeouts = 0;
      std::size_t through = 0;
      for (const auto& result : m_results) {
        for (const auto& endpoint : result.paths.at(path->spec.name).endpoints) {
          for (const auto& [which, step] : recorded_steps(endpoint)) {
            if (step->failure && step->failure->code == Failure::interrupted) {
              continue;
            }
            ++steps;
            timeouts += timed_out(step->failure) ? 1 : 0;
            through += step->failure ? 0 : 1;
          }
        }
      }
      PathCongestion& congestion = path->health.congestion;
      congestion.steps = steps;
      congestion.timeouts = timeouts;
      congestion.overrun = steps >= k_overrun_min_steps && timeouts * k_overrun_fraction >= steps && through > 0;
    }
  }

  void measure_congestion() {
    for (auto& path : m_paths) {
      std::size_t retested = 0;
      std::size_t recovered = 0;
      for (const auto& result : m_results) {
        for (const auto& endpoint : result.paths.at(path->spec.name).endpoints) {
          const auto step = first_failed_step(endpoint);
          const StepTiming* failed = step ? step_of(endpoint, *step) : nullptr;
          if (failed == nullptr || !timed_out(failed->failure) || !endpoint.retest ||
              has_failure(endpoint.retest->failure, Failure::interrupted)) {
            continue;
          }
          ++retested;
          recovered += endpoint.retest->failure ? 0 : 1;
        }
      }
      PathCongestion& congestion = path->health.congestion;
      congestion.retested = retested;
      congestion.recovered = recovered;
      congestion.congested = congestion.overrun && retested > 0 && recovered * 2 >= retested;
    }
  }

  static bool has_failure(const std::optional<FailureInfo>& failure, Failure code) {
    return failure && failure->code == code;
  }

  static bool timed_out(const std::optional<FailureInfo>& failure) {
    return failure && failure->code == Failure::generic_timeout_error;
  }

  // Whether target `i` failed on every path at the first attempt: no endpoint of the direct path
  // or of a usable control path got through all its steps, and at least one control path could
  // have (a run without one would judge it inconclusive whatever a re-test found).
  bool fails_everywhere(std::size_t i) const {
    bool any_control = false;
    bool any_failure = false;
    for (std::size_t p = 0; p < m_paths.size(); ++p) {
      if (m_paths[p]->health.check_failure) {
        continue;
      }
      any_control = any_control || p != 0;
      for (const auto& endpoint : m_results[i].paths.at(m_paths[p]->spec.name).endpoints) {
        if (endpoint.not_tested) {
          continue;
        }
        if (!first_failed_step(endpoint)) {
          return false;
        }
        any_failure = true;
      }
    }
    return any_control && any_failure;
  }

  // Queues the re-tests of the control paths (`control`) or of direct (or, when `dry`, only lists
  // them in m_retest_wanted: a run stopped before its follow-up phase marks them interrupted).
  // Re-tested: on every path, each step that timed out where the target failed everywhere (a
  // burst that overran the link times out working targets on every path; a target that is down
  // times out again); on direct also each failing step that a control path got through (its
  // first attempt or its re-test: control's run first).
  void schedule_retests(bool control, bool dry) {
    for (std::size_t p = control ? 1 : 0; p < (control ? m_paths.size() : 1); ++p) {
      const PathRuntime& path = *m_paths[p];
      if (path.health.check_failure) {
        continue;  // a control path that failed its start-up check measured nothing
      }
      for (std::size_t i = 0; i < m_results.size(); ++i) {
        auto& endpoints = m_results[i].paths[path.spec.name].endpoints;
        for (std::size_t index = 0; index < endpoints.size(); ++index) {
          const auto step = first_failed_step(endpoints[index]);
          if (!step || endpoints[index].not_tested || is_interrupted(endpoints[index])) {
            continue;
          }
          const StepTiming* failed = step_of(endpoints[index], *step);
          const bool everywhere = failed != nullptr && timed_out(failed->failure) && fails_everywhere(i);
          if (!everywhere && (p != 0 || !slowest_control_success_ms(i, endpoints[index].address, *step))) {
            continue;
          }
          m_retest_wanted[{i, p, index}] = *step;
          if (dry) {
            continue;
          }
          m_revisited.insert(i);
          m_retests.add(endpoints[index].address, [this, i, p, index, step = *step](std::function<void()> done) {
            retest(i, p, index, step, std::move(done));
          });
        }
      }
    }
  }

  // How long the slowest control path that got through `step` at `address` took (for http, from
  // the TLS handshake's start to the response's end; a control re-test that got through counts
  // with its own time, that of the whole chain); nullopt when none got through.
  // Only a step that worked over control can make the direct failure "blocked", so only then is
  // it worth a re-test (a run without controls, or a target down everywhere, re-tests nothing and
  // stays bounded by one timeout, unless it timed out everywhere); the re-test then gets at least
  // twice that time, so a direct path that is slow, not blocked, is not judged by a shorter clock
  // than control's.
  std::optional<double> slowest_control_success_ms(std::size_t i, const std::string& address,
                                                   Step step) const {
    std::optional<double> slowest;
    for (std::size_t p = 1; p < m_paths.size(); ++p) {
      for (const auto& endpoint : m_results[i].paths.at(m_paths[p]->spec.name).endpoints) {
        if (endpoint.address != address) {
          continue;
        }
        const auto ok = [](const auto& observation) { return observation && !observation->failure; };
        std::optional<double> took;
        if (step == Step::tcp && ok(endpoint.tcp)) {
          took = endpoint.tcp->duration_ms;
        } else if (step == Step::tls && ok(endpoint.tls)) {
          took = endpoint.tls->duration_ms;
        } else if (step == Step::http && ok(endpoint.http)) {
          const double start = endpoint.tls ? endpoint.tls->t0_ms : endpoint.http->t0_ms;
          took = endpoint.http->t0_ms + endpoint.http->duration_ms - start;
        } else if (step == Step::stun && ok(endpoint.stun)) {
          took = endpoint.stun->duration_ms;
        } else if (endpoint.retest && !endpoint.retest->failure) {
          took = endpoint.retest->duration_ms;  // the target's whole chain, from the connection on
        }
        if (took) {
          slowest = std::max(slowest.value_or(0.0), *took);
        }
      }
    }
    return slowest;
  }

  static bool is_interrupted(const EndpointObservation& endpoint) {
    for (const auto& [which, step] : recorded_steps(endpoint)) {
      if (step->failure && step->failure->code == Failure::interrupted) {
        return true;
      }
    }
    return false;
  }

  void retest(std::size_t i, std::size_t p, std::size_t index, Step step,
              std::function<void()> done) {
    const PathRuntime& path = *m_paths[p];
    const EndpointObservation& endpoint = endpoint_at(i, p, index);
    // A fair budget: the step's timeout (twice that on an overrun path: a slow link's queue
    // still delays the first packets of a re-test), or (direct) twice what control took,
    // whichever is longer.
    const double control_ms = p == 0 ? slowest_control_success_ms(i, endpoint.address, step).value_or(0.0) : 0.0;
    const long own = static_cast<long>(path.timeout_ms) * (path.health.congestion.overrun ? 2 : 1);
    const Millis timeout(std::max<long>(own, static_cast<long>(std::ceil(2 * control_ms))));
    const auto record = [this, i, p, index, step, done, timeout](const StepTiming& timing) {
      if (m_interrupted) {
        return;
      }
      m_retest_wanted.erase({i, p, index});
      RetestObservation observation;
      observation.step = to_string(step);
      observation.failure = timing.failure;
      observation.t0_ms = timing.t0_ms;
      observation.duration_ms = timing.duration_ms;
      observation.budget_ms = static_cast<double>(timeout.count());
      endpoint_at(i, p, index).retest = std::move(observation);
      done();
    };
    if (step == Step::stun) {
      start_stun(m_loop, endpoint.address, endpoint.port, timeout, m_run_start,
                 [record](StepTiming stun) { record(stun); }, path.bind_device, m_settings.on_own_address);
      return;
    }
    // On direct the failed step alone is re-tested (TCP: a connection; TLS: the handshake; HTTP:
    // the whole transfer): its failure is the evidence a layer is blocked. On a control path the
    // target's whole chain runs again, so that a control re-test that gets through means the
    // target works over control, as a first attempt would. Whatever fails first is the answer.
    const Kind kind = m_targets[i].kind;
    if (step == Step::tcp && (p == 0 || kind == Kind::tcp)) {
      start_tcp_connect(path.connector, endpoint.address, endpoint.port, timeout, m_run_start,
                        [record](TcpObservation tcp) { record(tcp); });
      return;
    }
    TransferRequest request = transfer_request(i, p, index);
    if (p == 0 && step == Step::tls) {
      request.kind = Kind::tls;
    }
    request.connect_timeout = std::max(request.connect_timeout, timeout);
    request.total_timeout = std::max(request.total_timeout, timeout);
    // A re-test's body is not compared with anything: a window of it is enough, and a slow link
    // is not flooded with whole pages while the other re-tests run.
    request.body_cap = std::min(request.body_cap, k_https_body_window);
    const MonoTime started = EventLoop::now();
    m_transfers.start(request, m_run_start, [this, record, started](TransferResult result) {
      StepTiming timing;
      timing.t0_ms = ms_between(m_run_start, started);
      timing.duration_ms = ms_between(started, EventLoop::now());
      if (result.tls && result.tls->failure) {
        timing.failure = result.tls->failure;
      } else if (result.http && result.http->failure) {
        timing.failure = result.http->failure;
      }
      record(timing);
    });
  }

  // The throughput phase, after every re-test: a target whose transfers on direct look throttled or
  // stalled (a suspect) has its body sampled on direct and on each healthy control, and on direct
  // the server's handshake flight timed for its real name and for the decoy name, and (plain
  // HTTP) its body asked for under the decoy name. The verdict compares them (verdict.cpp): a
  // throttle is direct's sample under a quarter of control's; it keys on the name (`tls`) when the
  // decoy's flight is fast where the real one is slow, on the address (`tcp_ip`) otherwise.
  // A suspect is, on direct, an endpoint whose response head came and then
  // - whose body stalled (body_stop "stalled"), or
  // - whose transfer's rate (the connection's bytes received, over the time from its TLS handshake
  //   to its end, over at least k_rate_min_bytes) is under a quarter of a healthy control's at the
  //   same address and under a quarter of the median of direct's rates for at least
  //   k_rate_min_peers other targets. Both: a slow or distant control path alone makes no suspect,
  //   nor does a slow link that slows every target alike (the lab's slow-link scenarios).
  // The samples run after everything else, throughput_concurrency at a time per path, so they
  // never compete with the reachability steps; a run with no suspect adds nothing.
  static constexpr std::uint64_t k_rate_min_bytes = 4 * 1024;
  static constexpr std::size_t k_rate_min_peers = 3;
  static constexpr double k_rate_factor = 4.0;

  // A transfer's rate on the wire in bytes per millisecond, as above; nullopt when it is too
  // short to say or no head came.
  static std::optional<double> transfer_rate(const EndpointObservation& endpoint) {
    if (!endpoint.http || !endpoint.http->status || !endpoint.http->bytes_received ||
        *endpoint.http->bytes_received < k_rate_min_bytes) {
      return std::nullopt;
    }
    const double start = endpoint.tls ? endpoint.tls->t0_ms : endpoint.http->t0_ms;
    const double end = endpoint.http->t0_ms + endpoint.http->duration_ms;
    return static_cast<double>(*endpoint.http->bytes_received) / std::max(end - start, 1.0);
  }

  bool usable_control(std::size_t p) const { return p != 0 && m_paths[p]->health.healthy(); }

  // The suspects: (target, index of its direct endpoint).
  std::vector<std::pair<std::size_t, std::size_t>> throughput_suspects() const {
    const std::string& direct = m_paths[0]->spec.name;
    std::vector<std::pair<std::size_t, double>> rates;  // (target, rate) of every direct endpoint with one
    for (std::size_t i = 0; i < m_results.size(); ++i) {
      for (const auto& endpoint : m_results[i].paths.at(direct).endpoints) {
        if (const auto rate = transfer_rate(endpoint)) {
          rates.emplace_back(i, *rate);
        }
      }
    }
    std::vector<std::pair<std::size_t, std::size_t>> out;
    for (std::size_t i = 0; i < m_results.size(); ++i) {
      const Kind kind = m_targets[i].kind;
      if (kind != Kind::https && kind != Kind::http) {
        continue;
      }
      const auto& endpoints = m_results[i].paths.at(direct).endpoints;
      for (std::size_t index = 0; index < endpoints.size(); ++index) {
        const EndpointObservation& endpoint = endpoints[index];
        if (endpoint.not_tested || !endpoint.http || !endpoint.http->status) {
          continue;
        }
        if (endpoint.http->body_stop == "stalled") {
          out.emplace_back(i, index);
          continue;
        }
        const auto rate = transfer_rate(endpoint);
        if (!rate || !slower_than_control(i, endpoint.address, *rate)) {
          continue;
        }
        std::vector<double> others;
        for (const auto& [j, other] : rates) {
          if (j != i) {
            others.push_back(other);
          }
        }
        if (others.size() < k_rate_min_peers) {
          continue;
        }
        std::nth_element(others.begin(), others.begin() + static_cast<std::ptrdiff_t>(others.size() / 2), others.end());
        if (*rate * k_rate_factor < others[others.size() / 2]) {
          out.emplace_back(i, index);
        }
      }
    }
    return out;
  }

  bool slower_than_control(std::size_t i, const std::string& address, double rate) const {
    for (std::size_t p = 1; p < m_paths.size(); ++p) {
      if (!usable_control(p)) {
        continue;
      }
      for (const auto& endpoint : m_results[i].paths.at(m_paths[p]->spec.name).endpoints) {
        const auto theirs = endpoint.address == address ? transfer_rate(endpoint) : std::nullopt;
        if (theirs && rate * k_rate_factor < *theirs) {
          return true;
        }
      }
    }
    return false;
  }

  // What a sample or a handshake rate is recorded in: bytes per second (over 1 ms at least).
  static double bytes_per_second(std::uint64_t bytes, double duration_ms) {
    return static_cast<double>(bytes) * 1000.0 / std::max(duration_ms, 1.0);
  }

  // A sample's body is timed over at least this much, or over a read that ran out of time (a
  // trickle's rate is what it is); a body that ends sooner is too small to time.
  static constexpr std::uint64_t k_sample_min_bytes = 16 * 1024;
  static constexpr std::size_t k_sample_bytes = 64 * 1024;

  void schedule_throughput() {
    m_throughput = Scheduler(m_settings.throughput_concurrency * m_paths.size(), m_settings.throughput_concurrency);
    std::vector<std::tuple<std::size_t, std::size_t, std::size_t, bool>> samples;  // (target, path, endpoint, decoy)
    for (const auto& [i, index] : throughput_suspects()) {
      m_revisited.insert(i);
      const Kind kind = m_targets[i].kind;
      const std::string address = endpoint_at(i, 0, index).address;
      endpoint_at(i, 0, index).throughput.emplace();
      if (kind == Kind::http) {
        samples.emplace_back(i, 0, index, true);
      } else {
        // First, before any sample fills the link: the two handshakes run side by side, under
        // the same conditions, twice each (the faster of each pair is kept: a flight is a few
        // KiB, and one late packet would double its time).
        for (int round = 0; round < 2; ++round) {
          add_handshake(i, index, false);
          add_handshake(i, index, true);
        }
      }
      samples.emplace_back(i, 0, index, false);
      for (std::size_t p = 1; p < m_paths.size(); ++p) {
        if (!usable_control(p)) {
          continue;
        }
        auto& endpoints = m_results[i].paths[m_paths[p]->spec.name].endpoints;
        for (std::size_t theirs = 0; theirs < endpoints.size(); ++theirs) {
          if (endpoints[theirs].address == address && !endpoints[theirs].not_tested && endpoints[theirs].tcp &&
              !endpoints[theirs].tcp->failure) {
            endpoints[theirs].throughput.emplace();
            samples.emplace_back(i, p, theirs, false);
          }
        }
      }
    }
    for (const auto& [i, p, index, decoy] : samples) {
      add_sample(i, p, index, decoy);
    }
  }

  // A sample of the body on path p (under the decoy name: plain HTTP's Host header), read to
  // k_sample_bytes whatever its title.
  void add_sample(std::size_t i, std::size_t p, std::size_t index, bool decoy) {
    m_throughput.add(m_paths[p]->spec.name, [this, i, p, index, decoy](std::function<void()> done) {
      TransferRequest request = transfer_request(i, p, index);
      request.body_cap = k_sample_bytes;
      request.https_body_window = 0;
      // The server cannot push far past the sample before the read stops (on a throttled or
      // slow link, what it sent beyond queues ahead of the next sample).
      request.receive_buffer = static_cast<int>(k_sample_bytes);
      request.connect_timeout = 2 * request.connect_timeout;  // a throttled handshake is slow, not failed
      if (decoy) {
        request.host = m_settings.decoy_sni;
      }
      m_transfers.start(request, m_run_start, [this, i, p, index, decoy, done](TransferResult result) {
        if (m_interrupted) {
          return;
        }
        RateSample sample;
        const std::optional<HttpObservation>& http = result.http;
        sample.failure = result.tls && result.tls->failure ? result.tls->failure
                         : http                            ? http->failure
                                                           : std::nullopt;
        if (http) {
          const double end = http->t0_ms + http->duration_ms;
          sample.t0_ms = result.first_byte_ms.value_or(http->t0_ms);
          sample.duration_ms = std::max(0.0, end - sample.t0_ms);
          sample.bytes = http->body_length;
          sample.body_stop = http->body_stop;
          const bool ran_out = http->body_stop == "timeout" || http->body_stop == "stalled";
          if (http->status && (sample.bytes >= k_sample_min_bytes || (ran_out && sample.bytes > 0))) {
            sample.rate = bytes_per_second(sample.bytes, sample.duration_ms);
          }
        } else if (result.tls) {
          sample.t0_ms = result.tls->t0_ms;
          sample.duration_ms = result.tls->duration_ms;
        }
        ThroughputObservation& record = *endpoint_at(i, p, index).throughput;
        if (decoy) {
          record.decoy_sample = std::move(sample);
        } else {
          if (!sample.failure && !sample.rate && sample.body_stop == "complete") {
            record.not_tested = "the body is too small to time (" + std::to_string(sample.bytes) + " bytes)";
          }
          record.sample = std::move(sample);
        }
        done();
      });
    });
  }

  // The server's handshake flight on direct for the real name or the decoy name: a handshake
  // alone, timed, with the bytes it brought.
  void add_handshake(std::size_t i, std::size_t index, bool decoy) {
    m_throughput.add(m_paths[0]->spec.name, [this, i, index, decoy](std::function<void()> done) {
      TransferRequest request = transfer_request(i, 0, index);
      request.kind = Kind::tls;
      request.decoy = decoy;
      request.connect_timeout = 2 * request.connect_timeout;
      if (decoy) {
        request.host = m_settings.decoy_sni;
      }
      m_transfers.start(request, m_run_start, [this, i, index, decoy, done](TransferResult result) {
        if (m_interrupted) {
          return;
        }
        RateSample sample;
        if (result.tls) {
          sample.failure = result.tls->failure;
          sample.t0_ms = result.tls->t0_ms;
          sample.duration_ms = result.tls->duration_ms;
          sample.bytes = result.tls->bytes_received.value_or(0);
          if (!sample.failure && sample.bytes > 0) {
            sample.rate = bytes_per_second(sample.bytes, sample.duration_ms);
          }
        }
        std::optional<RateSample>& kept = decoy ? endpoint_at(i, 0, index).throughput->decoy_handshake
                                                : endpoint_at(i, 0, index).throughput->handshake;
        // The better of the two tries: one that got through over one that failed, else the faster.
        if (!kept || (kept->failure && !sample.failure) ||
            (!kept->failure == !sample.failure && sample.duration_ms < kept->duration_ms)) {
          kept = std::move(sample);
        }
        done();
      });
    });
  }

  // The run was stopped: every query without an answer, every step an endpoint had not finished
  // and every re-test that did not run is recorded as `interrupted`, which is never evidence (a
  // timeout would read as blocking).
  void mark_interrupted() {
    // A cut step says what was known of it: when it started (a transfer in flight) or else when
    // the run stopped, and a handshake's server name.
    const double stopped_ms = ms_between(m_run_start, EventLoop::now());
    const auto cut = [stopped_ms](auto& step, std::optional<double> started = std::nullopt) {
      step.emplace();
      step->failure = FailureInfo{Failure::interrupted, "the run was stopped before this step finished"};
      step->t0_ms = started.value_or(stopped_ms);
      step->duration_ms = std::max(0.0, stopped_ms - step->t0_ms);
    };
    const auto started_at = [this](std::size_t i, std::size_t p, std::size_t index, bool decoy) {
      const auto found = m_transfer_started.find({i, p, index, decoy});
      return found == m_transfer_started.end() ? std::nullopt : std::optional<double>(found->second);
    };
    const auto cut_handshake = [&](std::optional<TlsObservation>& tls, const std::string& sni, bool decoy,
                                   std::optional<double> started) {
      cut(tls, started);
      tls->sni = sni;
      tls->decoy_sni = decoy;
    };
    for (std::size_t i = 0; i < m_results.size(); ++i) {
      const Target& target = m_targets[i];
      for (std::size_t p = 0; p < m_paths.size(); ++p) {
        const PathRuntime& path = *m_paths[p];
        PathObservations& observations = m_results[i].paths[path.spec.name];
        if (!is_ip_literal(target.host)) {
          for (const auto& resolver : path.resolvers) {
            const std::string label = resolver->label();
            for (const char* type : {"A", "AAAA"}) {
              const bool answered =
                  std::any_of(observations.queries.begin(), observations.queries.end(),
                              [&](const DnsQuery& query) { return query.resolver == label && query.type == type; });
              if (!answered) {
                DnsQuery query;
                query.resolver = label;
                query.type = type;
                query.failure = FailureInfo{Failure::interrupted, "the run was stopped before an answer came"};
                observations.queries.push_back(std::move(query));
              }
            }
          }
        }
        for (EndpointObservation& endpoint : observations.endpoints) {
          if (endpoint.not_tested) {
            continue;
          }
          // The first step of the kind's plan that never ran is cut (and, on direct, the decoy
          // handshake that runs before the real one); a plan that failed earlier ends there.
          const std::size_t index = static_cast<std::size_t>(&endpoint - observations.endpoints.data());
          for (Step step : step_plan(target.kind)) {
            if (step == Step::tls && p == 0 && !endpoint.decoy_tls) {
              cut_handshake(endpoint.decoy_tls, m_settings.decoy_sni, true, started_at(i, p, index, true));
            }
            const StepTiming* timing = step_of(endpoint, step);
            if (timing == nullptr) {
              switch (step) {
              case Step::tcp: cut(endpoint.tcp); break;
              case Step::tls: cut_handshake(endpoint.tls, target.host, false, started_at(i, p, index, false)); break;
              case Step::http: cut(endpoint.http, started_at(i, p, index, false)); break;
              case Step::stun: cut(endpoint.stun); break;
              }
              break;
            }
            if (timing->failure) {
              break;
            }
          }
        }
      }
    }
    for (const auto& [key, step] : m_retest_wanted) {
      RetestObservation observation;
      observation.step = to_string(step);
      observation.failure = FailureInfo{Failure::interrupted, "the run was stopped before this re-test finished"};
      const auto& [i, p, index] = key;
      endpoint_at(i, p, index).retest = std::move(observation);
    }
  }

  void start_transfer_for(std::size_t i, std::size_t p, std::size_t index, std::function<void()> done) {
    const TransferRequest request = transfer_request(i, p, index);
    m_transfer_started[{i, p, index, false}] = ms_between(m_run_start, EventLoop::now());
    m_transfers.start(request, m_run_start, [this, i, p, index, done](TransferResult result) {
      if (m_interrupted) {
        return;
      }
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
  TransferWorkers m_transfers{m_loop, m_curl, transfer_threads(m_targets, m_settings)};
  std::unique_ptr<CaBundle> m_ca_bundle;
  std::vector<std::unique_ptr<PathRuntime>> m_paths;  // direct first; destroyed before the loop
  Scheduler m_retests{m_settings.retest_concurrency, 2};
  std::vector<TargetResult> m_results;
  std::vector<std::size_t> m_pending_queries;
  std::vector<std::size_t> m_pending_steps = std::vector<std::size_t>(m_targets.size(), 0);
  std::size_t m_finished = 0;
  bool m_interrupted = false;  // stop_fd fired: callbacks record nothing more
  std::map<std::tuple<std::size_t, std::size_t, std::size_t>, Step> m_retest_wanted;  // (target, path, endpoint) -> step
  // When each transfer started (ms since the run's start), by (target, path, endpoint, decoy): what
  // a step cut by an interruption records as its t0.
  std::map<std::tuple<std::size_t, std::size_t, std::size_t, bool>, double> m_transfer_started;
  std::set<std::size_t> m_revisited;  // targets with a re-test or a sample, handed on again once it is in
  Scheduler m_throughput{1, 1};  // keyed by path name; its limits are set by schedule_throughput()
};

}  // namespace

Measurement measure_paths(const std::vector<Target>& targets, const RunSettings& settings, MonoTime run_start) {
  Measurement out;
  {
    Run run(targets, settings, run_start);
    out = run.run();
  }
  // The connections' memory is free now, much of it in the worker threads' malloc arenas, where
  // the report built next cannot reuse it: given back, it does not add to the run's peak.
  ::malloc_trim(0);
  return out;
}

std::vector<TargetResult> measure(const std::vector<Target>& targets, const RunSettings& settings,
                                  MonoTime run_start) {
  return measure_paths(targets, settings, run_start).results;
}

}  // namespace probe
