#include "widgets/chat_transcript_view.h"

#include "widgets/chat_message_widget.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QScrollBar>
#include <QTimer>
#include <QVBoxLayout>

namespace moe::app::ui {

namespace {
constexpr int kColumnMaxWidth = 860;  // long lines are hard to read; the column stays centred
}

ChatTranscriptView::ChatTranscriptView(QWidget* parent) : QScrollArea(parent) {
    setObjectName(QStringLiteral("chatTranscript"));
    setWidgetResizable(true);
    setFrameShape(QFrame::NoFrame);
    setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    auto* canvas = new QWidget(this);
    canvas->setObjectName(QStringLiteral("chatCanvas"));
    auto* outer = new QHBoxLayout(canvas);
    outer->setContentsMargins(16, 16, 16, 16);
    m_column = new QWidget(canvas);
    m_column->setMaximumWidth(kColumnMaxWidth);
    outer->addStretch(1);
    outer->addWidget(m_column, 100);
    outer->addStretch(1);
    m_layout = new QVBoxLayout(m_column);
    m_layout->setContentsMargins(0, 0, 0, 0);
    m_layout->setSpacing(12);

    m_empty = new QWidget(m_column);
    auto* emptyLayout = new QVBoxLayout(m_empty);
    emptyLayout->setSpacing(10);
    emptyLayout->addStretch(1);
    m_emptyTitle = new QLabel(m_empty);
    m_emptyTitle->setAlignment(Qt::AlignCenter);
    QFont big = m_emptyTitle->font();
    big.setPointSizeF(big.pointSizeF() * 1.5);
    big.setWeight(QFont::DemiBold);
    m_emptyTitle->setFont(big);
    m_emptyText = new QLabel(m_empty);
    m_emptyText->setAlignment(Qt::AlignCenter);
    m_emptyText->setWordWrap(true);
    m_emptyText->setForegroundRole(QPalette::PlaceholderText);
    m_emptyAction = new QPushButton(m_empty);
    connect(m_emptyAction, &QPushButton::clicked, this, &ChatTranscriptView::emptyStateActionTriggered);
    emptyLayout->addWidget(m_emptyTitle);
    emptyLayout->addWidget(m_emptyText);
    emptyLayout->addWidget(m_emptyAction, 0, Qt::AlignHCenter);
    emptyLayout->addStretch(2);
    m_layout->addWidget(m_empty, 1);
    m_layout->addStretch(0);
    setWidget(canvas);

    connect(verticalScrollBar(), &QScrollBar::valueChanged, this, [this](int v) {
        m_atEnd = v >= verticalScrollBar()->maximum() - 24;
    });
    connect(verticalScrollBar(), &QScrollBar::rangeChanged, this, [this](int, int max) {
        if (m_atEnd) verticalScrollBar()->setValue(max);
    });
}

void ChatTranscriptView::clear() {
    qDeleteAll(m_messages);
    m_messages.clear();
    m_atEnd = true;
}

void ChatTranscriptView::truncate(int count) {
    while (m_messages.size() > count) delete m_messages.takeLast();
}

ChatMessageWidget* ChatTranscriptView::addMessage(const Message& message) {
    auto* w = new ChatMessageWidget(message, m_column);
    m_layout->insertWidget(m_layout->count() - 1, w);
    m_messages.append(w);
    m_empty->setVisible(false);
    return w;
}

ChatMessageWidget* ChatTranscriptView::messageWidget(qint64 messageId) const {
    for (ChatMessageWidget* w : m_messages)
        if (w->messageId() == messageId) return w;
    return nullptr;
}

void ChatTranscriptView::setEmptyState(const QString& title, const QString& text, const QString& actionText) {
    clear();
    m_emptyTitle->setText(title);
    m_emptyText->setText(text);
    m_emptyAction->setText(actionText);
    m_emptyAction->setVisible(!actionText.isEmpty());
    m_empty->setVisible(true);
}

bool ChatTranscriptView::isShowingEmptyState() const { return m_empty->isVisibleTo(this); }

void ChatTranscriptView::scrollToEnd() {
    m_atEnd = true;
    QTimer::singleShot(0, this, [this] { verticalScrollBar()->setValue(verticalScrollBar()->maximum()); });
}

void ChatTranscriptView::followEnd() {
    if (m_atEnd) verticalScrollBar()->setValue(verticalScrollBar()->maximum());
}

}  // namespace moe::app::ui
