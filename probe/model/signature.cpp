#include "model/signature.hpp"

namespace probe {

std::string_view to_string(Signature signature) {
  switch (signature) {
  case Signature::nxdomain: return "nxdomain";
  case Signature::no_answer: return "no_answer";
  case Signature::bogon: return "bogon";
  case Signature::injected: return "injected";
  case Signature::answers_fail_tls: return "answers_fail_tls";
  case Signature::answers_fail: return "answers_fail";
  case Signature::timeout: return "timeout";
  case Signature::refused: return "refused";
  case Signature::reset: return "reset";
  case Signature::unreachable: return "unreachable";
  case Signature::residual: return "residual";
  case Signature::tls_reset: return "tls_reset";
  case Signature::tls_eof: return "tls_eof";
  case Signature::tls_timeout: return "tls_timeout";
  case Signature::tls_failure: return "tls_failure";
  case Signature::sni: return "sni";
  case Signature::mitm: return "mitm";
  case Signature::cert_invalid: return "cert_invalid";
  case Signature::http_failure: return "http_failure";
  case Signature::blockpage: return "blockpage";
  case Signature::http_differs: return "http_differs";
  case Signature::throttled: return "throttled";
  case Signature::stalled: return "stalled";
  case Signature::congested: return "congested";
  case Signature::interrupted: return "interrupted";
  }
  return "unknown";
}

std::optional<Signature> signature_from_string(std::string_view text) {
  for (Signature signature : k_all_signatures) {
    if (to_string(signature) == text) {
      return signature;
    }
  }
  return std::nullopt;
}

std::string_view layer_of(Signature signature) {
  switch (signature) {
  case Signature::nxdomain:
  case Signature::no_answer:
  case Signature::bogon:
  case Signature::injected:
  case Signature::answers_fail_tls:
  case Signature::answers_fail: return "dns";
  case Signature::timeout:
  case Signature::refused:
  case Signature::reset:
  case Signature::unreachable:
  case Signature::residual: return "tcp_ip";
  case Signature::tls_reset:
  case Signature::tls_eof:
  case Signature::tls_timeout:
  case Signature::tls_failure:
  case Signature::sni:
  case Signature::mitm:
  case Signature::cert_invalid: return "tls";
  case Signature::http_failure:
  case Signature::blockpage:
  case Signature::http_differs: return "http";
  case Signature::throttled:
  case Signature::stalled:
  case Signature::congested:
  case Signature::interrupted: return "";
  }
  return "";
}

bool refines(Signature signature) {
  switch (signature) {
  case Signature::residual:
  case Signature::sni:
  case Signature::mitm:
  case Signature::cert_invalid:
  case Signature::blockpage:
  case Signature::http_differs:
  case Signature::throttled:
  case Signature::stalled:
  case Signature::congested:
  case Signature::interrupted: return true;
  default: return false;
  }
}

}  // namespace probe
