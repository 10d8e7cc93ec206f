#pragma once

#include <string>
#include <vector>

#include "model/observations.hpp"
#include "model/signature.hpp"
#include "model/steps.hpp"

// How the verdict shows what it saw: evidence lines for people (bounded, direct's first, then
// what control saw), and the findings a signal returns (its prose, its signatures and the direct
// lines that show it), so that a signal never writes evidence as a side effect.
namespace probe::judging {

class Evidence {
public:
  void direct(std::string line) { add(m_direct, std::move(line)); }
  void control(std::string line) { add(m_control, std::move(line)); }
  void direct(const std::vector<std::string>& lines);

  // At most 8 lines: direct's (up to 6 when control has some), then control's.
  std::vector<std::string> lines() const;

private:
  static void add(std::vector<std::string>& to, std::string line);
  std::vector<std::string> m_direct;
  std::vector<std::string> m_control;
};

// What a layer of blocking showed: the prose for people, the signatures for analysts, and the
// direct observations that show it (a rule that decides on the finding adds them).
struct Finding {
  Finding(std::string what, std::vector<Signature> kinds, std::vector<std::string> shown = {})
      : detail(std::move(what)), signatures(std::move(kinds)), evidence(std::move(shown)) {}
  std::string detail;
  std::vector<Signature> signatures;
  std::vector<std::string> evidence;
};

Verdict make(Status status, std::string detail, const Evidence& evidence, std::vector<Signature> signatures = {});

// "10.0.0.1:443", "[2001:db8::1]:443"
std::string address_port(const EndpointObservation& endpoint);
// "direct 10.0.0.1:443 tls connection_reset (re-test: connection_reset); decoy SNI ok". A control
// endpoint (`direct` false) shows its re-test only where it had one.
std::string failure_text(const std::string& path, const EndpointObservation& endpoint, const Attempt& attempted,
                         bool direct = true);
// "control 10.0.0.1:443 https 200"
std::string success_text(const std::string& path, const EndpointObservation& endpoint, Kind kind);
// "direct system A -> 10.0.0.1, 10.0.0.2 (note)", or the query's failure or rcode.
std::string answer_text(const std::string& path, const DnsQuery& query, const std::string& note = "");
// "12.5 KiB/s"; "65536 bytes in 5000 ms (12.8 KiB/s)"; a throughput sample's handshakes and
// decoy body, as "; handshake 40 ms, decoy name's 10 ms; decoy name's body ...".
std::string kbps(double bytes_per_second);
std::string rate_text(const RateSample& sample);
std::string key_text(const ThroughputObservation& ours);

}  // namespace probe::judging
