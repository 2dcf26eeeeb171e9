// moe-workbench: the desktop application. Opens the Store, starts the services on their threads, shows the
// main window; on quit it cancels a running load, joins the threads and closes the Store, in that order.
//   moe-workbench [--data-dir DIR] [--model PATH]
// Engine headers (through the services) before Qt's: the engine has identifiers Qt defines as macros.
#include "services/chat_service.h"
#include "services/model_service.h"

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

#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>
#include <QMessageBox>
#include <QSettings>
#include <QStandardPaths>
#include <QTimer>

namespace {

// The bundled random-weight model: installed beside the program, else in the source tree it was built from.
QString demoModelPath() {
    const QString name = QStringLiteral("demo-deepseek-v3-tiny-q8_0.gguf");
    const QStringList candidates = {
        QCoreApplication::applicationDirPath() + QStringLiteral("/../share/moe-workbench/models/") + name,
        QStringLiteral(MOE_SOURCE_DIR "/resources/models/") + name,
    };
    for (const QString& path : candidates)
        if (QFileInfo::exists(path)) return QFileInfo(path).canonicalFilePath();
    return {};
}

}  // namespace

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("MoE Workbench"));
    QApplication::setApplicationName(QStringLiteral("moe-workbench"));
    QApplication::setApplicationDisplayName(QStringLiteral("MoE Workbench"));
    QApplication::setApplicationVersion(QStringLiteral("0.4.0"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Desktop workbench for DeepSeek-family MoE models"));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption dataDirOption(
        QStringLiteral("data-dir"), QStringLiteral("Keep the database and settings in DIR."), QStringLiteral("DIR"));
    const QCommandLineOption modelOption(QStringLiteral("model"),
                                         QStringLiteral("Add the model at PATH to the library and load it."),
                                         QStringLiteral("PATH"));
    parser.addOption(dataDirOption);
    parser.addOption(modelOption);
    parser.process(app);

    QString dataDir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    if (parser.isSet(dataDirOption)) {
        dataDir = QDir(parser.value(dataDirOption)).absolutePath();
        // Settings beside the database, so a test or a screenshot run never touches the user's own.
        QSettings::setDefaultFormat(QSettings::IniFormat);
        QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, dataDir);
    }
    moe::ui::Theme::apply(moe::ui::Theme::savedMode());

    moe::app::Store store;
    const QString dbPath = dataDir + QStringLiteral("/workbench.sqlite");
    if (const QString error = store.open(dbPath); !error.isEmpty()) {
        QMessageBox::critical(nullptr, QStringLiteral("MoE Workbench"),
                              QStringLiteral("The workbench database could not be opened.\n\n%1").arg(error));
        return 1;
    }

    auto* modelService = new moe::app::ModelService;
    moe::app::WorkerThread modelThread(modelService, QStringLiteral("model"));
    auto* chatService = new moe::app::ChatService(&store);
    moe::app::WorkerThread chatThread(chatService, QStringLiteral("chat"));
    moe::app::MetricsSampler sampler(&store);
    sampler.start();
    // The loaded model goes to the chat worker (queued: it lives on its own thread).
    QObject::connect(modelService, &moe::app::ModelService::modelLoaded, chatService,
                     [chatService](const std::shared_ptr<moe::Model>& model, const moe::app::ModelSummary& summary) {
                         chatService->setModel(model, summary.modelId);
                     });
    QObject::connect(modelService, &moe::app::ModelService::modelUnloaded, chatService,
                     [chatService] { chatService->setModel(nullptr, 0); });

    int rc = 0;
    {
        moe::ui::MainWindow window(modelService);
        auto* models = new moe::ui::ModelsPage(&store, modelService);
        window.setModelsPage(models);
        window.setMetricsSampler(&sampler);
        auto* chat = new moe::app::ui::ChatPage(&store, chatService);
        window.addPage(QStringLiteral("chat"), QObject::tr("Chat"), moe::ui::IconKind::Chat, chat);
        auto* routing = new moe::ui::RoutingPage;
        window.addPage(QStringLiteral("routing"), QObject::tr("Routing"), moe::ui::IconKind::Routing, routing);
        auto* metrics = new moe::ui::MetricsPage;
        metrics->setStore(&store);
        metrics->setSampler(&sampler);
        window.addPage(QStringLiteral("metrics"), QObject::tr("Metrics"), moe::ui::IconKind::Metrics, metrics);
        auto* relay = new moe::app::RoutingRelay(&window);
        QObject::connect(chat, &moe::app::ui::ChatPage::routingSnapshot, relay, &moe::app::RoutingRelay::onSnapshot);
        QObject::connect(relay, &moe::app::RoutingRelay::liveReplyStarted, routing, &moe::ui::RoutingPage::beginLiveReply);
        QObject::connect(relay, &moe::app::RoutingRelay::liveRows, routing, &moe::ui::RoutingPage::appendLiveRows);
        QObject::connect(relay, &moe::app::RoutingRelay::liveReplyFinished, routing,
                         &moe::ui::RoutingPage::finishLiveReply);
        QObject::connect(chat, &moe::app::ui::ChatPage::lastTokensPerSecond, &window,
                         &moe::ui::MainWindow::setLastTokensPerSecond);
        QObject::connect(chat, &moe::app::ui::ChatPage::modelsPageRequested, &window,
                         [&window] { window.showPage(QStringLiteral("models")); });
        models->reloadLibrary();
        models->addDemoModelOnce(demoModelPath());
        window.restoreSavedState();
        window.show();
        if (parser.isSet(modelOption)) {
            const QString path = QFileInfo(parser.value(modelOption)).absoluteFilePath();
            window.showPage(QStringLiteral("models"));
            // Load once its description arrived (it is read on the thread pool).
            QObject::connect(models, &moe::ui::ModelsPage::described, models,
                             [models, path](const QString& p, bool ok) {
                                 if (ok && p == path && !models->property("startModelLoaded").toBool()) {
                                     models->setProperty("startModelLoaded", true);
                                     models->selectPath(path);
                                     models->loadSelected();
                                 }
                             });
            models->addPaths({path});
            if (models->libraryModel()->rowOfPath(path) >= 0 && models->pendingDescribes() == 0) {
                models->selectPath(path);
                models->loadSelected();
            }
        }
        rc = QApplication::exec();
        modelService->cancelLoad();
        chatService->requestStop();
    }
    chatThread.stop();
    modelThread.stop();
    sampler.stop();
    store.close();
    return rc;
}
