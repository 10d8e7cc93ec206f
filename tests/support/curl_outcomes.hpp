#pragma once

#include <string>

#include "dns/doh_resolver.hpp"

namespace probe::test {

// What curl would report for a failed DoH transfer, for classification tests: the code, the
// proxy's scheme ("" without a proxy) and whichever of the rest the case needs.
struct DohFailureSpec {
  long proxy_code = 0;
  long connect_code = 0;
  std::string connect_reason;
  long os_errno = 0;
  long verify_result = 0;
  std::string error_text;
};

inline CurlFailure doh_outcome(int code, std::string proxy_scheme, const DohFailureSpec& spec = DohFailureSpec()) {
  CurlFailure outcome;
  outcome.code = code;
  outcome.proxy_scheme = std::move(proxy_scheme);
  outcome.proxy_code = spec.proxy_code;
  outcome.connect_code = spec.connect_code;
  outcome.connect_reason = spec.connect_reason;
  outcome.os_errno = spec.os_errno;
  outcome.verify_result = spec.verify_result;
  outcome.error_text = spec.error_text;
  return outcome;
}

}  // namespace probe::test
