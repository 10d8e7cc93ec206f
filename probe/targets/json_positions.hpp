#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace probe {

// 1-based line and column (column counted in characters, not bytes).
struct TextPos {
  std::size_t line = 1;
  std::size_t column = 1;
};

// A JSON document together with where each value and each object key starts in the text, so that
// errors found after parsing (a port out of range, an unknown field) can name file, line and column.
// Positions are keyed by JSON pointer ("/targets/3/port").
class PositionedJson {
public:
  nlohmann::json value;

  // Position of the value at `pointer`; the document start when unknown.
  TextPos value_pos(const std::string& pointer) const;
  // Position of the key naming the member at `pointer`; falls back to the value's position.
  TextPos key_pos(const std::string& pointer) const;

private:
  friend class PositionRecorder;
  std::map<std::string, TextPos> m_values;
  std::map<std::string, TextPos> m_keys;
};

// Parses strict JSON (no comments, no trailing commas, no duplicate keys, nesting at most 64 deep).
// Throws UserError (exit 65) whose message is "<file>:<line>:<column>: <problem>".
PositionedJson parse_json_with_positions(std::string_view text, const std::string& file);

// Maps a byte offset in `text` to a line and column.
TextPos position_at(std::string_view text, std::size_t offset);

}  // namespace probe
