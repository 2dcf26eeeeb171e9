// Colours for QCustomPlot taken from the widget's palette, so plots follow the app's light or dark theme
// (QCustomPlot paints with its own pens and knows nothing of QPalette).
#pragma once

#include <QColor>
#include <QList>

class QCustomPlot;
class QCPAxis;
class QCPColorGradient;
class QPalette;

namespace moe::ui {

// Background, axes, ticks, grid, labels and legend of every axis rect of `plot` from its palette.
void applyPlotPalette(QCustomPlot* plot);
void styleAxis(QCPAxis* axis, const QPalette& palette);
// Series colours that read on both light and dark backgrounds (Tableau 10, slightly adjusted for dark).
QList<QColor> seriesColors(const QPalette& palette);
bool isDarkPalette(const QPalette& palette);
// Sequential (viridis) for counts and shares; diverging (blue - neutral - red) for differences, its middle
// the plot background so zero recedes.
QCPColorGradient sequentialGradient();
QCPColorGradient divergingGradient(const QPalette& palette);

}  // namespace moe::ui
