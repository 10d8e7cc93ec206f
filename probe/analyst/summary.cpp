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

using nlohmann::json;

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

json optional_json(const std::optional<std::string>& value) { return value ? json(*value) : json(); }

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

std::string current_text(const TargetSummary& summary) {
  std::string text = summary.current_status.value_or("not judged");
  if (summary.current_method) {
    text += " " + *summary.current_method;
  }
  return text;
}

std::string group_header(const std::string& by) { return by == "vantage" ? "vantage" : by; }

}  // namespace

namespace {

// Counts one run of a target in its summary. Rows come in time order: the last one seen is the
// latest.
void count(TargetSummary& summary, const std::string& group, const RunRow& row) {
  summary.group = group;
  summary.key = row.key;
  ++summary.runs;
  const std::string status = row.status.value_or("");
  if (status == "blocked") {
    ++summary.blocked;
    if (!summary.first_blocked) {
      summary.first_blocked = row.started_at;
    }
    summary.last_blocked = row.started_at;
  } else if (status == "accessible") {
    ++summary.accessible;
  } else if (status == "anomaly") {
    ++summary.anomaly;
  } else if (status == "restricted") {
    ++summary.restricted;
  } else if (status == "down") {
    ++summary.down;
  } else if (status == "inconclusive") {
    ++summary.inconclusive;
  } else {
    ++summary.unjudged;
  }
  if (status == "blocked" || status == "accessible") {
    summary.latest_judged = status;
  }
  summary.last_tested = row.started_at;
  summary.current_status = row.status;
  summary.current_method = row.method;
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
    const std::size_t judged = summary.blocked + summary.accessible;
    if (judged > 0) {
      summary.blocked_percent = 100.0 * static_cast<double>(summary.blocked) / static_cast<double>(judged);
    }
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
  std::vector<std::string> header = {"app", "target", "runs", "blocked%", "blk", "acc", "rst", "anom", "down", "inc",
                                     "first blocked", "last blocked", "last tested", "current"};
  if (!by.empty()) {
    header.insert(header.begin(), group_header(by));
  }
  lines.push_back(header);
  for (const TargetSummary& summary : summaries) {
    std::vector<std::string> line = {summary.key.app,
                                     target_label(summary.key),
                                     std::to_string(summary.runs),
                                     percent_text(summary.blocked_percent),
                                     std::to_string(summary.blocked),
                                     std::to_string(summary.accessible),
                                     std::to_string(summary.restricted),
                                     std::to_string(summary.anomaly),
                                     std::to_string(summary.down),
                                     std::to_string(summary.inconclusive + summary.unjudged),
                                     summary.first_blocked.value_or("-"),
                                     summary.last_blocked.value_or("-"),
                                     summary.last_tested,
                                     current_text(summary)};
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
  if (!by.empty()) {
    out << group_header(by) << ",";
  }
  out << "app,host,port,kind,url,runs,blocked,accessible,restricted,anomaly,down,inconclusive,unjudged,"
         "blocked_percent,first_blocked,last_blocked,last_tested,current_status,current_method\r\n";
  for (const TargetSummary& summary : summaries) {
    if (!by.empty()) {
      out << csv_field(summary.group) << ",";
    }
    out << csv_field(summary.key.app) << "," << csv_field(summary.key.host) << ","
        << (summary.key.port ? std::to_string(*summary.key.port) : std::string()) << "," << csv_field(summary.key.kind)
        << "," << csv_field(summary.key.url.value_or("")) << "," << summary.runs << "," << summary.blocked << ","
        << summary.accessible << "," << summary.restricted << "," << summary.anomaly << "," << summary.down << "," << summary.inconclusive << ","
        << summary.unjudged << "," << (summary.blocked_percent ? percent_text(summary.blocked_percent) : std::string())
        << "," << summary.first_blocked.value_or("") << "," << summary.last_blocked.value_or("") << ","
        << summary.last_tested << "," << summary.current_status.value_or("") << ","
        << summary.current_method.value_or("") << "\r\n";
  }
  return out.str();
}

json greatfire_json(const std::vector<TargetSummary>& summaries, const std::string& by) {
  json out = json::array();
  for (const TargetSummary& summary : summaries) {
    json entry = key_json(summary.key);
    if (!by.empty()) {
      entry[group_header(by)] = summary.group == "-" ? json() : json(summary.group);
    }
    entry["verdict"] = !summary.latest_judged              ? json()
                       : *summary.latest_judged == "blocked" ? json("blocked")
                                                             : json("not blocked");
    entry["blocked_percent"] = summary.blocked_percent ? json(rounded(*summary.blocked_percent)) : json();
    entry["last_tested"] = summary.last_tested;
    entry["first_blocked"] = optional_json(summary.first_blocked);
    entry["last_blocked"] = optional_json(summary.last_blocked);
    entry["current_status"] = optional_json(summary.current_status);
    entry["current_method"] = optional_json(summary.current_method);
    entry["runs"] = summary.runs;
    entry["blocked"] = summary.blocked;
    entry["accessible"] = summary.accessible;
    entry["restricted"] = summary.restricted;
    entry["anomaly"] = summary.anomaly;
    entry["down"] = summary.down;
    entry["inconclusive"] = summary.inconclusive;
    entry["unjudged"] = summary.unjudged;
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace probe
