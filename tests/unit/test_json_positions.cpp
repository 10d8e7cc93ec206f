#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "targets/json_positions.hpp"

using namespace probe;

namespace {
std::string error_of(const std::string& text) {
  try {
    parse_json_with_positions(text, "f.json");
  } catch (const UserError& error) {
    CHECK(error.exit_code() == 65);
    return error.what();
  }
  return "";
}
}  // namespace

TEST_CASE("values and keys are located where they start", "[json]") {
  const std::string text =
      "{\n"
      "  \"a\": 12,\n"
      "  \"b\": [true, \"x\\\"y\", null, -1.5e3],\n"
      "  \"\xc3\xa9t\xc3\xa9\": \"caf\xc3\xa9\", \"c\": {\"d\": false}\n"
      "}";
  const PositionedJson doc = parse_json_with_positions(text, "f.json");
  CHECK(doc.value["a"] == 12);
  const auto at = [&](const std::string& pointer) {
    const TextPos pos = doc.value_pos(pointer);
    return std::to_string(pos.line) + ":" + std::to_string(pos.column);
  };
  CHECK(at("") == "1:1");
  CHECK(at("/a") == "2:8");
  CHECK(at("/b") == "3:8");
  CHECK(at("/b/0") == "3:9");
  CHECK(at("/b/1") == "3:15");  // a string with an escaped quote
  CHECK(at("/b/2") == "3:23");
  CHECK(at("/b/3") == "3:29");  // a number, read one character past its end
  // Columns count characters, not bytes: "été" is 3 characters in 5 bytes.
  CHECK(at("/\xc3\xa9t\xc3\xa9") == "4:10");
  CHECK(at("/c/d") == "4:29");
  const TextPos key = doc.key_pos("/c");
  CHECK(key.line == 4);
  CHECK(key.column == 18);
}

TEST_CASE("syntax errors name line and column", "[json]") {
  CHECK(error_of("{\n  \"a\": 1\n  \"b\": 2\n}") == "f.json:3:3: syntax error while parsing object - unexpected string literal; expected '}'");
  CHECK(error_of("{\"a\": tru}").rfind("f.json:1:7: syntax error", 0) == 0);
  CHECK(error_of("").rfind("f.json:1:1: syntax error", 0) == 0);
  CHECK(error_of("{\"a\": 1,}").rfind("f.json:1:9: syntax error", 0) == 0);  // no trailing commas
  CHECK(error_of("// comment\n{}").rfind("f.json:1:", 0) == 0);          // no comments
  CHECK(error_of("{\"a\": \"\xff\"}").find("syntax error") != std::string::npos);  // invalid UTF-8
}

TEST_CASE("duplicate keys and deep nesting are refused", "[json]") {
  CHECK(error_of("{\"a\": 1,\n \"a\": 2}") == "f.json:2:2: duplicate field 'a'");
  std::string deep(100, '[');
  deep += std::string(100, ']');
  CHECK(error_of(deep) == "f.json:1:65: nesting deeper than 64 levels");
}
