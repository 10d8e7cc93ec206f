#include "verdict/facts.hpp"

#include <algorithm>
#include <array>
#include <vector>

#include "core/text.hpp"
#include "dns/bogon.hpp"
#include "model/steps.hpp"

namespace probe::judging {

namespace {

std::vector<std::string> title_words(const std::optional<std::string>& title) {
  std::vector<std::string> words;
  if (!title) {
    return words;
  }
  std::string word;
  for (char c : *title + " ") {
    if (c == ' ' || c == '\t') {
      if (word.size() >= 5) {
        words.push_back(lowercase(word));
      }
      word.clear();
    } else {
      word += c;
    }
  }
  return words;
}

bool has_title(const HttpObservation& http) { return http.title && !http.title->empty(); }

bool titles_match(const HttpObservation& direct, const HttpObservation& control) {
  if (!has_title(direct) && !has_title(control)) {
    return true;
  }
  if (!has_title(direct) || !has_title(control)) {
    return false;
  }
  const std::vector<std::string> ours = title_words(direct.title);
  const std::vector<std::string> theirs = title_words(control.title);
  return std::any_of(ours.begin(), ours.end(), [&](const std::string& word) {
    return std::find(theirs.begin(), theirs.end(), word) != theirs.end();
  });
}

bool body_lengths_match(const HttpObservation& direct, const HttpObservation& control) {
  if (direct.body_truncated || control.body_truncated || direct.body_length == 0 || control.body_length == 0) {
    return false;  // unknown: a cut body's length says nothing
  }
  const double small = static_cast<double>(std::min(direct.body_length, control.body_length));
  const double big = static_cast<double>(std::max(direct.body_length, control.body_length));
  return small / big > 0.7;
}

}  // namespace

bool uses_tls(Kind kind) { return kind == Kind::tls || kind == Kind::https; }

bool has_failure(const std::optional<FailureInfo>& failure, Failure code) { return failure && failure->code == code; }

bool is_address(const DnsAnswer& answer) { return answer.type == "A" || answer.type == "AAAA"; }

bool is_injection(const DnsQuery& query) { return query.resolver.starts_with("injection:"); }

bool is_system(const DnsQuery& query) { return query.resolver == "system" || query.resolver.starts_with("system:"); }

bool usable(const DnsQuery& query) {
  return !query.failure && std::any_of(query.answers.begin(), query.answers.end(), is_address);
}

bool is_network_failure(const std::optional<FailureInfo>& failure) {
  if (!failure) {
    return false;
  }
  switch (failure->code) {
    case Failure::generic_timeout_error:
    case Failure::network_unreachable:
    case Failure::host_unreachable:
    case Failure::connection_refused:
      return true;
    default:
      return false;
  }
}

bool is_ip_blocking_failure(const FailureInfo& failure) {
  switch (failure.code) {
    case Failure::generic_timeout_error:
    case Failure::connection_refused:
    case Failure::connection_reset:
    case Failure::host_unreachable:
    case Failure::network_unreachable:
      return true;
    default:
      return false;
  }
}

bool is_certificate_failure(const FailureInfo& failure) {
  return failure.code == Failure::ssl_invalid_hostname || failure.code == Failure::ssl_unknown_authority ||
         failure.code == Failure::ssl_invalid_certificate;
}

bool any_step_succeeded(const EndpointObservation& endpoint) {
  const std::vector<RecordedStep> steps = recorded_steps(endpoint);
  return std::any_of(steps.begin(), steps.end(), [](const RecordedStep& step) { return !step.timing->failure; });
}

bool responses_match(const HttpObservation& direct, const HttpObservation& control) {
  return direct.status == control.status && (body_lengths_match(direct, control) || titles_match(direct, control));
}

bool same_network(const std::string& a, const std::string& b) {
  const auto x = parse_address(a);
  const auto y = parse_address(b);
  if (!x || !y) {
    return a == b;
  }
  const auto is_v4 = [](const std::array<std::uint8_t, 16>& bytes) {
    return std::all_of(bytes.begin(), bytes.begin() + 10, [](std::uint8_t v) { return v == 0; }) && bytes[10] == 0xff &&
           bytes[11] == 0xff;
  };
  if (is_v4(*x) != is_v4(*y)) {
    return false;
  }
  const std::ptrdiff_t length = is_v4(*x) ? 15 : 6;
  return std::equal(x->begin(), x->begin() + length, y->begin());
}

Signature tcp_ip_signature(const FailureInfo& failure) {
  switch (failure.code) {
  case Failure::connection_refused: return Signature::refused;
  case Failure::connection_reset: return Signature::reset;
  case Failure::host_unreachable:
  case Failure::network_unreachable: return Signature::unreachable;
  default: return Signature::timeout;
  }
}

Signature tls_signature(const FailureInfo& failure) {
  switch (failure.code) {
  case Failure::connection_reset: return Signature::tls_reset;
  case Failure::eof_error: return Signature::tls_eof;
  case Failure::generic_timeout_error: return Signature::tls_timeout;
  default: return Signature::tls_failure;
  }
}

}  // namespace probe::judging
