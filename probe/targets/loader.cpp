#include "targets/loader.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "core/input_file.hpp"
#include "targets/citizenlab_csv.hpp"
#include "targets/url.hpp"

namespace probe {

namespace fs = std::filesystem;

namespace {

// Target lists are small; anything this large is a mistake (or hostile), not a list.
constexpr std::uintmax_t k_max_list_bytes = 32 * k_mib;

std::string read_list_file(const std::string& path) { return read_input_file(path, k_max_list_bytes, "target list"); }

bool is_list_file(const fs::path& path) {
  const std::string ext = path.extension().string();
  return ext == ".json" || ext == ".csv";
}

}  // namespace

TargetList load_target_file(const std::string& path) {
  const std::string ext = fs::path(path).extension().string();
  if (ext != ".json" && ext != ".csv") {
    throw UserError(exit_code::k_data_error,
                    path + ": unknown list format (expected a .json target list or a .csv test list)");
  }
  const std::string text = read_list_file(path);
  return ext == ".json" ? parse_target_list_json(text, path) : parse_citizenlab_csv(text, path);
}

LoadedTargets load_targets(const TargetSelection& selection) {
  LoadedTargets out;
  for (const std::string& path : selection.paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<fs::path> files;
      // Every *.json and *.csv but sub-folders: one that is not a regular file (a FIFO, a
      // symlink loop or to nowhere) is refused by name when it is read, never skipped unseen.
      for (const auto& entry : fs::directory_iterator(path, ec)) {
        std::error_code kind_ec;
        if (is_list_file(entry.path()) && !entry.is_directory(kind_ec)) {
          files.push_back(entry.path());
        }
      }
      if (ec) {
        throw UserError(exit_code::k_no_input, path + ": cannot list folder: " + ec.message());
      }
      std::sort(files.begin(), files.end());
      if (files.empty()) {
        throw UserError(exit_code::k_data_error, path + ": folder holds no target lists (*.json, *.csv)");
      }
      for (const auto& file : files) {
        out.lists.push_back(load_target_file(file.string()));
      }
    } else if (fs::exists(fs::symlink_status(path, ec))) {
      out.lists.push_back(load_target_file(path));  // a symlink loop: read_input_file names it (66)
    } else {
      throw UserError(exit_code::k_no_input, path + ": no such file or folder");
    }
  }
  for (const TargetList& list : out.lists) {
    for (const std::string& concern : list.concerns) {
      spdlog::warn("{} (probe targets validate refuses it)", concern);
    }
  }
  if (!selection.urls.empty()) {
    TargetList adhoc;
    adhoc.file = "--url";
    adhoc.format = "url";
    for (const std::string& url : selection.urls) {
      std::string problem;
      const auto parsed = parse_target_url(url, &problem);
      if (!parsed) {
        throw UserError(exit_code::k_usage, "--url '" + url + "': " + problem);
      }
      Target target;
      target.app = "adhoc";
      target.host = parsed->host;
      target.port = parsed->port;
      target.kind = parsed->kind;
      target.path = parsed->path;
      target.purpose = "given on the command line";
      target.sources = {"--url"};
      target.origin = Origin{"--url", 0};
      adhoc.targets.push_back(std::move(target));
    }
    out.lists.push_back(std::move(adhoc));
  }

  std::set<std::string> known_apps;
  for (const auto& list : out.lists) {
    for (const auto& target : list.targets) {
      known_apps.insert(target.app);
    }
  }
  for (const std::string& app : selection.apps) {
    if (!known_apps.count(app)) {
      std::string names;
      for (const auto& known : known_apps) {
        names += (names.empty() ? "" : ", ") + known;
      }
      throw UserError(exit_code::k_usage, "--app '" + app + "' matches no target (apps: " + names + ")");
    }
  }
  const std::set<std::string> wanted(selection.apps.begin(), selection.apps.end());
  std::set<std::string> seen;
  for (const auto& list : out.lists) {
    for (const auto& target : list.targets) {
      if (!wanted.empty() && !wanted.count(target.app)) {
        continue;
      }
      if (!seen.insert(target.key()).second) {
        spdlog::debug("{}:{}: {} {} already listed; measured once", target.origin.file,
                      target.origin.line, to_string(target.kind), target.host);
        continue;
      }
      out.targets.push_back(target);
    }
  }
  return out;
}

}  // namespace probe
