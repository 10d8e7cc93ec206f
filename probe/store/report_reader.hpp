#pragma once

#include <compare>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/observations.hpp"

// Reading reports back: the history index here in store/, and analyst/'s diff, summary and
// export. They work on the report's JSON as documented in reports/README.md: schema_versions 1
// and 2 are understood (a version-1 report reads as one with no verdict signatures and no path
// congestion), and a report of any other version is refused rather than misread.
namespace probe {

inline constexpr int k_oldest_report_schema_version = 1;
// The newest, which `probe run` writes: model/'s one constant.
inline constexpr int k_report_schema_version = k_schema_version;

// Whether this probe reads reports of `version`.
constexpr bool readable_schema_version(long long version) {
  return version >= k_oldest_report_schema_version && version <= k_report_schema_version;
}
// "1 and 2": the versions this probe reads, for messages.
std::string readable_schema_versions();

// A report file, its parsed JSON and its results read back (model/report_json). `file_name` is the
// name without the folder. Every field a reader takes from `json` has been checked: its frame by
// check_report_frame, each result by result_from_json.
struct LoadedReport {
  std::filesystem::path path;
  std::string file_name;
  nlohmann::json json;
  std::vector<TargetResult> results;  // in the order of json["results"]
};

// Loads a report (.json or .json.gz) and checks it whole. Throws UserError: 66 when the file is
// missing or unreadable, 65 when it is not JSON, not a report of a known version (the message
// names the file and the version it holds), or has a field of the wrong type anywhere (the
// message names the file and the field: "r.json: interrupted: expected true or false, got \"yes\"").
LoadedReport load_report(const std::filesystem::path& path);

// The same for a report already parsed (`path` names it in messages).
LoadedReport loaded_report(nlohmann::json report, const std::filesystem::path& path);

// Throws UserError 65, naming `where`, unless `report` is an object with a readable schema_version
// and a results array.
void check_schema_version(const nlohmann::json& report, const std::string& where);

// check_schema_version, then the report's frame (reports/schema.json's top level): each field
// that is there has its type (probe_version, run_id, started_at and finished_at strings,
// interrupted true or false, vantage an object of strings or nulls, paths and target_lists arrays,
// options and apps objects, certificates as check_certificates, each result an object). Throws
// UserError 65 naming `where` and the field.
void check_report_frame(const nlohmann::json& report, const std::string& where);

// `object`'s `certificates`, when there, is an object of strings (sha256 -> base64 DER) and its
// `certificates_truncated` true or false: a report's, or a crash log line's. Throws UserError 65
// naming `where` and the field ("r.json: certificates/ab12...: expected a string (base64 DER), got 5").
void check_certificates(const nlohmann::json& object, const std::string& where);

// A file that may hold a report: given by name, or found in a given folder.
struct ReportFile {
  std::filesystem::path path;
  bool from_folder = false;  // found in a folder, not named by the user
};

// "x.json" and "x.json.gz" are report files; the stem is the name without either ending.
bool has_report_extension(const std::string& file_name);
std::string report_stem(const std::string& file_name);

// The report files among `inputs`: a file stands for itself; a folder gives its .json and .json.gz
// files (not recursive). Sorted by path, each once. Throws UserError 66 for an input that does not
// exist.
std::vector<ReportFile> list_report_files(const std::vector<std::filesystem::path>& inputs);

// What names a target across reports: app, host, port, kind, url (port and url are null for
// `dns` targets).
struct TargetKey {
  std::string app;
  std::string host;
  std::optional<long long> port;
  std::string kind;
  std::optional<std::string> url;
  auto operator<=>(const TargetKey&) const = default;
};

TargetKey target_key(const nlohmann::json& result);
nlohmann::json key_json(const TargetKey& key);
// The URL when there is one, else "host:port kind" ("host dns" for a dns target).
std::string target_label(const TargetKey& key);

// The string at `object[key]`, or nullopt when missing or not a string.
std::optional<std::string> optional_string(const nlohmann::json& object, const char* key);

// One target of one run: what the history index stores and the summary counts.
struct RunRow {
  std::string run_id;
  std::string started_at;  // RFC 3339 UTC, so text order is time order
  std::optional<std::string> vantage_id;
  std::optional<std::string> asn;
  std::optional<std::string> cc;
  TargetKey key;
  std::optional<std::string> status;  // null when the target was not judged
  std::optional<std::string> method;
  // The verdict's signatures as the report names them (reports/README.md, "Signatures"); empty
  // when it has none, was not judged, or predates them (history indexes of version 1).
  std::vector<std::string> signatures;
  // The run's report says "interrupted": true (a stop signal, or `probe recover` after a kill): the
  // summary does not count its results as tests. False for rows of history indexes before version 3.
  bool interrupted = false;
  std::string report_file;
};

// One row per result of `report`.
std::vector<RunRow> run_rows(const nlohmann::json& report, const std::string& file_name);

}  // namespace probe
