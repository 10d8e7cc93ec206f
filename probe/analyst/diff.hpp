#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/observations.hpp"
#include "store/report_reader.hpp"

// `probe diff OLD NEW`: what changed for each target between two reports. A target is matched by
// its key (app, host, port, kind, url); the compared fields are the verdict's status, method and
// signatures (as a set), and on the direct path the failing step, the DNS answers (A and AAAA values, as a set), and the
// HTTP statuses and page titles of its own addresses.
namespace probe {

// A compared field's value in one report: a string, null, or an array (answers, statuses, titles).
struct FieldChange {
  std::string field;  // status, method, signatures, failing_step, dns_answers, http_status, http_title
  nlohmann::json old_value;
  nlohmann::json new_value;
};

struct TargetChange {
  TargetKey key;
  std::vector<FieldChange> changes;
};

// A target present in one report only, with its compared fields.
struct TargetPresence {
  TargetKey key;
  nlohmann::json fields;  // field name -> value
};

struct ReportDiff {
  nlohmann::json old_report;  // file, run_id, started_at
  nlohmann::json new_report;
  std::vector<TargetChange> changed;  // in key order
  std::vector<TargetPresence> added;
  std::vector<TargetPresence> removed;
  std::size_t unchanged = 0;
  bool same() const { return changed.empty() && added.empty() && removed.empty(); }
};

// The compared fields of one result, as an object (field name -> value).
nlohmann::json compared_fields(const TargetResult& result);

ReportDiff diff_reports(const LoadedReport& old_report, const LoadedReport& new_report);

// {"old": {...}, "new": {...}, "changed": [{key..., "changes": [{field, old, new}]}],
//  "added": [{key..., "fields": {...}}], "removed": [...], "unchanged": N}
nlohmann::json diff_json(const ReportDiff& diff);

// A table, one line per changed field, added or removed target, and a last line of counts.
std::string render_diff(const ReportDiff& diff);

}  // namespace probe
