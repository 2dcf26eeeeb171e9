#include "storage/store_writer.h"

#include "storage/sql_util.h"

#include <QMutexLocker>
#include <QSqlError>
#include <QSqlQuery>

namespace moe::app {

namespace {

QFuture<WriteResult> resolvedFuture(const QString& error) {
    QPromise<WriteResult> promise;
    promise.start();
    promise.addResult(WriteResult{0, error});
    promise.finish();
    return promise.future();
}

void resolve(QPromise<WriteResult>& promise, const WriteResult& result) {
    promise.addResult(result);
    promise.finish();
}

}  // namespace

StoreWriter::StoreWriter(QString path, quint64 storeKey, Options options, QObject* parent)
    : QThread(parent),
      m_path(std::move(path)),
      m_connectionName(QStringLiteral("moe_store_%1_writer").arg(storeKey)),
      m_options(options) {
    m_clock.start();
}

StoreWriter::~StoreWriter() {
    stop();
}

QString StoreWriter::startWriter() {
    start();
    QMutexLocker lock(&m_mutex);
    while (!m_startDone) m_started.wait(&m_mutex);
    return m_startError;
}

QFuture<WriteResult> StoreWriter::enqueue(QString label, JobFunction job) {
    return push(Job{std::move(label), std::move(job), nullptr, 0, false});
}

QFuture<WriteResult> StoreWriter::flush() {
    return push(Job{QStringLiteral("flush"), [](const QSqlDatabase&) { return WriteResult{}; }, nullptr, 0, true});
}

QFuture<WriteResult> StoreWriter::push(Job job) {
    QMutexLocker lock(&m_mutex);
    if (m_stopping || !m_startError.isEmpty() || !m_startDone) {
        return resolvedFuture(QStringLiteral("%1: %2: the store is closed").arg(m_path, job.label));
    }
    job.promise = std::make_shared<QPromise<WriteResult>>();
    job.promise->start();
    job.enqueuedAtMs = m_clock.elapsed();
    QFuture<WriteResult> future = job.promise->future();
    if (job.urgent) ++m_urgentQueued;
    m_queue.push_back(std::move(job));
    // Wake the writer when a batch may be due; otherwise it is asleep on the oldest job's deadline anyway.
    if (m_queue.size() == 1 || m_queue.back().urgent || static_cast<int>(m_queue.size()) >= m_options.maxBatchJobs) {
        m_wake.wakeOne();
    }
    return future;
}

void StoreWriter::stop() {
    {
        QMutexLocker lock(&m_mutex);
        if (m_stopping) {
            lock.unlock();
            wait();
            return;
        }
        m_stopping = true;
        m_wake.wakeOne();
    }
    wait();
}

qint64 StoreWriter::committedJobs() const {
    QMutexLocker lock(&m_mutex);
    return m_committedJobs;
}

qint64 StoreWriter::committedBatches() const {
    QMutexLocker lock(&m_mutex);
    return m_committedBatches;
}

bool StoreWriter::openConnection() {
    const QString error =
        sql::openConnection(m_connectionName, m_path, sql::ConnectionKind::Writer, m_options.busyTimeoutMs);
    QMutexLocker lock(&m_mutex);
    m_startError = error;
    m_startDone = true;
    m_started.wakeAll();
    return error.isEmpty();
}

void StoreWriter::run() {
    if (!openConnection()) return;
    for (;;) {
        std::deque<Job> batch = takeBatch();
        if (batch.empty()) break;
        runBatch(batch);
    }
    sql::closeConnection(m_connectionName);
}

std::deque<StoreWriter::Job> StoreWriter::takeBatch() {
    QMutexLocker lock(&m_mutex);
    while (m_queue.empty() && !m_stopping) m_wake.wait(&m_mutex);
    // Let the batch fill: until it is full, its oldest job is maxDelayMs old, a flush is asked, or stop().
    for (;;) {
        if (m_queue.empty() || m_stopping || m_urgentQueued > 0) break;
        if (static_cast<int>(m_queue.size()) >= m_options.maxBatchJobs) break;
        const qint64 waitMs = m_queue.front().enqueuedAtMs + m_options.maxDelayMs - m_clock.elapsed();
        if (waitMs <= 0) break;
        m_wake.wait(&m_mutex, QDeadlineTimer(waitMs));
    }
    std::deque<Job> batch;
    while (!m_queue.empty() && static_cast<int>(batch.size()) < m_options.maxBatchJobs) {
        if (m_queue.front().urgent) --m_urgentQueued;
        batch.push_back(std::move(m_queue.front()));
        m_queue.pop_front();
    }
    return batch;
}

void StoreWriter::failAll(std::deque<Job>& jobs, const QString& message) {
    for (Job& job : jobs) {
        resolve(*job.promise, WriteResult{0, message});
        Q_EMIT writeFailed(message);
    }
}

// Runs each job inside its own savepoint; a failing job is rolled back alone. Returns an error when the
// savepoints themselves fail: SQLite then rolled the transaction back itself (disk full, I/O error) and
// later jobs would run in autocommit mode, so the caller abandons the whole batch.
QString StoreWriter::runJobs(const QSqlDatabase& db, std::deque<Job>& batch, std::vector<WriteResult>& results) {
    // Prepared once per batch: three statements run around every job.
    QSqlQuery savepoint(db);
    QSqlQuery release(db);
    QSqlQuery rollbackTo(db);
    savepoint.prepare(QStringLiteral("SAVEPOINT job"));
    release.prepare(QStringLiteral("RELEASE job"));
    rollbackTo.prepare(QStringLiteral("ROLLBACK TO job"));
    for (size_t i = 0; i < batch.size(); ++i) {
        if (!savepoint.exec()) {
            return sql::describeError(m_path, QStringLiteral("SAVEPOINT job"), savepoint.lastError().text());
        }
        results[i] = batch[i].function(db);
        if (!results[i].ok()) rollbackTo.exec();
        if (!release.exec()) {
            return sql::describeError(m_path, QStringLiteral("RELEASE job"), release.lastError().text());
        }
    }
    return QString();
}

void StoreWriter::runBatch(std::deque<Job>& batch) {
    QElapsedTimer timer;
    timer.start();
    const QSqlDatabase db = QSqlDatabase::database(m_connectionName, false);
    // IMMEDIATE takes the write lock now (waiting up to busy_timeout), not half way through the batch.
    const QString beginError = sql::execute(db, QStringLiteral("BEGIN IMMEDIATE"));
    if (!beginError.isEmpty()) {
        failAll(batch, beginError);
        return;
    }
    std::vector<WriteResult> results(batch.size());
    const QString frameError = runJobs(db, batch, results);
    if (!frameError.isEmpty()) {
        sql::execute(db, QStringLiteral("ROLLBACK"));
        failAll(batch, frameError);
        return;
    }
    const QString commitError = sql::execute(db, QStringLiteral("COMMIT"));
    if (!commitError.isEmpty()) {
        sql::execute(db, QStringLiteral("ROLLBACK"));
        failAll(batch, commitError);
        return;
    }
    const int jobs = static_cast<int>(batch.size());
    {
        QMutexLocker lock(&m_mutex);
        m_committedJobs += jobs;
        ++m_committedBatches;
    }
    for (size_t i = 0; i < batch.size(); ++i) {
        if (!results[i].ok()) Q_EMIT writeFailed(results[i].error);
        resolve(*batch[i].promise, results[i]);
    }
    Q_EMIT batchCommitted(jobs, timer.nsecsElapsed() / 1000);
}

}  // namespace moe::app
