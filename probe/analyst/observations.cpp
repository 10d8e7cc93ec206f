#include "analyst/observations.hpp"

#include <algorithm>
#include <set>
#include <tuple>

namespace probe {

namespace {

using nlohmann::json;

constexpr const char* k_steps[] = {"tcp", "tls", "http", "stun"};

const json& items(const json& observations, const char* key) {
  static const json empty = json::array();
  const auto found = observations.find(key);
  return found != observations.end() && found->is_array() ? *found : empty;
}

bool failed(const json& step) { return step.is_object() && step.contains("failure") && !step["failure"].is_null(); }

std::string failure_text(const json& failure) { return failure.is_string() ? failure.get<std::string>() : failure.dump(); }

bool is_own(const json& endpoint, const std::string& path) {
  const json& sources = items(endpoint, "sources");
  return sources.empty() || std::find(sources.begin(), sources.end(), json(path)) != sources.end();
}

bool works(const json& endpoint) {
  if (endpoint.contains("not_tested") && !endpoint["not_tested"].is_null()) {
    return false;
  }
  bool any = false;
  for (const char* step : k_steps) {
    const auto found = endpoint.find(step);
    if (found != endpoint.end() && found->is_object()) {
      any = true;
      if (failed(*found)) {
        return false;
      }
    }
  }
  return any;
}

template <typename T>
std::vector<T> sorted(std::set<T> values) {
  return std::vector<T>(values.begin(), values.end());
}

}  // namespace

const json* path_observations(const json& result, const std::string& path) {
  const auto paths = result.find("paths");
  if (paths == result.end() || !paths->is_object()) {
    return nullptr;
  }
  const auto found = paths->find(path);
  return found != paths->end() && found->is_object() ? &*found : nullptr;
}

std::optional<std::string> failing_step(const json& result, const std::string& path) {
  const json* observed = path_observations(result, path);
  if (observed == nullptr) {
    return "not tested";
  }
  const json& queries = items(*observed, "queries");
  const json& endpoints = items(*observed, "endpoints");
  const bool answered = std::any_of(queries.begin(), queries.end(), [](const json& query) { return !failed(query); });
  if (result.value("kind", "") == "dns") {
    if (answered) {
      return std::nullopt;
    }
  } else if (std::any_of(endpoints.begin(), endpoints.end(),
                         [&](const json& endpoint) { return is_own(endpoint, path) && works(endpoint); })) {
    return std::nullopt;
  }
  if (!queries.empty() && !answered) {
    const json& first = queries.front();
    return "dns " + (failed(first) ? failure_text(first["failure"]) : std::string("failed"));
  }
  std::vector<const json*> ordered;
  for (const json& endpoint : endpoints) {
    ordered.push_back(&endpoint);
  }
  std::stable_sort(ordered.begin(), ordered.end(), [&](const json* a, const json* b) {
    return std::make_tuple(!is_own(*a, path), a->value("family", 0)) <
           std::make_tuple(!is_own(*b, path), b->value("family", 0));
  });
  for (const json* endpoint : ordered) {
    for (const char* step : k_steps) {
      const auto found = endpoint->find(step);
      if (found != endpoint->end() && failed(*found)) {
        return std::string(step) + " " + failure_text((*found)["failure"]);
      }
    }
  }
  return "not tested";
}

std::vector<std::string> dns_answers(const json& result, const std::string& path) {
  std::set<std::string> values;
  if (const json* observed = path_observations(result, path)) {
    for (const json& query : items(*observed, "queries")) {
      for (const json& answer : items(query, "answers")) {
        const std::string type = answer.value("type", "");
        if ((type == "A" || type == "AAAA") && answer.contains("value") && answer["value"].is_string()) {
          values.insert(answer["value"].get<std::string>());
        }
      }
    }
  }
  return sorted(std::move(values));
}

std::vector<long long> http_statuses(const json& result, const std::string& path) {
  std::set<long long> values;
  if (const json* observed = path_observations(result, path)) {
    for (const json& endpoint : items(*observed, "endpoints")) {
      const auto http = endpoint.find("http");
      if (is_own(endpoint, path) && http != endpoint.end() && http->is_object() && http->contains("status") &&
          (*http)["status"].is_number_integer()) {
        values.insert((*http)["status"].get<long long>());
      }
    }
  }
  return sorted(std::move(values));
}

std::vector<std::string> http_titles(const json& result, const std::string& path) {
  std::set<std::string> values;
  if (const json* observed = path_observations(result, path)) {
    for (const json& endpoint : items(*observed, "endpoints")) {
      const auto http = endpoint.find("http");
      if (is_own(endpoint, path) && http != endpoint.end() && http->is_object() && http->contains("title") &&
          (*http)["title"].is_string()) {
        values.insert((*http)["title"].get<std::string>());
      }
    }
  }
  return sorted(std::move(values));
}

std::vector<std::string> query_failures(const json& result, const std::string& path) {
  std::set<std::string> values;
  if (const json* observed = path_observations(result, path)) {
    for (const json& query : items(*observed, "queries")) {
      if (failed(query)) {
        values.insert(failure_text(query["failure"]));
      }
    }
  }
  return sorted(std::move(values));
}

std::vector<std::string> step_failures(const json& result, const std::string& path, const std::string& step) {
  std::set<std::string> values;
  if (const json* observed = path_observations(result, path)) {
    for (const json& endpoint : items(*observed, "endpoints")) {
      const auto found = endpoint.find(step);
      if (found != endpoint.end() && failed(*found)) {
        values.insert(failure_text((*found)["failure"]));
      }
    }
  }
  return sorted(std::move(values));
}

std::vector<std::string> path_names(const json& result) {
  std::vector<std::string> names;
  const auto paths = result.find("paths");
  if (paths == result.end() || !paths->is_object()) {
    return names;
  }
  for (const auto& [name, observed] : paths->items()) {
    names.push_back(name);
  }
  std::stable_sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    return std::make_tuple(a != "direct", a) < std::make_tuple(b != "direct", b);
  });
  return names;
}

}  // namespace probe
