#include "analyst/observations.hpp"

#include <algorithm>
#include <set>
#include <tuple>

namespace probe {

namespace {

const PathObservations& observed(const TargetResult& result, const std::string& path) {
  static const PathObservations none;
  const auto found = result.paths.find(path);
  return found != result.paths.end() ? found->second : none;
}

template <typename T>
std::vector<T> sorted(const std::set<T>& values) {
  return std::vector<T>(values.begin(), values.end());
}

}  // namespace

std::optional<std::string> failing_step(const TargetResult& result, const std::string& path) {
  std::string reading = path_reading(result, path);
  return reading == "ok" ? std::nullopt : std::optional<std::string>(std::move(reading));
}

std::vector<std::string> dns_answers(const TargetResult& result, const std::string& path) {
  std::set<std::string> values;
  for (const DnsQuery& query : observed(result, path).queries) {
    for (const DnsAnswer& answer : query.answers) {
      if (answer.type == "A" || answer.type == "AAAA") {
        values.insert(answer.value);
      }
    }
  }
  return sorted(values);
}

std::vector<long long> http_statuses(const TargetResult& result, const std::string& path) {
  std::set<long long> values;
  for (const EndpointObservation& endpoint : observed(result, path).endpoints) {
    if (is_own_address(endpoint, path) && endpoint.http && endpoint.http->status) {
      values.insert(*endpoint.http->status);
    }
  }
  return sorted(values);
}

std::vector<std::string> http_titles(const TargetResult& result, const std::string& path) {
  std::set<std::string> values;
  for (const EndpointObservation& endpoint : observed(result, path).endpoints) {
    if (is_own_address(endpoint, path) && endpoint.http && endpoint.http->title) {
      values.insert(*endpoint.http->title);
    }
  }
  return sorted(values);
}

std::vector<std::string> query_failures(const TargetResult& result, const std::string& path) {
  std::set<std::string> values;
  for (const DnsQuery& query : observed(result, path).queries) {
    if (query.failure) {
      values.insert(query.failure->str());
    }
  }
  return sorted(values);
}

std::vector<std::string> step_failures(const TargetResult& result, const std::string& path, Step step) {
  std::set<std::string> values;
  for (const EndpointObservation& endpoint : observed(result, path).endpoints) {
    if (const StepTiming* timing = step_of(endpoint, step); timing != nullptr && timing->failure) {
      values.insert(timing->failure->str());
    }
  }
  return sorted(values);
}

std::vector<std::string> path_names(const TargetResult& result) {
  std::vector<std::string> names;
  for (const auto& [name, path] : result.paths) {
    names.push_back(name);
  }
  std::stable_sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    return std::make_tuple(a != "direct", a) < std::make_tuple(b != "direct", b);
  });
  return names;
}

}  // namespace probe
