#include "run/pipeline.hpp"

#include <chrono>
#include <cstddef>
#include <exception>
#include <string>
#include <utility>

#include <spdlog/spdlog.h>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "core/input_file.hpp"
#include "path/egress.hpp"
#include "path/path.hpp"
#include "report/scrub.hpp"
#include "store/history.hpp"
#include "store/partial_log.hpp"
#include "verdict/verdict.hpp"

namespace probe {

namespace {

std::vector<PathStatus> path_statuses(const std::vector<PathHealth>& paths) {
  std::vector<PathStatus> statuses;
  for (std::size_t k = 0; k < paths.size(); ++k) {
    statuses.push_back(PathStatus{paths[k].name, k != 0, k != 0 && paths[k].healthy(), paths[k].congestion.congested});
  }
  return statuses;
}

// What the run learnt of each path (successes, congestion, a control's health), with a warning
// for a congested path and for a control that failed or carried nothing.
void record_path_health(std::vector<PathInfo>& paths, const std::vector<PathHealth>& measured) {
  for (std::size_t k = 0; k < paths.size() && k < measured.size(); ++k) {
    const PathHealth& health = measured[k];
    PathInfo& info = paths[k];
    info.successes = health.successes;
    info.congestion = health.congestion;
    if (const PathCongestion& congestion = health.congestion; congestion.congested) {
      spdlog::warn("path {} is congested: {} of its {} connection steps timed out, and {} of {} re-tested at low "
                   "concurrency got through",
                   info.name, congestion.timeouts, congestion.steps, congestion.recovered, congestion.retested);
    }
    if (k == 0) {
      continue;  // the direct path is what is measured, not a reference
    }
    info.health = health.healthy() ? "healthy" : "unhealthy";
    if (health.check_failure) {
      info.check_failure = health.check_failure->str();
      spdlog::warn("control path {} ({}) failed its start-up check: {}", info.name, info.detail, health.check_detail);
    } else if (health.successes == 0) {
      spdlog::warn("control path {} ({}) carried no successful measurement", info.name, info.detail);
    }
  }
}

// What follows a written report in its folder: retention, then the history index.
void after_report(const Report& report, const std::filesystem::path& path, const std::filesystem::path& folder,
                  const RetentionPolicy& retention) {
  const RetentionOutcome kept = apply_retention(folder, retention, report.finished_at, path);
  if (kept.removed + kept.compressed > 0) {
    spdlog::info("retention: {} old reports removed, {} compressed to .json.gz", kept.removed, kept.compressed);
  }
  try {
    // The history index only speeds up summaries (the report is the record): never fail the run.
    index_report(folder, to_json(report), path.filename().string());
  } catch (const std::exception& error) {
    spdlog::warn("history index not updated ({}); 'probe history rebuild' will catch up", error.what());
  }
}

void log_totals(const Report& report, MonoTime run_start) {
  std::size_t queries = 0;
  std::size_t failed = 0;
  std::size_t endpoints = 0;
  for (const auto& result : report.results) {
    for (const auto& [name, observations] : result.paths) {
      endpoints += observations.endpoints.size();
      for (const auto& query : observations.queries) {
        ++queries;
        failed += query.failure ? 1 : 0;
      }
    }
  }
  const double seconds = std::chrono::duration<double>(EventLoop::now() - run_start).count();
  spdlog::info("{} targets, {} DNS queries ({} failed), {} endpoints in {:.1f} s", report.results.size(), queries,
               failed, endpoints, seconds);
}

}  // namespace

std::vector<PathInfo> describe_paths(const std::vector<ControlSettings>& controls) {
  std::vector<PathInfo> out;
  const auto direct_egress = default_egress();
  out.push_back(PathInfo{"direct", "direct", "unchecked", direct_egress, "", std::nullopt, 0, {}});
  if (direct_egress && is_tunnel_device(*direct_egress)) {
    spdlog::warn("the default route leaves by {}, a tunnel device: if it is a system-wide VPN, the direct path "
                 "is not the local network",
                 *direct_egress);
  }
  for (const ControlSettings& control : controls) {
    const PathSpec& spec = control.spec;
    PathInfo info{spec.name, std::string(to_string(spec.kind)), "unchecked", std::nullopt, spec.display(),
                  std::nullopt, 0, {}};
    if (spec.kind == PathKind::interface) {
      if (!interface_exists(spec.interface)) {
        throw UserError(exit_code::k_config, "--control iface:" + spec.interface + ": no such interface");
      }
      info.egress = spec.interface;
      if (direct_egress && *direct_egress == spec.interface) {
        throw UserError(exit_code::k_config, "--control iface:" + spec.interface +
                                                 ": the direct path leaves by this interface too, so it cannot "
                                                 "be a control path (give the VPN's interface)");
      }
    } else {
      info.egress = egress_interface(spec.proxy_address);
    }
    out.push_back(std::move(info));
  }
  return out;
}

RunOutcome run_pipeline(const RunRequest& request) {
  const std::filesystem::path& folder = request.folder;
  // A list whose bare results cannot fit the report's limit is refused before anything is made
  // or measured: its report could only be kept over the limit (before: 373 MB for 250,000 targets).
  const std::size_t least = minimum_results_bytes(request.targets.targets, request.paths);
  if (least > k_max_report_bytes) {
    std::string lists;
    for (const TargetList& list : request.targets.lists) {
      lists += (lists.empty() ? "" : ", ") + list.file;
    }
    throw UserError(exit_code::k_data_error,
                    (lists.empty() ? std::string() : lists + ": ") + std::to_string(request.targets.targets.size()) +
                        " targets over " +
                        std::to_string(request.paths.size()) + " paths need at least " + size_text(least) +
                        " of report (each keeps its result and verdict), more than the " +
                        size_text(k_max_report_bytes) +
                        " a report may hold: split the list, or choose apps with --app");
  }
  // Fail on an unusable output folder before measuring, not after; one run at a time in it.
  ensure_folder(folder);
  auto lock = std::make_unique<const OutputLock>(folder);

  const std::vector<Target>& targets = request.targets.targets;
  spdlog::info("measuring {} targets over {} paths", targets.size(), request.paths.size());
  Report report;
  const auto scrubber = std::make_shared<Scrubber>(Scrubber::for_this_machine());
  report.scrubber = scrubber;
  report.run_id = new_run_id();
  report.started_at = request.started_at;
  report.vantage = request.vantage;
  report.target_lists = request.targets.lists;
  report.options = request.options;
  report.paths = request.paths;
  report.finished_at = request.started_at;
  PartialLog log(partial_log_path(folder, report), report, targets);
  RunSettings settings = request.settings;
  settings.on_own_address = [scrubber](const std::string& address) { scrubber->add_address(address); };
  settings.on_target_done = [&log](std::size_t index, const TargetResult& result,
                                   const std::vector<PathHealth>& health) {
    // Judged with what is known now: a re-test still to come would give it a second line.
    log.append(index, result, judge(result, path_statuses(health), false));
  };
  Measurement measured = measure_paths(targets, settings, request.run_start);
  if (request.on_measured) {
    request.on_measured();
  }
  report.results = std::move(measured.results);
  report.interrupted = measured.interrupted;
  record_path_health(report.paths, measured.paths);
  const std::vector<PathStatus> statuses = path_statuses(measured.paths);
  for (TargetResult& result : report.results) {
    // Per target: what the stop cut short is marked `interrupted` and judged inconclusive; a
    // target measured in full before it keeps its verdict.
    result.verdict = judge(result, statuses, false);
  }
  report.finished_at = std::chrono::system_clock::now();

  std::filesystem::path path;
  try {
    path = write_report(report, folder);
  } catch (const UserError& error) {
    // The crash log is kept: say where, and how to make the report from it.
    throw UserError(error.exit_code(), std::string(error.what()) + "; the crash log " + log.path().string() +
                                           " keeps what it recorded: 'probe recover " + log.path().string() +
                                           "' writes the report from it once there is room");
  }
  log.remove();
  after_report(report, path, folder, request.retention);
  log_totals(report, request.run_start);
  return RunOutcome{std::move(report), std::move(path), std::move(lock)};
}

}  // namespace probe
