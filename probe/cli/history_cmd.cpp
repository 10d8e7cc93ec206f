#include <iostream>
#include <memory>
#include <string>

#include <spdlog/spdlog.h>

#include "store/history.hpp"
#include "cli/commands.hpp"
#include "core/exit_codes.hpp"

namespace probe {

namespace {

struct HistoryOptions {
  std::string out = "reports";
};

int rebuild(const HistoryOptions& options) {
  const RebuildOutcome outcome = rebuild_history(options.out);
  spdlog::info("indexed {} reports ({} rows){}{}", outcome.reports, outcome.rows,
               outcome.skipped > 0 ? ", skipped " + std::to_string(outcome.skipped) + " JSON files that are not reports"
                                   : std::string(),
               outcome.damaged.empty() ? std::string()
                                       : ", left out " + std::to_string(outcome.damaged.size()) +
                                             " damaged reports (named above)");
  std::cout << history_path(options.out).string() << "\n";
  return exit_code::k_ok;
}

}  // namespace

void add_history_command(CLI::App& app, std::vector<Command>& commands) {
  auto options = std::make_shared<HistoryOptions>();
  CLI::App* history_app = app.add_subcommand("history", "The history index of a reports folder (history.sqlite)");
  history_app->require_subcommand(1);
  CLI::App* rebuild_app = history_app->add_subcommand(
      "rebuild", "Index every report (.json, .json.gz) of the folder; rows of reports no longer there are kept");
  rebuild_app->add_option("--out", options->out, "The reports folder (default reports/)");
  commands.push_back({rebuild_app, [options]() { return rebuild(*options); }});
}

}  // namespace probe
