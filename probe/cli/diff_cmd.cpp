#include <iostream>
#include <memory>
#include <string>

#include "analyst/diff.hpp"
#include "cli/commands.hpp"
#include "core/exit_codes.hpp"

namespace probe {

namespace {

struct DiffOptions {
  std::string old_report;
  std::string new_report;
  bool json = false;
};

int diff(const DiffOptions& options) {
  const LoadedReport old_report = load_report(options.old_report);
  const LoadedReport new_report = load_report(options.new_report);
  const ReportDiff found = diff_reports(old_report, new_report);
  if (options.json) {
    std::cout << diff_json(found).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    std::cout << render_diff(found);
  }
  return found.same() ? exit_code::k_ok : exit_code::k_differences;
}

}  // namespace

void add_diff_command(CLI::App& app, std::vector<Command>& commands) {
  auto options = std::make_shared<DiffOptions>();
  CLI::App* diff_app = app.add_subcommand(
      "diff", "What changed per target between two reports (exit 0 when nothing did, 1 when something did)");
  diff_app->add_option("old", options->old_report, "The earlier report (.json or .json.gz)")->required();
  diff_app->add_option("new", options->new_report, "The later report (.json or .json.gz)")->required();
  diff_app->add_flag("--json", options->json, "Print the changes as JSON on stdout");
  commands.push_back({diff_app, [options]() { return diff(*options); }});
}

}  // namespace probe
