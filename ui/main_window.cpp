#include "main_window.h"

#include "metrics/metrics_sampler.h"
#include "metrics/proc_stats.h"
#include "pages/models_page.h"
#include "services/memory_fit.h"
#include "theme/theme.h"

#include <QActionGroup>
#include <QApplication>
#include <QCloseEvent>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QMenuBar>
#include <QMessageBox>
#include <QSettings>
#include <QStackedWidget>
#include <QStatusBar>
#include <QThread>
#include <QTimer>
#include <QVBoxLayout>

#include <unistd.h>

namespace moe::ui {

namespace {

QLabel* iconLabel(QWidget* parent) {
    auto* l = new QLabel(parent);
    l->setFixedSize(16, 16);
    l->setContentsMargins(0, 0, 0, 0);
    l->setStyleSheet(QStringLiteral("padding: 0;"));
    return l;
}

QString cpuDeviceText() {
    return QObject::tr("CPU · %1")
        .arg(app::formatQuantity(QThread::idealThreadCount(), QObject::tr("thread"), QObject::tr("threads")));
}

}  // namespace

MainWindow::MainWindow(app::ModelService* modelService, QWidget* parent)
    : QMainWindow(parent), m_service(modelService) {
    setWindowTitle(tr("MoE Workbench"));
    setMinimumSize(960, 600);
    resize(1280, 800);
    auto* central = new QWidget(this);
    auto* h = new QHBoxLayout(central);
    h->setContentsMargins(0, 0, 0, 0);
    h->setSpacing(0);

    auto* side = new QWidget(central);
    side->setObjectName(QStringLiteral("sidebar"));
    auto* sv = new QVBoxLayout(side);
    sv->setContentsMargins(0, 0, 0, 0);
    sv->setSpacing(0);
    m_nav = new QListWidget(side);
    m_nav->setObjectName(QStringLiteral("navigation"));
    m_nav->setIconSize(QSize(20, 20));
    m_nav->setFixedWidth(188);
    m_nav->setFocusPolicy(Qt::StrongFocus);
    m_nav->setAccessibleName(tr("Pages"));
    m_nav->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    sv->addWidget(m_nav, 1);
    h->addWidget(side);

    m_pages = new QStackedWidget(central);
    h->addWidget(m_pages, 1);
    setCentralWidget(central);
    connect(m_nav, &QListWidget::currentRowChanged, m_pages, &QStackedWidget::setCurrentIndex);
    connect(m_pages, &QStackedWidget::currentChanged, this,
            [this](int index) { Q_EMIT pageChanged(m_pageIds.value(index)); });

    buildMenus();
    buildStatusBar();
    connectService();
    m_memoryTimer = new QTimer(this);
    m_memoryTimer->setInterval(2000);
    connect(m_memoryTimer, &QTimer::timeout, this, &MainWindow::readOwnMemory);
    m_memoryTimer->start();
    readOwnMemory();
    refreshIcons();
}

void MainWindow::buildMenus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    m_addModel = file->addAction(tr("&Add Model…"));
    m_addModel->setShortcut(QKeySequence::Open);
    m_load = file->addAction(tr("&Load Selected Model"));
    m_load->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_L));
    m_unload = file->addAction(tr("&Unload Model"));
    m_unload->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_L));
    m_unload->setEnabled(false);
    file->addSeparator();
    QAction* quit = file->addAction(tr("&Quit"));
    quit->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Q));
    quit->setMenuRole(QAction::QuitRole);
    connect(quit, &QAction::triggered, this, &QWidget::close);

    QMenu* view = menuBar()->addMenu(tr("&View"));
    m_goMenu = view->addMenu(tr("&Go to Page"));
    QMenu* theme = view->addMenu(tr("&Theme"));
    auto* group = new QActionGroup(this);
    m_light = theme->addAction(tr("&Light"));
    m_dark = theme->addAction(tr("&Dark"));
    for (QAction* a : {m_light, m_dark}) {
        a->setCheckable(true);
        group->addAction(a);
    }
    (Theme::isDark() ? m_dark : m_light)->setChecked(true);
    connect(m_light, &QAction::triggered, this, [] { Theme::apply(ThemeMode::Light); });
    connect(m_dark, &QAction::triggered, this, [] { Theme::apply(ThemeMode::Dark); });
    QAction* toggle = view->addAction(tr("Toggle &Light/Dark"));
    toggle->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_T));
    connect(toggle, &QAction::triggered, this, [this] { (Theme::isDark() ? m_light : m_dark)->trigger(); });
    view->addSeparator();
    QAction* fullScreen = view->addAction(tr("&Full Screen"));
    fullScreen->setShortcut(QKeySequence::FullScreen);
    if (fullScreen->shortcut().isEmpty()) fullScreen->setShortcut(QKeySequence(Qt::Key_F11));
    connect(fullScreen, &QAction::triggered, this, [this] { isFullScreen() ? showNormal() : showFullScreen(); });

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    QAction* about = help->addAction(tr("&About MoE Workbench"));
    about->setMenuRole(QAction::AboutRole);
    connect(about, &QAction::triggered, this, &MainWindow::showAbout);
}

void MainWindow::buildStatusBar() {
    auto* bar = statusBar();
    bar->setSizeGripEnabled(false);
    auto addPair = [bar](QLabel*& icon, QLabel*& text, QWidget* parent, int stretch) {
        auto* box = new QWidget(parent);
        auto* h = new QHBoxLayout(box);
        h->setContentsMargins(Theme::kSpacingS, 0, Theme::kSpacingXS, 0);
        h->setSpacing(2);
        icon = iconLabel(box);
        text = new QLabel(box);
        h->addWidget(icon);
        h->addWidget(text);
        bar->addPermanentWidget(box, stretch);
    };
    addPair(m_modelIcon, m_model, bar, 0);
    addPair(m_deviceIcon, m_device, bar, 0);
    addPair(m_memoryIcon, m_memory, bar, 0);
    addPair(m_speedIcon, m_speed, bar, 0);
    m_model->setText(tr("No model loaded"));
    m_device->setText(cpuDeviceText());
    m_device->setToolTip(tr("Where the model runs"));
    m_memory->setText(tr("RSS —"));
    m_memory->setToolTip(tr("Memory this process holds (resident set size)"));
    m_speed->setText(tr("— tok/s"));
    m_speed->setToolTip(tr("Decoding speed of the last reply"));
}

void MainWindow::connectService() {
    using app::ModelService;
    connect(m_service, &ModelService::loadStarted, this, [this](const QString& path) {
        m_loadingName = QFileInfo(path).fileName();
        m_model->setText(tr("Loading %1…").arg(m_loadingName));
        m_load->setEnabled(false);
    });
    connect(m_service, &ModelService::loadProgress, this, [this](qint64 done, qint64 total) {
        if (total > 0) m_model->setText(tr("Loading %1… %2%").arg(m_loadingName).arg(100 * done / total));
    });
    connect(m_service, &ModelService::modelLoaded, this,
            [this](const std::shared_ptr<moe::Model>&, const app::ModelSummary& s) {
                m_modelLoaded = true;
                m_model->setText(s.isDemo ? tr("%1 · random weights").arg(s.name) : s.name);
                m_model->setToolTip(tr("%1\n%2 · %3 parameters · context %4")
                                        .arg(s.path, s.architecture, app::formatCount(s.paramsTotal))
                                        .arg(s.contextLength));
                m_device->setText(s.deviceName.isEmpty() ? cpuDeviceText() : s.deviceName);
                m_load->setEnabled(true);
                m_unload->setEnabled(true);
                refreshIcons();
            });
    auto noModel = [this] {
        m_modelLoaded = false;
        m_model->setText(tr("No model loaded"));
        m_model->setToolTip(QString());
        m_load->setEnabled(true);
        m_unload->setEnabled(false);
        refreshIcons();
    };
    connect(m_service, &ModelService::modelUnloaded, this, noModel);
    connect(m_service, &ModelService::loadFailed, this, [this, noModel] {
        if (!m_service->currentModel()) noModel();
        m_load->setEnabled(true);
    });
    connect(m_service, &ModelService::loadCancelled, this, noModel);
}

int MainWindow::addPage(const QString& id, const QString& title, IconKind icon, QWidget* page) {
    const int index = m_pages->addWidget(page);
    m_pageIds << id;
    m_pageIcons << icon;
    auto* item = new QListWidgetItem(Icons::icon(icon), title, m_nav);
    item->setData(Qt::UserRole, id);
    item->setSizeHint(QSize(0, 40));
    if (index < 9) {
        QAction* go = m_goMenu->addAction(Icons::icon(icon), title);
        go->setShortcut(QKeySequence(Qt::CTRL | static_cast<Qt::Key>(Qt::Key_1 + index)));
        connect(go, &QAction::triggered, this, [this, id] { showPage(id); });
        addAction(go);  // the shortcut works with the menu closed and hidden (full screen)
        item->setToolTip(tr("%1 (%2)").arg(title, go->shortcut().toString(QKeySequence::NativeText)));
    }
    if (m_nav->currentRow() < 0) m_nav->setCurrentRow(0);
    return index;
}

void MainWindow::setModelsPage(ModelsPage* page) {
    m_modelsPage = page;
    addPage(QStringLiteral("models"), tr("Models"), IconKind::Models, page);
    connect(m_addModel, &QAction::triggered, this, [this] {
        showPage(QStringLiteral("models"));
        m_modelsPage->addFilesFromDialog();
    });
    connect(m_load, &QAction::triggered, m_modelsPage, &ModelsPage::loadSelected);
    connect(m_unload, &QAction::triggered, m_modelsPage, &ModelsPage::unloadModel);
    connect(m_modelsPage, &ModelsPage::statusMessage, this, &MainWindow::showStatusMessage);
}

bool MainWindow::showPage(const QString& id) {
    const int index = static_cast<int>(m_pageIds.indexOf(id));
    if (index < 0) return false;
    m_nav->setCurrentRow(index);
    return true;
}

QString MainWindow::currentPageId() const {
    return m_pageIds.value(m_pages->currentIndex());
}

QWidget* MainWindow::page(const QString& id) const {
    const int index = static_cast<int>(m_pageIds.indexOf(id));
    return index < 0 ? nullptr : m_pages->widget(index);
}

void MainWindow::setMetricsSampler(app::MetricsSampler* sampler) {
    m_memoryTimer->stop();
    connect(sampler, &app::MetricsSampler::sampled, this, [this](const app::MetricsSample& s) {
        if (s.rssBytes) setProcessMemory(*s.rssBytes);
    });
}

void MainWindow::readOwnMemory() {
    const std::optional<qint64> rss = app::proc::parseStatmRssBytes(
        app::proc::readProcFile(QStringLiteral("/proc/self/statm")), sysconf(_SC_PAGESIZE));
    if (rss) setProcessMemory(*rss);
}

void MainWindow::setProcessMemory(qint64 rssBytes) {
    m_memory->setText(tr("RSS %1").arg(app::formatBytes(rssBytes)));
}

void MainWindow::setLastTokensPerSecond(double tokensPerSecond) {
    m_speed->setText(tr("%1 tok/s").arg(tokensPerSecond, 0, 'f', tokensPerSecond < 100 ? 1 : 0));
}

void MainWindow::showStatusMessage(const QString& text) {
    statusBar()->showMessage(text, 5000);
}

QString MainWindow::statusModelText() const {
    return m_model->text();
}
QString MainWindow::statusDeviceText() const {
    return m_device->text();
}
QString MainWindow::statusMemoryText() const {
    return m_memory->text();
}
QString MainWindow::statusSpeedText() const {
    return m_speed->text();
}

void MainWindow::showAbout() {
    QMessageBox box(this);
    box.setWindowTitle(tr("About MoE Workbench"));
    box.setIconPixmap(Icons::pixmap(IconKind::Models, 48, Theme::colors().accent));
    box.setText(
        tr("<h3>MoE Workbench</h3><p>A desktop workbench for DeepSeek-family Mixture-of-Experts "
           "models: load GGUF files and Hugging Face folders, chat, and see which experts every "
           "token is routed to.</p>"));
    box.setInformativeText(
        tr("Version %1 · Qt %2 · in-process engine (CPU%3)<br>"
           "The bundled demo model has random weights: it loads and runs, "
           "but its output is meaningless.")
            .arg(QApplication::applicationVersion(), QString::fromLatin1(qVersion()),
                 m_device->text().startsWith(QLatin1String("CPU")) ? QString() : tr(", ") + m_device->text()));
    box.setStandardButtons(QMessageBox::Close);
    box.exec();
}

void MainWindow::restoreSavedState() {
    QSettings settings;
    restoreGeometry(settings.value(QStringLiteral("mainWindow/geometry")).toByteArray());
    restoreState(settings.value(QStringLiteral("mainWindow/state")).toByteArray());
    const QString page = settings.value(QStringLiteral("mainWindow/page")).toString();
    if (!page.isEmpty()) showPage(page);
}

void MainWindow::closeEvent(QCloseEvent* event) {
    QSettings settings;
    settings.setValue(QStringLiteral("mainWindow/geometry"), saveGeometry());
    settings.setValue(QStringLiteral("mainWindow/state"), saveState());
    settings.setValue(QStringLiteral("mainWindow/page"), currentPageId());
    // A load in progress stops at its next step, so quitting never waits for a whole model to be read.
    m_service->cancelLoad();
    QMainWindow::closeEvent(event);
}

void MainWindow::changeEvent(QEvent* event) {
    QMainWindow::changeEvent(event);
    if (event->type() == QEvent::PaletteChange) {
        refreshIcons();
        (Theme::isDark() ? m_dark : m_light)->setChecked(true);
    }
}

void MainWindow::refreshIcons() {
    const ThemeColors c = Theme::colors();
    for (int i = 0; i < m_nav->count() && i < m_pageIcons.size(); ++i)
        m_nav->item(i)->setIcon(Icons::icon(m_pageIcons[i], c.text));
    m_modelIcon->setPixmap(
        Icons::pixmap(m_modelLoaded ? IconKind::Check : IconKind::Models, 16, m_modelLoaded ? c.success : c.mutedText));
    m_deviceIcon->setPixmap(Icons::pixmap(IconKind::Cpu, 16, c.mutedText));
    m_memoryIcon->setPixmap(Icons::pixmap(IconKind::Memory, 16, c.mutedText));
    m_speedIcon->setPixmap(Icons::pixmap(IconKind::Speed, 16, c.mutedText));
    m_addModel->setIcon(Icons::icon(IconKind::Add));
    m_load->setIcon(Icons::icon(IconKind::Load));
    m_unload->setIcon(Icons::icon(IconKind::Unload));
}

}  // namespace moe::ui
