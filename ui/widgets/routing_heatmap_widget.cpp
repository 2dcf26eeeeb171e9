#include "widgets/routing_heatmap_widget.h"

#include "widgets/plot_style.h"

#include <qcustomplot.h>

#include <QLabel>
#include <QStackedLayout>
#include <QToolTip>

#include <algorithm>
#include <cmath>

namespace moe::ui {

namespace {
constexpr int kSharedColumnPx = 22;

// A tick step that gives about `target` labels over n columns: 1, 2, 4, 8, 16... experts.
double tickStep(int n, int target) {
    double step = 1;
    while (n / step > target) step *= 2;
    return step;
}
// Fills `map` with nKeys x nValues cells centred on 0..n-1, each spanning +-0.5. QCPColorMap stretches its
// image between the first and last cell centres, so a dimension of one cell would draw nothing: it is stored
// as two half-width cells of the same value.
template <class F>
void fillCells(QCPColorMap* map, int nKeys, int nValues, F value) {
    const int keys = nKeys == 1 ? 2 : nKeys, values = nValues == 1 ? 2 : nValues;
    const QCPRange keyRange = nKeys == 1 ? QCPRange(-0.25, 0.25) : QCPRange(0, nKeys - 1);
    const QCPRange valueRange = nValues == 1 ? QCPRange(-0.25, 0.25) : QCPRange(0, nValues - 1);
    map->data()->setSize(keys, values);
    map->data()->setRange(keyRange, valueRange);
    for (int v = 0; v < values; ++v)
        for (int k = 0; k < keys; ++k) map->data()->setCell(k, v, value(nKeys == 1 ? 0 : k, nValues == 1 ? 0 : v));
}
}  // namespace

RoutingHeatmapWidget::RoutingHeatmapWidget(QWidget* parent) : QWidget(parent) {
    m_stack = new QStackedLayout(this);
    m_empty = new QLabel(tr("No routing to show yet."), this);
    m_empty->setAlignment(Qt::AlignCenter);
    m_empty->setWordWrap(true);
    m_empty->setObjectName(QStringLiteral("routingHeatmapEmpty"));
    m_plot = new QCustomPlot(this);
    m_plot->setMinimumSize(320, 200);
    m_stack->addWidget(m_empty);
    m_stack->addWidget(m_plot);
    buildPlot();
    applyTheme();
    m_stack->setCurrentWidget(m_empty);
}

void RoutingHeatmapWidget::buildPlot() {
    m_plot->plotLayout()->clear();
    m_margins = new QCPMarginGroup(m_plot);
    m_mainRect = new QCPAxisRect(m_plot);
    m_sharedRect = new QCPAxisRect(m_plot);
    m_scale = new QCPColorScale(m_plot);
    m_plot->plotLayout()->addElement(0, 0, m_mainRect);
    m_plot->plotLayout()->addElement(0, 1, m_sharedRect);
    m_plot->plotLayout()->addElement(0, 2, m_scale);
    m_plot->plotLayout()->setColumnSpacing(8);
    m_mainRect->setMarginGroup(QCP::msTop | QCP::msBottom, m_margins);
    m_sharedRect->setMarginGroup(QCP::msTop | QCP::msBottom, m_margins);
    m_scale->setMarginGroup(QCP::msTop | QCP::msBottom, m_margins);
    m_scale->setBarWidth(12);

    QCPAxis* x = m_mainRect->axis(QCPAxis::atBottom);
    QCPAxis* y = m_mainRect->axis(QCPAxis::atLeft);
    x->setLabel(tr("Routed expert"));
    y->setLabel(tr("Model layer"));
    y->setRangeReversed(true);  // the first layer on top, like a table
    m_map = new QCPColorMap(x, y);
    m_map->setInterpolate(false);
    m_map->setTightBoundary(false);
    m_map->setColorScale(m_scale);
    m_highlight = new QCPGraph(x, y);
    m_highlight->setLineStyle(QCPGraph::lsNone);

    QCPAxis* sx = m_sharedRect->axis(QCPAxis::atBottom);
    QCPAxis* sy = m_sharedRect->axis(QCPAxis::atLeft);
    sx->setLabel(tr("Shared"));
    sy->setTickLabels(false);
    sy->setTicks(false);
    sy->setRangeReversed(true);
    m_sharedMap = new QCPColorMap(sx, sy);
    m_sharedMap->setInterpolate(false);
    m_sharedMap->setTightBoundary(false);
    connect(y, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), sy, qOverload<const QCPRange&>(&QCPAxis::setRange));
    m_plot->plotLayout()->setColumnStretchFactor(0, 1.0);
    m_plot->plotLayout()->setColumnStretchFactor(1, 0.01);
    m_plot->plotLayout()->setColumnStretchFactor(2, 0.01);
    m_plot->setMouseTracking(true);
    connect(m_plot, &QCustomPlot::mouseMove, this, &RoutingHeatmapWidget::onMouseMove);
}

void RoutingHeatmapWidget::applyTheme() {
    applyPlotPalette(m_plot);
    styleAxis(m_scale->axis(), m_plot->palette());
    m_map->setGradient(m_grid.difference ? divergingGradient(palette()) : sequentialGradient());
    // The shared block: one flat colour, it is not a quantity the scale measures.
    QCPColorGradient flat;
    flat.clearColorStops();
    const QColor sharedColor = isDarkPalette(palette()) ? QColor(0x8a, 0x93, 0xa6) : QColor(0x7d, 0x87, 0x9c);
    flat.setColorStopAt(0, sharedColor);
    flat.setColorStopAt(1, sharedColor);
    m_sharedMap->setGradient(flat);
    const QColor outline = isDarkPalette(palette()) ? QColor(Qt::white) : QColor(0xd0, 0x1c, 0x8b);
    m_highlight->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssSquare, QPen(outline, 2), Qt::NoBrush, 9));
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void RoutingHeatmapWidget::changeEvent(QEvent* event) {
    QWidget::changeEvent(event);
    if (event->type() == QEvent::PaletteChange || event->type() == QEvent::StyleChange) applyTheme();
}

void RoutingHeatmapWidget::setEmptyText(const QString& text) {
    m_empty->setText(text);
}

void RoutingHeatmapWidget::setSharedBlockShown(bool shown) {
    if (shown == m_sharedShown) return;
    m_sharedShown = shown;
    if (shown) {
        m_plot->plotLayout()->insertColumn(1);
        m_plot->plotLayout()->addElement(0, 1, m_sharedRect);
        m_sharedRect->setVisible(true);
    } else {
        m_plot->plotLayout()->take(m_sharedRect);
        m_plot->plotLayout()->simplify();
        m_sharedRect->setVisible(false);
    }
}

void RoutingHeatmapWidget::setGrid(const app::HeatmapGrid& grid) {
    m_grid = grid;
    const int nE = grid.nExpert, nS = grid.nSlots();
    if (nE <= 0 || nS <= 0) {
        m_stack->setCurrentWidget(m_empty);
        return;
    }
    m_stack->setCurrentWidget(m_plot);
    const double f = displayFactor();
    fillCells(m_map, nE, nS, [&](int e, int slot) { return grid.value(slot, e) * f; });
    setSharedBlockShown(grid.nShared > 0);
    if (grid.nShared > 0) {
        fillCells(m_sharedMap, grid.nShared, nS, [](int, int) { return 1.0; });
        m_sharedMap->setDataRange(QCPRange(0, 1));
    }
    double lo = 0, hi = std::max(grid.maxValue() * f, 1e-9);
    if (grid.difference) {
        const double m = std::max({std::abs(grid.minValue() * f), std::abs(grid.maxValue() * f), 0.5});
        lo = -m;
        hi = m;
    } else if (grid.normalized) {
        hi = std::max(hi, 1.0);
    } else {
        hi = std::max(hi, 1.0);
    }
    m_map->setDataRange(QCPRange(lo, hi));
    m_scale->axis()->setLabel(scaleLabel());
    m_highlight->data()->clear();
    updateAxes();
    applyTheme();
}

void RoutingHeatmapWidget::setCompact(bool compact) {
    m_compact = compact;
    m_plot->setMinimumSize(compact ? QSize(240, 130) : QSize(320, 200));
    m_scale->axis()->setLabel(scaleLabel());
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

QString RoutingHeatmapWidget::scaleLabel() const {
    const bool mass = m_grid.measure == app::RoutingMeasure::Mass;
    if (m_compact) {  // the colour bar's label runs along a low plot: a few words only
        if (m_grid.difference) return tr("B − A (points)");
        if (m_grid.normalized) return tr("% of layer");
        return mass ? tr("Mass") : tr("Count");
    }
    if (m_grid.difference) return mass ? tr("B − A, weight share (points)") : tr("B − A, selection share (points)");
    if (m_grid.normalized) return mass ? tr("Share of layer weight (%)") : tr("Share of layer selections (%)");
    return mass ? tr("Gate-weight mass") : tr("Selections (tokens)");
}

void RoutingHeatmapWidget::updateAxes() {
    const int nE = m_grid.nExpert, nS = m_grid.nSlots();
    QCPAxis* x = m_mainRect->axis(QCPAxis::atBottom);
    QCPAxis* y = m_mainRect->axis(QCPAxis::atLeft);
    x->setRange(-0.5, nE - 0.5);
    y->setRange(-0.5, nS - 0.5);
    QSharedPointer<QCPAxisTickerFixed> xt(new QCPAxisTickerFixed);
    xt->setTickStep(tickStep(nE, 16));
    xt->setScaleStrategy(QCPAxisTickerFixed::ssNone);
    x->setTicker(xt);
    QSharedPointer<QCPAxisTickerText> yt(new QCPAxisTickerText);
    const int every = static_cast<int>(tickStep(nS, 24));
    for (int s = 0; s < nS; s += every) yt->addTick(s, QString::number(m_grid.moeLayers[size_t(s)]));
    y->setTicker(yt);
    y->grid()->setVisible(false);
    x->grid()->setVisible(false);

    QCPAxis* sx = m_sharedRect->axis(QCPAxis::atBottom);
    sx->setRange(-0.5, m_grid.nShared - 0.5);
    QSharedPointer<QCPAxisTickerText> st(new QCPAxisTickerText);
    for (int j = 0; j < m_grid.nShared; ++j) st->addTick(j, QStringLiteral("S%1").arg(j));
    sx->setTicker(st);
    sx->grid()->setVisible(false);
    m_sharedRect->axis(QCPAxis::atLeft)->grid()->setVisible(false);
    m_sharedRect->axis(QCPAxis::atLeft)->setRange(y->range());
    const int w = kSharedColumnPx * std::max(1, m_grid.nShared);
    m_sharedRect->setMinimumSize(w, 0);
    m_sharedRect->setMaximumSize(w, QWIDGETSIZE_MAX);
    m_sharedRect->setAutoMargins(QCP::msTop | QCP::msBottom);
    m_sharedRect->setMargins(QMargins(2, 0, 2, 0));
}

void RoutingHeatmapWidget::setHighlightedCells(const std::vector<std::pair<int32_t, int32_t>>& cells) {
    QVector<double> keys, values;
    for (const auto& [slot, expert] : cells) {
        keys.append(expert);
        values.append(slot);
    }
    m_highlight->setData(keys, values);
    const int cellPx = m_grid.nExpert > 0 ? m_mainRect->width() / m_grid.nExpert : 9;
    QCPScatterStyle style = m_highlight->scatterStyle();
    style.setSize(std::clamp(cellPx - 2, 4, 18));
    m_highlight->setScatterStyle(style);
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

std::pair<int, int> RoutingHeatmapWidget::cellAt(const QPoint& pos, bool* shared) const {
    *shared = false;
    if (m_grid.nExpert <= 0) return {-1, -1};
    const auto locate = [&](QCPAxisRect* rect, int columns) -> std::pair<int, int> {
        if (!rect->visible() || !rect->rect().contains(pos)) return {-1, -1};
        const int col = static_cast<int>(std::lround(rect->axis(QCPAxis::atBottom)->pixelToCoord(pos.x())));
        const int row = static_cast<int>(std::lround(rect->axis(QCPAxis::atLeft)->pixelToCoord(pos.y())));
        if (col < 0 || col >= columns || row < 0 || row >= m_grid.nSlots()) return {-1, -1};
        return {row, col};
    };
    auto cell = locate(m_mainRect, m_grid.nExpert);
    if (cell.first >= 0) return cell;
    if (m_sharedShown) {
        cell = locate(m_sharedRect, m_grid.nShared);
        *shared = cell.first >= 0;
    }
    return cell;
}

QString RoutingHeatmapWidget::tooltipAt(const QPoint& plotPos) const {
    bool shared = false;
    const auto [slot, col] = cellAt(plotPos, &shared);
    if (slot < 0) return {};
    return shared ? m_grid.sharedTooltip(slot, col) : m_grid.cellTooltip(slot, col);
}

void RoutingHeatmapWidget::onMouseMove(QMouseEvent* event) {
    bool shared = false;
    const auto cell = cellAt(event->pos(), &shared);
    const QString tip = tooltipAt(event->pos());
    if (tip.isEmpty())
        QToolTip::hideText();
    else
        QToolTip::showText(m_plot->mapToGlobal(event->pos()), tip, m_plot);
    const std::pair<int, int> routed = shared ? std::pair<int, int>{-1, -1} : cell;
    if (routed != m_lastHover) {
        m_lastHover = routed;
        emit cellHovered(routed.first, routed.second);
    }
}

bool RoutingHeatmapWidget::savePng(const QString& path, int width, int height) {
    m_plot->replot();
    return m_plot->savePng(path, width, height, 2.0);
}

}  // namespace moe::ui
