#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

// What one path saw of one target, read from a report result's JSON (reports/README.md, "A
// result"): the values diff and export compare and print.
namespace probe {

// The path's observations (`queries`, `endpoints`), or nullptr when the path did not measure it.
const nlohmann::json* path_observations(const nlohmann::json& result, const std::string& path);

// The first failure on `path`, as "step failure" ("dns dns_nxdomain_error", "tls
// connection_reset"), read as `probe run`'s table reads it: nullopt when the path reached the
// target with its own DNS answers; DNS first when no query was answered; then the path's own
// addresses before the others', IPv4 before IPv6; "not tested" when no step ran.
std::optional<std::string> failing_step(const nlohmann::json& result, const std::string& path);

// The A and AAAA values the path's queries got, sorted, each once.
std::vector<std::string> dns_answers(const nlohmann::json& result, const std::string& path);

// The HTTP status codes and page titles of the responses on the path's own addresses, sorted,
// each once.
std::vector<long long> http_statuses(const nlohmann::json& result, const std::string& path);
std::vector<std::string> http_titles(const nlohmann::json& result, const std::string& path);

// The distinct failures of the DNS queries, or of step `step` ("tcp", "tls", "http", "stun") over
// the path's endpoints, sorted.
std::vector<std::string> query_failures(const nlohmann::json& result, const std::string& path);
std::vector<std::string> step_failures(const nlohmann::json& result, const std::string& path, const std::string& step);

// The names of the paths of a result, direct first, then the others in name order.
std::vector<std::string> path_names(const nlohmann::json& result);

}  // namespace probe
