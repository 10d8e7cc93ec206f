// Fuzzes the reading of reports, the input of every analyst command (diff, export, summary,
// history): the whole reading (store/report_reader with model/report_json) and the scan of the
// few fields summary and the history index take (store/row_scanner). Every input either reads or
// is refused with exit 65 naming the file; nothing else is thrown. What the whole reading takes,
// the scan takes too, with the same rows; and every reader runs on what was read.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "analyst/diff.hpp"
#include "analyst/ooni_export.hpp"
#include "analyst/summary.hpp"
#include "core/exit_codes.hpp"
#include "fuzz_checks.hpp"
#include "store/report_reader.hpp"
#include "store/row_scanner.hpp"

namespace {

using nlohmann::json;

const std::string k_file = "reports/r.json";

void check_refusal(const probe::UserError& error) {
  const std::string message = error.what();
  if (error.exit_code() != probe::exit_code::k_data_error || !message.starts_with(k_file + ": ")) {
    probe::fuzz::fail("a report refused without exit 65 naming the file", message);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(probe::fuzz::as_text(data, size));
  std::optional<probe::LoadedReport> loaded;
  try {
    const json parsed = json::parse(text, nullptr, false);
    if (!parsed.is_discarded()) {
      loaded = probe::loaded_report(parsed, k_file);
    }
  } catch (const probe::UserError& error) {
    check_refusal(error);
  }
  std::optional<probe::ScannedReport> scanned;
  try {
    scanned = probe::scan_report_rows(text, "r.json", k_file, false);
  } catch (const probe::UserError& error) {
    check_refusal(error);
  }
  if (!loaded) {
    return 0;
  }
  if (!scanned) {
    probe::fuzz::fail("the scan refused a report the whole reading takes", text);
  }
  const std::vector<probe::RunRow> rows = probe::run_rows(loaded->json, "r.json");
  if (rows.size() != scanned->rows.size()) {
    probe::fuzz::fail("the scan and the whole reading give different rows", text);
  }
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].key != scanned->rows[i].key || rows[i].status != scanned->rows[i].status ||
        rows[i].method != scanned->rows[i].method || rows[i].signatures != scanned->rows[i].signatures) {
      probe::fuzz::fail("the scan and the whole reading read a result differently", text);
    }
  }
  // Every reader runs on what was read, without throwing.
  probe::render_diff(probe::diff_reports(*loaded, *loaded));
  probe::ooni_measurements(*loaded, {});
  probe::export_csv_rows(*loaded);
  const auto summaries = probe::summarise(scanned->rows, "target");
  probe::render_summary_table(summaries, "target");
  probe::greatfire_json(summaries, "app").dump(-1, ' ', false, json::error_handler_t::replace);
  return 0;
}
