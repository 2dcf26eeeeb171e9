// The right-hand card of the Models page: what the selected model is, the context length to run it with,
// its memory plan against this machine's RAM (fits / tight / does not fit, with the numbers), and the
// load / unload / remove buttons with the load progress and its cancel button.
#pragma once

#include "models/model_library_model.h"
#include "services/memory_fit.h"

#include <QFrame>

#include <optional>

class QComboBox;
class QGridLayout;
class QLabel;
class QProgressBar;
class QPushButton;

namespace moe::ui {

class ModelDetailsPanel : public QFrame {
    Q_OBJECT

public:
    explicit ModelDetailsPanel(QWidget* parent = nullptr);

    // Shows `entry` (null: the "select a model" state). `contextLength` 0: the default (4096 or less).
    void setEntry(const LibraryEntry* entry, qint64 contextLength = 0);
    void setSystemMemory(const std::optional<app::SystemMemory>& memory);
    void setLoading(bool loading);
    void setProgress(qint64 doneBytes, qint64 totalBytes);
    qint64 contextLength() const;
    bool isLoading() const { return m_loading; }

    // For tests and the status bar.
    QString fitText() const;
    QPushButton* loadButton() const { return m_load; }
    QPushButton* unloadButton() const { return m_unload; }
    QPushButton* removeButton() const { return m_remove; }
    QPushButton* cancelButton() const { return m_cancel; }
    QProgressBar* progressBar() const { return m_progress; }
    QComboBox* contextChooser() const { return m_context; }

Q_SIGNALS:
    void loadClicked(qint64 contextLength);
    void unloadClicked();
    void removeClicked();
    void cancelClicked();
    void contextChanged(qint64 contextLength);

protected:
    void changeEvent(QEvent* event) override;

private:
    QWidget* buildFacts();
    QWidget* buildPlan();
    QWidget* buildActions();
    void fillContextChoices(qint64 trainContext, qint64 chosen);
    void updateFacts();
    void updatePlan();
    void updateButtons();
    void refreshIcons();

    std::optional<LibraryEntry> m_entry;
    std::optional<app::SystemMemory> m_memory;
    bool m_loading = false;

    QLabel* m_title = nullptr;
    QLabel* m_demoBadge = nullptr;
    QLabel* m_stateBadge = nullptr;
    QLabel* m_path = nullptr;
    QWidget* m_body = nullptr;
    QLabel* m_placeholder = nullptr;
    QGridLayout* m_factsGrid = nullptr;
    QComboBox* m_context = nullptr;
    QLabel* m_planRows = nullptr;
    QLabel* m_fitBadge = nullptr;
    QLabel* m_fitText = nullptr;
    QProgressBar* m_ramBar = nullptr;
    QPushButton* m_load = nullptr;
    QPushButton* m_unload = nullptr;
    QPushButton* m_remove = nullptr;
    QWidget* m_progressRow = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_progressText = nullptr;
    QPushButton* m_cancel = nullptr;
};

}  // namespace moe::ui
