// The layers x experts heatmap (QCustomPlot QCPColorMap) of a HeatmapGrid: MoE layers as rows labelled by
// their model layer index, routed experts as columns, the always-on shared experts as a separate narrow
// block on the right, and a colour scale. Sequential colours for counts / mass / shares, a diverging palette
// centred at 0 for a difference (B - A). Hovering a cell shows its layer, expert, count, mass and share.
#pragma once

#include "models/routing_view_model.h"

#include <QPoint>
#include <QWidget>

#include <utility>
#include <vector>

class QCustomPlot;
class QCPAxisRect;
class QCPColorMap;
class QCPColorScale;
class QCPGraph;
class QCPMarginGroup;
class QLabel;
class QStackedLayout;

namespace moe::ui {

class RoutingHeatmapWidget : public QWidget {
    Q_OBJECT

public:
    explicit RoutingHeatmapWidget(QWidget* parent = nullptr);

    void setGrid(const app::HeatmapGrid& grid);
    const app::HeatmapGrid& grid() const { return m_grid; }
    // Text of the empty state (no routing yet).
    void setEmptyText(const QString& text);
    // A low plot (a drawer under the chat): a smaller minimum size and a short colour-bar label.
    void setCompact(bool compact);
    // Outlines cells (slot, expert): the experts of the token under the mouse in the token strip.
    void setHighlightedCells(const std::vector<std::pair<int32_t, int32_t>>& cells);
    // The tooltip (HTML) for a point of the plot widget; empty outside every cell. Also used on hover.
    QString tooltipAt(const QPoint& plotPos) const;
    bool savePng(const QString& path, int width = 0, int height = 0);

    QCustomPlot* plot() const { return m_plot; }
    QCPColorMap* colorMap() const { return m_map; }
    QCPColorMap* sharedMap() const { return m_sharedMap; }
    QCPColorScale* colorScale() const { return m_scale; }

Q_SIGNALS:
    void cellHovered(int slot, int expert);  // -1, -1 when leaving the cells

protected:
    void changeEvent(QEvent* event) override;

private:
    void buildPlot();
    void applyTheme();
    void updateAxes();
    void setSharedBlockShown(bool shown);
    void onMouseMove(QMouseEvent* event);
    // (slot, expert) under a plot-widget point in the routed block, or (-1,-1); shared: index in the block.
    std::pair<int, int> cellAt(const QPoint& pos, bool* shared) const;
    QString scaleLabel() const;
    bool m_compact = false;
    double displayFactor() const { return (m_grid.normalized || m_grid.difference) ? 100.0 : 1.0; }

    app::HeatmapGrid m_grid;
    QStackedLayout* m_stack = nullptr;
    QLabel* m_empty = nullptr;
    QCustomPlot* m_plot = nullptr;
    QCPAxisRect* m_mainRect = nullptr;
    QCPAxisRect* m_sharedRect = nullptr;
    QCPColorMap* m_map = nullptr;
    QCPColorMap* m_sharedMap = nullptr;
    QCPColorScale* m_scale = nullptr;
    QCPGraph* m_highlight = nullptr;
    QCPMarginGroup* m_margins = nullptr;
    bool m_sharedShown = true;
    std::pair<int, int> m_lastHover{-1, -1};
};

}  // namespace moe::ui
