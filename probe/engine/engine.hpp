#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "core/target.hpp"
#include "dns/bogon.hpp"
#include "dns/paced_resolver.hpp"
#include "dns/resolver.hpp"
#include "net/event_loop.hpp"
#include "path/path.hpp"
#include "model/observations.hpp"

namespace probe {

inline constexpr const char* k_default_user_agent =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36";

// A control path: how it is reached and how its DNS is carried. A proxy path carries DNS over TCP
// through its tunnel to `resolvers` (or DoH to `doh_url` through the proxy); an interface path
// sends UDP bound to its interface to `resolvers` (or DoH bound to it).
struct ControlSettings {
  PathSpec spec;                        // name, kind, proxy or interface, credentials
  int timeout_ms = 10000;               // per step on this path (Tor is slow)
  std::size_t concurrency = 64;         // operations in flight at once on this path
  std::vector<ResolverSpec> resolvers;  // the control resolvers
  std::string doh_url;                  // when set, DoH replaces `resolvers`
  std::string doh_address;              // the DoH host's address when its URL names it (no socks5h)
};

// What a run found about each path besides the targets: its start-up check and how many
// measurements it carried successfully (a control path is healthy only with both).
struct PathHealth {
  std::string name;
  bool checked = false;                      // a start-up check ran (control paths)
  std::optional<FailureInfo> check_failure;  // what the check found wrong
  std::string check_detail;                  // for the log: why (never credentials)
  std::size_t successes = 0;                 // DNS answers and steps that succeeded over the path
  PathCongestion congestion;
  bool healthy() const { return checked && !check_failure && successes > 0; }
};

struct RunSettings {
  // The direct path.
  int timeout_ms = 5000;               // per step (and per DNS try)
  int tries = 2;
  std::size_t concurrency = 256;       // operations in flight at once, across all targets
  std::vector<ResolverSpec> resolvers;  // system resolvers first, then --resolver ones
  std::vector<ControlSettings> controls;
  std::size_t per_address = 16;        // connections at once to one address, per path
  std::vector<ResolverSpec> injection_probes;  // addresses that run no DNS server (see ResolverSpec)
  std::size_t retest_concurrency = 16;  // the follow-up phase's re-tests run gently
  std::size_t congested_retest_concurrency = 4;  // ... and more gently still when a path is congested
  // Queries in flight to one DNS server at most, whatever `concurrency` says (dns/paced_resolver.hpp).
  std::size_t resolver_inflight = k_default_resolver_inflight;
  std::string decoy_sni = "www.example.com";  // the unrelated name of the decoy handshake
  // The throughput phase (engine.cpp): samples of the suspects' bodies, a few at a time per path.
  // Off (--no-throughput) for metered lines: a run then cannot tell a throttle.
  bool throughput = true;
  std::size_t throughput_concurrency = 2;  // samples in flight on one path
  // Called from the loop each time a target's first phase is over: (targets done, targets).
  std::function<void(std::size_t, std::size_t)> on_progress;
  std::vector<Cidr> allow_bogon;
  std::string mozilla_roots = "/usr/share/ca-certificates/mozilla";
  std::vector<std::string> ca_files;   // --ca-file: added to the roots and the targets' own CAs
  std::string user_agent = k_default_user_agent;  // a tool-specific one would single volunteers out
  std::size_t body_cap = 1u << 20;
  // Threads that run the TLS and HTTP steps (see TransferWorkers); 0: all on the loop's thread.
  std::size_t transfer_threads = 0;
  // A descriptor that becomes readable when the run must stop (a signalfd for SIGINT/SIGTERM):
  // no new work starts, and what was in flight is recorded as `interrupted`. -1: none.
  int stop_fd = -1;
  // Called from the loop with a target's result (queries and endpoints sorted) each time it is
  // complete: after its first phase, and again after its re-tests. For the append-only log that
  // keeps what was measured if the process is killed.
  std::function<void(std::size_t index, const TargetResult& result, const std::vector<PathHealth>& paths)>
      on_target_done;
  // Called with each address a STUN server saw this machine's requests come from (its address as
  // the network maps it, behind NAT the public one): never to be written anywhere.
  std::function<void(const std::string& address)> on_own_address;
};

struct Measurement {
  std::vector<TargetResult> results;
  std::vector<PathHealth> paths;  // direct first, then the controls in order
  bool interrupted = false;       // stop_fd fired: unfinished work is marked `interrupted`
};

// Measures every target on every path: DNS (A and AAAA) through each path's resolvers, then, on
// each path, for every address any path's answers gave (or the host's own IP literal), the steps
// the kind needs: TCP connect, TLS handshake, HTTP GET, or a STUN binding request. Crossing the
// addresses is what separates a DNS lie from IP blocking from an outage. One event loop, no
// thread per target: the run costs as long as its slowest chain of steps, not their sum.
// Results come back in the order of `targets`; queries sorted by resolver and type, endpoints by
// address.
Measurement measure_paths(const std::vector<Target>& targets, const RunSettings& settings, MonoTime run_start);

// The results alone (tests of the direct path).
std::vector<TargetResult> measure(const std::vector<Target>& targets, const RunSettings& settings,
                                  MonoTime run_start);

}  // namespace probe
