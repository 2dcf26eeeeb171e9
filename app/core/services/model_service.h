// The model worker: loads and unloads moe::Model on its own thread (the owner moves it there, see
// WorkerThread) and reports through queued signals. Loading prefaults every weight page with progress, so
// the first reply does not wait on the disk; cancelLoad() (any thread) stops it within one progress step.
//
// Other pages get the model from modelLoaded() (a shared_ptr: a chat worker keeps it alive while it
// generates) and drop it on modelUnloaded(); currentModel()/currentSummary() answer pages created later.
#pragma once

#include <QMetaType>
#include <QMutex>
#include <QObject>
#include <QString>

#include <atomic>
#include <memory>

namespace moe {
class Model;
}

namespace moe::app {

struct ModelLoadRequest {
    QString path;
    qint64 modelId = 0;           // the library row, 0 when not in the library
    qint64 contextLength = 4096;  // n_ctx the chat sessions should use (the Models page's choice)
    int threads = 0;              // <= 0: one per hardware thread
    bool isDemo = false;
    QString displayName;  // the library's name; empty: the model's general.name
};

// What the status bar and the pages show about the loaded model.
struct ModelSummary {
    qint64 modelId = 0;
    QString path;
    QString name;
    QString architecture;
    QString deviceName;             // backend().info().name
    QString deviceKind;             // "cpu" | "cuda"
    qint64 contextLength = 0;       // chosen n_ctx
    qint64 trainContextLength = 0;  // the model's own maximum
    int layers = 0;
    int moeLayers = 0;
    int experts = 0;
    int expertsUsed = 0;
    int expertsShared = 0;
    qint64 paramsTotal = 0;
    qint64 paramsActive = 0;
    qint64 weightBytes = 0;
    qint64 loadMs = 0;
    bool isDemo = false;
};

class ModelService : public QObject {
    Q_OBJECT

public:
    explicit ModelService(QObject* parent = nullptr);
    ~ModelService() override;

    // Thread-safe commands: queued onto the service's thread (a load waits for the one running).
    void requestLoad(const ModelLoadRequest& request);
    void requestUnload();
    // Thread-safe, immediate: the running load stops at its next progress step and emits loadCancelled.
    void cancelLoad() {
        if (m_loading.load()) m_cancel.store(true);
    }
    bool isLoading() const { return m_loading.load(); }

    // Thread-safe snapshots of the loaded model (null / default when none).
    std::shared_ptr<moe::Model> currentModel() const;
    ModelSummary currentSummary() const;

    int progressIntervalMs() const { return m_progressIntervalMs; }
    void setProgressIntervalMs(int ms) { m_progressIntervalMs = ms; }

public Q_SLOTS:
    // Run on the service's thread (requestLoad/requestUnload queue them). A load replaces the current model.
    void load(const moe::app::ModelLoadRequest& request);
    void unload();

Q_SIGNALS:
    void loadStarted(const QString& path);
    // Bytes of weights read so far; emitted at most every progressIntervalMs, and once at the end.
    void loadProgress(qint64 doneBytes, qint64 totalBytes);
    void modelLoaded(std::shared_ptr<moe::Model> model, const moe::app::ModelSummary& summary);
    void loadFailed(const QString& path, const QString& message);  // message names the file
    void loadCancelled(const QString& path);
    void modelUnloaded();

private:
    void setCurrent(std::shared_ptr<moe::Model> model, const ModelSummary& summary);

    std::atomic<bool> m_cancel{false};
    std::atomic<bool> m_loading{false};
    int m_progressIntervalMs = 30;
    mutable QMutex m_mutex;  // guards the two below (read from other threads)
    std::shared_ptr<moe::Model> m_model;
    ModelSummary m_summary;
};

// Registers the types the service's queued signals carry. Called by the constructor; harmless to repeat.
void registerModelServiceMetaTypes();

}  // namespace moe::app

Q_DECLARE_METATYPE(moe::app::ModelLoadRequest)
Q_DECLARE_METATYPE(moe::app::ModelSummary)
Q_DECLARE_METATYPE(std::shared_ptr<moe::Model>)
