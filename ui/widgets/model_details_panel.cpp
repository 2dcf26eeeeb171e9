#include "widgets/model_details_panel.h"

#include "theme/icons.h"
#include "theme/theme.h"

#include <QComboBox>
#include <QEvent>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLocale>
#include <QProgressBar>
#include <QPushButton>
#include <QSignalBlocker>
#include <QVBoxLayout>

namespace moe::ui {

namespace {

QLabel* sectionLabel(const QString& text, QWidget* parent) {
    auto* l = new QLabel(text, parent);
    l->setFont(Theme::sectionFont());
    return l;
}

QLabel* mutedLabel(const QString& text, QWidget* parent) {
    auto* l = new QLabel(text, parent);
    Theme::setStyleProperty(l, "role", QStringLiteral("muted"));
    return l;
}

}  // namespace

ModelDetailsPanel::ModelDetailsPanel(QWidget* parent) : QFrame(parent) {
    setProperty("card", true);
    setMinimumWidth(340);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(Theme::kSpacingL, Theme::kSpacingL, Theme::kSpacingL, Theme::kSpacingL);
    layout->setSpacing(Theme::kSpacingS);

    auto* titleRow = new QHBoxLayout;
    m_title = new QLabel(this);
    m_title->setFont(Theme::sectionFont());
    m_title->setWordWrap(true);
    m_demoBadge = new QLabel(tr("random weights"), this);
    Theme::setStyleProperty(m_demoBadge, "badge", QStringLiteral("demo"));
    m_demoBadge->setToolTip(
        tr("A bundled demo model with random weights: it loads and runs everywhere, "
           "but what it writes is meaningless."));
    m_stateBadge = new QLabel(this);
    titleRow->addWidget(m_demoBadge);
    titleRow->addWidget(m_stateBadge);
    titleRow->addStretch(1);
    layout->addWidget(m_title);
    layout->addLayout(titleRow);
    m_path = mutedLabel(QString(), this);
    m_path->setWordWrap(true);
    m_path->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_path->setFont(Theme::smallFont());
    layout->addWidget(m_path);

    m_placeholder = mutedLabel(tr("Select a model in the library to see its details, its memory plan and "
                                  "to load it."),
                               this);
    m_placeholder->setWordWrap(true);
    m_placeholder->setAlignment(Qt::AlignCenter);
    layout->addWidget(m_placeholder, 1);

    m_body = new QWidget(this);
    auto* body = new QVBoxLayout(m_body);
    body->setContentsMargins(0, Theme::kSpacingS, 0, 0);
    body->setSpacing(Theme::kSpacingM);
    body->addWidget(buildFacts());
    body->addWidget(buildPlan());
    body->addStretch(1);
    body->addWidget(buildActions());
    layout->addWidget(m_body, 1);
    setEntry(nullptr);
    refreshIcons();
}

QWidget* ModelDetailsPanel::buildFacts() {
    auto* w = new QWidget(this);
    m_factsGrid = new QGridLayout(w);
    m_factsGrid->setContentsMargins(0, 0, 0, 0);
    m_factsGrid->setHorizontalSpacing(Theme::kSpacingL);
    m_factsGrid->setVerticalSpacing(Theme::kSpacingXS + 2);
    m_factsGrid->setColumnStretch(1, 1);
    return w;
}

QWidget* ModelDetailsPanel::buildPlan() {
    auto* w = new QWidget(this);
    auto* v = new QVBoxLayout(w);
    v->setContentsMargins(0, 0, 0, 0);
    v->setSpacing(Theme::kSpacingS);
    auto* header = new QHBoxLayout;
    header->addWidget(sectionLabel(tr("Memory plan"), w));
    header->addStretch(1);
    m_fitBadge = new QLabel(w);
    header->addWidget(m_fitBadge);
    v->addLayout(header);

    auto* ctxRow = new QHBoxLayout;
    auto* ctxLabel = new QLabel(tr("Context length"), w);
    m_context = new QComboBox(w);
    m_context->setAccessibleName(tr("Context length"));
    m_context->setToolTip(tr("Tokens of conversation the model keeps; the KV cache grows with it."));
    ctxLabel->setBuddy(m_context);
    ctxRow->addWidget(ctxLabel);
    ctxRow->addStretch(1);
    ctxRow->addWidget(m_context);
    v->addLayout(ctxRow);
    connect(m_context, &QComboBox::currentIndexChanged, this, [this] {
        updatePlan();
        if (m_context->currentIndex() >= 0) emit contextChanged(contextLength());
    });

    m_planRows = new QLabel(w);
    m_planRows->setTextFormat(Qt::RichText);
    v->addWidget(m_planRows);
    m_ramBar = new QProgressBar(w);
    m_ramBar->setRange(0, 1000);
    m_ramBar->setTextVisible(false);
    v->addWidget(m_ramBar);
    m_fitText = mutedLabel(QString(), w);
    m_fitText->setWordWrap(true);
    v->addWidget(m_fitText);
    return w;
}

QWidget* ModelDetailsPanel::buildActions() {
    auto* w = new QWidget(this);
    auto* v = new QVBoxLayout(w);
    v->setContentsMargins(0, 0, 0, 0);
    v->setSpacing(Theme::kSpacingS);

    m_progressRow = new QWidget(w);
    auto* pr = new QVBoxLayout(m_progressRow);
    pr->setContentsMargins(0, 0, 0, 0);
    pr->setSpacing(Theme::kSpacingXS);
    auto* prTop = new QHBoxLayout;
    m_progressText = mutedLabel(tr("Loading…"), m_progressRow);
    m_cancel = new QPushButton(tr("Cancel"), m_progressRow);
    m_cancel->setToolTip(tr("Stop loading this model (Esc)"));
    m_cancel->setShortcut(QKeySequence(Qt::Key_Escape));
    prTop->addWidget(m_progressText, 1);
    prTop->addWidget(m_cancel);
    pr->addLayout(prTop);
    m_progress = new QProgressBar(m_progressRow);
    m_progress->setRange(0, 1000);
    pr->addWidget(m_progress);
    v->addWidget(m_progressRow);
    m_progressRow->hide();

    auto* buttons = new QHBoxLayout;
    m_load = new QPushButton(tr("Load"), w);
    Theme::setStyleProperty(m_load, "accent", true);
    m_load->setToolTip(tr("Load this model for chat and routing (Ctrl+L)"));
    m_unload = new QPushButton(tr("Unload"), w);
    m_unload->setToolTip(tr("Free the memory the loaded model holds"));
    m_remove = new QPushButton(tr("Remove"), w);
    m_remove->setToolTip(tr("Remove from the library; the file stays on disk"));
    buttons->addWidget(m_load);
    buttons->addWidget(m_unload);
    buttons->addStretch(1);
    buttons->addWidget(m_remove);
    v->addLayout(buttons);
    connect(m_load, &QPushButton::clicked, this, [this] { emit loadClicked(contextLength()); });
    connect(m_unload, &QPushButton::clicked, this, &ModelDetailsPanel::unloadClicked);
    connect(m_remove, &QPushButton::clicked, this, &ModelDetailsPanel::removeClicked);
    connect(m_cancel, &QPushButton::clicked, this, &ModelDetailsPanel::cancelClicked);
    return w;
}

void ModelDetailsPanel::changeEvent(QEvent* event) {
    QFrame::changeEvent(event);
    if (event->type() == QEvent::PaletteChange) {
        refreshIcons();
        updatePlan();
    }
}

void ModelDetailsPanel::refreshIcons() {
    m_load->setIcon(Icons::icon(IconKind::Load, Theme::colors().accentText));
    m_unload->setIcon(Icons::icon(IconKind::Unload));
    m_remove->setIcon(Icons::icon(IconKind::Remove));
    m_cancel->setIcon(Icons::icon(IconKind::Cancel));
}

void ModelDetailsPanel::setEntry(const LibraryEntry* entry, qint64 contextLength) {
    m_entry = entry ? std::optional<LibraryEntry>(*entry) : std::nullopt;
    m_placeholder->setVisible(!entry);
    m_body->setVisible(entry != nullptr);
    m_title->setText(entry ? entry->record.name : tr("No model selected"));
    m_path->setText(entry ? entry->record.path : QString());
    m_path->setVisible(entry != nullptr);
    m_demoBadge->setVisible(entry && entry->record.isDemo);
    const bool ready = entry && entry->state == LibraryEntry::State::Ready;
    const qint64 train = ready && entry->record.contextLength ? *entry->record.contextLength : 0;
    fillContextChoices(train, contextLength);
    updateFacts();
    updatePlan();
    updateButtons();
}

void ModelDetailsPanel::fillContextChoices(qint64 trainContext, qint64 chosen) {
    const QSignalBlocker block(m_context);
    m_context->clear();
    if (trainContext <= 0) return;
    QList<qint64> choices;
    for (qint64 n = 512; n < trainContext; n *= 2) choices << n;
    choices << trainContext;
    const qint64 wanted = chosen > 0 ? std::min(chosen, trainContext) : std::min<qint64>(4096, trainContext);
    int pick = 0;
    for (int i = 0; i < choices.size(); ++i) {
        const qint64 n = choices[i];
        const QString label =
            n == trainContext ? tr("%1 (model maximum)").arg(QLocale().toString(n)) : QLocale().toString(n);
        m_context->addItem(label, n);
        if (n <= wanted) pick = i;
    }
    m_context->setCurrentIndex(pick);
}

qint64 ModelDetailsPanel::contextLength() const {
    return m_context->currentData().toLongLong();
}

void ModelDetailsPanel::updateFacts() {
    while (QLayoutItem* item = m_factsGrid->takeAt(0)) {
        delete item->widget();
        delete item;
    }
    if (!m_entry) return;
    const app::ModelRecord& r = m_entry->record;
    QList<QPair<QString, QString>> facts;
    if (m_entry->state == LibraryEntry::State::Failed) {
        facts << qMakePair(tr("Problem"), m_entry->error);
    } else if (m_entry->state == LibraryEntry::State::Describing) {
        facts << qMakePair(tr("Status"), tr("Reading the file's metadata…"));
    } else {
        const moe::ModelDescription* d = m_entry->info.description.get();
        facts << qMakePair(tr("Architecture"), r.architecture);
        facts << qMakePair(tr("Parameters"), tr("%1 total, %2 active per token")
                                                 .arg(app::formatCount(r.paramsTotal.value_or(0)),
                                                      app::formatCount(r.paramsActive.value_or(0))));
        if (d && d->hparams) {
            const moe::HParams& hp = *d->hparams;
            facts << qMakePair(tr("Layers"), tr("%1 (%2 MoE)").arg(hp.n_layer).arg(hp.n_moe_layers()));
            if (hp.is_moe())
                facts << qMakePair(tr("Experts"), tr("%1 routed + %2 shared, top-%3 per token")
                                                      .arg(hp.n_expert)
                                                      .arg(hp.n_expert_shared)
                                                      .arg(hp.n_expert_used));
            facts << qMakePair(tr("Attention"), hp.is_mla() ? tr("MLA (latent KV cache)") : tr("multi-head"));
        }
        facts << qMakePair(tr("Quantization"), r.quantization);
        facts << qMakePair(tr("Trained context"), QLocale().toString(r.contextLength.value_or(0)));
        facts << qMakePair(tr("File size"), app::formatBytes(r.fileBytes.value_or(0)));
    }
    for (int i = 0; i < facts.size(); ++i) {
        auto* key = mutedLabel(facts[i].first, this);
        auto* value = new QLabel(facts[i].second, this);
        value->setWordWrap(true);
        value->setTextInteractionFlags(Qt::TextSelectableByMouse);
        m_factsGrid->addWidget(key, i, 0, Qt::AlignTop);
        m_factsGrid->addWidget(value, i, 1);
    }
}

void ModelDetailsPanel::updatePlan() {
    const bool ready = m_entry && m_entry->state == LibraryEntry::State::Ready && m_entry->info.ok();
    m_planRows->parentWidget()->setVisible(ready);
    if (!ready) return;
    const moe::MemoryPlan plan = m_entry->info.plan(contextLength());
    const ThemeColors c = Theme::colors();
    const QString row = QStringLiteral(
        "<tr><td style='color:%1; padding-right:18px'>%2</td>"
        "<td align='right'>%3</td></tr>");
    QString rows = QStringLiteral("<table width='100%' cellspacing='0' cellpadding='2'>");
    rows += row.arg(c.mutedText.name(), tr("Weights"), app::formatBytes(static_cast<qint64>(plan.weight_bytes)));
    rows += row.arg(c.mutedText.name(),
                    tr("KV cache (%1 per token)").arg(app::formatBytes(static_cast<qint64>(plan.kv_bytes_per_token))),
                    app::formatBytes(static_cast<qint64>(plan.kv_bytes)));
    rows += row.arg(c.mutedText.name(), tr("Workspace"), app::formatBytes(static_cast<qint64>(plan.workspace_bytes)));
    rows += QStringLiteral("<tr><td style='padding-right:18px'><b>%1</b></td><td align='right'><b>%2</b></td></tr>")
                .arg(tr("Total"), app::formatBytes(static_cast<qint64>(plan.total_bytes)));
    rows += QStringLiteral("</table>");
    m_planRows->setText(rows);

    if (!m_memory) {
        m_fitBadge->hide();
        m_ramBar->hide();
        m_fitText->setText(tr("This machine's memory could not be read (/proc/meminfo)."));
        return;
    }
    const qint64 need = static_cast<qint64>(plan.total_bytes);
    const app::MemoryFit fit = app::classifyMemoryFit(need, *m_memory);
    static const char* const badges[] = {"success", "warning", "error"};
    m_fitBadge->setText(app::memoryFitName(fit));
    Theme::setStyleProperty(m_fitBadge, "badge", QString::fromLatin1(badges[static_cast<int>(fit)]));
    m_fitBadge->show();
    m_ramBar->show();
    m_ramBar->setValue(
        static_cast<int>(std::min(1000.0, 1000.0 * need / std::max<qint64>(1, m_memory->availableBytes))));
    const QColor barColor =
        fit == app::MemoryFit::Fits ? c.success : (fit == app::MemoryFit::Tight ? c.warning : c.error);
    m_ramBar->setStyleSheet(QStringLiteral("QProgressBar::chunk { background: %1; }").arg(barColor.name()));
    m_fitText->setText(tr("Needs %1 of the %2 available now (%3 RAM in this machine).")
                           .arg(app::formatBytes(need), app::formatBytes(m_memory->availableBytes),
                                app::formatBytes(m_memory->totalBytes)));
}

void ModelDetailsPanel::updateButtons() {
    const bool ready = m_entry && m_entry->state == LibraryEntry::State::Ready;
    const bool loaded = m_entry && m_entry->loaded;
    m_load->setEnabled(ready && !m_loading && !loaded);
    m_load->setText(loaded ? tr("Loaded") : tr("Load"));
    m_unload->setEnabled(loaded && !m_loading);
    m_remove->setEnabled(m_entry.has_value() && !m_loading);
    m_context->setEnabled(ready && !m_loading);
    if (loaded) {
        m_stateBadge->setText(tr("loaded"));
        Theme::setStyleProperty(m_stateBadge, "badge", QStringLiteral("success"));
    } else if (m_entry && m_entry->state == LibraryEntry::State::Failed) {
        m_stateBadge->setText(tr("unreadable"));
        Theme::setStyleProperty(m_stateBadge, "badge", QStringLiteral("error"));
    }
    m_stateBadge->setVisible(loaded || (m_entry && m_entry->state == LibraryEntry::State::Failed));
}

void ModelDetailsPanel::setSystemMemory(const std::optional<app::SystemMemory>& memory) {
    m_memory = memory;
    updatePlan();
}

void ModelDetailsPanel::setLoading(bool loading) {
    if (loading == m_loading) {  // a refresh while loading keeps the progress shown
        updateButtons();
        return;
    }
    m_loading = loading;
    m_progressRow->setVisible(loading);
    if (loading) {
        m_progress->setValue(0);
        m_progressText->setText(tr("Opening the file…"));
    }
    updateButtons();
}

void ModelDetailsPanel::setProgress(qint64 doneBytes, qint64 totalBytes) {
    const double f = totalBytes > 0 ? static_cast<double>(doneBytes) / static_cast<double>(totalBytes) : 0.0;
    m_progress->setValue(static_cast<int>(1000.0 * f));
    m_progressText->setText(tr("Reading weights: %1 of %2 (%3%)")
                                .arg(app::formatBytes(doneBytes), app::formatBytes(totalBytes))
                                .arg(static_cast<int>(100.0 * f)));
}

QString ModelDetailsPanel::fitText() const {
    return m_fitBadge->text() + QStringLiteral(": ") + m_fitText->text();
}

}  // namespace moe::ui
