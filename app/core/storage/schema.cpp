#include "storage/schema.h"

#include "storage/sql_util.h"

namespace moe::app::schema {

namespace {

// Version 1: models, presets, conversations with branching messages.
// Times are ms since the epoch (UTC). Booleans are 0/1 with a CHECK.
QStringList version1() {
    return {
        QStringLiteral(R"(CREATE TABLE models (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            format TEXT NOT NULL CHECK (format IN ('gguf', 'safetensors', 'demo')),
            name TEXT NOT NULL,
            architecture TEXT NOT NULL DEFAULT '',
            params_total INTEGER,
            params_active INTEGER,
            n_expert INTEGER,
            n_expert_used INTEGER,
            n_expert_shared INTEGER,
            quantization TEXT NOT NULL DEFAULT '',
            context_length INTEGER,
            file_bytes INTEGER,
            added_at_ms INTEGER NOT NULL,
            last_loaded_at_ms INTEGER,
            notes TEXT NOT NULL DEFAULT '',
            is_demo INTEGER NOT NULL DEFAULT 0 CHECK (is_demo IN (0, 1)),
            info_json TEXT NOT NULL DEFAULT '{}'))"),
        QStringLiteral("CREATE INDEX models_last_loaded ON models(last_loaded_at_ms)"),
        QStringLiteral(R"(CREATE TABLE sampler_presets (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            settings_json TEXT NOT NULL DEFAULT '{}',
            created_at_ms INTEGER NOT NULL,
            updated_at_ms INTEGER NOT NULL))"),
        // active_leaf_id: the last message of the branch on screen (NULL: the newest message).
        QStringLiteral(R"(CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL DEFAULT '',
            created_at_ms INTEGER NOT NULL,
            updated_at_ms INTEGER NOT NULL,
            model_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
            system_prompt TEXT NOT NULL DEFAULT '',
            sampler_json TEXT NOT NULL DEFAULT '{}',
            active_leaf_id INTEGER REFERENCES messages(id) ON DELETE SET NULL))"),
        QStringLiteral("CREATE INDEX conversations_updated ON conversations(updated_at_ms)"),
        QStringLiteral("CREATE INDEX conversations_model ON conversations(model_id)"),
        QStringLiteral("CREATE INDEX conversations_active_leaf ON conversations(active_leaf_id)"),
        // A tree per conversation: siblings (same parent) are alternative branches. Deleting a message
        // deletes its subtree. Stats are NULL until a streamed reply is finalised.
        QStringLiteral(R"(CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            parent_id INTEGER REFERENCES messages(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
            content TEXT NOT NULL DEFAULT '',
            created_at_ms INTEGER NOT NULL,
            prompt_tokens INTEGER,
            reply_tokens INTEGER,
            ttft_ms REAL,
            tokens_per_s REAL,
            finish_reason TEXT,
            routing_json BLOB))"),
        QStringLiteral("CREATE INDEX messages_conversation ON messages(conversation_id, id)"),
        QStringLiteral("CREATE INDEX messages_parent ON messages(parent_id, id)"),
    };
}

// Version 2: the metrics history (issue 4 part 6): per-generation requests, the 1 Hz samples, benchmarks.
QStringList version2() {
    return {
        // token_latencies_f32: little-endian float32 milliseconds, one per generated token.
        QStringLiteral(R"(CREATE TABLE requests (
            id INTEGER PRIMARY KEY,
            model_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
            message_id INTEGER REFERENCES messages(id) ON DELETE SET NULL,
            source TEXT NOT NULL CHECK (source IN ('chat', 'api', 'eval', 'bench')),
            started_at_ms INTEGER NOT NULL,
            prompt_tokens INTEGER NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
            reply_tokens INTEGER NOT NULL DEFAULT 0 CHECK (reply_tokens >= 0),
            ttft_ms REAL,
            tokens_per_s REAL,
            total_ms REAL,
            token_latencies_f32 BLOB))"),
        QStringLiteral("CREATE INDEX requests_started ON requests(started_at_ms)"),
        QStringLiteral("CREATE INDEX requests_model ON requests(model_id, started_at_ms)"),
        QStringLiteral("CREATE INDEX requests_message ON requests(message_id)"),
        QStringLiteral(R"(CREATE TABLE samples (
            id INTEGER PRIMARY KEY,
            ts_ms INTEGER NOT NULL,
            cpu_percent REAL,
            ram_used_bytes INTEGER,
            rss_bytes INTEGER,
            gpu_util_percent REAL,
            gpu_mem_used_bytes INTEGER,
            gpu_power_w REAL,
            gpu_temp_c REAL))"),
        QStringLiteral("CREATE INDEX samples_ts ON samples(ts_ms)"),
        QStringLiteral(R"(CREATE TABLE bench_results (
            id INTEGER PRIMARY KEY,
            commit_id TEXT NOT NULL,
            machine TEXT NOT NULL,
            device TEXT NOT NULL,
            model TEXT NOT NULL,
            benchmark TEXT NOT NULL,
            figures_json TEXT NOT NULL DEFAULT '{}',
            created_at_ms INTEGER NOT NULL))"),
        QStringLiteral("CREATE INDEX bench_results_lookup ON bench_results(benchmark, model, device, created_at_ms)"),
        QStringLiteral("CREATE INDEX bench_results_commit ON bench_results(commit_id)"),
    };
}

// Version 3: the per-token routing of each reply (services/routing_codec.h), apart from the messages so that
// reading a conversation does not read it.
QStringList version3() {
    return {
        QStringLiteral(R"(CREATE TABLE message_routing (
            message_id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
            n_rows INTEGER NOT NULL CHECK (n_rows >= 0),
            data BLOB NOT NULL))"),
    };
}

QString runStep(const QSqlDatabase& db, const Migration& step) {
    QString error = sql::execute(db, QStringLiteral("BEGIN IMMEDIATE"));
    if (!error.isEmpty()) return error;
    // Another process may have migrated between our version check and BEGIN IMMEDIATE.
    const int atVersion = versionOf(db, &error);
    if (atVersion >= step.version) return sql::execute(db, QStringLiteral("COMMIT"));
    for (int i = 0; error.isEmpty() && i < step.statements.size(); ++i) {
        error = sql::execute(db, step.statements[i]);
    }
    if (error.isEmpty()) {
        QString checkError;
        const QVariant violation =
            sql::scalar(db, QStringLiteral("SELECT count(*) FROM pragma_foreign_key_check"), &checkError);
        if (!checkError.isEmpty()) {
            error = checkError;
        } else if (violation.toLongLong() != 0) {
            error = QStringLiteral("%1: %2 foreign key violation(s) after the step")
                        .arg(db.databaseName())
                        .arg(violation.toLongLong());
        }
    }
    if (error.isEmpty()) error = sql::execute(db, QStringLiteral("PRAGMA user_version = %1").arg(step.version));
    if (error.isEmpty()) error = sql::execute(db, QStringLiteral("COMMIT"));
    if (!error.isEmpty()) {
        sql::execute(db, QStringLiteral("ROLLBACK"));
        return QStringLiteral("migration to schema version %1 (%2) failed, the database stays at version %3: %4")
            .arg(step.version)
            .arg(step.description)
            .arg(step.version - 1)
            .arg(error);
    }
    return QString();
}

}  // namespace

const std::vector<Migration>& migrations() {
    static const std::vector<Migration> steps = {
        {1, QStringLiteral("models, presets, conversations, messages"), version1()},
        {2, QStringLiteral("metrics: requests, samples, bench results"), version2()},
        {3, QStringLiteral("per-token routing of replies"), version3()},
    };
    return steps;
}

int currentVersion() {
    return migrations().back().version;
}

int versionOf(const QSqlDatabase& db, QString* error) {
    QString failure;
    const QVariant version = sql::scalar(db, QStringLiteral("PRAGMA user_version"), &failure);
    if (!failure.isEmpty()) {
        if (error) *error = failure;
        return -1;
    }
    return version.toInt();
}

QString migrate(const QSqlDatabase& db) {
    QString error;
    const int version = versionOf(db, &error);
    if (version < 0) return error;
    if (version > currentVersion()) {
        return QStringLiteral(
                   "%1: the database has schema version %2 but this program knows versions up to %3; it was "
                   "written by a newer MoE Workbench. Use that version, or move the file away to start afresh")
            .arg(db.databaseName())
            .arg(version)
            .arg(currentVersion());
    }
    // journal_mode cannot change inside a transaction; it is persistent, so this runs once per file.
    const QVariant mode = sql::scalar(db, QStringLiteral("PRAGMA journal_mode = WAL"), &error);
    if (!error.isEmpty()) return error;
    if (mode.toString().compare(QStringLiteral("wal"), Qt::CaseInsensitive) != 0) {
        return QStringLiteral("%1: cannot switch to WAL journaling (journal_mode is '%2')")
            .arg(db.databaseName(), mode.toString());
    }
    for (const Migration& step : migrations()) {
        if (step.version <= version) continue;
        error = runStep(db, step);
        if (!error.isEmpty()) return error;
    }
    return QString();
}

}  // namespace moe::app::schema
