#include "widgets/plot_style.h"

#include <qcustomplot.h>

#include <QPalette>

namespace moe::ui {

bool isDarkPalette(const QPalette& palette) {
    return palette.color(QPalette::Window).lightness() < 128;
}

void styleAxis(QCPAxis* axis, const QPalette& palette) {
    const QColor text = palette.color(QPalette::WindowText);
    QColor faint = text;
    faint.setAlpha(isDarkPalette(palette) ? 40 : 30);
    QColor line = text;
    line.setAlpha(110);
    axis->setBasePen(QPen(line, 1));
    axis->setTickPen(QPen(line, 1));
    axis->setSubTickPen(QPen(line, 1));
    axis->setTickLabelColor(text);
    axis->setLabelColor(text);
    axis->grid()->setPen(QPen(faint, 1, Qt::SolidLine));
    axis->grid()->setSubGridVisible(false);
    axis->grid()->setZeroLinePen(Qt::NoPen);
    QFont f = axis->tickLabelFont();
    f.setPointSizeF(QFont().pointSizeF() * 0.9);
    axis->setTickLabelFont(f);
    QFont lf = axis->labelFont();
    lf.setPointSizeF(QFont().pointSizeF() * 0.95);
    axis->setLabelFont(lf);
}

void applyPlotPalette(QCustomPlot* plot) {
    const QPalette pal = plot->palette();
    plot->setBackground(pal.brush(QPalette::Base));
    for (QCPAxisRect* rect : plot->axisRects()) {
        rect->setBackground(pal.brush(QPalette::Base));
        for (QCPAxis* axis : rect->axes()) styleAxis(axis, pal);
    }
    if (plot->legend) {
        QColor frame = pal.color(QPalette::WindowText);
        frame.setAlpha(50);
        plot->legend->setBorderPen(QPen(frame));
        QColor bg = pal.color(QPalette::Base);
        bg.setAlpha(220);
        plot->legend->setBrush(bg);
        plot->legend->setTextColor(pal.color(QPalette::WindowText));
    }
    for (int i = 0; i < plot->plotLayout()->elementCount(); ++i) {
        if (auto* title = qobject_cast<QCPTextElement*>(plot->plotLayout()->elementAt(i)))
            title->setTextColor(pal.color(QPalette::WindowText));
        if (auto* scale = qobject_cast<QCPColorScale*>(plot->plotLayout()->elementAt(i)))
            styleAxis(scale->axis(), pal);
    }
}

QList<QColor> seriesColors(const QPalette& palette) {
    if (isDarkPalette(palette))
        return {QColor(0x6c, 0xa8, 0xe8), QColor(0xf5, 0xa0, 0x4a), QColor(0x6c, 0xd0, 0x7a),
                QColor(0xef, 0x6f, 0x6c), QColor(0xb7, 0x94, 0xe6), QColor(0x5f, 0xd3, 0xc8)};
    return {QColor(0x1f, 0x6f, 0xc5), QColor(0xe0, 0x7b, 0x12), QColor(0x2c, 0x9a, 0x47),
            QColor(0xd0, 0x3b, 0x3b), QColor(0x80, 0x5a, 0xc0), QColor(0x17, 0x9c, 0x90)};
}

QCPColorGradient sequentialGradient() {
    QCPColorGradient g;
    g.clearColorStops();
    g.setColorStopAt(0.00, QColor(0x44, 0x01, 0x54));
    g.setColorStopAt(0.25, QColor(0x3b, 0x52, 0x8b));
    g.setColorStopAt(0.50, QColor(0x21, 0x91, 0x8c));
    g.setColorStopAt(0.75, QColor(0x5e, 0xc9, 0x62));
    g.setColorStopAt(1.00, QColor(0xfd, 0xe7, 0x25));
    g.setColorInterpolation(QCPColorGradient::ciRGB);
    g.setLevelCount(256);
    return g;
}

QCPColorGradient divergingGradient(const QPalette& palette) {
    QCPColorGradient g;
    g.clearColorStops();
    const bool dark = isDarkPalette(palette);
    g.setColorStopAt(0.0, dark ? QColor(0x4f, 0x9b, 0xf0) : QColor(0x21, 0x66, 0xac));
    g.setColorStopAt(0.5, dark ? QColor(0x30, 0x30, 0x34) : QColor(0xf7, 0xf7, 0xf7));
    g.setColorStopAt(1.0, dark ? QColor(0xf0, 0x5a, 0x4f) : QColor(0xb2, 0x18, 0x2b));
    g.setColorInterpolation(QCPColorGradient::ciRGB);
    g.setLevelCount(256);
    return g;
}

}  // namespace moe::ui
