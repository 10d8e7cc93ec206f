#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

namespace probe {

// A subcommand and what runs when the command line chose it. Commands run after parsing (and
// after logging is set up); they return the exit code or throw UserError.
struct Command {
  CLI::App* app;
  std::function<int()> run;
  // What the command checks of its options before it does anything (empty: nothing beyond the
  // parser's own checks); `probe schedule` runs it on the run's options so a line cron would
  // refuse every time is refused once, now. Throws UserError as `run` would.
  std::function<void()> check = {};
};

void add_targets_commands(CLI::App& app, std::vector<Command>& commands);
void add_run_command(CLI::App& app, std::vector<Command>& commands);
void add_recover_command(CLI::App& app, std::vector<Command>& commands);
// `app` is the top-level command: schedule reads its --config and what that file gave the run.
void add_schedule_command(CLI::App& app, std::vector<Command>& commands);
void add_diff_command(CLI::App& app, std::vector<Command>& commands);
void add_history_command(CLI::App& app, std::vector<Command>& commands);
void add_summary_command(CLI::App& app, std::vector<Command>& commands);
void add_export_command(CLI::App& app, std::vector<Command>& commands);

struct TargetSelection;
// --targets, --url and --app, shared by every subcommand that reads targets.
void add_selection_options(CLI::App& command, TargetSelection& selection);
// The selection, with the default target folder when none was given.
TargetSelection with_default_targets(TargetSelection selection);

// The default --targets: the first folder of default_targets_folders() (cli/default_targets.hpp)
// that exists, logged at info level. Throws UserError 66 when none does.
std::string default_targets_path();

}  // namespace probe
