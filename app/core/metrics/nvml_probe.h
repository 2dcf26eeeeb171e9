// GPU figures through NVML, found at run time: libnvidia-ml.so.1 is dlopen'ed with self-declared
// prototypes (there is no nvml.h to build against), so the app starts and samples the CPU on machines
// without an NVIDIA driver. Not thread-safe: one probe per sampler thread.
#pragma once

#include <QString>

#include <optional>

namespace moe::app {

// Summed over all GPUs (memory, power) or averaged (utilisation); temperature is the hottest GPU's.
struct GpuReading {
    std::optional<double> utilPercent;
    std::optional<qint64> memUsedBytes;
    std::optional<double> powerW;
    std::optional<double> tempC;
};

class NvmlProbe {
public:
    NvmlProbe() = default;
    ~NvmlProbe();  // nvmlShutdown + dlclose
    NvmlProbe(const NvmlProbe&) = delete;
    NvmlProbe& operator=(const NvmlProbe&) = delete;

    // Loads the library and initialises NVML. False with unavailableReason() set when there is no GPU
    // to sample (library missing, driver not loaded, no device).
    bool initialise(const QString& libraryName = QStringLiteral("libnvidia-ml.so.1"));
    bool available() const { return m_available; }
    QString unavailableReason() const { return m_reason; }
    int deviceCount() const { return m_deviceCount; }
    QString deviceName() const { return m_deviceName; }  // the first GPU's

    GpuReading read();

private:
    struct Api;
    void unload();

    void* m_library = nullptr;
    Api* m_api = nullptr;
    bool m_initialised = false;
    bool m_available = false;
    int m_deviceCount = 0;
    QString m_deviceName;
    QString m_reason = QStringLiteral("NVML not probed yet");
};

}  // namespace moe::app
