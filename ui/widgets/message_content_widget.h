// The body of one chat message: an optional Thinking block, then Markdown prose and code blocks. setContent()
// is called again and again while a reply streams; widgets whose kind did not change are updated in place,
// so the view does not flicker nor lose the user's selection or the Thinking block's state.
#pragma once

#include <QWidget>

class QVBoxLayout;

namespace moe::app::ui {

class ThinkingBlockWidget;

class MessageContentWidget : public QWidget {
    Q_OBJECT

public:
    // parseThinking: assistant replies (user text is shown as written).
    explicit MessageContentWidget(bool parseThinking, QWidget* parent = nullptr);
    void setContent(const QString& content);
    QString content() const { return m_content; }
    ThinkingBlockWidget* thinkingBlock() const { return m_thinking; }
    // The code of every code block shown, in order (tests, copy).
    QStringList codeBlocks() const;

private:
    enum class PartKind { Prose, Code };
    struct Part {
        PartKind kind;
        QWidget* widget;
    };
    void setAnswer(const QString& answer);
    QWidget* makePart(PartKind kind);

    bool m_parseThinking = false;
    QString m_content;
    QVBoxLayout* m_layout = nullptr;
    ThinkingBlockWidget* m_thinking = nullptr;
    QList<Part> m_parts;
};

}  // namespace moe::app::ui
