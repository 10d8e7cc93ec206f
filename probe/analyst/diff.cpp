#include "analyst/diff.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "analyst/observations.hpp"
#include "model/signature.hpp"

namespace probe {

namespace {

using nlohmann::json;

constexpr const char* k_fields[] = {"status",      "method",      "signatures", "failing_step",
                                    "dns_answers", "http_status", "http_title"};

json optional_json(const std::optional<std::string>& value) { return value ? json(*value) : json(); }

json report_info(const LoadedReport& report) {
  return {{"file", report.file_name},
          {"run_id", optional_json(optional_string(report.json, "run_id"))},
          {"started_at", optional_json(optional_string(report.json, "started_at"))}};
}

// Results by key (read back and checked when the report was loaded); a key seen twice keeps its
// first result.
std::map<TargetKey, TargetResult> by_key(const LoadedReport& report) {
  std::map<TargetKey, TargetResult> results;
  const json& listed = report.json["results"];
  for (std::size_t i = 0; i < report.results.size(); ++i) {
    results.emplace(target_key(listed[i]), report.results[i]);
  }
  return results;
}

std::string cell(const json& value) {
  if (value.is_null()) {
    return "-";
  }
  if (value.is_string()) {
    return value.get<std::string>();
  }
  if (value.is_array()) {
    if (value.empty()) {
      return "-";
    }
    std::string text;
    for (const json& item : value) {
      text += (text.empty() ? "" : ",") + cell(item);
    }
    return text;
  }
  return value.dump();
}

std::string verdict_cell(const json& fields) {
  std::string text = cell(fields["status"]);
  if (fields["method"].is_string()) {
    text += " " + fields["method"].get<std::string>();
  }
  return text;
}

// The verdict's signatures as a set (sorted, each once): a changed set is a change of what the
// evidence showed, even where status and method stay.
json verdict_signatures(const std::optional<Verdict>& verdict) {
  std::set<std::string> names;
  if (verdict) {
    for (Signature signature : verdict->signatures) {
      names.insert(std::string(to_string(signature)));
    }
  }
  return json(std::vector<std::string>(names.begin(), names.end()));
}

std::string pad(const std::string& text, std::size_t width) {
  return text.size() >= width ? text : text + std::string(width - text.size(), ' ');
}

}  // namespace

json compared_fields(const TargetResult& result) {
  json fields = json::object();
  const std::optional<Verdict>& verdict = result.verdict;
  fields["status"] = verdict ? json(std::string(to_string(verdict->status))) : json();
  fields["method"] = optional_json(verdict ? verdict->method : std::nullopt);
  fields["signatures"] = verdict_signatures(verdict);
  fields["failing_step"] = optional_json(failing_step(result, "direct"));
  fields["dns_answers"] = dns_answers(result, "direct");
  fields["http_status"] = http_statuses(result, "direct");
  fields["http_title"] = http_titles(result, "direct");
  return fields;
}

ReportDiff diff_reports(const LoadedReport& old_report, const LoadedReport& new_report) {
  ReportDiff diff;
  diff.old_report = report_info(old_report);
  diff.new_report = report_info(new_report);
  const auto old_results = by_key(old_report);
  const auto new_results = by_key(new_report);
  for (const auto& [key, old_result] : old_results) {
    const auto found = new_results.find(key);
    if (found == new_results.end()) {
      diff.removed.push_back({key, compared_fields(old_result)});
      continue;
    }
    const json before = compared_fields(old_result);
    const json after = compared_fields(found->second);
    TargetChange change{key, {}};
    for (const char* field : k_fields) {
      if (before[field] != after[field]) {
        change.changes.push_back({field, before[field], after[field]});
      }
    }
    if (change.changes.empty()) {
      ++diff.unchanged;
    } else {
      diff.changed.push_back(std::move(change));
    }
  }
  for (const auto& [key, new_result] : new_results) {
    if (old_results.find(key) == old_results.end()) {
      diff.added.push_back({key, compared_fields(new_result)});
    }
  }
  return diff;
}

json diff_json(const ReportDiff& diff) {
  json out = {{"old", diff.old_report}, {"new", diff.new_report}, {"unchanged", diff.unchanged}};
  out["changed"] = json::array();
  for (const TargetChange& target : diff.changed) {
    json entry = key_json(target.key);
    entry["changes"] = json::array();
    for (const FieldChange& change : target.changes) {
      entry["changes"].push_back({{"field", change.field}, {"old", change.old_value}, {"new", change.new_value}});
    }
    out["changed"].push_back(std::move(entry));
  }
  for (const char* side : {"added", "removed"}) {
    const auto& list = std::string(side) == "added" ? diff.added : diff.removed;
    out[side] = json::array();
    for (const TargetPresence& target : list) {
      json entry = key_json(target.key);
      entry["fields"] = target.fields;
      out[side].push_back(std::move(entry));
    }
  }
  return out;
}

std::string render_diff(const ReportDiff& diff) {
  struct Line {
    std::string app, target, field, old_value, new_value;
  };
  std::vector<Line> lines;
  for (const TargetChange& target : diff.changed) {
    for (const FieldChange& change : target.changes) {
      lines.push_back({target.key.app, target_label(target.key), change.field, cell(change.old_value), cell(change.new_value)});
    }
  }
  for (const TargetPresence& target : diff.added) {
    lines.push_back({target.key.app, target_label(target.key), "added", "-", verdict_cell(target.fields)});
  }
  for (const TargetPresence& target : diff.removed) {
    lines.push_back({target.key.app, target_label(target.key), "removed", verdict_cell(target.fields), "-"});
  }
  std::stable_sort(lines.begin(), lines.end(), [](const Line& a, const Line& b) {
    return std::tie(a.app, a.target) < std::tie(b.app, b.target);
  });
  Line header{"app", "target", "field", "old", "new"};
  std::size_t widths[4] = {header.app.size(), header.target.size(), header.field.size(), header.old_value.size()};
  for (const Line& line : lines) {
    widths[0] = std::max(widths[0], line.app.size());
    widths[1] = std::max(widths[1], line.target.size());
    widths[2] = std::max(widths[2], line.field.size());
    widths[3] = std::max(widths[3], line.old_value.size());
  }
  std::ostringstream out;
  out << "--- " << cell(diff.old_report["file"]) << " (" << cell(diff.old_report["started_at"]) << ")\n"
      << "+++ " << cell(diff.new_report["file"]) << " (" << cell(diff.new_report["started_at"]) << ")\n";
  if (!lines.empty()) {
    lines.insert(lines.begin(), header);
  }
  for (const Line& line : lines) {
    out << pad(line.app, widths[0]) << "  " << pad(line.target, widths[1]) << "  " << pad(line.field, widths[2]) << "  "
        << pad(line.old_value, widths[3]) << "  " << line.new_value << "\n";
  }
  out << diff.changed.size() << " targets changed, " << diff.added.size() << " added, " << diff.removed.size()
      << " removed, " << diff.unchanged << " unchanged\n";
  return out.str();
}

}  // namespace probe
