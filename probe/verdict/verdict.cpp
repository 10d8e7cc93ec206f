#include "verdict/verdict.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <optional>
#include <set>
#include <string_view>

#include "core/text.hpp"
#include "dns/bogon.hpp"
#include "model/steps.hpp"
#include "verdict/blockpages.hpp"

namespace probe {

namespace {

constexpr std::size_t k_max_evidence = 8;
constexpr std::size_t k_max_direct_evidence = 6;  // the rest is kept for what control saw

// The layers of blocking, in the order `method` picks the first of.
enum Layer : std::size_t { dns_layer, tcp_ip_layer, tls_layer, http_layer, layer_count };
constexpr std::array<std::string_view, layer_count> k_layer_names{"dns", "tcp_ip", "tls", "http"};

bool uses_tls(Kind kind) { return kind == Kind::tls || kind == Kind::https; }

bool has_failure(const std::optional<FailureInfo>& failure, Failure code) { return failure && failure->code == code; }

bool is_address(const DnsAnswer& answer) { return answer.type == "A" || answer.type == "AAAA"; }

bool is_injection(const DnsQuery& query) { return query.resolver.starts_with("injection:"); }

bool is_system(const DnsQuery& query) { return query.resolver == "system" || query.resolver.starts_with("system:"); }

// A query that answered with at least one address and no failure.
bool usable(const DnsQuery& query) {
  return !query.failure && std::any_of(query.answers.begin(), query.answers.end(), is_address);
}

// Failures that say the network in front of the probe is missing, not that something refused.
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

// TCP failures that IP blocking produces: a dropped SYN, an RST, an ICMP unreachable.
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

std::string address_port(const EndpointObservation& endpoint) {
  const bool v6 = endpoint.family == 6 || endpoint.address.find(':') != std::string::npos;
  return (v6 ? "[" + endpoint.address + "]" : endpoint.address) + ":" + std::to_string(endpoint.port);
}

bool any_step_succeeded(const EndpointObservation& endpoint) {
  const std::vector<RecordedStep> steps = recorded_steps(endpoint);
  return std::any_of(steps.begin(), steps.end(), [](const RecordedStep& step) { return !step.timing->failure; });
}

// "direct 10.0.0.1:443 tls connection_reset (re-test: connection_reset); decoy SNI ok"
std::string failure_text(const std::string& path, const EndpointObservation& endpoint, const Attempt& attempted,
                         bool direct = true) {
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

// "control 10.0.0.1:443 https 200"
std::string success_text(const std::string& path, const EndpointObservation& endpoint, Kind kind) {
  std::string out = path + " " + address_port(endpoint) + " " + std::string(to_string(kind));
  if (endpoint.http && endpoint.http->status) {
    out += " " + std::to_string(*endpoint.http->status);
  } else {
    out += " ok";
  }
  return out;
}

std::string answer_text(const std::string& path, const DnsQuery& query, const std::string& note = "") {
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

// OONI Web Connectivity's comparison of a plain-HTTP response with the control's: the status
// codes agree, and then the body lengths are within 70% of each other or the titles share a
// word of five characters or more (headers are not compared here).
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

bool responses_match(const HttpObservation& direct, const HttpObservation& control) {
  return direct.status == control.status && (body_lengths_match(direct, control) || titles_match(direct, control));
}

// Same /24 (IPv4) or /48 (IPv6): CDNs answer with neighbouring addresses on different paths.
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

class Evidence {
public:
  void direct(std::string line) { add(m_direct, std::move(line)); }
  void control(std::string line) { add(m_control, std::move(line)); }

  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    const std::size_t control_room =
        std::min(m_control.size(), k_max_evidence - std::min(m_direct.size(), k_max_direct_evidence));
    const std::size_t direct_room = std::min(m_direct.size(), k_max_evidence - control_room);
    out.insert(out.end(), m_direct.begin(), m_direct.begin() + static_cast<std::ptrdiff_t>(direct_room));
    out.insert(out.end(), m_control.begin(), m_control.begin() + static_cast<std::ptrdiff_t>(control_room));
    return out;
  }

private:
  static void add(std::vector<std::string>& to, std::string line) {
    if (std::find(to.begin(), to.end(), line) == to.end()) {
      to.push_back(std::move(line));
    }
  }
  std::vector<std::string> m_direct;
  std::vector<std::string> m_control;
};

enum class ControlState {
  works,   // the target's steps (or, for dns targets, its DNS) succeed over it
  fails,   // it reached the target's name or addresses and failed there
  silent,  // it says nothing about this target: only proxy_error, or nothing it could test
};

struct Control {
  std::string name;
  const PathObservations* observations = nullptr;
  ControlState state = ControlState::silent;
  bool congested = false;
};

Verdict make(Status status, std::string detail, const Evidence& evidence, std::vector<Signature> signatures = {}) {
  Verdict verdict;
  verdict.status = status;
  verdict.detail = std::move(detail);
  verdict.evidence = evidence.lines();
  verdict.signatures = std::move(signatures);
  return verdict;
}

// What a layer of blocking showed: the prose for people, the signatures for analysts, and the
// direct observations that show it (a rule that decides on the finding adds them).
struct Finding {
  Finding(std::string what, std::vector<Signature> kinds, std::vector<std::string> shown = {})
      : detail(std::move(what)), signatures(std::move(kinds)), evidence(std::move(shown)) {}
  std::string detail;
  std::vector<Signature> signatures;
  std::vector<std::string> evidence;
};

// The signature of a step's failure at its layer: what a TCP connect or STUN request met, or how
// a TLS handshake ended.
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

class Judge {
public:
  Judge(const TargetResult& result, const std::vector<PathStatus>& paths)
      : m_result(result), m_target(result.target), m_kind(result.target.kind) {
    for (const PathStatus& path : paths) {
      if (!path.control) {
        m_direct_name = path.name;
        break;
      }
    }
    if (const auto found = result.paths.find(m_direct_name); found != result.paths.end()) {
      m_direct = &found->second;
    }
    for (const PathStatus& path : paths) {
      if (path.congested) {
        m_congested.push_back(path.name);
      }
      const auto found = result.paths.find(path.name);
      if (!path.control || !path.healthy || found == result.paths.end()) {
        continue;
      }
      Control control{path.name, &found->second, classify(found->second), path.congested};
      if (control.state != ControlState::silent) {
        m_controls.push_back(control);
      } else {
        m_silent_controls = true;
      }
    }
    find_good_addresses();
  }

  Verdict run(bool interrupted) {
    if (interrupted || interrupted_anywhere()) {
      return make(Status::inconclusive, "interrupted", m_evidence, {Signature::interrupted});
    }
    if (std::optional<Verdict> accessible = direct_works()) {
      return *accessible;
    }
    if (m_controls.empty()) {
      return without_control();
    }
    if (std::none_of(m_controls.begin(), m_controls.end(),
                     [](const Control& control) { return control.state == ControlState::works; })) {
      return down();
    }
    return compare();
  }

private:
  // Rule 1: a step or query cut short by the end of the run is no evidence of anything.
  bool interrupted_anywhere() {
    const auto cut = [](const std::optional<FailureInfo>& failure) {
      return has_failure(failure, Failure::interrupted);
    };
    for (const auto& [name, path] : m_result.paths) {
      const auto note = [&](std::string line) {
        name == m_direct_name ? m_evidence.direct(std::move(line)) : m_evidence.control(std::move(line));
      };
      for (const DnsQuery& query : path.queries) {
        if (cut(query.failure)) {
          note(answer_text(name, query));
          return true;
        }
      }
      for (const EndpointObservation& endpoint : path.endpoints) {
        const bool any = (endpoint.tcp && cut(endpoint.tcp->failure)) || (endpoint.tls && cut(endpoint.tls->failure)) ||
                         (endpoint.http && cut(endpoint.http->failure)) ||
                         (endpoint.stun && cut(endpoint.stun->failure)) ||
                         (endpoint.decoy_tls && cut(endpoint.decoy_tls->failure)) ||
                         (endpoint.retest && cut(endpoint.retest->failure));
        if (any) {
          note(name + " " + address_port(endpoint) + " interrupted");
          return true;
        }
      }
    }
    return false;
  }

  ControlState classify(const PathObservations& path) const {
    bool any_usable = false;
    bool dns_failed_at_target = false;
    for (const DnsQuery& query : path.queries) {
      any_usable = any_usable || usable(query);
      if (query.failure && query.failure->code != Failure::proxy_error) {
        dns_failed_at_target = true;
      }
    }
    dns_failed_at_target = dns_failed_at_target && !any_usable;
    if (m_kind == Kind::dns) {
      return any_usable ? ControlState::works : dns_failed_at_target ? ControlState::fails : ControlState::silent;
    }
    bool tested_failure = false;
    for (const EndpointObservation& endpoint : path.endpoints) {
      const Attempt attempted = read_attempt(endpoint, m_kind);
      if (attempted.outcome == Outcome::works) {
        return ControlState::works;
      }
      if (attempted.outcome == Outcome::failed && attempted.failure.code != Failure::proxy_error) {
        tested_failure = true;
      }
    }
    return tested_failure || dns_failed_at_target ? ControlState::fails : ControlState::silent;
  }

  const PathObservations& direct() const {
    static const PathObservations empty;
    return m_direct != nullptr ? *m_direct : empty;
  }

  bool ip_literal() const { return parse_address(m_target.host).has_value(); }

  // The direct path's own resolution: the system resolver's queries, or, when it has none
  // (--no-system-resolver), every other direct query but the injection probe.
  std::vector<const DnsQuery*> own_queries() const {
    std::vector<const DnsQuery*> system;
    std::vector<const DnsQuery*> others;
    for (const DnsQuery& query : direct().queries) {
      if (is_system(query)) {
        system.push_back(&query);
      } else if (!is_injection(query)) {
        others.push_back(&query);
      }
    }
    return system.empty() ? others : system;
  }

  std::set<std::string> own_addresses() const {
    std::set<std::string> out;
    if (ip_literal()) {
      out.insert(m_target.host);
      return out;
    }
    for (const DnsQuery* query : own_queries()) {
      for (const DnsAnswer& answer : query->answers) {
        if (is_address(answer)) {
          out.insert(answer.value);
        }
      }
    }
    return out;
  }

  static const EndpointObservation* endpoint_at(const PathObservations& path, const std::string& address) {
    for (const EndpointObservation& endpoint : path.endpoints) {
      if (endpoint.address == address) {
        return &endpoint;
      }
    }
    return nullptr;
  }

  // A good address serves the target: a real-name TLS handshake with a valid certificate
  // succeeded there on any path (as OONI decides), or, for kinds without TLS, the kind's steps
  // succeeded there over a healthy control path, with no known blockpage and (plain HTTP) a
  // response like the one control gets from its own addresses.
  void find_good_addresses() {
    if (uses_tls(m_kind)) {
      for (const auto& [name, path] : m_result.paths) {
        for (const EndpointObservation& endpoint : path.endpoints) {
          const bool valid = endpoint.tls && !endpoint.tls->failure && endpoint.tls->verified;
          const bool retest_valid = endpoint.retest && endpoint.retest->step == "tls" && !endpoint.retest->failure;
          if (valid || retest_valid) {
            m_good.insert(endpoint.address);
          }
        }
      }
      return;
    }
    m_references = find_references();
    for (const Control& control : m_controls) {
      for (const EndpointObservation& endpoint : control.observations->endpoints) {
        if (read_attempt(endpoint, m_kind).outcome != Outcome::works) {
          continue;
        }
        if (m_kind == Kind::http && endpoint.http &&
            (find_blockpage(*endpoint.http) ||
             (!m_target.any_response && endpoint.http->status && !matches_reference(*endpoint.http)))) {
          continue;
        }
        m_good.insert(endpoint.address);
      }
    }
  }

  // The addresses a control's own DNS gave (for an IP-literal host, the host).
  std::set<std::string> control_addresses(const Control& control) const {
    std::set<std::string> out;
    if (ip_literal()) {
      out.insert(m_target.host);
    }
    for (const DnsQuery& query : control.observations->queries) {
      if (!usable(query)) {
        continue;
      }
      for (const DnsAnswer& answer : query.answers) {
        if (is_address(answer)) {
          out.insert(answer.value);
        }
      }
    }
    return out;
  }

  // The plain-HTTP responses a direct response is compared with: what healthy controls got from
  // the addresses their own DNS gave, as OONI's control fetches the URL with its own resolution
  // (so a censor's blockpage server in direct's answers is never a reference). A 5xx is a
  // server's trouble, not a reference page.
  std::vector<const HttpObservation*> find_references() const {
    std::vector<const HttpObservation*> out;
    if (m_kind != Kind::http) {
      return out;
    }
    for (const Control& control : m_controls) {
      const std::set<std::string> own = control_addresses(control);
      for (const EndpointObservation& endpoint : control.observations->endpoints) {
        const bool reference = (own.empty() || own.count(endpoint.address) > 0) && endpoint.http &&
                               !endpoint.http->failure && endpoint.http->status && *endpoint.http->status < 500 &&
                               !find_blockpage(*endpoint.http);
        if (reference) {
          out.push_back(&*endpoint.http);
        }
      }
    }
    return out;
  }

  // No reference means nothing to compare with: a response is then taken as the site's.
  bool matches_reference(const HttpObservation& http) const {
    return m_references.empty() ||
           std::any_of(m_references.begin(), m_references.end(),
                       [&](const HttpObservation* control) { return responses_match(http, *control); });
  }

  bool good(const std::string& address) const { return m_good.count(address) > 0; }

  // In the same /24 or /48 as a good address: most likely another edge of the same operator, down
  // or overloaded where direct's resolver points, rather than an address a censor made up.
  bool near_good(const std::string& address) const {
    return std::any_of(m_good.begin(), m_good.end(),
                       [&](const std::string& other) { return same_network(address, other); });
  }

  // The healthy control endpoint at this address that works, if any: the reference a direct
  // endpoint is compared with.
  const EndpointObservation* working_control_at(const std::string& address, std::string* path_name = nullptr) const {
    for (const Control& control : m_controls) {
      if (const EndpointObservation* endpoint = endpoint_at(*control.observations, address)) {
        if (read_attempt(*endpoint, m_kind).outcome == Outcome::works) {
          if (path_name != nullptr) {
            *path_name = control.name;
          }
          return endpoint;
        }
      }
    }
    return nullptr;
  }

  // A chain that validated on direct under another root than over a healthy control at the same
  // address: a locally trusted interceptor. Compared per address, because CDN edges may serve
  // chains that end at different roots.
  std::optional<std::string> mitm_root(const EndpointObservation& endpoint) const {
    if (!uses_tls(m_kind) || !endpoint.tls || endpoint.tls->failure || !endpoint.tls->verified || !endpoint.tls->root) {
      return std::nullopt;
    }
    std::optional<std::string> other;
    for (const Control& control : m_controls) {
      const EndpointObservation* theirs = endpoint_at(*control.observations, endpoint.address);
      if (theirs == nullptr || !theirs->tls || theirs->tls->failure || !theirs->tls->verified || !theirs->tls->root) {
        continue;
      }
      if (*theirs->tls->root == *endpoint.tls->root) {
        return std::nullopt;
      }
      other = *theirs->tls->root;
    }
    return other;
  }

  // For plain-HTTP targets: why the direct response is not the site's, or nullopt when it is.
  // HTTPS responses are never judged by content: behind a validated certificate any answer is
  // the site's.
  std::optional<std::string> content_problem(const EndpointObservation& endpoint) const {
    if (m_kind != Kind::http || !endpoint.http) {
      return std::nullopt;
    }
    if (const auto blockpage = find_blockpage(*endpoint.http)) {
      return "blockpage " + std::string(blockpage->name) + " (" + std::string(blockpage->country) + ")";
    }
    if (m_target.any_response || !endpoint.http->status) {
      return std::nullopt;
    }
    if (matches_reference(*endpoint.http)) {
      return std::nullopt;
    }
    std::string out = "the response differs from control's (status " + std::to_string(*endpoint.http->status);
    if (m_references.front()->status) {
      out += " vs " + std::to_string(*m_references.front()->status);
    }
    return out + ")";
  }

  // Rule 2: the direct path works with its own DNS answers.
  std::optional<Verdict> direct_works() {
    if (m_kind == Kind::dns) {
      return dns_agrees();
    }
    if (!m_controls.empty()) {
      for (const EndpointObservation& endpoint : direct().endpoints) {
        if (mitm_root(endpoint)) {
          return std::nullopt;  // "works" through an interceptor is not the site working
        }
      }
    }
    const std::set<std::string> own = own_addresses();
    const EndpointObservation* stalled_body = nullptr;
    std::optional<Verdict> throttled;
    for (const EndpointObservation& endpoint : direct().endpoints) {
      if (own.count(endpoint.address) == 0) {
        continue;
      }
      const Attempt attempted = read_attempt(endpoint, m_kind);
      if (attempted.outcome != Outcome::works || content_problem(endpoint)) {
        continue;
      }
      if (endpoint.http && endpoint.http->body_stop == "stalled" && !attempted.flaky && !read_through(endpoint)) {
        stalled_body = stalled_body != nullptr ? stalled_body : &endpoint;
        continue;  // judged below, if no other address works whole
      }
      if (!attempted.flaky && !throttled) {
        throttled = throttled_verdict(endpoint);
        if (throttled) {
          continue;  // as a stall: another address may work at full speed
        }
      }
      Evidence evidence;
      std::string detail = "works over direct with its own DNS answers";
      if (attempted.flaky) {
        detail += "; a step failed once and passed its re-test (flaky, not censored)";
        evidence.direct(failure_text(m_direct_name, endpoint, attempted));
      } else if (endpoint.http && endpoint.http->body_stop == "stalled") {
        detail += "; its body stalled once and read through when sampled again (a congested link, not a censor)";
        evidence.direct(success_text(m_direct_name, endpoint, m_kind) + " body stalled, then sample " +
                        rate_text(*endpoint.throughput->sample));
      } else {
        evidence.direct(success_text(m_direct_name, endpoint, m_kind));
      }
      return make(Status::accessible, detail, evidence);
    }
    if (throttled) {
      return throttled;
    }
    if (stalled_body != nullptr) {
      return stalled_after_head(*stalled_body);
    }
    return std::nullopt;
  }

  // The throughput phase's samples (engine.cpp) of a direct endpoint that works: `restricted`,
  // signature `throttled`, when its body came at under a quarter of the rate a healthy control
  // read the same address's body at. What the throttle keys on (`method`):
  // - https, tls: `tls` when the server's handshake flight for the decoy name got through and the
  //   real name's took at least twice as long and k_name_slower_ms more (or timed out), else
  //   `tcp_ip`. Each is the faster of two tries, and the floor keeps two fast handshakes' jitter
  //   from naming a layer: a throttle of 256 kbit/s adds about 45 ms to a 1.5 KB flight (an
  //   ECDSA certificate), 150 ms to a 5 KB one (an RSA chain);
  // - http: `http` when the body asked for under the decoy name came at four times the real
  //   one's rate or more, else `tcp_ip`.
  static constexpr double k_throttle_factor = 4.0;
  static constexpr double k_name_slower_ms = 20.0;

  std::optional<Verdict> throttled_verdict(const EndpointObservation& endpoint) const {
    const auto& ours = endpoint.throughput;
    if (!ours || !ours->sample || !ours->sample->rate) {
      return std::nullopt;
    }
    const double rate = *ours->sample->rate;
    for (const Control& control : m_controls) {
      for (const EndpointObservation& theirs : control.observations->endpoints) {
        if (theirs.address != endpoint.address || !theirs.throughput || !theirs.throughput->sample ||
            !theirs.throughput->sample->rate || rate * k_throttle_factor >= *theirs.throughput->sample->rate) {
          continue;
        }
        const std::string method = throttle_key(*ours);
        Evidence evidence;
        evidence.direct(m_direct_name + " " + address_port(endpoint) + " body sample " + rate_text(*ours->sample) +
                        key_text(*ours));
        evidence.control(control.name + " " + address_port(theirs) + " body sample " +
                         rate_text(*theirs.throughput->sample));
        Verdict verdict = make(Status::restricted,
                               "throttled: direct reads the body at " + kbps(rate) + ", control at " +
                                   kbps(*theirs.throughput->sample->rate) + "; the throttle keys on " +
                                   (method == "tcp_ip" ? "the address" : "the name (" + method + ")"),
                               evidence);
        verdict.method = method;
        verdict.methods = {method};
        verdict.signatures.push_back(Signature::throttled);
        return verdict;
      }
    }
    return std::nullopt;
  }

  std::string throttle_key(const ThroughputObservation& ours) const {
    if (m_kind == Kind::http) {
      const auto& decoy = ours.decoy_sample;
      return decoy && decoy->rate && *ours.sample->rate * k_throttle_factor <= *decoy->rate ? "http" : "tcp_ip";
    }
    const auto& real = ours.handshake;
    const auto& decoy = ours.decoy_handshake;
    if (!real || !decoy || decoy->failure) {
      return "tcp_ip";
    }
    const bool real_timed_out = real->failure && real->failure->code == Failure::generic_timeout_error;
    const bool slower = real_timed_out || (!real->failure && real->duration_ms >= 2 * decoy->duration_ms &&
                                           real->duration_ms - decoy->duration_ms >= k_name_slower_ms);
    return slower ? "tls" : "tcp_ip";
  }

  static std::string kbps(double bytes_per_second) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f KiB/s", bytes_per_second / 1024.0);
    return text;
  }

  static std::string rate_text(const RateSample& sample) {
    return std::to_string(sample.bytes) + " bytes in " + std::to_string(static_cast<long>(sample.duration_ms)) +
           " ms (" + (sample.rate ? kbps(*sample.rate) : std::string("not timed")) + ")";
  }

  static std::string key_text(const ThroughputObservation& ours) {
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

  // Direct got the response head, then the body froze (body_stop "stalled"): `restricted` when a
  // healthy control read that body without a stall, else `accessible` (the site answers; a stall
  // that control cannot be compared with says nothing about the network).
  Verdict stalled_after_head(const EndpointObservation& endpoint) const {
    const std::string stall = m_direct_name + " " + address_port(endpoint) + " http " +
                              std::to_string(endpoint.http->status.value_or(0)) + " body stalled after " +
                              std::to_string(endpoint.http->bytes_received.value_or(endpoint.http->bytes)) +
                              " bytes";
    for (const Control& control : m_controls) {
      for (const EndpointObservation& theirs : control.observations->endpoints) {
        const auto& http = theirs.http;
        if (http && !http->failure && http->status &&
            (http->body_stop == "complete" || http->body_stop == "window" || http->body_stop == "cap")) {
          Evidence evidence;
          evidence.direct(stall);
          evidence.control(success_text(control.name, theirs, m_kind) + " body " + *http->body_stop);
          Verdict verdict = make(Status::restricted,
                                 "stalled: the response head comes on direct, then the body freezes after " +
                                     std::to_string(endpoint.http->bytes_received.value_or(endpoint.http->bytes)) +
                                     " bytes, while control reads it",
                                 evidence);
          verdict.signatures.push_back(Signature::stalled);
          if (const auto method = stall_key(endpoint)) {
            verdict.method = *method;
            verdict.methods = {*method};
            verdict.detail += (*method == "tcp_ip" ? "; the decoy name's body stalls too (the address)"
                                                   : "; the decoy name's body does not stall (the name)");
          }
          return verdict;
        }
      }
    }
    Evidence evidence;
    evidence.direct(stall);
    return make(Status::accessible,
                "works over direct with its own DNS answers; its body stalled, and no control read it to compare",
                evidence);
  }

  // A stall is re-tested by the throughput phase's sample of the same body: one that reads through
  // this time (to the sample's cap or the body's end) was the link's moment, as a failure that
  // passes its re-test is (a burst on a congested line can starve one connection for seconds).
  static bool read_through(const EndpointObservation& endpoint) {
    if (!endpoint.throughput || !endpoint.throughput->sample || endpoint.throughput->sample->failure) {
      return false;
    }
    const auto& stop = endpoint.throughput->sample->body_stop;
    return stop == "cap" || stop == "complete";
  }

  // What a stall keys on, from the throughput phase's body sample under the decoy name (plain
  // HTTP: its Host header): `tcp_ip` when it stalls too, `http` when it reads past where the real
  // one stalled without stalling; nullopt when it says neither (or, https, was not asked for).
  static std::optional<std::string> stall_key(const EndpointObservation& endpoint) {
    if (!endpoint.throughput || !endpoint.throughput->decoy_sample) {
      return std::nullopt;
    }
    const RateSample& decoy = *endpoint.throughput->decoy_sample;
    if (decoy.body_stop == "stalled") {
      return "tcp_ip";
    }
    if (decoy.bytes > endpoint.http->body_length && decoy.body_stop != "error" && decoy.body_stop != "timeout") {
      return "http";
    }
    return std::nullopt;
  }

  // Rule 2 for dns targets: the direct answers agree with a healthy control's.
  std::optional<Verdict> dns_agrees() const {
    for (const DnsQuery* ours : own_queries()) {
      if (!usable(*ours)) {
        continue;
      }
      for (const Control& control : m_controls) {
        for (const DnsQuery& theirs : control.observations->queries) {
          if (!usable(theirs)) {
            continue;
          }
          for (const DnsAnswer& a : ours->answers) {
            for (const DnsAnswer& b : theirs.answers) {
              if (is_address(a) && is_address(b) && same_network(a.value, b.value)) {
                Evidence evidence;
                evidence.direct(answer_text(m_direct_name, *ours));
                evidence.control(answer_text(control.name, theirs));
                return make(Status::accessible, "the direct answers agree with control's", evidence);
              }
            }
          }
        }
      }
    }
    return std::nullopt;
  }

  // An address the censor put in an answer fails on direct: it is a special-purpose address, or
  // the direct endpoint for it was tested and does not work.
  bool fails_on_direct(const DnsAnswer& answer) const {
    if (answer.bogon) {
      return !m_target.bogon_expected;
    }
    const EndpointObservation* endpoint = endpoint_at(direct(), answer.value);
    if (endpoint == nullptr) {
      return false;
    }
    const Outcome outcome = read_attempt(*endpoint, m_kind).outcome;
    return outcome == Outcome::failed;
  }

  // A direct endpoint whose steps fail, or (plain HTTP) whose response is not the site's.
  bool fails_or_differs(const EndpointObservation& endpoint) const {
    const Outcome outcome = read_attempt(endpoint, m_kind).outcome;
    return outcome == Outcome::failed || (outcome == Outcome::works && content_problem(endpoint));
  }

  bool works_on_direct(const std::string& address) const {
    const EndpointObservation* endpoint = endpoint_at(direct(), address);
    return endpoint != nullptr && read_attempt(*endpoint, m_kind).outcome == Outcome::works;
  }

  // The injection probe's query was answered (nothing serves DNS at its address, so something on
  // the path answered) with addresses that do not work on direct.
  const DnsQuery* injected_query() const {
    for (const DnsQuery& query : direct().queries) {
      if (!is_injection(query)) {
        continue;
      }
      bool any = false;
      bool failing = false;
      bool working = false;
      for (const DnsAnswer& answer : query.answers) {
        if (!is_address(answer)) {
          continue;
        }
        any = true;
        failing = failing || fails_on_direct(answer);
        working = working || (!answer.bogon && works_on_direct(answer.value));
      }
      if (any && failing && !working) {
        return &query;
      }
    }
    return nullptr;
  }

  // The injection probe's query answered with addresses (for a dns target, whose addresses are
  // not connected to, this is all there is to say).
  const DnsQuery* answered_injection() const {
    for (const DnsQuery& query : direct().queries) {
      if (is_injection(query) && usable(query)) {
        return &query;
      }
    }
    return nullptr;
  }

  // A direct answer in special-purpose space for a target that does not expect one.
  const DnsQuery* bogon_query() const {
    if (m_target.bogon_expected) {
      return nullptr;
    }
    for (const DnsQuery& query : direct().queries) {
      if (is_injection(query)) {
        continue;
      }
      const bool bogon = has_failure(query.failure, Failure::dns_bogon_error) ||
                         std::any_of(query.answers.begin(), query.answers.end(),
                                     [](const DnsAnswer& answer) { return is_address(answer) && answer.bogon; });
      if (bogon) {
        return &query;
      }
    }
    return nullptr;
  }

  // A reset or a close right after the ClientHello, on a connection TCP had opened, that its
  // re-test did not contradict.
  const EndpointObservation* tls_cut() const {
    for (const EndpointObservation& endpoint : direct().endpoints) {
      if (!endpoint.tcp || endpoint.tcp->failure || !endpoint.tls || !endpoint.tls->failure) {
        continue;
      }
      const Failure code = endpoint.tls->failure->code;
      const bool cut = code == Failure::connection_reset || code == Failure::eof_error;
      const bool passed_retest = endpoint.retest && endpoint.retest->step == "tls" && !endpoint.retest->failure;
      if (cut && !passed_retest) {
        return &endpoint;
      }
    }
    return nullptr;
  }

  // Rule 3: no healthy control path. A censorship signature is an anomaly; anything else is
  // inconclusive (a direct-only run never says down or blocked).
  Verdict without_control() {
    // A healthy control that says nothing about this target (a proxy cannot carry STUN's UDP, or
    // it answered only proxy errors) is named as such: the path itself is fine.
    const std::string none =
        m_silent_controls ? "no healthy control path could test this target" : "no healthy control path";
    const std::string prefix = none + "; direct shows ";
    if (const DnsQuery* query = bogon_query()) {
      m_evidence.direct(answer_text(m_direct_name, *query, "bogon"));
      return make(Status::anomaly, prefix + "a special-purpose address in a DNS answer", m_evidence,
                  {Signature::bogon});
    }
    if (const DnsQuery* query = injected_query()) {
      m_evidence.direct(answer_text(m_direct_name, *query, "injected"));
      return make(Status::anomaly, prefix + "injected DNS answers", m_evidence, {Signature::injected});
    }
    if (const EndpointObservation* endpoint = tls_cut()) {
      m_evidence.direct(failure_text(m_direct_name, *endpoint, read_attempt(*endpoint, m_kind)));
      const std::string how = endpoint->tls->failure->code == Failure::eof_error ? "a TLS close" : "a TLS reset";
      std::vector<Signature> signatures{tls_signature(*endpoint->tls->failure)};
      if (endpoint->decoy_tls && !endpoint->decoy_tls->failure) {
        signatures.push_back(Signature::sni);
      }
      return make(Status::anomaly, prefix + how + " after the ClientHello", m_evidence, std::move(signatures));
    }
    if (m_kind == Kind::http) {
      for (const EndpointObservation& endpoint : direct().endpoints) {
        if (endpoint.http) {
          if (const auto blockpage = find_blockpage(*endpoint.http)) {
            m_evidence.direct(success_text(m_direct_name, endpoint, m_kind) + " (blockpage " +
                              std::string(blockpage->name) + ")");
            return make(Status::anomaly,
                        prefix + "a known blockpage (" + std::string(blockpage->name) + ", " +
                            std::string(blockpage->country) + ")",
                        m_evidence, {Signature::blockpage});
          }
        }
      }
    }
    if (const auto offline = direct_offline()) {
      add_direct(*offline);
      return make(Status::inconclusive, "the vantage point seems offline: nothing resolves", m_evidence);
    }
    add_direct_failures();
    return make(Status::inconclusive, none + " and no censorship signature", m_evidence);
  }

  // Nothing resolved or connected on direct: every query failed with a network error or a
  // timeout, and no step succeeded.
  // Nothing resolved or connected on direct: the queries that show it (its evidence), or nullopt.
  std::optional<std::vector<std::string>> direct_offline() const {
    std::vector<const DnsQuery*> queries;
    for (const DnsQuery& query : direct().queries) {
      if (!is_injection(query)) {
        queries.push_back(&query);
      }
    }
    if (queries.empty() || !std::all_of(queries.begin(), queries.end(),
                                        [](const DnsQuery* query) { return is_network_failure(query->failure); })) {
      return std::nullopt;
    }
    const auto& endpoints = direct().endpoints;
    if (std::any_of(endpoints.begin(), endpoints.end(), any_step_succeeded)) {
      return std::nullopt;
    }
    std::vector<std::string> evidence;
    for (const DnsQuery* query : queries) {
      evidence.push_back(answer_text(m_direct_name, *query));
    }
    return evidence;
  }

  void add_direct(const std::vector<std::string>& lines) {
    for (const std::string& line : lines) {
      m_evidence.direct(line);
    }
  }

  void add_direct_failures() {
    for (const DnsQuery* query : own_queries()) {
      if (query->failure) {
        m_evidence.direct(answer_text(m_direct_name, *query));
      }
    }
    for (const EndpointObservation& endpoint : direct().endpoints) {
      const Attempt attempted = read_attempt(endpoint, m_kind);
      if (attempted.outcome == Outcome::failed) {
        m_evidence.direct(failure_text(m_direct_name, endpoint, attempted));
      }
    }
  }

  // Rule 4: every healthy control fails at the target too.
  Verdict down() {
    bool resolves_anywhere = false;
    for (const auto& [name, path] : m_result.paths) {
      for (const DnsQuery& query : path.queries) {
        resolves_anywhere = resolves_anywhere || (!is_injection(query) && usable(query));
      }
    }
    add_direct_failures();
    for (const Control& control : m_controls) {
      for (const DnsQuery& query : control.observations->queries) {
        if (query.failure) {
          m_evidence.control(answer_text(control.name, query));
        }
      }
      for (const EndpointObservation& endpoint : control.observations->endpoints) {
        const Attempt attempted = read_attempt(endpoint, m_kind);
        if (attempted.outcome == Outcome::failed) {
          m_evidence.control(failure_text(control.name, endpoint, attempted, false));
        }
      }
    }
    if (!m_congested.empty() && std::none_of(m_controls.begin(), m_controls.end(),
                                             [this](const Control& control) { return shows_down(control); })) {
      std::string paths;
      for (const std::string& name : m_congested) {
        paths += (paths.empty() ? "" : ", ") + name;
      }
      Verdict verdict = make(Status::inconclusive,
                             "fails over every path, but only by timeouts on a congested path (" + paths +
                                 "): the link, not the target, may be what failed",
                             m_evidence);
      verdict.signatures.push_back(Signature::congested);
      return verdict;
    }
    if (!resolves_anywhere && !ip_literal()) {
      return make(Status::down, "the name resolves over no path: the target itself seems down", m_evidence);
    }
    return make(Status::down, "fails over every healthy control path too: the target itself seems down", m_evidence);
  }

  // Whether a control's failures at this target say it is down: always on an uncongested path;
  // on a congested one only a failure that is not a timeout (a refusal, a reset, NXDOMAIN), since
  // there a timeout, even at the re-test's low concurrency, may be the link's.
  bool shows_down(const Control& control) const {
    if (!control.congested) {
      return true;
    }
    const auto telling = [](const FailureInfo& failure) {
      return failure.code != Failure::generic_timeout_error && failure.code != Failure::proxy_error;
    };
    const auto& queries = control.observations->queries;
    if (std::none_of(queries.begin(), queries.end(), [](const DnsQuery& query) { return usable(query); })) {
      // No address came back: an answer that says so (NXDOMAIN, no address) is the name's, not the
      // link's. (Where one query answered, an empty AAAA says nothing.)
      for (const DnsQuery& query : queries) {
        if (query.failure ? telling(*query.failure) : query.rcode == "NXDOMAIN") {
          return true;
        }
      }
    }
    for (const EndpointObservation& endpoint : control.observations->endpoints) {
      const Attempt attempted = read_attempt(endpoint, m_kind);
      if (attempted.outcome == Outcome::failed && telling(attempted.retest_failure.value_or(attempted.failure))) {
        return true;
      }
    }
    return false;
  }

  // The query types a working control resolves, each with the first answer that shows it (the
  // control half of every comparison rule 5 makes, so its evidence is shown whatever it finds).
  std::vector<std::pair<std::string, std::string>> control_resolutions() const {
    std::vector<std::pair<std::string, std::string>> out;
    std::set<std::string> types;
    for (const Control& control : m_controls) {
      if (control.state != ControlState::works) {
        continue;
      }
      for (const DnsQuery& query : control.observations->queries) {
        if (usable(query) && types.insert(query.type).second) {
          out.emplace_back(query.type, answer_text(control.name, query));
        }
      }
    }
    return out;
  }

  // Rule 5, the DNS layer: what the direct path's own resolution shows, while control resolves.
  // An answer that merely differs is not evidence (CDNs answer per path): only NXDOMAIN or no
  // answer, a special-purpose or injected answer, or addresses that do not serve the target.
  // A pure signal: the finding carries its own direct evidence, and the rule adds it.
  std::optional<Finding> dns_evidence() const {
    if (ip_literal()) {
      return std::nullopt;
    }
    std::set<std::string> control_types;  // the query types a working control resolves
    for (const auto& [type, line] : control_resolutions()) {
      control_types.insert(type);
    }
    const bool control_resolves = !control_types.empty();
    const std::set<std::string> own = own_addresses();
    if (m_kind != Kind::dns && std::any_of(own.begin(), own.end(), [&](const std::string& a) { return good(a); })) {
      return std::nullopt;  // direct's own addresses serve the target: DNS is fine
    }
    if (!control_resolves) {
      return std::nullopt;
    }
    if (const DnsQuery* query = bogon_query()) {
      return Finding{"dns: the direct resolver answers a special-purpose address",
                     {Signature::bogon},
                     {answer_text(m_direct_name, *query, "bogon")}};
    }
    if (const DnsQuery* query = injected_query()) {
      return Finding{"dns: injected answers (a query to an address that runs no DNS server was answered)",
                     {Signature::injected},
                     {answer_text(m_direct_name, *query, "injected")}};
    }
    const std::vector<const DnsQuery*> queries = own_queries();
    if (own.empty()) {
      for (const DnsQuery* query : queries) {
        // Compared type by type: a name without IPv6 answers AAAA with nothing, on every path.
        const bool no_name = has_failure(query->failure, Failure::dns_nxdomain_error) ||
                             has_failure(query->failure, Failure::dns_no_answer) || query->rcode == "NXDOMAIN";
        if (no_name && control_types.count(query->type) > 0) {
          const bool nxdomain =
              has_failure(query->failure, Failure::dns_nxdomain_error) || query->rcode == "NXDOMAIN";
          return Finding{"dns: the direct resolver answers " +
                             (query->failure ? query->failure->str() : *query->rcode) + " while control resolves",
                         {nxdomain ? Signature::nxdomain : Signature::no_answer},
                         {answer_text(m_direct_name, *query)}};
        }
      }
      return std::nullopt;
    }
    if (m_kind == Kind::dns) {
      return std::nullopt;
    }
    // The Great Firewall's way: plausible public addresses that lead nowhere. Bad addresses are
    // ones a working control tried and could not use, and direct could not either.
    for (const DnsQuery* query : queries) {
      for (const DnsAnswer& answer : query->answers) {
        if (!is_address(answer)) {
          continue;
        }
        const EndpointObservation* ours = endpoint_at(direct(), answer.value);
        if (ours == nullptr || !fails_or_differs(*ours) || near_good(answer.value)) {
          continue;
        }
        for (const Control& control : m_controls) {
          const EndpointObservation* theirs = endpoint_at(*control.observations, answer.value);
          if (control.state == ControlState::works && theirs != nullptr && !theirs->not_tested) {
            const std::string why = uses_tls(m_kind) ? "no valid TLS there" : "fails over control too";
            return Finding{"dns: the direct resolver answers addresses that do not serve the target (" + why + ")",
                           {uses_tls(m_kind) ? Signature::answers_fail_tls : Signature::answers_fail},
                           {answer_text(m_direct_name, *query, why)}};
          }
        }
      }
    }
    return std::nullopt;
  }

  // What the control's own answers give from direct: the other half of a DNS finding.
  void add_control_address_evidence() {
    for (const Control& control : m_controls) {
      for (const DnsQuery& query : control.observations->queries) {
        if (!usable(query)) {
          continue;
        }
        for (const DnsAnswer& answer : query.answers) {
          const EndpointObservation* ours = is_address(answer) ? endpoint_at(direct(), answer.value) : nullptr;
          std::string control_name;
          const EndpointObservation* theirs =
              ours != nullptr ? working_control_at(answer.value, &control_name) : nullptr;
          if (theirs != nullptr && read_attempt(*ours, m_kind).outcome == Outcome::works) {
            m_evidence.direct(success_text(m_direct_name, *ours, m_kind) + " (control's address)");
            m_evidence.control(success_text(control_name, *theirs, m_kind));
            return;
          }
        }
      }
    }
  }

  // Rule 5: direct fails or differs while a healthy control works.
  Verdict compare() {
    if (const auto offline = direct_offline()) {
      add_direct(*offline);
      return make(Status::inconclusive, "the vantage point seems offline: nothing resolves over direct", m_evidence);
    }
    std::array<std::optional<Finding>, layer_count> layers;
    bool unconfirmed = false;
    bool residual = false;
    if (!ip_literal()) {
      for (const auto& [type, line] : control_resolutions()) {
        m_evidence.control(line);
      }
    }
    layers[dns_layer] = dns_evidence();
    if (layers[dns_layer]) {
      add_direct(layers[dns_layer]->evidence);
      add_control_address_evidence();
    }

    for (const EndpointObservation& endpoint : direct().endpoints) {
      std::string control_name;
      const EndpointObservation* reference = working_control_at(endpoint.address, &control_name);
      if (!good(endpoint.address) || reference == nullptr) {
        continue;  // compared only at addresses that serve the target where a healthy control used them
      }
      const Attempt attempted = read_attempt(endpoint, m_kind);
      if (attempted.outcome == Outcome::works) {
        if (const auto root = mitm_root(endpoint)) {
          m_evidence.direct(m_direct_name + " " + address_port(endpoint) + " tls root " + *endpoint.tls->root);
          m_evidence.control(control_name + " " + address_port(endpoint) + " tls root " + *root);
          set(layers[tls_layer], {"tls: mitm: the chain validates under another root on direct (" +
                                      *endpoint.tls->root + ") than over control (" + *root + ")",
                                  {Signature::mitm}});
        } else if (const auto problem = content_problem(endpoint)) {
          m_evidence.direct(success_text(m_direct_name, endpoint, m_kind) + " (" + *problem + ")");
          m_evidence.control(success_text(control_name, *reference, m_kind));
          const bool blockpage = find_blockpage(*endpoint.http).has_value();
          set(layers[http_layer], {"http: " + *problem, {blockpage ? Signature::blockpage : Signature::http_differs}});
        }
        continue;
      }
      if (attempted.outcome != Outcome::failed) {
        continue;
      }
      const std::optional<Layer> layer = layer_of(attempted);
      if (!layer) {
        continue;
      }
      m_evidence.direct(failure_text(m_direct_name, endpoint, attempted));
      if (*layer == tcp_ip_layer && endpoint.residual) {
        residual = true;
        continue;
      }
      if (!attempted.confirmed) {
        unconfirmed = true;
        continue;
      }
      m_evidence.control(success_text(control_name, *reference, m_kind));
      set(layers[*layer], describe(*layer, endpoint, attempted));
    }

    Verdict verdict;
    std::string detail;
    for (std::size_t layer = 0; layer < layer_count; ++layer) {
      if (layers[layer]) {
        verdict.methods.emplace_back(k_layer_names[layer]);
        detail += (detail.empty() ? "" : "; ") + layers[layer]->detail;
        verdict.signatures.insert(verdict.signatures.end(), layers[layer]->signatures.begin(),
                                  layers[layer]->signatures.end());
      }
    }
    if (residual) {
      verdict.signatures.push_back(Signature::residual);
    }
    if (!verdict.methods.empty()) {
      verdict.status = Status::blocked;
      verdict.method = verdict.methods.front();
      verdict.detail = detail;
      verdict.evidence = m_evidence.lines();
      return verdict;
    }
    if (unconfirmed) {
      return make(Status::inconclusive,
                  "not re-tested: a direct step failed once, which is not enough to call it blocked", m_evidence);
    }
    if (residual) {
      return make(
          Status::inconclusive,
          "residual blocking after an earlier trigger: TCP fails where a TLS handshake was cut earlier in the run",
          m_evidence, {Signature::residual});
    }
    add_direct_failures();
    if (const DnsQuery* query = m_kind == Kind::dns ? answered_injection() : nullptr) {
      m_evidence.direct(answer_text(m_direct_name, *query, "a query to an address that runs no DNS server"));
    }
    return make(Status::inconclusive, "no layer of blocking: " + why_no_layer(), m_evidence);
  }

  // Why direct failing or differing while control works showed no layer of blocking.
  std::string why_no_layer() const {
    const std::vector<const DnsQuery*> queries = own_queries();
    if (m_kind == Kind::dns &&
        std::any_of(queries.begin(), queries.end(), [](const DnsQuery* query) { return usable(*query); })) {
      if (answered_injection() != nullptr) {
        return "the direct answers differ from control's and the injection probe was answered too, but a dns "
               "target's addresses are not connected to, so nothing shows they are false (CDNs answer per path)";
      }
      return "the direct answers differ from control's, which for a dns target is not evidence (CDNs answer per path)";
    }
    if (!ip_literal() && !queries.empty() &&
        std::none_of(queries.begin(), queries.end(), [](const DnsQuery* query) { return usable(*query); })) {
      const FailureInfo failure = queries.front()->failure.value_or(FailureInfo{Failure::dns_no_answer, ""});
      return "the direct resolver fails (" + failure.str() + ") while control resolves, which alone is not evidence";
    }
    return "direct fails while a healthy control works, but not where both paths could test the same address";
  }

  static void set(std::optional<Finding>& layer, Finding finding) {
    if (!layer) {
      layer = std::move(finding);
    }
  }

  std::optional<Layer> layer_of(const Attempt& attempted) const {
    switch (attempted.step) {
      case Step::tcp:
      case Step::stun:
        return is_ip_blocking_failure(attempted.failure) ? std::optional<Layer>(tcp_ip_layer) : std::nullopt;
      case Step::tls:
        return attempted.failure.code == Failure::proxy_error ? std::nullopt : std::optional<Layer>(tls_layer);
      case Step::http:
        return attempted.failure.code == Failure::proxy_error ? std::nullopt : std::optional<Layer>(http_layer);
    }
    return std::nullopt;
  }

  // The direct HTTP step timed out with no response head, its connection silent for half the
  // step or more: frozen (a censor that lets a connection carry so many bytes), not slow.
  static bool stalled_before_head(const EndpointObservation& endpoint) {
    return endpoint.http && endpoint.http->failure && endpoint.http->failure->code == Failure::generic_timeout_error &&
           !endpoint.http->status && stalled(*endpoint.http, endpoint.http->idle_ms);
  }

  Finding describe(Layer layer, const EndpointObservation& endpoint, const Attempt& attempted) const {
    const std::string failure = attempted.failure.str();
    switch (layer) {
      case tcp_ip_layer:
        return {"tcp_ip: connecting to addresses that work over control fails (" + failure + ")",
                {tcp_ip_signature(attempted.failure)}};
      case tls_layer:
        if (is_certificate_failure(attempted.failure)) {
          return {"tls: the certificate fails validation only on direct (" + failure + ")", {Signature::cert_invalid}};
        }
        if (endpoint.decoy_tls && !endpoint.decoy_tls->failure) {
          return {"tls: the handshake fails after TCP worked (" + failure + ") while a decoy name passes: sni filtering",
                  {tls_signature(attempted.failure), Signature::sni}};
        }
        return {"tls: the handshake fails after TCP worked (" + failure + ")" +
                    (endpoint.decoy_tls ? ", and so does a decoy name" : ""),
                {tls_signature(attempted.failure)}};
      case http_layer:
        if (stalled_before_head(endpoint)) {
          return {"http: stalled: the response head never comes after " +
                      std::to_string(endpoint.http->bytes_received.value_or(0)) +
                      " bytes on the wire, the connection silent, while control gets a response",
                  {Signature::stalled}};
        }
        return {"http: the request fails after the connection was made (" + failure + ") while control gets a response",
                {Signature::http_failure}};
      case dns_layer:
      case layer_count:
        break;
    }
    return {failure, {}};
  }

  const TargetResult& m_result;
  const Target& m_target;
  Kind m_kind;
  std::string m_direct_name = "direct";
  const PathObservations* m_direct = nullptr;
  std::vector<Control> m_controls;  // the healthy controls that say something about this target
  std::vector<std::string> m_congested;  // the paths the run found congested
  bool m_silent_controls = false;   // a healthy control could not test it (UDP over a proxy, proxy errors)
  std::set<std::string> m_good;
  std::vector<const HttpObservation*> m_references;  // plain HTTP: control's responses
  Evidence m_evidence;
};

}  // namespace

Verdict judge(const TargetResult& result, const std::vector<PathStatus>& paths, bool interrupted) {
  Judge judge(result, paths);
  return judge.run(interrupted);
}

}  // namespace probe
