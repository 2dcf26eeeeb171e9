#include "widgets/routing_panel.h"

#include "services/memory_fit.h"
#include "widgets/routing_heatmap_widget.h"
#include "widgets/token_strip_widget.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QScrollArea>
#include <QTimer>
#include <QVBoxLayout>

namespace moe::ui {

RoutingPanel::RoutingPanel(QWidget* parent) : QWidget(parent) {
    m_redrawTimer = new QTimer(this);
    m_redrawTimer->setSingleShot(true);
    m_redrawTimer->setInterval(100);
    connect(m_redrawTimer, &QTimer::timeout, this, &RoutingPanel::redraw);

    auto* root = new QVBoxLayout(this);
    root->setContentsMargins(0, 0, 0, 0);
    auto* head = new QHBoxLayout;
    m_caption = new QLabel(tr("Expert routing"), this);
    QFont f = m_caption->font();
    f.setBold(true);
    m_caption->setFont(f);
    m_measure = new QComboBox(this);
    m_measure->addItems({tr("Count"), tr("Weight mass")});
    m_measure->setToolTip(tr("Colour by how often an expert was chosen, or by the gate weight it received"));
    auto* open = new QPushButton(tr("Open on Routing page"), this);
    head->addWidget(m_caption, 1);
    head->addWidget(m_measure);
    head->addWidget(open);
    root->addLayout(head);
    m_heatmap = new RoutingHeatmapWidget(this);
    m_heatmap->setCompact(true);
    m_heatmap->setEmptyText(tr("The routing of the reply appears here while it streams."));
    root->addWidget(m_heatmap, 1);
    // Under the heatmap, two rows of tokens at a time: the heatmap keeps the drawer's height.
    m_strip = new TokenStripWidget(this);
    auto* scroll = new QScrollArea(this);
    scroll->setWidget(m_strip);
    scroll->setWidgetResizable(true);
    scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    scroll->setFixedHeight(2 * m_strip->fontMetrics().height() + 28);
    scroll->setToolTip(tr("The reply's tokens: hover one to outline its experts, drag to narrow the heatmap"));
    root->addWidget(scroll);

    m_model.setNormalized(true);
    connect(m_measure, qOverload<int>(&QComboBox::currentIndexChanged), this, [this](int i) {
        m_model.setMeasure(i == 1 ? app::RoutingMeasure::Mass : app::RoutingMeasure::Count);
        redraw();
    });
    connect(open, &QPushButton::clicked, this, &RoutingPanel::openRoutingPageRequested);
    connect(m_strip, &TokenStripWidget::selectionChanged, this, [this](int b, int e) {
        m_model.setSelection(e > b ? app::RoutingSelection::range(b, e) : app::RoutingSelection::all());
        redraw();
    });
    connect(m_strip, &TokenStripWidget::tokenHovered, this, [this](int row) {
        std::vector<std::pair<int32_t, int32_t>> cells;
        if (row >= 0 && row < m_model.data().nRows())
            for (int32_t s = 0; s < m_model.data().nSlots(); ++s)
                for (int32_t e : m_model.data().experts(row, s)) cells.emplace_back(s, e);
        m_heatmap->setHighlightedCells(cells);
    });
}

void RoutingPanel::setRouting(const app::RoutingData& reply) {
    m_model.clear();
    m_model.setData(reply);
    m_strip->clear();
    redraw();
}

void RoutingPanel::appendRows(const app::RoutingData& rows) {
    if (!m_model.appendRows(rows)) return;
    if (!isVisible())
        m_redrawPending = true;  // drawn when shown
    else if (!m_redrawTimer->isActive())
        m_redrawTimer->start();
}

void RoutingPanel::showEvent(QShowEvent* event) {
    QWidget::showEvent(event);
    if (m_redrawPending) redraw();
}

void RoutingPanel::clear() {
    m_redrawTimer->stop();
    m_model.clear();
    m_strip->clear();
    redraw();
}

void RoutingPanel::redraw() {
    m_redrawTimer->stop();
    m_redrawPending = false;
    const app::RoutingData& d = m_model.data();
    if (m_strip->count() < d.nRows()) {
        QStringList texts;
        std::vector<int32_t> ids;
        for (int64_t r = m_strip->count(); r < d.nRows(); ++r) {
            texts << d.tokenText(r);
            ids.push_back(d.token(r));
        }
        m_strip->appendTokens(texts, ids);
    }
    const app::HeatmapGrid grid = m_model.grid();
    m_heatmap->setGrid(d.nRows() > 0 ? grid : app::HeatmapGrid());
    QStringList parts{tr("Expert routing")};
    if (!m_subject.isEmpty()) parts << m_subject;
    if (d.nRows() > 0) parts << app::formatQuantity(grid.a.n_rows, tr("token"), tr("tokens"));
    m_caption->setText(parts.join(QStringLiteral(" · ")));
}

void RoutingPanel::setSubject(const QString& subject) {
    m_subject = subject;
    redraw();
}

void RoutingPanel::setEmptyText(const QString& text) {
    m_heatmap->setEmptyText(text);
}

QString RoutingPanel::caption() const {
    return m_caption->text();
}

}  // namespace moe::ui
