#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace probe {

// The closed vocabulary of step failures. The strings are OONI's (df-007) so that our data lines
// up with theirs; they are part of the report contract and never change meaning.
enum class Failure {
  generic_timeout_error,
  connection_refused,
  connection_reset,
  host_unreachable,
  network_unreachable,
  eof_error,
  dns_nxdomain_error,
  dns_no_answer,
  dns_servfail_error,
  dns_refused_error,
  dns_bogon_error,
  ssl_invalid_hostname,
  ssl_unknown_authority,
  ssl_invalid_certificate,
  ssl_failed_handshake,
  proxy_error,
  interrupted,      // the run was stopped while the step was in flight: never evidence of blocking
  unknown_failure,  // always written with a detail: "unknown_failure: <detail>"
};

inline constexpr Failure k_all_failures[] = {
    Failure::generic_timeout_error, Failure::connection_refused,  Failure::connection_reset,
    Failure::host_unreachable,      Failure::network_unreachable, Failure::eof_error,
    Failure::dns_nxdomain_error,    Failure::dns_no_answer,       Failure::dns_servfail_error,
    Failure::dns_refused_error,     Failure::dns_bogon_error,     Failure::ssl_invalid_hostname,
    Failure::ssl_unknown_authority, Failure::ssl_invalid_certificate,
    Failure::ssl_failed_handshake,  Failure::proxy_error,         Failure::interrupted,
    Failure::unknown_failure,
};

std::string_view to_string(Failure failure);

// Foreign error spaces (errno, SOCKS, CONNECT, curl, c-ares) map to failures in net/classify.hpp.
std::optional<Failure> failure_from_string(std::string_view text);

// A failure as recorded: the code, plus a detail for unknown_failure.
struct FailureInfo {
  Failure code = Failure::unknown_failure;
  std::string detail;  // only meaningful for unknown_failure

  // "connection_reset", or "unknown_failure: <detail>".
  std::string str() const;
};

}  // namespace probe
