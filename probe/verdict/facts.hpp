#pragma once

#include <optional>
#include <string>

#include "model/observations.hpp"
#include "model/signature.hpp"

// What one observation says by itself, before any comparison: the small predicates the verdict's
// index, signals and rules share. Pure functions of their arguments.
namespace probe::judging {

bool uses_tls(Kind kind);
bool has_failure(const std::optional<FailureInfo>& failure, Failure code);
bool is_address(const DnsAnswer& answer);
bool is_injection(const DnsQuery& query);  // the injection probe's query
bool is_system(const DnsQuery& query);     // the system resolver's
// A query that answered with at least one address and no failure.
bool usable(const DnsQuery& query);
// Failures that say the network in front of the probe is missing, not that something refused.
bool is_network_failure(const std::optional<FailureInfo>& failure);
// TCP failures that IP blocking produces: a dropped SYN, an RST, an ICMP unreachable.
bool is_ip_blocking_failure(const FailureInfo& failure);
bool is_certificate_failure(const FailureInfo& failure);
bool any_step_succeeded(const EndpointObservation& endpoint);
// OONI Web Connectivity's comparison of a plain-HTTP response with the control's: the status
// codes agree, and then the body lengths are within 70% of each other or the titles share a
// word of five characters or more (headers are not compared here).
bool responses_match(const HttpObservation& direct, const HttpObservation& control);
// Same /24 (IPv4) or /48 (IPv6): CDNs answer with neighbouring addresses on different paths.
bool same_network(const std::string& a, const std::string& b);
// The signature of a step's failure at its layer: what a TCP connect or STUN request met, or how
// a TLS handshake ended.
Signature tcp_ip_signature(const FailureInfo& failure);
Signature tls_signature(const FailureInfo& failure);

}  // namespace probe::judging
