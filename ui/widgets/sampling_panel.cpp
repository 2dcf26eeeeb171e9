#include "widgets/sampling_panel.h"

#include "storage/store.h"

#include <QComboBox>
#include <QDateTime>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QInputDialog>
#include <QLabel>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QSpinBox>
#include <QStyle>
#include <QToolButton>
#include <QVBoxLayout>

namespace moe::app::ui {

namespace {
QLabel* sectionTitle(const QString& text, QWidget* parent) {
    auto* l = new QLabel(text, parent);
    QFont f = l->font();
    f.setWeight(QFont::DemiBold);
    l->setFont(f);
    return l;
}
}  // namespace

SamplingPanel::SamplingPanel(Store* store, QWidget* parent) : QWidget(parent), m_store(store) {
    setObjectName(QStringLiteral("samplingPanel"));
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(14, 14, 14, 14);
    layout->setSpacing(8);

    layout->addWidget(sectionTitle(tr("System prompt"), this));
    m_system = new QPlainTextEdit(this);
    m_system->setPlaceholderText(tr("Optional instructions the model sees before the conversation, "
                                    "e.g. \"You are a concise assistant.\""));
    m_system->setMaximumHeight(110);
    connect(m_system, &QPlainTextEdit::textChanged, this, [this] { if (!m_loading) Q_EMIT changed(); });
    layout->addWidget(m_system);

    layout->addSpacing(6);
    layout->addWidget(sectionTitle(tr("Sampling"), this));
    auto* presetRow = new QHBoxLayout;
    m_presets = new QComboBox(this);
    m_presets->setToolTip(tr("Apply saved sampling settings"));
    m_savePreset = new QToolButton(this);
    m_savePreset->setIcon(style()->standardIcon(QStyle::SP_DialogSaveButton));
    m_savePreset->setToolTip(tr("Save these settings as a preset"));
    m_deletePreset = new QToolButton(this);
    m_deletePreset->setIcon(style()->standardIcon(QStyle::SP_TrashIcon));
    m_deletePreset->setToolTip(tr("Delete the chosen preset"));
    presetRow->addWidget(m_presets, 1);
    presetRow->addWidget(m_savePreset);
    presetRow->addWidget(m_deletePreset);
    layout->addLayout(presetRow);
    connect(m_presets, &QComboBox::activated, this, [this](int i) { if (i > 0) applyPreset(m_presets->itemText(i)); });
    connect(m_savePreset, &QToolButton::clicked, this, &SamplingPanel::onSaveClicked);
    connect(m_deletePreset, &QToolButton::clicked, this, &SamplingPanel::onDeleteClicked);

    auto* form = new QFormLayout;
    form->setLabelAlignment(Qt::AlignLeft);
    form->setHorizontalSpacing(12);
    m_temperature = makeDouble(0, 2, 0.05, 2, tr("Randomness; 0 always picks the most likely token (greedy)"));
    m_topK = makeInt(0, 1000, tr("off"), tr("Keep only the k most likely tokens (0: off)"));
    m_topP = makeDouble(0, 1, 0.01, 2, tr("Keep the most likely tokens whose probabilities add up to p (1: off)"));
    m_minP = makeDouble(0, 1, 0.01, 2, tr("Drop tokens less likely than min-p times the most likely one (0: off)"));
    m_repeat = makeDouble(0.5, 2, 0.01, 2, tr("Penalise tokens seen in the last 64 (1: off)"));
    m_maxTokens = makeInt(0, 65536, tr("no limit"), tr("Longest reply in tokens (0: until the model stops)"));
    m_seed = makeInt(-1, 2147483647, tr("random"), tr("The same seed and settings give the same reply (-1: random)"));
    m_context = makeInt(256, 1 << 20, QString(), tr("Context window of the chat session in tokens"));
    m_context->setSingleStep(1024);
    form->addRow(tr("Temperature"), m_temperature);
    form->addRow(tr("Top-k"), m_topK);
    form->addRow(tr("Top-p"), m_topP);
    form->addRow(tr("Min-p"), m_minP);
    form->addRow(tr("Repetition penalty"), m_repeat);
    form->addRow(tr("Max tokens"), m_maxTokens);
    form->addRow(tr("Seed"), m_seed);
    form->addRow(tr("Context"), m_context);
    layout->addLayout(form);
    layout->addStretch(1);
    setSettings(SamplingSettings{});
    reloadPresets();
}

QDoubleSpinBox* SamplingPanel::makeDouble(double min, double max, double step, int decimals, const QString& tip) {
    auto* s = new QDoubleSpinBox(this);
    s->setRange(min, max);
    s->setSingleStep(step);
    s->setDecimals(decimals);
    s->setToolTip(tip);
    s->setAlignment(Qt::AlignRight);
    connect(s, &QDoubleSpinBox::valueChanged, this, [this] { if (!m_loading) Q_EMIT changed(); });
    return s;
}

QSpinBox* SamplingPanel::makeInt(int min, int max, const QString& special, const QString& tip) {
    auto* s = new QSpinBox(this);
    s->setRange(min, max);
    s->setSpecialValueText(special);
    s->setToolTip(tip);
    s->setAlignment(Qt::AlignRight);
    connect(s, &QSpinBox::valueChanged, this, [this] { if (!m_loading) Q_EMIT changed(); });
    return s;
}

SamplingSettings SamplingPanel::settings() const {
    SamplingSettings s;
    s.temperature = m_temperature->value();
    s.topK = m_topK->value();
    s.topP = m_topP->value();
    s.minP = m_minP->value();
    s.repeatPenalty = m_repeat->value();
    s.maxTokens = m_maxTokens->value();
    s.seed = m_seed->value();
    s.contextTokens = m_context->value();
    return s;
}

void SamplingPanel::setSettings(const SamplingSettings& s) {
    m_loading = true;
    m_temperature->setValue(s.temperature);
    m_topK->setValue(s.topK);
    m_topP->setValue(s.topP);
    m_minP->setValue(s.minP);
    m_repeat->setValue(s.repeatPenalty);
    m_maxTokens->setValue(s.maxTokens);
    m_seed->setValue(static_cast<int>(std::clamp<qint64>(s.seed, -1, 2147483647)));
    m_context->setValue(s.contextTokens);
    m_loading = false;
}

QString SamplingPanel::systemPrompt() const { return m_system->toPlainText(); }

void SamplingPanel::setSystemPrompt(const QString& text) {
    m_loading = true;
    if (m_system->toPlainText() != text) m_system->setPlainText(text);
    m_loading = false;
}

void SamplingPanel::reloadPresets() {
    const QString current = m_presets->currentIndex() > 0 ? m_presets->currentText() : QString();
    m_presets->clear();
    m_presets->addItem(tr("Presets…"));
    if (m_store) {
        const auto presets = m_store->listPresets();
        if (presets.ok())
            for (const SamplerPreset& p : presets.value()) m_presets->addItem(p.name, p.id);
    }
    const int i = current.isEmpty() ? 0 : m_presets->findText(current);
    m_presets->setCurrentIndex(std::max(0, i));
    m_deletePreset->setEnabled(m_presets->count() > 1);
}

QStringList SamplingPanel::presetNames() const {
    QStringList out;
    for (int i = 1; i < m_presets->count(); ++i) out << m_presets->itemText(i);
    return out;
}

void SamplingPanel::savePreset(const QString& name) {
    if (!m_store) return;
    SamplerPreset p;
    p.name = name.trimmed();
    p.settingsJson = settings().toJsonText();
    p.createdAtMs = p.updatedAtMs = QDateTime::currentMSecsSinceEpoch();
    m_store->savePreset(p).then(this, [this, saved = p.name](const WriteResult& r) {
        if (!r.ok()) {
            QMessageBox::warning(this, tr("Save preset"), tr("The preset \"%1\" was not saved: %2").arg(saved, r.error));
            return;
        }
        reloadPresets();
        m_presets->setCurrentIndex(std::max(0, m_presets->findText(saved)));
        Q_EMIT presetsChanged();
    });
    m_store->flush();
}

bool SamplingPanel::applyPreset(const QString& name) {
    if (!m_store) return false;
    const auto presets = m_store->listPresets();
    if (!presets.ok()) return false;
    for (const SamplerPreset& p : presets.value()) {
        if (p.name != name) continue;
        setSettings(SamplingSettings::fromJsonText(p.settingsJson));
        m_presets->setCurrentIndex(std::max(0, m_presets->findText(name)));
        Q_EMIT changed();
        return true;
    }
    return false;
}

void SamplingPanel::onSaveClicked() {
    bool ok = false;
    const QString suggestion = m_presets->currentIndex() > 0 ? m_presets->currentText() : QString();
    const QString name = QInputDialog::getText(this, tr("Save preset"), tr("Name of the preset:"), QLineEdit::Normal,
                                               suggestion, &ok);
    if (!ok || name.trimmed().isEmpty()) return;
    savePreset(name);
}

void SamplingPanel::onDeleteClicked() {
    const int i = m_presets->currentIndex();
    if (i <= 0 || !m_store) return;
    if (QMessageBox::question(this, tr("Delete preset"), tr("Delete the preset \"%1\"?").arg(m_presets->currentText())) !=
        QMessageBox::Yes)
        return;
    m_store->removePreset(m_presets->itemData(i).toLongLong()).then(this, [this](const WriteResult&) {
        m_presets->setCurrentIndex(0);
        reloadPresets();
        Q_EMIT presetsChanged();
    });
    m_store->flush();
}

}  // namespace moe::app::ui
