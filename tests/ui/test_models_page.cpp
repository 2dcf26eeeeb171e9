// The Models page and the main window, driven offscreen: add a fixture model and see it described, load it
// (progress to the end, status bar), cancel a load, a corrupt file's error naming it, drag-and-drop of a
// folder, the bundled demo model, a restart finding the library, shortcuts and remembered state, the theme;
// screenshots of the window in light and dark.
// Engine headers first: Qt's `emit` macro would break the tokenizer's emit() method.
#include "model/fixture_writer.h"

#include "main_window.h"
#include "pages/models_page.h"
#include "services/model_service.h"
#include "services/worker_thread.h"
#include "storage/store.h"
#include "theme/theme.h"
#include "widgets/message_banner.h"
#include "widgets/model_details_panel.h"

#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QLabel>
#include <QMimeData>
#include <QProgressBar>
#include <QPushButton>
#include <QSemaphore>
#include <QSettings>
#include <QSignalSpy>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>

using namespace moe::app;
using namespace moe::ui;

class TestModelsPage : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    QString m_fixture;
    QString m_corrupt;
    QString m_db;
    std::unique_ptr<Store> m_store;
    ModelService* m_service = nullptr;
    std::unique_ptr<WorkerThread> m_thread;
    std::unique_ptr<MainWindow> m_window;
    ModelsPage* m_page = nullptr;

    void openWindow() {
        m_store = std::make_unique<Store>();
        QCOMPARE(m_store->open(m_db), QString());
        m_service = new ModelService;
        m_thread = std::make_unique<WorkerThread>(m_service, QStringLiteral("model"));
        m_window = std::make_unique<MainWindow>(m_service);
        m_page = new ModelsPage(m_store.get(), m_service);
        m_window->setModelsPage(m_page);
        m_window->addPage(QStringLiteral("chat"), QStringLiteral("Chat"), IconKind::Chat, new QLabel("chat"));
        m_window->addPage(QStringLiteral("routing"), QStringLiteral("Routing"), IconKind::Routing, new QLabel("r"));
        m_window->addPage(QStringLiteral("metrics"), QStringLiteral("Metrics"), IconKind::Metrics, new QLabel("m"));
        m_window->resize(1280, 800);
        m_window->show();
        m_page->reloadLibrary();
    }

    void closeWindow() {
        if (m_window) m_window->close();
        m_window.reset();
        m_thread.reset();
        if (m_store) m_store->close();
        m_store.reset();
    }

    // Adds `path` and waits until it is described; returns whether describing succeeded.
    bool addAndWait(const QString& path) {
        QSignalSpy described(m_page, &ModelsPage::described);
        m_page->addPaths({path});
        if (!(described.count() > 0 || described.wait(10000))) return false;
        if (!described.first().at(1).toBool()) return false;
        // And written to the Store (the library row has its id).
        const QString file = QFileInfo(path).absoluteFilePath();
        QTest::qWaitFor(
            [&] { return m_page->libraryModel()->entry(m_page->libraryModel()->rowOfPath(file)).record.id > 0; }, 5000);
        return m_page->libraryModel()->entry(m_page->libraryModel()->rowOfPath(file)).record.id > 0;
    }

    bool loadSelectedAndWait() {
        QSignalSpy loaded(m_service, &ModelService::modelLoaded);
        m_page->detailsPanel()->loadButton()->click();
        if (!(loaded.count() > 0 || loaded.wait(10000))) return false;
        // The spy saw the signal on the worker thread; wait for the page's queued handler too.
        return QTest::qWaitFor([this] { return !m_page->detailsPanel()->isLoading(); }, 5000);
    }

    QString demoPath() const {
        return QStringLiteral(MOE_SOURCE_DIR "/resources/models/demo-deepseek-v3-tiny-q8_0.gguf");
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(m_dir.isValid());
        QCoreApplication::setOrganizationName(QStringLiteral("moe-test"));
        QSettings::setDefaultFormat(QSettings::IniFormat);
        QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, m_dir.filePath(QStringLiteral("settings")));
        m_fixture = m_dir.filePath(QStringLiteral("fixture-tiny.gguf"));
        moe::FixtureSpec spec = moe::fixture_preset(moe::Arch::Deepseek2, "tiny").value();
        spec.name = "ui-fixture";
        auto written = moe::write_fixture(spec, m_fixture.toStdString());
        QVERIFY2(written.ok(), written.error().c_str());
        m_corrupt = m_dir.filePath(QStringLiteral("broken-model.gguf"));
        QFile f(m_corrupt);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(QByteArray("GGUF\x03\x00\x00\x00", 8) + QByteArray(40, 'x'));
        Theme::apply(ThemeMode::Light);
    }

    void init() {
        m_db = m_dir.filePath(QStringLiteral("data-%1/workbench.sqlite").arg(QTest::currentTestFunction()));
        QSettings().clear();
        openWindow();
    }
    void cleanup() { closeWindow(); }

    void addedFileIsDescribed() {
        QVERIFY(addAndWait(m_fixture));
        ModelLibraryModel* model = m_page->libraryModel();
        const int row = model->rowOfPath(m_fixture);
        QVERIFY(row >= 0);
        QCOMPARE(model->index(row, ModelLibraryModel::Name).data().toString(), QStringLiteral("ui-fixture"));
        QCOMPARE(model->index(row, ModelLibraryModel::Architecture).data().toString(), QStringLiteral("deepseek2"));
        QCOMPARE(model->index(row, ModelLibraryModel::Experts).data().toString(), QStringLiteral("16+1, top-4"));
        QVERIFY(model->index(row, ModelLibraryModel::Quantization).data().toString().startsWith("F32"));
        QCOMPARE(m_page->selectedPath(), m_fixture);
        // The memory plan for the chosen context, in words and numbers against this machine's RAM.
        const QString fit = m_page->detailsPanel()->fitText();
        QVERIFY2(fit.startsWith(QStringLiteral("fits")) && fit.contains(QStringLiteral("Needs")), qPrintable(fit));
        QComboBox* ctx = m_page->detailsPanel()->contextChooser();
        QVERIFY(ctx->count() > 3);
        ctx->setCurrentIndex(ctx->count() - 1);  // the model maximum (163840 tokens)
        QCOMPARE(m_page->detailsPanel()->contextLength(), qint64(163840));
        QVERIFY(m_page->detailsPanel()->fitText() != fit);  // the KV cache grew
        // Written to the Store.
        QTRY_VERIFY(m_page->libraryModel()->entry(row).record.id > 0);
    }

    void loadShowsProgressAndStatus() {
        QVERIFY(addAndWait(m_fixture));
        QSignalSpy progress(m_service, &ModelService::loadProgress);
        QVERIFY(loadSelectedAndWait());
        QVERIFY(!progress.isEmpty());
        QCOMPARE(progress.last().at(0), progress.last().at(1));
        QCOMPARE(m_page->detailsPanel()->progressBar()->value(), 1000);
        QVERIFY(m_window->statusModelText().contains(QStringLiteral("ui-fixture")));
        QVERIFY(m_window->statusDeviceText().contains(QStringLiteral("thread")));
        QVERIFY(m_window->statusMemoryText().startsWith(QStringLiteral("RSS ")));
        QVERIFY(m_page->libraryModel()->entry(m_page->libraryModel()->rowOfPath(m_fixture)).loaded);
        QVERIFY(!m_page->detailsPanel()->loadButton()->isEnabled());
        m_window->setLastTokensPerSecond(987.6);
        QCOMPARE(m_window->statusSpeedText(), QStringLiteral("988 tok/s"));

        QSignalSpy unloaded(m_service, &ModelService::modelUnloaded);
        m_page->detailsPanel()->unloadButton()->click();
        QVERIFY((unloaded.count() > 0 || unloaded.wait(5000)));
        QTRY_COMPARE(m_window->statusModelText(), QStringLiteral("No model loaded"));
    }

    void cancelLoad() {
        QVERIFY(addAndWait(m_fixture));
        QSemaphore gate;
        QMetaObject::invokeMethod(
            m_service, [&gate] { gate.acquire(); }, Qt::QueuedConnection);
        QSignalSpy cancelled(m_service, &ModelService::loadCancelled);
        m_page->detailsPanel()->loadButton()->click();
        QVERIFY(m_page->detailsPanel()->cancelButton()->isVisibleTo(m_page));
        m_page->detailsPanel()->cancelButton()->click();
        gate.release();
        QVERIFY((cancelled.count() > 0 || cancelled.wait(5000)));
        QTRY_VERIFY(m_page->banner()->isVisible());
        QVERIFY(m_page->banner()->text().contains(QStringLiteral("cancelled")));
        QVERIFY(!m_service->currentModel());
        QVERIFY(!m_page->detailsPanel()->isLoading());
        QVERIFY(m_page->detailsPanel()->loadButton()->isEnabled());
    }

    void corruptFileShowsErrorNamingIt() {
        QVERIFY(!addAndWait(m_corrupt));
        QVERIFY(m_page->banner()->isVisible());
        QCOMPARE(m_page->banner()->kind(), MessageBanner::Kind::Error);
        QVERIFY2(m_page->banner()->text().contains(QStringLiteral("broken-model.gguf")),
                 qPrintable(m_page->banner()->text()));
        QCOMPARE(m_page->libraryModel()->rowOfPath(m_corrupt), -1);  // not added to the library
        m_page->addPaths({m_dir.filePath(QStringLiteral("empty-folder-that-does-not-exist"))});
        QVERIFY(m_page->banner()->text().contains(QStringLiteral("no such file or folder")));
    }

    void dragAndDropAddsFolder() {
        const QString folder = m_dir.filePath(QStringLiteral("dropped"));
        QVERIFY(QDir().mkpath(folder));
        const QString copy = folder + QStringLiteral("/copy.gguf");
        QFile::remove(copy);
        QVERIFY(QFile::copy(m_fixture, copy));
        QMimeData mime;
        mime.setUrls({QUrl::fromLocalFile(folder)});
        QDragEnterEvent enter(QPoint(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(m_page, &enter);
        QVERIFY(enter.isAccepted());
        QSignalSpy described(m_page, &ModelsPage::described);
        QDropEvent drop(QPointF(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(m_page, &drop);
        QVERIFY((described.count() > 0 || described.wait(10000)));
        QVERIFY(m_page->libraryModel()->rowOfPath(QFileInfo(copy).absoluteFilePath()) >= 0);
    }

    void restartFindsTheLibrary() {
        QVERIFY(addAndWait(m_fixture));
        QVERIFY(loadSelectedAndWait());
        m_store->flush().waitForFinished();
        closeWindow();
        openWindow();  // a new Store on the same file
        QTRY_COMPARE(m_page->pendingDescribes(), 0);
        const int row = m_page->libraryModel()->rowOfPath(m_fixture);
        QVERIFY(row >= 0);
        const LibraryEntry& e = m_page->libraryModel()->entry(row);
        QCOMPARE(e.state, LibraryEntry::State::Ready);
        QVERIFY(e.record.lastLoadedAtMs.has_value());
        QCOMPARE(e.record.name, QStringLiteral("ui-fixture"));
    }

    void demoModelAddedOnceWithLabel() {
        QSignalSpy described(m_page, &ModelsPage::described);
        m_page->addDemoModelOnce(demoPath());
        QVERIFY((described.count() > 0 || described.wait(10000)));
        QVERIFY(described.first().at(1).toBool());
        const int row = m_page->libraryModel()->rowOfPath(QFileInfo(demoPath()).absoluteFilePath());
        QVERIFY(row >= 0);
        QVERIFY(m_page->libraryModel()->entry(row).record.isDemo);
        bool labelled = false;
        for (QLabel* l : m_page->detailsPanel()->findChildren<QLabel*>())
            labelled |= l->text() == QStringLiteral("random weights") && l->isVisibleTo(m_page);
        QVERIFY(labelled);
        QVERIFY(loadSelectedAndWait());
        QVERIFY(m_window->statusModelText().contains(QStringLiteral("random weights")));
        // Removed by the user: not added back at the next start.
        m_page->detailsPanel()->removeButton()->click();
        QCOMPARE(m_page->libraryModel()->rowCount(), 0);
        m_page->addDemoModelOnce(demoPath());
        QCOMPARE(m_page->libraryModel()->rowCount(), 0);
        m_store->flush().waitForFinished();
        QCOMPARE(m_store->listModels().value().size(), 0);
    }

    void shortcutsAndRememberedState() {
        QCOMPARE(m_window->currentPageId(), QStringLiteral("models"));
        m_window->activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(m_window.get()));
        QTest::keyClick(m_window.get(), Qt::Key_3, Qt::ControlModifier);
        QCOMPARE(m_window->currentPageId(), QStringLiteral("routing"));
        QTest::keyClick(m_window.get(), Qt::Key_1, Qt::ControlModifier);
        QCOMPARE(m_window->currentPageId(), QStringLiteral("models"));
        m_window->showPage(QStringLiteral("metrics"));
        m_window->resize(1100, 700);
        closeWindow();
        openWindow();
        m_window->restoreSavedState();
        QCOMPARE(m_window->currentPageId(), QStringLiteral("metrics"));
        QCOMPARE(m_window->size(), QSize(1100, 700));
    }

    void themeIsRemembered() {
        Theme::apply(ThemeMode::Dark);
        QCOMPARE(Theme::savedMode(), ThemeMode::Dark);
        QVERIFY(m_window->palette().color(QPalette::Window).lightness() < 80);
        Theme::apply(ThemeMode::Light);
        QCOMPARE(Theme::savedMode(), ThemeMode::Light);
        QVERIFY(m_window->palette().color(QPalette::Window).lightness() > 200);
    }

    void screenshots() {
        QVERIFY(addAndWait(m_fixture));
        QSignalSpy described(m_page, &ModelsPage::described);
        m_page->addDemoModelOnce(demoPath());
        QVERIFY((described.count() > 0 || described.wait(10000)));
        QVERIFY(loadSelectedAndWait());
        m_window->setLastTokensPerSecond(1043.0);
        for (ThemeMode mode : {ThemeMode::Light, ThemeMode::Dark}) {
            Theme::apply(mode);
            QApplication::processEvents();
            const QString path =
                QStringLiteral(MOE_SCREENSHOT_DIR "/main_window_models_%1.png").arg(Theme::modeName(mode));
            QVERIFY(m_window->grab().save(path));
        }
        Theme::apply(ThemeMode::Light);
    }
};

QTEST_MAIN(TestModelsPage)
#include "test_models_page.moc"
