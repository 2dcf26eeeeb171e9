// The workbench window: a left navigation (icon + label per page) over a stack of pages, menus with the
// keyboard shortcuts, and a status bar with the loaded model, the device it runs on, this process's memory
// and the last reply's tokens/s. Geometry, dock state, the current page and the theme are remembered.
//
// Pages are added by id: addPage("chat", tr("Chat"), IconKind::Chat, chatPage); Ctrl+1..9 follow the order.
#pragma once

#include "services/model_service.h"
#include "theme/icons.h"

#include <QMainWindow>

class QLabel;
class QListWidget;
class QStackedWidget;
class QTimer;

namespace moe::app {
class MetricsSampler;
}

namespace moe::ui {

class ModelsPage;

class MainWindow : public QMainWindow {
    Q_OBJECT

public:
    explicit MainWindow(app::ModelService* modelService, QWidget* parent = nullptr);

    // Adds a page under the navigation; returns its index. The window takes ownership of `page`.
    int addPage(const QString& id, const QString& title, IconKind icon, QWidget* page);
    // Adds the Models page and wires File > Add model (Ctrl+O), Load (Ctrl+L) and Unload to it.
    void setModelsPage(ModelsPage* page);
    bool showPage(const QString& id);  // false when no such page
    QString currentPageId() const;
    QWidget* page(const QString& id) const;
    // RSS in the status bar from the sampler's samples (otherwise /proc/self/statm every 2 s).
    void setMetricsSampler(app::MetricsSampler* sampler);
    // Restores the geometry, state and page saved by the last closeEvent.
    void restoreSavedState();

    QString statusModelText() const;
    QString statusDeviceText() const;
    QString statusMemoryText() const;
    QString statusSpeedText() const;

Q_SIGNALS:
    void pageChanged(const QString& id);  // the page shown changed (navigation, shortcut, showPage)

public Q_SLOTS:
    void setLastTokensPerSecond(double tokensPerSecond);
    void setProcessMemory(qint64 rssBytes);
    void showStatusMessage(const QString& text);
    void showAbout();

protected:
    void closeEvent(QCloseEvent* event) override;
    void changeEvent(QEvent* event) override;

private:
    void buildMenus();
    void buildStatusBar();
    void refreshIcons();
    void connectService();
    void readOwnMemory();

    app::ModelService* const m_service;
    QListWidget* m_nav = nullptr;
    QStackedWidget* m_pages = nullptr;
    QStringList m_pageIds;
    QList<IconKind> m_pageIcons;
    ModelsPage* m_modelsPage = nullptr;
    QMenu* m_goMenu = nullptr;
    QAction* m_addModel = nullptr;
    QAction* m_load = nullptr;
    QAction* m_unload = nullptr;
    QAction* m_light = nullptr;
    QAction* m_dark = nullptr;
    QLabel* m_modelIcon = nullptr;
    QLabel* m_model = nullptr;
    QLabel* m_device = nullptr;
    QLabel* m_memory = nullptr;
    QLabel* m_speed = nullptr;
    QLabel* m_deviceIcon = nullptr;
    QLabel* m_memoryIcon = nullptr;
    QLabel* m_speedIcon = nullptr;
    QTimer* m_memoryTimer = nullptr;
    bool m_modelLoaded = false;
    QString m_loadingName;
};

}  // namespace moe::ui
