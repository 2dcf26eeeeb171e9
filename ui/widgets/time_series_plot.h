// A titled QCustomPlot over time (date-time x axis) with up to a few named series on a left and an optional
// right value axis, a legend, a message when the range holds no data, and the app palette's colours.
#pragma once

#include "models/metrics_series.h"

#include <qcustomplot.h>

namespace moe::ui {

class TimeSeriesPlot : public QCustomPlot {
    Q_OBJECT

public:
    // leftLabel / rightLabel: value axis titles with units ("CPU (%)"); an empty rightLabel: no right axis.
    TimeSeriesPlot(const QString& title, const QString& leftLabel, const QString& rightLabel = QString(),
                   QWidget* parent = nullptr);

    // Series `index` (created on first use, drawn in the index-th series colour), on the right axis if asked.
    // scatter: points with thin lines (sparse data such as requests).
    void setSeries(int index, const app::TimeSeries& series, bool rightAxis = false, bool scatter = false);
    // The x range [t0, t1] in seconds since the epoch; the tick format follows its span.
    void setTimeRange(double t0, double t1);
    // Shown in the middle of the plot while every series is empty.
    void setEmptyMessage(const QString& message);
    void setLeftRange(double lo, double hi);  // fixed (percentages); else the data's range from 0
    int pointCount(int index) const;          // data points of series index (tests)
    void refresh();                           // rescales and queues a replot

protected:
    void changeEvent(QEvent* event) override;

private:
    void applyTheme();

    QCPTextElement* m_title = nullptr;
    QCPItemText* m_empty = nullptr;
    QString m_emptyMessage;
    bool m_fixedLeft = false;
    QList<QCPGraph*> m_graphs;
    QList<bool> m_scatter;
};

}  // namespace moe::ui
