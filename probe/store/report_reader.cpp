#include "store/report_reader.hpp"

#include <algorithm>
#include <set>

#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "model/report_json.hpp"
#include "store/retention.hpp"

namespace probe {

namespace fs = std::filesystem;

namespace {

nlohmann::json parse_report_text(const fs::path& path) {
  const std::string text = read_report_text(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& error) {
    throw UserError(exit_code::k_data_error, path.string() + ": not JSON: " + error.what());
  }
}

[[noreturn]] void wrong_type(const std::string& where, const std::string& field, const char* expected,
                             const nlohmann::json& value) {
  throw UserError(exit_code::k_data_error, where + ": " + field + ": expected " + expected + ", got " + shown_json(value));
}

using Is = bool (nlohmann::json::*)() const noexcept;

// `object[key]`, when it is there, passes `is` (or is null where `nullable`).
void expect(const nlohmann::json& object, const char* key, Is is, const char* expected, const std::string& where,
            const std::string& prefix = "", bool nullable = false) {
  const auto found = object.find(key);
  if (found == object.end() || (nullable && found->is_null()) || ((*found).*is)()) {
    return;
  }
  wrong_type(where, prefix + key, expected, *found);
}

}  // namespace

void check_certificates(const nlohmann::json& object, const std::string& where) {
  expect(object, "certificates", &nlohmann::json::is_object, "an object", where);
  expect(object, "certificates_truncated", &nlohmann::json::is_boolean, "true or false", where);
  if (const auto certificates = object.find("certificates"); certificates != object.end()) {
    for (const auto& [sha256, der] : certificates->items()) {
      if (!der.is_string()) {
        wrong_type(where, "certificates/" + sha256, "a string (base64 DER)", der);
      }
    }
  }
}

void check_report_frame(const nlohmann::json& report, const std::string& where) {
  using nlohmann::json;
  check_schema_version(report, where);
  for (const char* key : {"probe_version", "run_id", "started_at", "finished_at"}) {
    expect(report, key, &json::is_string, "a string", where);
  }
  expect(report, "interrupted", &json::is_boolean, "true or false", where);
  expect(report, "vantage", &json::is_object, "an object", where);
  if (const auto vantage = report.find("vantage"); vantage != report.end()) {
    for (const char* key : {"id", "asn", "cc"}) {
      expect(*vantage, key, &json::is_string, "a string or null", where, "vantage/", true);
    }
  }
  expect(report, "options", &json::is_object, "an object", where);
  expect(report, "apps", &json::is_object, "an object", where);
  expect(report, "target_lists", &json::is_array, "an array", where);
  expect(report, "paths", &json::is_array, "an array", where);
  check_certificates(report, where);
  if (const auto paths = report.find("paths"); paths != report.end()) {
    for (std::size_t i = 0; i < paths->size(); ++i) {
      if (!(*paths)[i].is_object()) {
        wrong_type(where, "paths/" + std::to_string(i), "an object", (*paths)[i]);
      }
    }
  }
  const json& results = report["results"];
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (!results[i].is_object()) {
      wrong_type(where, "results/" + std::to_string(i), "an object", results[i]);
    }
  }
}

std::string readable_schema_versions() {
  std::string out;
  for (int version = k_oldest_report_schema_version; version <= k_report_schema_version; ++version) {
    out += (out.empty() ? "" : version == k_report_schema_version ? " and " : ", ") + std::to_string(version);
  }
  return out;
}

void check_schema_version(const nlohmann::json& report, const std::string& where) {
  if (!report.is_object() || !report.contains("schema_version")) {
    throw UserError(exit_code::k_data_error, where + ": not a probe report (no schema_version)");
  }
  const nlohmann::json& version = report["schema_version"];
  if (!version.is_number_integer() || !readable_schema_version(version.get<long long>())) {
    throw UserError(exit_code::k_data_error, where + ": schema_version " + version.dump() +
                                                 " is not supported (this probe reads schema_version " +
                                                 readable_schema_versions() + ")");
  }
  if (!report.contains("results") || !report["results"].is_array()) {
    throw UserError(exit_code::k_data_error, where + ": no results array");
  }
}

LoadedReport loaded_report(nlohmann::json report, const fs::path& path) {
  LoadedReport loaded{path, path.filename().string(), std::move(report), {}};
  check_report_frame(loaded.json, path.string());
  const nlohmann::json& results = loaded.json["results"];
  // A report written before certificates were kept has none: its chains read without bytes.
  const auto certificates = loaded.json.find("certificates");
  const nlohmann::json none = nlohmann::json::object();
  const nlohmann::json& kept = certificates != loaded.json.end() ? *certificates : none;
  loaded.results.reserve(results.size());
  for (std::size_t i = 0; i < results.size(); ++i) {
    loaded.results.push_back(result_from_json(results[i], path.string() + ": results/" + std::to_string(i), kept));
  }
  return loaded;
}

LoadedReport load_report(const fs::path& path) { return loaded_report(parse_report_text(path), path); }

bool has_report_extension(const std::string& file_name) {
  return file_name.ends_with(".json") || file_name.ends_with(".json.gz");
}

std::string report_stem(const std::string& file_name) {
  if (file_name.ends_with(".json.gz")) {
    return file_name.substr(0, file_name.size() - 8);
  }
  if (file_name.ends_with(".json")) {
    return file_name.substr(0, file_name.size() - 5);
  }
  return file_name;
}

std::vector<ReportFile> list_report_files(const std::vector<fs::path>& inputs) {
  std::vector<ReportFile> files;
  std::set<fs::path> seen;
  for (const fs::path& input : inputs) {
    std::error_code ec;
    const fs::file_status status = fs::status(input, ec);
    if (ec || !fs::exists(status)) {
      throw UserError(exit_code::k_no_input, input.string() + ": no such file or folder");
    }
    if (!fs::is_directory(status)) {
      if (seen.insert(input.lexically_normal()).second) {
        files.push_back({input, false});
      }
      continue;
    }
    std::vector<ReportFile> found;
    for (const auto& entry : fs::directory_iterator(input, ec)) {
      const std::string name = entry.path().filename().string();
      std::error_code kind_ec;
      if (has_report_extension(name) && entry.is_regular_file(kind_ec) &&
          seen.insert(entry.path().lexically_normal()).second) {
        found.push_back({entry.path(), true});
      }
    }
    if (ec) {
      throw UserError(exit_code::k_no_input, input.string() + ": cannot read: " + ec.message());
    }
    std::sort(found.begin(), found.end(), [](const ReportFile& a, const ReportFile& b) { return a.path < b.path; });
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

std::optional<std::string> optional_string(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) {
    return std::nullopt;
  }
  const auto found = object.find(key);
  if (found == object.end() || !found->is_string()) {
    return std::nullopt;
  }
  return found->get<std::string>();
}

TargetKey target_key(const nlohmann::json& result) {
  TargetKey key;
  key.app = optional_string(result, "app").value_or("");
  key.host = optional_string(result, "host").value_or("");
  key.kind = optional_string(result, "kind").value_or("");
  key.url = optional_string(result, "url");
  const auto port = result.find("port");
  if (port != result.end() && port->is_number_integer()) {
    key.port = port->get<long long>();
  }
  return key;
}

nlohmann::json key_json(const TargetKey& key) {
  return {{"app", key.app},
          {"host", key.host},
          {"port", key.port ? nlohmann::json(*key.port) : nlohmann::json()},
          {"kind", key.kind},
          {"url", key.url ? nlohmann::json(*key.url) : nlohmann::json()}};
}

std::string target_label(const TargetKey& key) {
  if (key.url) {
    return *key.url;
  }
  return key.host + (key.port ? ":" + std::to_string(*key.port) : std::string()) + " " + key.kind;
}

std::vector<RunRow> run_rows(const nlohmann::json& report, const std::string& file_name) {
  std::vector<RunRow> rows;
  const nlohmann::json vantage = report.value("vantage", nlohmann::json::object());
  const std::string run_id = optional_string(report, "run_id").value_or("");
  const std::string started_at = optional_string(report, "started_at").value_or("");
  const auto interrupted = report.find("interrupted");
  const bool was_interrupted = interrupted != report.end() && interrupted->is_boolean() && interrupted->get<bool>();
  for (const nlohmann::json& result : report["results"]) {
    RunRow row;
    row.run_id = run_id;
    row.started_at = started_at;
    row.vantage_id = optional_string(vantage, "id");
    row.asn = optional_string(vantage, "asn");
    row.cc = optional_string(vantage, "cc");
    row.key = target_key(result);
    const auto verdict = result.find("verdict");
    if (verdict != result.end() && verdict->is_object()) {
      row.status = optional_string(*verdict, "status");
      row.method = optional_string(*verdict, "method");
      const auto signatures = verdict->find("signatures");
      if (signatures != verdict->end() && signatures->is_array()) {
        for (const nlohmann::json& signature : *signatures) {
          if (signature.is_string()) {
            row.signatures.push_back(signature.get<std::string>());
          }
        }
      }
    }
    row.interrupted = was_interrupted;
    row.report_file = file_name;
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace probe
