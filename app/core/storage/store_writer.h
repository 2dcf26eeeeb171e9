// The Store's single writer: its own QThread and connection, a FIFO of write jobs, committed in batched
// transactions. A batch is flushed when it holds maxBatchJobs jobs, when its oldest job has waited
// maxDelayMs, when a flush() is queued, and on stop(). Each job runs inside a SAVEPOINT, so a failing job
// (a constraint, a missing row) rolls back alone and the rest of its batch still commits.
#pragma once

#include "storage/store_types.h"

#include <QElapsedTimer>
#include <QFuture>
#include <QMutex>
#include <QPromise>
#include <QSqlDatabase>
#include <QThread>
#include <QWaitCondition>

#include <deque>
#include <functional>
#include <memory>
#include <vector>

namespace moe::app {

class StoreWriter : public QThread {
    Q_OBJECT

public:
    struct Options {
        int maxBatchJobs = 256;
        int maxDelayMs = 50;
        int busyTimeoutMs = 5000;
    };
    // Runs on the writer thread inside a savepoint; returns the new row id or an error message.
    using JobFunction = std::function<WriteResult(const QSqlDatabase&)>;

    StoreWriter(QString path, quint64 storeKey, Options options, QObject* parent = nullptr);
    ~StoreWriter() override;  // stop()s: pending jobs are committed first

    // Starts the thread and waits until its connection is open. Returns an error message, empty on success.
    QString startWriter();
    // Thread-safe. The future resolves once the job's batch committed (or failed). After stop() the job
    // is refused at once with an error.
    QFuture<WriteResult> enqueue(QString label, JobFunction job);
    // Resolves once every job queued before it has committed; asks for the batch to be flushed now.
    QFuture<WriteResult> flush();
    // Commits what is queued, closes the connection and ends the thread. Idempotent.
    void stop();

    qint64 committedJobs() const;  // jobs committed so far (successes and rolled-back failures)
    qint64 committedBatches() const;

Q_SIGNALS:
    void writeFailed(const QString& message);           // one per failed job, from the writer thread
    void batchCommitted(int jobs, qint64 duration_us);  // after each successful COMMIT

protected:
    void run() override;

private:
    struct Job {
        QString label;
        JobFunction function;
        std::shared_ptr<QPromise<WriteResult>> promise;
        qint64 enqueuedAtMs = 0;
        bool urgent = false;  // flush(): do not wait for the batch to fill
    };

    QFuture<WriteResult> push(Job job);
    std::deque<Job> takeBatch();  // blocks; empty when stopping with nothing left
    void runBatch(std::deque<Job>& batch);
    QString runJobs(const QSqlDatabase& db, std::deque<Job>& batch, std::vector<WriteResult>& results);
    bool openConnection();
    void failAll(std::deque<Job>& jobs, const QString& message);

    const QString m_path;
    const QString m_connectionName;
    const Options m_options;

    mutable QMutex m_mutex;
    QWaitCondition m_wake;
    QWaitCondition m_started;
    std::deque<Job> m_queue;
    int m_urgentQueued = 0;
    bool m_stopping = false;
    bool m_startDone = false;
    QString m_startError;
    QElapsedTimer m_clock;
    qint64 m_committedJobs = 0;
    qint64 m_committedBatches = 0;
};

}  // namespace moe::app
