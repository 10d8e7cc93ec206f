#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/report_reader.hpp"

// `probe summary`: per target (and per vantage, country or ASN with --by), how often it was
// blocked over the runs given, the way GreatFire.org publishes it. A test is a run that measured
// the target to the end and compared it with a healthy control: its verdict is accessible, blocked,
// restricted or down, and the run was not interrupted. Percent blocked = blocked tests / tests,
// percent restricted = restricted tests / tests (null with no test). Anomaly, inconclusive and
// unjudged results and every result of an interrupted run are not tests: they are counted beside.
namespace probe {

struct TargetSummary {
  std::string group;  // the --by value ("" without --by; "-" when the report has no such label)
  TargetKey key;
  std::size_t found = 0;  // runs that had the target, tests or not
  std::size_t tests = 0;  // blocked + restricted + accessible + down
  std::size_t blocked = 0;
  std::size_t restricted = 0;  // schema_version 2: works over direct, stalled or throttled there
  std::size_t accessible = 0;
  std::size_t down = 0;
  // Not tests. A result of an interrupted run counts under `interrupted` whatever its verdict.
  std::size_t anomaly = 0;
  std::size_t inconclusive = 0;
  std::size_t unjudged = 0;
  std::size_t interrupted = 0;
  std::optional<double> blocked_percent;     // 0-100, of the tests
  std::optional<double> restricted_percent;  // 0-100, of the tests
  std::optional<std::string> first_tested;   // started_at of the tests
  std::optional<std::string> last_tested;
  std::optional<std::string> first_blocked;  // started_at of the blocked tests
  std::optional<std::string> last_blocked;
  // "blocked" when at least half the tests found it blocked, "restricted" when blocked and
  // restricted tests together are at least half, "not blocked" otherwise, "not enough data" with
  // no test.
  std::string verdict;
  std::optional<std::string> latest_status;  // of the latest run, a test or not
  std::optional<std::string> latest_method;
};

// `by` is "", "vantage", "cc", "asn" or "signature" (a run counts once under each signature of its
// verdict, under "-" when it has none). A run counted twice (the same report given twice, or as
// .json and .json.gz) counts once. Sorted by group, then key.
std::vector<TargetSummary> summarise(std::vector<RunRow> rows, const std::string& by);

// The runs of the targets that carried `signature` in at least one of `rows` (every run of such a
// target is kept, so its percentages stay those of all its runs).
std::vector<RunRow> with_signature(std::vector<RunRow> rows, const std::string& signature);

// A readable table with a header line.
std::string render_summary_table(const std::vector<TargetSummary>& summaries, const std::string& by);
// CSV (RFC 4180) with a header row: the greatfire fields in their order, the group's first with --by.
std::string render_summary_csv(const std::vector<TargetSummary>& summaries, const std::string& by);
// A JSON array, one object per target with these fields in this order (the group's first with
// --by): url, host, app, port, kind, found, tests, blocked, restricted, accessible, down, anomaly,
// inconclusive, unjudged, interrupted, blocked_percent, restricted_percent (one decimal),
// first_tested, last_tested, first_blocked, last_blocked, verdict, latest_status, latest_method.
nlohmann::ordered_json greatfire_json(const std::vector<TargetSummary>& summaries, const std::string& by);

// One CSV field, quoted when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& text);

}  // namespace probe
