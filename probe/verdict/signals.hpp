#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "model/steps.hpp"
#include "verdict/evidence.hpp"
#include "verdict/index.hpp"

// The verdict's second phase: named signals over the indexed observations. Each is a pure
// function: it returns what it found (a query, an endpoint, a finding with its evidence lines) and
// writes nothing; the rules (verdict.cpp) decide what a signal means and show its evidence.
namespace probe::judging {

// The layers of blocking, in the order `method` picks the first of.
enum Layer : std::size_t { dns_layer, tcp_ip_layer, tls_layer, http_layer, layer_count };
inline constexpr std::array<std::string_view, layer_count> k_layer_names{"dns", "tcp_ip", "tls", "http"};

// A step or query cut short by the end of the run: the line that shows it, and whether it was
// direct's.
struct Interruption {
  bool on_direct = false;
  std::string line;
};
std::optional<Interruption> interruption(const Observed& o);

// The throughput phase's comparison (engine.cpp takes the samples): a direct body read at under a
// quarter of a healthy control's rate at the same address is throttled. What the throttle keys on
// (`throttle_key`):
// - https, tls: `tls` when the server's handshake flight for the decoy name got through and the
//   real name's took at least twice as long and k_name_slower_ms more (or timed out), else
//   `tcp_ip`. Each is the faster of two tries, and the floor keeps two fast handshakes' jitter
//   from naming a layer: a throttle of 256 kbit/s adds about 45 ms to a 1.5 KB flight (an
//   ECDSA certificate), 150 ms to a 5 KB one (an RSA chain);
// - http: `http` when the body asked for under the decoy name came at four times the real
//   one's rate or more, else `tcp_ip`.
inline constexpr double k_throttle_factor = 4.0;
inline constexpr double k_name_slower_ms = 20.0;

// A chain that validated on direct under another root than over a healthy control at the same
// address: a locally trusted interceptor. Compared per address, because CDN edges may serve
// chains that end at different roots.
std::optional<std::string> mitm_root(const Observed& o, const EndpointObservation& endpoint);

// For plain-HTTP targets: why the direct response is not the site's, or nullopt when it is.
// HTTPS responses are never judged by content: behind a validated certificate any answer is
// the site's.
std::optional<std::string> content_problem(const Observed& o, const EndpointObservation& endpoint);

// What a throttle on `ours` keys on: "tls", "http" or "tcp_ip" (the rules above).
std::string throttle_key(const Observed& o, const ThroughputObservation& ours);

// A stall is re-tested by the throughput phase's sample of the same body: one that reads through
// this time (to the sample's cap or the body's end) was the link's moment, as a failure that
// passes its re-test is (a burst on a congested line can starve one connection for seconds).
bool read_through(const EndpointObservation& endpoint);

// What a stall keys on, from the throughput phase's body sample under the decoy name (plain
// HTTP: its Host header): `tcp_ip` when it stalls too, `http` when it reads past where the real
// one stalled without stalling; nullopt when it says neither (or, https, was not asked for).
std::optional<std::string> stall_key(const EndpointObservation& endpoint);

// An address the censor put in an answer fails on direct: it is a special-purpose address, or
// the direct endpoint for it was tested and does not work.
bool fails_on_direct(const Observed& o, const DnsAnswer& answer);

// A direct endpoint whose steps fail, or (plain HTTP) whose response is not the site's.
bool fails_or_differs(const Observed& o, const EndpointObservation& endpoint);

bool works_on_direct(const Observed& o, const std::string& address);

// The injection probe's query was answered (nothing serves DNS at its address, so something on
// the path answered) with addresses that do not work on direct.
const DnsQuery* injected_query(const Observed& o);

// The injection probe's query answered with addresses (for a dns target, whose addresses are
// not connected to, this is all there is to say).
const DnsQuery* answered_injection(const Observed& o);

// A direct answer in special-purpose space for a target that does not expect one.
const DnsQuery* bogon_query(const Observed& o);

// A reset or a close right after the ClientHello, on a connection TCP had opened, that its
// re-test did not contradict.
const EndpointObservation* tls_cut(const Observed& o);

// Nothing resolved or connected on direct (every query failed with a network error or a timeout,
// and no step succeeded): the queries that show it (its evidence), or nullopt.
std::optional<std::vector<std::string>> direct_offline(const Observed& o);

// Whether a control's failures at this target say it is down: always on an uncongested path;
// on a congested one only a failure that is not a timeout (a refusal, a reset, NXDOMAIN), since
// there a timeout, even at the re-test's low concurrency, may be the link's.
bool shows_down(const Observed& o, const Control& control);

// The query types a working control resolves, each with the first answer that shows it (the
// control half of every comparison rule 5 makes, so its evidence is shown whatever it finds).
std::vector<std::pair<std::string, std::string>> control_resolutions(const Observed& o);

// Rule 5, the DNS layer: what the direct path's own resolution shows, while control resolves.
// An answer that merely differs is not evidence (CDNs answer per path): only NXDOMAIN or no
// answer, a special-purpose or injected answer, or addresses that do not serve the target.
// A pure signal: the finding carries its own direct evidence, and the rule adds it.
std::optional<Finding> dns_evidence(const Observed& o);

// The layer a direct step's failure shows, or nullopt (a proxy's failure, a TCP failure IP
// blocking does not produce).
std::optional<Layer> layer_of(const Attempt& attempted);

// The direct HTTP step timed out with no response head, its connection silent for half the
// step or more: frozen (a censor that lets a connection carry so many bytes), not slow.
bool stalled_before_head(const EndpointObservation& endpoint);

// The finding of a layer from the direct endpoint whose confirmed failure shows it.
Finding describe(Layer layer, const EndpointObservation& endpoint, const Attempt& attempted);

// Why direct failing or differing while control works showed no layer of blocking.
std::string why_no_layer(const Observed& o);

}  // namespace probe::judging
