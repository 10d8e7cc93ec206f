#include "verdict/index.hpp"

#include <algorithm>

#include "dns/bogon.hpp"
#include "model/steps.hpp"
#include "verdict/blockpages.hpp"
#include "verdict/facts.hpp"

namespace probe::judging {

namespace {

// Each endpoint of `path` by address; the first where a path has two at one address.
std::map<std::string, const EndpointObservation*> by_address(const PathObservations& path) {
  std::map<std::string, const EndpointObservation*> out;
  for (const EndpointObservation& endpoint : path.endpoints) {
    out.emplace(endpoint.address, &endpoint);
  }
  return out;
}

const EndpointObservation* find_in(const std::map<std::string, const EndpointObservation*>& index,
                                   const std::string& address) {
  const auto found = index.find(address);
  return found != index.end() ? found->second : nullptr;
}

}  // namespace

const EndpointObservation* Control::at(const std::string& address) const { return find_in(by_address, address); }

Observed::Observed(const TargetResult& observed, const std::vector<PathStatus>& paths)
    : result(observed), target(observed.target), kind(observed.target.kind) {
  for (const PathStatus& path : paths) {
    if (!path.control) {
      direct_name = path.name;
      break;
    }
  }
  if (const auto found = result.paths.find(direct_name); found != result.paths.end()) {
    m_direct = &found->second;
    m_direct_by_address = by_address(found->second);
  }
  for (const PathStatus& path : paths) {
    if (path.congested) {
      congested.push_back(path.name);
    }
    const auto found = result.paths.find(path.name);
    if (!path.control || !path.healthy || found == result.paths.end()) {
      continue;
    }
    Control control{path.name, &found->second, classify(found->second), path.congested, by_address(found->second)};
    if (control.state != ControlState::silent) {
      controls.push_back(std::move(control));
    } else {
      silent_controls = true;
    }
  }
  m_ip_literal = parse_address(target.host).has_value();
  std::vector<const DnsQuery*> system;
  std::vector<const DnsQuery*> others;
  for (const DnsQuery& query : direct().queries) {
    if (is_system(query)) {
      system.push_back(&query);
    } else if (!is_injection(query)) {
      others.push_back(&query);
    }
  }
  m_own_queries = system.empty() ? others : system;
  if (m_ip_literal) {
    m_own_addresses.insert(target.host);
  } else {
    for (const DnsQuery* query : m_own_queries) {
      for (const DnsAnswer& answer : query->answers) {
        if (is_address(answer)) {
          m_own_addresses.insert(answer.value);
        }
      }
    }
  }
  find_good_addresses();
}

const PathObservations& Observed::direct() const {
  static const PathObservations empty;
  return m_direct != nullptr ? *m_direct : empty;
}

const EndpointObservation* Observed::direct_at(const std::string& address) const {
  return find_in(m_direct_by_address, address);
}

ControlState Observed::classify(const PathObservations& path) const {
  bool any_usable = false;
  bool dns_failed_at_target = false;
  for (const DnsQuery& query : path.queries) {
    any_usable = any_usable || usable(query);
    if (query.failure && query.failure->code != Failure::proxy_error) {
      dns_failed_at_target = true;
    }
  }
  dns_failed_at_target = dns_failed_at_target && !any_usable;
  if (kind == Kind::dns) {
    return any_usable ? ControlState::works : dns_failed_at_target ? ControlState::fails : ControlState::silent;
  }
  bool tested_failure = false;
  for (const EndpointObservation& endpoint : path.endpoints) {
    const Attempt attempted = read_attempt(endpoint, kind);
    if (attempted.outcome == Outcome::works) {
      return ControlState::works;
    }
    if (attempted.outcome == Outcome::failed && attempted.failure.code != Failure::proxy_error) {
      tested_failure = true;
    }
  }
  return tested_failure || dns_failed_at_target ? ControlState::fails : ControlState::silent;
}

void Observed::find_good_addresses() {
  if (uses_tls(kind)) {
    for (const auto& [name, path] : result.paths) {
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
  references = find_references();
  for (const Control& control : controls) {
    for (const EndpointObservation& endpoint : control.observations->endpoints) {
      if (read_attempt(endpoint, kind).outcome != Outcome::works) {
        continue;
      }
      if (kind == Kind::http && endpoint.http &&
          (find_blockpage(*endpoint.http) ||
           (!target.any_response && endpoint.http->status && !matches_reference(*endpoint.http)))) {
        continue;
      }
      m_good.insert(endpoint.address);
    }
  }
}

std::set<std::string> Observed::control_addresses(const Control& control) const {
  std::set<std::string> out;
  if (m_ip_literal) {
    out.insert(target.host);
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

std::vector<const HttpObservation*> Observed::find_references() const {
  std::vector<const HttpObservation*> out;
  if (kind != Kind::http) {
    return out;
  }
  for (const Control& control : controls) {
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

bool Observed::matches_reference(const HttpObservation& http) const {
  return references.empty() ||
         std::any_of(references.begin(), references.end(),
                     [&](const HttpObservation* control) { return responses_match(http, *control); });
}

bool Observed::near_good(const std::string& address) const {
  return std::any_of(m_good.begin(), m_good.end(),
                     [&](const std::string& other) { return same_network(address, other); });
}

const EndpointObservation* Observed::working_control_at(const std::string& address, std::string* path_name) const {
  for (const Control& control : controls) {
    if (const EndpointObservation* endpoint = control.at(address)) {
      if (read_attempt(*endpoint, kind).outcome == Outcome::works) {
        if (path_name != nullptr) {
          *path_name = control.name;
        }
        return endpoint;
      }
    }
  }
  return nullptr;
}

}  // namespace probe::judging
