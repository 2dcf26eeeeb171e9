#include "widgets/chat_message_widget.h"

#include "services/conversation_export.h"
#include "theme/icons.h"
#include "widgets/chat_colors.h"
#include "widgets/message_content_widget.h"

#include <QApplication>
#include <QClipboard>
#include <QDateTime>
#include <QEvent>
#include <QHBoxLayout>
#include <QLabel>
#include <QPainter>
#include <QStyle>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>

namespace moe::app::ui {

ChatMessageWidget::ChatMessageWidget(const Message& message, QWidget* parent) : QFrame(parent), m_message(message) {
    const bool isUser = message.role == MessageRole::User;
    setObjectName(isUser ? QStringLiteral("userMessage") : QStringLiteral("assistantMessage"));
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(14, 10, 14, 10);
    layout->setSpacing(6);

    auto* header = new QHBoxLayout;
    header->setSpacing(4);
    auto* who = new QLabel(isUser ? tr("You") : tr("Assistant"), this);
    who->setObjectName(QStringLiteral("messageAuthor"));
    QFont bold = who->font();
    bold.setWeight(QFont::DemiBold);
    who->setFont(bold);
    header->addWidget(who);
    if (message.createdAtMs > 0) {
        auto* when =
            new QLabel(QDateTime::fromMSecsSinceEpoch(message.createdAtMs).toString(QStringLiteral("HH:mm")), this);
        when->setObjectName(QStringLiteral("messageMeta"));
        header->addWidget(when);
    }
    header->addStretch(1);

    m_branchBox = new QWidget(this);
    auto* branchLayout = new QHBoxLayout(m_branchBox);
    branchLayout->setContentsMargins(0, 0, 8, 0);
    branchLayout->setSpacing(0);
    m_prev = makeAction(QString(), tr("Previous version"), style()->standardIcon(QStyle::SP_ArrowLeft));
    m_next = makeAction(QString(), tr("Next version"), style()->standardIcon(QStyle::SP_ArrowRight));
    m_branchLabel = new QLabel(m_branchBox);
    m_branchLabel->setObjectName(QStringLiteral("messageMeta"));
    branchLayout->addWidget(m_prev);
    branchLayout->addWidget(m_branchLabel);
    branchLayout->addWidget(m_next);
    m_branchBox->setVisible(false);
    connect(m_prev, &QToolButton::clicked, this, [this] { Q_EMIT branchRequested(m_message.id, -1); });
    connect(m_next, &QToolButton::clicked, this, [this] { Q_EMIT branchRequested(m_message.id, +1); });
    header->addWidget(m_branchBox);

    m_copy = makeAction(tr("Copy"), tr("Copy this message as Markdown"),
                        style()->standardIcon(QStyle::SP_FileDialogDetailedView));
    connect(m_copy, &QToolButton::clicked, this, &ChatMessageWidget::copyContent);
    header->addWidget(m_copy);
    if (isUser) {
        m_action = makeAction(tr("Edit"), tr("Edit this message and run it again (the current branch is kept)"),
                              style()->standardIcon(QStyle::SP_FileDialogContentsView));
        connect(m_action, &QToolButton::clicked, this, [this] { Q_EMIT editRequested(m_message.id); });
    } else {
        m_action = makeAction(tr("Regenerate"), tr("Write another reply to the same message (this one is kept)"),
                              style()->standardIcon(QStyle::SP_BrowserReload));
        connect(m_action, &QToolButton::clicked, this, [this] { Q_EMIT regenerateRequested(m_message.id); });
        m_routing = makeAction(tr("Routing"), tr("Show which experts each layer chose for this reply's tokens"),
                               QIcon());  // drawn in the palette's muted colour by updateColors()
        connect(m_routing, &QToolButton::clicked, this, [this] { Q_EMIT routingRequested(m_message.id); });
        header->addWidget(m_routing);
    }
    header->addWidget(m_action);
    layout->addLayout(header);

    m_content = new MessageContentWidget(!isUser, this);
    layout->addWidget(m_content);
    m_stats = new QLabel(this);
    m_stats->setObjectName(QStringLiteral("messageMeta"));
    m_stats->setVisible(false);
    layout->addWidget(m_stats);

    setContent(message.content);
    if (!isUser) setStats(message.stats);
    updateColors();
}

QToolButton* ChatMessageWidget::makeAction(const QString& text, const QString& tip, const QIcon& icon) {
    auto* b = new QToolButton(this);
    b->setText(text);
    b->setToolTip(tip);
    b->setIcon(icon);
    b->setIconSize(QSize(14, 14));
    b->setAutoRaise(true);
    b->setToolButtonStyle(text.isEmpty() ? Qt::ToolButtonIconOnly : Qt::ToolButtonTextBesideIcon);
    return b;
}

void ChatMessageWidget::setMessageIds(qint64 id, std::optional<qint64> parentId) {
    m_message.id = id;
    m_message.parentId = parentId;
}

void ChatMessageWidget::appendText(const QString& delta) {
    setContent(m_message.content + delta);
}

void ChatMessageWidget::setContent(const QString& content) {
    m_message.content = content;
    if (content.isEmpty() && m_streaming) {
        m_content->setContent(tr("*…*"));
        return;
    }
    m_content->setContent(content);
}

void ChatMessageWidget::setStats(const ReplyStats& stats) {
    m_message.stats = stats;
    const QString line = replyStatsLine(stats);
    m_stats->setText(line);
    m_stats->setVisible(!line.isEmpty());
}

void ChatMessageWidget::setError(const QString& message) {
    m_stats->setText(tr("⚠ %1").arg(message));
    m_stats->setVisible(true);
}

QString ChatMessageWidget::statsText() const {
    return m_stats->text();
}

void ChatMessageWidget::setBranch(int index, int count) {
    m_branchIndex = index;
    m_branchCount = count;
    m_branchBox->setVisible(count > 1);
    m_branchLabel->setText(QStringLiteral("%1 / %2").arg(index + 1).arg(count));
    m_prev->setEnabled(index > 0);
    m_next->setEnabled(index + 1 < count);
}

void ChatMessageWidget::setStreaming(bool streaming) {
    m_streaming = streaming;
    if (streaming) {
        m_stats->setText(tr("Generating…"));
        m_stats->setVisible(true);
    }
    setContent(m_message.content);
}

void ChatMessageWidget::setActionsEnabled(bool enabled) {
    m_action->setEnabled(enabled);
    m_prev->setEnabled(enabled && m_branchIndex > 0);
    m_next->setEnabled(enabled && m_branchIndex + 1 < m_branchCount);
}

void ChatMessageWidget::copyContent() {
    QApplication::clipboard()->setText(m_message.content);
    m_copy->setText(tr("Copied"));
    QTimer::singleShot(1500, m_copy, [b = m_copy, t = tr("Copy")] { b->setText(t); });
}

// Palettes and a painted bubble rather than a style sheet: polishing a style sheet on every new message
// costs tens of milliseconds on the UI thread.
void ChatMessageWidget::updateColors() {
    using namespace chatcolors;
    const QPalette app = QApplication::palette();
    QPalette mutedPalette = app;
    mutedPalette.setColor(QPalette::WindowText, muted(app));
    mutedPalette.setColor(QPalette::ButtonText, muted(app));
    for (QWidget* w : findChildren<QWidget*>(QStringLiteral("messageMeta"))) w->setPalette(mutedPalette);
    for (QToolButton* b : findChildren<QToolButton*>()) {
        if (b->parent() == this || b->parent() == m_branchBox) b->setPalette(mutedPalette);
    }
    if (m_routing) m_routing->setIcon(moe::ui::Icons::icon(moe::ui::IconKind::Routing, muted(app)));
    m_bubble = m_message.role == MessageRole::User ? userBubble(app) : QColor();
    update();
}

void ChatMessageWidget::paintEvent(QPaintEvent* event) {
    if (m_bubble.isValid()) {
        QPainter painter(this);
        painter.setRenderHint(QPainter::Antialiasing);
        painter.setPen(Qt::NoPen);
        painter.setBrush(m_bubble);
        painter.drawRoundedRect(QRectF(rect()), 10, 10);
    }
    QFrame::paintEvent(event);
}

void ChatMessageWidget::changeEvent(QEvent* event) {
    if (event->type() == QEvent::PaletteChange && !m_updatingColors) {
        m_updatingColors = true;
        updateColors();
        m_updatingColors = false;
    }
    QFrame::changeEvent(event);
}

}  // namespace moe::app::ui
