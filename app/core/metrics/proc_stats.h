// Parsers for the Linux /proc files the metrics sampler reads. Pure functions over the file text, so tests
// feed them fixed strings; malformed text gives std::nullopt, never a crash.
#pragma once

#include <QByteArray>
#include <QString>

#include <optional>

namespace moe::app::proc {

// Jiffies from the aggregate "cpu " line of /proc/stat.
struct CpuTimes {
    quint64 busy = 0;   // user + nice + system + irq + softirq + steal (guest is inside user)
    quint64 total = 0;  // busy + idle + iowait
};
std::optional<CpuTimes> parseCpuTimes(const QByteArray& procStat);
// CPU use between two readings, 0..100 over all cores; nullopt when no time passed or the counters went back.
std::optional<double> cpuPercentBetween(const CpuTimes& earlier, const CpuTimes& later);

// MemTotal - MemAvailable from /proc/meminfo, in bytes (what the system cannot give to a new program).
std::optional<qint64> parseMemUsedBytes(const QByteArray& procMeminfo);
// Resident set size from /proc/self/statm (its second field, in pages).
std::optional<qint64> parseStatmRssBytes(const QByteArray& procStatm, qint64 pageBytes);

// Reads a whole small /proc file (their size is unknown until read); empty on failure.
QByteArray readProcFile(const QString& path);

}  // namespace moe::app::proc
