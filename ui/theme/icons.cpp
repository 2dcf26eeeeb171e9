#include "theme/icons.h"

#include "theme/theme.h"

#include <QPainter>
#include <QPainterPath>

namespace moe::ui {

namespace {

// Each function draws on a 24x24 canvas with the pen already set (2-unit round strokes).
void drawModels(QPainter& p) {  // a stack of three layers
    QPainterPath top;
    top.moveTo(12, 3);
    top.lineTo(21, 7.5);
    top.lineTo(12, 12);
    top.lineTo(3, 7.5);
    top.closeSubpath();
    p.drawPath(top);
    QPainterPath mid;
    mid.moveTo(3, 12);
    mid.lineTo(12, 16.5);
    mid.lineTo(21, 12);
    p.drawPath(mid);
    QPainterPath low;
    low.moveTo(3, 16.5);
    low.lineTo(12, 21);
    low.lineTo(21, 16.5);
    p.drawPath(low);
}

void drawChat(QPainter& p) {  // a speech bubble
    QPainterPath b;
    b.addRoundedRect(QRectF(3, 4, 18, 13), 3.5, 3.5);
    p.drawPath(b);
    QPainterPath tail;
    tail.moveTo(8, 17);
    tail.lineTo(7, 21);
    tail.lineTo(12, 17);
    p.drawPath(tail);
    p.drawLine(QPointF(7.5, 9), QPointF(16.5, 9));
    p.drawLine(QPointF(7.5, 12.5), QPointF(13.5, 12.5));
}

void drawRouting(QPainter& p) {  // a 3x3 grid with two filled cells
    for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 3; ++c) {
            const QRectF cell(3.5 + c * 6, 3.5 + r * 6, 5, 5);
            const bool on = (r == 0 && c == 1) || (r == 2 && c == 0) || (r == 1 && c == 2);
            if (on)
                p.fillRect(cell, p.pen().color());
            else
                p.drawRoundedRect(cell.adjusted(0.5, 0.5, -0.5, -0.5), 1, 1);
        }
}

void drawMetrics(QPainter& p) {  // axes and a rising line
    p.drawLine(QPointF(4, 4), QPointF(4, 20));
    p.drawLine(QPointF(4, 20), QPointF(20, 20));
    QPainterPath l;
    l.moveTo(7, 15);
    l.lineTo(11, 10);
    l.lineTo(14, 13);
    l.lineTo(20, 6);
    p.drawPath(l);
}

void drawFolder(QPainter& p) {
    QPainterPath f;
    f.moveTo(3, 7);
    f.lineTo(3, 18);
    f.quadTo(3, 19, 4, 19);
    f.lineTo(20, 19);
    f.quadTo(21, 19, 21, 18);
    f.lineTo(21, 9);
    f.quadTo(21, 8, 20, 8);
    f.lineTo(12, 8);
    f.lineTo(10, 5);
    f.lineTo(4, 5);
    f.quadTo(3, 5, 3, 6);
    f.closeSubpath();
    p.drawPath(f);
}

void drawCircleMark(QPainter& p, IconKind kind) {
    p.drawEllipse(QRectF(3, 3, 18, 18));
    if (kind == IconKind::Info) {
        p.drawLine(QPointF(12, 11), QPointF(12, 16.5));
        p.drawPoint(QPointF(12, 7.8));
    } else if (kind == IconKind::Error || kind == IconKind::Cancel) {
        p.drawLine(QPointF(9, 9), QPointF(15, 15));
        p.drawLine(QPointF(15, 9), QPointF(9, 15));
    } else if (kind == IconKind::Check) {
        QPainterPath c;
        c.moveTo(8, 12.5);
        c.lineTo(11, 15.5);
        c.lineTo(16.5, 9.5);
        p.drawPath(c);
    } else if (kind == IconKind::Load) {
        QPainterPath t;
        t.moveTo(10, 8.5);
        t.lineTo(16, 12);
        t.lineTo(10, 15.5);
        t.closeSubpath();
        p.drawPath(t);
    } else if (kind == IconKind::Unload) {
        p.drawRect(QRectF(9, 9, 6, 6));
    }
}

void drawWarning(QPainter& p) {
    QPainterPath t;
    t.moveTo(12, 3.5);
    t.lineTo(21.5, 20);
    t.lineTo(2.5, 20);
    t.closeSubpath();
    p.drawPath(t);
    p.drawLine(QPointF(12, 9.5), QPointF(12, 14));
    p.drawPoint(QPointF(12, 17));
}

void drawRemove(QPainter& p) {  // a bin
    p.drawLine(QPointF(4, 6.5), QPointF(20, 6.5));
    p.drawLine(QPointF(9.5, 6.5), QPointF(10, 3.5));
    p.drawLine(QPointF(10, 3.5), QPointF(14, 3.5));
    p.drawLine(QPointF(14, 3.5), QPointF(14.5, 6.5));
    QPainterPath b;
    b.moveTo(6, 6.5);
    b.lineTo(7, 20);
    b.lineTo(17, 20);
    b.lineTo(18, 6.5);
    p.drawPath(b);
    p.drawLine(QPointF(10, 10.5), QPointF(10, 16));
    p.drawLine(QPointF(14, 10.5), QPointF(14, 16));
}

void drawSunMoon(QPainter& p, bool sun) {
    if (!sun) {
        QPainterPath m;
        m.addEllipse(QRectF(4, 4, 16, 16));
        QPainterPath cut;
        cut.addEllipse(QRectF(9, 1, 15, 15));
        p.drawPath(m.subtracted(cut));
        return;
    }
    p.drawEllipse(QRectF(8, 8, 8, 8));
    for (int i = 0; i < 8; ++i) {
        p.save();
        p.translate(12, 12);
        p.rotate(45.0 * i);
        p.drawLine(QPointF(0, -7.5), QPointF(0, -9.5));
        p.restore();
    }
}

void drawCpu(QPainter& p) {
    p.drawRoundedRect(QRectF(6, 6, 12, 12), 2, 2);
    p.drawRect(QRectF(10, 10, 4, 4));
    for (double x : {9.5, 14.5}) {
        p.drawLine(QPointF(x, 3), QPointF(x, 6));
        p.drawLine(QPointF(x, 18), QPointF(x, 21));
        p.drawLine(QPointF(3, x), QPointF(6, x));
        p.drawLine(QPointF(18, x), QPointF(21, x));
    }
}

void drawMemory(QPainter& p) {
    p.drawRoundedRect(QRectF(3, 7, 18, 10), 1.5, 1.5);
    for (double x : {7.0, 11.0, 15.0}) p.drawLine(QPointF(x, 10), QPointF(x, 14));
    for (double x : {6.0, 10.0, 14.0, 18.0}) p.drawLine(QPointF(x, 17), QPointF(x, 20));
}

void drawSpeed(QPainter& p) {  // a gauge
    QPainterPath arc;
    arc.arcMoveTo(QRectF(3, 5, 18, 18), 200);
    arc.arcTo(QRectF(3, 5, 18, 18), 200, -220);
    p.drawPath(arc);
    p.drawLine(QPointF(12, 14), QPointF(16, 9.5));
}

void draw(QPainter& p, IconKind kind) {
    switch (kind) {
        case IconKind::Models:
            drawModels(p);
            break;
        case IconKind::Chat:
            drawChat(p);
            break;
        case IconKind::Routing:
            drawRouting(p);
            break;
        case IconKind::Metrics:
            drawMetrics(p);
            break;
        case IconKind::Add:
            p.drawLine(QPointF(12, 5), QPointF(12, 19));
            p.drawLine(QPointF(5, 12), QPointF(19, 12));
            break;
        case IconKind::Folder:
            drawFolder(p);
            break;
        case IconKind::Remove:
            drawRemove(p);
            break;
        case IconKind::Warning:
            drawWarning(p);
            break;
        case IconKind::Sun:
            drawSunMoon(p, true);
            break;
        case IconKind::Moon:
            drawSunMoon(p, false);
            break;
        case IconKind::Cpu:
            drawCpu(p);
            break;
        case IconKind::Memory:
            drawMemory(p);
            break;
        case IconKind::Speed:
            drawSpeed(p);
            break;
        default:
            drawCircleMark(p, kind);
            break;
    }
}

}  // namespace

QPixmap Icons::pixmap(IconKind kind, int sizePx, const QColor& color) {
    const QColor c = color.isValid() ? color : Theme::colors().text;
    const qreal dpr = 2.0;
    QPixmap pm(QSize(sizePx, sizePx) * dpr);
    pm.setDevicePixelRatio(dpr);
    pm.fill(Qt::transparent);
    QPainter p(&pm);
    p.setRenderHint(QPainter::Antialiasing);
    p.scale(sizePx / 24.0, sizePx / 24.0);
    QPen pen(c, 1.8, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin);
    p.setPen(pen);
    p.setBrush(Qt::NoBrush);
    draw(p, kind);
    return pm;
}

QIcon Icons::icon(IconKind kind, const QColor& color) {
    QIcon icon;
    for (int size : {16, 20, 24, 32}) icon.addPixmap(pixmap(kind, size, color));
    return icon;
}

}  // namespace moe::ui
