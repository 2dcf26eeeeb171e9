#include "metrics/metrics_sampler.h"

#include "storage/store.h"

#include <QDateTime>
#include <QMutexLocker>

#include <unistd.h>

namespace moe::app {

MetricsSamplerWorker::MetricsSamplerWorker(MetricsSamplerOptions options, Store* store)
    : m_options(std::move(options)), m_store(store) {
    const long pageBytes = sysconf(_SC_PAGESIZE);
    if (pageBytes > 0) m_pageBytes = pageBytes;
}

void MetricsSamplerWorker::begin() {
    const bool gpu = m_nvml.initialise(m_options.nvmlLibrary);
    Q_EMIT gpuProbed(gpu, m_nvml.unavailableReason(), m_nvml.deviceName());
    // CPU % is a difference between two readings: take the first now so the first tick has a figure.
    m_lastCpu = proc::parseCpuTimes(proc::readProcFile(m_options.procRoot + QStringLiteral("/stat")));
    m_timer = new QTimer(this);
    m_timer->setTimerType(Qt::PreciseTimer);
    connect(m_timer, &QTimer::timeout, this, &MetricsSamplerWorker::tick);
    m_timer->start(qMax(1, m_options.intervalMs));
}

void MetricsSamplerWorker::end() {
    if (m_timer) m_timer->stop();
    handOver();
    thread()->quit();
}

MetricsSample MetricsSamplerWorker::readSample() {
    MetricsSample sample;
    sample.tsMs = QDateTime::currentMSecsSinceEpoch();
    const std::optional<proc::CpuTimes> cpu =
        proc::parseCpuTimes(proc::readProcFile(m_options.procRoot + QStringLiteral("/stat")));
    if (cpu && m_lastCpu) sample.cpuPercent = proc::cpuPercentBetween(*m_lastCpu, *cpu);
    if (cpu) m_lastCpu = cpu;
    sample.ramUsedBytes = proc::parseMemUsedBytes(proc::readProcFile(m_options.procRoot + QStringLiteral("/meminfo")));
    sample.rssBytes =
        proc::parseStatmRssBytes(proc::readProcFile(m_options.procRoot + QStringLiteral("/self/statm")), m_pageBytes);
    if (m_nvml.available()) {
        const GpuReading gpu = m_nvml.read();
        sample.gpuUtilPercent = gpu.utilPercent;
        sample.gpuMemUsedBytes = gpu.memUsedBytes;
        sample.gpuPowerW = gpu.powerW;
        sample.gpuTempC = gpu.tempC;
    }
    return sample;
}

void MetricsSamplerWorker::tick() {
    const MetricsSample sample = readSample();
    Q_EMIT sampled(sample);
    if (!m_store) return;
    m_pending.append(sample);
    if (m_pending.size() >= qMax(1, m_options.storeBatchSamples)) handOver();
}

void MetricsSamplerWorker::handOver() {
    if (!m_store || m_pending.isEmpty()) return;
    // Thread-safe: the Store queues the job for its writer. A failure reaches Store::writeFailed.
    m_store->appendSamples(m_pending);
    m_pending.clear();
}

MetricsSampler::MetricsSampler(Store* store, QObject* parent)
    : MetricsSampler(MetricsSamplerOptions{}, store, parent) {}

MetricsSampler::MetricsSampler(MetricsSamplerOptions options, Store* store, QObject* parent)
    : QObject(parent), m_options(std::move(options)), m_store(store) {
    qRegisterMetaType<moe::app::MetricsSample>();
}

MetricsSampler::~MetricsSampler() {
    stop();
}

void MetricsSampler::start() {
    if (m_thread) return;
    m_thread = new QThread(this);
    m_thread->setObjectName(QStringLiteral("metrics sampler"));
    m_worker = new MetricsSamplerWorker(m_options, m_store);
    m_worker->moveToThread(m_thread);
    connect(m_thread, &QThread::started, m_worker, &MetricsSamplerWorker::begin);
    connect(m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
    connect(m_worker, &MetricsSamplerWorker::sampled, this, &MetricsSampler::onSampled);
    connect(m_worker, &MetricsSamplerWorker::gpuProbed, this, &MetricsSampler::onGpuProbed);
    m_thread->start();
}

void MetricsSampler::stop() {
    if (!m_thread) return;
    // end() runs on the sampler thread after any tick in progress, hands the pending samples over and
    // quits the thread's event loop; the worker is then deleted there (finished -> deleteLater).
    QMetaObject::invokeMethod(m_worker, &MetricsSamplerWorker::end, Qt::QueuedConnection);
    m_thread->wait();
    delete m_thread;
    m_thread = nullptr;
    m_worker = nullptr;
}

bool MetricsSampler::gpuProbed() const {
    QMutexLocker lock(&m_mutex);
    return m_gpuProbed;
}

bool MetricsSampler::gpuAvailable() const {
    QMutexLocker lock(&m_mutex);
    return m_gpuAvailable;
}

QString MetricsSampler::gpuUnavailableReason() const {
    QMutexLocker lock(&m_mutex);
    return m_gpuReason;
}

QString MetricsSampler::gpuName() const {
    QMutexLocker lock(&m_mutex);
    return m_gpuName;
}

MetricsSample MetricsSampler::latest() const {
    QMutexLocker lock(&m_mutex);
    return m_latest;
}

void MetricsSampler::onGpuProbed(bool available, const QString& reason, const QString& deviceName) {
    {
        QMutexLocker lock(&m_mutex);
        m_gpuProbed = true;
        m_gpuAvailable = available;
        m_gpuReason = reason;
        m_gpuName = deviceName;
    }
    Q_EMIT gpuStatusKnown(available, reason);
}

void MetricsSampler::onSampled(const MetricsSample& sample) {
    {
        QMutexLocker lock(&m_mutex);
        m_latest = sample;
    }
    Q_EMIT sampled(sample);
}

}  // namespace moe::app
