// Helpers shared by the Store's write jobs (internal to storage/).
#pragma once

#include "storage/sql_util.h"
#include "storage/store_types.h"

namespace moe::app {

// A write job's result for an UPDATE/DELETE by id: an error when no row had that id.
inline WriteResult rowsOrMissing(const QSqlDatabase& db, const sql::Statement& q, const QString& what, qint64 id) {
    if (q.numRowsAffected() == 0) return WriteResult{0, sql::missingRow(db, what, id)};
    return WriteResult{id, QString()};
}

}  // namespace moe::app
