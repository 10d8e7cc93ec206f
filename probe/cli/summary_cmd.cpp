#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "store/history.hpp"
#include "store/parallel_load.hpp"
#include "store/row_scanner.hpp"
#include "store/sqlite_db.hpp"
#include "analyst/summary.hpp"
#include "cli/commands.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "model/signature.hpp"
#include "store/retention.hpp"

namespace probe {

namespace {

namespace fs = std::filesystem;

struct SummaryOptions {
  std::vector<std::string> inputs;
  std::string since;
  std::vector<std::string> apps;
  std::string by;
  std::string signature;
  std::string format = "table";
};

bool all_digits(const std::string& text, std::size_t from, std::size_t count) {
  return std::all_of(text.begin() + static_cast<long>(from), text.begin() + static_cast<long>(from + count),
                     [](char c) { return c >= '0' && c <= '9'; });
}

// "2026-11-01" or "2026-11-01T12:00:00Z" as RFC 3339 UTC, which compares as text.
std::string parse_since(const std::string& text) {
  const bool date = text.size() == 10 && all_digits(text, 0, 4) && text[4] == '-' && all_digits(text, 5, 2) &&
                    text[7] == '-' && all_digits(text, 8, 2);
  if (date) {
    return text + "T00:00:00Z";
  }
  if (text.size() == 20 && all_digits(text, 0, 4) && text[10] == 'T' && text[19] == 'Z') {
    return text;
  }
  throw UserError(exit_code::k_usage, "--since " + text + ": expected YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ (UTC)");
}

bool wanted(const RunRow& row, const std::vector<std::string>& apps) {
  return apps.empty() || std::find(apps.begin(), apps.end(), row.key.app) != apps.end();
}

// The runs of the report files among `inputs` (files, or folders without an up-to-date index).
std::vector<RunRow> rows_from_files(const std::vector<fs::path>& inputs, const HistoryFilter& filter) {
  std::vector<ReportFile> files;
  for (ReportFile& file : list_report_files(inputs)) {
    // A report's name gives its start time: older ones need not be read at all.
    const auto named = report_time_from_name(file.path.filename().string());
    if (!named || format_rfc3339_utc(*named) >= filter.since.value_or("")) {
      files.push_back(std::move(file));
    }
  }
  std::vector<RunRow> rows;
  load_in_order<ReportFile, std::vector<RunRow>>(
      files,
      [&filter](const ReportFile& file) {
        std::vector<RunRow> kept;
        std::optional<ScannedReport> scanned;
        try {
          scanned = scan_listed_report(file);
        } catch (const UserError& error) {
          if (!file.from_folder) {
            throw;  // a report named on the command line must be read
          }
          // One damaged report of a folder costs its own runs, not the summary (named on stderr).
          spdlog::warn("{}; skipped", error.what());
          return kept;
        }
        if (scanned) {
          for (RunRow& row : scanned->rows) {
            if (row.started_at >= filter.since.value_or("") && wanted(row, filter.apps)) {
              kept.push_back(std::move(row));
            }
          }
        }
        return kept;
      },
      [&rows](std::vector<RunRow>&& kept) { rows.insert(rows.end(), kept.begin(), kept.end()); });
  spdlog::debug("read {} report files", files.size());
  return rows;
}

int summary(const SummaryOptions& options) {
  HistoryFilter filter;
  filter.apps = options.apps;
  filter.since = options.since.empty()
                     ? format_rfc3339_utc(std::chrono::system_clock::now() - std::chrono::days(30))
                     : parse_since(options.since);
  std::vector<std::string> inputs = options.inputs;
  if (inputs.empty()) {
    inputs.push_back("reports");
  }
  std::vector<RunRow> rows;
  std::vector<fs::path> plain;
  for (const std::string& input : inputs) {
    std::error_code ec;
    std::optional<std::vector<RunRow>> indexed;
    if (fs::is_directory(input, ec)) {
      try {
        if (history_up_to_date(input)) {
          spdlog::debug("{}: reading the history index", input);
          indexed = read_history(history_path(input), filter);
        }
      } catch (const DamagedDatabase& error) {
        // The reports are the truth, the index only speeds them up: read them instead.
        spdlog::warn("{}; reading the reports instead (repair it with 'probe history rebuild --out {}')",
                     error.what(), input);
      }
    }
    if (indexed) {
      rows.insert(rows.end(), indexed->begin(), indexed->end());
    } else {
      plain.push_back(input);
    }
  }
  if (!plain.empty()) {
    std::vector<RunRow> read = rows_from_files(plain, filter);
    rows.insert(rows.end(), read.begin(), read.end());
  }
  if (!options.signature.empty()) {
    rows = with_signature(std::move(rows), options.signature);
  }
  const std::vector<TargetSummary> summaries = summarise(std::move(rows), options.by);
  if (summaries.empty()) {
    spdlog::warn("no run since {} matches", *filter.since);
  }
  if (options.format == "csv") {
    std::cout << render_summary_csv(summaries, options.by);
  } else if (options.format == "greatfire") {
    std::cout << greatfire_json(summaries, options.by).dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n";
  } else {
    std::cout << render_summary_table(summaries, options.by);
  }
  return exit_code::k_ok;
}

}  // namespace

void add_summary_command(CLI::App& app, std::vector<Command>& commands) {
  auto options = std::make_shared<SummaryOptions>();
  CLI::App* summary_app = app.add_subcommand(
      "summary", "Percent blocked per target over time, as GreatFire counts it (blocked tests / tests)");
  summary_app->footer(
      "A test is a run of the target that was not interrupted and whose verdict is accessible, blocked,\n"
      "restricted or down. Anomaly, inconclusive and unjudged results, and every result of an interrupted\n"
      "run, are not tests: they are counted beside.\n"
      "  found         runs that had the target, tests or not\n"
      "  blocked %     blocked tests / tests x 100 (none with no test)\n"
      "  restricted %  restricted tests / tests x 100 (none with no test)\n"
      "  verdict       over the window: blocked when at least half the tests were blocked, restricted when\n"
      "                blocked and restricted tests together are at least half, not blocked otherwise,\n"
      "                not enough data with no test\n"
      "  first/last tested, first/last blocked   the start times of those tests\n"
      "  latest        the status and method of the latest run, a test or not");
  summary_app->add_option("reports", options->inputs,
                          "Report files or folders (.json, .json.gz; default reports/); a folder's history index is "
                          "used when it is up to date");
  summary_app->add_option("--since", options->since, "Runs started on or after this UTC date (default: 30 days ago)");
  summary_app->add_option("--app", options->apps, "Only this app's targets; repeatable");
  summary_app->add_option("--by", options->by, "One line per target and vantage, country, ASN or verdict signature")
      ->check(CLI::IsMember({"vantage", "cc", "asn", "signature"}));
  std::vector<std::string> signatures;
  for (Signature signature : k_all_signatures) {
    signatures.emplace_back(to_string(signature));
  }
  summary_app
      ->add_option("--signature", options->signature,
                   "Only targets whose verdict carried this signature in a run of the window (all their runs "
                   "counted), e.g. sni")
      ->check(CLI::IsMember(signatures));
  summary_app->add_option("--format", options->format, "table (default), csv, or greatfire (JSON)")
      ->check(CLI::IsMember({"table", "csv", "greatfire"}));
  commands.push_back({summary_app, [options]() { return summary(*options); }});
}

}  // namespace probe
