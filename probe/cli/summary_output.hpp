#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "report/report.hpp"

// What a person reads on stderr after `probe run`: a table per app, one summary line per app,
// warnings about the run's inputs, and a progress line while measuring. The render functions are
// pure (a report in, text out); whether to colour, and how wide the terminal is, is the caller's
// decision, made once with use_color() and terminal_width().
namespace probe {

// How to render. The default (no colour, 100 columns) is what goes to a file or a pipe.
struct OutputStyle {
  bool color = false;       // ANSI colours on verdicts
  std::size_t width = 100;  // lines are kept within this many columns where the text allows
};

// Per app a table (target; the reading of the direct path and of each control path; the
// verdict with its method), then one summary line per app, e.g.
// "signal: blocked (tls/sni) on 4 of 4 targets" or "twitter: accessible (9 of 9 targets)".
// Rows are sorted as the report's results are (app, host, port). Each app's table has its own
// column widths, and its target column is cut ("...") to keep lines within `style.width` where
// the other columns leave room. Empty for a report without results.
std::string render_summary(const Report& report, const OutputStyle& style);

// The verdict's evidence, one line each, indented under the target ("" without a verdict or
// evidence): what `-v` adds to the summary.
std::string render_verdict_evidence(const TargetResult& result);

// Warnings about the run's inputs, one line each (no trailing newline): target lists last
// reviewed more than 90 days before `today`, and lists without a review date. Ad hoc --url
// targets are not a list and have no date to check.
std::vector<std::string> input_warnings(const Report& report, std::chrono::sys_days today);

// Whether output to `fd` may be coloured: a terminal, TERM is not "dumb", and NO_COLOR is unset
// or empty (https://no-color.org).
bool use_color(int fd);

// The width of the terminal on `fd`; `fallback` when it is not a terminal or does not say.
std::size_t terminal_width(int fd, std::size_t fallback = 100);

// "[ 12/41] measuring..." rewritten in place on a terminal, at most about ten times a second,
// and erased by finish() (or the destructor), so that what follows starts on a clean line.
// Disabled, it writes nothing. Holds a reference to `out`, which must outlive it.
class ProgressLine {
public:
  ProgressLine(std::ostream& out, bool enabled);
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  void update(std::size_t done, std::size_t total);
  void finish();

private:
  std::ostream& m_out;
  bool m_enabled;
  bool m_written = false;  // a line is on screen
  std::size_t m_length = 0;
  std::chrono::steady_clock::time_point m_last{};
};

// The end of `probe run`: the report's JSON on stdout with `json` (the text written to
// `written`), else the report's path; the input warnings as warnings; and, unless the log level
// is above info (-q), the summary on stderr, with each verdict's evidence at -v.
void print_run_end(const Report& report, const std::filesystem::path& written, bool json);

}  // namespace probe
