// Whether a model's memory plan fits this machine's RAM. Weights are memory-mapped, so a model "fits" when
// the plan leaves headroom in what the system can hand out now (MemAvailable: free memory plus reclaimable
// page cache); it is "tight" when it needs most of that or more (other programs' pages would be evicted,
// generation may stall on the disk), and it "does not fit" beyond the machine's total RAM.
#pragma once

#include <QString>
#include <QtGlobal>

#include <optional>

namespace moe::app {

enum class MemoryFit { Fits, Tight, DoesNotFit };

struct SystemMemory {
    qint64 totalBytes = 0;
    qint64 availableBytes = 0;
};

// From /proc/meminfo text (MemTotal, MemAvailable); nullopt when either is missing.
std::optional<SystemMemory> parseSystemMemory(const QByteArray& procMeminfo);
// Reads /proc/meminfo now; nullopt when it cannot be read.
std::optional<SystemMemory> readSystemMemory();

constexpr double kFitHeadroom = 0.8;  // "fits" leaves at least 20% of the available memory

MemoryFit classifyMemoryFit(qint64 neededBytes, const SystemMemory& memory);
QString memoryFitName(MemoryFit fit);  // "fits", "tight", "does not fit"
// "1.5 GiB", "312 MiB", "980 KiB", "12 B".
QString formatBytes(qint64 bytes);
// "671 B", "37.0 B", "2.10 M", "950 K": parameter counts.
QString formatCount(qint64 count);
// "1 token", "48 tokens": a number with its noun in the singular for exactly one.
QString formatQuantity(qint64 n, const QString& singular, const QString& plural);

}  // namespace moe::app
