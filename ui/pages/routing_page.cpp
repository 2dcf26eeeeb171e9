#include "pages/routing_page.h"

#include "services/memory_fit.h"
#include "widgets/routing_heatmap_widget.h"
#include "widgets/routing_stats_table.h"
#include "widgets/token_routing_table.h"
#include "widgets/token_strip_widget.h"

#include <QButtonGroup>
#include <QCheckBox>
#include <QComboBox>
#include <QFile>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QSaveFile>
#include <QScrollArea>
#include <QSplitter>
#include <QStackedWidget>
#include <QStyle>
#include <QTabWidget>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>
#include <algorithm>

namespace moe::ui {

namespace {
constexpr int kRedrawIntervalMs = 100;  // live updates: at most ~10 redraws a second

QVariant selectionToVariant(const app::RoutingSelection& s) {
    return QVariantList{static_cast<int>(s.kind), s.segment, qint64(s.begin), qint64(s.end)};
}

app::RoutingSelection selectionFromVariant(const QVariant& v) {
    const QVariantList l = v.toList();
    if (l.size() != 4) return {};
    return {static_cast<app::RoutingSelection::Kind>(l[0].toInt()), l[1].toInt(), l[2].toLongLong(), l[3].toLongLong()};
}

QString tokens(int64_t n) {
    return app::formatQuantity(n, RoutingPage::tr("token"), RoutingPage::tr("tokens"));
}

QLabel* captionLabel(const QString& text, QWidget* parent) {
    auto* label = new QLabel(text, parent);
    QFont f = label->font();
    f.setBold(true);
    label->setFont(f);
    return label;
}
}  // namespace

RoutingPage::RoutingPage(QWidget* parent) : QWidget(parent) {
    m_redrawTimer = new QTimer(this);
    m_redrawTimer->setSingleShot(true);
    m_redrawTimer->setInterval(kRedrawIntervalMs);
    connect(m_redrawTimer, &QTimer::timeout, this, &RoutingPage::redraw);

    auto* root = new QVBoxLayout(this);
    root->setContentsMargins(16, 12, 16, 12);
    root->setSpacing(8);
    auto* title = new QLabel(tr("Expert routing"), this);
    QFont tf = title->font();
    tf.setPointSizeF(tf.pointSizeF() * 1.4);
    tf.setBold(true);
    title->setFont(tf);
    m_subtitle = new QLabel(this);
    m_subtitle->setObjectName(QStringLiteral("routingSubtitle"));
    m_subtitle->setEnabled(false);  // the palette's muted text
    root->addWidget(title);
    root->addWidget(m_subtitle);
    m_stack = new QStackedWidget(this);
    m_stack->addWidget(buildEmptyState());
    auto* content = new QWidget(this);
    auto* cl = new QVBoxLayout(content);
    cl->setContentsMargins(0, 0, 0, 0);
    cl->addWidget(buildToolbar());
    cl->addWidget(buildContent(), 1);
    m_stack->addWidget(content);
    root->addWidget(m_stack, 1);
    clear();
}

QWidget* RoutingPage::buildEmptyState() {
    auto* w = new QWidget(this);
    auto* l = new QVBoxLayout(w);
    l->addStretch(2);
    auto* icon = new QLabel(w);
    icon->setPixmap(style()->standardIcon(QStyle::SP_FileDialogDetailedView).pixmap(48, 48));
    icon->setAlignment(Qt::AlignCenter);
    auto* head = captionLabel(tr("No routing yet"), w);
    head->setAlignment(Qt::AlignCenter);
    auto* text = new QLabel(tr("Chat with a MoE model; each reply's routing appears here.\n"
                               "You will see which experts every layer chose for each token, live while the "
                               "reply streams, and can compare two replies."),
                            w);
    text->setObjectName(QStringLiteral("routingEmptyText"));
    text->setAlignment(Qt::AlignCenter);
    text->setWordWrap(true);
    text->setEnabled(false);
    l->addWidget(icon);
    l->addWidget(head);
    l->addWidget(text);
    l->addStretch(3);
    return w;
}

QWidget* RoutingPage::buildToolbar() {
    auto* bar = new QWidget(this);
    auto* l = new QHBoxLayout(bar);
    l->setContentsMargins(0, 0, 0, 0);
    l->setSpacing(8);
    l->addWidget(new QLabel(tr("Show"), bar));
    m_scope = new QComboBox(bar);
    m_scope->setMinimumContentsLength(18);
    m_scope->setToolTip(tr("Which tokens the heatmap counts: the whole conversation or one reply"));
    connect(m_scope, qOverload<int>(&QComboBox::activated), this, &RoutingPage::setScope);
    l->addWidget(m_scope);
    l->addSpacing(12);
    m_measureGroup = new QButtonGroup(bar);
    const auto measureButton = [&](const QString& text, const QString& tip, int id) {
        auto* b = new QToolButton(bar);
        b->setText(text);
        b->setToolTip(tip);
        b->setCheckable(true);
        b->setAutoRaise(false);
        m_measureGroup->addButton(b, id);
        l->addWidget(b);
        return b;
    };
    measureButton(tr("Count"), tr("How often each expert was chosen"), 0)->setChecked(true);
    measureButton(tr("Weight mass"), tr("The summed gate weights each expert received"), 1);
    connect(m_measureGroup, &QButtonGroup::idClicked, this,
            [this](int id) { setMeasure(id == 1 ? app::RoutingMeasure::Mass : app::RoutingMeasure::Count); });
    m_normalize = new QCheckBox(tr("Normalise per layer"), bar);
    m_normalize->setToolTip(tr("Show each cell as a share of its layer's total, so layers compare"));
    m_normalize->setChecked(true);
    connect(m_normalize, &QCheckBox::toggled, this, &RoutingPage::setNormalized);
    l->addWidget(m_normalize);
    l->addSpacing(12);
    m_compare = new QToolButton(bar);
    m_compare->setText(tr("Compare"));
    m_compare->setCheckable(true);
    m_compare->setToolTip(tr("Show B − A: where two selections route differently"));
    connect(m_compare, &QToolButton::toggled, this, [this](bool on) { setComparison(on); });
    l->addWidget(m_compare);
    m_compareBox = new QWidget(bar);
    auto* cl = new QHBoxLayout(m_compareBox);
    cl->setContentsMargins(0, 0, 0, 0);
    m_compareA = new QComboBox(m_compareBox);
    m_compareB = new QComboBox(m_compareBox);
    cl->addWidget(new QLabel(tr("A"), m_compareBox));
    cl->addWidget(m_compareA);
    cl->addWidget(new QLabel(tr("B"), m_compareBox));
    cl->addWidget(m_compareB);
    const auto recompare = [this] { setComparison(true, m_compareA->currentIndex(), m_compareB->currentIndex()); };
    connect(m_compareA, qOverload<int>(&QComboBox::activated), this, recompare);
    connect(m_compareB, qOverload<int>(&QComboBox::activated), this, recompare);
    m_compareBox->setVisible(false);
    l->addWidget(m_compareBox);
    l->addStretch(1);
    m_exportPng = new QPushButton(style()->standardIcon(QStyle::SP_DialogSaveButton), tr("PNG…"), bar);
    m_exportPng->setToolTip(tr("Save the heatmap as a PNG image"));
    m_exportCsv = new QPushButton(style()->standardIcon(QStyle::SP_FileIcon), tr("CSV…"), bar);
    m_exportCsv->setToolTip(tr("Save layer, expert, count, mass and share as CSV"));
    connect(m_exportPng, &QPushButton::clicked, this, &RoutingPage::exportPngInteractive);
    connect(m_exportCsv, &QPushButton::clicked, this, &RoutingPage::exportCsvInteractive);
    l->addWidget(m_exportPng);
    l->addWidget(m_exportCsv);
    return bar;
}

QWidget* RoutingPage::buildContent() {
    auto* split = new QSplitter(Qt::Vertical, this);
    split->setChildrenCollapsible(false);
    auto* top = new QWidget(split);
    auto* tl = new QVBoxLayout(top);
    tl->setContentsMargins(0, 4, 0, 0);
    m_heatmapCaption = captionLabel(QString(), top);
    m_heatmap = new RoutingHeatmapWidget(top);
    tl->addWidget(m_heatmapCaption);
    tl->addWidget(m_heatmap, 1);

    auto* bottom = new QSplitter(Qt::Horizontal, split);
    bottom->setChildrenCollapsible(false);
    auto* stripBox = new QWidget(bottom);
    auto* sl = new QVBoxLayout(stripBox);
    sl->setContentsMargins(0, 0, 0, 0);
    m_stripCaption = captionLabel(tr("Tokens"), stripBox);
    auto* hint =
        new QLabel(tr("Hover or click a token for its experts; shift-click or drag to select a range."), stripBox);
    hint->setEnabled(false);
    hint->setWordWrap(true);
    m_strip = new TokenStripWidget(stripBox);
    auto* scroll = new QScrollArea(stripBox);
    scroll->setWidget(m_strip);
    scroll->setWidgetResizable(true);
    scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    sl->addWidget(m_stripCaption);
    sl->addWidget(hint);
    sl->addWidget(scroll, 1);

    m_tabs = new QTabWidget(bottom);
    auto* tokenTab = new QWidget(m_tabs);
    auto* ttl = new QVBoxLayout(tokenTab);
    m_tokenCaption = new QLabel(tokenTab);
    m_tokenCaption->setWordWrap(true);
    m_tokenTable = new TokenRoutingTable(tokenTab);
    connect(m_tokenTable, &TokenRoutingTable::captionChanged, m_tokenCaption, &QLabel::setText);
    m_tokenCaption->setText(m_tokenTable->caption());
    ttl->addWidget(m_tokenCaption);
    ttl->addWidget(m_tokenTable, 1);
    m_statsTable = new RoutingStatsTable(m_tabs);
    m_tabs->addTab(tokenTab, tr("Token routing"));
    m_tabs->addTab(m_statsTable, tr("Layer load"));
    bottom->setStretchFactor(0, 1);  // the token table needs k + 2 columns
    bottom->setStretchFactor(1, 1);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);

    connect(m_strip, &TokenStripWidget::tokenHovered, this,
            [this](int row) { showToken(row >= 0 ? row : m_pinnedToken); });
    connect(m_strip, &TokenStripWidget::tokenClicked, this, [this](int row) {
        m_pinnedToken = row;
        showToken(row);
    });
    connect(m_strip, &TokenStripWidget::selectionChanged, this, &RoutingPage::setTokenSelection);
    return split;
}

bool RoutingPage::hasPendingRedraw() const {
    return m_redrawTimer->isActive() || m_redrawPending;
}

void RoutingPage::setRouting(const app::RoutingData& data) {
    m_model.clear();
    m_model.setData(data);
    m_live = false;
    m_tokenBegin = m_tokenEnd = 0;
    m_pinnedToken = -1;
    rebuildScopeChoices();
    m_scope->setCurrentIndex(m_scope->count() > 2 ? m_scope->count() - 1 : 0);  // the newest reply
    setScope(m_scope->currentIndex());
}

void RoutingPage::showBranch(const app::BranchRouting& branch) {
    if (branch.data.nRows() == 0) return clear();
    setRouting(branch.data);
    if (branch.focusSegment >= 0) setScope(branch.focusSegment + 1);  // 0 is the whole conversation
}

void RoutingPage::addReply(const app::RoutingData& reply) {
    app::RoutingData all = m_model.data();
    if (!all.append(reply)) {
        emit statusMessage(tr("This reply comes from a model with a different shape; showing it alone."));
        all = reply;
    }
    setRouting(all);
}

void RoutingPage::clear() {
    m_model.clear();
    m_live = false;
    m_tokenBegin = m_tokenEnd = m_stripRows = 0;
    m_pinnedToken = -1;
    m_scope->clear();
    m_strip->clear();
    m_tokenTable->showNothing();
    m_compare->setChecked(false);
    updateSubtitle();
    m_stack->setCurrentIndex(0);
}

void RoutingPage::beginLiveReply(const QString& label) {
    m_live = true;
    m_liveLabel = label;
    m_model.beginSegment(label);
    rebuildScopeChoices();
}

void RoutingPage::appendLiveRows(const app::RoutingData& rows) {
    if (m_model.data().nExpert() == 0) {
        app::RoutingData first = rows;
        first.clear();
        first.beginSegment(m_liveLabel.isEmpty() ? tr("Reply 1") : m_liveLabel);  // the first rows give the shape
        m_model.setData(first);
        rebuildScopeChoices();
    }
    if (!m_model.appendRows(rows)) {
        emit statusMessage(tr("Routing rows of a different model shape were ignored."));
        return;
    }
    if (m_scope->count() == 0) rebuildScopeChoices();
    scheduleRedraw();
}

void RoutingPage::finishLiveReply() {
    m_live = false;
    m_redrawTimer->stop();
    redraw();
}

void RoutingPage::scheduleRedraw() {
    if (!isVisible()) {  // a page not on screen draws once, when it is shown
        m_redrawPending = true;
        return;
    }
    if (!m_redrawTimer->isActive()) m_redrawTimer->start();  // not restarted: a steady stream still redraws
}

void RoutingPage::showEvent(QShowEvent* event) {
    QWidget::showEvent(event);
    if (m_redrawPending) redraw();
}

void RoutingPage::rebuildScopeChoices() {
    const int keep = m_scope->currentIndex();
    const bool followLast = keep < 0 || keep == m_scope->count() - 1;
    m_scope->clear();
    for (const app::RoutingSelection& s : m_model.selectionChoices())
        m_scope->addItem(s.label(m_model.data()), selectionToVariant(s));
    if (m_scope->count() == 0) return;
    // A reply that starts streaming becomes the scope if the user was looking at the newest one.
    const int index = followLast && m_scope->count() > 1 ? m_scope->count() - 1 : std::max(keep, 0);
    m_scope->setCurrentIndex(std::min(index, m_scope->count() - 1));
    if (m_live && followLast) setScope(m_scope->currentIndex());
}

app::RoutingSelection RoutingPage::scopeSelection() const {
    return m_scope->currentIndex() >= 0 ? selectionFromVariant(m_scope->currentData()) : app::RoutingSelection::all();
}

app::RoutingSelection RoutingPage::effectiveSelection() const {
    const app::RoutingSelection scope = scopeSelection();
    if (m_tokenEnd <= m_tokenBegin) return scope;
    const int64_t base = scope.resolve(m_model.data()).first;
    return app::RoutingSelection::range(base + m_tokenBegin, base + m_tokenEnd);
}

void RoutingPage::setScope(int index) {
    if (index < 0 || index >= m_scope->count()) return;
    m_scope->setCurrentIndex(index);
    m_tokenBegin = m_tokenEnd = 0;
    m_pinnedToken = -1;
    rebuildStrip();
    m_tokenTable->showNothing();
    m_model.setSelection(effectiveSelection());
    redraw();
}

void RoutingPage::rebuildStrip() {
    const auto [b, e] = scopeSelection().resolve(m_model.data());
    QStringList texts;
    std::vector<int32_t> ids;
    for (int64_t r = b; r < e; ++r) {
        texts << m_model.data().tokenText(r);
        ids.push_back(m_model.data().token(r));
    }
    m_strip->setTokens(texts, ids);
    m_stripRows = static_cast<int>(e - b);
}

void RoutingPage::setTokenSelection(int begin, int end) {
    if (m_strip->selectionBegin() != begin || m_strip->selectionEnd() != end) {
        m_strip->setSelection(begin, end);  // emits selectionChanged, which calls back here
        return;
    }
    m_tokenBegin = begin;
    m_tokenEnd = end;
    m_model.setSelection(effectiveSelection());
    if (m_compare->isChecked())
        setComparison(true, m_compareA->currentIndex(), m_compareB->currentIndex());
    else
        redraw();
}

void RoutingPage::setMeasure(app::RoutingMeasure measure) {
    m_model.setMeasure(measure);
    const int id = measure == app::RoutingMeasure::Mass ? 1 : 0;
    if (m_measureGroup->checkedId() != id) m_measureGroup->button(id)->setChecked(true);
    redraw();
}

void RoutingPage::setNormalized(bool on) {
    m_model.setNormalized(on);
    if (m_normalize->isChecked() != on) {
        const QSignalBlocker block(m_normalize);
        m_normalize->setChecked(on);
    }
    redraw();
}

app::RoutingSelection RoutingPage::choice(int index) const {
    const QList<app::RoutingSelection> choices = m_model.selectionChoices();
    if (index >= 0 && index < choices.size()) return choices[index];
    return effectiveSelection();
}

void RoutingPage::setComparison(bool on, int indexA, int indexB) {
    if (m_compare->isChecked() != on) {
        const QSignalBlocker block(m_compare);
        m_compare->setChecked(on);
    }
    m_compareBox->setVisible(on);
    m_normalize->setEnabled(!on);  // a difference is always of per-layer shares
    if (!on) {
        m_model.setComparison(std::nullopt);
        return redraw();
    }
    const QList<app::RoutingSelection> choices = m_model.selectionChoices();
    const bool hasTokens = m_tokenEnd > m_tokenBegin;
    for (QComboBox* combo : {m_compareA, m_compareB}) {
        combo->clear();
        for (const app::RoutingSelection& s : choices) combo->addItem(s.label(m_model.data()));
        if (hasTokens) combo->addItem(tr("Selected tokens (%1)").arg(effectiveSelection().label(m_model.data())));
    }
    const int n = m_compareA->count();
    if (indexA < 0 && indexB < 0) {  // defaults: the last two replies, or the conversation vs the selection
        indexA = n > 2 ? n - (hasTokens ? 3 : 2) : 0;
        indexB = n - 1;
    }
    indexA = std::clamp(indexA, 0, std::max(0, n - 1));
    indexB = std::clamp(indexB, 0, std::max(0, n - 1));
    m_compareA->setCurrentIndex(indexA);
    m_compareB->setCurrentIndex(indexB);
    m_model.setComparison(std::make_pair(choice(indexA), choice(indexB)));
    redraw();
}

void RoutingPage::redraw() {
    m_redrawTimer->stop();
    m_redrawPending = false;
    const app::RoutingData& data = m_model.data();
    if (data.nExpert() == 0 || data.nRows() == 0) {
        m_stack->setCurrentIndex(m_live ? 1 : 0);
        updateSubtitle();
        if (data.nRows() == 0) return;
    }
    m_stack->setCurrentIndex(1);
    // A streaming reply grows the scope: extend the strip instead of rebuilding it.
    const auto [b, e] = scopeSelection().resolve(data);
    if (e - b > m_stripRows && m_strip->count() == m_stripRows) {
        QStringList texts;
        std::vector<int32_t> ids;
        for (int64_t r = b + m_stripRows; r < e; ++r) {
            texts << data.tokenText(r);
            ids.push_back(data.token(r));
        }
        m_strip->appendTokens(texts, ids);
        m_stripRows = static_cast<int>(e - b);
    }
    m_model.setSelection(effectiveSelection());
    const app::HeatmapGrid grid = m_model.grid();
    m_heatmap->setGrid(grid);
    m_statsTable->setStats(m_model.layerStats(), data.nExpert());
    const bool mass = grid.measure == app::RoutingMeasure::Mass;
    const QString what = grid.difference ? (mass ? tr("gate-weight") : tr("selection"))
                                         : (mass ? tr("gate-weight mass") : tr("selections"));
    m_heatmapCaption->setText(grid.difference
                                  ? tr("Difference B − A of each layer's %1 share · A = %2 (%3), B = %4 (%5)")
                                        .arg(what)
                                        .arg(grid.labelA)
                                        .arg(tokens(grid.a.n_rows))
                                        .arg(grid.labelB)
                                        .arg(tokens(grid.b.n_rows))
                                  : tr("%1 · %2 · %3%4")
                                        .arg(effectiveSelection().label(data))
                                        .arg(tokens(grid.a.n_rows))
                                        .arg(what)
                                        .arg(grid.normalized ? tr(" as a share of each layer") : QString()));
    m_stripCaption->setText(tr("Tokens · %1 (%2)").arg(scopeSelection().label(data)).arg(m_stripRows));
    updateSubtitle();
}

void RoutingPage::showToken(int stripRow) {
    const int64_t base = scopeSelection().resolve(m_model.data()).first;
    if (stripRow < 0) {
        m_tokenTable->showNothing();
        m_heatmap->setHighlightedCells({});
        return;
    }
    const int64_t row = base + stripRow;
    m_tokenTable->showToken(m_model.data(), row);
    std::vector<std::pair<int32_t, int32_t>> cells;
    for (int32_t s = 0; s < m_model.data().nSlots(); ++s)
        for (int32_t e : m_model.data().experts(row, s)) cells.emplace_back(s, e);
    m_heatmap->setHighlightedCells(cells);
    m_tabs->setCurrentIndex(0);
}

void RoutingPage::updateSubtitle() {
    const app::RoutingData& d = m_model.data();
    if (d.nExpert() == 0) {
        m_subtitle->setText(tr("Which experts each MoE layer chose for every token of a reply"));
        return;
    }
    m_subtitle->setText(tr("%1 · %2 · top-%3 · %4 shared · %5%6")
                            .arg(app::formatQuantity(d.nSlots(), tr("MoE layer"), tr("MoE layers")))
                            .arg(app::formatQuantity(d.nExpert(), tr("routed expert"), tr("routed experts")))
                            .arg(d.k())
                            .arg(d.nShared())
                            .arg(tokens(d.nRows()))
                            .arg(m_live ? tr(" · streaming…") : QString()));
}

QString RoutingPage::exportPng(const QString& path) {
    if (m_model.data().nRows() == 0) return tr("There is no routing to export yet.");
    if (!m_heatmap->savePng(path, 1400, 900)) return tr("Could not write the image %1.").arg(path);
    return {};
}

QString RoutingPage::exportCsv(const QString& path) {
    if (m_model.data().nRows() == 0) return tr("There is no routing to export yet.");
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Text))
        return tr("Could not open %1 for writing: %2").arg(path, file.errorString());
    file.write(app::RoutingViewModel::csv(m_model.grid()).toUtf8());
    if (!file.commit()) return tr("Could not write %1: %2").arg(path, file.errorString());
    return {};
}

void RoutingPage::exportPngInteractive() {
    const QString path = QFileDialog::getSaveFileName(this, tr("Export heatmap"), QStringLiteral("routing.png"),
                                                      tr("PNG images (*.png)"));
    if (path.isEmpty()) return;
    const QString error = exportPng(path);
    if (!error.isEmpty())
        QMessageBox::warning(this, tr("Export failed"), error);
    else
        emit statusMessage(tr("Saved %1").arg(path));
}

void RoutingPage::exportCsvInteractive() {
    const QString path = QFileDialog::getSaveFileName(this, tr("Export routing CSV"), QStringLiteral("routing.csv"),
                                                      tr("CSV files (*.csv)"));
    if (path.isEmpty()) return;
    const QString error = exportCsv(path);
    if (!error.isEmpty())
        QMessageBox::warning(this, tr("Export failed"), error);
    else
        emit statusMessage(tr("Saved %1").arg(path));
}

}  // namespace moe::ui
