#include "store/history.hpp"

#include <memory>
#include <set>

#include <spdlog/spdlog.h>

#include "store/parallel_load.hpp"
#include "store/row_scanner.hpp"
#include "store/sqlite_db.hpp"
#include "core/error.hpp"
#include "core/exit_codes.hpp"

namespace probe {

namespace fs = std::filesystem;

namespace {

// Version of the index's own layout (PRAGMA user_version), not of the reports. 2 added
// results.signatures (the verdict's, comma-separated; "" for none): an index of version 1 gains the
// column when next written, and its old rows read as having no signatures. 3 added
// results.interrupted (1 when the run's report says "interrupted": true): an older index's rows do
// not know it, and the summary would count their interrupted runs as tests, so an index older than
// 3 is out of date (history_up_to_date) and, once written, forgets which files it has read: the
// summary reads the reports until `probe history rebuild` has indexed them all again.
constexpr int k_index_version = 3;

// `files` lists every file indexed, reports or not (run_id NULL: a JSON file that is not a report),
// by stem, so that a report later compressed to .json.gz still counts as indexed.
const char* const k_schema = R"sql(
CREATE TABLE IF NOT EXISTS files (
  stem TEXT PRIMARY KEY,
  file_name TEXT NOT NULL,
  run_id TEXT
);
CREATE TABLE IF NOT EXISTS results (
  run_id TEXT NOT NULL,
  started_at TEXT NOT NULL,
  vantage_id TEXT,
  asn TEXT,
  cc TEXT,
  app TEXT NOT NULL,
  host TEXT NOT NULL,
  port INTEGER,
  kind TEXT NOT NULL,
  url TEXT,
  status TEXT,
  method TEXT,
  report_file TEXT NOT NULL,
  signatures TEXT,
  interrupted INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS results_run_target
  ON results (run_id, app, host, ifnull(port, -1), kind, ifnull(url, ''));
CREATE INDEX IF NOT EXISTS results_time ON results (started_at, run_id);
)sql";

int index_version(SqliteDb& db) {
  SqliteStatement version(db, "PRAGMA user_version");
  return version.step() ? static_cast<int>(version.integer(0).value_or(0)) : 0;
}

void open_schema(SqliteDb& db) {
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = NORMAL");
  // One transaction, the version read inside it: a migration cut short, or made by two writers at
  // once (a run's end and a rebuild), is made whole once, never a column added twice.
  SqliteTransaction migration(db);
  const int found = index_version(db);
  if (found > k_index_version) {
    throw UserError(exit_code::k_data_error, "the history index has layout version " + std::to_string(found) +
                                                 ", newer than this probe's (" + std::to_string(k_index_version) +
                                                 "): use a newer probe, or move the index away and run probe history rebuild");
  }
  db.exec(k_schema);
  if (found == 1) {
    db.exec("ALTER TABLE results ADD COLUMN signatures TEXT");
  }
  if (found == 1 || found == 2) {
    db.exec("ALTER TABLE results ADD COLUMN interrupted INTEGER");
    db.exec("DELETE FROM files");
  }
  db.exec("PRAGMA user_version = " + std::to_string(k_index_version));
  migration.commit();
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) {
    out += (out.empty() ? "" : ",") + name;
  }
  return out;
}

std::vector<std::string> split(const std::optional<std::string>& text) {
  std::vector<std::string> out;
  if (!text || text->empty()) {
    return out;
  }
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text->find(',', start);
    out.push_back(text->substr(start, comma - start));
    if (comma == std::string::npos) {
      return out;
    }
    start = comma + 1;
  }
}

class Writer {
public:
  explicit Writer(SqliteDb& db)
      : m_result(db,
                 "INSERT OR REPLACE INTO results (run_id, started_at, vantage_id, asn, cc, app, host, port, kind, url, "
                 "status, method, report_file, signatures, interrupted) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
        m_file(db, "INSERT OR REPLACE INTO files (stem, file_name, run_id) VALUES (?, ?, ?)") {}

  std::size_t add(const std::vector<RunRow>& rows) {
    for (const RunRow& row : rows) {
      m_result.bind(1, std::optional<std::string>(row.run_id));
      m_result.bind(2, std::optional<std::string>(row.started_at));
      m_result.bind(3, row.vantage_id);
      m_result.bind(4, row.asn);
      m_result.bind(5, row.cc);
      m_result.bind(6, std::optional<std::string>(row.key.app));
      m_result.bind(7, std::optional<std::string>(row.key.host));
      m_result.bind(8, row.key.port);
      m_result.bind(9, std::optional<std::string>(row.key.kind));
      m_result.bind(10, row.key.url);
      m_result.bind(11, row.status);
      m_result.bind(12, row.method);
      m_result.bind(13, std::optional<std::string>(row.report_file));
      m_result.bind(14, std::optional<std::string>(joined(row.signatures)));
      m_result.bind(15, std::optional<long long>(row.interrupted ? 1 : 0));
      m_result.step();
      m_result.reset();
    }
    return rows.size();
  }

  void add_file(const std::string& file_name, const std::optional<std::string>& run_id) {
    m_file.bind(1, std::optional<std::string>(report_stem(file_name)));
    m_file.bind(2, std::optional<std::string>(file_name));
    m_file.bind(3, run_id);
    m_file.step();
    m_file.reset();
  }

private:
  SqliteStatement m_result;
  SqliteStatement m_file;
};

// What a worker makes of one file: its rows, or nothing for a JSON file that is not a report.
struct IndexedFile {
  std::string file_name;
  std::optional<std::string> run_id;
  std::vector<RunRow> rows;
  std::optional<std::string> damaged;  // why the file could not be read as a report
};

// The index, opened for a rebuild: a damaged one (not a database, damaged pages) is moved aside as
// history.sqlite.damaged and a new one made in its place, so the repair command always repairs.
std::unique_ptr<SqliteDb> open_for_rebuild(const fs::path& folder) {
  const fs::path file = history_path(folder);
  try {
    auto db = std::make_unique<SqliteDb>(file, true);
    open_schema(*db);
    SqliteStatement check(*db, "PRAGMA quick_check");
    const std::optional<std::string> verdict = check.step() ? check.text(0) : std::nullopt;
    if (verdict != "ok") {
      throw DamagedDatabase(exit_code::k_io_error, file.string() + ": " + verdict.value_or("quick_check failed"));
    }
    return db;
  } catch (const DamagedDatabase& error) {
    const fs::path aside = file.string() + ".damaged";
    std::error_code ec;
    fs::rename(file, aside, ec);
    if (ec) {
      throw UserError(exit_code::k_io_error, error.what() + std::string("; cannot move it aside: ") + ec.message());
    }
    for (const char* suffix : {"-wal", "-shm", "-journal"}) {
      fs::remove(file.string() + suffix, ec);
    }
    spdlog::warn("{} (damaged); moved to {} and rebuilt from the reports in the folder (rows of reports no "
                 "longer there are not in the new index)",
                 error.what(), aside.string());
  }
  auto db = std::make_unique<SqliteDb>(file, true);
  open_schema(*db);
  return db;
}

}  // namespace

fs::path history_path(const fs::path& folder) { return folder / k_history_file_name; }

void index_report(const fs::path& folder, const nlohmann::json& report, const std::string& file_name) {
  check_schema_version(report, file_name);
  SqliteDb db(history_path(folder), true);
  open_schema(db);
  SqliteTransaction transaction(db);
  Writer writer(db);
  writer.add(run_rows(report, file_name));
  writer.add_file(file_name, optional_string(report, "run_id").value_or(""));
  transaction.commit();
}

RebuildOutcome rebuild_history(const fs::path& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) {
    throw UserError(exit_code::k_no_input, folder.string() + ": no such folder");
  }
  const std::vector<ReportFile> files = list_report_files({folder});
  const std::unique_ptr<SqliteDb> db = open_for_rebuild(folder);
  SqliteTransaction transaction(*db);
  Writer writer(*db);
  RebuildOutcome outcome;
  load_in_order<ReportFile, IndexedFile>(
      files,
      [](const ReportFile& file) {
        IndexedFile indexed{file.path.filename().string(), std::nullopt, {}, std::nullopt};
        try {
          if (auto scanned = scan_listed_report(file)) {
            indexed.run_id = scanned->run_id;
            indexed.rows = std::move(scanned->rows);
          }
        } catch (const UserError& error) {
          indexed.damaged = error.what();
        }
        return indexed;
      },
      [&](IndexedFile&& indexed) {
        if (indexed.damaged) {
          // Not indexed, and not marked as read: the index stays out of date while it is there.
          spdlog::warn("{}; skipped", *indexed.damaged);
          outcome.damaged.push_back(indexed.file_name);
          return;
        }
        if (indexed.run_id) {
          outcome.rows += writer.add(indexed.rows);
          ++outcome.reports;
        } else {
          ++outcome.skipped;
        }
        writer.add_file(indexed.file_name, indexed.run_id);
      });
  transaction.commit();
  return outcome;
}

bool history_up_to_date(const fs::path& folder) {
  std::error_code ec;
  if (!fs::is_regular_file(history_path(folder), ec)) {
    return false;
  }
  // Every file in the folder that looks like a report is indexed (or known not to be one), by an
  // index that stores all the summary counts.
  std::set<std::string> indexed;
  {
    SqliteDb db(history_path(folder), false);
    SqliteStatement files(db, "SELECT stem FROM files");
    while (files.step()) {
      indexed.insert(files.text(0).value_or(""));
    }
    if (index_version(db) < k_index_version) {
      return false;
    }
  }
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    if (has_report_extension(name) && !indexed.contains(report_stem(name))) {
      return false;
    }
  }
  return !ec;
}

std::vector<RunRow> read_history(const fs::path& index_file, const HistoryFilter& filter) {
  SqliteDb db(index_file, false);
  // An index of version 1 (read, not written, here) has no signatures column, one before 3 no
  // interrupted column.
  const int version = index_version(db);
  std::string sql = std::string("SELECT run_id, started_at, vantage_id, asn, cc, app, host, port, kind, url, status, "
                                "method, report_file, ") +
                    (version >= 2 ? "signatures" : "NULL") + ", " + (version >= 3 ? "interrupted" : "NULL") +
                    " FROM results WHERE started_at >= ?";
  if (!filter.apps.empty()) {
    sql += " AND app IN (";
    for (std::size_t k = 0; k < filter.apps.size(); ++k) {
      sql += k == 0 ? "?" : ", ?";
    }
    sql += ")";
  }
  // The (started_at, run_id) index gives this order without sorting; summaries need no more.
  sql += " ORDER BY started_at, run_id";
  SqliteStatement query(db, sql);
  query.bind(1, std::optional<std::string>(filter.since.value_or("")));
  for (std::size_t k = 0; k < filter.apps.size(); ++k) {
    query.bind(static_cast<int>(k + 2), std::optional<std::string>(filter.apps[k]));
  }
  std::vector<RunRow> rows;
  while (query.step()) {
    RunRow row;
    row.run_id = query.text(0).value_or("");
    row.started_at = query.text(1).value_or("");
    row.vantage_id = query.text(2);
    row.asn = query.text(3);
    row.cc = query.text(4);
    row.key.app = query.text(5).value_or("");
    row.key.host = query.text(6).value_or("");
    row.key.port = query.integer(7);
    row.key.kind = query.text(8).value_or("");
    row.key.url = query.text(9);
    row.status = query.text(10);
    row.method = query.text(11);
    row.report_file = query.text(12).value_or("");
    row.signatures = split(query.text(13));
    row.interrupted = query.integer(14).value_or(0) != 0;
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace probe
