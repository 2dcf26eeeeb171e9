#include "widgets/conversation_list_widget.h"

#include <QDateTime>
#include <QKeyEvent>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMenu>
#include <QPushButton>
#include <QStyle>
#include <QTimer>
#include <QVBoxLayout>

namespace moe::app::ui {

namespace {
constexpr int kIdRole = Qt::UserRole + 1;

QString when(qint64 ms) {
    const QDateTime t = QDateTime::fromMSecsSinceEpoch(ms);
    return t.date() == QDate::currentDate() ? t.toString(QStringLiteral("HH:mm")) : t.toString(QStringLiteral("d MMM"));
}
}  // namespace

ConversationListWidget::ConversationListWidget(QWidget* parent) : QWidget(parent) {
    setObjectName(QStringLiteral("conversationList"));
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(10, 12, 10, 10);
    layout->setSpacing(8);
    m_new = new QPushButton(style()->standardIcon(QStyle::SP_FileIcon), tr("New chat"), this);
    m_new->setToolTip(tr("Start a new conversation (Ctrl+N)"));
    m_new->setShortcut(QKeySequence::New);
    connect(m_new, &QPushButton::clicked, this, &ConversationListWidget::newConversationRequested);
    m_search = new QLineEdit(this);
    m_search->setPlaceholderText(tr("Search conversations"));
    m_search->setClearButtonEnabled(true);
    auto* debounce = new QTimer(this);
    debounce->setSingleShot(true);
    debounce->setInterval(200);
    connect(m_search, &QLineEdit::textChanged, debounce, qOverload<>(&QTimer::start));
    connect(debounce, &QTimer::timeout, this, [this] { Q_EMIT searchChanged(m_search->text().trimmed()); });
    m_list = new QListWidget(this);
    m_list->setFrameShape(QFrame::NoFrame);
    m_list->setContextMenuPolicy(Qt::CustomContextMenu);
    m_list->setTextElideMode(Qt::ElideRight);
    m_list->setUniformItemSizes(true);
    m_list->installEventFilter(this);
    connect(m_list, &QListWidget::customContextMenuRequested, this, &ConversationListWidget::showMenu);
    connect(m_list, &QListWidget::currentItemChanged, this, [this](QListWidgetItem* item) {
        if (!m_filling && item) Q_EMIT conversationSelected(item->data(kIdRole).toLongLong());
    });
    m_empty = new QLabel(this);
    m_empty->setWordWrap(true);
    m_empty->setAlignment(Qt::AlignCenter);
    m_empty->setForegroundRole(QPalette::PlaceholderText);
    layout->addWidget(m_new);
    layout->addWidget(m_search);
    layout->addWidget(m_list, 1);
    layout->addWidget(m_empty);
    layout->addStretch(0);
}

void ConversationListWidget::setConversations(const QList<Conversation>& conversations) {
    const qint64 current = currentConversation();
    m_filling = true;
    m_list->clear();
    for (const Conversation& c : conversations) {
        auto* item = new QListWidgetItem(c.title.isEmpty() ? tr("Untitled") : c.title, m_list);
        item->setData(kIdRole, c.id);
        item->setToolTip(tr("%1\nLast message %2").arg(item->text(), when(c.updatedAtMs)));
        item->setSizeHint(QSize(0, 34));
    }
    m_filling = false;
    setCurrentConversation(current);
    const bool searching = !m_search->text().trimmed().isEmpty();
    m_empty->setText(searching ? tr("No conversation contains \"%1\".").arg(m_search->text().trimmed())
                               : tr("No conversations yet.\nType a message to start one."));
    m_empty->setVisible(conversations.isEmpty());
    m_list->setVisible(!conversations.isEmpty());
}

void ConversationListWidget::setCurrentConversation(qint64 id) {
    m_filling = true;
    m_list->setCurrentItem(nullptr);
    for (int i = 0; i < m_list->count(); ++i) {
        if (m_list->item(i)->data(kIdRole).toLongLong() == id) {
            m_list->setCurrentRow(i);
            break;
        }
    }
    m_filling = false;
}

qint64 ConversationListWidget::currentConversation() const {
    const QListWidgetItem* item = m_list->currentItem();
    return item ? item->data(kIdRole).toLongLong() : 0;
}

QString ConversationListWidget::searchText() const { return m_search->text().trimmed(); }
void ConversationListWidget::setSearchText(const QString& text) { m_search->setText(text); }
int ConversationListWidget::count() const { return m_list->count(); }
qint64 ConversationListWidget::conversationAt(int row) const { return m_list->item(row)->data(kIdRole).toLongLong(); }
QString ConversationListWidget::titleAt(int row) const { return m_list->item(row)->text(); }

void ConversationListWidget::showMenu(const QPoint& pos) {
    QListWidgetItem* item = m_list->itemAt(pos);
    if (!item) return;
    const qint64 id = item->data(kIdRole).toLongLong();
    QMenu menu(this);
    menu.addAction(tr("Rename…"), this, [this, id] { Q_EMIT renameRequested(id); });
    menu.addAction(style()->standardIcon(QStyle::SP_TrashIcon), tr("Delete…"), this, [this, id] { Q_EMIT deleteRequested(id); });
    menu.exec(m_list->viewport()->mapToGlobal(pos));
}

bool ConversationListWidget::eventFilter(QObject* watched, QEvent* event) {
    if (watched == m_list && event->type() == QEvent::KeyPress && currentConversation() > 0) {
        const int key = static_cast<QKeyEvent*>(event)->key();
        if (key == Qt::Key_F2) Q_EMIT renameRequested(currentConversation());
        if (key == Qt::Key_Delete) Q_EMIT deleteRequested(currentConversation());
        if (key == Qt::Key_F2 || key == Qt::Key_Delete) return true;
    }
    return QWidget::eventFilter(watched, event);
}

}  // namespace moe::app::ui
