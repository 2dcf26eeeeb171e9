// Metrics samples and request records turned into plot-ready series and CSV, without any widget:
// times as seconds since the epoch (QCustomPlot's date-time axis), memory in GiB, a missing figure left out.
#pragma once

#include "storage/store_types.h"

#include <QList>
#include <QString>
#include <QVector>

namespace moe::app {

struct TimeSeries {
    QString name;
    QVector<double> t;  // seconds since the epoch
    QVector<double> v;
    bool isEmpty() const { return t.isEmpty(); }
};

struct MetricsSeries {
    TimeSeries cpuPercent, ramUsedGiB, rssGiB, gpuUtilPercent, gpuMemGiB, gpuPowerW, gpuTempC;
    bool hasGpu() const { return !gpuUtilPercent.isEmpty() || !gpuMemGiB.isEmpty() || !gpuPowerW.isEmpty(); }
};
MetricsSeries metricsSeries(const QList<MetricsSample>& samples);

struct RequestSeries {
    TimeSeries ttftMs, tokensPerS;
};
RequestSeries requestSeries(const QList<RequestRecord>& requests);

// "ts_ms,time,cpu_percent,ram_used_bytes,rss_bytes,gpu_util_percent,gpu_mem_used_bytes,gpu_power_w,gpu_temp_c"
// one row per sample; a missing figure is an empty field. time is ISO 8601 in UTC.
QString samplesCsv(const QList<MetricsSample>& samples);
// "started_ms,time,source,prompt_tokens,reply_tokens,ttft_ms,tokens_per_s,total_ms,mean_token_latency_ms"
QString requestsCsv(const QList<RequestRecord>& requests);

// The samples of the last `windowMs` (the live view): appended as they arrive, older ones dropped.
class MetricsWindow {
public:
    explicit MetricsWindow(qint64 windowMs = 5 * 60 * 1000) : m_windowMs(windowMs) {}
    void append(const MetricsSample& sample);
    void assign(const QList<MetricsSample>& samples);  // e.g. the Store's last minutes at start-up
    const QList<MetricsSample>& samples() const { return m_samples; }
    qint64 windowMs() const { return m_windowMs; }

private:
    qint64 m_windowMs;
    QList<MetricsSample> m_samples;
};

}  // namespace moe::app
