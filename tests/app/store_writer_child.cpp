// Helper for test_store_concurrency's crash test: writes numbered jobs of kRowsPerJob samples each through the
// Store as fast as it can, printing "committed <jobs>" after each batch commits, until it is SIGKILLed.
// Usage: store_writer_child <database>
#include "storage/store.h"

#include <QCoreApplication>
#include <QTimer>

#include <cstdio>

using namespace moe::app;

namespace {
constexpr int kRowsPerJob = 10;
}

int main(int argc, char** argv) {
    QCoreApplication app(argc, argv);
    if (argc != 2) {
        std::fprintf(stderr, "usage: store_writer_child <database>\n");
        return 2;
    }
    Store store;
    Store::Options options;
    options.maxBatchJobs = 64;
    const QString error = store.open(QString::fromLocal8Bit(argv[1]), options);
    if (!error.isEmpty()) {
        std::fprintf(stderr, "%s\n", qPrintable(error));
        return 1;
    }
    qint64 committed = 0;
    QObject::connect(&store, &Store::batchCommitted, [&committed](int jobs, qint64) {
        committed += jobs;
        std::printf("committed %lld\n", static_cast<long long>(committed));
        std::fflush(stdout);
    });
    qint64 job = 0;
    QTimer pump;
    // Keep a few batches queued, never an unbounded backlog: the kill lands mid-batch most of the time.
    QObject::connect(&pump, &QTimer::timeout, [&]() {
        while (job - committed < 256) {
            QList<MetricsSample> rows;
            for (int i = 0; i < kRowsPerJob; ++i)
                rows.append(MetricsSample{job * kRowsPerJob + i, 1.0, 2, 3, {}, {}, {}, {}});
            store.appendSamples(rows);
            ++job;
        }
    });
    pump.start(1);
    return app.exec();
}
