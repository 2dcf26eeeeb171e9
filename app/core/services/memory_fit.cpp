#include "services/memory_fit.h"

#include "metrics/proc_stats.h"

#include <QByteArrayList>

namespace moe::app {

namespace {

std::optional<qint64> meminfoKiB(const QByteArray& text, const QByteArray& key) {
    for (const QByteArray& line : text.split('\n')) {
        if (!line.startsWith(key + ':')) continue;
        const QList<QByteArray> fields = line.mid(key.size() + 1).simplified().split(' ');
        bool ok = false;
        const qint64 kib = fields.value(0).toLongLong(&ok);
        return ok ? std::optional<qint64>(kib) : std::nullopt;
    }
    return std::nullopt;
}

}  // namespace

std::optional<SystemMemory> parseSystemMemory(const QByteArray& procMeminfo) {
    const std::optional<qint64> total = meminfoKiB(procMeminfo, "MemTotal");
    const std::optional<qint64> available = meminfoKiB(procMeminfo, "MemAvailable");
    if (!total || !available) return std::nullopt;
    return SystemMemory{*total * 1024, *available * 1024};
}

std::optional<SystemMemory> readSystemMemory() {
    return parseSystemMemory(proc::readProcFile(QStringLiteral("/proc/meminfo")));
}

MemoryFit classifyMemoryFit(qint64 neededBytes, const SystemMemory& memory) {
    if (neededBytes <= static_cast<qint64>(kFitHeadroom * static_cast<double>(memory.availableBytes)))
        return MemoryFit::Fits;
    if (neededBytes <= memory.totalBytes) return MemoryFit::Tight;
    return MemoryFit::DoesNotFit;
}

QString memoryFitName(MemoryFit fit) {
    switch (fit) {
        case MemoryFit::Fits:
            return QStringLiteral("fits");
        case MemoryFit::Tight:
            return QStringLiteral("tight");
        case MemoryFit::DoesNotFit:
            return QStringLiteral("does not fit");
    }
    return {};
}

QString formatBytes(qint64 bytes) {
    static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        ++u;
    }
    if (u == 0) return QStringLiteral("%1 B").arg(bytes);
    return QStringLiteral("%1 %2").arg(v, 0, 'f', v < 10 ? 2 : (v < 100 ? 1 : 0)).arg(QLatin1String(units[u]));
}

QString formatQuantity(qint64 n, const QString& singular, const QString& plural) {
    return QStringLiteral("%1 %2").arg(n).arg(n == 1 ? singular : plural);
}

QString formatCount(qint64 count) {
    const double v = static_cast<double>(count);
    auto fmt = [](double x, const char* unit) {
        return QStringLiteral("%1 %2").arg(x, 0, 'f', x < 10 ? 2 : (x < 100 ? 1 : 0)).arg(QLatin1String(unit));
    };
    if (count >= 1000000000) return fmt(v / 1e9, "B");
    if (count >= 1000000) return fmt(v / 1e6, "M");
    if (count >= 1000) return fmt(v / 1e3, "K");
    return QString::number(count);
}

}  // namespace moe::app
