#pragma once

#include <optional>
#include <string_view>

// What kind of evidence a verdict rests on, as data: a closed vocabulary with one meaning per
// value, so that analysts select "SNI filtering" or "DNS injection" without parsing the verdict's
// prose. The strings are part of the report contract (reports/README.md, reports/schema.json):
// a value is added with a test and a line in the README, and never changes meaning.
namespace probe {

enum class Signature {
  // dns: what the direct path's own resolution showed while a healthy control resolved
  nxdomain,          // the direct resolver said the name does not exist
  no_answer,         // the direct resolver answered without an address
  bogon,             // a special-purpose address (private, loopback, reserved) in a direct answer
  injected,          // a query to an address that runs no DNS server was answered
  answers_fail_tls,  // direct's addresses give no valid TLS for the name where control's work
  answers_fail,      // direct's addresses fail over control too (kinds without TLS)
  // tcp_ip: connecting to an address that works over control
  timeout,      // the SYN (or STUN's request) went unanswered
  refused,      // an RST to the SYN
  reset,        // the connection was reset
  unreachable,  // an ICMP host or network unreachable
  residual,     // TCP fails where a TLS handshake was cut earlier in the run (a censor's memory)
  // tls: the handshake, after TCP worked
  tls_reset,     // reset after the ClientHello
  tls_eof,       // closed after the ClientHello
  tls_timeout,   // no answer to the ClientHello
  tls_failure,   // any other handshake failure
  sni,           // a handshake naming a decoy host passes where the real name's fails
  mitm,          // the chain validates on direct under another root than over control
  cert_invalid,  // the certificate fails validation on direct only
  // http: the request, after the connection (and TLS) worked
  http_failure,  // the request fails while control gets a response
  blockpage,     // a known blockpage
  http_differs,  // a plain-HTTP response unlike control's
  // transfer: how the data flowed (no layer of its own)
  throttled,  // direct's body came at under a quarter of control's rate
  stalled,    // a direct transfer froze and received nothing more
  congested,  // it failed everywhere, but only by timeouts on congested paths
  // the run
  interrupted,  // the run stopped before the target's measurement finished: no evidence either way
};

inline constexpr Signature k_all_signatures[] = {
    Signature::nxdomain,     Signature::no_answer, Signature::bogon,        Signature::injected,
    Signature::answers_fail_tls, Signature::answers_fail, Signature::timeout, Signature::refused,
    Signature::reset,        Signature::unreachable, Signature::residual,   Signature::tls_reset,
    Signature::tls_eof,      Signature::tls_timeout, Signature::tls_failure, Signature::sni,
    Signature::mitm,         Signature::cert_invalid, Signature::http_failure, Signature::blockpage,
    Signature::http_differs, Signature::throttled, Signature::stalled,      Signature::congested,
    Signature::interrupted,
};

std::string_view to_string(Signature signature);
std::optional<Signature> signature_from_string(std::string_view text);

// The layer a signature belongs to, as a verdict's `method` names it ("dns", "tcp_ip", "tls",
// "http"), or "" for how a transfer flowed (throttled, stalled, congested) and for `interrupted`.
std::string_view layer_of(Signature signature);

// Whether it names how a layer blocked beyond the failure it saw: sni beside tls_reset, residual
// beside timeout. The run's table shows such a signature before the plain ones.
bool refines(Signature signature);

}  // namespace probe
