// The chat's settings column: the system prompt, the sampling settings (temperature, top-k, top-p, min-p,
// repetition penalty, max tokens, seed, context) and named presets saved in the Store.
#pragma once

#include "services/chat_types.h"

#include <QWidget>

class QComboBox;
class QDoubleSpinBox;
class QPlainTextEdit;
class QSpinBox;
class QToolButton;

namespace moe::app {
class Store;
}

namespace moe::app::ui {

class SamplingPanel : public QWidget {
    Q_OBJECT

public:
    explicit SamplingPanel(Store* store, QWidget* parent = nullptr);

    SamplingSettings settings() const;
    void setSettings(const SamplingSettings& settings);  // does not emit changed()
    QString systemPrompt() const;
    void setSystemPrompt(const QString& text);  // does not emit changed()

    // Presets (the buttons call these after asking for a name or a confirmation).
    void reloadPresets();
    void savePreset(const QString& name);  // asynchronous: presetsChanged() once stored (a failure: a message box)
    bool applyPreset(const QString& name);
    QStringList presetNames() const;

Q_SIGNALS:
    void changed();  // an edit by the user
    void presetsChanged();

private:
    QDoubleSpinBox* makeDouble(double min, double max, double step, int decimals, const QString& tip);
    QSpinBox* makeInt(int min, int max, const QString& special, const QString& tip);
    void onSaveClicked();
    void onDeleteClicked();

    Store* m_store = nullptr;
    QPlainTextEdit* m_system = nullptr;
    QComboBox* m_presets = nullptr;
    QToolButton* m_savePreset = nullptr;
    QToolButton* m_deletePreset = nullptr;
    QDoubleSpinBox* m_temperature = nullptr;
    QSpinBox* m_topK = nullptr;
    QDoubleSpinBox* m_topP = nullptr;
    QDoubleSpinBox* m_minP = nullptr;
    QDoubleSpinBox* m_repeat = nullptr;
    QSpinBox* m_maxTokens = nullptr;
    QSpinBox* m_seed = nullptr;
    QSpinBox* m_context = nullptr;
    bool m_loading = false;
};

}  // namespace moe::app::ui
