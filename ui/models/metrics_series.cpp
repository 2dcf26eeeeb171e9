#include "models/metrics_series.h"

#include <QDateTime>

#include <algorithm>
#include <numeric>

namespace moe::app {

namespace {
constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

template <class T>
void add(TimeSeries& series, double t, const std::optional<T>& value, double scale = 1.0) {
    if (!value) return;
    series.t.append(t);
    series.v.append(double(*value) * scale);
}

template <class T>
QString field(const std::optional<T>& value) {
    return value ? QString::number(*value, 'g', 10) : QString();
}

QString isoTime(qint64 ms) {
    return QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC).toString(Qt::ISODateWithMs);
}
}  // namespace

MetricsSeries metricsSeries(const QList<MetricsSample>& samples) {
    MetricsSeries s;
    s.cpuPercent.name = QStringLiteral("CPU");
    s.ramUsedGiB.name = QStringLiteral("RAM used");
    s.rssGiB.name = QStringLiteral("Workbench RSS");
    s.gpuUtilPercent.name = QStringLiteral("GPU utilisation");
    s.gpuMemGiB.name = QStringLiteral("GPU memory");
    s.gpuPowerW.name = QStringLiteral("Power");
    s.gpuTempC.name = QStringLiteral("Temperature");
    for (const MetricsSample& m : samples) {
        const double t = double(m.tsMs) / 1000.0;
        add(s.cpuPercent, t, m.cpuPercent);
        add(s.ramUsedGiB, t, m.ramUsedBytes, 1.0 / kGiB);
        add(s.rssGiB, t, m.rssBytes, 1.0 / kGiB);
        add(s.gpuUtilPercent, t, m.gpuUtilPercent);
        add(s.gpuMemGiB, t, m.gpuMemUsedBytes, 1.0 / kGiB);
        add(s.gpuPowerW, t, m.gpuPowerW);
        add(s.gpuTempC, t, m.gpuTempC);
    }
    return s;
}

RequestSeries requestSeries(const QList<RequestRecord>& requests) {
    RequestSeries s;
    s.ttftMs.name = QStringLiteral("Time to first token");
    s.tokensPerS.name = QStringLiteral("Tokens/s");
    for (const RequestRecord& r : requests) {
        const double t = double(r.startedAtMs) / 1000.0;
        add(s.ttftMs, t, r.ttftMs);
        add(s.tokensPerS, t, r.tokensPerS);
    }
    return s;
}

QString samplesCsv(const QList<MetricsSample>& samples) {
    QString out = QStringLiteral("ts_ms,time,cpu_percent,ram_used_bytes,rss_bytes,gpu_util_percent,"
                                 "gpu_mem_used_bytes,gpu_power_w,gpu_temp_c\n");
    for (const MetricsSample& m : samples) {
        out += QStringLiteral("%1,%2,%3,%4,%5,%6,%7,%8,%9\n")
                   .arg(m.tsMs).arg(isoTime(m.tsMs), field(m.cpuPercent), field(m.ramUsedBytes),
                        field(m.rssBytes), field(m.gpuUtilPercent), field(m.gpuMemUsedBytes), field(m.gpuPowerW),
                        field(m.gpuTempC));
    }
    return out;
}

QString requestsCsv(const QList<RequestRecord>& requests) {
    QString out = QStringLiteral("started_ms,time,source,prompt_tokens,reply_tokens,ttft_ms,tokens_per_s,"
                                 "total_ms,mean_token_latency_ms\n");
    for (const RequestRecord& r : requests) {
        const auto& l = r.tokenLatenciesMs;
        const QString mean = l.empty() ? QString()
                                       : QString::number(std::accumulate(l.begin(), l.end(), 0.0) / double(l.size()), 'g', 10);
        out += QStringLiteral("%1,%2,%3,%4,%5,%6,%7,%8,%9\n")
                   .arg(r.startedAtMs).arg(isoTime(r.startedAtMs), requestSourceName(r.source))
                   .arg(r.promptTokens).arg(r.replyTokens)
                   .arg(field(r.ttftMs), field(r.tokensPerS), field(r.totalMs), mean);
    }
    return out;
}

void MetricsWindow::append(const MetricsSample& sample) {
    m_samples.append(sample);
    const qint64 cutoff = sample.tsMs - m_windowMs;
    const auto firstKept = std::find_if(m_samples.begin(), m_samples.end(),
                                        [cutoff](const MetricsSample& s) { return s.tsMs >= cutoff; });
    m_samples.erase(m_samples.begin(), firstKept);
}

void MetricsWindow::assign(const QList<MetricsSample>& samples) {
    m_samples.clear();
    for (const MetricsSample& s : samples) append(s);
}

}  // namespace moe::app
