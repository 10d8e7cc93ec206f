#include "store/sqlite_db.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.hpp"
#include "core/exit_codes.hpp"

namespace probe {

namespace fs = std::filesystem;

SqliteDb::SqliteDb(const fs::path& file, bool create) : m_file(file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    if (!create) {
      throw UserError(exit_code::k_no_input, file.string() + ": no history index (make one with 'probe history rebuild')");
    }
    // SQLite would create it world-readable; the index says what this network tested, like a report.
    const int fd = ::open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) {
      throw UserError(exit_code::k_cant_create, file.string() + ": cannot create: " + std::strerror(errno));
    }
    ::close(fd);
  } else if (!fs::is_regular_file(file, ec)) {  // a FIFO would block SQLite's first read for ever
    throw UserError(exit_code::k_cant_create, file.string() + ": not a regular file, not a history index");
  }
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(file.c_str(), &m_db, flags, nullptr) != SQLITE_OK) {
    const std::string message = m_db != nullptr ? sqlite3_errmsg(m_db) : "out of memory";
    sqlite3_close(m_db);
    m_db = nullptr;
    throw UserError(exit_code::k_cant_create, file.string() + ": cannot open: " + message);
  }
  // A summary may read while a run adds its report: wait for the writer rather than fail.
  sqlite3_busy_timeout(m_db, 10000);
}

SqliteDb::~SqliteDb() { sqlite3_close(m_db); }

namespace {

bool damaged(int code) {
  const int primary = code & 0xff;
  return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
}

}  // namespace

void SqliteDb::fail(const std::string& what) const {
  const std::string message = m_file.string() + ": " + what + ": " + sqlite3_errmsg(m_db);
  if (damaged(sqlite3_extended_errcode(m_db))) {
    throw DamagedDatabase(exit_code::k_io_error, message);
  }
  throw UserError(exit_code::k_io_error, message);
}

void SqliteDb::exec(const std::string& sql) {
  char* error = nullptr;
  if (const int rc = sqlite3_exec(m_db, sql.c_str(), nullptr, nullptr, &error); rc != SQLITE_OK) {
    const std::string message = m_file.string() + ": " + (error != nullptr ? error : "unknown error");
    sqlite3_free(error);
    if (damaged(rc)) {
      throw DamagedDatabase(exit_code::k_io_error, message);
    }
    throw UserError(exit_code::k_io_error, message);
  }
}

SqliteStatement::SqliteStatement(const SqliteDb& db, const std::string& sql) : m_db(db) {
  if (sqlite3_prepare_v2(db.handle(), sql.c_str(), -1, &m_statement, nullptr) != SQLITE_OK) {
    db.fail("cannot prepare a statement");
  }
}

SqliteStatement::~SqliteStatement() { sqlite3_finalize(m_statement); }

void SqliteStatement::bind(int index, const std::optional<std::string>& value) {
  const int rc = value ? sqlite3_bind_text(m_statement, index, value->data(), static_cast<int>(value->size()), SQLITE_TRANSIENT)
                       : sqlite3_bind_null(m_statement, index);
  if (rc != SQLITE_OK) {
    m_db.fail("cannot bind a value");
  }
}

void SqliteStatement::bind(int index, std::optional<long long> value) {
  const int rc = value ? sqlite3_bind_int64(m_statement, index, *value) : sqlite3_bind_null(m_statement, index);
  if (rc != SQLITE_OK) {
    m_db.fail("cannot bind a value");
  }
}

bool SqliteStatement::step() {
  const int rc = sqlite3_step(m_statement);
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc != SQLITE_DONE) {
    m_db.fail("statement failed");
  }
  return false;
}

void SqliteStatement::reset() {
  sqlite3_reset(m_statement);
  sqlite3_clear_bindings(m_statement);
}

std::optional<std::string> SqliteStatement::text(int column) const {
  if (sqlite3_column_type(m_statement, column) == SQLITE_NULL) {
    return std::nullopt;
  }
  const unsigned char* data = sqlite3_column_text(m_statement, column);
  return std::string(reinterpret_cast<const char*>(data), static_cast<std::size_t>(sqlite3_column_bytes(m_statement, column)));
}

std::optional<long long> SqliteStatement::integer(int column) const {
  if (sqlite3_column_type(m_statement, column) == SQLITE_NULL) {
    return std::nullopt;
  }
  return sqlite3_column_int64(m_statement, column);
}

SqliteTransaction::SqliteTransaction(SqliteDb& db) : m_db(db) { m_db.exec("BEGIN IMMEDIATE"); }

SqliteTransaction::~SqliteTransaction() {
  if (!m_done) {
    sqlite3_exec(m_db.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

void SqliteTransaction::commit() {
  m_db.exec("COMMIT");
  m_done = true;
}

}  // namespace probe
