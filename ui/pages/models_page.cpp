#include "pages/models_page.h"

#include "storage/store.h"
#include "theme/icons.h"
#include "theme/theme.h"
#include "widgets/message_banner.h"
#include "widgets/model_details_panel.h"

#include <QDateTime>
#include <QDir>
#include <QDragEnterEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMimeData>
#include <QPushButton>
#include <QSettings>
#include <QStackedWidget>
#include <QTableView>
#include <QVBoxLayout>

namespace moe::ui {

ModelsPage::ModelsPage(app::Store* store, app::ModelService* service, QWidget* parent)
    : QWidget(parent), m_store(store), m_service(service), m_model(new ModelLibraryModel(this)) {
    setAcceptDrops(true);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(Theme::kSpacingXL, Theme::kSpacingXL, Theme::kSpacingXL, Theme::kSpacingL);
    layout->setSpacing(Theme::kSpacingM);
    layout->addWidget(buildHeader());
    m_banner = new MessageBanner(this);
    layout->addWidget(m_banner);

    m_table = new QTableView(this);
    m_table->setModel(m_model);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->setShowGrid(false);
    m_table->setWordWrap(false);
    m_table->setTextElideMode(Qt::ElideRight);
    m_table->verticalHeader()->hide();
    m_table->verticalHeader()->setDefaultSectionSize(36);
    m_table->horizontalHeader()->setHighlightSections(false);
    m_table->horizontalHeader()->setDefaultAlignment(Qt::AlignLeft | Qt::AlignVCenter);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->horizontalHeader()->setSectionResizeMode(ModelLibraryModel::Name, QHeaderView::Stretch);
    m_table->horizontalHeader()->setMinimumSectionSize(48);
    m_table->setIconSize(QSize(18, 18));
    m_table->setAccessibleName(tr("Model library"));
    connect(m_table->selectionModel(), &QItemSelectionModel::selectionChanged, this, &ModelsPage::onSelectionChanged);
    connect(m_table, &QTableView::doubleClicked, this, &ModelsPage::loadSelected);
    connect(m_model, &QAbstractItemModel::dataChanged, this, &ModelsPage::refreshDetails);

    m_stack = new QStackedWidget(this);
    m_stack->addWidget(m_table);
    m_stack->addWidget(buildEmptyState());
    m_details = new ModelDetailsPanel(this);
    m_details->setFixedWidth(360);
    auto* content = new QHBoxLayout;
    content->setSpacing(Theme::kSpacingL);
    content->addWidget(m_stack, 1);
    content->addWidget(m_details);
    layout->addLayout(content, 1);

    connect(m_details, &ModelDetailsPanel::loadClicked, this, &ModelsPage::loadSelected);
    connect(m_details, &ModelDetailsPanel::unloadClicked, this, &ModelsPage::unloadModel);
    connect(m_details, &ModelDetailsPanel::removeClicked, this, &ModelsPage::removeSelected);
    connect(m_details, &ModelDetailsPanel::cancelClicked, this, &ModelsPage::cancelLoad);
    connect(m_details, &ModelDetailsPanel::contextChanged, this, [this](qint64 n) {
        if (!selectedPath().isEmpty()) m_contextByPath[selectedPath()] = n;
    });
    m_details->setSystemMemory(app::readSystemMemory());
    connectService();
    updateEmptyState();
    refreshIcons();
}

QWidget* ModelsPage::buildHeader() {
    auto* w = new QWidget(this);
    auto* h = new QHBoxLayout(w);
    h->setContentsMargins(0, 0, 0, 0);
    auto* text = new QVBoxLayout;
    text->setSpacing(2);
    auto* title = new QLabel(tr("Models"), w);
    title->setFont(Theme::titleFont());
    m_subtitle = new QLabel(tr("Your model library. Add GGUF files or Hugging Face folders, or drop them "
                               "anywhere on this page."),
                            w);
    Theme::setStyleProperty(m_subtitle, "role", QStringLiteral("muted"));
    text->addWidget(title);
    text->addWidget(m_subtitle);
    h->addLayout(text, 1);
    auto* addFolder = new QPushButton(tr("Add folder…"), w);
    addFolder->setObjectName(QStringLiteral("addFolderButton"));
    addFolder->setToolTip(
        tr("Add a Hugging Face model folder (config.json + safetensors), or every GGUF file "
           "in a folder"));
    auto* addFile = new QPushButton(tr("Add model file…"), w);
    addFile->setObjectName(QStringLiteral("addFileButton"));
    addFile->setToolTip(tr("Add a GGUF file (Ctrl+O)"));
    Theme::setStyleProperty(addFile, "accent", true);
    connect(addFolder, &QPushButton::clicked, this, &ModelsPage::addFolderFromDialog);
    connect(addFile, &QPushButton::clicked, this, &ModelsPage::addFilesFromDialog);
    h->addWidget(addFolder, 0, Qt::AlignBottom);
    h->addWidget(addFile, 0, Qt::AlignBottom);
    return w;
}

QWidget* ModelsPage::buildEmptyState() {
    auto* w = new QFrame(this);
    w->setProperty("card", true);
    auto* v = new QVBoxLayout(w);
    v->addStretch(1);
    auto* icon = new QLabel(w);
    icon->setObjectName(QStringLiteral("emptyIcon"));
    icon->setPixmap(Icons::pixmap(IconKind::Models, 48, Theme::colors().mutedText));
    icon->setAlignment(Qt::AlignCenter);
    auto* title = new QLabel(tr("Your library is empty"), w);
    title->setFont(Theme::sectionFont());
    title->setAlignment(Qt::AlignCenter);
    auto* hint = new QLabel(tr("Add a GGUF file or a Hugging Face folder with the buttons above,\n"
                               "or drop files and folders here."),
                            w);
    Theme::setStyleProperty(hint, "role", QStringLiteral("muted"));
    hint->setAlignment(Qt::AlignCenter);
    v->addWidget(icon);
    v->addWidget(title);
    v->addWidget(hint);
    v->addStretch(1);
    return w;
}

void ModelsPage::connectService() {
    using app::ModelService;
    connect(m_service, &ModelService::loadStarted, this, [this](const QString& path) {
        m_loadingPath = path;
        m_details->setLoading(true);
        emit statusMessage(tr("Loading %1…").arg(QFileInfo(path).fileName()));
    });
    connect(m_service, &ModelService::loadProgress, this,
            [this](qint64 done, qint64 total) { m_details->setProgress(done, total); });
    connect(m_service, &ModelService::modelLoaded, this,
            [this](const std::shared_ptr<moe::Model>&, const app::ModelSummary& s) {
                m_details->setLoading(false);
                m_model->setLoadedPath(s.path);
                m_banner->hide();
                if (s.modelId > 0) m_store->markModelLoaded(s.modelId, QDateTime::currentMSecsSinceEpoch());
                emit statusMessage(s.loadMs < 1000
                                       ? tr("Loaded %1 in %2 ms").arg(s.name).arg(s.loadMs)
                                       : tr("Loaded %1 in %2 s").arg(s.name).arg(s.loadMs / 1000.0, 0, 'f', 1));
            });
    connect(m_service, &ModelService::loadFailed, this, [this](const QString& path, const QString& message) {
        m_details->setLoading(false);
        m_banner->showMessage(MessageBanner::Kind::Error,
                              tr("Could not load %1. %2").arg(QFileInfo(path).fileName(), message));
    });
    connect(m_service, &ModelService::loadCancelled, this, [this](const QString& path) {
        m_details->setLoading(false);
        m_banner->showMessage(MessageBanner::Kind::Info,
                              tr("Loading %1 was cancelled.").arg(QFileInfo(path).fileName()));
    });
    connect(m_service, &ModelService::modelUnloaded, this, [this] {
        m_model->setLoadedPath(QString());
        emit statusMessage(tr("Model unloaded"));
    });
}

void ModelsPage::reloadLibrary() {
    const app::DbResult<QList<app::ModelRecord>> rows = m_store->listModels();
    if (!rows.ok()) {
        m_banner->showMessage(MessageBanner::Kind::Error, tr("Could not read the model library: %1").arg(rows.error()));
        return;
    }
    QList<LibraryEntry> entries;
    for (const app::ModelRecord& r : rows.value())
        entries.append(LibraryEntry{r, LibraryEntry::State::Describing, {}, {}, false});
    m_model->setEntries(entries);
    m_model->setLoadedPath(m_service->currentSummary().path);
    for (const LibraryEntry& e : entries) describe(e.record.path, false);
    updateEmptyState();
    if (!entries.isEmpty()) m_table->selectRow(0);
}

QStringList ModelsPage::expandPath(const QString& path, QString* error) const {
    const QFileInfo info(path);
    if (!info.exists()) {
        *error = tr("%1: no such file or folder").arg(path);
        return {};
    }
    if (!info.isDir() || QFileInfo::exists(QDir(path).filePath(QStringLiteral("config.json"))))
        return {info.absoluteFilePath()};
    QStringList files;
    for (const QFileInfo& f : QDir(path).entryInfoList({QStringLiteral("*.gguf")}, QDir::Files, QDir::Name))
        files << f.absoluteFilePath();
    if (files.isEmpty())
        *error = tr("%1: this folder holds neither a config.json (a Hugging Face model) nor .gguf files").arg(path);
    return files;
}

void ModelsPage::addPaths(const QStringList& paths) {
    QStringList errors;
    QString last;
    for (const QString& path : paths) {
        QString error;
        for (const QString& file : expandPath(path, &error)) {
            last = file;
            if (m_model->rowOfPath(file) >= 0) continue;
            LibraryEntry e;
            e.record.path = file;
            e.record.name = QFileInfo(file).fileName();
            m_model->addEntry(e);
            describe(file, true);
        }
        if (!error.isEmpty()) errors << error;
    }
    if (!errors.isEmpty()) m_banner->showMessage(MessageBanner::Kind::Error, errors.join(QLatin1Char('\n')));
    updateEmptyState();
    if (!last.isEmpty()) selectPath(last);
}

void ModelsPage::addDemoModelOnce(const QString& path) {
    QSettings settings;
    if (settings.value(QStringLiteral("library/demoAdded")).toBool() || path.isEmpty()) return;
    settings.setValue(QStringLiteral("library/demoAdded"), true);
    const QString file = QFileInfo(path).absoluteFilePath();
    if (m_model->rowOfPath(file) >= 0) return;
    LibraryEntry e;
    e.record.path = file;
    e.record.name = QFileInfo(file).completeBaseName();
    e.record.isDemo = true;
    e.record.notes = tr("Bundled demo model with random weights: it runs, but its output is meaningless.");
    m_model->addEntry(e);
    describe(file, true);
    updateEmptyState();
    selectPath(file);
}

void ModelsPage::describe(const QString& path, bool addToStore) {
    ++m_pendingDescribes;
    app::describeModelFileAsync(path).then(this, [this, addToStore](const app::ModelInfo& info) {
        --m_pendingDescribes;
        onDescribed(info, addToStore);
    });
}

void ModelsPage::onDescribed(const app::ModelInfo& info, bool addToStore) {
    const int row = m_model->rowOfPath(info.path);
    if (row < 0) return;  // removed while it was being described
    if (!info.ok()) {
        if (addToStore) {
            // A file that cannot be read never enters the library; say which file and why.
            m_model->removeRow(row);
            m_banner->showMessage(MessageBanner::Kind::Error,
                                  tr("Could not add %1. %2").arg(QFileInfo(info.path).fileName(), info.error));
            updateEmptyState();
        } else {
            m_model->setFailed(info.path, info.error);
        }
        emit described(info.path, false);
        return;
    }
    m_model->setDescribed(info.path, info);
    if (addToStore) {
        const QString path = info.path;
        m_store->addModel(m_model->entry(row).record).then(this, [this, path](const app::WriteResult& r) {
            if (r.ok())
                onSaved(path, r.id);
            else {
                if (m_loadWhenSaved == path) cancelLoad();
                m_banner->showMessage(
                    MessageBanner::Kind::Error,
                    tr("Could not save %1 in the library: %2").arg(QFileInfo(path).fileName(), r.error));
            }
        });
        emit statusMessage(tr("Added %1").arg(m_model->entry(row).record.name));
    }
    emit described(info.path, true);
}

void ModelsPage::onSaved(const QString& path, qint64 id) {
    if (m_removeWhenSaved.remove(path)) {  // removed before its row reached the database
        m_store->removeModel(id);
        return;
    }
    m_model->setId(path, id);
    if (m_loadWhenSaved == path) {
        m_loadWhenSaved.clear();
        if (selectedPath() == path) loadSelected();
    }
}

void ModelsPage::selectPath(const QString& path) {
    const int row = m_model->rowOfPath(path);
    if (row >= 0) m_table->selectRow(row);
}

QString ModelsPage::selectedPath() const {
    const QModelIndexList rows = m_table->selectionModel()->selectedRows();
    return rows.isEmpty() ? QString() : m_model->data(rows.first(), ModelLibraryModel::PathRole).toString();
}

void ModelsPage::onSelectionChanged() {
    refreshDetails();
}

void ModelsPage::refreshDetails() {
    const int row = m_model->rowOfPath(selectedPath());
    if (row < 0) {
        m_details->setEntry(nullptr);
        return;
    }
    const LibraryEntry& e = m_model->entry(row);
    m_details->setEntry(&e, m_contextByPath.value(e.record.path, 0));
    m_details->setLoading(m_service->isLoading());
}

void ModelsPage::updateEmptyState() {
    m_stack->setCurrentIndex(m_model->rowCount() == 0 ? 1 : 0);
}

void ModelsPage::loadSelected() {
    const int row = m_model->rowOfPath(selectedPath());
    if (row < 0 || m_service->isLoading()) return;
    const LibraryEntry& e = m_model->entry(row);
    if (e.state != LibraryEntry::State::Ready) {
        if (e.state == LibraryEntry::State::Failed) m_banner->showMessage(MessageBanner::Kind::Error, e.error);
        return;
    }
    if (e.record.id == 0) {
        // Its library row is still being written (within ~50 ms): load once it has an id, so the chat
        // and metrics records can name the model.
        m_loadWhenSaved = e.record.path;
        m_details->setLoading(true);
        return;
    }
    app::ModelLoadRequest request;
    request.path = e.record.path;
    request.modelId = e.record.id;
    request.contextLength = m_details->contextLength();
    request.isDemo = e.record.isDemo;
    request.displayName = e.record.name;
    m_banner->hide();
    m_details->setLoading(true);  // at once, before the worker reports loadStarted
    m_service->requestLoad(request);
}

void ModelsPage::unloadModel() {
    m_service->requestUnload();
}

void ModelsPage::cancelLoad() {
    if (!m_loadWhenSaved.isEmpty()) {
        m_banner->showMessage(MessageBanner::Kind::Info,
                              tr("Loading %1 was cancelled.").arg(QFileInfo(m_loadWhenSaved).fileName()));
        m_loadWhenSaved.clear();
        m_details->setLoading(false);
    }
    m_service->cancelLoad();
}

void ModelsPage::removeSelected() {
    const int row = m_model->rowOfPath(selectedPath());
    if (row < 0 || m_service->isLoading()) return;
    const LibraryEntry e = m_model->entry(row);
    if (e.loaded) m_service->requestUnload();
    if (e.record.id > 0)
        m_store->removeModel(e.record.id);
    else if (e.state == LibraryEntry::State::Ready)
        m_removeWhenSaved.insert(e.record.path);
    m_model->removeRow(row);
    updateEmptyState();
    if (m_model->rowCount() > 0) m_table->selectRow(std::min(row, m_model->rowCount() - 1));
    emit statusMessage(tr("Removed %1 from the library (the file stays on disk)").arg(e.record.name));
}

void ModelsPage::addFilesFromDialog() {
    const QStringList files = QFileDialog::getOpenFileNames(this, tr("Add model files"), QDir::homePath(),
                                                            tr("GGUF models (*.gguf);;All files (*)"));
    if (!files.isEmpty()) addPaths(files);
}

void ModelsPage::addFolderFromDialog() {
    const QString dir =
        QFileDialog::getExistingDirectory(this, tr("Add a Hugging Face model folder"), QDir::homePath());
    if (!dir.isEmpty()) addPaths({dir});
}

void ModelsPage::dragEnterEvent(QDragEnterEvent* event) {
    if (!event->mimeData()->hasUrls()) return;
    for (const QUrl& url : event->mimeData()->urls())
        if (url.isLocalFile()) {
            event->acceptProposedAction();
            return;
        }
}

void ModelsPage::dropEvent(QDropEvent* event) {
    QStringList paths;
    for (const QUrl& url : event->mimeData()->urls())
        if (url.isLocalFile()) paths << url.toLocalFile();
    if (paths.isEmpty()) return;
    event->acceptProposedAction();
    addPaths(paths);
}

void ModelsPage::changeEvent(QEvent* event) {
    QWidget::changeEvent(event);
    if (event->type() == QEvent::PaletteChange) refreshIcons();
}

void ModelsPage::refreshIcons() {
    if (auto* icon = findChild<QLabel*>(QStringLiteral("emptyIcon")))
        icon->setPixmap(Icons::pixmap(IconKind::Models, 48, Theme::colors().mutedText));
    if (auto* add = findChild<QPushButton*>(QStringLiteral("addFileButton")))
        add->setIcon(Icons::icon(IconKind::Add, Theme::colors().accentText));
    if (auto* folder = findChild<QPushButton*>(QStringLiteral("addFolderButton")))
        folder->setIcon(Icons::icon(IconKind::Folder));
}

}  // namespace moe::ui
