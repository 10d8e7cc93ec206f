#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "analyst/ooni_export.hpp"
#include "cli/commands.hpp"
#include "cli/option_checks.hpp"
#include "core/exit_codes.hpp"

namespace probe {

namespace {

struct ExportOptions {
  std::string format = "ooni";
  std::vector<std::string> reports;
  std::string probe_asn;
  std::string probe_cc;
};

std::optional<std::string> non_empty(const std::string& text) {
  return text.empty() ? std::nullopt : std::optional<std::string>(text);
}

int export_reports(const ExportOptions& options) {
  // Every report is read (and checked) before anything is printed: a bad one gives no partial output.
  std::vector<LoadedReport> reports;
  for (const std::string& path : options.reports) {
    reports.push_back(load_report(path));
  }
  if (options.format == "csv") {
    std::cout << export_csv_header();
    for (const LoadedReport& report : reports) {
      std::cout << export_csv_rows(report);
    }
    return exit_code::k_ok;
  }
  const OoniOptions ooni{non_empty(options.probe_asn), non_empty(options.probe_cc)};
  for (const LoadedReport& report : reports) {
    for (const std::string& warning : ooni_vantage(report, ooni).warnings) {
      std::cerr << "probe: warning: " << warning << "\n";
    }
  }
  for (const LoadedReport& report : reports) {
    for (const nlohmann::json& measurement : ooni_measurements(report, ooni)) {
      std::cout << measurement.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    }
  }
  return exit_code::k_ok;
}

}  // namespace

void add_export_command(CLI::App& app, std::vector<Command>& commands) {
  auto options = std::make_shared<ExportOptions>();
  CLI::App* export_app = app.add_subcommand(
      "export", "Reports as OONI measurements (JSON lines, one per target) or CSV (one row per target and path)");
  export_app->add_option("--format", options->format, "ooni (default) or csv")->check(CLI::IsMember({"ooni", "csv"}));
  export_app->add_option("reports", options->reports, "Report files (.json, .json.gz)")->required();
  export_app
      ->add_option("--probe-asn", options->probe_asn,
                   "probe_asn to write, AS<number> (default: the report's, else AS0, which OONI discards)")
      ->check(asn_option());
  export_app
      ->add_option("--probe-cc", options->probe_cc,
                   "probe_cc to write, two letters (default: the report's, else ZZ, which OONI discards)")
      ->check(cc_option());
  commands.push_back({export_app, [options]() { return export_reports(*options); }});
}

}  // namespace probe
