// A reply's tokens as a wrapping strip of chips (whitespace made visible). Hovering a chip reports the token,
// clicking selects it, shift-click or dragging selects a range; the page shows the selection's routing.
// Painted in one widget (no child per token) so thousands of tokens stay cheap; put it in a QScrollArea.
#pragma once

#include <QList>
#include <QRect>
#include <QStringList>
#include <QWidget>

#include <cstdint>
#include <vector>

namespace moe::ui {

class TokenStripWidget : public QWidget {
    Q_OBJECT

public:
    explicit TokenStripWidget(QWidget* parent = nullptr);

    void setTokens(const QStringList& texts, const std::vector<int32_t>& ids);
    void appendTokens(const QStringList& texts, const std::vector<int32_t>& ids);  // a streaming reply
    void clear();
    int count() const { return static_cast<int>(m_texts.size()); }

    // Rows [begin, end) selected; begin == end: nothing.
    void setSelection(int begin, int end);
    void clearSelection() { setSelection(0, 0); }
    int selectionBegin() const { return m_selBegin; }
    int selectionEnd() const { return m_selEnd; }
    int hoveredToken() const { return m_hovered; }
    QRect chipRect(int row) const;  // in widget coordinates (tests drive the mouse with it)
    static QString displayText(const QString& token);

    bool hasHeightForWidth() const override { return true; }
    int heightForWidth(int width) const override;
    QSize sizeHint() const override;
    QSize minimumSizeHint() const override { return {120, 32}; }

Q_SIGNALS:
    void tokenHovered(int row);  // -1 when the mouse leaves the chips
    void tokenClicked(int row);
    void selectionChanged(int begin, int end);

protected:
    void paintEvent(QPaintEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void mouseReleaseEvent(QMouseEvent* event) override;
    void leaveEvent(QEvent* event) override;
    bool event(QEvent* event) override;

private:
    void measureChips();  // the widths of the tokens not measured yet
    // Lays the chips out for `width`; returns the height used.
    int layoutChips(int width, std::vector<QRect>* rects) const;
    int rowAt(const QPoint& pos) const;
    void setHovered(int row);

    QStringList m_texts;
    std::vector<int32_t> m_ids;
    std::vector<int> m_widths;  // [tokens] chip widths in px for the current font
    std::vector<QRect> m_rects;
    int m_hovered = -1;
    int m_anchor = -1;
    int m_selBegin = 0;
    int m_selEnd = 0;
    bool m_dragging = false;
};

}  // namespace moe::ui
