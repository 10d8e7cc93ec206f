#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>

#include <nlohmann/json.hpp>

#include "report/report.hpp"
#include "report/scrub.hpp"

// The append-only log of a run in progress, beside the report it will become:
// "<report name without .json>.jsonl", mode 0600. Its first line is the report without results;
// each further line is one target's result, appended when the target is complete (a target
// re-tested later gets a second line, which replaces the first). A run that ends, even by
// SIGINT/SIGTERM, writes its report and removes the log; one that is killed (SIGKILL, power loss)
// leaves it, and `probe recover` turns it into a report marked interrupted.
namespace probe {

inline constexpr int k_partial_log_version = 1;

// Where the log of `report` lives in `folder`.
std::filesystem::path partial_log_path(const std::filesystem::path& folder, const Report& report);

class PartialLog {
public:
  // Creates the log (it must not exist) and writes the header line: `report` as far as it is
  // known before measuring, and `targets` in the order their indexes refer to (recover lists those
  // never finished). Throws UserError 73 when it cannot be created, 74 when the header cannot be
  // written.
  PartialLog(std::filesystem::path path, const Report& report, const std::vector<Target>& targets = {});
  ~PartialLog();
  PartialLog(const PartialLog&) = delete;
  PartialLog& operator=(const PartialLog&) = delete;

  // Appends a target's result (judged with what was known then). Each line is one write(2) on
  // an O_APPEND descriptor; the data reaches the disk (fdatasync) at most a second after it is
  // written, so a power loss costs at most the last second. A failed write (disk full) is
  // logged once and later lines are skipped: the report written at the end is what counts.
  void append(std::size_t index, const TargetResult& result);
  // The same, with `verdict` in place of the result's own.
  void append(std::size_t index, const TargetResult& result, const Verdict& verdict);

  // Once the report is written: the log is no longer needed.
  void remove();

  const std::filesystem::path& path() const { return m_path; }

private:
  void append_line(std::size_t index, nlohmann::json result, const TargetResult& measured);
  bool write_line(const std::string& line);

  std::filesystem::path m_path;
  int m_fd = -1;
  bool m_failed = false;
  std::chrono::steady_clock::time_point m_last_sync;
  std::shared_ptr<const Scrubber> m_scrubber;
};

// `probe recover`: the report (JSON, in the schema of reports/schema.json) that the log of a
// killed run holds: its header, the last line of each target, `interrupted: true`, and
// `finished_at` set to when the last line was written. A last line cut short (the process died
// while writing it) is skipped with a warning. Throws UserError 66 when the log cannot be read,
// 65 when it is not a probe log or a line before the last is not valid.
// Each result line is read back as a report's result is (model/report_json), for the target the
// header lists at its index: a line that is not is skipped with a warning naming it. The header's
// report must be one of a readable schema_version with a frame of the right types (65 otherwise).
// Each line carries its result's certificates (sha256 -> base64 DER, as a report's `certificates`);
// the report gathers them, each once, within k_max_certificates_bytes.
nlohmann::json recover_report(const std::filesystem::path& log);

// The same over the log's text; `name` names it in messages.
nlohmann::json recover_report_text(const std::string& content, const std::string& name);

}  // namespace probe
