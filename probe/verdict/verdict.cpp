#include "verdict/verdict.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <set>

#include "model/steps.hpp"
#include "verdict/blockpages.hpp"
#include "verdict/evidence.hpp"
#include "verdict/facts.hpp"
#include "verdict/index.hpp"
#include "verdict/signals.hpp"

// The verdict in three phases: the observations indexed once (index.hpp), named signals computed
// as pure functions over the index (signals.hpp), then the rules below in order, each a small
// function that decides on signals and shows their evidence. README's "How to read a verdict"
// states the rules; `judge` at the end applies them.
namespace probe {

namespace judging {

namespace {

// The throughput phase's samples of a direct endpoint that works: `restricted`, signature
// `throttled`, when its body came at under a quarter of the rate a healthy control read the same
// address's body at; `method` is what the throttle keys on (signals.hpp, throttle_key).
std::optional<Verdict> throttled_verdict(const Observed& o, const EndpointObservation& endpoint) {
  const auto& ours = endpoint.throughput;
  if (!ours || !ours->sample || !ours->sample->rate) {
    return std::nullopt;
  }
  const double rate = *ours->sample->rate;
  for (const Control& control : o.controls) {
    const EndpointObservation* theirs = control.at(endpoint.address);
    if (theirs == nullptr || !theirs->throughput || !theirs->throughput->sample ||
        !theirs->throughput->sample->rate || rate * k_throttle_factor >= *theirs->throughput->sample->rate) {
      continue;
    }
    const std::string method = throttle_key(o, *ours);
    Evidence evidence;
    evidence.direct(o.direct_name + " " + address_port(endpoint) + " body sample " + rate_text(*ours->sample) +
                    key_text(*ours));
    evidence.control(control.name + " " + address_port(*theirs) + " body sample " +
                     rate_text(*theirs->throughput->sample));
    Verdict verdict = make(Status::restricted,
                           "throttled: direct reads the body at " + kbps(rate) + ", control at " +
                               kbps(*theirs->throughput->sample->rate) + "; the throttle keys on " +
                               (method == "tcp_ip" ? "the address" : "the name (" + method + ")"),
                           evidence);
    verdict.method = method;
    verdict.methods = {method};
    verdict.signatures.push_back(Signature::throttled);
    return verdict;
  }
  return std::nullopt;
}

// Direct got the response head, then the body froze (body_stop "stalled"): `restricted` when a
// healthy control read that body without a stall, else `accessible` (the site answers; a stall
// that control cannot be compared with says nothing about the network).
Verdict stalled_after_head(const Observed& o, const EndpointObservation& endpoint) {
  const std::string stall = o.direct_name + " " + address_port(endpoint) + " http " +
                            std::to_string(endpoint.http->status.value_or(0)) + " body stalled after " +
                            std::to_string(endpoint.http->bytes_received.value_or(endpoint.http->bytes)) +
                            " bytes";
  for (const Control& control : o.controls) {
    for (const EndpointObservation& theirs : control.observations->endpoints) {
      const auto& http = theirs.http;
      if (http && !http->failure && http->status &&
          (http->body_stop == "complete" || http->body_stop == "window" || http->body_stop == "cap")) {
        Evidence evidence;
        evidence.direct(stall);
        evidence.control(success_text(control.name, theirs, o.kind) + " body " + *http->body_stop);
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

// Rule 2 for dns targets: the direct answers agree with a healthy control's.
std::optional<Verdict> dns_agrees(const Observed& o) {
  for (const DnsQuery* ours : o.own_queries()) {
    if (!usable(*ours)) {
      continue;
    }
    for (const Control& control : o.controls) {
      for (const DnsQuery& theirs : control.observations->queries) {
        if (!usable(theirs)) {
          continue;
        }
        for (const DnsAnswer& a : ours->answers) {
          for (const DnsAnswer& b : theirs.answers) {
            if (is_address(a) && is_address(b) && same_network(a.value, b.value)) {
              Evidence evidence;
              evidence.direct(answer_text(o.direct_name, *ours));
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

// Rule 2: the direct path works with its own DNS answers.
std::optional<Verdict> direct_works(const Observed& o) {
  if (o.kind == Kind::dns) {
    return dns_agrees(o);
  }
  if (!o.controls.empty()) {
    for (const EndpointObservation& endpoint : o.direct().endpoints) {
      if (mitm_root(o, endpoint)) {
        return std::nullopt;  // "works" through an interceptor is not the site working
      }
    }
  }
  const std::set<std::string> own = o.own_addresses();
  const EndpointObservation* stalled_body = nullptr;
  std::optional<Verdict> throttled;
  for (const EndpointObservation& endpoint : o.direct().endpoints) {
    if (own.count(endpoint.address) == 0) {
      continue;
    }
    const Attempt attempted = read_attempt(endpoint, o.kind);
    if (attempted.outcome != Outcome::works || content_problem(o, endpoint)) {
      continue;
    }
    if (endpoint.http && endpoint.http->body_stop == "stalled" && !attempted.flaky && !read_through(endpoint)) {
      stalled_body = stalled_body != nullptr ? stalled_body : &endpoint;
      continue;  // judged below, if no other address works whole
    }
    if (!attempted.flaky && !throttled) {
      throttled = throttled_verdict(o, endpoint);
      if (throttled) {
        continue;  // as a stall: another address may work at full speed
      }
    }
    Evidence evidence;
    std::string detail = "works over direct with its own DNS answers";
    if (attempted.flaky) {
      detail += "; a step failed once and passed its re-test (flaky, not censored)";
      evidence.direct(failure_text(o.direct_name, endpoint, attempted));
    } else if (endpoint.http && endpoint.http->body_stop == "stalled") {
      detail += "; its body stalled once and read through when sampled again (a congested link, not a censor)";
      evidence.direct(success_text(o.direct_name, endpoint, o.kind) + " body stalled, then sample " +
                      rate_text(*endpoint.throughput->sample));
    } else {
      evidence.direct(success_text(o.direct_name, endpoint, o.kind));
    }
    return make(Status::accessible, detail, evidence);
  }
  if (throttled) {
    return throttled;
  }
  if (stalled_body != nullptr) {
    return stalled_after_head(o, *stalled_body);
  }
  return std::nullopt;
}

void add_direct_failures(const Observed& o, Evidence& evidence) {
  for (const DnsQuery* query : o.own_queries()) {
    if (query->failure) {
      evidence.direct(answer_text(o.direct_name, *query));
    }
  }
  for (const EndpointObservation& endpoint : o.direct().endpoints) {
    const Attempt attempted = read_attempt(endpoint, o.kind);
    if (attempted.outcome == Outcome::failed) {
      evidence.direct(failure_text(o.direct_name, endpoint, attempted));
    }
  }
}

// Rule 3: no healthy control path. A censorship signature is an anomaly; anything else is
// inconclusive (a direct-only run never says down or blocked).
Verdict without_control(const Observed& o) {
  Evidence evidence;
  // A healthy control that says nothing about this target (a proxy cannot carry STUN's UDP, or
  // it answered only proxy errors) is named as such: the path itself is fine.
  const std::string none =
      o.silent_controls ? "no healthy control path could test this target" : "no healthy control path";
  const std::string prefix = none + "; direct shows ";
  if (const DnsQuery* query = bogon_query(o)) {
    evidence.direct(answer_text(o.direct_name, *query, "bogon"));
    return make(Status::anomaly, prefix + "a special-purpose address in a DNS answer", evidence,
                {Signature::bogon});
  }
  if (const DnsQuery* query = injected_query(o)) {
    evidence.direct(answer_text(o.direct_name, *query, "injected"));
    return make(Status::anomaly, prefix + "injected DNS answers", evidence, {Signature::injected});
  }
  if (const EndpointObservation* endpoint = tls_cut(o)) {
    evidence.direct(failure_text(o.direct_name, *endpoint, read_attempt(*endpoint, o.kind)));
    const std::string how = endpoint->tls->failure->code == Failure::eof_error ? "a TLS close" : "a TLS reset";
    std::vector<Signature> signatures{tls_signature(*endpoint->tls->failure)};
    if (endpoint->decoy_tls && !endpoint->decoy_tls->failure) {
      signatures.push_back(Signature::sni);
    }
    return make(Status::anomaly, prefix + how + " after the ClientHello", evidence, std::move(signatures));
  }
  if (o.kind == Kind::http) {
    for (const EndpointObservation& endpoint : o.direct().endpoints) {
      if (endpoint.http) {
        if (const auto blockpage = find_blockpage(*endpoint.http)) {
          evidence.direct(success_text(o.direct_name, endpoint, o.kind) + " (blockpage " +
                            std::string(blockpage->name) + ")");
          return make(Status::anomaly,
                      prefix + "a known blockpage (" + std::string(blockpage->name) + ", " +
                          std::string(blockpage->country) + ")",
                      evidence, {Signature::blockpage});
        }
      }
    }
  }
  if (const auto offline = direct_offline(o)) {
    evidence.direct(*offline);
    return make(Status::inconclusive, "the vantage point seems offline: nothing resolves", evidence);
  }
  add_direct_failures(o, evidence);
  return make(Status::inconclusive, none + " and no censorship signature", evidence);
}

// Rule 4: every healthy control fails at the target too.
Verdict down(const Observed& o) {
  Evidence evidence;
  bool resolves_anywhere = false;
  for (const auto& [name, path] : o.result.paths) {
    for (const DnsQuery& query : path.queries) {
      resolves_anywhere = resolves_anywhere || (!is_injection(query) && usable(query));
    }
  }
  add_direct_failures(o, evidence);
  for (const Control& control : o.controls) {
    for (const DnsQuery& query : control.observations->queries) {
      if (query.failure) {
        evidence.control(answer_text(control.name, query));
      }
    }
    for (const EndpointObservation& endpoint : control.observations->endpoints) {
      const Attempt attempted = read_attempt(endpoint, o.kind);
      if (attempted.outcome == Outcome::failed) {
        evidence.control(failure_text(control.name, endpoint, attempted, false));
      }
    }
  }
  if (!o.congested.empty() && std::none_of(o.controls.begin(), o.controls.end(),
                                           [&o](const Control& control) { return shows_down(o, control); })) {
    std::string paths;
    for (const std::string& name : o.congested) {
      paths += (paths.empty() ? "" : ", ") + name;
    }
    Verdict verdict = make(Status::inconclusive,
                           "fails over every path, but only by timeouts on a congested path (" + paths +
                               "): the link, not the target, may be what failed",
                           evidence);
    verdict.signatures.push_back(Signature::congested);
    return verdict;
  }
  if (!resolves_anywhere && !o.ip_literal()) {
    return make(Status::down, "the name resolves over no path: the target itself seems down", evidence);
  }
  return make(Status::down, "fails over every healthy control path too: the target itself seems down", evidence);
}

// What the control's own answers give from direct: the other half of a DNS finding.
void add_control_address_evidence(const Observed& o, Evidence& evidence) {
  for (const Control& control : o.controls) {
    for (const DnsQuery& query : control.observations->queries) {
      if (!usable(query)) {
        continue;
      }
      for (const DnsAnswer& answer : query.answers) {
        const EndpointObservation* ours = is_address(answer) ? o.direct_at(answer.value) : nullptr;
        std::string control_name;
        const EndpointObservation* theirs =
            ours != nullptr ? o.working_control_at(answer.value, &control_name) : nullptr;
        if (theirs != nullptr && read_attempt(*ours, o.kind).outcome == Outcome::works) {
          evidence.direct(success_text(o.direct_name, *ours, o.kind) + " (control's address)");
          evidence.control(success_text(control_name, *theirs, o.kind));
          return;
        }
      }
    }
  }
}

// What rule 5 finds, layer by layer: the first finding of each layer, and the direct failures
// that could not count (not confirmed by a re-test; TCP failing after an earlier trigger).
struct Comparison {
  std::array<std::optional<Finding>, layer_count> layers;
  bool unconfirmed = false;
  bool residual = false;

  void set(Layer layer, Finding finding) {
    if (!layers[layer]) {
      layers[layer] = std::move(finding);
    }
  }
  bool any_layer() const {
    return std::any_of(layers.begin(), layers.end(), [](const auto& layer) { return layer.has_value(); });
  }
};

// Rule 5 at one direct endpoint, compared with a healthy control's working endpoint at the same
// address: an interceptor's root or content that is not the site's where direct works; else the
// layer its confirmed failure shows.
void compare_endpoint(const Observed& o, const EndpointObservation& endpoint, Evidence& evidence,
                      Comparison& found) {
  std::string control_name;
  const EndpointObservation* reference = o.working_control_at(endpoint.address, &control_name);
  if (!o.good(endpoint.address) || reference == nullptr) {
    return;  // compared only at addresses that serve the target where a healthy control used them
  }
  const Attempt attempted = read_attempt(endpoint, o.kind);
  if (attempted.outcome == Outcome::works) {
    if (const auto root = mitm_root(o, endpoint)) {
      evidence.direct(o.direct_name + " " + address_port(endpoint) + " tls root " + *endpoint.tls->root);
      evidence.control(control_name + " " + address_port(endpoint) + " tls root " + *root);
      found.set(tls_layer, {"tls: mitm: the chain validates under another root on direct (" + *endpoint.tls->root +
                                ") than over control (" + *root + ")",
                            {Signature::mitm}});
    } else if (const auto problem = content_problem(o, endpoint)) {
      evidence.direct(success_text(o.direct_name, endpoint, o.kind) + " (" + *problem + ")");
      evidence.control(success_text(control_name, *reference, o.kind));
      const bool blockpage = find_blockpage(*endpoint.http).has_value();
      found.set(http_layer, {"http: " + *problem, {blockpage ? Signature::blockpage : Signature::http_differs}});
    }
    return;
  }
  const std::optional<Layer> layer = attempted.outcome == Outcome::failed ? layer_of(attempted) : std::nullopt;
  if (!layer) {
    return;
  }
  evidence.direct(failure_text(o.direct_name, endpoint, attempted));
  if (*layer == tcp_ip_layer && endpoint.residual) {
    found.residual = true;
    return;
  }
  if (!attempted.confirmed) {
    found.unconfirmed = true;
    return;
  }
  evidence.control(success_text(control_name, *reference, o.kind));
  found.set(*layer, describe(*layer, endpoint, attempted));
}

// Blocked: every layer found, in layer order (`method` is the first), with their signatures, and
// `residual` beside them when TCP also failed after an earlier trigger.
Verdict blocked(const Comparison& found, const Evidence& evidence) {
  Verdict verdict;
  std::string detail;
  for (std::size_t layer = 0; layer < layer_count; ++layer) {
    if (found.layers[layer]) {
      verdict.methods.emplace_back(k_layer_names[layer]);
      detail += (detail.empty() ? "" : "; ") + found.layers[layer]->detail;
      verdict.signatures.insert(verdict.signatures.end(), found.layers[layer]->signatures.begin(),
                                found.layers[layer]->signatures.end());
    }
  }
  if (found.residual) {
    verdict.signatures.push_back(Signature::residual);
  }
  verdict.status = Status::blocked;
  verdict.method = verdict.methods.front();
  verdict.detail = detail;
  verdict.evidence = evidence.lines();
  return verdict;
}

// Rule 5: direct fails or differs while a healthy control works.
Verdict compare(const Observed& o) {
  Evidence evidence;
  if (const auto offline = direct_offline(o)) {
    evidence.direct(*offline);
    return make(Status::inconclusive, "the vantage point seems offline: nothing resolves over direct", evidence);
  }
  Comparison found;
  if (!o.ip_literal()) {
    for (const auto& [type, line] : control_resolutions(o)) {
      evidence.control(line);
    }
  }
  if (std::optional<Finding> dns = dns_evidence(o)) {
    evidence.direct(dns->evidence);
    add_control_address_evidence(o, evidence);
    found.set(dns_layer, std::move(*dns));
  }
  for (const EndpointObservation& endpoint : o.direct().endpoints) {
    compare_endpoint(o, endpoint, evidence, found);
  }
  if (found.any_layer()) {
    return blocked(found, evidence);
  }
  if (found.unconfirmed) {
    return make(Status::inconclusive,
                "not re-tested: a direct step failed once, which is not enough to call it blocked", evidence);
  }
  if (found.residual) {
    return make(
        Status::inconclusive,
        "residual blocking after an earlier trigger: TCP fails where a TLS handshake was cut earlier in the run",
        evidence, {Signature::residual});
  }
  add_direct_failures(o, evidence);
  if (const DnsQuery* query = o.kind == Kind::dns ? answered_injection(o) : nullptr) {
    evidence.direct(answer_text(o.direct_name, *query, "a query to an address that runs no DNS server"));
  }
  return make(Status::inconclusive, "no layer of blocking: " + why_no_layer(o), evidence);
}

}  // namespace

}  // namespace judging

Verdict judge(const TargetResult& result, const std::vector<PathStatus>& paths, bool interrupted) {
  using namespace judging;
  const Observed observed(result, paths);
  // Rule 1: a step or query cut short by the end of the run is no evidence of anything.
  // (When the whole run was interrupted, no one line is shown.)
  const std::optional<Interruption> cut = interrupted ? std::nullopt : interruption(observed);
  if (interrupted || cut) {
    Evidence evidence;
    if (cut) {
      cut->on_direct ? evidence.direct(cut->line) : evidence.control(cut->line);
    }
    return make(Status::inconclusive, "interrupted", evidence, {Signature::interrupted});
  }
  // Rule 2: the direct path works with its own DNS answers.
  if (std::optional<Verdict> accessible = direct_works(observed)) {
    return *accessible;
  }
  // Rule 3: no healthy control path.
  if (observed.controls.empty()) {
    return without_control(observed);
  }
  // Rule 4: every healthy control fails at the target too.
  if (std::none_of(observed.controls.begin(), observed.controls.end(),
                   [](const Control& control) { return control.state == ControlState::works; })) {
    return down(observed);
  }
  // Rule 5: direct fails or differs while a healthy control works.
  return compare(observed);
}

}  // namespace probe
