// The Metrics page: a live view of the last 5 minutes from the MetricsSampler (CPU %, RAM and RSS, GPU
// utilisation/memory/power/temperature, or a banner saying why there is no GPU), a history view over the last
// hour / day / week or a custom range read from the Store off the UI thread, the requests of the range (TTFT
// and tokens/s over time) with latency percentiles p50/p90/p99, and CSV export of what is shown.
#pragma once

#include "models/metrics_series.h"

#include <QFutureWatcher>
#include <QWidget>

class QButtonGroup;
class QDateTimeEdit;
class QGridLayout;
class QLabel;
class QTableWidget;
class QTimer;
class QToolButton;
class QWidget;

namespace moe::app {
class MetricsSampler;
class Store;
}  // namespace moe::app

namespace moe::ui {

class TimeSeriesPlot;

class MetricsPage : public QWidget {
    Q_OBJECT

public:
    enum class Range { Live, Hour, Day, Week, Custom };

    explicit MetricsPage(QWidget* parent = nullptr);
    ~MetricsPage() override;  // waits for a history read in flight

    // Either may be null (no history / no live samples). Both must outlive the page's use of them.
    void setStore(app::Store* store);
    void setSampler(app::MetricsSampler* sampler);

    Range range() const { return m_range; }
    // The shown range in ms since the epoch.
    qint64 rangeStartMs() const { return m_t0Ms; }
    qint64 rangeEndMs() const { return m_t1Ms; }
    const QList<app::MetricsSample>& shownSamples() const { return m_samples; }
    const QList<app::RequestRecord>& shownRequests() const { return m_requests; }
    const app::LatencyStats& shownLatency() const { return m_latency; }

    TimeSeriesPlot* cpuPlot() const { return m_cpuPlot; }
    TimeSeriesPlot* memoryPlot() const { return m_memPlot; }
    TimeSeriesPlot* gpuPlot() const { return m_gpuPlot; }
    TimeSeriesPlot* gpuPowerPlot() const { return m_gpuPowerPlot; }
    TimeSeriesPlot* requestsPlot() const { return m_requestsPlot; }
    QTableWidget* percentileTable() const { return m_percentiles; }
    QLabel* gpuBanner() const { return m_gpuBanner; }

    // Writes the shown samples / requests as CSV. Returns an error naming the file, empty on success.
    QString exportSamplesCsv(const QString& path) const;
    QString exportRequestsCsv(const QString& path) const;

public Q_SLOTS:
    void setRange(moe::ui::MetricsPage::Range range);
    void setCustomRange(const QDateTime& from, const QDateTime& to);  // switches to Range::Custom
    void reload();                                                    // reads the range again from the Store
    void addLiveSample(const moe::app::MetricsSample& sample);
    void setGpuStatus(bool available, const QString& reason);

Q_SIGNALS:
    void historyLoaded();  // the Store's data for the range is shown
    void statusMessage(const QString& message);

private:
    struct Loaded {
        QList<app::MetricsSample> samples;
        QList<app::RequestRecord> requests;
        app::LatencyStats latency;
        QString error;
    };
    QWidget* buildToolbar();
    QWidget* buildPlots();
    void showLoaded();
    void plotSamples();
    void plotRequests();
    void showPercentiles();
    void exportInteractive(bool requests);
    void updateRangeFromButtons();
    qint64 liveStartMs(qint64 endMs) const;
    void fitPercentileTable();

    app::Store* m_store = nullptr;
    app::MetricsSampler* m_sampler = nullptr;
    Range m_range = Range::Live;
    qint64 m_t0Ms = 0, m_t1Ms = 0;
    app::MetricsWindow m_window;
    QList<app::MetricsSample> m_samples;
    QList<app::RequestRecord> m_requests;
    app::LatencyStats m_latency;
    QFutureWatcher<Loaded> m_watcher;
    bool m_reloadQueued = false;
    bool m_gpuKnownMissing = false;
    QString m_gpuReason;

    QTimer* m_liveRequestsTimer = nullptr;
    QButtonGroup* m_rangeGroup = nullptr;
    QWidget* m_customBox = nullptr;
    QDateTimeEdit* m_from = nullptr;
    QDateTimeEdit* m_to = nullptr;
    QLabel* m_rangeLabel = nullptr;
    QLabel* m_gpuBanner = nullptr;
    QLabel* m_error = nullptr;
    QGridLayout* m_plotGrid = nullptr;
    TimeSeriesPlot* m_cpuPlot = nullptr;
    TimeSeriesPlot* m_memPlot = nullptr;
    TimeSeriesPlot* m_gpuPlot = nullptr;
    TimeSeriesPlot* m_gpuPowerPlot = nullptr;
    TimeSeriesPlot* m_requestsPlot = nullptr;
    QTableWidget* m_percentiles = nullptr;
    QLabel* m_requestCount = nullptr;
};

}  // namespace moe::ui
