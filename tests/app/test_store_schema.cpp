// Store schema tests: a fresh file, migrating a hand-built version 1 file with data, refusing a newer
// database, a failed migration rolling back, a file that is not a database.
#include "storage/store.h"
#include "store_test_util.h"

#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

using namespace moe::app;
using moe_test_app::RawDb;
using moe_test_app::waitFor;

namespace {

// Schema version 1 exactly as shipped (frozen here on purpose: if someone edits migration 1 instead of
// adding a step, databases in the field stop matching and this test still builds the real old layout).
const char* const kVersion1[] = {
    "CREATE TABLE models (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, format TEXT NOT NULL CHECK (format IN "
    "('gguf', 'safetensors', 'demo')), name TEXT NOT NULL, architecture TEXT NOT NULL DEFAULT '', params_total "
    "INTEGER, params_active INTEGER, n_expert INTEGER, n_expert_used INTEGER, n_expert_shared INTEGER, quantization "
    "TEXT NOT NULL DEFAULT '', context_length INTEGER, file_bytes INTEGER, added_at_ms INTEGER NOT NULL, "
    "last_loaded_at_ms INTEGER, notes TEXT NOT NULL DEFAULT '', is_demo INTEGER NOT NULL DEFAULT 0 CHECK (is_demo IN "
    "(0, 1)), info_json TEXT NOT NULL DEFAULT '{}')",
    "CREATE INDEX models_last_loaded ON models(last_loaded_at_ms)",
    "CREATE TABLE sampler_presets (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, settings_json TEXT NOT NULL "
    "DEFAULT '{}', created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL)",
    "CREATE TABLE conversations (id INTEGER PRIMARY KEY, title TEXT NOT NULL DEFAULT '', created_at_ms INTEGER NOT "
    "NULL, updated_at_ms INTEGER NOT NULL, model_id INTEGER REFERENCES models(id) ON DELETE SET NULL, system_prompt "
    "TEXT NOT NULL DEFAULT '', sampler_json TEXT NOT NULL DEFAULT '{}', active_leaf_id INTEGER REFERENCES "
    "messages(id) ON DELETE SET NULL)",
    "CREATE INDEX conversations_updated ON conversations(updated_at_ms)",
    "CREATE INDEX conversations_model ON conversations(model_id)",
    "CREATE INDEX conversations_active_leaf ON conversations(active_leaf_id)",
    "CREATE TABLE messages (id INTEGER PRIMARY KEY, conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON "
    "DELETE CASCADE, parent_id INTEGER REFERENCES messages(id) ON DELETE CASCADE, role TEXT NOT NULL CHECK (role IN "
    "('system', 'user', 'assistant', 'tool')), content TEXT NOT NULL DEFAULT '', created_at_ms INTEGER NOT NULL, "
    "prompt_tokens INTEGER, reply_tokens INTEGER, ttft_ms REAL, tokens_per_s REAL, finish_reason TEXT, routing_json "
    "BLOB)",
    "CREATE INDEX messages_conversation ON messages(conversation_id, id)",
    "CREATE INDEX messages_parent ON messages(parent_id, id)",
};

// A version 1 database as an older program left it: one model, a conversation with a branch, a preset.
void buildVersion1(const QString& path, const QStringList& extraStatements = {}) {
    RawDb raw(path);
    QVERIFY(raw.isOpen());
    QCOMPARE(raw.exec(QStringLiteral("PRAGMA journal_mode = WAL")), QString());
    for (const char* statement : kVersion1) QCOMPARE(raw.exec(QString::fromLatin1(statement)), QString());
    const QStringList data = {
        "INSERT INTO models (id, path, format, name, architecture, params_total, n_expert, added_at_ms, notes) "
        "VALUES (1, '/models/v2-lite.gguf', 'gguf', 'DeepSeek-V2-Lite', 'deepseek2', 15700000000, 64, 1000, 'mine')",
        "INSERT INTO conversations (id, title, created_at_ms, updated_at_ms, model_id) VALUES (1, 'old chat', 10, 20, "
        "1)",
        "INSERT INTO messages (id, conversation_id, parent_id, role, content, created_at_ms) VALUES "
        "(1, 1, NULL, 'user', 'hello', 11), (2, 1, 1, 'assistant', 'hi there', 12), (3, 1, 1, 'assistant', 'hey', 13)",
        "UPDATE conversations SET active_leaf_id = 2 WHERE id = 1",
        "INSERT INTO sampler_presets (name, settings_json, created_at_ms, updated_at_ms) VALUES "
        "('precise', '{\"temperature\":0.2}', 5, 5)",
        "PRAGMA user_version = 1",
    };
    for (const QString& statement : data + extraStatements) QCOMPARE(raw.exec(statement), QString());
}

}  // namespace

class TestStoreSchema : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void freshDatabaseIsCurrentAndWal();
    void migratesVersion1KeepingData();
    void refusesNewerDatabase();
    void failedMigrationRollsBack();
    void rejectsFileThatIsNotADatabase();
    void createsMissingFolder();
};

void TestStoreSchema::freshDatabaseIsCurrentAndWal() {
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("workbench.sqlite"));
    {
        Store store;
        QCOMPARE(store.open(path), QString());
        QVERIFY(store.isOpen());
        QCOMPARE(store.listModels().value().size(), 0);
        // The writer enforces foreign keys: a message for a missing conversation fails, naming file and statement.
        Message orphan;
        orphan.conversationId = 42;
        orphan.content = QStringLiteral("x");
        const WriteResult r = waitFor(store.appendMessage(orphan));
        QVERIFY(!r.ok());
        QVERIFY2(r.error.contains(path) && r.error.contains(QStringLiteral("INSERT INTO messages")) &&
                     r.error.contains(QStringLiteral("FOREIGN KEY"), Qt::CaseInsensitive),
                 qPrintable(r.error));
    }
    RawDb raw(path);
    QCOMPARE(raw.scalar(QStringLiteral("PRAGMA user_version")).toInt(), Store::schemaVersion());
    QCOMPARE(raw.scalar(QStringLiteral("PRAGMA journal_mode")).toString(), QStringLiteral("wal"));
    QCOMPARE(raw.scalar(QStringLiteral("PRAGMA integrity_check")).toString(), QStringLiteral("ok"));
}

void TestStoreSchema::migratesVersion1KeepingData() {
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("v1.sqlite"));
    buildVersion1(path);
    if (QTest::currentTestFailed()) return;

    Store store;
    QCOMPARE(store.open(path), QString());
    const auto models = store.listModels();
    QVERIFY2(models.ok(), qPrintable(models.error()));
    QCOMPARE(models.value().size(), 1);
    QCOMPARE(models.value()[0].name, QStringLiteral("DeepSeek-V2-Lite"));
    QCOMPARE(models.value()[0].paramsTotal.value_or(0), Q_INT64_C(15700000000));
    QCOMPARE(models.value()[0].notes, QStringLiteral("mine"));
    // The active branch survived: hello -> "hi there", and "hey" is its sibling.
    const auto path1 = store.activePath(1);
    QVERIFY2(path1.ok(), qPrintable(path1.error()));
    QCOMPARE(path1.value().size(), 2);
    QCOMPARE(path1.value()[1].content, QStringLiteral("hi there"));
    QCOMPARE(store.childrenOf(1, 1).value().size(), 2);
    QCOMPARE(store.listPresets().value().size(), 1);
    // Version 2's tables work.
    QVERIFY(waitFor(store.appendSamples({MetricsSample{5, 12.5, 1, 2, {}, {}, {}, {}}})).ok());
    QCOMPARE(store.sampleCount().value(), Q_INT64_C(1));
    store.close();

    RawDb raw(path);
    QCOMPARE(raw.scalar(QStringLiteral("PRAGMA user_version")).toInt(), Store::schemaVersion());
    QCOMPARE(raw.scalar(QStringLiteral("PRAGMA foreign_key_check")), QVariant());
}

void TestStoreSchema::refusesNewerDatabase() {
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("future.sqlite"));
    const int future = Store::schemaVersion() + 7;
    {
        RawDb raw(path);
        QCOMPARE(raw.exec(QStringLiteral("CREATE TABLE from_the_future (x)")), QString());
        QCOMPARE(raw.exec(QStringLiteral("PRAGMA user_version = %1").arg(future)), QString());
    }
    Store store;
    const QString error = store.open(path);
    QVERIFY(!store.isOpen());
    QVERIFY2(error.contains(path) && error.contains(QString::number(future)) && error.contains(QStringLiteral("newer")),
             qPrintable(error));
    QVERIFY(!store.listModels().ok());
    QVERIFY(!waitFor(store.addModel(ModelRecord{})).ok());
    // Untouched: same version, not even switched to WAL.
    RawDb raw(path);
    QCOMPARE(raw.scalar(QStringLiteral("PRAGMA user_version")).toInt(), future);
    QCOMPARE(raw.scalar(QStringLiteral("PRAGMA journal_mode")).toString(), QStringLiteral("delete"));
}

void TestStoreSchema::failedMigrationRollsBack() {
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("conflict.sqlite"));
    // A stray table where version 2 creates its own: the step fails half way and must leave no trace.
    buildVersion1(path, {QStringLiteral("CREATE TABLE samples (x)")});
    if (QTest::currentTestFailed()) return;
    Store store;
    const QString error = store.open(path);
    QVERIFY2(error.contains(path) && error.contains(QStringLiteral("version 2")) &&
                 error.contains(QStringLiteral("CREATE TABLE samples")) &&
                 error.contains(QStringLiteral("stays at version 1")),
             qPrintable(error));
    RawDb raw(path);
    QCOMPARE(raw.scalar(QStringLiteral("PRAGMA user_version")).toInt(), 1);
    QCOMPARE(raw.scalar(QStringLiteral("SELECT count(*) FROM sqlite_master WHERE name = 'requests'")).toInt(), 0);
    QCOMPARE(raw.scalar(QStringLiteral("SELECT name FROM models WHERE id = 1")).toString(),
             QStringLiteral("DeepSeek-V2-Lite"));
}

void TestStoreSchema::rejectsFileThatIsNotADatabase() {
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("garbage.sqlite"));
    const QByteArray junk(8192, 'x');
    {
        QFile file(path);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write(junk);
    }
    Store store;
    const QString error = store.open(path);
    QVERIFY2(error.contains(path) && error.contains(QStringLiteral("not a database")), qPrintable(error));
    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadOnly));
    QCOMPARE(file.readAll(), junk);
}

void TestStoreSchema::createsMissingFolder() {
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("a/b/workbench.sqlite"));
    Store store;
    QCOMPARE(store.open(path), QString());
    QVERIFY(QFile::exists(path));
}

QTEST_GUILESS_MAIN(TestStoreSchema)
#include "test_store_schema.moc"
