#include "metrics/proc_stats.h"

#include <QFile>
#include <QList>

namespace moe::app::proc {

namespace {

std::optional<quint64> toUnsigned(const QByteArray& field) {
    bool ok = false;
    const quint64 value = field.toULongLong(&ok);
    if (!ok) return std::nullopt;
    return value;
}

}  // namespace

std::optional<CpuTimes> parseCpuTimes(const QByteArray& procStat) {
    for (const QByteArray& line : procStat.split('\n')) {
        if (!line.startsWith("cpu ")) continue;
        const QList<QByteArray> fields = line.simplified().split(' ');
        // cpu user nice system idle iowait irq softirq steal [guest guest_nice]; old kernels stop at iowait.
        if (fields.size() < 5) return std::nullopt;
        quint64 values[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int i = 0; i < 8 && i + 1 < fields.size(); ++i) {
            const std::optional<quint64> v = toUnsigned(fields[i + 1]);
            if (!v) return std::nullopt;
            values[i] = *v;
        }
        CpuTimes times;
        const quint64 idle = values[3] + values[4];
        times.busy = values[0] + values[1] + values[2] + values[5] + values[6] + values[7];
        times.total = times.busy + idle;
        return times;
    }
    return std::nullopt;
}

std::optional<double> cpuPercentBetween(const CpuTimes& earlier, const CpuTimes& later) {
    if (later.total <= earlier.total || later.busy < earlier.busy) return std::nullopt;
    const double busy = static_cast<double>(later.busy - earlier.busy);
    const double total = static_cast<double>(later.total - earlier.total);
    const double percent = 100.0 * busy / total;
    return qBound(0.0, percent, 100.0);
}

std::optional<qint64> parseMemUsedBytes(const QByteArray& procMeminfo) {
    std::optional<quint64> totalKb;
    std::optional<quint64> availableKb;
    for (const QByteArray& line : procMeminfo.split('\n')) {
        const QList<QByteArray> fields = line.simplified().split(' ');  // "MemTotal: 16323412 kB"
        if (fields.size() < 2) continue;
        if (fields[0] == "MemTotal:") totalKb = toUnsigned(fields[1]);
        if (fields[0] == "MemAvailable:") availableKb = toUnsigned(fields[1]);
    }
    if (!totalKb || !availableKb || *availableKb > *totalKb) return std::nullopt;
    constexpr quint64 kMaxKb = quint64(1) << 50;  // beyond any machine: a corrupt value
    if (*totalKb > kMaxKb) return std::nullopt;
    return static_cast<qint64>((*totalKb - *availableKb) * 1024);
}

std::optional<qint64> parseStatmRssBytes(const QByteArray& procStatm, qint64 pageBytes) {
    const QList<QByteArray> fields = procStatm.simplified().split(' ');  // size resident shared text lib data dt
    if (fields.size() < 2 || pageBytes <= 0) return std::nullopt;
    const std::optional<quint64> pages = toUnsigned(fields[1]);
    if (!pages || *pages > (quint64(1) << 40)) return std::nullopt;
    return static_cast<qint64>(*pages) * pageBytes;
}

QByteArray readProcFile(const QString& path) {
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) return QByteArray();
    // /proc files report size 0: read until the end, with a cap far above any of the files we read.
    constexpr qint64 kMaxBytes = 1 << 20;
    return file.read(kMaxBytes);
}

}  // namespace moe::app::proc
