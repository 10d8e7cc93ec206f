#include "targets/citizenlab_csv.hpp"

#include <algorithm>
#include <array>
#include <filesystem>
#include <set>
#include <vector>

#include "core/digest.hpp"
#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "targets/host.hpp"
#include "targets/json_positions.hpp"
#include "targets/url.hpp"

namespace probe {

namespace {

constexpr std::array<std::string_view, 6> k_columns = {
    "url", "category_code", "category_description", "date_added", "source", "notes"};

struct Field {
  std::string text;
  std::size_t offset = 0;  // where the field starts in the file
};

struct Row {
  std::vector<Field> fields;
  std::size_t offset = 0;
};

[[noreturn]] void fail(std::string_view text, const std::string& file, std::size_t offset,
                       const std::string& field, const std::string& problem) {
  const TextPos pos = position_at(text, offset);
  throw UserError(exit_code::k_data_error, file + ":" + std::to_string(pos.line) + ":" +
                                               std::to_string(pos.column) + ": " + field + ": " + problem);
}

// Splits the file into rows of fields. Quoted fields may hold commas, doubled quotes and newlines.
std::vector<Row> split_rows(std::string_view text, const std::string& file) {
  std::vector<Row> rows;
  std::size_t i = 0;
  while (i < text.size()) {
    Row row;
    row.offset = i;
    while (true) {
      Field field;
      field.offset = i;
      if (i < text.size() && text[i] == '"') {
        ++i;
        while (true) {
          if (i >= text.size()) {
            fail(text, file, field.offset, "(row)", "quoted field is never closed");
          }
          if (text[i] == '"') {
            if (i + 1 < text.size() && text[i + 1] == '"') {
              field.text += '"';
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          field.text += text[i++];
        }
        if (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          fail(text, file, i, "(row)", "unexpected text after a closing quote");
        }
      } else {
        while (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          if (text[i] == '"') {
            fail(text, file, i, "(row)", "a quote inside an unquoted field");
          }
          field.text += text[i++];
        }
      }
      row.fields.push_back(std::move(field));
      if (i < text.size() && text[i] == ',') {
        ++i;
        continue;
      }
      break;
    }
    if (i < text.size() && text[i] == '\r') {
      ++i;
    }
    if (i < text.size() && text[i] == '\n') {
      ++i;
    }
    const bool blank = row.fields.size() == 1 && row.fields[0].text.empty();
    if (!blank) {
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

std::string app_from_file(const std::string& file) {
  const std::string stem = lowercase(std::filesystem::path(file).stem().string());
  return is_app_name(stem) ? stem : "citizenlab";
}

}  // namespace

TargetList parse_citizenlab_csv(std::string_view text, const std::string& file) {
  TargetList list;
  list.file = file;
  list.format = "citizenlab_csv";
  list.sha256 = sha256_hex(text);
  const std::string app = app_from_file(file);

  const std::vector<Row> rows = split_rows(text, file);
  if (rows.empty()) {
    fail(text, file, 0, "(header)", "the file is empty: expected the header '" +
                                        std::string(k_citizenlab_header) + "'");
  }
  std::string header;
  for (const Field& field : rows[0].fields) {
    header += (header.empty() ? "" : ",") + field.text;
  }
  if (header.substr(0, 3) == "\xEF\xBB\xBF") {
    header.erase(0, 3);  // a UTF-8 byte order mark, as spreadsheet programs write
  }
  if (header != k_citizenlab_header) {
    fail(text, file, rows[0].offset, "(header)",
         "expected '" + std::string(k_citizenlab_header) + "', found '" + header + "'");
  }
  if (rows.size() == 1) {
    fail(text, file, rows[0].offset, "(rows)", "the list is empty: no row after the header");
  }
  std::set<std::string> seen;
  // Each row's line, counted on from the previous row's (rows come in the text's order): counting
  // from the start for every row made a 40,000-row list take 30 s.
  std::size_t line = 1;
  std::size_t counted_to = 0;
  for (std::size_t r = 1; r < rows.size(); ++r) {
    const Row& row = rows[r];
    line += static_cast<std::size_t>(
        std::count(text.begin() + static_cast<std::ptrdiff_t>(counted_to),
                   text.begin() + static_cast<std::ptrdiff_t>(std::min(row.offset, text.size())), '\n'));
    counted_to = std::max(counted_to, std::min(row.offset, text.size()));
    if (row.fields.size() != k_columns.size()) {
      fail(text, file, row.offset, "(row)",
           "expected " + std::to_string(k_columns.size()) + " fields, found " +
               std::to_string(row.fields.size()));
    }
    const Field& url = row.fields[0];
    std::string problem;
    const auto parsed = parse_target_url(url.text, &problem);
    if (!parsed) {
      fail(text, file, url.offset, "url", "'" + url.text + "': " + problem);
    }
    if (parsed->kind != Kind::http && parsed->kind != Kind::https) {
      fail(text, file, url.offset, "url", "'" + url.text + "': test lists hold http and https URLs only");
    }
    const Field& category = row.fields[1];
    if (category.text.empty()) {
      fail(text, file, category.offset, "category_code", "must not be empty");
    }
    const Field& date_added = row.fields[3];
    if (!date_added.text.empty() && !is_iso_date(date_added.text)) {
      fail(text, file, date_added.offset, "date_added",
           "'" + date_added.text + "' is not a date as YYYY-MM-DD");
    }
    Target target;
    target.app = app;
    target.host = parsed->host;
    target.port = parsed->port;
    target.kind = parsed->kind;
    target.path = parsed->path;
    target.purpose = row.fields[2].text.empty() ? category.text : row.fields[2].text;
    target.sources.push_back("Citizen Lab test list " + std::filesystem::path(file).filename().string() +
                             " (category " + category.text +
                             (date_added.text.empty() ? "" : ", added " + date_added.text) +
                             (row.fields[4].text.empty() ? "" : ", source: " + row.fields[4].text) + ")");
    target.note = row.fields[5].text;
    target.origin = Origin{file, line};
    if (!seen.insert(target.key()).second) {
      continue;  // test lists repeat URLs across categories; one measurement is enough
    }
    list.targets.push_back(std::move(target));
  }
  return list;
}

}  // namespace probe
