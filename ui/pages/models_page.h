// The Models page: the model library (the Store's `models` table) with what each file is, the memory plan
// for the chosen context against this machine's RAM, and loading / unloading through the ModelService.
// Files and folders are added with the dialogs or by dropping them on the page; each one is described on the
// thread pool (describeModelFileAsync), so a slow disk never freezes the window. Errors name the file.
#pragma once

#include "models/model_library_model.h"
#include "services/model_service.h"

#include <QHash>
#include <QSet>
#include <QWidget>

class QStackedWidget;
class QTableView;
class QLabel;

namespace moe::app {
class Store;
}

namespace moe::ui {

class MessageBanner;
class ModelDetailsPanel;

class ModelsPage : public QWidget {
    Q_OBJECT

public:
    ModelsPage(app::Store* store, app::ModelService* service, QWidget* parent = nullptr);

    // Reads the library from the Store and describes every entry again (files may have moved).
    void reloadLibrary();
    // Adds GGUF files, HF folders (with config.json) or folders of .gguf files. Already listed: selected.
    void addPaths(const QStringList& paths);
    // Adds the bundled random-weight model once (QSettings "library/demoAdded"), flagged demo in the Store.
    void addDemoModelOnce(const QString& path);
    void selectPath(const QString& path);
    QString selectedPath() const;

    ModelLibraryModel* libraryModel() const { return m_model; }
    QTableView* tableView() const { return m_table; }
    ModelDetailsPanel* detailsPanel() const { return m_details; }
    MessageBanner* banner() const { return m_banner; }
    int pendingDescribes() const { return m_pendingDescribes; }

public Q_SLOTS:
    void addFilesFromDialog();
    void addFolderFromDialog();
    void loadSelected();
    void unloadModel();
    void removeSelected();
    void cancelLoad();

Q_SIGNALS:
    void statusMessage(const QString& text);       // for the status bar
    void described(const QString& path, bool ok);  // a describe finished (tests wait on it)

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;
    void changeEvent(QEvent* event) override;

private:
    QWidget* buildHeader();
    QWidget* buildEmptyState();
    void connectService();
    void describe(const QString& path, bool addToStore);
    void onDescribed(const app::ModelInfo& info, bool addToStore);
    void onSaved(const QString& path, qint64 id);
    void onSelectionChanged();
    void refreshDetails();
    void updateEmptyState();
    void refreshIcons();  // drawn in the theme's colors
    // Files to add for a dropped or chosen path: itself, or the .gguf files in a folder without config.json.
    QStringList expandPath(const QString& path, QString* error) const;

    app::Store* const m_store;
    app::ModelService* const m_service;
    ModelLibraryModel* m_model = nullptr;
    QTableView* m_table = nullptr;
    QStackedWidget* m_stack = nullptr;
    ModelDetailsPanel* m_details = nullptr;
    MessageBanner* m_banner = nullptr;
    QLabel* m_subtitle = nullptr;
    QHash<QString, qint64> m_contextByPath;  // the context length chosen per model in this session
    QString m_loadingPath;
    QString m_loadWhenSaved;          // Load pressed before the row had its Store id
    QSet<QString> m_removeWhenSaved;  // removed before the Store wrote the row
    int m_pendingDescribes = 0;
};

}  // namespace moe::ui
