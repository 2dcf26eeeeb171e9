// Small helpers over QSqlQuery: prepared statements whose errors name the database file and the statement,
// NULL <-> std::optional conversions, and opening connections with the pragmas every connection needs.
#pragma once

#include <QSqlDatabase>
#include <QSqlQuery>
#include <QString>
#include <QVariant>

#include <initializer_list>
#include <optional>

namespace moe::app::sql {

// "workbench.sqlite: INSERT INTO models ...: UNIQUE constraint failed: models.path"
QString describeError(const QString& dbFile, const QString& statement, const QString& what);

// A prepared statement bound by position. Every failure is kept as a readable message (error()).
class Statement {
public:
    Statement(const QSqlDatabase& db, const QString& sqlText);

    Statement& bind(const QVariant& value);
    Statement& bindAll(std::initializer_list<QVariant> values);
    bool exec();  // false: see error()
    bool next() { return m_query.next(); }
    QVariant value(int column) const { return m_query.value(column); }
    qint64 numRowsAffected() const { return m_query.numRowsAffected(); }
    qint64 lastInsertId() const { return m_query.lastInsertId().toLongLong(); }
    const QString& error() const { return m_error; }
    void finish() { m_query.finish(); }

private:
    QString m_dbFile;
    QString m_sql;
    QSqlQuery m_query;
    bool m_prepared = false;
    QString m_error;
};

// "workbench.sqlite: model 7 does not exist"
QString missingRow(const QSqlDatabase& db, const QString& what, qint64 id);

// Runs one statement with no bindings and no result rows (PRAGMAs, DDL). Empty string on success.
QString execute(const QSqlDatabase& db, const QString& sqlText);
// Runs a statement returning one value (PRAGMA user_version, SELECT COUNT(*)).
QVariant scalar(const QSqlDatabase& db, const QString& sqlText, QString* error);

template <class T>
QVariant fromOptional(const std::optional<T>& value) {
    return value ? QVariant::fromValue(*value) : QVariant();
}
std::optional<qint64> optionalInt(const QVariant& value);
std::optional<double> optionalDouble(const QVariant& value);
// Binds an empty string as NULL (optional text columns such as finish_reason).
QVariant nullIfEmpty(const QString& text);

enum class ConnectionKind { Writer, Reader, Maintenance };
// Opens `path` under the connection name `name` in the calling thread (Qt connections are thread-bound).
// Writer/Maintenance: read-write, foreign keys on (Maintenance: off, for migrations), synchronous=NORMAL.
// Reader: read-only and query_only. All: busy_timeout so a busy database waits instead of failing.
// Returns an error message naming the file; the connection is removed again on failure.
QString openConnection(const QString& name, const QString& path, ConnectionKind kind, int busyTimeoutMs);
// Closes and removes a connection opened in this thread (no QSqlDatabase copies may be alive).
void closeConnection(const QString& name);

}  // namespace moe::app::sql
