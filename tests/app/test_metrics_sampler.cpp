// The metrics sampler: /proc parsers on fixed text, NVML missing, a live run on this machine handing its
// samples to the Store, and a run over a fake /proc with known figures.
#include "metrics/metrics_sampler.h"
#include "metrics/nvml_probe.h"
#include "metrics/proc_stats.h"
#include "storage/store.h"
#include "store_test_util.h"

#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include <unistd.h>

using namespace moe::app;
using moe_test_app::waitFor;

namespace {

bool writeFile(const QString& path, const QByteArray& text) {
    QFile file(path);
    return file.open(QIODevice::WriteOnly) && file.write(text) == text.size();
}

// Whether this machine has an NVIDIA driver at all (then the live test checks GPU figures instead).
bool machineHasNvidiaDriver() {
    return QFile::exists(QStringLiteral("/dev/nvidiactl"));
}

}  // namespace

class TestMetricsSampler : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void parsesProcStat();
    void parsesMeminfoAndStatm();
    void malformedProcTextGivesNothing();
    void nvmlMissingLibraryHasReason();
    void liveSamplesArePlausibleAndStored();
    void fakeProcGivesKnownFigures();
};

void TestMetricsSampler::parsesProcStat() {
    const QByteArray a = "cpu  100 5 50 800 20 3 2 0 0 0\ncpu0 50 2 25 400 10 1 1 0 0 0\nintr 1 2 3\n";
    const QByteArray b = "cpu  160 5 70 900 40 3 2 0 0 0\ncpu0 80 2 35 450 20 1 1 0 0 0\n";
    const auto ta = proc::parseCpuTimes(a);
    const auto tb = proc::parseCpuTimes(b);
    QVERIFY(ta && tb);
    QCOMPARE(ta->busy, quint64(160));   // 100 + 5 + 50 + 3 + 2
    QCOMPARE(ta->total, quint64(980));  // + idle 800 + iowait 20
    // busy +80 of total +200 -> 40 %.
    QCOMPARE(proc::cpuPercentBetween(*ta, *tb).value(), 40.0);
    QVERIFY(!proc::cpuPercentBetween(*ta, *ta).has_value());  // no time passed
    QVERIFY(!proc::cpuPercentBetween(*tb, *ta).has_value());  // counters went back (a reset)
    // An old kernel with only four fields after iowait is still read.
    QVERIFY(proc::parseCpuTimes("cpu 1 2 3 4\n").has_value());
}

void TestMetricsSampler::parsesMeminfoAndStatm() {
    const QByteArray meminfo =
        "MemTotal:       16000000 kB\nMemFree:         1000000 kB\n"
        "MemAvailable:    6000000 kB\nBuffers:          300000 kB\n";
    QCOMPARE(proc::parseMemUsedBytes(meminfo).value(), Q_INT64_C(10000000) * 1024);
    QCOMPARE(proc::parseStatmRssBytes("51234 2500 700 12 0 3000 0\n", 4096).value(), Q_INT64_C(2500) * 4096);
}

void TestMetricsSampler::malformedProcTextGivesNothing() {
    QVERIFY(!proc::parseCpuTimes("").has_value());
    QVERIFY(!proc::parseCpuTimes("cpu0 1 2 3 4 5\n").has_value());  // no aggregate line
    QVERIFY(!proc::parseCpuTimes("cpu  1 2 x 4 5\n").has_value());
    QVERIFY(!proc::parseCpuTimes("cpu  1 2\n").has_value());
    QVERIFY(!proc::parseMemUsedBytes("MemTotal: 10 kB\n").has_value());  // no MemAvailable
    QVERIFY(!proc::parseMemUsedBytes("MemTotal: 10 kB\nMemAvailable: 20 kB\n").has_value());
    QVERIFY(!proc::parseMemUsedBytes("MemTotal: -1 kB\nMemAvailable: 0 kB\n").has_value());
    QVERIFY(!proc::parseStatmRssBytes("123", 4096).has_value());
    QVERIFY(!proc::parseStatmRssBytes("1 99999999999999999999 3", 4096).has_value());
    QVERIFY(!proc::parseStatmRssBytes("1 2 3", 0).has_value());
    QVERIFY(proc::readProcFile(QStringLiteral("/proc/does-not-exist")).isEmpty());
}

void TestMetricsSampler::nvmlMissingLibraryHasReason() {
    NvmlProbe probe;
    QVERIFY(!probe.initialise(QStringLiteral("libnvidia-ml-not-installed.so.1")));
    QVERIFY(!probe.available());
    QVERIFY2(probe.unavailableReason().contains(QStringLiteral("libnvidia-ml-not-installed.so.1")),
             qPrintable(probe.unavailableReason()));
    const GpuReading reading = probe.read();
    QVERIFY(!reading.utilPercent && !reading.memUsedBytes && !reading.powerW && !reading.tempC);
}

void TestMetricsSampler::liveSamplesArePlausibleAndStored() {
    QTemporaryDir dir;
    Store store;
    QCOMPARE(store.open(dir.filePath(QStringLiteral("metrics.sqlite"))), QString());
    MetricsSamplerOptions options;
    options.intervalMs = 40;
    options.storeBatchSamples = 3;
    MetricsSampler sampler(options, &store);
    QSignalSpy gpuKnown(&sampler, &MetricsSampler::gpuStatusKnown);
    QSignalSpy samples(&sampler, &MetricsSampler::sampled);
    sampler.start();
    QVERIFY(sampler.isRunning());
    QTRY_VERIFY_WITH_TIMEOUT(samples.size() >= 8, 10000);
    sampler.stop();
    QVERIFY(!sampler.isRunning());

    QCOMPARE(gpuKnown.size(), 1);
    QVERIFY(sampler.gpuProbed());
    if (machineHasNvidiaDriver()) {
        QVERIFY2(sampler.gpuAvailable(), qPrintable(sampler.gpuUnavailableReason()));
    } else {
        QVERIFY(!sampler.gpuAvailable());
        QVERIFY(!sampler.gpuUnavailableReason().isEmpty());
        qInfo("no GPU here: %s", qPrintable(sampler.gpuUnavailableReason()));
    }
    qint64 previousTs = 0;
    for (const QList<QVariant>& args : std::as_const(samples)) {
        const MetricsSample s = args[0].value<MetricsSample>();
        QVERIFY(s.tsMs >= previousTs);
        previousTs = s.tsMs;
        QVERIFY2(s.cpuPercent.has_value() && *s.cpuPercent >= 0.0 && *s.cpuPercent <= 100.0, "cpu % out of range");
        QVERIFY(s.rssBytes.value_or(0) > 1024 * 1024);  // this test program is well over 1 MiB resident
        QVERIFY(s.ramUsedBytes.value_or(0) >= s.rssBytes.value_or(0));
        if (sampler.gpuAvailable()) {
            QVERIFY(s.gpuUtilPercent.value_or(-1) >= 0.0 && *s.gpuUtilPercent <= 100.0);
            QVERIFY(s.gpuMemUsedBytes.value_or(-1) >= 0);
            QVERIFY(s.gpuTempC.value_or(-1) > 0.0 && *s.gpuTempC < 130.0);
        } else {
            QVERIFY(!s.gpuUtilPercent && !s.gpuMemUsedBytes && !s.gpuPowerW && !s.gpuTempC);
        }
    }
    QCOMPARE(sampler.latest().tsMs, previousTs);
    // stop() handed the tail over too: every sample delivered is in the Store.
    QVERIFY(waitFor(store.flush()).ok());
    QVERIFY(store.sampleCount().value() >= samples.size());
    const auto stored = store.samplesBetween(0, previousTs + 1, 1000).value();
    QVERIFY(!stored.isEmpty());
    QCOMPARE(stored.last().tsMs, previousTs);
}

void TestMetricsSampler::fakeProcGivesKnownFigures() {
    QTemporaryDir root;
    QVERIFY(QDir(root.path()).mkpath(QStringLiteral("self")));
    QVERIFY(writeFile(root.filePath(QStringLiteral("stat")), "cpu  1 2 3 4 5 6 7 8 0 0\n"));
    QVERIFY(writeFile(root.filePath(QStringLiteral("meminfo")), "MemTotal: 2048 kB\nMemAvailable: 1024 kB\n"));
    QVERIFY(writeFile(root.filePath(QStringLiteral("self/statm")), "10 3 1 1 0 1 0\n"));
    MetricsSamplerOptions options;
    options.intervalMs = 20;
    options.procRoot = root.path();
    options.nvmlLibrary = QStringLiteral("libnvidia-ml-not-installed.so.1");
    MetricsSampler sampler(options, nullptr);
    QSignalSpy samples(&sampler, &MetricsSampler::sampled);
    sampler.start();
    QTRY_VERIFY_WITH_TIMEOUT(samples.size() >= 2, 10000);
    sampler.stop();
    const MetricsSample s = samples[1][0].value<MetricsSample>();
    QCOMPARE(s.ramUsedBytes.value(), Q_INT64_C(1024) * 1024);
    QCOMPARE(s.rssBytes.value(), 3 * static_cast<qint64>(sysconf(_SC_PAGESIZE)));
    QVERIFY(!s.cpuPercent.has_value());  // the counters did not move
    QVERIFY(!sampler.gpuAvailable());
}

QTEST_GUILESS_MAIN(TestMetricsSampler)
#include "test_metrics_sampler.moc"
