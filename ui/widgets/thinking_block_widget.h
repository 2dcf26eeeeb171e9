// DeepSeek-R1's reasoning (<think>...</think>) in a reply: a "Thinking" toggle that shows or hides the text.
// Collapsed by default; while the reasoning streams the header says so ("Thinking…") and the text shows.
#pragma once

#include <QFrame>

class QLabel;
class QToolButton;

namespace moe::app::ui {

class ThinkingBlockWidget : public QFrame {
    Q_OBJECT

public:
    explicit ThinkingBlockWidget(QWidget* parent = nullptr);
    // open: the block is still streaming (not closed by </think> yet).
    void setThinking(const QString& text, bool open);
    bool isExpanded() const;
    void setExpanded(bool expanded);
    QString text() const;

protected:
    void changeEvent(QEvent* event) override;

private:
    void updateColors();

    QToolButton* m_toggle = nullptr;
    QLabel* m_body = nullptr;
    bool m_userToggled = false;  // once the user chose, streaming no longer opens or closes it
    bool m_updatingColors = false;
};

}  // namespace moe::app::ui
