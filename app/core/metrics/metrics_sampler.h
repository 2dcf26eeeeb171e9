// The metrics sampler: on its own thread, a timer (1 Hz by default) reads /proc (CPU %, RAM used, this
// process's RSS) and, when NVML loads, the GPUs (utilisation, memory, power, temperature). Each sample goes
// out through the queued signal sampled() (live plots) and, batched, to the Store (history).
//
// Threads: MetricsSampler lives in its owner's thread; its worker (MetricsSamplerWorker) lives on the
// sampler thread, which MetricsSampler creates, moves the worker to, and ends in stop(). The Store must
// outlive the sampler's run (stop() hands the last samples over).
#pragma once

#include "metrics/nvml_probe.h"
#include "metrics/proc_stats.h"
#include "storage/store_types.h"

#include <QList>
#include <QMetaType>
#include <QMutex>
#include <QObject>
#include <QThread>
#include <QTimer>

#include <memory>

Q_DECLARE_METATYPE(moe::app::MetricsSample)

namespace moe::app {

class Store;

struct MetricsSamplerOptions {
    int intervalMs = 1000;
    int storeBatchSamples = 10;  // samples handed to the Store together (the Store batches further)
    QString nvmlLibrary = QStringLiteral("libnvidia-ml.so.1");
    QString procRoot = QStringLiteral("/proc");
};

// Runs on the sampler thread. Created and owned by MetricsSampler; not for direct use.
class MetricsSamplerWorker : public QObject {
    Q_OBJECT

public:
    MetricsSamplerWorker(MetricsSamplerOptions options, Store* store);

public Q_SLOTS:
    void begin();  // probes NVML, takes the first CPU reading, starts the timer
    void end();    // stops the timer, hands the pending samples to the Store, quits the thread

Q_SIGNALS:
    void sampled(const moe::app::MetricsSample& sample);
    void gpuProbed(bool available, const QString& reason, const QString& deviceName);

private:
    void tick();
    MetricsSample readSample();
    void handOver();

    const MetricsSamplerOptions m_options;
    Store* const m_store;
    QTimer* m_timer = nullptr;  // child of the worker: created and stopped on the sampler thread
    NvmlProbe m_nvml;
    std::optional<proc::CpuTimes> m_lastCpu;
    qint64 m_pageBytes = 4096;
    QList<MetricsSample> m_pending;
};

class MetricsSampler : public QObject {
    Q_OBJECT

public:
    explicit MetricsSampler(Store* store = nullptr, QObject* parent = nullptr);
    MetricsSampler(MetricsSamplerOptions options, Store* store, QObject* parent = nullptr);
    ~MetricsSampler() override;  // stop()

    void start();  // no-op when running
    void stop();   // the pending samples reach the Store before it returns
    bool isRunning() const { return m_thread != nullptr; }

    // Known once gpuStatusKnown() was emitted (shortly after start()).
    bool gpuProbed() const;
    bool gpuAvailable() const;
    QString gpuUnavailableReason() const;  // why there is no GPU figure; empty when there is
    QString gpuName() const;
    MetricsSample latest() const;  // the last sample delivered (ts 0: none yet)

Q_SIGNALS:
    void sampled(const moe::app::MetricsSample& sample);
    void gpuStatusKnown(bool available, const QString& reason);

private:
    void onGpuProbed(bool available, const QString& reason, const QString& deviceName);
    void onSampled(const MetricsSample& sample);

    const MetricsSamplerOptions m_options;
    Store* const m_store;
    QThread* m_thread = nullptr;
    MetricsSamplerWorker* m_worker = nullptr;  // deleted on its thread when the thread finishes

    mutable QMutex m_mutex;  // the GPU status and latest sample are read from any thread
    bool m_gpuProbed = false;
    bool m_gpuAvailable = false;
    QString m_gpuReason = QStringLiteral("GPU not probed yet");
    QString m_gpuName;
    MetricsSample m_latest;
};

}  // namespace moe::app
