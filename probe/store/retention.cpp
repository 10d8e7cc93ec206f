#include "store/retention.hpp"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "core/atomic_file.hpp"
#include "core/input_file.hpp"

namespace probe {

namespace fs = std::filesystem;

namespace {

struct ReportFile {
  fs::path path;
  SystemTime started;
  bool compressed = false;
};

int digits(const std::string& text, std::size_t at, std::size_t count) {
  int value = 0;
  for (std::size_t i = at; i < at + count; ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return -1;
    }
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

}  // namespace

std::optional<SystemTime> report_time_from_name(const std::string& name) {
  // 20261129T001500Z_<32 hex>.json[.gz]
  std::string stem = name;
  if (stem.ends_with(".json.gz")) {
    stem.resize(stem.size() - 8);
  } else if (stem.ends_with(".json")) {
    stem.resize(stem.size() - 5);
  } else {
    return std::nullopt;
  }
  if (stem.size() != 16 + 1 + 32 || stem[8] != 'T' || stem[15] != 'Z' || stem[16] != '_') {
    return std::nullopt;
  }
  if (!std::all_of(stem.begin() + 17, stem.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); })) {
    return std::nullopt;
  }
  const int year = digits(stem, 0, 4);
  const int month = digits(stem, 4, 2);
  const int day = digits(stem, 6, 2);
  const int hour = digits(stem, 9, 2);
  const int minute = digits(stem, 11, 2);
  const int second = digits(stem, 13, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                                         std::chrono::day{static_cast<unsigned>(day)}};
  if (!date.ok() || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  return std::chrono::time_point_cast<SystemTime::duration>(
      std::chrono::sys_days(date) + std::chrono::hours(hour) + std::chrono::minutes(minute) +
      std::chrono::seconds(second));
}

std::string gzip_compress(const std::string& data) {
  z_stream stream{};
  // windowBits 15 + 16: a gzip header and trailer rather than zlib's.
  if (deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  std::string out(deflateBound(&stream, static_cast<uLong>(data.size())) + 32, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&stream, Z_FINISH);
  const std::size_t written = stream.total_out;
  deflateEnd(&stream);
  if (rc != Z_STREAM_END) {
    throw std::runtime_error("deflate did not finish");
  }
  out.resize(written);
  return out;
}

std::string maybe_gunzip(const std::string& data, std::size_t limit) {
  if (data.size() < 2 || static_cast<unsigned char>(data[0]) != 0x1f || static_cast<unsigned char>(data[1]) != 0x8b) {
    return data;
  }
  z_stream stream{};
  if (inflateInit2(&stream, 15 + 16) != Z_OK) {
    throw std::runtime_error("inflateInit2 failed");
  }
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buffer[65536];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof buffer;
    rc = inflate(&stream, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&stream);
      throw std::runtime_error("corrupt gzip data");
    }
    out.append(buffer, sizeof buffer - stream.avail_out);
    if (out.size() > limit) {  // a small file that inflates without end
      inflateEnd(&stream);
      throw std::runtime_error("more than " + size_text(limit) + " uncompressed, more than a report may be");
    }
    if (rc == Z_OK && stream.avail_in == 0 && stream.avail_out != 0) {
      inflateEnd(&stream);
      throw std::runtime_error("gzip data cut short");
    }
  }
  inflateEnd(&stream);
  return out;
}

std::string read_report_text(const fs::path& path) {
  const std::string data = read_input_file(path, k_max_report_read_bytes, "report");
  try {
    return maybe_gunzip(data, k_max_report_read_bytes);
  } catch (const std::runtime_error& error) {
    throw UserError(exit_code::k_data_error, path.string() + ": " + error.what());
  }
}

RetentionOutcome apply_retention(const fs::path& folder, const RetentionPolicy& policy, SystemTime now,
                                 const fs::path& current) {
  RetentionOutcome outcome;
  std::vector<ReportFile> reports;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    const auto started = report_time_from_name(name);
    if (!started || !entry.is_regular_file(ec) || entry.path().filename() == current.filename()) {
      continue;
    }
    reports.push_back(ReportFile{entry.path(), *started, name.ends_with(".gz")});
  }
  // Newest first; the current report counts as the newest of --keep N.
  std::sort(reports.begin(), reports.end(), [](const ReportFile& a, const ReportFile& b) {
    return a.started != b.started ? a.started > b.started : a.path > b.path;
  });
  const auto older_than = [&](const ReportFile& report, int days) {
    return now - report.started > std::chrono::hours(24) * days;
  };
  for (std::size_t i = 0; i < reports.size(); ++i) {
    const ReportFile& report = reports[i];
    const bool too_many = policy.keep && i + 1 >= *policy.keep;
    const bool too_old = policy.keep_days && older_than(report, *policy.keep_days);
    if (too_many || too_old) {
      if (fs::remove(report.path, ec); ec) {
        spdlog::warn("{}: cannot remove an old report: {}", report.path.string(), ec.message());
        ++outcome.failed;
      } else {
        ++outcome.removed;
      }
      continue;
    }
    if (report.compressed || !policy.compress_after_days || !older_than(report, *policy.compress_after_days)) {
      continue;
    }
    try {
      fs::path target = report.path;
      target += ".gz";
      write_file_atomically(target, gzip_compress(read_report_text(report.path)), 0600);
      fs::remove(report.path);
      ++outcome.compressed;
    } catch (const std::exception& error) {
      spdlog::warn("{}: cannot compress: {}", report.path.string(), error.what());
      ++outcome.failed;
    }
  }
  return outcome;
}

}  // namespace probe
