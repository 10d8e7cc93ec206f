#include "store/row_scanner.hpp"

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "store/retention.hpp"

namespace probe {

namespace {

using nlohmann::json;

// Tracks where the parser is (a stack of containers, with the current key of each object) and
// keeps the values at the few places that matter: top level, vantage, results[*], and
// results[*].verdict.
class RowSax : public json::json_sax_t {
public:
  bool null() override { return value(std::nullopt, std::nullopt, true); }
  bool boolean(bool) override { return other_value(); }
  bool number_integer(number_integer_t number) override { return value(std::nullopt, number, false); }
  bool number_unsigned(number_unsigned_t number) override {
    return value(std::nullopt, static_cast<long long>(number), false);
  }
  bool number_float(number_float_t, const string_t&) override { return other_value(); }
  bool string(string_t& text) override { return value(text, std::nullopt, false); }
  bool binary(binary_t&) override { return other_value(); }

  bool start_object(std::size_t) override {
    if (in_results_array()) {
      rows.emplace_back();
    }
    m_stack.push_back({false, {}});
    return true;
  }
  bool key(string_t& name) override {
    m_stack.back().key = name;
    return true;
  }
  bool end_object() override {
    m_stack.pop_back();
    return true;
  }
  bool start_array(std::size_t) override {
    if (m_stack.size() == 1 && m_stack[0].key == "results") {
      has_results = true;
    }
    m_stack.push_back({true, {}});
    return true;
  }
  bool end_array() override {
    m_stack.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const json::exception& error) override {
    m_error = error.what();
    return false;
  }

  const std::string& error() const { return m_error; }

  bool has_schema_version = false;
  std::optional<long long> schema_version;
  std::string schema_version_text;
  bool has_results = false;
  std::string run_id;
  std::string started_at;
  std::optional<std::string> vantage_id;
  std::optional<std::string> asn;
  std::optional<std::string> cc;
  std::vector<RunRow> rows;

private:
  struct Level {
    bool array;
    std::string key;
  };

  bool in_results_array() const { return m_stack.size() == 2 && m_stack[0].key == "results" && m_stack[1].array; }

  bool other_value() {
    if (m_stack.size() == 1 && m_stack[0].key == "schema_version") {
      has_schema_version = true;
      schema_version_text = "a non-integer";
    }
    return true;
  }

  bool value(const std::optional<std::string>& text, std::optional<long long> number, bool is_null) {
    const std::size_t depth = m_stack.size();
    if (depth == 1) {
      const std::string& name = m_stack[0].key;
      if (name == "schema_version") {
        has_schema_version = true;
        schema_version = number;
        schema_version_text = number ? std::to_string(*number) : text ? "\"" + *text + "\"" : "null";
      } else if (name == "run_id" && text) {
        run_id = *text;
      } else if (name == "started_at" && text) {
        started_at = *text;
      }
    } else if (depth == 2 && m_stack[0].key == "vantage" && !m_stack[1].array) {
      const std::string& name = m_stack[1].key;
      auto& slot = name == "id" ? vantage_id : name == "asn" ? asn : cc;
      if (name == "id" || name == "asn" || name == "cc") {
        slot = text;
      }
    } else if (depth == 3 && m_stack[0].key == "results" && m_stack[1].array && !rows.empty()) {
      TargetKey& key = rows.back().key;
      const std::string& name = m_stack[2].key;
      if (name == "app" && text) {
        key.app = *text;
      } else if (name == "host" && text) {
        key.host = *text;
      } else if (name == "kind" && text) {
        key.kind = *text;
      } else if (name == "url") {
        key.url = text;
      } else if (name == "port") {
        key.port = number;
      }
    } else if (depth == 4 && m_stack[0].key == "results" && m_stack[1].array && m_stack[2].key == "verdict" &&
               !rows.empty()) {
      const std::string& name = m_stack[3].key;
      if (name == "status") {
        rows.back().status = text;
      } else if (name == "method") {
        rows.back().method = text;
      }
    } else if (depth == 5 && m_stack[0].key == "results" && m_stack[1].array && m_stack[2].key == "verdict" &&
               m_stack[3].key == "signatures" && m_stack[4].array && text && !rows.empty()) {
      rows.back().signatures.push_back(*text);
    }
    (void)is_null;
    return true;
  }

  std::vector<Level> m_stack;
  std::string m_error;
};

}  // namespace

std::optional<ScannedReport> scan_report_rows(const std::string& text, const std::string& file_name,
                                              const std::string& where, bool allow_other) {
  RowSax sax;
  const bool parsed = json::sax_parse(text, &sax);
  if (!parsed) {
    throw UserError(exit_code::k_data_error, where + ": not JSON: " + sax.error());
  }
  if (!sax.has_schema_version) {
    if (allow_other) {
      return std::nullopt;
    }
    throw UserError(exit_code::k_data_error, where + ": not a probe report (no schema_version)");
  }
  if (!sax.schema_version || !readable_schema_version(*sax.schema_version)) {
    throw UserError(exit_code::k_data_error, where + ": schema_version " + sax.schema_version_text +
                                                 " is not supported (this probe reads schema_version " +
                                                 readable_schema_versions() + ")");
  }
  if (!sax.has_results) {
    throw UserError(exit_code::k_data_error, where + ": no results array");
  }
  ScannedReport scanned{sax.run_id, std::move(sax.rows)};
  for (RunRow& row : scanned.rows) {
    row.run_id = sax.run_id;
    row.started_at = sax.started_at;
    row.vantage_id = sax.vantage_id;
    row.asn = sax.asn;
    row.cc = sax.cc;
    row.report_file = file_name;
  }
  return scanned;
}

std::optional<ScannedReport> scan_listed_report(const ReportFile& file) {
  return scan_report_rows(read_report_text(file.path), file.path.filename().string(), file.path.string(),
                          file.from_folder);
}

}  // namespace probe
