#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "core/error.hpp"

struct sqlite3;
struct sqlite3_stmt;

// A small owner of an SQLite connection and its prepared statements, for the history index. Only
// this pair of files includes sqlite3.h. Errors throw UserError: 73 when the database cannot be
// opened or created, 74 when a statement fails (66 when opening an index that does not exist).
namespace probe {

// What SQLite says of a file that is not a database or whose pages are damaged (SQLITE_NOTADB,
// SQLITE_CORRUPT): the index must be rebuilt, not written into. Exit 74 like any failed statement.
class DamagedDatabase : public UserError {
public:
  using UserError::UserError;
};

class SqliteDb {
public:
  // Opens `file`; with `create`, creates it (mode 0600) when missing.
  SqliteDb(const std::filesystem::path& file, bool create);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  void exec(const std::string& sql);
  sqlite3* handle() const { return m_db; }
  const std::filesystem::path& file() const { return m_file; }
  [[noreturn]] void fail(const std::string& what) const;

private:
  std::filesystem::path m_file;
  sqlite3* m_db = nullptr;
};

class SqliteStatement {
public:
  SqliteStatement(const SqliteDb& db, const std::string& sql);
  ~SqliteStatement();
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  // Parameters are numbered from 1; nullopt binds NULL.
  void bind(int index, const std::optional<std::string>& value);
  void bind(int index, std::optional<long long> value);
  // Runs one step: true when a row is ready, false when done.
  bool step();
  // Ready for the next run, with its parameters cleared.
  void reset();

  std::optional<std::string> text(int column) const;
  std::optional<long long> integer(int column) const;

private:
  const SqliteDb& m_db;
  sqlite3_stmt* m_statement = nullptr;
};

// BEGIN IMMEDIATE now, ROLLBACK when destroyed before commit().
class SqliteTransaction {
public:
  explicit SqliteTransaction(SqliteDb& db);
  ~SqliteTransaction();
  SqliteTransaction(const SqliteTransaction&) = delete;
  SqliteTransaction& operator=(const SqliteTransaction&) = delete;
  void commit();

private:
  SqliteDb& m_db;
  bool m_done = false;
};

}  // namespace probe
