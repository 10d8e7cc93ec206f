#include "verdict/evidence.hpp"

#include <algorithm>
#include <cstdio>

#include "verdict/facts.hpp"

namespace probe::judging {

namespace {

constexpr std::size_t k_max_evidence = 8;
constexpr std::size_t k_max_direct_evidence = 6;  // the rest is kept for what control saw

}  // namespace

void Evidence::direct(const std::vector<std::string>& lines) {
  for (const std::string& line : lines) {
    direct(line);
  }
}

std::vector<std::string> Evidence::lines() const {
  std::vector<std::string> out;
  const std::size_t control_room =
      std::min(m_control.size(), k_max_evidence - std::min(m_direct.size(), k_max_direct_evidence));
  const std::size_t direct_room = std::min(m_direct.size(), k_max_evidence - control_room);
  out.insert(out.end(), m_direct.begin(), m_direct.begin() + static_cast<std::ptrdiff_t>(direct_room));
  out.insert(out.end(), m_control.begin(), m_control.begin() + static_cast<std::ptrdiff_t>(control_room));
  return out;
}

void Evidence::add(std::vector<std::string>& to, std::string line) {
  if (std::find(to.begin(), to.end(), line) == to.end()) {
    to.push_back(std::move(line));
  }
}

Verdict make(Status status, std::string detail, const Evidence& evidence, std::vector<Signature> signatures) {
  Verdict verdict;
  verdict.status = status;
  verdict.detail = std::move(detail);
  verdict.evidence = evidence.lines();
  verdict.signatures = std::move(signatures);
  return verdict;
}

std::string address_port(const EndpointObservation& endpoint) {
  const bool v6 = endpoint.family == 6 || endpoint.address.find(':') != std::string::npos;
  return (v6 ? "[" + endpoint.address + "]" : endpoint.address) + ":" + std::to_string(endpoint.port);
}

std::string failure_text(const std::string& path, const EndpointObservation& endpoint, const Attempt& attempted,
                         bool direct) {
  std::string out = path + " " + address_port(endpoint) + " " + std::string(to_string(attempted.step)) + " " +
                    attempted.failure.str();
  if (!direct) {
    // A control step is re-tested only where the target timed out everywhere.
    return attempted.retest_failure ? out + " (re-test: " + attempted.retest_failure->str() + ")" : out;
  }
  if (attempted.retest_failure) {
    out += " (re-test: " + attempted.retest_failure->str() + ")";
  } else if (attempted.flaky) {
    out += " (re-test: ok)";
  } else {
    out += " (not re-tested)";
  }
  if (attempted.step == Step::tls && endpoint.decoy_tls) {
    out += endpoint.decoy_tls->failure ? "; decoy SNI " + endpoint.decoy_tls->failure->str() : "; decoy SNI ok";
  }
  if (endpoint.residual) {
    out += "; residual";
  }
  return out;
}

std::string success_text(const std::string& path, const EndpointObservation& endpoint, Kind kind) {
  std::string out = path + " " + address_port(endpoint) + " " + std::string(to_string(kind));
  if (endpoint.http && endpoint.http->status) {
    out += " " + std::to_string(*endpoint.http->status);
  } else {
    out += " ok";
  }
  return out;
}

std::string answer_text(const std::string& path, const DnsQuery& query, const std::string& note) {
  std::string out = path + " " + query.resolver + " " + query.type;
  std::vector<std::string> addresses;
  for (const DnsAnswer& answer : query.answers) {
    if (is_address(answer)) {
      addresses.push_back(answer.value);
    }
  }
  if (!addresses.empty()) {
    out += " ->";
    for (std::size_t i = 0; i < addresses.size() && i < 3; ++i) {
      out += (i == 0 ? " " : ", ") + addresses[i];
    }
    if (addresses.size() > 3) {
      out += ", ...";
    }
  }
  if (query.failure) {
    out += " " + query.failure->str();
  } else if (addresses.empty() && query.rcode) {
    out += " " + *query.rcode;
  }
  if (!note.empty()) {
    out += " (" + note + ")";
  }
  return out;
}

std::string kbps(double bytes_per_second) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f KiB/s", bytes_per_second / 1024.0);
  return text;
}

std::string rate_text(const RateSample& sample) {
  return std::to_string(sample.bytes) + " bytes in " + std::to_string(static_cast<long>(sample.duration_ms)) +
         " ms (" + (sample.rate ? kbps(*sample.rate) : std::string("not timed")) + ")";
}

std::string key_text(const ThroughputObservation& ours) {
  std::string out;
  if (ours.handshake && ours.decoy_handshake) {
    const auto one = [](const RateSample& hs) {
      return hs.failure ? hs.failure->str() : std::to_string(static_cast<long>(hs.duration_ms)) + " ms";
    };
    out += "; handshake " + one(*ours.handshake) + ", decoy name's " + one(*ours.decoy_handshake);
  }
  if (ours.decoy_sample) {
    out += "; decoy name's body " + rate_text(*ours.decoy_sample);
  }
  return out;
}

}  // namespace probe::judging
