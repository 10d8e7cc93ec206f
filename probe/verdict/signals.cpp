#include "verdict/signals.hpp"

#include <algorithm>
#include <set>

#include "verdict/blockpages.hpp"
#include "verdict/facts.hpp"

namespace probe::judging {

std::optional<Interruption> interruption(const Observed& o) {
  const auto cut = [](const std::optional<FailureInfo>& failure) {
    return has_failure(failure, Failure::interrupted);
  };
  for (const auto& [name, path] : o.result.paths) {
    const bool on_direct = name == o.direct_name;
    for (const DnsQuery& query : path.queries) {
      if (cut(query.failure)) {
        return Interruption{on_direct, answer_text(name, query)};
      }
    }
    for (const EndpointObservation& endpoint : path.endpoints) {
      const bool any = (endpoint.tcp && cut(endpoint.tcp->failure)) || (endpoint.tls && cut(endpoint.tls->failure)) ||
                       (endpoint.http && cut(endpoint.http->failure)) ||
                       (endpoint.stun && cut(endpoint.stun->failure)) ||
                       (endpoint.decoy_tls && cut(endpoint.decoy_tls->failure)) ||
                       (endpoint.retest && cut(endpoint.retest->failure));
      if (any) {
        return Interruption{on_direct, name + " " + address_port(endpoint) + " interrupted"};
      }
    }
  }
  return std::nullopt;
}

std::optional<std::string> mitm_root(const Observed& o, const EndpointObservation& endpoint) {
  if (!uses_tls(o.kind) || !endpoint.tls || endpoint.tls->failure || !endpoint.tls->verified || !endpoint.tls->root) {
    return std::nullopt;
  }
  std::optional<std::string> other;
  for (const Control& control : o.controls) {
    const EndpointObservation* theirs = control.at(endpoint.address);
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

std::optional<std::string> content_problem(const Observed& o, const EndpointObservation& endpoint) {
  if (o.kind != Kind::http || !endpoint.http) {
    return std::nullopt;
  }
  if (const auto blockpage = find_blockpage(*endpoint.http)) {
    return "blockpage " + std::string(blockpage->name) + " (" + std::string(blockpage->country) + ")";
  }
  if (o.target.any_response || !endpoint.http->status) {
    return std::nullopt;
  }
  if (o.matches_reference(*endpoint.http)) {
    return std::nullopt;
  }
  std::string out = "the response differs from control's (status " + std::to_string(*endpoint.http->status);
  if (o.references.front()->status) {
    out += " vs " + std::to_string(*o.references.front()->status);
  }
  return out + ")";
}

std::string throttle_key(const Observed& o, const ThroughputObservation& ours) {
  if (o.kind == Kind::http) {
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

bool read_through(const EndpointObservation& endpoint) {
  if (!endpoint.throughput || !endpoint.throughput->sample || endpoint.throughput->sample->failure) {
    return false;
  }
  const auto& stop = endpoint.throughput->sample->body_stop;
  return stop == "cap" || stop == "complete";
}

std::optional<std::string> stall_key(const EndpointObservation& endpoint) {
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

bool fails_on_direct(const Observed& o, const DnsAnswer& answer) {
  if (answer.bogon) {
    return !o.target.bogon_expected;
  }
  const EndpointObservation* endpoint = o.direct_at(answer.value);
  if (endpoint == nullptr) {
    return false;
  }
  const Outcome outcome = read_attempt(*endpoint, o.kind).outcome;
  return outcome == Outcome::failed;
}

bool fails_or_differs(const Observed& o, const EndpointObservation& endpoint) {
  const Outcome outcome = read_attempt(endpoint, o.kind).outcome;
  return outcome == Outcome::failed || (outcome == Outcome::works && content_problem(o, endpoint));
}

bool works_on_direct(const Observed& o, const std::string& address) {
  const EndpointObservation* endpoint = o.direct_at(address);
  return endpoint != nullptr && read_attempt(*endpoint, o.kind).outcome == Outcome::works;
}

const DnsQuery* injected_query(const Observed& o) {
  for (const DnsQuery& query : o.direct().queries) {
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
      failing = failing || fails_on_direct(o, answer);
      working = working || (!answer.bogon && works_on_direct(o, answer.value));
    }
    if (any && failing && !working) {
      return &query;
    }
  }
  return nullptr;
}

const DnsQuery* answered_injection(const Observed& o) {
  for (const DnsQuery& query : o.direct().queries) {
    if (is_injection(query) && usable(query)) {
      return &query;
    }
  }
  return nullptr;
}

const DnsQuery* bogon_query(const Observed& o) {
  if (o.target.bogon_expected) {
    return nullptr;
  }
  for (const DnsQuery& query : o.direct().queries) {
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

const EndpointObservation* tls_cut(const Observed& o) {
  for (const EndpointObservation& endpoint : o.direct().endpoints) {
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

std::optional<std::vector<std::string>> direct_offline(const Observed& o) {
  std::vector<const DnsQuery*> queries;
  for (const DnsQuery& query : o.direct().queries) {
    if (!is_injection(query)) {
      queries.push_back(&query);
    }
  }
  if (queries.empty() || !std::all_of(queries.begin(), queries.end(),
                                      [](const DnsQuery* query) { return is_network_failure(query->failure); })) {
    return std::nullopt;
  }
  const auto& endpoints = o.direct().endpoints;
  if (std::any_of(endpoints.begin(), endpoints.end(), any_step_succeeded)) {
    return std::nullopt;
  }
  std::vector<std::string> evidence;
  for (const DnsQuery* query : queries) {
    evidence.push_back(answer_text(o.direct_name, *query));
  }
  return evidence;
}

bool shows_down(const Observed& o, const Control& control) {
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
    const Attempt attempted = read_attempt(endpoint, o.kind);
    if (attempted.outcome == Outcome::failed && telling(attempted.retest_failure.value_or(attempted.failure))) {
      return true;
    }
  }
  return false;
}

std::vector<std::pair<std::string, std::string>> control_resolutions(const Observed& o) {
  std::vector<std::pair<std::string, std::string>> out;
  std::set<std::string> types;
  for (const Control& control : o.controls) {
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

std::optional<Finding> dns_evidence(const Observed& o) {
  if (o.ip_literal()) {
    return std::nullopt;
  }
  std::set<std::string> control_types;  // the query types a working control resolves
  for (const auto& [type, line] : control_resolutions(o)) {
    control_types.insert(type);
  }
  const bool control_resolves = !control_types.empty();
  const std::set<std::string> own = o.own_addresses();
  if (o.kind != Kind::dns && std::any_of(own.begin(), own.end(), [&](const std::string& a) { return o.good(a); })) {
    return std::nullopt;  // direct's own addresses serve the target: DNS is fine
  }
  if (!control_resolves) {
    return std::nullopt;
  }
  if (const DnsQuery* query = bogon_query(o)) {
    return Finding{"dns: the direct resolver answers a special-purpose address",
                   {Signature::bogon},
                   {answer_text(o.direct_name, *query, "bogon")}};
  }
  if (const DnsQuery* query = injected_query(o)) {
    return Finding{"dns: injected answers (a query to an address that runs no DNS server was answered)",
                   {Signature::injected},
                   {answer_text(o.direct_name, *query, "injected")}};
  }
  const std::vector<const DnsQuery*> queries = o.own_queries();
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
                       {answer_text(o.direct_name, *query)}};
      }
    }
    return std::nullopt;
  }
  if (o.kind == Kind::dns) {
    return std::nullopt;
  }
  // The Great Firewall's way: plausible public addresses that lead nowhere. Bad addresses are
  // ones a working control tried and could not use, and direct could not either.
  for (const DnsQuery* query : queries) {
    for (const DnsAnswer& answer : query->answers) {
      if (!is_address(answer)) {
        continue;
      }
      const EndpointObservation* ours = o.direct_at(answer.value);
      if (ours == nullptr || !fails_or_differs(o, *ours) || o.near_good(answer.value)) {
        continue;
      }
      for (const Control& control : o.controls) {
        const EndpointObservation* theirs = control.at(answer.value);
        if (control.state == ControlState::works && theirs != nullptr && !theirs->not_tested) {
          const std::string why = uses_tls(o.kind) ? "no valid TLS there" : "fails over control too";
          return Finding{"dns: the direct resolver answers addresses that do not serve the target (" + why + ")",
                         {uses_tls(o.kind) ? Signature::answers_fail_tls : Signature::answers_fail},
                         {answer_text(o.direct_name, *query, why)}};
        }
      }
    }
  }
  return std::nullopt;
}

std::optional<Layer> layer_of(const Attempt& attempted) {
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

bool stalled_before_head(const EndpointObservation& endpoint) {
  return endpoint.http && endpoint.http->failure && endpoint.http->failure->code == Failure::generic_timeout_error &&
         !endpoint.http->status && stalled(*endpoint.http, endpoint.http->idle_ms);
}

Finding describe(Layer layer, const EndpointObservation& endpoint, const Attempt& attempted) {
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

std::string why_no_layer(const Observed& o) {
  const std::vector<const DnsQuery*> queries = o.own_queries();
  if (o.kind == Kind::dns &&
      std::any_of(queries.begin(), queries.end(), [](const DnsQuery* query) { return usable(*query); })) {
    if (answered_injection(o) != nullptr) {
      return "the direct answers differ from control's and the injection probe was answered too, but a dns "
             "target's addresses are not connected to, so nothing shows they are false (CDNs answer per path)";
    }
    return "the direct answers differ from control's, which for a dns target is not evidence (CDNs answer per path)";
  }
  if (!o.ip_literal() && !queries.empty() &&
      std::none_of(queries.begin(), queries.end(), [](const DnsQuery* query) { return usable(*query); })) {
    const FailureInfo failure = queries.front()->failure.value_or(FailureInfo{Failure::dns_no_answer, ""});
    return "the direct resolver fails (" + failure.str() + ") while control resolves, which alone is not evidence";
  }
  return "direct fails while a healthy control works, but not where both paths could test the same address";
}

}  // namespace probe::judging
