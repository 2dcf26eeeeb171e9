// The engine header first: its Tokenizer declares a method named emit, which Qt's `emit` macro would break.
#include "model/model.h"

#include "services/model_service.h"

#include "services/model_info.h"

#include <QElapsedTimer>
#include <QThread>
#include <QFileInfo>
#include <QMutexLocker>

#include <algorithm>

namespace moe::app {

namespace {

ModelSummary summaryOf(moe::Model& model, const ModelLoadRequest& request, qint64 loadMs) {
    const moe::HParams& hp = model.hparams();
    const moe::ModelDescription& d = model.description();
    const moe::DeviceInfo device = model.backend().info();
    ModelSummary s;
    s.modelId = request.modelId;
    s.path = request.path;
    s.name = !request.displayName.isEmpty() ? request.displayName
             : d.name.empty()               ? QFileInfo(request.path).completeBaseName()
                                            : QString::fromStdString(d.name);
    s.architecture = QString::fromUtf8(moe::arch_name(hp.arch));
    s.deviceName = QString::fromStdString(device.name);
    s.deviceKind = QString::fromStdString(device.kind);
    s.trainContextLength = hp.n_ctx_train;
    s.contextLength =
        request.contextLength > 0 ? std::min<qint64>(request.contextLength, hp.n_ctx_train) : hp.n_ctx_train;
    s.layers = static_cast<int>(hp.n_layer);
    s.moeLayers = static_cast<int>(model.moe_layers().size());
    s.experts = static_cast<int>(hp.n_expert);
    s.expertsUsed = static_cast<int>(hp.n_expert_used);
    s.expertsShared = static_cast<int>(hp.n_expert_shared);
    s.paramsTotal = static_cast<qint64>(d.params.total);
    s.paramsActive = static_cast<qint64>(d.params.active);
    s.weightBytes = static_cast<qint64>(d.weight_bytes);
    s.loadMs = loadMs;
    s.isDemo = request.isDemo;
    return s;
}

}  // namespace

void registerModelServiceMetaTypes() {
    qRegisterMetaType<moe::app::ModelLoadRequest>("moe::app::ModelLoadRequest");
    qRegisterMetaType<moe::app::ModelSummary>("moe::app::ModelSummary");
    qRegisterMetaType<std::shared_ptr<moe::Model>>("std::shared_ptr<moe::Model>");
    qRegisterMetaType<moe::app::ModelInfo>("moe::app::ModelInfo");
}

ModelService::ModelService(QObject* parent) : QObject(parent) {
    registerModelServiceMetaTypes();
}

ModelService::~ModelService() = default;

void ModelService::requestLoad(const ModelLoadRequest& request) {
    // Loading from now on, so a cancel pressed before the queued load starts still stops it.
    m_cancel.store(false);
    m_loading.store(true);
    QMetaObject::invokeMethod(
        this, [this, request] { load(request); }, Qt::QueuedConnection);
}

void ModelService::requestUnload() {
    QMetaObject::invokeMethod(
        this, [this] { unload(); }, Qt::QueuedConnection);
}

std::shared_ptr<moe::Model> ModelService::currentModel() const {
    QMutexLocker lock(&m_mutex);
    return m_model;
}

ModelSummary ModelService::currentSummary() const {
    QMutexLocker lock(&m_mutex);
    return m_summary;
}

void ModelService::setCurrent(std::shared_ptr<moe::Model> model, const ModelSummary& summary) {
    QMutexLocker lock(&m_mutex);
    m_model = std::move(model);
    m_summary = summary;
}

void ModelService::load(const ModelLoadRequest& request) {
    m_loading.store(true);
    if (m_cancel.exchange(false)) {
        m_loading.store(false);
        emit loadCancelled(request.path);
        return;
    }
    // Replacing a model: release the old one first so both never sit in memory together.
    if (currentModel()) unload();
    emit loadStarted(request.path);

    QElapsedTimer clock;
    clock.start();
    QElapsedTimer sinceEmit;
    sinceEmit.start();
    moe::ModelLoadOptions options;
    // Default: every core but one, which stays with the UI thread (a 2-core machine otherwise stalls the
    // event loop past 50 ms while generating).
    options.n_threads = request.threads > 0 ? request.threads : std::max(1, QThread::idealThreadCount() - 1);
    options.prefault = true;
    uint64_t lastDone = 0;
    uint64_t lastTotal = 0;
    options.progress = [this, &sinceEmit, &lastDone, &lastTotal](uint64_t done, uint64_t total) {
        if (m_cancel.load()) return false;
        lastTotal = total;
        // Batched: a progress signal per page would flood the UI's event queue.
        if (done >= total || sinceEmit.elapsed() >= m_progressIntervalMs) {
            sinceEmit.restart();
            lastDone = done;
            emit loadProgress(static_cast<qint64>(done), static_cast<qint64>(total));
        }
        return true;
    };
    moe::Result<std::unique_ptr<moe::Model>> result = moe::Model::load(request.path.toStdString(), options);
    m_loading.store(false);
    if (!result.ok()) {
        if (m_cancel.exchange(false)) {
            emit loadCancelled(request.path);
            return;
        }
        const QString message = QString::fromStdString(result.error());
        const QString file = QFileInfo(request.path).fileName();
        emit loadFailed(request.path, message.contains(file) ? message : request.path + QStringLiteral(": ") + message);
        return;
    }
    if (lastDone != lastTotal) emit loadProgress(static_cast<qint64>(lastTotal), static_cast<qint64>(lastTotal));
    m_cancel.store(false);  // a cancel that came after the last page changes nothing: the model is ready
    std::shared_ptr<moe::Model> model(std::move(result).value());
    const ModelSummary summary = summaryOf(*model, request, clock.elapsed());
    setCurrent(model, summary);
    emit modelLoaded(model, summary);
}

void ModelService::unload() {
    if (!currentModel()) return;
    setCurrent(nullptr, ModelSummary{});
    emit modelUnloaded();
}

}  // namespace moe::app
