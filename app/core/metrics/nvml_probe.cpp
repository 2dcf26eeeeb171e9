#include "metrics/nvml_probe.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstring>

namespace moe::app {

namespace {

// The few NVML entry points we use, declared from NVIDIA's documented C API: every function returns an
// nvmlReturn_t (an int, 0 = NVML_SUCCESS); devices are opaque handles.
using NvmlDevice = void*;
struct NvmlUtilization {
    unsigned int gpu;
    unsigned int memory;
};
struct NvmlMemory {
    unsigned long long total;
    unsigned long long free;
    unsigned long long used;
};
constexpr int kNvmlTemperatureGpu = 0;
constexpr unsigned int kNvmlDeviceNameBufferSize = 96;

}  // namespace

struct NvmlProbe::Api {
    int (*init)() = nullptr;
    int (*shutdown)() = nullptr;
    const char* (*errorString)(int) = nullptr;
    int (*deviceCount)(unsigned int*) = nullptr;
    int (*handleByIndex)(unsigned int, NvmlDevice*) = nullptr;
    int (*name)(NvmlDevice, char*, unsigned int) = nullptr;
    int (*utilization)(NvmlDevice, NvmlUtilization*) = nullptr;
    int (*memory)(NvmlDevice, NvmlMemory*) = nullptr;
    int (*power)(NvmlDevice, unsigned int*) = nullptr;  // milliwatts
    int (*temperature)(NvmlDevice, int, unsigned int*) = nullptr;
};

namespace {

template <class F>
bool resolve(void* library, const char* symbol, F* out) {
    *out = reinterpret_cast<F>(dlsym(library, symbol));
    return *out != nullptr;
}

}  // namespace

NvmlProbe::~NvmlProbe() {
    unload();
}

void NvmlProbe::unload() {
    if (m_initialised && m_api && m_api->shutdown) m_api->shutdown();
    m_initialised = false;
    delete m_api;
    m_api = nullptr;
    if (m_library) dlclose(m_library);
    m_library = nullptr;
    m_available = false;
}

bool NvmlProbe::initialise(const QString& libraryName) {
    unload();
    m_library = dlopen(libraryName.toLocal8Bit().constData(), RTLD_NOW | RTLD_LOCAL);
    if (!m_library) {
        const char* why = dlerror();
        m_reason = QStringLiteral("no NVIDIA driver: cannot load %1 (%2)")
                       .arg(libraryName, QString::fromLocal8Bit(why ? why : "unknown error"));
        return false;
    }
    m_api = new Api;
    const bool resolved = resolve(m_library, "nvmlInit_v2", &m_api->init) &&
                          resolve(m_library, "nvmlShutdown", &m_api->shutdown) &&
                          resolve(m_library, "nvmlErrorString", &m_api->errorString) &&
                          resolve(m_library, "nvmlDeviceGetCount_v2", &m_api->deviceCount) &&
                          resolve(m_library, "nvmlDeviceGetHandleByIndex_v2", &m_api->handleByIndex) &&
                          resolve(m_library, "nvmlDeviceGetName", &m_api->name) &&
                          resolve(m_library, "nvmlDeviceGetUtilizationRates", &m_api->utilization) &&
                          resolve(m_library, "nvmlDeviceGetMemoryInfo", &m_api->memory) &&
                          resolve(m_library, "nvmlDeviceGetPowerUsage", &m_api->power) &&
                          resolve(m_library, "nvmlDeviceGetTemperature", &m_api->temperature);
    if (!resolved) {
        m_reason = QStringLiteral("%1 lacks an NVML function this program needs (driver too old?)").arg(libraryName);
        unload();
        return false;
    }
    const int initStatus = m_api->init();
    if (initStatus != 0) {
        m_reason = QStringLiteral("NVML could not start (the NVIDIA driver is not loaded?): %1")
                       .arg(QString::fromLocal8Bit(m_api->errorString(initStatus)));
        unload();
        return false;
    }
    m_initialised = true;
    unsigned int count = 0;
    if (m_api->deviceCount(&count) != 0 || count == 0) {
        m_reason = QStringLiteral("NVML found no GPU");
        unload();
        return false;
    }
    m_deviceCount = static_cast<int>(count);
    NvmlDevice device = nullptr;
    char name[kNvmlDeviceNameBufferSize] = {};
    if (m_api->handleByIndex(0, &device) == 0 && m_api->name(device, name, sizeof(name)) == 0) {
        m_deviceName = QString::fromLocal8Bit(name, static_cast<int>(strnlen(name, sizeof(name))));
    }
    m_available = true;
    m_reason.clear();
    return true;
}

GpuReading NvmlProbe::read() {
    GpuReading reading;
    if (!m_available) return reading;
    double utilSum = 0.0;
    int utilCount = 0;
    for (int i = 0; i < m_deviceCount; ++i) {
        NvmlDevice device = nullptr;
        if (m_api->handleByIndex(static_cast<unsigned int>(i), &device) != 0) continue;
        NvmlUtilization util = {0, 0};
        if (m_api->utilization(device, &util) == 0) {
            utilSum += util.gpu;
            ++utilCount;
        }
        NvmlMemory memory = {0, 0, 0};
        if (m_api->memory(device, &memory) == 0) {
            reading.memUsedBytes = reading.memUsedBytes.value_or(0) + static_cast<qint64>(memory.used);
        }
        unsigned int milliwatts = 0;
        if (m_api->power(device, &milliwatts) == 0) reading.powerW = reading.powerW.value_or(0.0) + milliwatts / 1000.0;
        unsigned int celsius = 0;
        if (m_api->temperature(device, kNvmlTemperatureGpu, &celsius) == 0) {
            reading.tempC = std::max(reading.tempC.value_or(0.0), static_cast<double>(celsius));
        }
    }
    if (utilCount > 0) reading.utilPercent = utilSum / utilCount;
    return reading;
}

}  // namespace moe::app
