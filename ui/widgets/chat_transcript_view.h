// The scrolling list of a conversation's messages (its active branch), centred at a readable width, with an
// empty state that says what to do when there is nothing to show. While a reply streams it follows the end
// of the text unless the user scrolled up to read.
#pragma once

#include "storage/store_types.h"

#include <QScrollArea>

class QLabel;
class QPushButton;
class QVBoxLayout;

namespace moe::app::ui {

class ChatMessageWidget;

class ChatTranscriptView : public QScrollArea {
    Q_OBJECT

public:
    explicit ChatTranscriptView(QWidget* parent = nullptr);

    void clear();
    void truncate(int count);  // keeps the first `count` messages
    ChatMessageWidget* addMessage(const Message& message);
    ChatMessageWidget* messageWidget(qint64 messageId) const;
    QList<ChatMessageWidget*> messageWidgets() const { return m_messages; }
    // Shown instead of the messages when there are none. actionText empty: no button.
    void setEmptyState(const QString& title, const QString& text, const QString& actionText = QString());
    bool isShowingEmptyState() const;
    void scrollToEnd();
    // Keeps the end in view if it was in view before the content grew.
    void followEnd();

Q_SIGNALS:
    void emptyStateActionTriggered();

private:
    QWidget* m_column = nullptr;
    QVBoxLayout* m_layout = nullptr;
    QWidget* m_empty = nullptr;
    QLabel* m_emptyTitle = nullptr;
    QLabel* m_emptyText = nullptr;
    QPushButton* m_emptyAction = nullptr;
    QList<ChatMessageWidget*> m_messages;
    bool m_atEnd = true;
};

}  // namespace moe::app::ui
