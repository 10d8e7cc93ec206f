#include "core/failure.hpp"

namespace probe {

std::string_view to_string(Failure failure) {
  switch (failure) {
  case Failure::generic_timeout_error: return "generic_timeout_error";
  case Failure::connection_refused: return "connection_refused";
  case Failure::connection_reset: return "connection_reset";
  case Failure::host_unreachable: return "host_unreachable";
  case Failure::network_unreachable: return "network_unreachable";
  case Failure::eof_error: return "eof_error";
  case Failure::dns_nxdomain_error: return "dns_nxdomain_error";
  case Failure::dns_no_answer: return "dns_no_answer";
  case Failure::dns_servfail_error: return "dns_servfail_error";
  case Failure::dns_refused_error: return "dns_refused_error";
  case Failure::dns_bogon_error: return "dns_bogon_error";
  case Failure::ssl_invalid_hostname: return "ssl_invalid_hostname";
  case Failure::ssl_unknown_authority: return "ssl_unknown_authority";
  case Failure::ssl_invalid_certificate: return "ssl_invalid_certificate";
  case Failure::ssl_failed_handshake: return "ssl_failed_handshake";
  case Failure::proxy_error: return "proxy_error";
  case Failure::interrupted: return "interrupted";
  case Failure::unknown_failure: return "unknown_failure";
  }
  return "unknown_failure";
}

std::optional<Failure> failure_from_string(std::string_view text) {
  for (Failure failure : k_all_failures) {
    if (to_string(failure) == text) {
      return failure;
    }
  }
  return std::nullopt;
}

std::string FailureInfo::str() const {
  std::string out(to_string(code));
  if (code == Failure::unknown_failure) {
    out += ": ";
    out += detail.empty() ? std::string("no detail") : detail;
  }
  return out;
}

}  // namespace probe
