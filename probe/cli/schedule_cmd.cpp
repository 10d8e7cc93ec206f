#include <array>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "cli/config_file.hpp"
#include "cli/duration_option.hpp"
#include "cli/schedule.hpp"
#include "core/duration.hpp"
#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "net/curl_path.hpp"
#include "core/atomic_file.hpp"
#include "core/input_file.hpp"
#include "targets/loader.hpp"

namespace probe {

namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

struct ScheduleOptions {
  std::string every;
  std::string jitter = "0";
  bool cron = false;
  std::string systemd_dir;
  bool force = false;
  std::vector<std::string> targets;
  std::string out;
  std::vector<std::string> run_args;  // after `--`: passed on to `probe run`
};

// The run's flags that name files or folders. Cron starts a job in the owner's home folder and
// systemd in /, so every one of them is made absolute (or, from a config file, must be).
constexpr std::array<const char*, 5> k_path_flags = {"--targets", "--out", "--resolv-conf", "--ca-file",
                                                     "--control-auth-file"};

std::string absolute(const std::string& path, const std::string& flag) {
  if (path.empty()) {
    throw UserError(exit_code::k_usage, flag + ": an empty path");
  }
  return fs::absolute(path).lexically_normal().string();
}

bool has_flag(const std::vector<std::string>& args, const std::string& flag) {
  for (const std::string& arg : args) {
    if (arg == flag || arg.rfind(flag + "=", 0) == 0) {
      return true;
    }
  }
  return false;
}

// `args` with the value of every path flag made absolute, in both forms: `--out DIR`, `--out=DIR`.
std::vector<std::string> with_absolute_paths(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (std::size_t k = 0; k < args.size(); ++k) {
    const std::string& arg = args[k];
    bool done = false;
    for (const std::string flag : k_path_flags) {
      if (arg == flag && k + 1 < args.size()) {
        out.push_back(arg);
        out.push_back(absolute(args[++k], flag));
        done = true;
      } else if (arg.rfind(flag + "=", 0) == 0) {
        out.push_back(flag + "=" + absolute(arg.substr(flag.size() + 1), flag));
        done = true;
      }
      if (done) {
        break;
      }
    }
    if (!done) {
      out.push_back(arg);
    }
  }
  return out;
}

// The values a config file gave the run's flag `flag` (the run is not on this command line, so
// whatever its flags hold came from the file).
std::vector<std::string> from_config(CLI::App& app, const std::string& flag) {
  const CLI::Option* option = app.get_subcommand("run")->get_option_no_throw(flag);
  return option != nullptr ? option->results() : std::vector<std::string>();
}

// A config file's paths are used as written, from the folder the scheduled run starts in.
void check_config_paths(CLI::App& app, const std::string& file) {
  for (const std::string flag : k_path_flags) {
    for (const std::string& value : from_config(app, flag)) {
      if (!fs::path(value).is_absolute()) {
        throw UserError(exit_code::k_config, file + ": run." + flag.substr(2) + " '" + value +
                                                 "': a scheduled run starts in another folder: give an "
                                                 "absolute path");
      }
    }
  }
}

// The run's own parser, on a scratch command line, then the run's own checks of what it parsed
// (resolvers, control paths, URLs, lists): a typo is refused now, not mailed by cron at every run
// from now on. A control path with a password is refused: the crontab line is readable by whoever
// reads the crontab (and `ps`), unlike a file of mode 600.
void check_run_arguments(const std::vector<std::string>& run_args) {
  CLI::App scratch{"", "probe"};
  scratch.fallthrough();
  int ignored = 0;
  scratch.add_flag("-v,--verbose", ignored);
  scratch.add_flag("-q,--quiet", ignored);
  std::vector<Command> commands;
  add_run_command(scratch, commands);
  std::vector<std::string> reversed(run_args.rbegin(), run_args.rend());
  reversed.push_back("run");
  try {
    scratch.parse(reversed);
  } catch (const CLI::ParseError& error) {
    throw UserError(exit_code::k_usage, std::string("the run's options: ") + error.what());
  }
  for (const std::string& control : scratch.get_subcommand("run")->get_option("--control")->results()) {
    if (without_userinfo(control) != control) {
      throw UserError(exit_code::k_config,
                      "the run's options: --control '" + without_userinfo(control) +
                          "' carries a user and password, which the crontab line would show to anyone who can "
                          "read it: put USER:PASSWORD in a file of mode 600 and give --control-auth-file FILE");
    }
  }
  try {
    commands.front().check();
  } catch (const UserError& error) {
    throw UserError(error.exit_code(), std::string("the run's options: ") + error.what());
  }
}

seconds duration_of(const std::string& text) { return *parse_duration(text, nullptr); }  // validated

std::string read_all(const fs::path& path) {
  try {
    return read_input_file(path, k_mib, "unit");
  } catch (const UserError& error) {
    throw UserError(exit_code::k_cant_create, std::string(error.what()) + " (it is in the way of the unit)");
  }
}

// Writes every file, each atomically, after checking all of them: a refusal leaves nothing half
// done. A file that exists with the same content is left alone; with another content it is
// replaced only with --force.
void write_units(const fs::path& dir, const std::vector<std::pair<std::string, std::string>>& files, bool force) {
  ensure_folder(dir);
  std::vector<bool> changed;
  for (const auto& [name, content] : files) {
    const fs::path path = dir / name;
    std::error_code ec;
    const fs::file_status status = fs::status(path, ec);
    if (!fs::exists(status)) {
      changed.push_back(true);
      continue;
    }
    if (!fs::is_regular_file(status)) {
      throw UserError(exit_code::k_cant_create, path.string() + ": exists and is not a regular file");
    }
    const bool same = read_all(path) == content;
    if (!same && !force) {
      throw UserError(exit_code::k_cant_create,
                      path.string() + ": exists with other content (--force replaces it)");
    }
    changed.push_back(!same);
  }
  for (std::size_t k = 0; k < files.size(); ++k) {
    const fs::path path = dir / files[k].first;
    if (changed[k]) {
      write_file_atomically(path, files[k].second, 0644);
      spdlog::info("wrote {}", path.string());
    } else {
      spdlog::info("{} is unchanged", path.string());
    }
    std::cout << path.string() << "\n";
  }
}

// The run's flags: --targets and --out always there, absolute, unless the run gets them from
// elsewhere (after `--`, the config file, or --url instead of lists); then those after `--`.
std::vector<std::string> run_arguments(CLI::App& app, const ScheduleOptions& options) {
  if (has_flag(options.run_args, "--config")) {
    throw UserError(exit_code::k_usage, "--config after --: give it to schedule itself, which checks the file "
                                        "and passes it on (probe schedule --config FILE ...)");
  }
  const std::vector<std::string> passed = with_absolute_paths(options.run_args);
  std::vector<std::string> run_args;
  std::vector<std::string> target_paths;
  for (const std::string& path : options.targets) {
    target_paths.push_back(absolute(path, "--targets"));
  }
  const bool targets_elsewhere = has_flag(passed, "--targets") || has_flag(passed, "--url") ||
                                 !from_config(app, "--targets").empty() || !from_config(app, "--url").empty();
  if (target_paths.empty() && !targets_elsewhere) {
    target_paths.push_back(absolute(default_targets_path(), "--targets"));
  }
  for (const std::string& path : target_paths) {
    run_args.insert(run_args.end(), {"--targets", path});
  }
  if (!options.out.empty()) {
    run_args.insert(run_args.end(), {"--out", absolute(options.out, "--out")});
  } else if (!has_flag(passed, "--out") && from_config(app, "--out").empty()) {
    run_args.insert(run_args.end(), {"--out", absolute("reports", "--out")});
  }
  run_args.insert(run_args.end(), passed.begin(), passed.end());
  return run_args;
}

// Reads the lists the runs will read, now: a bad one fails here once (65, 66), not at every run.
void read_target_lists(CLI::App& app, const std::vector<std::string>& run_args) {
  TargetSelection lists;
  for (std::size_t k = 0; k < run_args.size(); ++k) {
    if (run_args[k] == "--targets" && k + 1 < run_args.size()) {
      lists.paths.push_back(run_args[++k]);
    } else if (run_args[k].rfind("--targets=", 0) == 0) {
      lists.paths.push_back(run_args[k].substr(std::string("--targets=").size()));
    }
  }
  for (const std::string& path : from_config(app, "--targets")) {
    lists.paths.push_back(path);
  }
  if (!lists.paths.empty()) {
    load_targets(lists);
  }
}

int schedule(CLI::App& app, const ScheduleOptions& options) {
  const seconds every = duration_of(options.every);
  const seconds jitter = duration_of(options.jitter);
  if (every.count() == 0) {
    throw UserError(exit_code::k_usage, "--every: must be longer than 0");
  }
  if (jitter >= every) {
    throw UserError(exit_code::k_usage, "--jitter " + options.jitter + ": must be shorter than --every " +
                                            options.every + ", or runs would pile up");
  }
  const bool systemd = !options.systemd_dir.empty();
  std::optional<std::string> fields;
  if (!systemd) {
    fields = cron_fields(every);
    if (!fields) {
      throw UserError(exit_code::k_usage, "--every " + options.every + ": cron cannot run this evenly; give " +
                                              cron_intervals() + ", or use --systemd DIR, whose timer takes any interval");
    }
  }

  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) {
    throw UserError(exit_code::k_software, "cannot find the probe's own path in /proc/self/exe: " + ec.message());
  }
  const std::string config = config_file(app).empty() ? std::string() : absolute(config_file(app), "--config");
  if (!config.empty()) {
    check_config_paths(app, config);
  }

  std::vector<std::string> run_args = run_arguments(app, options);
  if (!systemd && jitter.count() > 0) {
    // systemd delays the start itself (RandomizedDelaySec); cron needs the run to wait.
    run_args.insert(run_args.begin(), {"--jitter", format_duration(jitter)});
  }
  check_run_arguments(run_args);
  read_target_lists(app, run_args);

  std::vector<std::string> command = {exe.string()};
  if (!systemd) {
    command.push_back("-q");  // cron mails what a job prints: warnings and errors only
  }
  if (!config.empty()) {
    command.insert(command.end(), {"--config", config});
  }
  command.push_back("run");
  command.insert(command.end(), run_args.begin(), run_args.end());

  if (!systemd) {
    std::cout << crontab_line(*fields, command) << "\n";
    spdlog::info("add this line to your crontab ('crontab -e'): a run every {}{}", format_duration(every),
                 jitter.count() > 0 ? ", each after a random wait of up to " + format_duration(jitter) : "");
    return exit_code::k_ok;
  }
  const fs::path dir = absolute(options.systemd_dir, "--systemd");
  write_units(dir, {{"probe.service", service_unit(command)}, {"probe.timer", timer_unit(every, jitter)}},
              options.force);
  spdlog::info("then: systemctl --user daemon-reload && systemctl --user enable --now probe.timer (for units in "
               "~/.config/systemd/user; leave out --user for /etc/systemd/system)");
  return exit_code::k_ok;
}

}  // namespace

void add_schedule_command(CLI::App& app, std::vector<Command>& commands) {
  auto options = std::make_shared<ScheduleOptions>();
  CLI::App* command = app.add_subcommand(
      "schedule", "Print a crontab line, or write systemd units, that run the probe regularly");
  command->add_option("--every", options->every, "How often to run: 15m, 1h, 6h, 12h, 1d, ...")
      ->required()
      ->type_name("DURATION")
      ->check(duration_validator());
  command->add_option("--jitter", options->jitter,
                      "Start each run after a random wait up to this, e.g. 30m (shorter than --every)")
      ->type_name("DURATION")
      ->check(duration_validator())
      ->capture_default_str();
  CLI::Option* cron = command->add_flag("--cron", options->cron, "Print one crontab line (the default)");
  CLI::Option* systemd = command->add_option(
      "--systemd", options->systemd_dir, "Write probe.service and probe.timer into this folder instead")
      ->type_name("DIR");
  cron->excludes(systemd);
  command->add_flag("--force", options->force, "Replace unit files that exist with other content")->needs(systemd);
  command->add_option("--targets", options->targets,
                      "Target list or folder for the runs; repeatable (default: what 'probe run' would read now)")
      ->type_name("PATH")
      ->allow_extra_args(false);  // one value per --targets, so that `--targets DIR -- ...` ends at --
  command->add_option("--out", options->out, "Folder for the runs' reports (default: ./reports)")->type_name("DIR");
  command->add_option("run-options", options->run_args, "Further options of 'probe run', after --")
      ->type_name("OPTIONS");
  command->footer("Paths become absolute: cron and systemd start a run in another folder.\n"
                  "Example: probe schedule --every 6h --jitter 30m -- --control socks5h://127.0.0.1:9050");
  commands.push_back({command, [&app, options]() { return schedule(app, *options); }});
}

}  // namespace probe
