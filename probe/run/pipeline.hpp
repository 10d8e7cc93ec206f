#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "engine/engine.hpp"
#include "model/observations.hpp"
#include "net/event_loop.hpp"
#include "report/report.hpp"
#include "store/output_lock.hpp"
#include "store/retention.hpp"
#include "targets/loader.hpp"

// A run from settings to a stored report: the targets measured on every path (engine/), each
// result judged (verdict/), the report written into its folder under the folder's lock, beside the
// crash log it replaces (store/), then retention and the history index. No option parsing and no
// human output: `probe run` (cli/run_cmd.cpp) turns its options into a RunRequest and prints the
// outcome.
namespace probe {

// Each path of a run as the report describes it, direct first, then `controls` in order, with the
// interface each leaves by, found before anything is measured. A control interface that does not
// exist is refused (UserError 78), and so is one the direct path leaves by too: that is not a
// control at all. A direct path that leaves by a tunnel device is probably a system-wide VPN:
// measured, with a warning, since "direct" is then not the network the volunteer thinks it is.
std::vector<PathInfo> describe_paths(const std::vector<ControlSettings>& controls);

struct RunRequest {
  LoadedTargets targets;  // the lists (the report's target_lists) and the targets measured, in order
  // The engine's settings. `stop_fd` and `on_progress` are the caller's; `on_target_done` (the
  // crash log) and `on_own_address` (the scrubber) are the pipeline's own and replaced.
  RunSettings settings;
  std::vector<PathInfo> paths;  // describe_paths(settings.controls)
  Vantage vantage;
  nlohmann::json options = nlohmann::json::object();  // the report's `options`
  std::filesystem::path folder;                        // the reports folder, created when missing
  RetentionPolicy retention;                           // applied once the report is written
  SystemTime started_at = std::chrono::system_clock::now();  // the report's started_at
  MonoTime run_start = EventLoop::now();                     // the engine's clock origin
  // Called once the engine is done, before anything is logged about what it measured (where a
  // progress line is erased).
  std::function<void()> on_measured;
};

struct RunOutcome {
  Report report;               // as written; `interrupted` when stop_fd fired
  std::filesystem::path path;  // the report file
  // The folder's lock, still held: another run in the folder starts only once the outcome goes,
  // after the caller's output.
  std::unique_ptr<const OutputLock> lock;
};

// Takes the folder's lock (UserError 75 when another run holds it, 73 when the folder cannot be
// made), opens the crash log, measures, judges each result (once per target in the crash log, as
// known then, and again at the end), writes the report, removes the crash log, applies retention
// and indexes the report. Throws UserError 73/74 when the crash log or the report cannot be
// written; a history index that cannot be updated is only a warning.
RunOutcome run_pipeline(const RunRequest& request);

}  // namespace probe
