// The Store under concurrency: readers on other threads while the writer commits batches, producers on
// several threads, and a writer process SIGKILLed mid-batch. Prints the batched insert rates.
#include "storage/store.h"
#include "store_test_util.h"

#include <QElapsedTimer>
#include <QProcess>
#include <QTemporaryDir>
#include <QThread>
#include <QtConcurrent>
#include <QtTest>

#include <atomic>

using namespace moe::app;
using moe_test_app::RawDb;
using moe_test_app::waitFor;

namespace {

constexpr int kRowsPerJob = 10;  // as in store_writer_child.cpp

QList<MetricsSample> jobRows(qint64 job) {
    QList<MetricsSample> rows;
    for (int i = 0; i < kRowsPerJob; ++i) rows.append(MetricsSample{job * kRowsPerJob + i, 50.0, 1, 2, {}, {}, {}, {}});
    return rows;
}

// What a reader thread saw: counts must only grow, by whole jobs.
struct ReaderLog {
    std::atomic<int> reads{0};
    std::atomic<int> errors{0};
    std::atomic<int> torn{0};       // a count that is not a whole number of jobs
    std::atomic<int> backwards{0};  // a count smaller than an earlier one
    std::atomic<int> distinct{0};   // how many different counts were seen (reads really overlapped writes)
    QString firstError;
};

void readUntil(const Store& store, const std::atomic<bool>& done, ReaderLog& log, QMutex& errorMutex) {
    qint64 last = -1;
    while (!done.load()) {
        const DbResult<qint64> count = store.sampleCount();
        ++log.reads;
        if (!count.ok()) {
            if (++log.errors == 1) {
                QMutexLocker lock(&errorMutex);
                log.firstError = count.error();
            }
            continue;
        }
        if (count.value() % kRowsPerJob != 0) ++log.torn;
        if (count.value() < last) ++log.backwards;
        if (count.value() != last) ++log.distinct;
        last = count.value();
    }
}

}  // namespace

class TestStoreConcurrency : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void readersSeeWholeMonotonicBatches();
    void messageInsertRate();
    void killedWriterLeavesWholeBatches();
};

void TestStoreConcurrency::readersSeeWholeMonotonicBatches() {
    QTemporaryDir dir;
    Store store;
    QCOMPARE(store.open(dir.filePath(QStringLiteral("concurrent.sqlite"))), QString());
    std::atomic<bool> done{false};
    ReaderLog log;
    QMutex errorMutex;
    // Two readers on pool threads, like history plots computed with QtConcurrent.
    QFuture<void> reader1 = QtConcurrent::run([&]() { readUntil(store, done, log, errorMutex); });
    QFuture<void> reader2 = QtConcurrent::run([&]() { readUntil(store, done, log, errorMutex); });

    // Two producer threads (the sampler and a chat worker in the app) queue jobs at once.
    constexpr int kJobsPerProducer = 2000;
    QElapsedTimer timer;
    timer.start();
    auto produce = [&store](int producer) {
        for (int j = 0; j < kJobsPerProducer; ++j) {
            store.appendSamples(jobRows(producer * kJobsPerProducer + j));
            if (j % 200 == 0) QThread::msleep(5);  // spread the load so reads interleave with commits
        }
    };
    QFuture<void> p0 = QtConcurrent::run(produce, 0);
    QFuture<void> p1 = QtConcurrent::run(produce, 1);
    p0.waitForFinished();
    p1.waitForFinished();
    QVERIFY(waitFor(store.flush()).ok());
    const double seconds = timer.nsecsElapsed() / 1e9;
    done.store(true);
    reader1.waitForFinished();
    reader2.waitForFinished();

    const qint64 rows = 2 * kJobsPerProducer * kRowsPerJob;
    QCOMPARE(store.sampleCount().value(), rows);
    QVERIFY2(log.errors.load() == 0, qPrintable(log.firstError));
    QCOMPARE(log.torn.load(), 0);
    QCOMPARE(log.backwards.load(), 0);
    QVERIFY2(log.distinct.load() > 2, "the readers never overlapped a commit");
    qInfo("samples: %lld rows in %d jobs of %d, %.3f s with 2 readers: %.0f rows/s, %d reads, %d distinct counts",
          static_cast<long long>(rows), 2 * kJobsPerProducer, kRowsPerJob, seconds, rows / seconds, log.reads.load(),
          log.distinct.load());
    // Every row exactly once (two producers, no job lost or doubled).
    const auto all = store.samplesBetween(0, rows, static_cast<int>(rows));
    QCOMPARE(all.value().size(), static_cast<qsizetype>(rows));
    for (qint64 i = 0; i < rows; ++i) {
        if (all.value()[i].tsMs != i) QFAIL(qPrintable(QStringLiteral("row %1 missing").arg(i)));
    }
}

void TestStoreConcurrency::messageInsertRate() {
    QTemporaryDir dir;
    Store store;
    QCOMPARE(store.open(dir.filePath(QStringLiteral("messages.sqlite"))), QString());
    const qint64 c = waitFor(store.createConversation(Conversation{})).id;
    constexpr int kMessages = 5000;
    QElapsedTimer timer;
    timer.start();
    QFuture<WriteResult> last;
    for (int i = 0; i < kMessages; ++i) {
        Message m;
        m.conversationId = c;
        m.role = i % 2 ? MessageRole::Assistant : MessageRole::User;
        m.content = QStringLiteral("message %1 with a few words of text in it").arg(i);
        if (i > 0) m.parentId = i;  // one writer assigns ids 1..N in queue order: a chain
        last = store.appendMessage(m);
    }
    QVERIFY2(waitFor(last).ok(), qPrintable(last.result().error));
    const double seconds = timer.nsecsElapsed() / 1e9;
    QCOMPARE(store.activePath(c).value().size(), kMessages);
    qInfo("messages: %d appended (one job each, batched) in %.3f s: %.0f messages/s", kMessages, seconds,
          kMessages / seconds);
    // Samples with no reader competing: 2000 jobs of 10 rows from one thread.
    timer.restart();
    for (int j = 0; j < 2000; ++j) store.appendSamples(jobRows(j));
    QVERIFY(waitFor(store.flush()).ok());
    const double sampleSeconds = timer.nsecsElapsed() / 1e9;
    QCOMPARE(store.sampleCount().value(), Q_INT64_C(20000));
    qInfo("samples alone: 20000 rows in 2000 jobs in %.3f s: %.0f rows/s", sampleSeconds, 20000 / sampleSeconds);
}

void TestStoreConcurrency::killedWriterLeavesWholeBatches() {
    // Three runs, killed at different moments after a few batches were reported committed.
    const int extraDelaysMs[] = {0, 7, 23};
    for (int delayMs : extraDelaysMs) {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("killed.sqlite"));
        QProcess child;
        child.setProcessChannelMode(QProcess::SeparateChannels);
        child.start(QStringLiteral(MOE_STORE_WRITER_CHILD), {path});
        QVERIFY2(child.waitForStarted(10000), qPrintable(child.errorString()));
        qint64 reported = 0;
        int batchesSeen = 0;
        QByteArray buffer;
        QElapsedTimer waited;
        waited.start();
        while (batchesSeen < 5 && waited.elapsed() < 20000) {
            child.waitForReadyRead(100);
            buffer += child.readAllStandardOutput();
            int newline = -1;
            while ((newline = buffer.indexOf('\n')) >= 0) {
                const QByteArray line = buffer.left(newline);
                buffer.remove(0, newline + 1);
                if (line.startsWith("committed ")) {
                    reported = line.mid(10).toLongLong();
                    ++batchesSeen;
                }
            }
        }
        QVERIFY2(batchesSeen >= 5, child.readAllStandardError().constData());
        QThread::msleep(delayMs);
        child.kill();  // SIGKILL: no destructor, no flush, no checkpoint
        QVERIFY(child.waitForFinished(10000));
        QCOMPARE(child.exitStatus(), QProcess::CrashExit);

        qint64 rows = 0;
        {
            RawDb raw(path);
            QVERIFY(raw.isOpen());
            QCOMPARE(raw.scalar(QStringLiteral("PRAGMA integrity_check")).toString(), QStringLiteral("ok"));
            rows = raw.scalar(QStringLiteral("SELECT count(*) FROM samples")).toLongLong();
            // Whole jobs only, a contiguous prefix of what was queued, nothing reported committed lost.
            QCOMPARE(rows % kRowsPerJob, Q_INT64_C(0));
            QVERIFY2(rows >= reported * kRowsPerJob,
                     qPrintable(QStringLiteral("%1 rows but %2 jobs were reported committed").arg(rows).arg(reported)));
            QCOMPARE(raw.scalar(QStringLiteral("SELECT count(DISTINCT ts_ms) FROM samples")).toLongLong(), rows);
            QCOMPARE(raw.scalar(QStringLiteral("SELECT max(ts_ms) FROM samples")).toLongLong(), rows - 1);
        }
        // And the Store opens it again and keeps writing.
        Store store;
        QCOMPARE(store.open(path), QString());
        QCOMPARE(store.sampleCount().value(), rows);
        QVERIFY(waitFor(store.appendSamples(jobRows(rows / kRowsPerJob))).ok());
        QCOMPARE(store.sampleCount().value(), rows + kRowsPerJob);
        qInfo("killed after %lld reported jobs (+%d ms): %lld jobs in the file, integrity ok",
              static_cast<long long>(reported), delayMs, static_cast<long long>(rows / kRowsPerJob));
    }
}

QTEST_GUILESS_MAIN(TestStoreConcurrency)
#include "test_store_concurrency.moc"
