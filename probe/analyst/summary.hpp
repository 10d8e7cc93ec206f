#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/report_reader.hpp"

// `probe summary`: per target (and per vantage, country or ASN with --by), how often it was
// blocked over the runs given, the way GreatFire.org publishes it: percent blocked = blocked /
// (blocked + accessible). Anomaly, down and inconclusive runs (and unjudged ones) are counted and
// shown beside it but are not in the denominator; with no blocked or accessible run the
// percentage is null.
namespace probe {

struct TargetSummary {
  std::string group;  // the --by value ("" without --by; "-" when the report has no such label)
  TargetKey key;
  std::size_t runs = 0;
  std::size_t blocked = 0;
  std::size_t accessible = 0;
  std::size_t anomaly = 0;
  std::size_t restricted = 0;  // schema_version 2: works over direct, stalled or throttled there
  std::size_t down = 0;
  std::size_t inconclusive = 0;
  std::size_t unjudged = 0;
  std::optional<double> blocked_percent;  // 0-100
  std::optional<std::string> first_blocked;  // started_at of the runs
  std::optional<std::string> last_blocked;
  std::string last_tested;
  std::optional<std::string> current_status;  // of the latest run
  std::optional<std::string> current_method;
  std::optional<std::string> latest_judged;  // "blocked" or "accessible": the latest run that was either
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
// CSV (RFC 4180) with a header row.
std::string render_summary_csv(const std::vector<TargetSummary>& summaries, const std::string& by);
// A JSON array, one object per target: url, host, app, port, kind, verdict ("blocked" / "not
// blocked" from the latest judged run, or null), blocked_percent, last_tested, first_blocked,
// last_blocked and the counts (and the group's field with --by).
nlohmann::json greatfire_json(const std::vector<TargetSummary>& summaries, const std::string& by);

// One CSV field, quoted when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& text);

}  // namespace probe
