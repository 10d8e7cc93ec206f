#include "store/partial_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "core/input_file.hpp"
#include "model/report_json.hpp"
#include "store/report_reader.hpp"
#include "store/retention.hpp"

namespace probe {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

bool has(const json& object, const char* key, json::value_t type) {
  return object.contains(key) && object[key].type() == type;
}

// The shape of a report's result entry, as far as recover relies on it.
bool is_result(const json& result) {
  return result.is_object() && has(result, "app", json::value_t::string) && has(result, "host", json::value_t::string) &&
         has(result, "kind", json::value_t::string) && has(result, "paths", json::value_t::object) &&
         result.contains("port") && result.contains("url") && result.contains("verdict") &&
         (result["verdict"].is_null() || (has(result["verdict"], "status", json::value_t::string) &&
                                          has(result["verdict"], "methods", json::value_t::array)));
}

}  // namespace

fs::path partial_log_path(const fs::path& folder, const Report& report) {
  fs::path name = report_file_name(report);
  name.replace_extension(".jsonl");
  return folder / name;
}

PartialLog::PartialLog(fs::path path, const Report& report, const std::vector<Target>& targets)
    : m_path(std::move(path)), m_scrubber(report.scrubber) {
  m_fd = ::open(m_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
  if (m_fd < 0) {
    throw UserError(exit_code::k_cant_create, m_path.string() + ": cannot create: " + std::strerror(errno));
  }
  json header = to_json(report);
  header.erase("results");
  header.erase("apps");
  // Each target as a result with nothing measured and no verdict: what recover lists for a
  // target the run never finished.
  json unfinished = json::array();
  for (const Target& target : targets) {
    unfinished.push_back(target_result_json(TargetResult{target, {}, std::nullopt}));
  }
  if (m_scrubber) {
    m_scrubber->scrub(unfinished);
  }
  if (!write_line(dump(json{{"probe_partial_log", k_partial_log_version}, {"report", header}, {"targets", unfinished}}))) {
    const int error = errno;
    ::close(m_fd);
    m_fd = -1;
    ::unlink(m_path.c_str());
    throw UserError(exit_code::k_io_error, m_path.string() + ": cannot write: " + std::strerror(error));
  }
  ::fdatasync(m_fd);
  m_last_sync = std::chrono::steady_clock::now();
}

PartialLog::~PartialLog() {
  if (m_fd >= 0) {
    ::fdatasync(m_fd);
    ::close(m_fd);
  }
}

bool PartialLog::write_line(const std::string& line) {
  const std::string data = line + "\n";
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(m_fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

void PartialLog::append(std::size_t index, const TargetResult& result) {
  append_line(index, target_result_json(result), result);
}

void PartialLog::append(std::size_t index, const TargetResult& result, const Verdict& verdict) {
  append_line(index, target_result_json(result, verdict), result);
}

void PartialLog::append_line(std::size_t index, json result, const TargetResult& measured) {
  if (m_fd < 0 || m_failed) {
    return;
  }
  // The result's own certificates beside it, as a report holds them: recover gathers them.
  CertificateSet certificates;
  certificates.add(measured);
  json line = {{"index", index},
               {"at", format_rfc3339_utc(std::chrono::system_clock::now())},
               {"result", std::move(result)},
               {"certificates", certificates.entries()}};
  if (m_scrubber) {
    m_scrubber->scrub(line);
  }
  if (!write_line(dump(line))) {
    m_failed = true;
    spdlog::warn("{}: cannot append ({}); the report is still written at the end", m_path.string(),
                 std::strerror(errno));
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  if (now - m_last_sync >= std::chrono::seconds(1)) {
    ::fdatasync(m_fd);
    m_last_sync = now;
  }
}

void PartialLog::remove() {
  if (m_fd >= 0) {
    ::close(m_fd);
    m_fd = -1;
  }
  std::error_code ec;
  fs::remove(m_path, ec);
  if (ec) {
    spdlog::warn("{}: cannot remove: {}", m_path.string(), ec.message());
  }
}

json recover_report(const fs::path& log) {
  return recover_report_text(read_input_file(log, k_max_report_read_bytes, "crash log"), log.string());
}

json recover_report_text(const std::string& content, const std::string& name) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < content.size()) {
    const std::size_t end = content.find('\n', start);
    lines.push_back(content.substr(start, end == std::string::npos ? std::string::npos : end - start));
    start = end == std::string::npos ? content.size() : end + 1;
  }
  const bool ends_cleanly = !content.empty() && content.back() == '\n';
  const auto where = [&](std::size_t i) { return name + ":" + std::to_string(i + 1); };
  if (lines.empty()) {
    throw UserError(exit_code::k_data_error, name + ": empty: not the log of a probe run");
  }
  json header = json::parse(lines[0], nullptr, false);
  if (header.is_discarded() || !header.is_object() || !header.contains("probe_partial_log") ||
      !header.contains("report") || !header["report"].is_object()) {
    throw UserError(exit_code::k_data_error, where(0) + ": not the log of a probe run (no header line)");
  }
  if (header["probe_partial_log"] != k_partial_log_version) {
    throw UserError(exit_code::k_data_error, where(0) + ": log version " + dump(header["probe_partial_log"]) +
                                                 " is not " + std::to_string(k_partial_log_version));
  }
  json report = header["report"];
  // The header's report, checked as a report without results is: its schema_version one this probe
  // reads, each field of its frame of its type.
  report["results"] = json::array();
  check_report_frame(report, where(0) + ": report");
  // A log written before the header listed the targets has no "targets": only finished ones are known.
  const json unfinished = header.contains("targets") ? header["targets"] : json::array();
  if (!unfinished.is_array() || !std::all_of(unfinished.begin(), unfinished.end(), [](const json& target) {
        return is_result(target) && target["verdict"].is_null();
      })) {
    throw UserError(exit_code::k_data_error, where(0) + ": the header's targets are not a list of targets");
  }
  for (std::size_t index = 0; index < unfinished.size(); ++index) {
    result_from_json(unfinished[index], where(0) + ": targets/" + std::to_string(index));
  }
  std::map<std::size_t, std::pair<json, json>> results;  // each target's result and its certificates
  std::string last_at;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].empty()) {
      continue;
    }
    const json line = json::parse(lines[i], nullptr, false);
    const bool valid = !line.is_discarded() && line.is_object() &&
                       has(line, "index", json::value_t::number_unsigned) && has(line, "at", json::value_t::string) &&
                       line.contains("result") && is_result(line["result"]);
    if (!valid) {
      if (i + 1 == lines.size() && !ends_cleanly) {
        spdlog::warn("{}: the last line was cut short (the run was killed while writing it); skipped", where(i));
        continue;
      }
      throw UserError(exit_code::k_data_error, where(i) + ": not a result line of a probe log");
    }
    // Each line as the report writer would take it: a result that reads back, for a target the
    // header lists at that index. A line that is not is left out, with a warning.
    const std::size_t index = line["index"].get<std::size_t>();
    try {
      check_certificates(line, where(i));
      result_from_json(line["result"], where(i) + ": result");
    } catch (const UserError& error) {
      spdlog::warn("{}; line skipped", error.what());
      continue;
    }
    if (!unfinished.empty() && index >= unfinished.size()) {
      spdlog::warn("{}: index {} is past the run's {} targets; line skipped", where(i), index, unfinished.size());
      continue;
    }
    if (!unfinished.empty() && target_key(line["result"]) != target_key(unfinished[index])) {
      spdlog::warn("{}: the result is not the header's target {} ({}); line skipped", where(i), index,
                   target_label(target_key(unfinished[index])));
      continue;
    }
    // A line written before certificates were kept has none.
    results[index] = {line["result"], line.value("certificates", json::object())};
    last_at = line["at"].get<std::string>();
  }
  // Targets the run had not finished: listed, unjudged (verdict null), with nothing measured.
  for (std::size_t index = 0; index < unfinished.size(); ++index) {
    results.emplace(index, std::pair{unfinished[index], json::object()});
  }
  std::vector<std::pair<json, json>> sorted;
  for (auto& [index, result] : results) {
    sorted.push_back(std::move(result));
  }
  // The order to_json() gives: by app, host, port, kind, then URL.
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& x, const auto& y) {
    const json& a = x.first;
    const json& b = y.first;
    return std::tie(a["app"], a["host"], a["port"], a["kind"], a["url"]) <
           std::tie(b["app"], b["host"], b["port"], b["kind"], b["url"]);
  });
  // Each distinct certificate once, within the report's cap, in the order of the results.
  CertificateSet certificates;
  json ordered = json::array();
  for (auto& [result, own] : sorted) {
    for (const auto& [sha256, der] : own.items()) {
      certificates.add(sha256, der.get<std::string>());
    }
    ordered.push_back(std::move(result));
  }
  report["interrupted"] = true;
  if (!last_at.empty()) {
    report["finished_at"] = last_at;
  }
  report["apps"] = apps_of_results(ordered);
  report["certificates"] = certificates.entries();
  report["certificates_truncated"] = certificates.truncated();
  report["results"] = std::move(ordered);
  return report;
}

}  // namespace probe
