#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "core/atomic_file.hpp"
#include "store/output_lock.hpp"
#include "store/partial_log.hpp"

namespace probe {

namespace {

namespace fs = std::filesystem;

struct RecoverOptions {
  std::string log;
  std::string out;  // default: the log's folder
};

int recover(const RecoverOptions& options) {
  const fs::path log = options.log;
  if (log.extension() != ".jsonl") {
    throw UserError(exit_code::k_usage, log.string() + ": expected the .jsonl log a killed run left in its --out folder");
  }
  // A run still going holds its folder's lock, and its log is live, not left behind: exit 75, the
  // log untouched. Held until the log is removed.
  std::error_code ec;
  const fs::path log_folder = log.parent_path().empty() ? fs::path(".") : log.parent_path();
  std::unique_ptr<const OutputLock> log_lock;
  if (fs::is_directory(log_folder, ec)) {
    log_lock = std::make_unique<const OutputLock>(log_folder);
  }
  const nlohmann::json report = recover_report(log);
  const fs::path folder = options.out.empty() ? log.parent_path() : fs::path(options.out);
  fs::path name = log.filename();
  name.replace_extension(".json");
  const fs::path path = folder.empty() ? name : folder / name;
  if (fs::exists(path, ec)) {
    throw UserError(exit_code::k_cant_create,
                    path.string() + " already exists (the run finished and wrote it); nothing to recover");
  }
  const fs::path out_folder = folder.empty() ? fs::path(".") : folder;
  ensure_folder(out_folder);
  // Another folder: a run may be writing there too.
  std::unique_ptr<const OutputLock> out_lock;
  if (!log_lock || !fs::equivalent(out_folder, log_folder, ec)) {
    out_lock = std::make_unique<const OutputLock>(out_folder);
  }
  write_file_atomically(path, report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n", 0600);
  fs::remove(log, ec);
  if (ec) {
    spdlog::warn("{}: cannot remove: {}", log.string(), ec.message());
  }
  spdlog::info("recovered {} targets of an interrupted run", report["results"].size());
  std::cout << path.string() << "\n";
  return exit_code::k_ok;
}

}  // namespace

void add_recover_command(CLI::App& app, std::vector<Command>& commands) {
  auto options = std::make_shared<RecoverOptions>();
  CLI::App* recover_app = app.add_subcommand(
      "recover", "Turn the .jsonl log of a killed run into a report marked interrupted (the log is removed)");
  recover_app->add_option("log", options->log, "The run's <time>_<run id>.jsonl")->required();
  recover_app->add_option("--out", options->out, "Folder for the report (default: the log's folder)");
  commands.push_back({recover_app, [options]() { return recover(*options); }});
}

}  // namespace probe
