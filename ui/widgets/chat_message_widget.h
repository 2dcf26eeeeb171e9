// One message of the transcript: who wrote it, its rendered content, the branch navigation (< 1/2 >) when
// the message has siblings, its actions (copy; edit for the user's messages, regenerate and routing for
// replies) and,
// for a reply, its figures (prompt/reply tokens, TTFT, tokens/s).
#pragma once

#include "storage/store_types.h"

#include <QFrame>

class QLabel;
class QToolButton;

namespace moe::app::ui {

class MessageContentWidget;

class ChatMessageWidget : public QFrame {
    Q_OBJECT

public:
    explicit ChatMessageWidget(const Message& message, QWidget* parent = nullptr);

    qint64 messageId() const { return m_message.id; }
    const Message& message() const { return m_message; }
    MessageRole role() const { return m_message.role; }
    QString content() const { return m_message.content; }
    MessageContentWidget* contentWidget() const { return m_content; }

    // The stored ids of a message first shown before it was stored.
    void setMessageIds(qint64 id, std::optional<qint64> parentId);
    void appendText(const QString& delta);
    void setContent(const QString& content);
    void setStats(const ReplyStats& stats);
    void setError(const QString& message);
    // index is 0-based among count siblings; the navigation shows only when count > 1.
    void setBranch(int index, int count);
    int branchIndex() const { return m_branchIndex; }
    int branchCount() const { return m_branchCount; }
    void setStreaming(bool streaming);
    void setActionsEnabled(bool enabled);
    QString statsText() const;

Q_SIGNALS:
    void editRequested(qint64 messageId);
    void regenerateRequested(qint64 messageId);
    // delta -1: the previous sibling branch, +1: the next.
    void branchRequested(qint64 messageId, int delta);
    void routingRequested(qint64 messageId);  // a reply's "Routing": show its expert routing

protected:
    void changeEvent(QEvent* event) override;
    void paintEvent(QPaintEvent* event) override;

private:
    QToolButton* makeAction(const QString& text, const QString& tip, const QIcon& icon);
    void copyContent();
    void updateColors();

    Message m_message;
    MessageContentWidget* m_content = nullptr;
    QLabel* m_stats = nullptr;
    QWidget* m_branchBox = nullptr;
    QLabel* m_branchLabel = nullptr;
    QToolButton* m_prev = nullptr;
    QToolButton* m_next = nullptr;
    QToolButton* m_copy = nullptr;
    QToolButton* m_action = nullptr;   // edit or regenerate
    QToolButton* m_routing = nullptr;  // replies only
    int m_branchIndex = 0;
    int m_branchCount = 1;
    bool m_streaming = false;
    bool m_updatingColors = false;
    QColor m_bubble;  // invalid: no bubble (replies)
};

}  // namespace moe::app::ui
