// Engine headers (through the services) before Qt's: the engine has identifiers Qt defines as macros.
#include "services/chat_service.h"
#include "services/model_service.h"

#include "workbench.h"

#include "main_window.h"
#include "metrics/metrics_sampler.h"
#include "models/routing_relay.h"
#include "pages/chat_page.h"
#include "pages/metrics_page.h"
#include "pages/models_page.h"
#include "pages/routing_page.h"
#include "services/worker_thread.h"
#include "storage/store.h"
#include "theme/theme.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QSettings>

namespace moe::ui {

Workbench::Workbench(const QString& dataDir, QObject* parent) : Workbench(dataDir, Options(), parent) {}

Workbench::Workbench(const QString& dataDir, const Options& options, QObject* parent)
    : QObject(parent), m_dataDir(QDir(dataDir).absolutePath()), m_options(options) {}

Workbench::~Workbench() {
    shutdown();
}

void Workbench::keepSettingsIn(const QString& dataDir) {
    QSettings::setDefaultFormat(QSettings::IniFormat);
    QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, QDir(dataDir).absolutePath());
}

QString Workbench::bundledDemoModelPath() {
    const QString name = QStringLiteral("demo-deepseek-v3-tiny-q8_0.gguf");
    const QStringList candidates = {
        QCoreApplication::applicationDirPath() + QStringLiteral("/../share/moe-workbench/models/") + name,
        QStringLiteral(MOE_SOURCE_DIR "/resources/models/") + name,
    };
    for (const QString& path : candidates)
        if (QFileInfo::exists(path)) return QFileInfo(path).canonicalFilePath();
    return {};
}

QString Workbench::databasePath() const {
    return m_dataDir + QStringLiteral("/workbench.sqlite");
}

QString Workbench::open() {
    if (m_store) return QString();
    auto store = std::make_unique<app::Store>();
    if (const QString error = store->open(databasePath()); !error.isEmpty()) return error;
    m_store = std::move(store);
    Theme::apply(Theme::savedMode());
    startServices();
    buildWindow();
    connectPages();
    m_models->reloadLibrary();
    if (m_options.addDemoModel) {
        const QString demo = m_options.demoModelPath.isEmpty() ? bundledDemoModelPath() : m_options.demoModelPath;
        m_models->addDemoModelOnce(demo);
    }
    m_window->restoreSavedState();
    return QString();
}

void Workbench::startServices() {
    m_modelService = new app::ModelService;
    m_modelThread = std::make_unique<app::WorkerThread>(m_modelService, QStringLiteral("model"));
    m_chatService = new app::ChatService(m_store.get());
    m_chatThread = std::make_unique<app::WorkerThread>(m_chatService, QStringLiteral("chat"));
    app::MetricsSamplerOptions samplerOptions;
    samplerOptions.intervalMs = m_options.samplerIntervalMs;
    m_sampler = std::make_unique<app::MetricsSampler>(samplerOptions, m_store.get());
    m_sampler->start();
    // The loaded model goes to the chat worker (queued: the lambda runs on the chat thread).
    app::ChatService* chat = m_chatService;
    connect(m_modelService, &app::ModelService::modelLoaded, chat,
            [chat](const std::shared_ptr<moe::Model>& model, const app::ModelSummary& summary) {
                chat->setModel(model, summary.modelId);
            });
    connect(m_modelService, &app::ModelService::modelUnloaded, chat, [chat] { chat->setModel(nullptr, 0); });
}

void Workbench::buildWindow() {
    m_window = std::make_unique<MainWindow>(m_modelService);
    m_models = new ModelsPage(m_store.get(), m_modelService);
    m_window->setModelsPage(m_models);
    m_window->setMetricsSampler(m_sampler.get());
    m_chat = new app::ui::ChatPage(m_store.get(), m_chatService);
    m_window->addPage(QStringLiteral("chat"), tr("Chat"), IconKind::Chat, m_chat);
    m_routing = new RoutingPage;
    m_window->addPage(QStringLiteral("routing"), tr("Routing"), IconKind::Routing, m_routing);
    m_metrics = new MetricsPage;
    m_metrics->setStore(m_store.get());
    m_metrics->setSampler(m_sampler.get());
    m_window->addPage(QStringLiteral("metrics"), tr("Metrics"), IconKind::Metrics, m_metrics);
}

void Workbench::connectPages() {
    auto* relay = new app::RoutingRelay(m_window.get());
    relay->setLabelProvider([chat = m_chat](qint64 messageId) { return chat->replyLabel(messageId); });
    connect(m_chat, &app::ui::ChatPage::routingSnapshot, relay, &app::RoutingRelay::onSnapshot);
    // A reply that starts streaming joins the routing of the branch it belongs to (not another chat's).
    connect(relay, &app::RoutingRelay::liveReplyStarted, m_routing, [this, relay](const QString& label) {
        m_routing->showBranch(m_chat->branchRouting(0, relay->liveMessageId()));
        m_routing->beginLiveReply(label);
    });
    connect(relay, &app::RoutingRelay::liveRows, m_routing, &RoutingPage::appendLiveRows);
    connect(relay, &app::RoutingRelay::liveReplyFinished, m_routing, &RoutingPage::finishLiveReply);
    connect(m_chat, &app::ui::ChatPage::lastTokensPerSecond, m_window.get(), &MainWindow::setLastTokensPerSecond);
    connect(m_chat, &app::ui::ChatPage::modelsPageRequested, m_window.get(),
            [this] { m_window->showPage(QStringLiteral("models")); });
    connect(m_chat, &app::ui::ChatPage::routingPageRequested, this, &Workbench::openRoutingOf);
    connect(m_routing, &RoutingPage::statusMessage, m_window.get(), &MainWindow::showStatusMessage);
    // A reply's request row is queued before the reply ends: once it committed, the metrics show it.
    connect(m_chatService, &app::ChatService::replyFinished, m_metrics, [this] {
        m_store->flush().then(m_metrics, [metrics = m_metrics](const app::WriteResult&) {
            if (metrics->range() == MetricsPage::Range::Live) metrics->reload();
        });
    });
    // A Routing page opened with nothing to show takes the chat's branch: after a restart the last
    // conversation's routing is one click away.
    connect(m_window.get(), &MainWindow::pageChanged, this, [this](const QString& id) {
        if (id != QLatin1String("routing") || m_routing->viewModel().data().nRows() > 0 || m_chat->isGenerating())
            return;
        const QList<app::Message>& shown = m_chat->shownMessages();
        for (auto it = shown.rbegin(); it != shown.rend(); ++it)
            if (it->role == app::MessageRole::Assistant) {
                m_routing->showBranch(m_chat->branchRouting(it->id));
                return;
            }
    });
}

void Workbench::openRoutingOf(qint64 messageId) {
    // While a reply streams the page already shows its branch, the live reply growing as its last part.
    if (!m_chat->isGenerating()) m_routing->showBranch(m_chat->branchRouting(messageId));
    m_window->showPage(QStringLiteral("routing"));
}

void Workbench::loadModelAtStart(const QString& path) {
    const QString file = QFileInfo(path).absoluteFilePath();
    m_window->showPage(QStringLiteral("models"));
    // Load once its description arrived (it is read on the thread pool).
    connect(m_models, &ModelsPage::described, this, [this, file](const QString& described, bool ok) {
        if (!ok || described != file || m_startModelLoaded) return;
        m_startModelLoaded = true;
        m_models->selectPath(file);
        m_models->loadSelected();
    });
    m_models->addPaths({file});
    if (!m_startModelLoaded && m_models->libraryModel()->rowOfPath(file) >= 0 && m_models->pendingDescribes() == 0) {
        m_startModelLoaded = true;
        m_models->selectPath(file);
        m_models->loadSelected();
    }
}

void Workbench::shutdown() {
    if (!m_store) return;
    m_modelService->cancelLoad();
    m_chatService->requestStop();
    m_window.reset();
    m_chatThread.reset();
    m_modelThread.reset();
    m_sampler.reset();
    m_store->close();
    m_store.reset();
}

}  // namespace moe::ui
