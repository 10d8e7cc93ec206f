#include "targets/target_list.hpp"

#include <chrono>
#include <filesystem>
#include <set>
#include <unistd.h>

#include "core/clock.hpp"
#include "core/digest.hpp"
#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "targets/host.hpp"
#include "targets/json_positions.hpp"

namespace probe {

namespace fs = std::filesystem;
using nlohmann::json;

bool is_iso_date(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') {
    return false;
  }
  int parts[3] = {0, 0, 0};
  const std::size_t starts[3] = {0, 5, 8};
  const std::size_t lengths[3] = {4, 2, 2};
  for (int p = 0; p < 3; ++p) {
    for (std::size_t i = 0; i < lengths[p]; ++i) {
      const char c = text[starts[p] + i];
      if (c < '0' || c > '9') {
        return false;
      }
      parts[p] = parts[p] * 10 + (c - '0');
    }
  }
  const int year = parts[0];
  const int month = parts[1];
  const int day = parts[2];
  if (month < 1 || month > 12 || day < 1) {
    return false;
  }
  static constexpr int k_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  const int limit = k_days[month - 1] + (month == 2 && leap ? 1 : 0);
  return day <= limit;
}

bool is_app_name(std::string_view text) {
  if (text.empty() || text.size() > 32) {
    return false;
  }
  for (char c : text) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

namespace {

const char* type_name(const json& value) {
  switch (value.type()) {
  case json::value_t::null: return "null";
  case json::value_t::boolean: return "a boolean";
  case json::value_t::number_integer:
  case json::value_t::number_unsigned: return "an integer";
  case json::value_t::number_float: return "a number with a fraction";
  case json::value_t::string: return "a string";
  case json::value_t::array: return "an array";
  case json::value_t::object: return "an object";
  default: return "an unsupported value";
  }
}

// Walks a parsed list and turns every problem into "<file>:<line>:<col>: <field>: <problem>".
class ListChecker {
public:
  ListChecker(const PositionedJson& doc, const std::string& file) : m_doc(doc), m_file(file) {}

  [[noreturn]] void fail_at(TextPos pos, const std::string& field, const std::string& problem) const {
    throw UserError(exit_code::k_data_error, message(pos, field, problem));
  }
  // "<file>:<line>:<col>: <field>: <problem>" for the value at `pointer`, without throwing.
  std::string message_at(const std::string& pointer, const std::string& field, const std::string& problem) const {
    return message(m_doc.value_pos(pointer), field, problem);
  }
  std::string message(TextPos pos, const std::string& field, const std::string& problem) const {
    return m_file + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column) + ": " + field + ": " +
           problem;
  }
  [[noreturn]] void fail(const std::string& pointer, const std::string& field,
                         const std::string& problem) const {
    fail_at(m_doc.value_pos(pointer), field, problem);
  }

  void only_known_fields(const json& object, const std::string& pointer, const std::string& field_prefix,
                         const std::set<std::string>& known) const {
    for (const auto& [name, unused] : object.items()) {
      if (!known.count(name)) {
        std::string list;
        for (const auto& k : known) {
          list += (list.empty() ? "" : ", ") + k;
        }
        fail_at(m_doc.key_pos(pointer + "/" + name), field_prefix + name,
                "unknown field (known fields: " + list + ")");
      }
    }
  }

  std::size_t line_of(const std::string& pointer) const { return m_doc.value_pos(pointer).line; }

  const json* member(const json& object, const std::string& name) const {
    const auto it = object.find(name);
    return it == object.end() ? nullptr : &*it;
  }

  std::string string_field(const json& value, const std::string& pointer, const std::string& field) const {
    if (!value.is_string()) {
      fail(pointer, field, std::string("expected a string, found ") + type_name(value));
    }
    return value.get<std::string>();
  }

  bool bool_field(const json& value, const std::string& pointer, const std::string& field) const {
    if (!value.is_boolean()) {
      fail(pointer, field, std::string("expected true or false, found ") + type_name(value));
    }
    return value.get<bool>();
  }

  std::vector<std::string> string_array(const json& value, const std::string& pointer,
                                        const std::string& field) const {
    if (!value.is_array()) {
      fail(pointer, field, std::string("expected an array of strings, found ") + type_name(value));
    }
    std::vector<std::string> out;
    for (std::size_t i = 0; i < value.size(); ++i) {
      const std::string item_field = field + "[" + std::to_string(i) + "]";
      const std::string item_pointer = pointer + "/" + std::to_string(i);
      std::string text = string_field(value[i], item_pointer, item_field);
      if (text.empty()) {
        fail(item_pointer, item_field, "must not be empty");
      }
      out.push_back(std::move(text));
    }
    return out;
  }

private:
  const PositionedJson& m_doc;
  const std::string& m_file;
};

const std::set<std::string> k_list_fields = {"app", "reviewed", "notes", "targets"};
const std::set<std::string> k_target_fields = {"host",      "kind",     "port",    "path",
                                               "any_response", "bogon_expected", "ca_files", "purpose",
                                               "sources",   "uncertain", "note"};

Target parse_target(const ListChecker& check, const json& item, const std::string& pointer,
                    const std::string& field, const std::string& app, const std::string& file) {
  if (!item.is_object()) {
    check.fail(pointer, field, std::string("expected an object, found ") + type_name(item));
  }
  check.only_known_fields(item, pointer, field + ".", k_target_fields);
  Target target;
  target.app = app;
  target.origin = Origin{file, check.line_of(pointer)};

  const auto required = [&](const char* name) -> const json& {
    const json* value = check.member(item, name);
    if (value == nullptr) {
      check.fail(pointer, field, std::string("missing required field '") + name + "'");
    }
    return *value;
  };
  const auto sub = [&](const char* name) { return pointer + "/" + name; };
  const auto sub_field = [&](const char* name) { return field + "." + name; };

  const std::string host = check.string_field(required("host"), sub("host"), sub_field("host"));
  if (const auto problem = host_problem(host)) {
    check.fail(sub("host"), sub_field("host"), "'" + host + "': " + *problem);
  }
  target.host = lowercase(host);

  const std::string kind_text = check.string_field(required("kind"), sub("kind"), sub_field("kind"));
  const auto kind = kind_from_string(kind_text);
  if (!kind) {
    check.fail(sub("kind"), sub_field("kind"),
               "'" + kind_text + "' is not a kind (dns, tcp, tls, http, https, stun)");
  }
  target.kind = *kind;
  const bool web = target.kind == Kind::http || target.kind == Kind::https;

  if (const json* port = check.member(item, "port")) {
    if (target.kind == Kind::dns) {
      check.fail(sub("port"), sub_field("port"), "a dns target has no port");
    }
    if (!port->is_number_integer()) {
      check.fail(sub("port"), sub_field("port"),
                 std::string("expected an integer from 1 to 65535, found ") + type_name(*port));
    }
    const auto value = port->get<long long>();
    if (value < 1 || value > 65535) {
      check.fail(sub("port"), sub_field("port"), std::to_string(value) + " is out of range 1-65535");
    }
    target.port = static_cast<std::uint16_t>(value);
  } else {
    target.port = default_port(target.kind);
    if (target.kind == Kind::tcp) {
      check.fail(pointer, field, "a tcp target needs a 'port'");
    }
  }

  if (const json* path = check.member(item, "path")) {
    if (!web) {
      check.fail(sub("path"), sub_field("path"), "only http and https targets have a path");
    }
    target.path = check.string_field(*path, sub("path"), sub_field("path"));
    if (target.path.empty() || target.path.front() != '/') {
      check.fail(sub("path"), sub_field("path"), "must start with '/'");
    }
    for (char c : target.path) {
      if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F || c == '#') {
        check.fail(sub("path"), sub_field("path"),
                   "spaces, control characters and '#' are not allowed (percent-encode them)");
      }
    }
  }

  if (const json* any = check.member(item, "any_response")) {
    if (!web) {
      check.fail(sub("any_response"), sub_field("any_response"), "only for http and https targets");
    }
    target.any_response = check.bool_field(*any, sub("any_response"), sub_field("any_response"));
  }

  if (const json* expected = check.member(item, "bogon_expected")) {
    target.bogon_expected = check.bool_field(*expected, sub("bogon_expected"), sub_field("bogon_expected"));
  }

  if (const json* cas = check.member(item, "ca_files")) {
    if (target.kind != Kind::tls && target.kind != Kind::https) {
      check.fail(sub("ca_files"), sub_field("ca_files"), "only for tls and https targets");
    }
    const auto names = check.string_array(*cas, sub("ca_files"), sub_field("ca_files"));
    const fs::path base = fs::path(file).parent_path();
    for (std::size_t i = 0; i < names.size(); ++i) {
      const std::string item_pointer = sub("ca_files") + "/" + std::to_string(i);
      const std::string item_field = sub_field("ca_files") + "[" + std::to_string(i) + "]";
      // A list brings its CAs with it: a path inside its folder, so a list copied or installed
      // elsewhere never trusts whatever lies at an absolute path or above it.
      const fs::path relative = fs::path(names[i]).lexically_normal();
      if (relative.is_absolute() || relative.empty() || *relative.begin() == "..") {
        check.fail(item_pointer, item_field,
                   "'" + names[i] + "' is not inside the list's folder (give a path relative to it, as ca/NAME.pem)");
      }
      const fs::path resolved = base / relative;
      if (access(resolved.c_str(), R_OK) != 0 || fs::is_directory(resolved)) {
        check.fail(item_pointer, item_field, "cannot read certificate file '" + resolved.string() + "'");
      }
      target.ca_files.push_back(resolved.lexically_normal().string());
    }
  }

  target.purpose = check.string_field(required("purpose"), sub("purpose"), sub_field("purpose"));
  if (target.purpose.empty()) {
    check.fail(sub("purpose"), sub_field("purpose"), "must not be empty: say what the app uses it for");
  }
  target.sources = check.string_array(required("sources"), sub("sources"), sub_field("sources"));
  if (target.sources.empty()) {
    check.fail(sub("sources"), sub_field("sources"), "must name at least one source");
  }
  if (const json* uncertain = check.member(item, "uncertain")) {
    target.uncertain = check.bool_field(*uncertain, sub("uncertain"), sub_field("uncertain"));
  }
  if (const json* note = check.member(item, "note")) {
    target.note = check.string_field(*note, sub("note"), sub_field("note"));
  }
  return target;
}

}  // namespace

TargetList parse_target_list_json(std::string_view text, const std::string& file) {
  const PositionedJson doc = parse_json_with_positions(text, file);
  const ListChecker check(doc, file);
  const json& root = doc.value;
  if (!root.is_object()) {
    check.fail("", "(top level)", std::string("expected an object with app, reviewed and targets, found ") +
                                      type_name(root));
  }
  check.only_known_fields(root, "", "", k_list_fields);
  TargetList list;
  list.file = file;
  list.format = "json";
  list.sha256 = sha256_hex(text);

  const json* app = check.member(root, "app");
  if (app == nullptr) {
    check.fail("", "app", "missing required field 'app'");
  }
  const std::string app_name = check.string_field(*app, "/app", "app");
  if (!is_app_name(app_name)) {
    check.fail("/app", "app", "'" + app_name + "' is not an app name (1-32 of a-z, 0-9, '_', '-')");
  }
  const json* reviewed = check.member(root, "reviewed");
  if (reviewed == nullptr) {
    check.fail("", "reviewed", "missing required field 'reviewed' (the date the list was last checked)");
  }
  const std::string reviewed_text = check.string_field(*reviewed, "/reviewed", "reviewed");
  if (!is_iso_date(reviewed_text)) {
    check.fail("/reviewed", "reviewed", "'" + reviewed_text + "' is not a date as YYYY-MM-DD");
  }
  list.reviewed = reviewed_text;
  // What a maintainer must fix but a run can live with (targets validate refuses, run warns).
  const std::string stem = std::filesystem::path(file).stem().string();
  if (app_name != stem) {
    list.concerns.push_back(check.message_at("/app", "app", "'" + app_name + "' is not the file's name '" + stem +
                                                                "' (a list is named after its app)"));
  }
  const std::string tomorrow = format_rfc3339_utc(std::chrono::system_clock::now() + std::chrono::hours(24)).substr(0, 10);
  if (reviewed_text > tomorrow) {
    list.concerns.push_back(check.message_at("/reviewed", "reviewed", "'" + reviewed_text +
                                                                          "' is in the future (a typo?)"));
  }
  if (const json* notes = check.member(root, "notes")) {
    check.string_field(*notes, "/notes", "notes");
  }
  const json* targets = check.member(root, "targets");
  if (targets == nullptr) {
    check.fail("", "targets", "missing required field 'targets'");
  }
  if (!targets->is_array()) {
    check.fail("/targets", "targets", std::string("expected an array, found ") + type_name(*targets));
  }
  if (targets->empty()) {
    check.fail("/targets", "targets", "the list is empty: a list must hold at least one target");
  }
  std::set<std::string> seen;
  for (std::size_t i = 0; i < targets->size(); ++i) {
    const std::string pointer = "/targets/" + std::to_string(i);
    const std::string field = "targets[" + std::to_string(i) + "]";
    Target target = parse_target(check, (*targets)[i], pointer, field, app_name, file);
    if (!seen.insert(target.key()).second) {
      check.fail(pointer, field, "duplicate of an earlier target (" + std::string(to_string(target.kind)) +
                                     " " + target.host + ")");
    }
    list.targets.push_back(std::move(target));
  }
  return list;
}

}  // namespace probe
