#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/observations.hpp"
#include "model/steps.hpp"

// What one path saw of one target, from a result read back with model/report_json.hpp: the
// values diff and the CSV export compare and print. The path's reading (which step failed first,
// whether it got through) is model/steps.hpp's, the same the run's table shows.
namespace probe {

// The first failure on `path`, as "step failure" ("dns dns_nxdomain_error", "tls
// connection_reset"): model/steps.hpp's path_reading, with nullopt where it reads "ok".
std::optional<std::string> failing_step(const TargetResult& result, const std::string& path);

// The A and AAAA values the path's queries got, sorted, each once.
std::vector<std::string> dns_answers(const TargetResult& result, const std::string& path);

// The HTTP status codes and page titles of the responses on the path's own addresses, sorted,
// each once.
std::vector<long long> http_statuses(const TargetResult& result, const std::string& path);
std::vector<std::string> http_titles(const TargetResult& result, const std::string& path);

// The distinct failures of the DNS queries, or of `step` over the path's endpoints, sorted.
std::vector<std::string> query_failures(const TargetResult& result, const std::string& path);
std::vector<std::string> step_failures(const TargetResult& result, const std::string& path, Step step);

// The names of the paths of a result, direct first, then the others in name order.
std::vector<std::string> path_names(const TargetResult& result);

}  // namespace probe
