// The database schema as an ordered list of migrations. Version N of the schema is what migrations 1..N
// build; `PRAGMA user_version` records the version a database is at. A shipped migration is never edited:
// a change is a new step at the end (tests/app/test_store_schema.cpp builds a version 1 file by hand).
#pragma once

#include <QSqlDatabase>
#include <QString>
#include <QStringList>

#include <vector>

namespace moe::app::schema {

struct Migration {
    int version = 0;      // the user_version once this step committed
    QString description;  // for messages: "add metrics tables"
    QStringList statements;
};

const std::vector<Migration>& migrations();
int currentVersion();  // the newest version this program knows

// Brings the database open in `db` to currentVersion(): switches it to WAL, then runs each missing step in
// its own transaction (BEGIN IMMEDIATE ... user_version = N; COMMIT), checking foreign keys before the
// commit. A failed step rolls back and leaves the database at the previous version. A database newer than
// this program is refused, untouched. Returns an error message naming the file and the statement, or empty.
// The connection must have foreign_keys OFF (table rebuilds in later steps need it, as SQLite documents).
QString migrate(const QSqlDatabase& db);

// The version a database is at (its user_version); -1 and `error` set on failure.
int versionOf(const QSqlDatabase& db, QString* error);

}  // namespace moe::app::schema
