#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "targets/citizenlab_csv.hpp"

using namespace probe;

namespace {
const std::string k_header = "url,category_code,category_description,date_added,source,notes\n";

std::string error_of(const std::string& text, const std::string& file = "lists/global.csv") {
  try {
    parse_citizenlab_csv(text, file);
  } catch (const UserError& error) {
    CHECK(error.exit_code() == 65);
    return error.what();
  }
  return "";
}
}  // namespace

TEST_CASE("Citizen Lab test lists load as http(s) targets named after the file", "[csv]") {
  const std::string text =
      "\xEF\xBB\xBF" + k_header +
      "https://www.joinclubhouse.com/,COMT,Communication Tools,2021-03-03,,\"reportedly blocked, UAE\"\r\n"
      "http://example.org:8080/a?b,NEWS,News Media,2020-01-01,src,\n"
      "\n"
      "https://www.joinclubhouse.com/,GRP,Social Networking,2021-03-04,,duplicate across categories\n"
      "\"https://x.com/\",GRP,\"Social \"\"Networking\"\"\",2023-07-26,,\"multi\nline\"\n";
  const TargetList list = parse_citizenlab_csv(text, "lists/AE.csv");
  CHECK(list.format == "citizenlab_csv");
  CHECK_FALSE(list.reviewed);
  REQUIRE(list.targets.size() == 3);
  CHECK(list.targets[0].app == "ae");
  CHECK(list.targets[0].kind == Kind::https);
  CHECK(list.targets[0].host == "www.joinclubhouse.com");
  CHECK(list.targets[0].purpose == "Communication Tools");
  CHECK(list.targets[0].note == "reportedly blocked, UAE");
  CHECK(list.targets[0].sources[0] == "Citizen Lab test list AE.csv (category COMT, added 2021-03-03)");
  CHECK(list.targets[0].origin.line == 2);
  CHECK(list.targets[1].kind == Kind::http);
  CHECK(list.targets[1].port == 8080);
  CHECK(list.targets[1].path == "/a?b");
  CHECK(list.targets[2].host == "x.com");
  CHECK(list.targets[2].purpose == "Social \"Networking\"");
  CHECK(list.targets[2].origin.line == 6);
}

TEST_CASE("bad CSV input names line, column and column name", "[csv]") {
  CHECK(error_of("") == "lists/global.csv:1:1: (header): the file is empty: expected the header "
                        "'url,category_code,category_description,date_added,source,notes'");
  CHECK(error_of("url,category\nhttps://a.org/,X\n") ==
        "lists/global.csv:1:1: (header): expected "
        "'url,category_code,category_description,date_added,source,notes', found 'url,category'");
  CHECK(error_of(k_header) == "lists/global.csv:1:1: (rows): the list is empty: no row after the header");
  CHECK(error_of(k_header + "https://a.org/,NEWS,News,2020-01-01,\n") ==
        "lists/global.csv:2:1: (row): expected 6 fields, found 5");
  CHECK(error_of(k_header + "https://a.org/,NEWS,News,2020-01-01,,,extra\n") ==
        "lists/global.csv:2:1: (row): expected 6 fields, found 7");
  CHECK(error_of(k_header + "https://a.org/,NEWS,News,2020-01-01,,\nnot a url,NEWS,News,2020-01-01,,\n") ==
        "lists/global.csv:3:1: url: 'not a url': not a URL (expected scheme://host, e.g. https://example.org/)");
  CHECK(error_of(k_header + "https://a.org/,,News,2020-01-01,,\n") ==
        "lists/global.csv:2:16: category_code: must not be empty");
  CHECK(error_of(k_header + "https://a.org/,NEWS,News,01/02/2020,,\n") ==
        "lists/global.csv:2:26: date_added: '01/02/2020' is not a date as YYYY-MM-DD");
  CHECK(error_of(k_header + "tls://a.org:443,NEWS,News,2020-01-01,,\n") ==
        "lists/global.csv:2:1: url: 'tls://a.org:443': test lists hold http and https URLs only");
  CHECK(error_of(k_header + "https://a.org/,NEWS,\"News,2020-01-01,,\n") ==
        "lists/global.csv:2:21: (row): quoted field is never closed");
  CHECK(error_of(k_header + "https://a.org/,NE\"WS,News,2020-01-01,,\n") ==
        "lists/global.csv:2:18: (row): a quote inside an unquoted field");
  CHECK(error_of(k_header + "https://a.org/,\"NEWS\"x,News,2020-01-01,,\n") ==
        "lists/global.csv:2:22: (row): unexpected text after a closing quote");
  // A quoted field may hold a newline, but a URL may not: curl would refuse it at measurement time.
  CHECK(error_of(k_header + "\"https://a.org/x\ny\",NEWS,News,2020-01-01,,\n") ==
        "lists/global.csv:2:1: url: 'https://a.org/x\ny': spaces and control characters are not allowed in the "
        "path (percent-encode them)");
  CHECK(error_of(k_header + "https://a.org/a b,NEWS,News,2020-01-01,,\n") ==
        "lists/global.csv:2:1: url: 'https://a.org/a b': spaces and control characters are not allowed in the "
        "path (percent-encode them)");
  CHECK(error_of(k_header + std::string("https://192.0.2.7\0x/,NEWS,News,2020-01-01,,\n", 44)) ==
        "lists/global.csv:2:1: url: 'https://192.0.2.7\\0x/': character '\\0' not allowed in a host name");
}

TEST_CASE("Citizen Lab CSV: each row's line is counted on from the last, across quoted newlines, CRLF and "
          "repeated URLs",
          "[citizenlab]") {
  // Row k starts on line 2 + 3k: each row's note is a quoted field of three lines.
  std::string text = "url,category_code,category_description,date_added,source,notes\r\n";
  const std::size_t rows = 2000;
  for (std::size_t k = 0; k < rows; ++k) {
    const std::string host = "h" + std::to_string(k % 1500) + ".example.org";  // the last 500 repeat
    text += "https://" + host + "/,NEWS,News,2020-01-01,x,\"one\r\ntwo\nthree\"\r\n";
  }
  const TargetList list = parse_citizenlab_csv(text, "lists/xx.csv");
  REQUIRE(list.targets.size() == 1500);
  for (std::size_t k = 0; k < list.targets.size(); ++k) {
    INFO(k);
    CHECK(list.targets[k].origin.line == 2 + 3 * k);
  }
}
