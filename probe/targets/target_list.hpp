#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/target.hpp"

namespace probe {

// One loaded list of targets, with what the report records about it (stale lists are the known
// source of false positives, so the review date and digest travel with every report).
struct TargetList {
  std::string file;    // as given by the user, or "--url"
  std::string format;  // "json", "citizenlab_csv" or "url"
  std::string sha256;  // of the file's bytes; empty for --url
  std::optional<std::string> reviewed;  // YYYY-MM-DD
  std::vector<Target> targets;
  // Findings that do not stop a run (it warns of each) but fail `probe targets validate`, each as
  // "<file>:<line>:<col>: <field>: <problem>": an app that is not the file's name, a `reviewed`
  // date in the future.
  std::vector<std::string> concerns;
};

// Parses one of our JSON target lists (see targets/README.md). `file` names the list in messages
// and anchors relative `ca_files`. Throws UserError (exit 65) as "<file>:<line>:<col>: <field>: ...".
TargetList parse_target_list_json(std::string_view text, const std::string& file);

// True for a YYYY-MM-DD calendar date.
bool is_iso_date(std::string_view text);

// True for an app name: 1-32 of [a-z0-9_-].
bool is_app_name(std::string_view text);

}  // namespace probe
