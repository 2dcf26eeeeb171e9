#include "storage/sql_util.h"

#include <QSqlError>

namespace moe::app::sql {

namespace {

QString fileLabel(const QSqlDatabase& db) {
    const QString path = db.databaseName();
    return path.isEmpty() ? QStringLiteral("(no database)") : path;
}

// Long statements (migrations) are cut in messages: the start says which one it was.
QString shortened(const QString& statement) {
    QString text = statement.simplified();
    constexpr int kMaxChars = 160;
    if (text.size() > kMaxChars) text = text.left(kMaxChars) + QStringLiteral("...");
    return text;
}

QString errorText(const QSqlError& error) {
    QString text = error.databaseText();
    if (text.isEmpty()) text = error.driverText();
    if (text.isEmpty()) text = QStringLiteral("unknown error");
    return text;
}

}  // namespace

QString describeError(const QString& dbFile, const QString& statement, const QString& what) {
    return QStringLiteral("%1: %2: %3").arg(dbFile, shortened(statement), what);
}

Statement::Statement(const QSqlDatabase& db, const QString& sqlText)
    : m_dbFile(fileLabel(db)), m_sql(sqlText), m_query(db) {
    m_query.setForwardOnly(true);
    m_prepared = m_query.prepare(sqlText);
    if (!m_prepared) m_error = describeError(m_dbFile, m_sql, errorText(m_query.lastError()));
}

namespace {

// The SQLite driver binds a null QString as NULL; our text columns are NOT NULL and mean "" by it.
// A NULL is asked for explicitly with an invalid QVariant (fromOptional, nullIfEmpty).
QVariant normalised(const QVariant& value) {
    if (value.metaType().id() == QMetaType::QString && value.toString().isNull()) {
        return QVariant(QString::fromLatin1(""));
    }
    return value;
}

}  // namespace

Statement& Statement::bind(const QVariant& value) {
    m_query.addBindValue(normalised(value));
    return *this;
}

Statement& Statement::bindAll(std::initializer_list<QVariant> values) {
    for (const QVariant& v : values) m_query.addBindValue(normalised(v));
    return *this;
}

bool Statement::exec() {
    if (!m_prepared) return false;
    if (m_query.exec()) return true;
    m_error = describeError(m_dbFile, m_sql, errorText(m_query.lastError()));
    return false;
}

QString missingRow(const QSqlDatabase& db, const QString& what, qint64 id) {
    return QStringLiteral("%1: %2 %3 does not exist").arg(fileLabel(db), what).arg(id);
}

QString execute(const QSqlDatabase& db, const QString& sqlText) {
    QSqlQuery query(db);
    if (query.exec(sqlText)) return QString();
    return describeError(fileLabel(db), sqlText, errorText(query.lastError()));
}

QVariant scalar(const QSqlDatabase& db, const QString& sqlText, QString* error) {
    QSqlQuery query(db);
    query.setForwardOnly(true);
    if (!query.exec(sqlText)) {
        if (error) *error = describeError(fileLabel(db), sqlText, errorText(query.lastError()));
        return QVariant();
    }
    if (!query.next()) {
        if (error) *error = describeError(fileLabel(db), sqlText, QStringLiteral("returned no row"));
        return QVariant();
    }
    return query.value(0);
}

std::optional<qint64> optionalInt(const QVariant& value) {
    if (value.isNull()) return std::nullopt;
    return value.toLongLong();
}

std::optional<double> optionalDouble(const QVariant& value) {
    if (value.isNull()) return std::nullopt;
    return value.toDouble();
}

QVariant nullIfEmpty(const QString& text) {
    return text.isEmpty() ? QVariant() : QVariant(text);
}

namespace {

QString applyPragmas(const QSqlDatabase& db, ConnectionKind kind) {
    QStringList pragmas;
    if (kind == ConnectionKind::Reader) {
        pragmas << QStringLiteral("PRAGMA query_only = ON");
    } else {
        // WAL + NORMAL: a commit survives a killed process (it is in the OS cache); a power cut may lose
        // the last commits but never corrupts the file.
        pragmas << QStringLiteral("PRAGMA synchronous = NORMAL");
        pragmas << (kind == ConnectionKind::Writer ? QStringLiteral("PRAGMA foreign_keys = ON")
                                                   : QStringLiteral("PRAGMA foreign_keys = OFF"));
    }
    for (const QString& pragma : pragmas) {
        const QString error = execute(db, pragma);
        if (!error.isEmpty()) return error;
    }
    return QString();
}

}  // namespace

QString openConnection(const QString& name, const QString& path, ConnectionKind kind, int busyTimeoutMs) {
    if (!QSqlDatabase::isDriverAvailable(QStringLiteral("QSQLITE"))) {
        return QStringLiteral("%1: the Qt SQLite driver (QSQLITE, package libqt6sql6-sqlite) is not installed")
            .arg(path);
    }
    QString error;
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), name);
        db.setDatabaseName(path);
        QString options = QStringLiteral("QSQLITE_BUSY_TIMEOUT=%1").arg(busyTimeoutMs);
        if (kind == ConnectionKind::Reader) options += QStringLiteral(";QSQLITE_OPEN_READONLY");
        db.setConnectOptions(options);
        if (!db.open()) {
            error = QStringLiteral("%1: cannot open: %2").arg(path, errorText(db.lastError()));
        } else {
            error = applyPragmas(db, kind);
        }
        if (!error.isEmpty()) db.close();
    }
    if (!error.isEmpty()) QSqlDatabase::removeDatabase(name);
    return error;
}

void closeConnection(const QString& name) {
    {
        QSqlDatabase db = QSqlDatabase::database(name, false);
        if (db.isValid()) db.close();
    }
    QSqlDatabase::removeDatabase(name);
}

}  // namespace moe::app::sql
