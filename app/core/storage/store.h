// The workbench's SQLite store: one database file, WAL, schema migrations, one writer thread with batched
// transactions, per-thread read-only connections.
//
// Writes are queued and return a QFuture<WriteResult> that resolves once the job's batch committed (within
// ~maxDelayMs); callers that do not care drop the future, failures are also reported by writeFailed().
// Write methods are thread-safe (the metrics sampler and chat worker call them from their threads).
// Reads run synchronously on the calling thread's own connection: small ones from the UI thread, big ones
// (history plots, percentiles) through QtConcurrent::run. A read sees every write whose future resolved.
// Errors come back as data (DbResult / WriteResult) naming the database file and the statement.
#pragma once

#include "storage/store_types.h"

#include <QFuture>
#include <QObject>
#include <QSqlDatabase>

#include <atomic>
#include <functional>
#include <memory>

namespace moe::app {

class StoreWriter;

class Store : public QObject {
    Q_OBJECT

public:
    struct Options {
        int maxBatchJobs = 256;  // a batch commits when it holds this many jobs...
        int maxDelayMs = 50;     // ...or when its oldest job waited this long
        int busyTimeoutMs = 5000;
    };

    explicit Store(QObject* parent = nullptr);
    ~Store() override;  // close()

    // Opens (creating it and its folder if needed) and migrates the database. Returns an error message
    // naming the file, empty on success. A database written by a newer program is refused untouched.
    QString open(const QString& path);
    QString open(const QString& path, const Options& options);
    // Commits everything queued, stops the writer, closes this thread's reader. Readers on other threads
    // must have finished. Safe to call twice.
    void close();
    bool isOpen() const { return m_open.load(); }
    QString path() const { return m_path; }
    static int schemaVersion();

    // Resolves once every write queued before it has committed.
    QFuture<WriteResult> flush();

    // --- models ---------------------------------------------------------------------------------------
    // Adds a model, or refreshes the one with the same path (keeping its id, notes and added_at).
    QFuture<WriteResult> addModel(const ModelRecord& model);
    QFuture<WriteResult> updateModel(const ModelRecord& model);  // by id; every field but added_at
    QFuture<WriteResult> markModelLoaded(qint64 modelId, qint64 atMs);
    QFuture<WriteResult> removeModel(qint64 modelId);
    DbResult<QList<ModelRecord>> listModels() const;  // most recently loaded first
    DbResult<ModelRecord> model(qint64 modelId) const;

    // --- sampler presets ------------------------------------------------------------------------------
    QFuture<WriteResult> savePreset(const SamplerPreset& preset);  // insert, or update the same name
    QFuture<WriteResult> removePreset(qint64 presetId);
    DbResult<QList<SamplerPreset>> listPresets() const;  // by name

    // --- conversations and messages ------------------------------------------------------------------
    QFuture<WriteResult> createConversation(const Conversation& conversation);
    QFuture<WriteResult> renameConversation(qint64 conversationId, const QString& title);
    // Model, system prompt and sampler settings of a conversation.
    QFuture<WriteResult> updateConversationSettings(const Conversation& conversation);
    QFuture<WriteResult> deleteConversation(qint64 conversationId);                          // and all its messages
    DbResult<QList<Conversation>> listConversations(int limit = 200, int offset = 0) const;  // newest first
    DbResult<Conversation> conversation(qint64 conversationId) const;
    // Conversations whose title or any message contains `text` (case-insensitive for ASCII), newest first.
    DbResult<QList<Conversation>> searchConversations(const QString& text, int limit = 100) const;

    // Appends a message under message.parentId (null: a first message); a second child of the same parent
    // starts a branch. The new message becomes the conversation's active leaf; updated_at moves.
    QFuture<WriteResult> appendMessage(const Message& message);
    // Finalises a streamed reply: its full content and stats.
    QFuture<WriteResult> updateMessage(qint64 messageId, const QString& content, const ReplyStats& stats);
    QFuture<WriteResult> deleteMessage(qint64 messageId);  // and its subtree (all later branches from it)
    QFuture<WriteResult> setActiveLeaf(qint64 conversationId, qint64 messageId);

    // The messages from the first one down to `leafId`, in order. leafId 0: the active branch.
    DbResult<QList<Message>> messagesOf(qint64 conversationId, qint64 leafId = 0) const;
    DbResult<QList<Message>> activePath(qint64 conversationId) const { return messagesOf(conversationId, 0); }
    // The children of `parentId` (0: the first messages of the conversation), oldest first: the branches.
    DbResult<QList<Message>> childrenOf(qint64 conversationId, qint64 parentId) const;
    // Follows the newest child from `messageId` down to a leaf (what to show after switching branch).
    DbResult<qint64> latestLeafUnder(qint64 messageId) const;

    // The per-token routing of a reply (services/routing_codec.h), `rows` tokens; replaces an earlier one.
    // Deleting the message deletes it.
    QFuture<WriteResult> saveMessageRouting(qint64 messageId, qint64 rows, const QByteArray& blob);
    // The blob saveMessageRouting stored; empty when the message has none (a failed reply, an older file).
    DbResult<QByteArray> messageRouting(qint64 messageId) const;

    // --- metrics --------------------------------------------------------------------------------------
    QFuture<WriteResult> recordRequest(const RequestRecord& request);
    QFuture<WriteResult> appendSamples(const QList<MetricsSample>& samples);  // one job, one statement reused
    QFuture<WriteResult> pruneSamplesBefore(qint64 tsMs);
    QFuture<WriteResult> addBenchResult(const BenchResult& result);

    // Requests started in [t0Ms, t1Ms), oldest first.
    DbResult<QList<RequestRecord>> requestsBetween(qint64 t0Ms, qint64 t1Ms) const;
    // TTFT, per-token latency and tokens/s percentiles over the requests started in [t0Ms, t1Ms).
    DbResult<LatencyStats> latencyPercentiles(qint64 t0Ms, qint64 t1Ms) const;
    // Samples with t0Ms <= ts < t1Ms, oldest first. More than maxPoints: averaged into at most maxPoints
    // equal time buckets (each figure the mean of its non-null values, ts the mean of the bucket's ts).
    DbResult<QList<MetricsSample>> samplesBetween(qint64 t0Ms, qint64 t1Ms, int maxPoints = 2000) const;
    DbResult<qint64> sampleCount() const;
    // Newest first, optionally only one benchmark / model ("" = any).
    DbResult<QList<BenchResult>> benchResults(const QString& benchmark, const QString& model, int limit = 100) const;

    // Number of jobs the writer committed (tests, diagnostics).
    qint64 committedJobs() const;

Q_SIGNALS:
    void writeFailed(const QString& message);
    void batchCommitted(int jobs, qint64 duration_us);

private:
    using WriteFunction = std::function<WriteResult(const QSqlDatabase&)>;
    QFuture<WriteResult> write(const QString& label, WriteFunction job);
    // This thread's reader connection; invalid with `error` set when closed or unopenable.
    QSqlDatabase reader(QString* error) const;
    // Runs `body` on this thread's reader inside a read transaction, so its several statements see one
    // snapshot. Returns body's error (or the connection's), empty on success.
    QString readSnapshot(const std::function<QString(const QSqlDatabase&)>& body) const;

    const quint64 m_key;  // tells this instance's connections apart
    QString m_path;
    Options m_options;
    std::atomic<bool> m_open{false};
    std::unique_ptr<StoreWriter> m_writer;
};

}  // namespace moe::app
