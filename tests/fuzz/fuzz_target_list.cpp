// Fuzzes our JSON target lists: strict JSON with positions (json_positions) and the list checks
// (target_list). A list either loads as valid targets or fails with "<file>:<line>:<col>: ...".

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "fuzz_checks.hpp"
#include "targets/json_positions.hpp"
#include "targets/target_list.hpp"

namespace {

using nlohmann::json;

// Where each line starts, to turn a reported line and column back into a byte offset. Columns
// count characters: UTF-8 continuation bytes take none.
class Offsets {
public:
  explicit Offsets(std::string_view text) : m_text(text) {
    m_line_starts.push_back(0);
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\n') {
        m_line_starts.push_back(i + 1);
      }
    }
  }

  std::optional<std::size_t> offset(probe::TextPos pos) const {
    if (pos.line == 0 || pos.line > m_line_starts.size() || pos.column == 0) {
      return std::nullopt;
    }
    std::size_t at = m_line_starts[pos.line - 1];
    for (std::size_t column = 1; at < m_text.size(); ++at) {
      if ((static_cast<unsigned char>(m_text[at]) & 0xC0) == 0x80) {
        continue;
      }
      if (column++ == pos.column) {
        return at;
      }
    }
    return std::nullopt;
  }

  char at(probe::TextPos pos) const {
    const auto found = offset(pos);
    return found ? m_text[*found] : '\0';
  }

private:
  std::string_view m_text;
  std::vector<std::size_t> m_line_starts;
};

std::string pointer_token(const std::string& key) {
  std::string out;
  for (char c : key) {
    out += c == '~' ? std::string("~0") : c == '/' ? std::string("~1") : std::string(1, c);
  }
  return out;
}

bool starts_value(char c, const json& value) {
  switch (value.type()) {
  case json::value_t::object: return c == '{';
  case json::value_t::array: return c == '[';
  case json::value_t::string: return c == '"';
  case json::value_t::boolean: return c == (value.get<bool>() ? 't' : 'f');
  case json::value_t::null: return c == 'n';
  default: return c == '-' || (c >= '0' && c <= '9');
  }
}

// Every value's recorded position is where that value starts in the text, every key's the quote
// that opens it: the positions error messages give.
void check_positions(const probe::PositionedJson& doc, const Offsets& offsets, const json& value,
                     const std::string& pointer) {
  if (!starts_value(offsets.at(doc.value_pos(pointer)), value)) {
    probe::fuzz::fail("value position is not where the value starts", pointer);
  }
  if (value.is_object()) {
    for (const auto& [key, member] : value.items()) {
      const std::string member_pointer = pointer + "/" + pointer_token(key);
      if (offsets.at(doc.key_pos(member_pointer)) != '"') {
        probe::fuzz::fail("key position is not where the key starts", member_pointer);
      }
      check_positions(doc, offsets, member, member_pointer);
    }
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      check_positions(doc, offsets, value[i], pointer + "/" + std::to_string(i));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Relative ca_files resolve against this folder, which does not exist: the only file-system
  // access is the parser's own access() of such names.
  static const std::string k_file = "fuzz-lists/list.json";
  const std::string_view text = probe::fuzz::as_text(data, size);

  // The positioned parser reads the same documents as nlohmann's own strict parser (less those
  // with duplicate keys or nesting deeper than 64) and records true positions.
  try {
    const probe::PositionedJson doc = probe::parse_json_with_positions(text, k_file);
    const json plain = json::parse(text.begin(), text.end(), nullptr, false);
    if (plain.is_discarded() || plain != doc.value) {
      probe::fuzz::fail("positioned parser built another document than nlohmann's", text);
    }
    check_positions(doc, Offsets(text), doc.value, "");
  } catch (const probe::UserError& error) {
    probe::fuzz::check_data_error(error, k_file);
  }

  try {
    const probe::TargetList list = probe::parse_target_list_json(text, k_file);
    if (list.targets.empty() || !list.reviewed || !probe::is_iso_date(*list.reviewed)) {
      probe::fuzz::fail("list accepted without targets or review date", list.file);
    }
    probe::fuzz::check_list(list);
  } catch (const probe::UserError& error) {
    probe::fuzz::check_data_error(error, k_file);
  }
  return 0;
}
