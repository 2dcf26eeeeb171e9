// The chat page's left column: "New chat", a search field (titles and message text) and the conversations,
// newest first, with Rename and Delete in the context menu (and F2 / Delete keys).
#pragma once

#include "storage/store_types.h"

#include <QWidget>

class QLineEdit;
class QListWidget;
class QListWidgetItem;
class QPushButton;
class QLabel;

namespace moe::app::ui {

class ConversationListWidget : public QWidget {
    Q_OBJECT

public:
    explicit ConversationListWidget(QWidget* parent = nullptr);

    void setConversations(const QList<Conversation>& conversations);
    void setCurrentConversation(qint64 id);  // 0: none; does not emit
    qint64 currentConversation() const;
    QString searchText() const;
    void setSearchText(const QString& text);
    int count() const;
    qint64 conversationAt(int row) const;
    QString titleAt(int row) const;
    QListWidget* list() const { return m_list; }

Q_SIGNALS:
    void conversationSelected(qint64 id);
    void newConversationRequested();
    void renameRequested(qint64 id);
    void deleteRequested(qint64 id);
    void searchChanged(const QString& text);

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    void showMenu(const QPoint& pos);

    QPushButton* m_new = nullptr;
    QLineEdit* m_search = nullptr;
    QListWidget* m_list = nullptr;
    QLabel* m_empty = nullptr;
    bool m_filling = false;
};

}  // namespace moe::app::ui
