// Read-only connections, one per (thread, store): Qt connections belong to the thread that opened them,
// and SQLite in WAL mode lets each reader see a consistent snapshot while the writer commits. A thread's
// connections close when the thread ends; a closed store's connections close at their thread's next read.
#pragma once

#include <QSqlDatabase>
#include <QString>

namespace moe::app::readers {

// Marks a store instance open (its readers may connect) or closed.
void registerStore(quint64 storeKey);
void unregisterStore(quint64 storeKey);  // also closes the calling thread's connection now

// This thread's connection to `path` for `storeKey`, opened on first use. Invalid and `error` set when the
// store is closed or the file cannot be opened.
QSqlDatabase connection(quint64 storeKey, const QString& path, int busyTimeoutMs, QString* error);

}  // namespace moe::app::readers
