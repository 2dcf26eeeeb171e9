#include "widgets/time_series_plot.h"

#include "widgets/plot_style.h"

#include <algorithm>

namespace moe::ui {

TimeSeriesPlot::TimeSeriesPlot(const QString& title, const QString& leftLabel, const QString& rightLabel,
                               QWidget* parent)
    : QCustomPlot(parent), m_emptyMessage(tr("No data in this range")) {
    setMinimumHeight(190);
    plotLayout()->insertRow(0);
    m_title = new QCPTextElement(this, title);
    QFont tf = font();
    tf.setBold(true);
    m_title->setFont(tf);
    plotLayout()->addElement(0, 0, m_title);
    xAxis->setTicker(QSharedPointer<QCPAxisTickerDateTime>(new QCPAxisTickerDateTime));
    yAxis->setLabel(leftLabel);
    if (!rightLabel.isEmpty()) {
        yAxis2->setVisible(true);
        yAxis2->setLabel(rightLabel);
    }
    legend->setVisible(true);
    legend->setIconSize(14, 8);
    QFont lf = font();
    lf.setPointSizeF(lf.pointSizeF() * 0.9);
    legend->setFont(lf);
    // The legend in its own row under the title, never over the data (a fresh session's first points sit
    // where an inset legend would be).
    axisRect()->insetLayout()->take(legend);
    axisRect()->insetLayout()->simplify();
    auto* legendRow = new QCPLayoutGrid;
    plotLayout()->insertRow(1);
    plotLayout()->addElement(1, 0, legendRow);
    legendRow->setMargins(QMargins(0, 0, 0, 0));
    legendRow->addElement(0, 0, legend);
    legendRow->addElement(0, 1, new QCPLayoutElement(this));  // packs the entries to the left
    legendRow->setColumnStretchFactor(0, 0.001);
    legend->setFillOrder(QCPLegend::foColumnsFirst);
    legend->setMargins(QMargins(4, 0, 4, 0));
    plotLayout()->setRowStretchFactor(1, 0.001);
    plotLayout()->setRowSpacing(0);
    m_empty = new QCPItemText(this);
    m_empty->setPositionAlignment(Qt::AlignCenter);
    m_empty->position->setType(QCPItemPosition::ptAxisRectRatio);
    m_empty->position->setCoords(0.5, 0.5);
    m_empty->setClipToAxisRect(false);
    m_empty->setText(m_emptyMessage);
    applyTheme();
}

void TimeSeriesPlot::setSeries(int index, const app::TimeSeries& series, bool rightAxis, bool scatter) {
    while (m_graphs.size() <= index) {
        m_graphs.append(addGraph());
        m_scatter.append(false);
    }
    QCPGraph* g = m_graphs[index];
    if (rightAxis && g->valueAxis() != yAxis2) {
        removeGraph(g);
        g = addGraph(xAxis, yAxis2);
        m_graphs[index] = g;
    }
    m_scatter[index] = scatter;
    g->setName(series.name);
    g->setData(series.t, series.v, true);
    applyTheme();
}

void TimeSeriesPlot::setTimeRange(double t0, double t1) {
    xAxis->setRange(t0, std::max(t1, t0 + 1));
    auto ticker = qSharedPointerDynamicCast<QCPAxisTickerDateTime>(xAxis->ticker());
    if (ticker) {
        const double span = t1 - t0;
        ticker->setDateTimeFormat(span <= 900         ? QStringLiteral("hh:mm:ss")
                                  : span <= 2 * 86400 ? QStringLiteral("hh:mm")
                                                      : QStringLiteral("MMM d\nhh:mm"));
        // About one label per 90 px: "hh:mm:ss" labels must not run into each other on a narrow plot.
        const int width = axisRect()->width() > 0 ? axisRect()->width() : 500;
        ticker->setTickCount(std::clamp(width / 90, 2, span <= 3600 ? 6 : 5));
        ticker->setTickStepStrategy(QCPAxisTicker::tssMeetTickCount);
    }
}

void TimeSeriesPlot::setEmptyMessage(const QString& message) {
    m_emptyMessage = message;
    m_empty->setText(message);
}

void TimeSeriesPlot::setLeftRange(double lo, double hi) {
    m_fixedLeft = true;
    yAxis->setRange(lo, hi);
}

int TimeSeriesPlot::pointCount(int index) const {
    return index >= 0 && index < m_graphs.size() ? m_graphs[index]->dataCount() : 0;
}

void TimeSeriesPlot::refresh() {
    bool any = false;
    for (QCPGraph* g : m_graphs) any = any || g->dataCount() > 0;
    m_empty->setVisible(!any);
    const auto fit = [this](QCPAxis* axis) {
        bool found = false;
        double hi = 0;
        for (QCPGraph* g : m_graphs) {
            if (g->valueAxis() != axis) continue;
            const QCPRange r = g->getValueRange(found, QCP::sdBoth, xAxis->range());
            if (found) hi = std::max(hi, r.upper);
        }
        axis->setRange(0, hi > 0 ? hi * 1.15 : 1.0);  // from zero: small wobbles do not look like spikes
    };
    if (!m_fixedLeft) fit(yAxis);
    if (yAxis2->visible()) fit(yAxis2);
    legend->setVisible(any && m_graphs.size() > 0);
    replot(QCustomPlot::rpQueuedReplot);
}

void TimeSeriesPlot::changeEvent(QEvent* event) {
    QCustomPlot::changeEvent(event);
    if (event->type() == QEvent::PaletteChange) applyTheme();
}

void TimeSeriesPlot::applyTheme() {
    applyPlotPalette(this);
    legend->setBorderPen(Qt::NoPen);  // a row of entries under the title, not a box
    legend->setBrush(Qt::NoBrush);
    m_title->setTextColor(palette().color(QPalette::WindowText));
    QColor muted = palette().color(QPalette::WindowText);
    muted.setAlpha(140);
    m_empty->setColor(muted);
    const QList<QColor> colors = seriesColors(palette());
    for (int i = 0; i < m_graphs.size(); ++i) {
        const QColor c = colors[i % colors.size()];
        QCPGraph* g = m_graphs[i];
        g->setPen(QPen(c, m_scatter[i] ? 1.0 : 1.8));
        if (m_scatter[i]) {
            g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, c, c, 5));
        } else if (i == 0) {
            QColor fill = c;
            fill.setAlpha(40);
            g->setBrush(fill);  // the first series is shaded: reads as "how much" at a glance
        }
    }
    replot(QCustomPlot::rpQueuedReplot);
}

}  // namespace moe::ui
