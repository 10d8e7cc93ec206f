#include "cli/summary_output.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <set>
#include <string_view>
#include <tuple>

#include <spdlog/spdlog.h>

#include "model/steps.hpp"
#include "targets/target_list.hpp"

namespace probe {

namespace {

using namespace std::chrono_literals;

constexpr std::string_view k_red = "\033[31m";
constexpr std::string_view k_green = "\033[32m";
constexpr std::string_view k_yellow = "\033[33m";
constexpr std::string_view k_dim = "\033[2m";
constexpr std::string_view k_reset = "\033[0m";

constexpr std::string_view k_indent = "  ";
constexpr std::string_view k_gap = "  ";
// Narrower than this, a target column says too little to be worth keeping the line short.
constexpr std::size_t k_min_target_width = 16;
constexpr int k_stale_after_days = 90;
constexpr auto k_progress_interval = 100ms;

bool is_continuation_byte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Columns a text takes: one per code point (hosts are ASCII; details and evidence may be UTF-8).
std::size_t display_width(std::string_view text) {
  return static_cast<std::size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return !is_continuation_byte(c); }));
}

// The bytes of the first `count` code points of `text`.
std::string_view first_code_points(std::string_view text, std::size_t count) {
  std::size_t seen = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!is_continuation_byte(text[i])) {
      if (seen == count) {
        return text.substr(0, i);
      }
      ++seen;
    }
  }
  return text;
}

// `text` cut to `width` columns, ending in "..." when cut.
std::string fit(std::string_view text, std::size_t width) {
  if (display_width(text) <= width) {
    return std::string(text);
  }
  if (width <= 3) {
    return std::string(first_code_points(text, width));
  }
  return std::string(first_code_points(text, width - 3)) + "...";
}

std::string pad(std::string text, std::size_t width) {
  const std::size_t used = display_width(text);
  if (used < width) {
    text.append(width - used, ' ');
  }
  return text;
}

// Control characters (C0, DEL, C1) as '?': evidence can quote the network (a page title), and a
// terminal must not take it for escape sequences.
std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x20 || byte == 0x7F) {
      out += '?';
    } else if (byte == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9F) {
      out += '?';
      ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string paint(const std::string& text, std::string_view color, bool enabled) {
  if (!enabled || color.empty()) {
    return text;
  }
  return std::string(color) + text + std::string(k_reset);
}

std::string_view color_of(const std::optional<Verdict>& verdict) {
  if (!verdict) {
    return {};
  }
  switch (verdict->status) {
  case Status::blocked: return k_red;
  case Status::anomaly:
  case Status::restricted: return k_yellow;
  case Status::down:
  case Status::inconclusive: return k_dim;
  case Status::accessible: return k_green;
  }
  return {};
}

std::vector<const TargetResult*> sorted_results(const Report& report) {
  std::vector<const TargetResult*> results;
  for (const auto& result : report.results) {
    results.push_back(&result);
  }
  // The report's own order (see to_json), so that the table reads like the file.
  std::stable_sort(results.begin(), results.end(), [](const TargetResult* a, const TargetResult* b) {
    const Target& x = a->target;
    const Target& y = b->target;
    return std::tie(x.app, x.host, x.port, x.kind, x.path) < std::tie(y.app, y.host, y.port, y.kind, y.path);
  });
  return results;
}

std::string target_label(const Target& target) {
  if (target.kind == Kind::http || target.kind == Kind::https) {
    return target.url();
  }
  std::string label = target.host.find(':') != std::string::npos ? "[" + target.host + "]" : target.host;
  if (target.port) {
    label += ":" + std::to_string(*target.port);
  }
  return label + " " + std::string(to_string(target.kind));
}

// What follows the status and method in the table: the verdict's signatures of the method's layer
// and those of how a transfer flowed, the ones that refine a layer (sni, mitm, stalled, ...) in
// place of the plain failures they refine; all of them when there is no method.
std::string signature_text(const Verdict& verdict) {
  std::vector<Signature> shown;
  for (Signature signature : verdict.signatures) {
    const std::string_view layer = layer_of(signature);
    if (!verdict.method || layer.empty() || layer == *verdict.method) {
      shown.push_back(signature);
    }
  }
  if (std::any_of(shown.begin(), shown.end(), refines)) {
    std::erase_if(shown, [](Signature signature) { return !refines(signature); });
  }
  std::string out;
  for (Signature signature : shown) {
    out += (out.empty() ? "" : ",") + std::string(to_string(signature));
  }
  return out;
}

// "blocked tls/sni", "blocked http/stalled", "accessible", "restricted stalled", "inconclusive
// congested", "not judged": the status, the method, then the signatures (signature_text).
std::string verdict_text(const std::optional<Verdict>& verdict) {
  if (!verdict) {
    return "not judged";
  }
  std::string text(to_string(verdict->status));
  const std::string qualifier = signature_text(*verdict);
  if (verdict->method) {
    text += " " + *verdict->method;
    if (!qualifier.empty()) {
      text += "/" + qualifier;
    }
  } else if (!qualifier.empty()) {
    text += " " + qualifier;
  }
  return text;
}

// Statuses in the order a summary line leads with them: the most telling first.
enum class Tally { blocked, restricted, anomaly, down, inconclusive, unjudged, accessible };
constexpr Tally k_tallies[] = {Tally::blocked,      Tally::restricted, Tally::anomaly,   Tally::down,
                               Tally::inconclusive, Tally::unjudged,   Tally::accessible};

Tally tally_of(const std::optional<Verdict>& verdict) {
  if (!verdict) {
    return Tally::unjudged;
  }
  switch (verdict->status) {
  case Status::blocked: return Tally::blocked;
  case Status::anomaly: return Tally::anomaly;
  case Status::restricted: return Tally::restricted;
  case Status::down: return Tally::down;
  case Status::inconclusive: return Tally::inconclusive;
  case Status::accessible: return Tally::accessible;
  }
  return Tally::unjudged;
}

std::string tally_name(Tally tally) {
  switch (tally) {
  case Tally::blocked: return "blocked";
  case Tally::anomaly: return "anomaly";
  case Tally::restricted: return "restricted";
  case Tally::down: return "down";
  case Tally::inconclusive: return "inconclusive";
  case Tally::unjudged: return "not judged";
  case Tally::accessible: return "accessible";
  }
  return "not judged";
}

std::string_view tally_color(Tally tally) {
  switch (tally) {
  case Tally::blocked: return k_red;
  case Tally::anomaly:
  case Tally::restricted: return k_yellow;
  case Tally::down:
  case Tally::inconclusive: return k_dim;
  case Tally::accessible: return k_green;
  case Tally::unjudged: return {};
  }
  return {};
}

// Layers in the order a connection crosses them.
int layer_rank(const std::string& label) {
  const std::string method = label.substr(0, label.find('/'));
  if (method == "dns") {
    return 0;
  }
  if (method == "tcp_ip") {
    return 1;
  }
  if (method == "tls") {
    return 2;
  }
  if (method == "http") {
    return 3;
  }
  return 4;
}

// "dns, tcp_ip" or "tls/sni": every layer the verdicts saw, the deciding one with its signatures.
std::string method_labels(const std::vector<const TargetResult*>& results) {
  std::set<std::pair<int, std::string>> labels;
  for (const TargetResult* result : results) {
    const Verdict& verdict = *result->verdict;
    const std::string keyword = signature_text(verdict);
    std::vector<std::string> methods = verdict.methods;
    if (verdict.method && std::find(methods.begin(), methods.end(), *verdict.method) == methods.end()) {
      methods.push_back(*verdict.method);
    }
    for (const std::string& method : methods) {
      std::string label = method;
      if (verdict.method == method && !keyword.empty()) {
        label.append("/").append(keyword);
      }
      labels.emplace(layer_rank(label), label);
    }
  }
  std::string text;
  for (const auto& [rank, label] : labels) {
    text += (text.empty() ? "" : ", ") + label;
  }
  return text;
}

// "facebook: blocked (dns, tcp_ip) on 5 of 12 targets; 7 accessible".
std::string summary_line(const std::string& app, const std::vector<const TargetResult*>& results, bool color) {
  std::map<Tally, std::vector<const TargetResult*>> by_tally;
  for (const TargetResult* result : results) {
    by_tally[tally_of(result->verdict)].push_back(result);
  }
  const Tally lead = by_tally.begin()->first;  // std::map orders by the enum: the most telling first
  const std::size_t total = results.size();
  const std::string of_total =
      std::to_string(by_tally[lead].size()) + " of " + std::to_string(total) + (total == 1 ? " target" : " targets");
  std::string line = app + ": " + paint(tally_name(lead), tally_color(lead), color);
  if (lead == Tally::accessible || lead == Tally::unjudged) {
    line += " (" + of_total + ")";
  } else {
    const std::string methods = method_labels(by_tally[lead]);
    line += (methods.empty() ? "" : " (" + methods + ")") + " on " + of_total;
  }
  std::string rest;
  for (const Tally tally : {Tally::accessible, Tally::blocked, Tally::restricted, Tally::anomaly, Tally::down,
                            Tally::inconclusive, Tally::unjudged}) {
    const auto found = by_tally.find(tally);
    if (tally != lead && found != by_tally.end()) {
      rest += (rest.empty() ? "" : ", ") + std::to_string(found->second.size()) + " " + tally_name(tally);
    }
  }
  return rest.empty() ? line : line + "; " + rest;
}

std::optional<std::chrono::sys_days> parse_date(const std::string& text) {
  if (!is_iso_date(text)) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year{std::stoi(text.substr(0, 4))},
                                         std::chrono::month{static_cast<unsigned>(std::stoi(text.substr(5, 2)))},
                                         std::chrono::day{static_cast<unsigned>(std::stoi(text.substr(8, 2)))}};
  if (!date.ok()) {
    return std::nullopt;
  }
  return std::chrono::sys_days{date};
}

// One app's table. Each app gets its own column widths: a long failure in one app's table
// should not squeeze another's target names.
std::string render_table(const std::vector<std::string>& header, const std::vector<std::string>& path_names,
                         const std::vector<const TargetResult*>& results, const OutputStyle& style) {
  struct Row {
    std::vector<std::string> cells;
    std::string_view color;
  };
  std::vector<Row> rows = {Row{header, {}}};
  for (const TargetResult* result : results) {
    Row row;
    row.cells.push_back(target_label(result->target));
    for (const std::string& path : path_names) {
      row.cells.push_back(path_reading(*result, path));
    }
    row.cells.push_back(verdict_text(result->verdict));
    row.color = color_of(result->verdict);
    rows.push_back(std::move(row));
  }
  std::vector<std::size_t> widths(header.size());
  for (const Row& row : rows) {
    for (std::size_t c = 0; c < row.cells.size(); ++c) {
      widths[c] = std::max(widths[c], display_width(row.cells[c]));
    }
  }
  // The target column gives way, so that a line fits the width; the others are short words.
  std::size_t others = k_indent.size();
  for (std::size_t c = 1; c < widths.size(); ++c) {
    others += k_gap.size() + widths[c];
  }
  const std::size_t room = style.width > others ? style.width - others : 0;
  widths[0] = std::min(widths[0], std::max(room, k_min_target_width));

  std::string out;
  for (const Row& row : rows) {
    out += k_indent;
    for (std::size_t c = 0; c < row.cells.size(); ++c) {
      const std::string cell = c == 0 ? fit(row.cells[c], widths[c]) : row.cells[c];
      if (c + 1 < row.cells.size()) {
        out += pad(cell, widths[c]) + std::string(k_gap);
      } else {
        out += paint(cell, row.color, style.color);  // last: no padding, so no trailing blanks
      }
    }
    out += "\n";
  }
  return out;
}

}  // namespace

std::string render_summary(const Report& report, const OutputStyle& style) {
  const auto results = sorted_results(report);
  if (results.empty()) {
    return "";
  }
  std::vector<std::string> header = {"target", "direct"};
  std::vector<std::string> path_names = {"direct"};
  for (const PathInfo& path : report.paths) {
    if (path.name != "direct") {
      header.push_back(path.name);
      path_names.push_back(path.name);
    }
  }
  header.push_back("verdict");

  std::map<std::string, std::vector<const TargetResult*>> by_app;
  for (const TargetResult* result : results) {
    by_app[result->target.app].push_back(result);
  }
  std::string out;
  for (const auto& [app, app_results] : by_app) {
    out += (out.empty() ? "" : "\n") + app + "\n" + render_table(header, path_names, app_results, style);
  }
  out += "\n";
  for (const auto& [app, app_results] : by_app) {
    out += summary_line(app, app_results, style.color) + "\n";
  }
  if (report.interrupted) {
    out += "the run was interrupted: targets it had not finished are inconclusive\n";
  }
  return out;
}

std::string render_verdict_evidence(const TargetResult& result) {
  if (!result.verdict || result.verdict->evidence.empty()) {
    return "";
  }
  std::string out = std::string(k_indent) + target_label(result.target) + ": " + verdict_text(result.verdict) + "\n";
  for (const std::string& evidence : result.verdict->evidence) {
    out += std::string(k_indent) + std::string(k_indent) + printable(evidence) + "\n";
  }
  return out;
}

std::vector<std::string> input_warnings(const Report& report, std::chrono::sys_days today) {
  std::vector<std::string> warnings;
  for (const TargetList& list : report.target_lists) {
    if (list.format == "url") {
      continue;  // ad hoc targets: the user chose them just now
    }
    const std::string file = std::filesystem::path(list.file).filename().string();
    const auto reviewed = list.reviewed ? parse_date(*list.reviewed) : std::nullopt;
    if (!reviewed) {
      warnings.push_back(file + " has no review date: stale lists are the known source of false positives; "
                                "check its targets before trusting a blocked verdict");
      continue;
    }
    const auto age = (today - *reviewed).count();
    if (age > k_stale_after_days) {
      warnings.push_back(file + " was last reviewed " + *list.reviewed + " (" + std::to_string(age) +
                         " days ago): stale lists are the known source of false positives; review it");
    }
  }
  return warnings;
}

bool use_color(int fd) {
  if (isatty(fd) == 0) {
    return false;
  }
  const char* term = std::getenv("TERM");
  if (term != nullptr && std::string_view(term) == "dumb") {
    return false;
  }
  const char* no_color = std::getenv("NO_COLOR");
  return no_color == nullptr || *no_color == '\0';
}

std::size_t terminal_width(int fd, std::size_t fallback) {
  winsize size{};
  if (isatty(fd) != 0 && ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) {
    return size.ws_col;
  }
  return fallback;
}

ProgressLine::ProgressLine(std::ostream& out, bool enabled) : m_out(out), m_enabled(enabled) {}

ProgressLine::~ProgressLine() { finish(); }

void ProgressLine::update(std::size_t done, std::size_t total) {
  if (!m_enabled) {
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  // The last update always shows, so the line never stops short of the total.
  if (m_written && done < total && now - m_last < k_progress_interval) {
    return;
  }
  const std::string of = std::to_string(total);
  const std::string count = std::to_string(done);
  const std::string text =
      "[" + std::string(of.size() > count.size() ? of.size() - count.size() : 0, ' ') + count + "/" + of +
      "] measuring...";
  m_out << '\r' << text;
  if (text.size() < m_length) {
    m_out << std::string(m_length - text.size(), ' ');  // what a longer line left behind
  }
  m_out.flush();
  m_length = std::max(m_length, text.size());
  m_written = true;
  m_last = now;
}

void ProgressLine::finish() {
  if (!m_enabled || !m_written) {
    return;
  }
  m_out << '\r' << std::string(m_length, ' ') << '\r';
  m_out.flush();
  m_written = false;
  m_length = 0;
}

void print_run_end(const Report& report, const std::filesystem::path& written, bool json) {
  const auto today = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
  for (const std::string& warning : input_warnings(report, today)) {
    spdlog::warn("{}", warning);
  }
  if (spdlog::get_level() <= spdlog::level::info) {
    OutputStyle style;
    style.color = use_color(STDERR_FILENO);
    style.width = terminal_width(STDERR_FILENO, style.width);
    std::string text;
    if (spdlog::get_level() <= spdlog::level::debug) {
      for (const TargetResult* result : sorted_results(report)) {
        text += render_verdict_evidence(*result);
      }
      text += text.empty() ? "" : "\n";
    }
    std::cerr << text << render_summary(report, style) << std::flush;
  }
  // stdout carries only what was asked for, last, so that a terminal shows where the report went.
  if (json) {
    std::cout << serialize(report);
  } else {
    std::cout << written.string() << "\n";
  }
  std::cout.flush();
}

}  // namespace probe
