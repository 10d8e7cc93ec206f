#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>

#include "core/clock.hpp"
#include "report/report.hpp"

// What an unattended probe keeps in its output folder. Only files named as probe names reports
// ("<yyyymmddThhmmssZ>_<32 hex>.json", or ".json.gz") are touched, and their age is read from
// that name, not from the file's times (which copies and backups change).
namespace probe {

struct RetentionPolicy {
  std::optional<std::size_t> keep;       // --keep N: the N newest reports stay, older ones go
  std::optional<int> keep_days;          // --keep-days D: reports started more than D days ago go
  std::optional<int> compress_after_days;  // reports older than this become .json.gz (nullopt: never)
};

struct RetentionOutcome {
  std::size_t removed = 0;
  std::size_t compressed = 0;
  std::size_t failed = 0;  // files that could not be removed or compressed (logged as warnings)
};

// Applies `policy` to `folder` at time `now`. `current` (the report just written) is never removed
// or compressed. Failures are warnings: the run's own report is already safe.
RetentionOutcome apply_retention(const std::filesystem::path& folder, const RetentionPolicy& policy,
                                 SystemTime now, const std::filesystem::path& current);

// The start time a report's file name gives, or nullopt when the name is not a report's.
std::optional<SystemTime> report_time_from_name(const std::string& file_name);

// gzip (RFC 1952) of `data`, and its inverse (which also takes plain, uncompressed data as is:
// readers accept .json and .json.gz alike). Throws std::runtime_error on corrupt input, and when
// the data inflates to more than `limit` bytes (it stops there: memory stays bounded).
std::string gzip_compress(const std::string& data);
std::string maybe_gunzip(const std::string& data, std::size_t limit);

// What a report read back may be, on disk and uncompressed: twice what `probe run` writes
// (k_max_report_bytes), and the most a crash log is read up to.
inline constexpr std::size_t k_max_report_read_bytes = 2 * k_max_report_bytes;

// A report file's JSON text, .json or .json.gz: a regular file of at most k_max_report_read_bytes,
// as much uncompressed. Throws UserError 66 (cannot read) or 65 (corrupt, not a regular file, too
// large).
std::string read_report_text(const std::filesystem::path& path);

}  // namespace probe
