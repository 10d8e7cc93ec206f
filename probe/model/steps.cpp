#include "model/steps.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <tuple>
#include <utility>

namespace probe {

std::string_view to_string(Step step) {
  switch (step) {
  case Step::tcp: return "tcp";
  case Step::tls: return "tls";
  case Step::http: return "http";
  case Step::stun: return "stun";
  }
  return "tcp";
}

std::optional<Step> step_from_string(std::string_view text) {
  for (Step step : k_all_steps) {
    if (to_string(step) == text) {
      return step;
    }
  }
  return std::nullopt;
}

std::span<const Step> step_plan(Kind kind) {
  static constexpr std::array<Step, 1> tcp{Step::tcp};
  static constexpr std::array<Step, 2> tls{Step::tcp, Step::tls};
  static constexpr std::array<Step, 2> http{Step::tcp, Step::http};
  static constexpr std::array<Step, 3> https{Step::tcp, Step::tls, Step::http};
  static constexpr std::array<Step, 1> stun{Step::stun};
  switch (kind) {
  case Kind::dns: return {};
  case Kind::tcp: return tcp;
  case Kind::tls: return tls;
  case Kind::http: return http;
  case Kind::https: return https;
  case Kind::stun: return stun;
  }
  return {};
}

const StepTiming* step_of(const EndpointObservation& endpoint, Step step) {
  switch (step) {
  case Step::tcp: return endpoint.tcp ? &*endpoint.tcp : nullptr;
  case Step::tls: return endpoint.tls ? &*endpoint.tls : nullptr;
  case Step::http: return endpoint.http ? &*endpoint.http : nullptr;
  case Step::stun: return endpoint.stun ? &*endpoint.stun : nullptr;
  }
  return nullptr;
}

std::vector<RecordedStep> recorded_steps(const EndpointObservation& endpoint) {
  std::vector<RecordedStep> out;
  for (Step step : k_all_steps) {
    if (const StepTiming* timing = step_of(endpoint, step)) {
      out.push_back({step, timing});
    }
  }
  return out;
}

std::optional<Step> first_failed_step(const EndpointObservation& endpoint) {
  for (const RecordedStep& recorded : recorded_steps(endpoint)) {
    if (recorded.timing->failure) {
      return recorded.step;
    }
  }
  return std::nullopt;
}

bool all_steps_passed(const EndpointObservation& endpoint) {
  const std::vector<RecordedStep> steps = recorded_steps(endpoint);
  return !endpoint.not_tested && !steps.empty() &&
         std::none_of(steps.begin(), steps.end(), [](const RecordedStep& step) { return step.timing->failure; });
}

bool is_own_address(const EndpointObservation& endpoint, const std::string& path) {
  return endpoint.sources.empty() ||
         std::find(endpoint.sources.begin(), endpoint.sources.end(), path) != endpoint.sources.end();
}

Attempt read_attempt(const EndpointObservation& endpoint, Kind kind) {
  Attempt out;
  if (endpoint.not_tested) {
    out.outcome = Outcome::not_tested;
    return out;
  }
  const std::span<const Step> plan = step_plan(kind);
  if (plan.empty()) {
    return out;
  }
  for (Step step : plan) {
    const StepTiming* timing = step_of(endpoint, step);
    if (timing == nullptr) {
      return out;  // never reached, with no failure before it: says nothing
    }
    if (timing->failure) {
      out.outcome = Outcome::failed;
      out.step = step;
      out.failure = *timing->failure;
      if (endpoint.retest && endpoint.retest->step == to_string(step)) {
        if (endpoint.retest->failure) {
          out.confirmed = true;
          out.retest_failure = endpoint.retest->failure;
        } else {
          out.outcome = Outcome::works;
          out.flaky = true;
        }
      }
      return out;
    }
  }
  out.outcome = Outcome::works;
  return out;
}

std::string path_reading(const TargetResult& result, const std::string& path) {
  const auto found = result.paths.find(path);
  if (found == result.paths.end()) {
    return "not tested";
  }
  const PathObservations& observed = found->second;
  const bool answered = std::any_of(observed.queries.begin(), observed.queries.end(),
                                    [](const DnsQuery& query) { return !query.failure; });
  if (result.target.kind == Kind::dns) {
    if (answered) {
      return "ok";
    }
  } else if (std::any_of(observed.endpoints.begin(), observed.endpoints.end(), [&](const EndpointObservation& endpoint) {
               return is_own_address(endpoint, path) && all_steps_passed(endpoint);
             })) {
    return "ok";
  }
  if (!observed.queries.empty() && !answered) {
    const DnsQuery& first = observed.queries.front();
    return "dns " + (first.failure ? std::string(to_string(first.failure->code)) : std::string("failed"));
  }
  std::vector<const EndpointObservation*> endpoints;
  for (const auto& endpoint : observed.endpoints) {
    endpoints.push_back(&endpoint);
  }
  std::stable_sort(endpoints.begin(), endpoints.end(), [&](const EndpointObservation* a, const EndpointObservation* b) {
    return std::make_tuple(!is_own_address(*a, path), a->family) < std::make_tuple(!is_own_address(*b, path), b->family);
  });
  for (const EndpointObservation* endpoint : endpoints) {
    if (const auto step = first_failed_step(*endpoint)) {
      return std::string(to_string(*step)) + " " + std::string(to_string(step_of(*endpoint, *step)->failure->code));
    }
  }
  return "not tested";
}

void mark_residual(std::vector<TargetResult>& results, const std::string& direct) {
  std::map<std::pair<std::string, std::uint16_t>, double> first_tls_failure;
  for (const TargetResult& result : results) {
    const auto path = result.paths.find(direct);
    if (path == result.paths.end()) {
      continue;
    }
    for (const EndpointObservation& endpoint : path->second.endpoints) {
      if (endpoint.tls && endpoint.tls->failure && endpoint.tls->failure->code != Failure::interrupted) {
        const auto key = std::make_pair(endpoint.address, endpoint.port);
        auto [it, inserted] = first_tls_failure.emplace(key, endpoint.tls->t0_ms);
        if (!inserted) {
          it->second = std::min(it->second, endpoint.tls->t0_ms);
        }
      }
    }
  }
  for (TargetResult& result : results) {
    const auto path = result.paths.find(direct);
    if (path == result.paths.end()) {
      continue;
    }
    for (EndpointObservation& endpoint : path->second.endpoints) {
      if (!endpoint.tcp || !endpoint.tcp->failure) {
        continue;
      }
      const auto it = first_tls_failure.find(std::make_pair(endpoint.address, endpoint.port));
      const double last_try = endpoint.retest ? endpoint.retest->t0_ms : endpoint.tcp->t0_ms;
      endpoint.residual = it != first_tls_failure.end() && it->second < last_try;
    }
  }
}

}  // namespace probe
