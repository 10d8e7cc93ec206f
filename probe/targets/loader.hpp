#pragma once

#include <string>
#include <vector>

#include "targets/target_list.hpp"

namespace probe {

struct TargetSelection {
  std::vector<std::string> paths;  // files (.json, .csv) or folders of them; empty means none
  std::vector<std::string> urls;   // ad hoc targets (app "adhoc")
  std::vector<std::string> apps;   // keep only these apps; empty keeps all
};

struct LoadedTargets {
  std::vector<TargetList> lists;  // every list read, whole (for the report's target_lists)
  std::vector<Target> targets;    // selected by app, duplicates across lists dropped, in list order
};

// Reads one list, choosing the parser by extension (.json, .csv). Throws UserError: 66 when the
// file cannot be read, 65 when its content is bad.
TargetList load_target_file(const std::string& path);

// Loads every path (a folder contributes its *.json and *.csv files, sorted by name, not
// recursing) and every URL, then applies the app selection. Throws UserError: 64 for a bad --url
// or an --app that matches nothing, 65/66 as load_target_file.
LoadedTargets load_targets(const TargetSelection& selection);

}  // namespace probe
