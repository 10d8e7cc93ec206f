#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/failure.hpp"
#include "core/target.hpp"
#include "model/signature.hpp"

// What a measurement is: the observations a run makes of a target over each path, and the verdict
// judged from them. Plain values; the engine fills them, verdict/ reads them, report/ writes them
// as the JSON contract documented in reports/README.md (checked by reports/schema.json), and the
// CLI and analyst/ read them back. Strings that come from the network may hold any bytes.
namespace probe {

// The report's schema_version: the one constant the writer puts in every report and readers
// compare with.
inline constexpr int k_schema_version = 2;

struct DnsAnswer {
  std::string type;   // "A", "AAAA", "CNAME"
  std::string value;  // address or name
  std::uint32_t ttl = 0;
  bool bogon = false;  // private, loopback, link-local or reserved address
};

struct DnsQuery {
  std::string resolver;  // "system", or "ADDR:PORT"
  std::string type;      // "A" or "AAAA"
  std::optional<std::string> rcode;  // "NOERROR", "NXDOMAIN", ...; nullopt when no reply came
  std::vector<DnsAnswer> answers;
  std::vector<std::string> cname_chain;
  bool answers_truncated = false;  // the reply held more records than a query keeps (dns/resolver.hpp)
  std::optional<FailureInfo> failure;
  double t0_ms = 0;        // start, relative to the run's start
  double duration_ms = 0;
  std::string raw_base64;  // the raw reply, capped
  bool raw_truncated = false;
};

// What every step records: failure (nullopt = success), when it started and how long it took.
struct StepTiming {
  std::optional<FailureInfo> failure;
  double t0_ms = 0;
  double duration_ms = 0;
};

struct TcpObservation : StepTiming {};

struct CertificateInfo {
  std::string subject;
  std::string issuer;
  std::string sha256;
  // The certificate's DER, standard padded base64; empty when not kept (a report over its
  // certificates' cap, or one written before certificates were kept). A report stores each
  // distinct certificate once, in its top-level `certificates`, keyed by `sha256`.
  std::string der_base64;
};

struct TlsObservation : StepTiming {
  std::string sni;
  bool decoy_sni = false;  // a handshake with an unrelated SNI, to detect SNI filtering
  std::optional<std::string> version;
  std::optional<std::string> cipher;
  std::optional<std::string> alpn;
  bool verified = false;
  std::optional<std::string> verify_error;
  // The connection's bytes on the wire (TCP payload, TLS records included), on the step that
  // ended it: here for a handshake-only step (tls targets, the decoy), on `http` otherwise.
  std::optional<std::uint64_t> bytes_received;
  std::optional<std::uint64_t> bytes_sent;
  // On a step that timed out: how long its connection had then received nothing (TCP_INFO). Long
  // (half the step or more) is a connection that stalled; short, one that still trickled.
  std::optional<double> idle_ms;
  std::vector<CertificateInfo> chain;
  std::optional<std::string> root;  // subject of the trust anchor the chain ended at
};

struct HttpObservation : StepTiming {
  std::optional<int> status;
  std::vector<std::pair<std::string, std::string>> headers;  // capped in number and size
  bool headers_truncated = false;  // headers were left out or cut (steps/tls_http.hpp)
  std::optional<std::string> title;
  std::uint64_t body_length = 0;
  std::optional<std::string> body_sha256;
  bool body_truncated = false;
  // Why the body read ended (once the head arrived): "complete" (the server's end), "window" (an
  // HTTPS page read as far as its title, on purpose), "cap" (the body cap), "timeout" (still
  // trickling when the time ran out), "stalled" (timed out after receiving nothing for the second
  // half of the step or more: see stalled()), "error" (the connection broke).
  std::optional<std::string> body_stop;
  std::uint64_t bytes = 0;
  std::optional<std::uint64_t> bytes_received;  // the connection's, on the wire (see TlsObservation)
  std::optional<std::uint64_t> bytes_sent;
  std::optional<double> idle_ms;  // as TlsObservation's, on a step that timed out
  std::optional<std::string> location;  // a redirect's target: recorded, never followed
};

// A step that timed out after its connection had received nothing for half the step or more:
// frozen, not slow (a slow link or a throttle keeps a trickle coming).
inline bool stalled(const StepTiming& step, const std::optional<double>& idle_ms) {
  return idle_ms && step.duration_ms > 0 && *idle_ms * 2 >= step.duration_ms;
}


// The one re-test of a direct step that failed, run after every first attempt, at low
// concurrency: flaky networks are not censors, so a failure that does not repeat is not blocking.
struct RetestObservation : StepTiming {
  std::string step;  // "tcp", "tls", "http" or "stun": the step that failed the first time
  // The time it was given: the step's timeout, or twice what the slowest control path took to get
  // through the same step at the same address, whichever is longer (for http, of the whole
  // transfer). A slow direct path is not judged by a shorter clock than control's.
  std::optional<double> budget_ms;
};

// One timed read of the throughput phase (engine.cpp): a sample of a body, or a handshake alone.
// `bytes`: body bytes read (a sample) or the connection's bytes received (a handshake); `rate`:
// bytes per second over `duration_ms`, or nullopt when the read was too short to time.
struct RateSample : StepTiming {
  std::uint64_t bytes = 0;
  std::optional<std::string> body_stop;  // a sample's, as HttpObservation's
  std::optional<double> rate;
};

// The throughput phase's record of one endpoint on one path, for a target whose transfers on
// direct looked throttled or stalled (a suspect; engine.cpp says when). On every path a sample of
// the body; on direct also the server's handshake flight timed for the real name and for the
// decoy name, and a sample of the body asked for under the decoy name: a throttle or a freeze
// that keys on the name spares the decoy, one that keys on the address does not.
struct ThroughputObservation {
  std::optional<std::string> not_tested;  // why the sample could not be timed (a body too small)
  std::optional<RateSample> sample;
  std::optional<RateSample> handshake;        // direct, tls and https targets
  std::optional<RateSample> decoy_handshake;  // direct, tls and https targets
  std::optional<RateSample> decoy_sample;     // direct
};

struct EndpointObservation {
  std::string address;  // IP literal
  std::uint16_t port = 0;
  int family = 4;                    // 4 or 6
  std::vector<std::string> sources;  // names of the paths whose DNS gave this address
  std::optional<std::string> not_tested;  // why no step was attempted (neither success nor failure)
  std::optional<TcpObservation> tcp;
  std::optional<TlsObservation> tls;
  std::optional<HttpObservation> http;
  std::optional<StepTiming> stun;  // stun targets: a Binding Request over UDP
  // Direct path, tls/https targets: a handshake naming an unrelated host, run after TCP and
  // before the real one (so that blocking triggered by the real name cannot spoil it). It
  // succeeding while the real one fails is the signature of SNI filtering.
  std::optional<TlsObservation> decoy_tls;
  std::optional<RetestObservation> retest;
  std::optional<ThroughputObservation> throughput;  // suspects only (schema_version 2)
  // The TCP step failed on an address:port where a TLS handshake had been reset, cut or dropped
  // earlier in the run: possibly the censor's residual blocking after a trigger, so not evidence
  // of IP blocking for this target on its own.
  bool residual = false;
};

struct PathObservations {
  std::vector<DnsQuery> queries;
  std::vector<EndpointObservation> endpoints;
};

// `restricted` (schema_version 2): the target works over direct, but there its transfers stall
// (or are throttled) while control's complete.
enum class Status { accessible, blocked, anomaly, down, inconclusive, restricted };
inline constexpr Status k_all_statuses[] = {Status::accessible, Status::blocked,      Status::anomaly,
                                            Status::down,       Status::inconclusive, Status::restricted};
std::string_view to_string(Status status);

struct Verdict {
  Status status = Status::inconclusive;
  std::optional<std::string> method;  // "dns", "tcp_ip", "tls", "http"
  std::vector<std::string> methods;   // every layer where blocking was seen
  std::string detail;
  std::vector<std::string> evidence;
  // What kind of evidence decided it, from a closed vocabulary (model/signature.hpp), in the
  // order the rules found it. Empty in schema_version 1 reports.
  std::vector<Signature> signatures;
};

struct TargetResult {
  Target target;
  std::map<std::string, PathObservations> paths;  // keyed by path name: "direct", "control", ...
  std::optional<Verdict> verdict;  // nullopt until the verdict stage has judged the target
};

// Congestion on a path, as the engine measures it (engine.cpp says when): the first phase's
// connection steps (tcp, tls, http, stun) that finished and those that timed out, which together
// may make the path `overrun`; the timed-out steps re-tested and those re-tests that got through,
// which may then make an overrun path `congested`.
struct PathCongestion {
  std::size_t steps = 0;
  std::size_t timeouts = 0;
  bool overrun = false;
  std::size_t retested = 0;
  std::size_t recovered = 0;
  bool congested = false;
};

struct PathInfo {
  std::string name;    // "direct", "control", "control-2", ...
  std::string kind;    // "direct", "socks5", "socks5h", "http_proxy", "interface"
  std::string health;  // "healthy", "unhealthy", "unchecked"
  std::optional<std::string> egress;  // interface the path leaves by
  std::string detail;  // the proxy URL or iface:NAME; never credentials
  std::optional<std::string> check_failure;  // the start-up check's failure string
  std::size_t successes = 0;  // DNS answers and steps that succeeded over the path
  PathCongestion congestion;
};

struct Vantage {
  std::optional<std::string> id;   // user-chosen label
  std::optional<std::string> asn;  // "AS64500"
  std::optional<std::string> cc;   // ISO 3166-1 alpha-2
};

}  // namespace probe
