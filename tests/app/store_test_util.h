// Helpers shared by the Store tests: raw connections (independent of the Store) and waiting on futures.
#pragma once

#include "storage/store_types.h"

#include <QFuture>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QString>
#include <QVariant>

#include <functional>

namespace moe_test_app {

// A connection of the test's own, to build or inspect a file behind the Store's back.
class RawDb {
public:
    explicit RawDb(const QString& path) : m_name(QStringLiteral("raw_%1").arg(++counter())) {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), m_name);
        db.setDatabaseName(path);
        m_open = db.open();
    }
    ~RawDb() {
        {
            QSqlDatabase db = QSqlDatabase::database(m_name, false);
            db.close();
        }
        QSqlDatabase::removeDatabase(m_name);
    }
    bool isOpen() const { return m_open; }
    // Runs a statement; returns the error text, empty on success.
    QString exec(const QString& sqlText) {
        QSqlQuery q(QSqlDatabase::database(m_name, false));
        return q.exec(sqlText) ? QString() : q.lastError().text() + QStringLiteral(" in ") + sqlText;
    }
    QVariant scalar(const QString& sqlText) {
        QSqlQuery q(QSqlDatabase::database(m_name, false));
        if (!q.exec(sqlText) || !q.next()) return QVariant();
        return q.value(0);
    }

private:
    static int& counter() {
        static int n = 0;
        return n;
    }
    QString m_name;
    bool m_open = false;
};

inline moe::app::WriteResult waitFor(QFuture<moe::app::WriteResult> future) {
    future.waitForFinished();
    return future.result();
}

}  // namespace moe_test_app
