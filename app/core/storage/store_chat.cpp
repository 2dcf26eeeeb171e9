// Store: conversations and their message trees (branches are siblings under one parent).
#include "storage/store.h"

#include "storage/sql_util.h"
#include "storage/store_write_util.h"

#include <QDateTime>

namespace moe::app {

namespace {

const char* const kConversationColumns =
    "id, title, created_at_ms, updated_at_ms, model_id, system_prompt, sampler_json, active_leaf_id";

const char* const kMessageColumns =
    "id, conversation_id, parent_id, role, content, created_at_ms, prompt_tokens, reply_tokens, ttft_ms, "
    "tokens_per_s, finish_reason, routing_json";

Conversation conversationFromRow(const sql::Statement& q) {
    Conversation c;
    c.id = q.value(0).toLongLong();
    c.title = q.value(1).toString();
    c.createdAtMs = q.value(2).toLongLong();
    c.updatedAtMs = q.value(3).toLongLong();
    c.modelId = sql::optionalInt(q.value(4));
    c.systemPrompt = q.value(5).toString();
    c.samplerJson = q.value(6).toString();
    c.activeLeafId = sql::optionalInt(q.value(7));
    return c;
}

Message messageFromRow(const sql::Statement& q, int first = 0) {
    Message m;
    m.id = q.value(first + 0).toLongLong();
    m.conversationId = q.value(first + 1).toLongLong();
    m.parentId = sql::optionalInt(q.value(first + 2));
    m.role = messageRoleFromName(q.value(first + 3).toString()).value_or(MessageRole::User);
    m.content = q.value(first + 4).toString();
    m.createdAtMs = q.value(first + 5).toLongLong();
    m.stats.promptTokens = sql::optionalInt(q.value(first + 6));
    m.stats.replyTokens = sql::optionalInt(q.value(first + 7));
    m.stats.ttftMs = sql::optionalDouble(q.value(first + 8));
    m.stats.tokensPerS = sql::optionalDouble(q.value(first + 9));
    m.stats.finishReason = q.value(first + 10).toString();
    m.stats.routingJson = q.value(first + 11).toByteArray();
    return m;
}

QString escapeLike(const QString& text) {
    QString escaped = text;
    escaped.replace(QLatin1Char('\\'), QStringLiteral("\\\\"));
    escaped.replace(QLatin1Char('%'), QStringLiteral("\\%"));
    escaped.replace(QLatin1Char('_'), QStringLiteral("\\_"));
    return QLatin1Char('%') + escaped + QLatin1Char('%');
}

// Deletes the messages chosen by `selectIds` (a SELECT of ids taking one bound value). The ids are collected
// first, then detached from their parents, then deleted: removing a deep chain through ON DELETE CASCADE
// recursion would hit SQLite's trigger depth limit (1000), and a subtree query re-evaluated after the
// detach would no longer find the descendants.
QString deleteMessages(const QSqlDatabase& db, const QString& selectIds, const QVariant& key) {
    const QStringList setup = {
        QStringLiteral("CREATE TEMP TABLE IF NOT EXISTS doomed_messages (id INTEGER PRIMARY KEY)"),
        QStringLiteral("DELETE FROM temp.doomed_messages")};
    for (const QString& statement : setup) {
        const QString error = sql::execute(db, statement);
        if (!error.isEmpty()) return error;
    }
    const QStringList steps = {
        QStringLiteral("INSERT INTO temp.doomed_messages (id) %1").arg(selectIds),
        QStringLiteral("UPDATE messages SET parent_id = NULL WHERE id IN temp.doomed_messages"),
        QStringLiteral("DELETE FROM messages WHERE id IN temp.doomed_messages"),
    };
    for (int i = 0; i < steps.size(); ++i) {
        sql::Statement q(db, steps[i]);
        if (i == 0) q.bind(key);
        if (!q.exec()) return q.error();
    }
    return sql::execute(db, QStringLiteral("DELETE FROM temp.doomed_messages"));
}

const char* const kSubtreeIds =
    "WITH RECURSIVE sub(id) AS (SELECT ? UNION ALL SELECT m.id FROM messages m JOIN sub ON m.parent_id = sub.id) "
    "SELECT id FROM sub";

}  // namespace

QFuture<WriteResult> Store::createConversation(const Conversation& conversation) {
    const qint64 nowMs = QDateTime::currentMSecsSinceEpoch();
    return write(QStringLiteral("createConversation"), [conversation, nowMs](const QSqlDatabase& db) {
        const qint64 createdMs = conversation.createdAtMs > 0 ? conversation.createdAtMs : nowMs;
        const qint64 updatedMs = qMax(createdMs, conversation.updatedAtMs);
        sql::Statement q(db, QStringLiteral("INSERT INTO conversations (title, created_at_ms, updated_at_ms, model_id, "
                                            "system_prompt, sampler_json) VALUES (?, ?, ?, ?, ?, ?)"));
        q.bindAll({conversation.title, createdMs, updatedMs, sql::fromOptional(conversation.modelId),
                   conversation.systemPrompt, conversation.samplerJson});
        if (!q.exec()) return WriteResult{0, q.error()};
        return WriteResult{q.lastInsertId(), QString()};
    });
}

QFuture<WriteResult> Store::renameConversation(qint64 conversationId, const QString& title) {
    return write(QStringLiteral("renameConversation"), [conversationId, title](const QSqlDatabase& db) {
        sql::Statement q(db, QStringLiteral("UPDATE conversations SET title = ? WHERE id = ?"));
        q.bindAll({title, conversationId});
        if (!q.exec()) return WriteResult{0, q.error()};
        return rowsOrMissing(db, q, QStringLiteral("conversation"), conversationId);
    });
}

QFuture<WriteResult> Store::updateConversationSettings(const Conversation& c) {
    return write(QStringLiteral("updateConversationSettings"), [c](const QSqlDatabase& db) {
        sql::Statement q(
            db,
            QStringLiteral("UPDATE conversations SET model_id = ?, system_prompt = ?, sampler_json = ? WHERE id = ?"));
        q.bindAll({sql::fromOptional(c.modelId), c.systemPrompt, c.samplerJson, c.id});
        if (!q.exec()) return WriteResult{0, q.error()};
        return rowsOrMissing(db, q, QStringLiteral("conversation"), c.id);
    });
}

QFuture<WriteResult> Store::deleteConversation(qint64 conversationId) {
    return write(QStringLiteral("deleteConversation"), [conversationId](const QSqlDatabase& db) {
        const QString error =
            deleteMessages(db, QStringLiteral("SELECT id FROM messages WHERE conversation_id = ?"), conversationId);
        if (!error.isEmpty()) return WriteResult{0, error};
        sql::Statement q(db, QStringLiteral("DELETE FROM conversations WHERE id = ?"));
        q.bind(conversationId);
        if (!q.exec()) return WriteResult{0, q.error()};
        return rowsOrMissing(db, q, QStringLiteral("conversation"), conversationId);
    });
}

DbResult<QList<Conversation>> Store::listConversations(int limit, int offset) const {
    QList<Conversation> list;
    const QString error = readSnapshot([&](const QSqlDatabase& db) {
        sql::Statement q(db, QStringLiteral("SELECT %1 FROM conversations ORDER BY updated_at_ms DESC, id DESC "
                                            "LIMIT ? OFFSET ?")
                                 .arg(QLatin1String(kConversationColumns)));
        q.bindAll({qMax(0, limit), qMax(0, offset)});
        if (!q.exec()) return q.error();
        while (q.next()) list.append(conversationFromRow(q));
        return QString();
    });
    if (!error.isEmpty()) return DbResult<QList<Conversation>>::failure(error);
    return DbResult<QList<Conversation>>::success(std::move(list));
}

DbResult<Conversation> Store::conversation(qint64 conversationId) const {
    Conversation found;
    const QString error = readSnapshot([&](const QSqlDatabase& db) {
        sql::Statement q(
            db, QStringLiteral("SELECT %1 FROM conversations WHERE id = ?").arg(QLatin1String(kConversationColumns)));
        q.bind(conversationId);
        if (!q.exec()) return q.error();
        if (!q.next()) return sql::missingRow(db, QStringLiteral("conversation"), conversationId);
        found = conversationFromRow(q);
        return QString();
    });
    if (!error.isEmpty()) return DbResult<Conversation>::failure(error);
    return DbResult<Conversation>::success(std::move(found));
}

DbResult<QList<Conversation>> Store::searchConversations(const QString& text, int limit) const {
    QList<Conversation> list;
    const QString pattern = escapeLike(text);
    const QString error = readSnapshot([&](const QSqlDatabase& db) {
        sql::Statement q(
            db,
            QStringLiteral(
                "SELECT %1 FROM conversations c WHERE c.title LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM messages m "
                "WHERE m.conversation_id = c.id AND m.content LIKE ? ESCAPE '\\') "
                "ORDER BY c.updated_at_ms DESC, c.id DESC LIMIT ?")
                .arg(QLatin1String(kConversationColumns)));
        q.bindAll({pattern, pattern, qMax(0, limit)});
        if (!q.exec()) return q.error();
        while (q.next()) list.append(conversationFromRow(q));
        return QString();
    });
    if (!error.isEmpty()) return DbResult<QList<Conversation>>::failure(error);
    return DbResult<QList<Conversation>>::success(std::move(list));
}

// --- messages ---------------------------------------------------------------------------------------------

namespace {

// A parent must exist and belong to the same conversation (a branch never crosses conversations).
QString checkParent(const QSqlDatabase& db, const Message& m) {
    if (!m.parentId) return QString();
    sql::Statement q(db, QStringLiteral("SELECT conversation_id FROM messages WHERE id = ?"));
    q.bind(*m.parentId);
    if (!q.exec()) return q.error();
    if (!q.next()) return sql::missingRow(db, QStringLiteral("parent message"), *m.parentId);
    if (q.value(0).toLongLong() != m.conversationId) {
        return QStringLiteral("%1: parent message %2 belongs to conversation %3, not %4")
            .arg(db.databaseName())
            .arg(*m.parentId)
            .arg(q.value(0).toLongLong())
            .arg(m.conversationId);
    }
    return QString();
}

}  // namespace

QFuture<WriteResult> Store::appendMessage(const Message& message) {
    const qint64 nowMs = QDateTime::currentMSecsSinceEpoch();
    return write(QStringLiteral("appendMessage"), [message, nowMs](const QSqlDatabase& db) {
        const QString parentError = checkParent(db, message);
        if (!parentError.isEmpty()) return WriteResult{0, parentError};
        const qint64 createdMs = message.createdAtMs > 0 ? message.createdAtMs : nowMs;
        const ReplyStats& s = message.stats;
        sql::Statement q(
            db,
            QStringLiteral(
                "INSERT INTO messages (conversation_id, parent_id, role, content, created_at_ms, prompt_tokens, "
                "reply_tokens, ttft_ms, tokens_per_s, finish_reason, routing_json) VALUES (?,?,?,?,?,?,?,?,?,?,?)"));
        q.bindAll({message.conversationId, sql::fromOptional(message.parentId), messageRoleName(message.role),
                   message.content, createdMs, sql::fromOptional(s.promptTokens), sql::fromOptional(s.replyTokens),
                   sql::fromOptional(s.ttftMs), sql::fromOptional(s.tokensPerS), sql::nullIfEmpty(s.finishReason),
                   s.routingJson.isEmpty() ? QVariant() : QVariant(s.routingJson)});
        if (!q.exec()) return WriteResult{0, q.error()};
        const qint64 id = q.lastInsertId();
        sql::Statement touch(db, QStringLiteral("UPDATE conversations SET active_leaf_id = ?, "
                                                "updated_at_ms = max(updated_at_ms, ?) WHERE id = ?"));
        touch.bindAll({id, createdMs, message.conversationId});
        if (!touch.exec()) return WriteResult{0, touch.error()};
        return WriteResult{id, QString()};
    });
}

QFuture<WriteResult> Store::updateMessage(qint64 messageId, const QString& content, const ReplyStats& stats) {
    const qint64 nowMs = QDateTime::currentMSecsSinceEpoch();
    return write(QStringLiteral("updateMessage"), [messageId, content, stats, nowMs](const QSqlDatabase& db) {
        sql::Statement q(
            db,
            QStringLiteral(
                "UPDATE messages SET content = ?, prompt_tokens = ?, reply_tokens = ?, ttft_ms = ?, tokens_per_s = ?, "
                "finish_reason = ?, routing_json = ? WHERE id = ?"));
        q.bindAll({content, sql::fromOptional(stats.promptTokens), sql::fromOptional(stats.replyTokens),
                   sql::fromOptional(stats.ttftMs), sql::fromOptional(stats.tokensPerS),
                   sql::nullIfEmpty(stats.finishReason),
                   stats.routingJson.isEmpty() ? QVariant() : QVariant(stats.routingJson), messageId});
        if (!q.exec()) return WriteResult{0, q.error()};
        if (q.numRowsAffected() == 0) return WriteResult{0, sql::missingRow(db, QStringLiteral("message"), messageId)};
        sql::Statement touch(db, QStringLiteral("UPDATE conversations SET updated_at_ms = max(updated_at_ms, ?) "
                                                "WHERE id = (SELECT conversation_id FROM messages WHERE id = ?)"));
        touch.bindAll({nowMs, messageId});
        if (!touch.exec()) return WriteResult{0, touch.error()};
        return WriteResult{messageId, QString()};
    });
}

QFuture<WriteResult> Store::saveMessageRouting(qint64 messageId, qint64 rows, const QByteArray& blob) {
    return write(QStringLiteral("saveMessageRouting"), [messageId, rows, blob](const QSqlDatabase& db) {
        sql::Statement q(db, QStringLiteral("INSERT OR REPLACE INTO message_routing (message_id, n_rows, data) "
                                            "VALUES (?, ?, ?)"));
        q.bindAll({messageId, rows, blob});
        if (!q.exec()) return WriteResult{0, q.error()};
        return WriteResult{messageId, QString()};
    });
}

DbResult<QByteArray> Store::messageRouting(qint64 messageId) const {
    QByteArray blob;
    const QString error = readSnapshot([&](const QSqlDatabase& db) {
        sql::Statement q(db, QStringLiteral("SELECT data FROM message_routing WHERE message_id = ?"));
        q.bind(messageId);
        if (!q.exec()) return q.error();
        if (q.next()) blob = q.value(0).toByteArray();
        return QString();
    });
    if (!error.isEmpty()) return DbResult<QByteArray>::failure(error);
    return DbResult<QByteArray>::success(std::move(blob));
}

QFuture<WriteResult> Store::deleteMessage(qint64 messageId) {
    return write(QStringLiteral("deleteMessage"), [messageId](const QSqlDatabase& db) {
        sql::Statement exists(db, QStringLiteral("SELECT 1 FROM messages WHERE id = ?"));
        exists.bind(messageId);
        if (!exists.exec()) return WriteResult{0, exists.error()};
        if (!exists.next()) return WriteResult{0, sql::missingRow(db, QStringLiteral("message"), messageId)};
        exists.finish();
        const QString error = deleteMessages(db, QLatin1String(kSubtreeIds), messageId);
        if (!error.isEmpty()) return WriteResult{0, error};
        return WriteResult{messageId, QString()};
    });
}

QFuture<WriteResult> Store::setActiveLeaf(qint64 conversationId, qint64 messageId) {
    return write(QStringLiteral("setActiveLeaf"), [conversationId, messageId](const QSqlDatabase& db) {
        sql::Statement q(db, QStringLiteral("UPDATE conversations SET active_leaf_id = ? WHERE id = ? AND EXISTS "
                                            "(SELECT 1 FROM messages WHERE id = ? AND conversation_id = ?)"));
        q.bindAll({messageId, conversationId, messageId, conversationId});
        if (!q.exec()) return WriteResult{0, q.error()};
        if (q.numRowsAffected() == 0) {
            return WriteResult{0, QStringLiteral("%1: message %2 is not in conversation %3")
                                      .arg(db.databaseName())
                                      .arg(messageId)
                                      .arg(conversationId)};
        }
        return WriteResult{messageId, QString()};
    });
}

namespace {

// The leaf to show: the given one, else the conversation's active leaf, else its newest message (0: none).
QString resolveLeaf(const QSqlDatabase& db, qint64 conversationId, qint64 leafId, qint64* leaf) {
    sql::Statement q(
        db, QStringLiteral(
                "SELECT COALESCE(NULLIF(?, 0), c.active_leaf_id, (SELECT MAX(id) FROM messages WHERE conversation_id = "
                "c.id), 0), "
                "(SELECT conversation_id FROM messages WHERE id = NULLIF(?, 0)) FROM conversations c WHERE c.id = ?"));
    q.bindAll({leafId, leafId, conversationId});
    if (!q.exec()) return q.error();
    if (!q.next()) return sql::missingRow(db, QStringLiteral("conversation"), conversationId);
    if (leafId != 0 && q.value(1).toLongLong() != conversationId) {
        return QStringLiteral("%1: message %2 is not in conversation %3")
            .arg(db.databaseName())
            .arg(leafId)
            .arg(conversationId);
    }
    *leaf = q.value(0).toLongLong();
    return QString();
}

}  // namespace

DbResult<QList<Message>> Store::messagesOf(qint64 conversationId, qint64 leafId) const {
    QList<Message> path;
    const QString error = readSnapshot([&](const QSqlDatabase& db) {
        qint64 leaf = 0;
        const QString leafError = resolveLeaf(db, conversationId, leafId, &leaf);
        if (!leafError.isEmpty() || leaf == 0) return leafError;
        sql::Statement q(db, QStringLiteral("WITH RECURSIVE up(id, depth) AS (SELECT ?, 0 UNION ALL SELECT "
                                            "m.parent_id, up.depth + 1 FROM messages m "
                                            "JOIN up ON m.id = up.id WHERE m.parent_id IS NOT NULL) "
                                            "SELECT %1 FROM messages JOIN up USING (id) ORDER BY up.depth DESC")
                                 .arg(QLatin1String(kMessageColumns)));
        q.bind(leaf);
        if (!q.exec()) return q.error();
        while (q.next()) path.append(messageFromRow(q));
        return QString();
    });
    if (!error.isEmpty()) return DbResult<QList<Message>>::failure(error);
    return DbResult<QList<Message>>::success(std::move(path));
}

DbResult<QList<Message>> Store::childrenOf(qint64 conversationId, qint64 parentId) const {
    QList<Message> children;
    const QString error = readSnapshot([&](const QSqlDatabase& db) {
        const QString where = parentId == 0 ? QStringLiteral("parent_id IS NULL AND conversation_id = ?")
                                            : QStringLiteral("parent_id = ? AND conversation_id = ?");
        sql::Statement q(
            db,
            QStringLiteral("SELECT %1 FROM messages WHERE %2 ORDER BY id").arg(QLatin1String(kMessageColumns), where));
        if (parentId == 0) {
            q.bind(conversationId);
        } else {
            q.bindAll({parentId, conversationId});
        }
        if (!q.exec()) return q.error();
        while (q.next()) children.append(messageFromRow(q));
        return QString();
    });
    if (!error.isEmpty()) return DbResult<QList<Message>>::failure(error);
    return DbResult<QList<Message>>::success(std::move(children));
}

DbResult<qint64> Store::latestLeafUnder(qint64 messageId) const {
    qint64 leaf = 0;
    const QString error = readSnapshot([&](const QSqlDatabase& db) {
        sql::Statement q(
            db, QStringLiteral(
                    "WITH RECURSIVE down(id, depth) AS (SELECT id, 0 FROM messages WHERE id = ? UNION ALL "
                    "SELECT (SELECT MAX(c.id) FROM messages c WHERE c.parent_id = down.id), down.depth + 1 FROM down "
                    "WHERE EXISTS (SELECT 1 FROM messages c WHERE c.parent_id = down.id)) "
                    "SELECT id FROM down ORDER BY depth DESC LIMIT 1"));
        q.bind(messageId);
        if (!q.exec()) return q.error();
        if (!q.next()) return sql::missingRow(db, QStringLiteral("message"), messageId);
        leaf = q.value(0).toLongLong();
        return QString();
    });
    if (!error.isEmpty()) return DbResult<qint64>::failure(error);
    return DbResult<qint64>::success(leaf);
}

}  // namespace moe::app
