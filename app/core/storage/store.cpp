// Store: lifecycle (open, migrate, writer, readers), enum names, models and sampler presets.
// Conversations/messages: store_chat.cpp. Requests, samples, benchmarks: store_metrics.cpp.
#include "storage/store.h"

#include "storage/reader_connections.h"
#include "storage/schema.h"
#include "storage/sql_util.h"
#include "storage/store_write_util.h"
#include "storage/store_writer.h"

#include <QDateTime>
#include <QDir>
#include <QFileInfo>

namespace moe::app {

namespace {

quint64 nextStoreKey() {
    static std::atomic<quint64> counter{0};
    return counter.fetch_add(1) + 1;
}

QString migrateFile(const QString& path, int busyTimeoutMs, quint64 key) {
    const QString name = QStringLiteral("moe_store_%1_migrate").arg(key);
    QString error = sql::openConnection(name, path, sql::ConnectionKind::Maintenance, busyTimeoutMs);
    if (!error.isEmpty()) return error;
    error = schema::migrate(QSqlDatabase::database(name, false));
    sql::closeConnection(name);
    return error;
}

}  // namespace

QString modelFormatName(ModelFormat format) {
    switch (format) {
        case ModelFormat::Gguf:
            return QStringLiteral("gguf");
        case ModelFormat::Safetensors:
            return QStringLiteral("safetensors");
        case ModelFormat::Demo:
            return QStringLiteral("demo");
    }
    return QStringLiteral("gguf");
}

std::optional<ModelFormat> modelFormatFromName(const QString& name) {
    for (ModelFormat f : {ModelFormat::Gguf, ModelFormat::Safetensors, ModelFormat::Demo}) {
        if (modelFormatName(f) == name) return f;
    }
    return std::nullopt;
}

QString messageRoleName(MessageRole role) {
    switch (role) {
        case MessageRole::System:
            return QStringLiteral("system");
        case MessageRole::User:
            return QStringLiteral("user");
        case MessageRole::Assistant:
            return QStringLiteral("assistant");
        case MessageRole::Tool:
            return QStringLiteral("tool");
    }
    return QStringLiteral("user");
}

std::optional<MessageRole> messageRoleFromName(const QString& name) {
    for (MessageRole r : {MessageRole::System, MessageRole::User, MessageRole::Assistant, MessageRole::Tool}) {
        if (messageRoleName(r) == name) return r;
    }
    return std::nullopt;
}

QString requestSourceName(RequestSource source) {
    switch (source) {
        case RequestSource::Chat:
            return QStringLiteral("chat");
        case RequestSource::Api:
            return QStringLiteral("api");
        case RequestSource::Eval:
            return QStringLiteral("eval");
        case RequestSource::Bench:
            return QStringLiteral("bench");
    }
    return QStringLiteral("chat");
}

Store::Store(QObject* parent) : QObject(parent), m_key(nextStoreKey()) {}

Store::~Store() {
    close();
}

int Store::schemaVersion() {
    return schema::currentVersion();
}

QString Store::open(const QString& path) {
    return open(path, Options{});
}

QString Store::open(const QString& path, const Options& options) {
    if (m_open.load()) return QStringLiteral("%1: the store is already open on %2").arg(path, m_path);
    if (path.isEmpty()) return QStringLiteral("no database path given");
    const QFileInfo info(path);
    if (!QDir().mkpath(info.absolutePath())) {
        return QStringLiteral("%1: cannot create the folder %2").arg(path, info.absolutePath());
    }
    const QString error = migrateFile(path, options.busyTimeoutMs, m_key);
    if (!error.isEmpty()) return error;

    StoreWriter::Options writerOptions;
    writerOptions.maxBatchJobs = qMax(1, options.maxBatchJobs);
    writerOptions.maxDelayMs = qMax(0, options.maxDelayMs);
    writerOptions.busyTimeoutMs = options.busyTimeoutMs;
    auto writer = std::make_unique<StoreWriter>(path, m_key, writerOptions);
    connect(writer.get(), &StoreWriter::writeFailed, this, &Store::writeFailed);
    connect(writer.get(), &StoreWriter::batchCommitted, this, &Store::batchCommitted);
    const QString writerError = writer->startWriter();
    if (!writerError.isEmpty()) return writerError;

    m_path = path;
    m_options = options;
    m_writer = std::move(writer);
    readers::registerStore(m_key);
    m_open.store(true);
    return QString();
}

void Store::close() {
    if (!m_open.exchange(false)) return;
    m_writer->stop();
    readers::unregisterStore(m_key);
}

QFuture<WriteResult> Store::flush() {
    if (!m_open.load() || !m_writer) return write(QStringLiteral("flush"), nullptr);
    return m_writer->flush();
}

qint64 Store::committedJobs() const {
    return m_writer ? m_writer->committedJobs() : 0;
}

QFuture<WriteResult> Store::write(const QString& label, WriteFunction job) {
    // m_open first: open() publishes m_writer before setting it (open/close belong to the owner thread).
    if (!m_open.load() || !m_writer) {
        QPromise<WriteResult> promise;
        promise.start();
        promise.addResult(WriteResult{0, QStringLiteral("%1: %2: the store is not open").arg(m_path, label)});
        promise.finish();
        return promise.future();
    }
    return m_writer->enqueue(label, std::move(job));
}

QSqlDatabase Store::reader(QString* error) const {
    if (!m_open.load()) {
        *error = QStringLiteral("%1: the store is not open").arg(m_path);
        return QSqlDatabase();
    }
    return readers::connection(m_key, m_path, m_options.busyTimeoutMs, error);
}

QString Store::readSnapshot(const std::function<QString(const QSqlDatabase&)>& body) const {
    QString error;
    const QSqlDatabase db = reader(&error);
    if (!db.isValid()) return error;
    error = sql::execute(db, QStringLiteral("BEGIN"));
    if (!error.isEmpty()) return error;
    error = body(db);
    // A read transaction has nothing to keep: ending it releases the snapshot either way.
    const QString endError = sql::execute(db, QStringLiteral("COMMIT"));
    return error.isEmpty() ? endError : error;
}

// --- models -----------------------------------------------------------------------------------------------

namespace {

const char* const kModelColumns =
    "id, path, format, name, architecture, params_total, params_active, n_expert, n_expert_used, "
    "n_expert_shared, quantization, context_length, file_bytes, added_at_ms, last_loaded_at_ms, notes, "
    "is_demo, info_json";

ModelRecord modelFromRow(const sql::Statement& q) {
    ModelRecord m;
    m.id = q.value(0).toLongLong();
    m.path = q.value(1).toString();
    m.format = modelFormatFromName(q.value(2).toString()).value_or(ModelFormat::Gguf);
    m.name = q.value(3).toString();
    m.architecture = q.value(4).toString();
    m.paramsTotal = sql::optionalInt(q.value(5));
    m.paramsActive = sql::optionalInt(q.value(6));
    if (auto v = sql::optionalInt(q.value(7))) m.nExpert = static_cast<int>(*v);
    if (auto v = sql::optionalInt(q.value(8))) m.nExpertUsed = static_cast<int>(*v);
    if (auto v = sql::optionalInt(q.value(9))) m.nExpertShared = static_cast<int>(*v);
    m.quantization = q.value(10).toString();
    m.contextLength = sql::optionalInt(q.value(11));
    m.fileBytes = sql::optionalInt(q.value(12));
    m.addedAtMs = q.value(13).toLongLong();
    m.lastLoadedAtMs = sql::optionalInt(q.value(14));
    m.notes = q.value(15).toString();
    m.isDemo = q.value(16).toInt() != 0;
    m.infoJson = q.value(17).toString();
    return m;
}

// The columns addModel and updateModel both write, in kModelColumns order from `format`.
void bindModelFields(sql::Statement& q, const ModelRecord& m) {
    q.bindAll({modelFormatName(m.format), m.name, m.architecture, sql::fromOptional(m.paramsTotal),
               sql::fromOptional(m.paramsActive), sql::fromOptional(m.nExpert), sql::fromOptional(m.nExpertUsed),
               sql::fromOptional(m.nExpertShared), m.quantization, sql::fromOptional(m.contextLength),
               sql::fromOptional(m.fileBytes), sql::fromOptional(m.lastLoadedAtMs), m.notes, m.isDemo ? 1 : 0,
               m.infoJson});
}

}  // namespace

QFuture<WriteResult> Store::addModel(const ModelRecord& model) {
    const qint64 addedAtMs = model.addedAtMs > 0 ? model.addedAtMs : QDateTime::currentMSecsSinceEpoch();
    return write(QStringLiteral("addModel"), [model, addedAtMs](const QSqlDatabase& db) {
        // Re-adding a path refreshes what the file says and keeps what the user wrote (notes).
        sql::Statement q(
            db,
            QStringLiteral(
                "INSERT INTO models (path, format, name, architecture, params_total, params_active, n_expert, "
                "n_expert_used, n_expert_shared, quantization, context_length, file_bytes, last_loaded_at_ms, notes, "
                "is_demo, info_json, added_at_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(path) DO UPDATE SET format = excluded.format, name = excluded.name, "
                "architecture = excluded.architecture, params_total = excluded.params_total, "
                "params_active = excluded.params_active, n_expert = excluded.n_expert, "
                "n_expert_used = excluded.n_expert_used, n_expert_shared = excluded.n_expert_shared, "
                "quantization = excluded.quantization, context_length = excluded.context_length, "
                "file_bytes = excluded.file_bytes, is_demo = excluded.is_demo, info_json = excluded.info_json "
                "RETURNING id"));
        q.bind(model.path);
        bindModelFields(q, model);
        q.bind(addedAtMs);
        if (!q.exec() || !q.next()) return WriteResult{0, q.error()};
        return WriteResult{q.value(0).toLongLong(), QString()};
    });
}

QFuture<WriteResult> Store::updateModel(const ModelRecord& model) {
    return write(QStringLiteral("updateModel"), [model](const QSqlDatabase& db) {
        sql::Statement q(
            db,
            QStringLiteral(
                "UPDATE models SET format = ?, name = ?, architecture = ?, params_total = ?, params_active = ?, "
                "n_expert = ?, n_expert_used = ?, n_expert_shared = ?, quantization = ?, context_length = ?, "
                "file_bytes = ?, last_loaded_at_ms = ?, notes = ?, is_demo = ?, info_json = ?, path = ? WHERE id = ?"));
        bindModelFields(q, model);
        q.bindAll({model.path, model.id});
        if (!q.exec()) return WriteResult{0, q.error()};
        return rowsOrMissing(db, q, QStringLiteral("model"), model.id);
    });
}

QFuture<WriteResult> Store::markModelLoaded(qint64 modelId, qint64 atMs) {
    return write(QStringLiteral("markModelLoaded"), [modelId, atMs](const QSqlDatabase& db) {
        sql::Statement q(db, QStringLiteral("UPDATE models SET last_loaded_at_ms = ? WHERE id = ?"));
        q.bindAll({atMs, modelId});
        if (!q.exec()) return WriteResult{0, q.error()};
        return rowsOrMissing(db, q, QStringLiteral("model"), modelId);
    });
}

QFuture<WriteResult> Store::removeModel(qint64 modelId) {
    return write(QStringLiteral("removeModel"), [modelId](const QSqlDatabase& db) {
        sql::Statement q(db, QStringLiteral("DELETE FROM models WHERE id = ?"));
        q.bind(modelId);
        if (!q.exec()) return WriteResult{0, q.error()};
        return rowsOrMissing(db, q, QStringLiteral("model"), modelId);
    });
}

DbResult<QList<ModelRecord>> Store::listModels() const {
    QList<ModelRecord> models;
    const QString error = readSnapshot([&models](const QSqlDatabase& db) {
        sql::Statement q(db, QStringLiteral("SELECT %1 FROM models ORDER BY last_loaded_at_ms IS NULL, "
                                            "last_loaded_at_ms DESC, added_at_ms DESC, id DESC")
                                 .arg(QLatin1String(kModelColumns)));
        if (!q.exec()) return q.error();
        while (q.next()) models.append(modelFromRow(q));
        return QString();
    });
    if (!error.isEmpty()) return DbResult<QList<ModelRecord>>::failure(error);
    return DbResult<QList<ModelRecord>>::success(std::move(models));
}

DbResult<ModelRecord> Store::model(qint64 modelId) const {
    ModelRecord model;
    const QString error = readSnapshot([&](const QSqlDatabase& db) {
        sql::Statement q(db, QStringLiteral("SELECT %1 FROM models WHERE id = ?").arg(QLatin1String(kModelColumns)));
        q.bind(modelId);
        if (!q.exec()) return q.error();
        if (!q.next()) return QStringLiteral("%1: model %2 does not exist").arg(m_path).arg(modelId);
        model = modelFromRow(q);
        return QString();
    });
    if (!error.isEmpty()) return DbResult<ModelRecord>::failure(error);
    return DbResult<ModelRecord>::success(std::move(model));
}

// --- sampler presets --------------------------------------------------------------------------------------

QFuture<WriteResult> Store::savePreset(const SamplerPreset& preset) {
    const qint64 nowMs = QDateTime::currentMSecsSinceEpoch();
    return write(QStringLiteral("savePreset"), [preset, nowMs](const QSqlDatabase& db) {
        sql::Statement q(
            db,
            QStringLiteral(
                "INSERT INTO sampler_presets (name, settings_json, created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET settings_json = excluded.settings_json, "
                "updated_at_ms = excluded.updated_at_ms RETURNING id"));
        q.bindAll({preset.name, preset.settingsJson, nowMs, nowMs});
        if (!q.exec() || !q.next()) return WriteResult{0, q.error()};
        return WriteResult{q.value(0).toLongLong(), QString()};
    });
}

QFuture<WriteResult> Store::removePreset(qint64 presetId) {
    return write(QStringLiteral("removePreset"), [presetId](const QSqlDatabase& db) {
        sql::Statement q(db, QStringLiteral("DELETE FROM sampler_presets WHERE id = ?"));
        q.bind(presetId);
        if (!q.exec()) return WriteResult{0, q.error()};
        return rowsOrMissing(db, q, QStringLiteral("preset"), presetId);
    });
}

DbResult<QList<SamplerPreset>> Store::listPresets() const {
    QList<SamplerPreset> presets;
    const QString error = readSnapshot([&presets](const QSqlDatabase& db) {
        sql::Statement q(db, QStringLiteral("SELECT id, name, settings_json, created_at_ms, updated_at_ms "
                                            "FROM sampler_presets ORDER BY name COLLATE NOCASE"));
        if (!q.exec()) return q.error();
        while (q.next()) {
            presets.append(SamplerPreset{q.value(0).toLongLong(), q.value(1).toString(), q.value(2).toString(),
                                         q.value(3).toLongLong(), q.value(4).toLongLong()});
        }
        return QString();
    });
    if (!error.isEmpty()) return DbResult<QList<SamplerPreset>>::failure(error);
    return DbResult<QList<SamplerPreset>>::success(std::move(presets));
}

}  // namespace moe::app
