#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/report_reader.hpp"

// The history index: <reports folder>/history.sqlite, one row per target per run (run_id,
// started_at, vantage id/asn/cc, app, host, port, kind, url, status, method, signatures, whether the
// run was interrupted, report file), unique on the run and the target's key, so indexing a report
// twice changes nothing. The JSON reports stay the source of truth: the index can always be rebuilt
// from them, and it only speeds up summaries. Reports removed by retention keep their rows (history
// outlives the files).
namespace probe {

inline constexpr const char* k_history_file_name = "history.sqlite";

std::filesystem::path history_path(const std::filesystem::path& folder);

// Adds `report` (written as `file_name` in `folder`) to the folder's index, creating the index
// when missing. Throws UserError (73 cannot create, 74 cannot write) or std::runtime_error.
void index_report(const std::filesystem::path& folder, const nlohmann::json& report, const std::string& file_name);

struct RebuildOutcome {
  std::size_t reports = 0;  // report files indexed
  std::size_t rows = 0;     // rows written
  std::size_t skipped = 0;  // JSON files in the folder that are not reports
  std::vector<std::string> damaged;  // report files that could not be read (each named in a warning)
};

// Indexes every report file (.json and .json.gz) in `folder`, in one transaction. Rows of reports
// no longer in the folder are kept. A report that cannot be read (truncated, a wrong type, too
// large) is skipped with a warning naming it and why. An index SQLite finds damaged is moved
// aside (history.sqlite.damaged, with a warning) and made again from the reports. Throws
// UserError 66 (no folder), 73/74.
RebuildOutcome rebuild_history(const std::filesystem::path& folder);

// Whether `folder` has an index of this probe's layout that holds every report file now in it (by
// name, with or without .gz, so compression does not make it stale).
bool history_up_to_date(const std::filesystem::path& folder);

struct HistoryFilter {
  std::optional<std::string> since;  // RFC 3339 UTC: runs started at or after it
  std::vector<std::string> apps;     // empty: every app
};

// The index's rows, in (started_at, run_id) order. Throws UserError 66/65, DamagedDatabase (74)
// for an index SQLite finds damaged.
std::vector<RunRow> read_history(const std::filesystem::path& index_file, const HistoryFilter& filter);

}  // namespace probe
