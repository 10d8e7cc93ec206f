#include "analyst/summary.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

namespace probe {

namespace {

// Ordered: greatfire's fields are read in the order they are written.
using json = nlohmann::ordered_json;

// The groups a run of a target counts in: one, or with --by signature one per signature of its
// verdict ("-" for a verdict with none).
std::vector<std::string> groups_of(const RunRow& row, const std::string& by) {
  std::optional<std::string> value;
  if (by == "vantage") {
    value = row.vantage_id;
  } else if (by == "cc") {
    value = row.cc;
  } else if (by == "asn") {
    value = row.asn;
  } else if (by == "signature") {
    return row.signatures.empty() ? std::vector<std::string>{"-"} : row.signatures;
  } else {
    return {""};
  }
  return {value.value_or("-")};
}

// One decimal, as GreatFire shows it.
double rounded(double percent) { return std::round(percent * 10.0) / 10.0; }

std::string percent_text(const std::optional<double>& percent) {
  if (!percent) {
    return "-";
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f", rounded(*percent));
  return buffer;
}

std::string latest_text(const TargetSummary& summary) {
  std::string text = summary.latest_status.value_or("not judged");
  if (summary.latest_method) {
    text += " " + *summary.latest_method;
  }
  return text;
}

std::string group_header(const std::string& by) { return by == "vantage" ? "vantage" : by; }

// A run that measured the target to the end and compared it with a healthy control.
bool is_test(const std::string& status) {
  return status == "blocked" || status == "restricted" || status == "accessible" || status == "down";
}

// Counts one run of a target in its summary. Rows come in time order: the last one seen is the
// latest.
void count(TargetSummary& summary, const std::string& group, const RunRow& row) {
  summary.group = group;
  summary.key = row.key;
  ++summary.found;
  summary.latest_status = row.status;
  summary.latest_method = row.method;
  const std::string status = row.status.value_or("");
  if (row.interrupted) {
    ++summary.interrupted;  // whatever its verdict: the run did not end as a test ends
    return;
  }
  if (is_test(status)) {
    ++summary.tests;
    if (!summary.first_tested) {
      summary.first_tested = row.started_at;
    }
    summary.last_tested = row.started_at;
  }
  if (status == "blocked") {
    ++summary.blocked;
    if (!summary.first_blocked) {
      summary.first_blocked = row.started_at;
    }
    summary.last_blocked = row.started_at;
  } else if (status == "restricted") {
    ++summary.restricted;
  } else if (status == "accessible") {
    ++summary.accessible;
  } else if (status == "down") {
    ++summary.down;
  } else if (status == "anomaly") {
    ++summary.anomaly;
  } else if (status == "inconclusive") {
    ++summary.inconclusive;
  } else {
    ++summary.unjudged;
  }
}

double percent_of(std::size_t part, std::size_t whole) {
  return 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

std::string verdict_of(const TargetSummary& summary) {
  if (summary.tests == 0) {
    return "not enough data";
  }
  if (2 * summary.blocked >= summary.tests) {
    return "blocked";
  }
  if (2 * (summary.blocked + summary.restricted) >= summary.tests) {
    return "restricted";
  }
  return "not blocked";
}

json optional_json(const std::optional<std::string>& value) { return value ? json(*value) : json(); }

json percent_json(const std::optional<double>& percent) { return percent ? json(rounded(*percent)) : json(); }

// One target's greatfire object; the CSV's row is the same fields.
json entry_json(const TargetSummary& summary, const std::string& by) {
  json entry = json::object();
  if (!by.empty()) {
    entry[group_header(by)] = summary.group == "-" ? json() : json(summary.group);
  }
  entry["url"] = optional_json(summary.key.url);
  entry["host"] = summary.key.host;
  entry["app"] = summary.key.app;
  entry["port"] = summary.key.port ? json(*summary.key.port) : json();
  entry["kind"] = summary.key.kind;
  entry["found"] = summary.found;
  entry["tests"] = summary.tests;
  entry["blocked"] = summary.blocked;
  entry["restricted"] = summary.restricted;
  entry["accessible"] = summary.accessible;
  entry["down"] = summary.down;
  entry["anomaly"] = summary.anomaly;
  entry["inconclusive"] = summary.inconclusive;
  entry["unjudged"] = summary.unjudged;
  entry["interrupted"] = summary.interrupted;
  entry["blocked_percent"] = percent_json(summary.blocked_percent);
  entry["restricted_percent"] = percent_json(summary.restricted_percent);
  entry["first_tested"] = optional_json(summary.first_tested);
  entry["last_tested"] = optional_json(summary.last_tested);
  entry["first_blocked"] = optional_json(summary.first_blocked);
  entry["last_blocked"] = optional_json(summary.last_blocked);
  entry["verdict"] = summary.verdict;
  entry["latest_status"] = optional_json(summary.latest_status);
  entry["latest_method"] = optional_json(summary.latest_method);
  return entry;
}

std::string csv_value(const json& value) {
  if (value.is_null()) {
    return "";
  }
  return value.is_string() ? csv_field(value.get<std::string>()) : value.dump();
}

}  // namespace

std::vector<TargetSummary> summarise(std::vector<RunRow> rows, const std::string& by) {
  // In time order, each run's rows together (the index gives them so: then there is nothing to sort).
  const auto by_run = [](const RunRow& a, const RunRow& b) {
    return std::tie(a.started_at, a.run_id) < std::tie(b.started_at, b.run_id);
  };
  if (!std::is_sorted(rows.begin(), rows.end(), by_run)) {
    std::stable_sort(rows.begin(), rows.end(), by_run);
  }
  std::map<std::pair<std::string, TargetKey>, TargetSummary> summaries;
  std::set<std::pair<std::string, TargetKey>> seen_in_run;  // a run read twice counts once
  const RunRow* run_start = nullptr;
  for (const RunRow& row : rows) {
    if (run_start == nullptr || run_start->run_id != row.run_id || run_start->started_at != row.started_at) {
      run_start = &row;
      seen_in_run.clear();
    }
    for (const std::string& group : groups_of(row, by)) {
      if (seen_in_run.insert({group, row.key}).second) {
        count(summaries[{group, row.key}], group, row);
      }
    }
  }
  std::vector<TargetSummary> out;
  for (auto& [key, summary] : summaries) {
    if (summary.tests > 0) {
      summary.blocked_percent = percent_of(summary.blocked, summary.tests);
      summary.restricted_percent = percent_of(summary.restricted, summary.tests);
    }
    summary.verdict = verdict_of(summary);
    out.push_back(std::move(summary));
  }
  return out;
}

std::vector<RunRow> with_signature(std::vector<RunRow> rows, const std::string& signature) {
  std::set<TargetKey> keys;
  for (const RunRow& row : rows) {
    if (std::find(row.signatures.begin(), row.signatures.end(), signature) != row.signatures.end()) {
      keys.insert(row.key);
    }
  }
  std::erase_if(rows, [&keys](const RunRow& row) { return !keys.contains(row.key); });
  return rows;
}

std::string render_summary_table(const std::vector<TargetSummary>& summaries, const std::string& by) {
  std::vector<std::vector<std::string>> lines;
  std::vector<std::string> header = {"app",  "target", "found", "tests", "blocked %", "restricted %", "verdict",
                                     "blk",  "rst",    "acc",   "down",  "anom",      "inc",          "unj",
                                     "intr", "first blocked", "last blocked", "last tested", "latest"};
  if (!by.empty()) {
    header.insert(header.begin(), group_header(by));
  }
  lines.push_back(header);
  for (const TargetSummary& summary : summaries) {
    std::vector<std::string> line = {summary.key.app,
                                     target_label(summary.key),
                                     std::to_string(summary.found),
                                     std::to_string(summary.tests),
                                     percent_text(summary.blocked_percent),
                                     percent_text(summary.restricted_percent),
                                     summary.verdict,
                                     std::to_string(summary.blocked),
                                     std::to_string(summary.restricted),
                                     std::to_string(summary.accessible),
                                     std::to_string(summary.down),
                                     std::to_string(summary.anomaly),
                                     std::to_string(summary.inconclusive),
                                     std::to_string(summary.unjudged),
                                     std::to_string(summary.interrupted),
                                     summary.first_blocked.value_or("-"),
                                     summary.last_blocked.value_or("-"),
                                     summary.last_tested.value_or("-"),
                                     latest_text(summary)};
    if (!by.empty()) {
      line.insert(line.begin(), summary.group);
    }
    lines.push_back(std::move(line));
  }
  std::vector<std::size_t> widths(header.size(), 0);
  for (const auto& line : lines) {
    for (std::size_t k = 0; k < line.size(); ++k) {
      widths[k] = std::max(widths[k], line[k].size());
    }
  }
  std::ostringstream out;
  for (const auto& line : lines) {
    std::string text;
    for (std::size_t k = 0; k < line.size(); ++k) {
      text += line[k];
      if (k + 1 < line.size()) {
        text += std::string(widths[k] - line[k].size() + 2, ' ');
      }
    }
    out << text << "\n";
  }
  return out.str();
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) {
    return text;
  }
  std::string quoted = "\"";
  for (char c : text) {
    quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  }
  return quoted + "\"";
}

std::string render_summary_csv(const std::vector<TargetSummary>& summaries, const std::string& by) {
  std::ostringstream out;
  // Every entry has the same fields: an empty summary's give the header even with no target.
  const json fields = entry_json(TargetSummary{}, by);
  std::string header;
  for (const auto& [name, value] : fields.items()) {
    header += (header.empty() ? "" : ",") + name;
  }
  out << header << "\r\n";
  for (const TargetSummary& summary : summaries) {
    const json entry = entry_json(summary, by);
    std::string line;
    bool first = true;  // a first field may be empty (a dns target's url)
    for (const auto& [name, value] : entry.items()) {
      line += (first ? "" : ",") + csv_value(value);
      first = false;
    }
    out << line << "\r\n";
  }
  return out.str();
}

nlohmann::ordered_json greatfire_json(const std::vector<TargetSummary>& summaries, const std::string& by) {
  json out = json::array();
  for (const TargetSummary& summary : summaries) {
    out.push_back(entry_json(summary, by));
  }
  return out;
}

}  // namespace probe
