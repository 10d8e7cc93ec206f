#include "store/row_scanner.hpp"

#include <algorithm>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "core/target.hpp"
#include "model/report_json.hpp"
#include "model/signature.hpp"
#include "store/retention.hpp"

namespace probe {

namespace {

using nlohmann::json;

// What a JSON token is, for the checks of the fields the scan reads.
enum class Token { null, boolean, integer, number, string, object, array };

// A token as the parser gave it: a string by pointer (most are long and never shown), any other
// scalar as its value; shown in a message only when it is wrong.
struct Seen {
  Token token;
  const std::string* text = nullptr;
  json scalar;
};

json shown_value(const Seen& seen) {
  switch (seen.token) {
    case Token::string: return json(*seen.text);
    case Token::object: return json::object();
    case Token::array: return json::array();
    default: return seen.scalar;
  }
}

constexpr const char* k_kinds = "a kind (dns, tcp, tls, http, https, stun)";
constexpr const char* k_statuses = "a status (accessible, blocked, restricted, anomaly, down, inconclusive)";

bool known_status(const std::string& text) {
  return std::any_of(std::begin(k_all_statuses), std::end(k_all_statuses),
                     [&](Status status) { return to_string(status) == text; });
}

// Tracks where the parser is (a stack of containers, with the current key of each object) and
// keeps the values at the few places that matter: top level, vantage, results[*], and
// results[*].verdict. Each of them, and each field of the report's frame, must have its type (as
// model/report_json and store/report_reader check them when a whole report is read): the first that
// does not stops the scan with `field_error`.
class RowSax : public json::json_sax_t {
public:
  bool null() override { return scalar({Token::null, nullptr, json()}); }
  bool boolean(bool flag) override { return scalar({Token::boolean, nullptr, json(flag)}); }
  bool number_integer(number_integer_t number) override { return scalar({Token::integer, nullptr, json(number)}); }
  bool number_unsigned(number_unsigned_t number) override { return scalar({Token::integer, nullptr, json(number)}); }
  bool number_float(number_float_t number, const string_t&) override {
    return scalar({Token::number, nullptr, json(number)});
  }
  bool string(string_t& text) override { return scalar({Token::string, &text, json()}); }
  bool binary(binary_t&) override { return true; }  // not produced by the JSON parser

  bool start_object(std::size_t) override {
    if (!check({Token::object, nullptr, json()})) {
      return false;
    }
    if (in_results_array()) {
      rows.emplace_back();
      m_kind_seen = false;
    }
    m_stack.push_back({false, {}, 0});
    return true;
  }
  bool key(string_t& name) override {
    m_stack.back().key = name;
    if (in_verdict() && name == "status") {
      m_status_seen = true;
    } else if (in_result() && name == "kind") {
      m_kind_seen = true;
    }
    return true;
  }
  bool end_object() override {
    // A verdict names its status and a result its kind (result_from_json refuses either missing).
    if (in_verdict() && !m_status_seen) {
      return wrong(result_field("verdict/status"), k_statuses, json());
    }
    if (in_result() && !m_kind_seen) {
      return wrong(result_field("kind"), k_kinds, json());
    }
    m_stack.pop_back();
    return true;
  }
  bool start_array(std::size_t) override {
    if (!check({Token::array, nullptr, json()})) {
      return false;
    }
    if (m_stack.size() == 1 && m_stack[0].key == "results") {
      has_results = true;
    }
    m_stack.push_back({true, {}, 0});
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
  const std::string& field_error() const { return m_field_error; }

  bool has_schema_version = false;
  std::optional<long long> schema_version;
  std::string schema_version_text;
  bool has_results = false;
  std::string run_id;
  std::string started_at;
  bool interrupted = false;
  std::optional<std::string> vantage_id;
  std::optional<std::string> asn;
  std::optional<std::string> cc;
  std::vector<RunRow> rows;

private:
  struct Level {
    bool array;
    std::string key;
    std::size_t elements = 0;  // of an array: how many have started
  };

  bool in_results_array() const { return m_stack.size() == 2 && m_stack[0].key == "results" && m_stack[1].array; }
  bool in_result() const { return m_stack.size() == 3 && m_stack[0].key == "results" && m_stack[1].array; }
  bool in_verdict() const {
    return m_stack.size() == 4 && m_stack[0].key == "results" && m_stack[1].array && m_stack[2].key == "verdict";
  }
  bool in_signatures() const {
    return m_stack.size() == 5 && m_stack[0].key == "results" && m_stack[1].array && m_stack[2].key == "verdict" &&
           m_stack[3].key == "signatures" && m_stack[4].array;
  }

  std::string result_field(const std::string& field) const {
    return "results/" + std::to_string(rows.empty() ? 0 : rows.size() - 1) + "/" + field;
  }

  bool wrong(const std::string& field, const std::string& expected, const json& value) {
    m_field_error = field + ": expected " + expected + ", got " + shown_json(value);
    return false;
  }

  // The type a token must have where it stands; false (with field_error) when it has another.
  bool check(const Seen& seen) {
    if (!m_stack.empty() && m_stack.back().array) {
      ++m_stack.back().elements;
    }
    const Token token = seen.token;
    const auto is = [&](std::initializer_list<Token> allowed) {
      return std::find(allowed.begin(), allowed.end(), token) != allowed.end();
    };
    if (m_stack.size() == 1) {
      const std::string& name = m_stack[0].key;
      if (name == "probe_version" || name == "run_id" || name == "started_at" || name == "finished_at") {
        return is({Token::string}) || wrong(name, "a string", shown_value(seen));
      }
      if (name == "interrupted" || name == "certificates_truncated") {
        return is({Token::boolean}) || wrong(name, "true or false", shown_value(seen));
      }
      if (name == "vantage" || name == "options" || name == "apps" || name == "certificates") {
        return is({Token::object}) || wrong(name, "an object", shown_value(seen));
      }
      if (name == "paths" || name == "target_lists" || name == "results") {
        return is({Token::array}) || wrong(name, "an array", shown_value(seen));
      }
      return true;
    }
    if (m_stack.size() == 2 && !m_stack[0].key.empty() && m_stack[1].array &&
        (m_stack[0].key == "results" || m_stack[0].key == "paths")) {
      return is({Token::object}) ||
             wrong(m_stack[0].key + "/" + std::to_string(m_stack[1].elements - 1), "an object", shown_value(seen));
    }
    if (m_stack.size() == 2 && m_stack[0].key == "certificates" && !m_stack[1].array) {
      // As check_certificates: an object of strings.
      return is({Token::string}) ||
             wrong("certificates/" + m_stack[1].key, "a string (base64 DER)", shown_value(seen));
    }
    if (m_stack.size() == 2 && m_stack[0].key == "vantage" && !m_stack[1].array) {
      const std::string& name = m_stack[1].key;
      if (name == "id" || name == "asn" || name == "cc") {
        return is({Token::string, Token::null}) || wrong("vantage/" + name, "a string or null", shown_value(seen));
      }
      return true;
    }
    if (in_result()) {
      const std::string& name = m_stack[2].key;
      if (name == "app" || name == "host" || name == "url") {
        return is({Token::string, Token::null}) || wrong(result_field(name), "a string", shown_value(seen));
      }
      if (name == "kind") {
        return vocabulary(seen, name, k_kinds, [](const std::string& text) { return kind_from_string(text).has_value(); });
      }
      if (name == "port") {
        const bool in_range = token == Token::integer &&
                              (seen.scalar.is_number_unsigned() ? seen.scalar.get<std::uint64_t>() <= 65535
                                                                : seen.scalar.get<std::int64_t>() >= 0 &&
                                                                      seen.scalar.get<std::int64_t>() <= 65535);
        return token == Token::null || in_range ||
               wrong(result_field(name), "a whole number from 0 to 65535", shown_value(seen));
      }
      if (name == "verdict") {
        m_status_seen = false;
        return is({Token::object, Token::null}) || wrong(result_field(name), "an object", shown_value(seen));
      }
      return true;
    }
    if (in_verdict()) {
      const std::string& name = m_stack[3].key;
      if (name == "status") {
        return vocabulary(seen, "verdict/status", k_statuses, known_status);
      }
      if (name == "method") {
        return is({Token::string, Token::null}) || wrong(result_field("verdict/method"), "a string", shown_value(seen));
      }
      if (name == "signatures") {
        return is({Token::array, Token::null}) ||
               wrong(result_field("verdict/signatures"), "an array of strings", shown_value(seen));
      }
      return true;
    }
    if (in_signatures()) {
      const std::string field = "verdict/signatures/" + std::to_string(m_stack[4].elements - 1);
      if (token != Token::string) {
        return wrong(result_field(field), "a string", shown_value(seen));
      }
      return signature_from_string(*seen.text).has_value() ||
             wrong(result_field(field), "a signature (reports/README.md, \"Signatures\")", shown_value(seen));
    }
    return true;
  }

  // A field of a closed vocabulary, as result_from_json reads it: a string it knows; null reads as
  // missing, which names the vocabulary.
  template <typename Known>
  bool vocabulary(const Seen& seen, const std::string& field, const char* words, Known known) {
    if (seen.token == Token::string && known(*seen.text)) {
      return true;
    }
    if (seen.token != Token::string && seen.token != Token::null) {
      return wrong(result_field(field), "a string", shown_value(seen));
    }
    return wrong(result_field(field), words, shown_value(seen));
  }

  bool scalar(const Seen& seen) {
    if (!check(seen)) {
      return false;
    }
    const std::size_t depth = m_stack.size();
    const std::string* text = seen.token == Token::string ? seen.text : nullptr;
    const std::optional<long long> number =
        seen.token == Token::integer && (!seen.scalar.is_number_unsigned() ||
                                         seen.scalar.get<std::uint64_t>() <=
                                             static_cast<std::uint64_t>(std::numeric_limits<long long>::max()))
            ? std::optional<long long>(seen.scalar.get<long long>())
            : std::nullopt;
    if (depth == 1) {
      const std::string& name = m_stack[0].key;
      if (name == "schema_version") {
        has_schema_version = true;
        schema_version = number;
        schema_version_text = number ? std::to_string(*number) : text ? "\"" + *text + "\"" : "a non-integer";
      } else if (name == "run_id" && text) {
        run_id = *text;
      } else if (name == "started_at" && text) {
        started_at = *text;
      } else if (name == "interrupted" && seen.token == Token::boolean) {
        interrupted = seen.scalar.get<bool>();
      }
    } else if (depth == 2 && m_stack[0].key == "vantage" && !m_stack[1].array) {
      const std::string& name = m_stack[1].key;
      const std::optional<std::string> value = text ? std::optional<std::string>(*text) : std::nullopt;
      if (name == "id") {
        vantage_id = value;
      } else if (name == "asn") {
        asn = value;
      } else if (name == "cc") {
        cc = value;
      }
    } else if (in_result() && !rows.empty()) {
      TargetKey& key = rows.back().key;
      const std::string& name = m_stack[2].key;
      if (name == "app" && text) {
        key.app = *text;
      } else if (name == "host" && text) {
        key.host = *text;
      } else if (name == "kind" && text) {
        key.kind = *text;
      } else if (name == "url") {
        key.url = text ? std::optional<std::string>(*text) : std::nullopt;
      } else if (name == "port") {
        key.port = number;
      }
    } else if (in_verdict() && !rows.empty()) {
      const std::string& name = m_stack[3].key;
      if (name == "status") {
        rows.back().status = text ? std::optional<std::string>(*text) : std::nullopt;
      } else if (name == "method") {
        rows.back().method = text ? std::optional<std::string>(*text) : std::nullopt;
      }
    } else if (in_signatures() && text && !rows.empty()) {
      rows.back().signatures.push_back(*text);
    }
    return true;
  }

  std::vector<Level> m_stack;
  std::string m_error;
  std::string m_field_error;
  bool m_status_seen = false;
  bool m_kind_seen = false;
};

}  // namespace

std::optional<ScannedReport> scan_report_rows(const std::string& text, const std::string& file_name,
                                              const std::string& where, bool allow_other) {
  RowSax sax;
  const bool parsed = json::sax_parse(text, &sax);
  if (!sax.field_error().empty()) {
    throw UserError(exit_code::k_data_error, where + ": " + sax.field_error());
  }
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
    row.interrupted = sax.interrupted;
    row.report_file = file_name;
  }
  return scanned;
}

std::optional<ScannedReport> scan_listed_report(const ReportFile& file) {
  return scan_report_rows(read_report_text(file.path), file.path.filename().string(), file.path.string(),
                          file.from_folder);
}

}  // namespace probe
