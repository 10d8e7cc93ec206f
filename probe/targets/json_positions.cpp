#include "targets/json_positions.hpp"

#include <algorithm>
#include <iterator>
#include <vector>

#include "core/error.hpp"
#include "core/exit_codes.hpp"

namespace probe {

TextPos position_at(std::string_view text, std::size_t offset) {
  TextPos pos;
  const std::size_t end = offset < text.size() ? offset : text.size();
  for (std::size_t i = 0; i < end; ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte == '\n') {
      ++pos.line;
      pos.column = 1;
    } else if ((byte & 0xC0) != 0x80) {  // UTF-8 continuation bytes do not start a character
      ++pos.column;
    }
  }
  return pos;
}

TextPos PositionedJson::value_pos(const std::string& pointer) const {
  const auto it = m_values.find(pointer);
  return it == m_values.end() ? TextPos{} : it->second;
}

TextPos PositionedJson::key_pos(const std::string& pointer) const {
  const auto it = m_keys.find(pointer);
  return it == m_keys.end() ? value_pos(pointer) : it->second;
}

namespace {

// Iterator over the text that counts how many bytes the parser has consumed. nlohmann's SAX events
// carry no positions; the count at each event marks the end of the token just read.
class CountingIterator {
public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  CountingIterator(const char* data, std::size_t index, std::size_t* consumed)
      : m_data(data), m_index(index), m_consumed(consumed) {}
  reference operator*() const { return m_data[m_index]; }
  CountingIterator& operator++() {
    ++m_index;
    *m_consumed = m_index;
    return *this;
  }
  CountingIterator operator++(int) {
    CountingIterator copy = *this;
    ++*this;
    return copy;
  }
  bool operator==(const CountingIterator& other) const { return m_index == other.m_index; }
  bool operator!=(const CountingIterator& other) const { return m_index != other.m_index; }

private:
  const char* m_data;
  std::size_t m_index;
  std::size_t* m_consumed;
};

constexpr std::size_t k_max_depth = 64;

std::string escape_pointer_token(const std::string& token) {
  std::string out;
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

bool is_number_char(char c) {
  return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

bool is_word_char(char c) {
  return is_number_char(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

}  // namespace

// Builds the DOM and records where each value and key starts.
class PositionRecorder {
public:
  using json = nlohmann::json;

  PositionRecorder(std::string_view text, const std::string& file, const std::size_t* consumed,
                   PositionedJson* out)
      : m_text(text), m_file(file), m_consumed(consumed), m_out(out) {}

  bool null() { return add(json(nullptr), literal_start(4)); }
  bool boolean(bool value) { return add(json(value), literal_start(value ? 4 : 5)); }
  bool number_integer(json::number_integer_t value) { return add(json(value), number_start()); }
  bool number_unsigned(json::number_unsigned_t value) { return add(json(value), number_start()); }
  bool number_float(json::number_float_t value, const std::string&) {
    return add(json(value), number_start());
  }
  bool string(std::string& value) { return add(json(std::move(value)), string_start()); }
  bool binary(json::binary_t&) { return fail(*m_consumed, "binary values are not JSON"); }

  bool start_object(std::size_t) { return open(json::object(), *m_consumed - 1); }
  bool start_array(std::size_t) { return open(json::array(), *m_consumed - 1); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool key(std::string& name) {
    Frame& frame = m_stack.back();
    if (frame.node->contains(name)) {
      return fail(string_start(), "duplicate field '" + name + "'");
    }
    frame.key = name;
    m_out->m_keys[frame.pointer + "/" + escape_pointer_token(name)] =
        at(string_start());
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& error) {
    // nlohmann's message: "[json.exception.parse_error.101] parse error at line 1, column 2:
    // syntax error while parsing value - invalid literal; last read: 'tru'": keep what follows
    // "syntax error", our position replaces its own.
    std::string what = error.what();
    const auto at = what.find("syntax error");
    std::string problem = at == std::string::npos ? what : what.substr(at);
    // Point at the start of the offending token rather than the byte that gave up: a string
    // the lexer read whole, or the word or number that the failing byte ended.
    std::size_t offset = *m_consumed == 0 ? 0 : *m_consumed - 1;
    if (*m_consumed > 0 && m_text[offset] == '"') {
      offset = string_start();
    } else {
      while (offset > 0 && is_word_char(m_text[offset - 1])) {
        --offset;
      }
    }
    return fail(offset, problem);
  }

  bool failed() const { return !m_error.empty(); }
  const std::string& error() const { return m_error; }

private:
  struct Frame {
    json* node;
    std::string pointer;
    std::string key;
  };

  std::size_t literal_start(std::size_t length) const { return *m_consumed - length; }

  // position_at(m_text, offset), counted on from the last offset asked for: values and keys come in
  // text order, so the whole document is scanned once instead of once per value (which made a list
  // of a thousand targets take 0.86 s to load).
  TextPos at(std::size_t offset) {
    if (offset < m_cursor_offset) {
      m_cursor_offset = 0;
      m_cursor = TextPos{};
    }
    const TextPos step = position_at(m_text.substr(m_cursor_offset), offset - m_cursor_offset);
    m_cursor = step.line == 1 ? TextPos{m_cursor.line, m_cursor.column + step.column - 1}
                              : TextPos{m_cursor.line + step.line - 1, step.column};
    m_cursor_offset = std::min(offset, m_text.size());
    return m_cursor;
  }

  std::size_t number_start() const {
    std::size_t end = *m_consumed;
    // The lexer reads one character past a number before it knows the number has ended.
    if (end > 0 && !is_number_char(m_text[end - 1])) {
      --end;
    }
    while (end > 0 && is_number_char(m_text[end - 1])) {
      --end;
    }
    return end;
  }

  std::size_t string_start() const {
    // The closing quote was the last byte read; walk back to the opening quote, which is the
    // nearest quote not escaped by an odd number of backslashes.
    std::size_t i = *m_consumed - 1;
    while (i > 0) {
      --i;
      if (m_text[i] != '"') {
        continue;
      }
      std::size_t backslashes = 0;
      while (i > backslashes && m_text[i - backslashes - 1] == '\\') {
        ++backslashes;
      }
      if (backslashes % 2 == 0) {
        return i;
      }
    }
    return 0;
  }

  // Places a value in its parent and returns where it now lives.
  json* place(json value, std::size_t start, std::string* pointer_out) {
    if (m_stack.empty()) {
      m_out->value = std::move(value);
      *pointer_out = "";
      m_out->m_values[""] = at(start);
      return &m_out->value;
    }
    Frame& parent = m_stack.back();
    json* slot;
    if (parent.node->is_array()) {
      *pointer_out = parent.pointer + "/" + std::to_string(parent.node->size());
      parent.node->push_back(std::move(value));
      slot = &parent.node->back();
    } else {
      *pointer_out = parent.pointer + "/" + escape_pointer_token(parent.key);
      slot = &(*parent.node)[parent.key];
      *slot = std::move(value);
    }
    m_out->m_values[*pointer_out] = at(start);
    return slot;
  }

  bool add(json value, std::size_t start) {
    std::string pointer;
    place(std::move(value), start, &pointer);
    return true;
  }

  bool open(json container, std::size_t start) {
    if (m_stack.size() >= k_max_depth) {
      return fail(start, "nesting deeper than " + std::to_string(k_max_depth) + " levels");
    }
    std::string pointer;
    json* node = place(std::move(container), start, &pointer);
    m_stack.push_back(Frame{node, pointer, {}});
    return true;
  }

  bool close() {
    m_stack.pop_back();
    return true;
  }

  bool fail(std::size_t offset, const std::string& problem) {
    const TextPos pos = position_at(m_text, offset);
    m_error = m_file + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column) + ": " +
              problem;
    return false;
  }

  std::string_view m_text;
  const std::string& m_file;
  const std::size_t* m_consumed;
  PositionedJson* m_out;
  std::vector<Frame> m_stack;
  std::string m_error;
  std::size_t m_cursor_offset = 0;  // at(): the last offset and its position
  TextPos m_cursor;
};

PositionedJson parse_json_with_positions(std::string_view text, const std::string& file) {
  PositionedJson out;
  std::size_t consumed = 0;
  PositionRecorder recorder(text, file, &consumed, &out);
  CountingIterator first(text.data(), 0, &consumed);
  CountingIterator last(text.data(), text.size(), &consumed);
  const bool ok = nlohmann::json::sax_parse(first, last, &recorder);
  if (!ok || recorder.failed()) {
    throw UserError(exit_code::k_data_error,
                    recorder.failed() ? recorder.error() : file + ": not valid JSON");
  }
  return out;
}

}  // namespace probe
