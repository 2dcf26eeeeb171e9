#include "storage/reader_connections.h"

#include "storage/sql_util.h"

#include <QHash>
#include <QMutex>
#include <QMutexLocker>
#include <QSet>
#include <QThread>
#include <QThreadStorage>

#include <atomic>

namespace moe::app::readers {

namespace {

QMutex g_liveMutex;
QSet<quint64> g_liveStores;  // guarded by g_liveMutex

bool isLive(quint64 storeKey) {
    QMutexLocker lock(&g_liveMutex);
    return g_liveStores.contains(storeKey);
}

// The calling thread's reader connections; deleted (closing them) when the thread ends.
struct ThreadReaders {
    QHash<quint64, QString> names;  // store key -> connection name
    ~ThreadReaders() {
        for (const QString& name : std::as_const(names)) sql::closeConnection(name);
    }
    void dropClosedStores() {
        for (auto it = names.begin(); it != names.end();) {
            if (isLive(it.key())) {
                ++it;
            } else {
                sql::closeConnection(it.value());
                it = names.erase(it);
            }
        }
    }
};

QThreadStorage<ThreadReaders*>& threadReaders() {
    static QThreadStorage<ThreadReaders*> storage;
    return storage;
}

ThreadReaders& current() {
    if (!threadReaders().hasLocalData()) threadReaders().setLocalData(new ThreadReaders);
    return *threadReaders().localData();
}

QString newConnectionName(quint64 storeKey) {
    static std::atomic<quint64> counter{0};
    return QStringLiteral("moe_store_%1_reader_%2").arg(storeKey).arg(counter.fetch_add(1));
}

}  // namespace

void registerStore(quint64 storeKey) {
    QMutexLocker lock(&g_liveMutex);
    g_liveStores.insert(storeKey);
}

void unregisterStore(quint64 storeKey) {
    {
        QMutexLocker lock(&g_liveMutex);
        g_liveStores.remove(storeKey);
    }
    if (threadReaders().hasLocalData()) current().dropClosedStores();
}

QSqlDatabase connection(quint64 storeKey, const QString& path, int busyTimeoutMs, QString* error) {
    if (!isLive(storeKey)) {
        if (error) *error = QStringLiteral("%1: the store is closed").arg(path);
        return QSqlDatabase();
    }
    ThreadReaders& readers = current();
    readers.dropClosedStores();
    auto it = readers.names.constFind(storeKey);
    if (it != readers.names.constEnd()) return QSqlDatabase::database(it.value(), false);
    const QString name = newConnectionName(storeKey);
    const QString failure = sql::openConnection(name, path, sql::ConnectionKind::Reader, busyTimeoutMs);
    if (!failure.isEmpty()) {
        if (error) *error = failure;
        return QSqlDatabase();
    }
    readers.names.insert(storeKey, name);
    return QSqlDatabase::database(name, false);
}

}  // namespace moe::app::readers
