#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "steps/ca_bundle.hpp"
#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "targets/loader.hpp"

namespace probe {

void add_selection_options(CLI::App& command, TargetSelection& selection) {
  command.add_option("--targets", selection.paths,
                     "Target list file (.json, Citizen Lab .csv) or folder of them; repeatable "
                     "(default: ./targets, else the installed lists; see README)");
  command.add_option("--url", selection.urls,
                     "Add an ad hoc target, e.g. https://example.org/ (app 'adhoc'); repeatable");
  command.add_option("--app", selection.apps, "Only targets of this app; repeatable");
}

TargetSelection with_default_targets(TargetSelection selection) {
  if (selection.paths.empty() && selection.urls.empty()) {
    selection.paths.push_back(default_targets_path());
  }
  return selection;
}

namespace {

struct ListOptions {
  TargetSelection selection;
  bool json = false;
};

nlohmann::json target_json(const Target& target) {
  nlohmann::json out = {
      {"app", target.app},         {"host", target.host},
      {"kind", to_string(target.kind)},
      {"port", target.port ? nlohmann::json(*target.port) : nlohmann::json(nullptr)},
      {"url", target.url()},       {"any_response", target.any_response},
      {"ca_files", target.ca_files}, {"bogon_expected", target.bogon_expected},
      {"purpose", target.purpose},
      {"sources", target.sources}, {"uncertain", target.uncertain},
      {"file", target.origin.file}, {"line", target.origin.line},
  };
  if (target.kind == Kind::http || target.kind == Kind::https) {
    out["path"] = target.path;
  }
  return out;
}

int list_targets(const ListOptions& options) {
  const LoadedTargets loaded = load_targets(with_default_targets(options.selection));
  for (const TargetList& list : loaded.lists) {
    spdlog::info("{}: {} targets, reviewed {}", list.file, list.targets.size(),
                 list.reviewed.value_or("(no date)"));
  }
  if (options.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const Target& target : loaded.targets) {
      out.push_back(target_json(target));
    }
    std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return exit_code::k_ok;
  }
  std::size_t host_width = 4;
  for (const Target& target : loaded.targets) {
    host_width = std::max(host_width, target.host.size());
  }
  std::cout << fmt::format("{:<10} {:<5} {:<{}} {:>5}  {}\n", "APP", "KIND", "HOST", host_width, "PORT",
                           "PURPOSE");
  for (const Target& target : loaded.targets) {
    std::string purpose = target.purpose;
    if (target.uncertain) {
      purpose = "(uncertain) " + purpose;
    }
    std::cout << fmt::format("{:<10} {:<5} {:<{}} {:>5}  {}\n", target.app, to_string(target.kind),
                             target.host, host_width, target.port ? std::to_string(*target.port) : "-",
                             purpose);
  }
  return exit_code::k_ok;
}

int validate_files(const std::vector<std::string>& files) {
  int result = exit_code::k_ok;
  for (const std::string& file : files) {
    try {
      const TargetList list = load_target_file(file);
      for (const Target& target : list.targets) {
        for (const std::string& ca : target.ca_files) {
          check_ca_file(ca);  // as a run reads it: PEM with a certificate
        }
      }
      if (!list.concerns.empty()) {
        for (const std::string& concern : list.concerns) {
          std::cerr << "probe: " << concern << "\n";
        }
        if (result == exit_code::k_ok) {
          result = exit_code::k_data_error;
        }
        continue;
      }
      std::cout << file << ": ok, " << list.targets.size() << " targets, reviewed "
                << list.reviewed.value_or("(no date)") << "\n";
    } catch (const UserError& error) {
      std::cerr << "probe: " << error.what() << "\n";
      if (result == exit_code::k_ok) {
        result = error.exit_code();
      }
    }
  }
  return result;
}

}  // namespace

void add_targets_commands(CLI::App& app, std::vector<Command>& commands) {
  CLI::App* targets = app.add_subcommand("targets", "Show or check target lists");
  targets->require_subcommand(1);

  auto list_options = std::make_shared<ListOptions>();
  CLI::App* list = targets->add_subcommand("list", "Print the targets that a run would measure");
  add_selection_options(*list, list_options->selection);
  list->add_flag("--json", list_options->json, "Print JSON instead of a table");
  commands.push_back({list, [list_options]() { return list_targets(*list_options); }});

  auto files = std::make_shared<std::vector<std::string>>();
  CLI::App* validate =
      targets->add_subcommand("validate", "Check target list files; errors name file, line, column and field");
  validate->add_option("files", *files, "Target list files (.json or .csv)")->required();
  commands.push_back({validate, [files]() { return validate_files(*files); }});
}

}  // namespace probe
