#include "widgets/token_strip_widget.h"

#include <QHelpEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QPainterPath>
#include <QToolTip>

#include <algorithm>

namespace moe::ui {

namespace {
constexpr int kPadX = 5;
constexpr int kPadY = 2;
constexpr int kGap = 3;
constexpr int kMargin = 6;
constexpr int kMaxChipChars = 24;
}  // namespace

TokenStripWidget::TokenStripWidget(QWidget* parent) : QWidget(parent) {
    setMouseTracking(true);
    setSizePolicy(QSizePolicy::Preferred, QSizePolicy::Preferred);
    setFocusPolicy(Qt::ClickFocus);
}

QString TokenStripWidget::displayText(const QString& token) {
    if (token.isEmpty()) return QStringLiteral("∅");
    QString t = token;
    t.replace(QLatin1Char('\n'), QStringLiteral("↵")).replace(QLatin1Char('\t'), QStringLiteral("⇥"));
    t.replace(QLatin1Char('\r'), QString());
    t.replace(QLatin1Char(' '), QStringLiteral("·"));
    // DeepSeek's special tokens use the fullwidth bar (<｜end▁of▁sentence｜>), which many UI fonts lack.
    t.replace(QChar(0xFF5C), QLatin1Char('|'));
    // Other control characters as their Unicode "control picture" (U+2400 + code), other unprintable ones
    // (C1 controls, stray code points) as <U+XXXX>: never an invisible box.
    QString shown;
    for (const QChar c : t) {
        if (c.unicode() < 0x20)
            shown += QChar(0x2400 + c.unicode());
        else if (!c.isPrint() && !c.isSurrogate())
            shown += QStringLiteral("<U+%1>").arg(c.unicode(), 4, 16, QLatin1Char('0'));
        else
            shown += c;
    }
    t = shown;
    if (t.size() > kMaxChipChars) t = t.left(kMaxChipChars - 1) + QStringLiteral("…");
    return t;
}

void TokenStripWidget::setTokens(const QStringList& texts, const std::vector<int32_t>& ids) {
    m_texts = texts;
    m_ids = ids;
    m_widths.clear();
    measureChips();
    m_hovered = -1;
    m_anchor = -1;
    m_selBegin = m_selEnd = 0;
    layoutChips(width(), &m_rects);
    updateGeometry();
    update();
}

void TokenStripWidget::appendTokens(const QStringList& texts, const std::vector<int32_t>& ids) {
    m_texts.append(texts);
    m_ids.insert(m_ids.end(), ids.begin(), ids.end());
    measureChips();
    layoutChips(width(), &m_rects);
    updateGeometry();
    update();
}

void TokenStripWidget::clear() {
    setTokens({}, {});
}

void TokenStripWidget::setSelection(int begin, int end) {
    begin = std::clamp(begin, 0, count());
    end = std::clamp(end, begin, count());
    if (begin == m_selBegin && end == m_selEnd) return;
    m_selBegin = begin;
    m_selEnd = end;
    update();
    emit selectionChanged(begin, end);
}

QRect TokenStripWidget::chipRect(int row) const {
    return row >= 0 && row < static_cast<int>(m_rects.size()) ? m_rects[size_t(row)] : QRect();
}

// Text widths are measured once per token (shaping is the costly part); a layout is then integer sums, cheap
// enough for the layout system to ask for it several times per batch of a long streaming reply.
void TokenStripWidget::measureChips() {
    const QFontMetrics fm(font());
    m_widths.reserve(static_cast<size_t>(m_texts.size()));
    for (qsizetype i = static_cast<qsizetype>(m_widths.size()); i < m_texts.size(); ++i)
        m_widths.push_back(fm.horizontalAdvance(displayText(m_texts[i])) + 2 * kPadX);
}

int TokenStripWidget::layoutChips(int width, std::vector<QRect>* rects) const {
    const QFontMetrics fm(font());
    const int h = fm.height() + 2 * kPadY;
    int x = kMargin, y = kMargin;
    const int right = std::max(width - kMargin, kMargin + 40);
    if (rects) rects->clear();
    for (const int w : m_widths) {
        if (x > kMargin && x + w > right) {
            x = kMargin;
            y += h + kGap;
        }
        if (rects) rects->push_back(QRect(x, y, w, h));
        x += w + kGap;
    }
    return m_texts.isEmpty() ? 2 * kMargin + h : y + h + kMargin;
}

int TokenStripWidget::heightForWidth(int width) const {
    return layoutChips(width, nullptr);
}

QSize TokenStripWidget::sizeHint() const {
    const int w = std::max(width(), 400);
    return {w, heightForWidth(w)};
}

void TokenStripWidget::resizeEvent(QResizeEvent* event) {
    QWidget::resizeEvent(event);
    layoutChips(width(), &m_rects);
    // Let a QScrollArea (widgetResizable) give the strip the height its chips need at this width.
    const int need = heightForWidth(width());
    if (minimumHeight() != need) setMinimumHeight(need);
}

void TokenStripWidget::paintEvent(QPaintEvent* event) {
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    const QPalette pal = palette();
    const bool dark = pal.color(QPalette::Window).lightness() < 128;
    QColor chip = dark ? pal.color(QPalette::Base).lighter(160) : pal.color(QPalette::Window).darker(106);
    QColor hover = pal.color(QPalette::Highlight);
    hover.setAlpha(70);
    for (int i = 0; i < static_cast<int>(m_rects.size()); ++i) {
        const QRect& r = m_rects[size_t(i)];
        if (!r.intersects(event->rect())) continue;
        const bool selected = i >= m_selBegin && i < m_selEnd;
        QPainterPath path;
        path.addRoundedRect(QRectF(r).adjusted(0.5, 0.5, -0.5, -0.5), 4, 4);
        p.fillPath(path, selected ? pal.color(QPalette::Highlight) : chip);
        if (i == m_hovered && !selected) p.fillPath(path, hover);
        if (i == m_hovered) {
            p.setPen(QPen(pal.color(QPalette::Highlight), 1.5));
            p.drawPath(path);
        }
        p.setPen(selected ? pal.color(QPalette::HighlightedText) : pal.color(QPalette::Text));
        p.drawText(r, Qt::AlignCenter, displayText(m_texts[i]));
    }
}

int TokenStripWidget::rowAt(const QPoint& pos) const {
    for (int i = 0; i < static_cast<int>(m_rects.size()); ++i)
        if (m_rects[size_t(i)].adjusted(-kGap / 2, -kGap / 2, kGap / 2 + 1, kGap / 2 + 1).contains(pos)) return i;
    return -1;
}

void TokenStripWidget::setHovered(int row) {
    if (row == m_hovered) return;
    m_hovered = row;
    update();
    emit tokenHovered(row);
}

void TokenStripWidget::mousePressEvent(QMouseEvent* event) {
    const int row = rowAt(event->position().toPoint());
    if (event->button() != Qt::LeftButton) return QWidget::mousePressEvent(event);
    if (row < 0) {
        clearSelection();
        return;
    }
    if ((event->modifiers() & Qt::ShiftModifier) && m_anchor >= 0) {
        setSelection(std::min(m_anchor, row), std::max(m_anchor, row) + 1);
    } else {
        m_anchor = row;
        setSelection(row, row + 1);
        emit tokenClicked(row);
    }
    m_dragging = true;
}

void TokenStripWidget::mouseMoveEvent(QMouseEvent* event) {
    const int row = rowAt(event->position().toPoint());
    setHovered(row);
    if (m_dragging && (event->buttons() & Qt::LeftButton) && row >= 0 && m_anchor >= 0)
        setSelection(std::min(m_anchor, row), std::max(m_anchor, row) + 1);
}

void TokenStripWidget::mouseReleaseEvent(QMouseEvent* event) {
    m_dragging = false;
    QWidget::mouseReleaseEvent(event);
}

void TokenStripWidget::leaveEvent(QEvent* event) {
    setHovered(-1);
    QWidget::leaveEvent(event);
}

bool TokenStripWidget::event(QEvent* event) {
    if (event->type() == QEvent::FontChange) {
        m_widths.clear();
        measureChips();
        layoutChips(width(), &m_rects);
        updateGeometry();
    }
    if (event->type() == QEvent::ToolTip) {
        auto* help = static_cast<QHelpEvent*>(event);
        const int row = rowAt(help->pos());
        if (row >= 0) {
            const QString id = row < static_cast<int>(m_ids.size()) ? QString::number(m_ids[size_t(row)]) : QString();
            QToolTip::showText(help->globalPos(),
                               tr("Token %1 · id %2 · %3").arg(row + 1).arg(id).arg(displayText(m_texts[row])), this);
        } else {
            QToolTip::hideText();
        }
        return true;
    }
    return QWidget::event(event);
}

}  // namespace moe::ui
