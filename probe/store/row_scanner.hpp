#pragma once

#include <optional>
#include <string>
#include <vector>

#include "store/report_reader.hpp"

// The history index and the summary need a few fields of each report (run_id, started_at,
// vantage, interrupted, and per result the key and the verdict's status and method), from thousands of
// reports: this reads them in one SAX pass without building the JSON tree (several times faster
// than parsing the whole report, whose results are mostly raw observations).
namespace probe {

struct ScannedReport {
  std::string run_id;
  std::vector<RunRow> rows;
};

// The rows of the report in `text` (the JSON of `file_name`, named `where` in errors). nullopt
// when `text` is JSON but not a report (no schema_version at its top level) and `allow_other` is
// set; throws UserError 65 otherwise: not JSON, an unknown schema_version, no results.
std::optional<ScannedReport> scan_report_rows(const std::string& text, const std::string& file_name,
                                              const std::string& where, bool allow_other);

// The same for a listed file (read with read_report_text: .json or .json.gz).
std::optional<ScannedReport> scan_listed_report(const ReportFile& file);

}  // namespace probe
