// The metrics page over a temporary Store: the samples and requests written are plotted (graph point counts
// equal what the Store returns for the range), the percentiles shown are the Store's, a custom range narrows
// both, CSV export of the shown range, live samples from a real MetricsSampler appear with the "No NVIDIA GPU
// found" banner when NVML is missing, and screenshots (light, dark, live) into MOE_SCREENSHOT_DIR.
#include "metrics/metrics_sampler.h"
#include "pages/metrics_page.h"
#include "storage/store.h"
#include "widgets/time_series_plot.h"

#include <QApplication>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QLabel>
#include <QSignalSpy>
#include <QStyleFactory>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

using moe::app::MetricsSample;
using moe::app::RequestRecord;
using moe::ui::MetricsPage;

namespace {

QString screenshotPath(const QString& name) {
    QDir().mkpath(QStringLiteral(MOE_SCREENSHOT_DIR));
    return QStringLiteral(MOE_SCREENSHOT_DIR "/") + name;
}

QPalette darkPalette() {
    QPalette p;
    p.setColor(QPalette::Window, QColor(0x1f, 0x21, 0x26));
    p.setColor(QPalette::WindowText, QColor(0xe6, 0xe8, 0xeb));
    p.setColor(QPalette::Base, QColor(0x17, 0x19, 0x1d));
    p.setColor(QPalette::AlternateBase, QColor(0x23, 0x26, 0x2c));
    p.setColor(QPalette::Text, QColor(0xe6, 0xe8, 0xeb));
    p.setColor(QPalette::Button, QColor(0x2a, 0x2d, 0x33));
    p.setColor(QPalette::ButtonText, QColor(0xe6, 0xe8, 0xeb));
    p.setColor(QPalette::Highlight, QColor(0x3d, 0x7e, 0xd6));
    p.setColor(QPalette::Mid, QColor(0x44, 0x48, 0x50));
    p.setColor(QPalette::Light, QColor(0x3a, 0x3e, 0x46));
    p.setColor(QPalette::Midlight, QColor(0x32, 0x36, 0x3d));
    p.setColor(QPalette::Dark, QColor(0x15, 0x17, 0x1a));
    p.setColor(QPalette::Shadow, QColor(0x0b, 0x0c, 0x0e));
    p.setColor(QPalette::Disabled, QPalette::WindowText, QColor(0x90, 0x95, 0x9d));
    return p;
}

bool waitLoaded(MetricsPage& page) {
    QSignalSpy spy(&page, &MetricsPage::historyLoaded);
    return spy.wait(5000);
}

QString formatted(double v, int decimals) {
    return QString::number(v, 'f', decimals);
}

}  // namespace

class TestMetricsPage : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void historyIsPlotted();
    void percentilesMatchTheStore();
    void customRangeNarrows();
    void csvExport();
    void liveSamplesAppear();
    void screenshots();
    void cleanupTestCase();

private:
    QTemporaryDir m_dir;
    moe::app::Store m_store;
    qint64 m_now = 0;
    QList<qint64> m_requestTimes;
};

void TestMetricsPage::initTestCase() {
    QVERIFY(m_dir.isValid());
    QCOMPARE(m_store.open(m_dir.path() + QStringLiteral("/workbench.sqlite")), QString());
    m_now = QDateTime::currentMSecsSinceEpoch();
    // 40 minutes of 1 Hz samples ending a second ago (more than the page's 1500 points: the Store averages).
    QList<MetricsSample> samples;
    for (int i = 2400; i >= 1; --i) {
        MetricsSample s;
        s.tsMs = m_now - qint64(i) * 1000;
        const double phase = i / 120.0;
        s.cpuPercent = 35 + 25 * std::sin(phase) + (i % 7);
        s.ramUsedBytes = qint64((9.5 + 0.8 * std::sin(phase / 3)) * 1024 * 1024 * 1024);
        s.rssBytes = qint64((1.2 + 0.1 * std::cos(phase)) * 1024 * 1024 * 1024);
        s.gpuUtilPercent = 60 + 30 * std::sin(phase * 1.7);
        s.gpuMemUsedBytes = qint64(22.0 * 1024 * 1024 * 1024);
        s.gpuPowerW = 250 + 90 * std::sin(phase * 1.7);
        s.gpuTempC = 55 + 10 * std::sin(phase / 2);
        samples.append(s);
    }
    {
        auto f = m_store.appendSamples(samples);
        f.waitForFinished();
        QVERIFY2(f.result().ok(), qPrintable(f.result().error));
    }
    // 12 generations over the last 36 minutes.
    for (int i = 0; i < 12; ++i) {
        RequestRecord r;
        r.startedAtMs = m_now - qint64(36 - 3 * i) * 60 * 1000;
        r.promptTokens = 40 + i;
        r.replyTokens = 100 + 10 * i;
        r.ttftMs = 80.0 + 7.0 * i;
        r.tokensPerS = 30.0 + i;
        r.totalMs = 3000 + 100 * i;
        for (int t = 0; t < 20; ++t) r.tokenLatenciesMs.push_back(float(25 + (t * 7 + i) % 13));
        m_requestTimes.append(r.startedAtMs);
        {
            auto f = m_store.recordRequest(r);
            f.waitForFinished();
            QVERIFY2(f.result().ok(), qPrintable(f.result().error));
        }
    }
}

void TestMetricsPage::cleanupTestCase() {
    m_store.close();
}

void TestMetricsPage::historyIsPlotted() {
    MetricsPage page;
    page.setStore(&m_store);
    page.setRange(MetricsPage::Range::Hour);
    QVERIFY(waitLoaded(page));
    const auto expected = m_store.samplesBetween(page.rangeStartMs(), page.rangeEndMs(), 1500);
    QVERIFY(expected.ok());
    QVERIFY(expected.value().size() > 100);
    QVERIFY(expected.value().size() <= 1500);
    QCOMPARE(page.cpuPlot()->pointCount(0), int(expected.value().size()));
    QCOMPARE(page.memoryPlot()->pointCount(0), int(expected.value().size()));
    QCOMPARE(page.memoryPlot()->pointCount(1), int(expected.value().size()));
    QCOMPARE(page.gpuPlot()->pointCount(0), int(expected.value().size()));
    QCOMPARE(page.gpuPowerPlot()->pointCount(1), int(expected.value().size()));
    QCOMPARE(page.requestsPlot()->pointCount(0), 12);  // TTFT
    QCOMPARE(page.requestsPlot()->pointCount(1), 12);  // tokens/s
    QVERIFY(page.gpuPlot()->isVisibleTo(&page));
    QVERIFY(!page.gpuBanner()->isVisibleTo(&page));
}

void TestMetricsPage::percentilesMatchTheStore() {
    MetricsPage page;
    page.setStore(&m_store);
    page.setRange(MetricsPage::Range::Day);
    QVERIFY(waitLoaded(page));
    const auto stats = m_store.latencyPercentiles(page.rangeStartMs(), page.rangeEndMs());
    QVERIFY(stats.ok());
    QCOMPARE(stats.value().requests, 12);
    QTableWidget* t = page.percentileTable();
    QCOMPARE(t->item(0, 0)->text(), formatted(stats.value().ttftMs.p50, 1));
    QCOMPARE(t->item(0, 1)->text(), formatted(stats.value().ttftMs.p90, 1));
    QCOMPARE(t->item(0, 2)->text(), formatted(stats.value().ttftMs.p99, 1));
    QCOMPARE(t->item(1, 0)->text(), formatted(stats.value().tokenLatencyMs.p50, 2));
    QCOMPARE(t->item(1, 2)->text(), formatted(stats.value().tokenLatencyMs.p99, 2));
    QCOMPARE(t->item(1, 3)->text(), QString::number(12 * 20));
    QCOMPARE(t->item(2, 1)->text(), formatted(stats.value().tokensPerS.p90, 1));
}

void TestMetricsPage::customRangeNarrows() {
    MetricsPage page;
    page.setStore(&m_store);
    QVERIFY(waitLoaded(page));
    // The first half of the requests only (minute precision of the editors: stay away from the edges).
    const QDateTime from = QDateTime::fromMSecsSinceEpoch(m_requestTimes.first() - 90 * 1000);
    const QDateTime to = QDateTime::fromMSecsSinceEpoch(m_requestTimes[5] + 90 * 1000);
    page.setCustomRange(from, to);
    QVERIFY(waitLoaded(page));
    QCOMPARE(page.range(), MetricsPage::Range::Custom);
    const auto requests = m_store.requestsBetween(page.rangeStartMs(), page.rangeEndMs());
    QVERIFY(requests.ok());
    QVERIFY(requests.value().size() >= 5 && requests.value().size() <= 7);
    QCOMPARE(page.requestsPlot()->pointCount(0), int(requests.value().size()));
    QCOMPARE(page.shownLatency().requests, qint64(requests.value().size()));
}

void TestMetricsPage::csvExport() {
    MetricsPage page;
    page.setStore(&m_store);
    page.setRange(MetricsPage::Range::Hour);
    QVERIFY(waitLoaded(page));
    const QString samplesPath = m_dir.path() + QStringLiteral("/samples.csv");
    QCOMPARE(page.exportSamplesCsv(samplesPath), QString());
    QFile f(samplesPath);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QStringList lines = QString::fromUtf8(f.readAll()).split('\n', Qt::SkipEmptyParts);
    QVERIFY(lines.first().startsWith(QStringLiteral("ts_ms,time,cpu_percent,ram_used_bytes,rss_bytes")));
    QCOMPARE(lines.size() - 1, int(page.shownSamples().size()));
    QCOMPARE(lines[1].split(',').size(), 9);
    QCOMPARE(lines[1].split(',')[0].toLongLong(), page.shownSamples().first().tsMs);

    const QString requestsPath = m_dir.path() + QStringLiteral("/requests.csv");
    QCOMPARE(page.exportRequestsCsv(requestsPath), QString());
    QFile r(requestsPath);
    QVERIFY(r.open(QIODevice::ReadOnly));
    const QStringList rl = QString::fromUtf8(r.readAll()).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(rl.size(), 13);
    QCOMPARE(rl[1].split(',')[5].toDouble(), 80.0);  // the first request's TTFT
    QVERIFY(!page.exportSamplesCsv(QStringLiteral("/nonexistent-folder/m.csv")).isEmpty());
}

void TestMetricsPage::liveSamplesAppear() {
    QTemporaryDir dir;
    moe::app::Store store;
    QCOMPARE(store.open(dir.path() + QStringLiteral("/live.sqlite")), QString());
    moe::app::MetricsSamplerOptions options;
    options.intervalMs = 100;
    options.nvmlLibrary = QStringLiteral("libnvidia-ml-not-installed.so.1");
    {
        moe::app::MetricsSampler sampler(options, &store);
        MetricsPage page;
        page.resize(1280, 900);
        page.setStore(&store);
        page.setSampler(&sampler);
        sampler.start();
        page.show();
        QVERIFY(QTest::qWaitForWindowExposed(&page));
        QTRY_VERIFY(page.cpuPlot()->pointCount(0) >= 3);
        QTRY_VERIFY(page.gpuBanner()->isVisible());
        QVERIFY(page.gpuBanner()->text().contains(QStringLiteral("No NVIDIA GPU found")));
        QVERIFY(!page.gpuPlot()->isVisible());  // nothing to plot but the banner's message
        QVERIFY(page.memoryPlot()->pointCount(1) >= 3);
        // A sample arriving directly (the queued signal's slot) is plotted at once.
        const int before = page.cpuPlot()->pointCount(0);
        MetricsSample s;
        s.tsMs = QDateTime::currentMSecsSinceEpoch();
        s.cpuPercent = 12.5;
        page.addLiveSample(s);
        QVERIFY(page.cpuPlot()->pointCount(0) >= before);  // older ones may leave the 5-minute window
        QCOMPARE(page.shownSamples().last().tsMs, s.tsMs);
        QTest::qWait(400);
        QVERIFY(page.grab().save(screenshotPath(QStringLiteral("metrics_page_live_no_gpu.png"))));
        sampler.stop();
    }
    store.close();
}

void TestMetricsPage::screenshots() {
    for (const bool dark : {false, true}) {
        MetricsPage page;
        if (dark) page.setPalette(darkPalette());
        page.resize(1280, 900);
        page.setStore(&m_store);
        page.setRange(MetricsPage::Range::Hour);
        QVERIFY(waitLoaded(page));
        page.show();
        QVERIFY(QTest::qWaitForWindowExposed(&page));
        QTest::qWait(50);
        const QString name = dark ? QStringLiteral("metrics_page_dark.png") : QStringLiteral("metrics_page_light.png");
        QVERIFY(page.grab().save(screenshotPath(name)));
    }
}

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setStyle(QStyleFactory::create(QStringLiteral("Fusion")));
    TestMetricsPage test;
    return QTest::qExec(&test, argc, argv);
}

#include "test_metrics_page.moc"
