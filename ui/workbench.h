// The whole application below main(): the Store on its data folder, the model and chat services on their
// worker threads, the metrics sampler, the main window and its pages, wired together. main() parses the
// command line and runs `Workbench wb(dataDir); wb.open(); wb.window()->show(); exec()`; tests build one on
// a temporary folder, drive its widgets, destroy it and build another on the same folder (a restart).
//
// Shutdown (the destructor): cancel a running load, stop a running reply, close the window (its pages
// let go of the services), join the chat and model threads, stop the sampler (its last samples reach the
// Store), close the Store (every queued write commits). In that order: each step only uses what is still
// alive.
#pragma once

#include <QObject>
#include <QString>

#include <memory>

namespace moe::app {
class ChatService;
class MetricsSampler;
class ModelService;
class Store;
class WorkerThread;
}  // namespace moe::app

namespace moe::app::ui {
class ChatPage;
}

namespace moe::ui {

class MainWindow;
class MetricsPage;
class ModelsPage;
class RoutingPage;

class Workbench : public QObject {
    Q_OBJECT

public:
    struct Options {
        int samplerIntervalMs = 1000;  // the metrics sampler's period
        bool addDemoModel = true;      // list the bundled demo model at first start
        QString demoModelPath;         // empty: the installed one, else the source tree's
    };

    explicit Workbench(const QString& dataDir, QObject* parent = nullptr);
    Workbench(const QString& dataDir, const Options& options, QObject* parent = nullptr);
    ~Workbench() override;

    // Opens the database (dataDir/workbench.sqlite), starts the services and builds the window (not shown).
    // Returns an error message naming the file, empty on success; on failure nothing else was started.
    QString open();
    // Adds the model at `path` to the library (if needed) and loads it once it has been described.
    void loadModelAtStart(const QString& path);
    // Settings (window state, theme, the demo model's first-start flag) as an INI file in `dataDir`, so a
    // test or a second profile never touches the user's own. Process-wide: call before constructing.
    static void keepSettingsIn(const QString& dataDir);
    // The bundled random-weight model: installed beside the program, else in the source tree; empty if neither.
    static QString bundledDemoModelPath();

    QString dataDir() const { return m_dataDir; }
    QString databasePath() const;
    app::Store* store() const { return m_store.get(); }
    app::ModelService* modelService() const { return m_modelService; }
    app::ChatService* chatService() const { return m_chatService; }
    app::MetricsSampler* sampler() const { return m_sampler.get(); }
    MainWindow* window() const { return m_window.get(); }
    ModelsPage* modelsPage() const { return m_models; }
    app::ui::ChatPage* chatPage() const { return m_chat; }
    RoutingPage* routingPage() const { return m_routing; }
    MetricsPage* metricsPage() const { return m_metrics; }

public Q_SLOTS:
    // The Routing page with the shown branch's replies, `messageId`'s reply selected; switches to it.
    void openRoutingOf(qint64 messageId);

private:
    void startServices();
    void buildWindow();
    void connectPages();
    void shutdown();

    const QString m_dataDir;
    const Options m_options;
    std::unique_ptr<app::Store> m_store;
    app::ModelService* m_modelService = nullptr;  // owned by m_modelThread, deleted on its thread
    app::ChatService* m_chatService = nullptr;    // owned by m_chatThread
    std::unique_ptr<app::WorkerThread> m_modelThread;
    std::unique_ptr<app::WorkerThread> m_chatThread;
    std::unique_ptr<app::MetricsSampler> m_sampler;
    std::unique_ptr<MainWindow> m_window;
    ModelsPage* m_models = nullptr;  // the pages: owned by the window
    app::ui::ChatPage* m_chat = nullptr;
    RoutingPage* m_routing = nullptr;
    MetricsPage* m_metrics = nullptr;
    bool m_startModelLoaded = false;
};

}  // namespace moe::ui
