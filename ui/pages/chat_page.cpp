#include "pages/chat_page.h"

#include "services/chat_service.h"
#include "services/conversation_export.h"
#include "storage/store.h"
#include "theme/icons.h"
#include "widgets/chat_colors.h"
#include "widgets/chat_message_widget.h"
#include "widgets/chat_transcript_view.h"
#include "widgets/conversation_list_widget.h"
#include "widgets/routing_panel.h"
#include "widgets/sampling_panel.h"

#include <QDateTime>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QInputDialog>
#include <QKeyEvent>
#include <QLabel>
#include <QMenu>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QRegularExpression>
#include <QSaveFile>
#include <QScrollArea>
#include <QSettings>
#include <QSplitter>
#include <QStyle>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>

namespace moe::app::ui {

namespace {

constexpr int kRoutingApplyMs = 40;

QString titleFromText(const QString& text) {
    QString line = text.trimmed().section(QLatin1Char('\n'), 0, 0).simplified();
    if (line.size() > 48) line = line.left(45).trimmed() + QStringLiteral("…");
    return line.isEmpty() ? QObject::tr("New chat") : line;
}

}  // namespace

ChatPage::ChatPage(Store* store, ChatService* service, QWidget* parent)
    : QWidget(parent), m_store(store), m_service(service) {
    setObjectName(QStringLiteral("chatPage"));
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    m_splitter = new QSplitter(Qt::Horizontal, this);
    m_splitter->setChildrenCollapsible(false);
    m_list = new ConversationListWidget(m_splitter);
    m_list->setMinimumWidth(180);
    m_splitter->addWidget(m_list);
    m_splitter->addWidget(buildCenter());
    auto* panelScroll = new QScrollArea(m_splitter);
    panelScroll->setWidgetResizable(true);
    panelScroll->setFrameShape(QFrame::NoFrame);
    m_panel = new SamplingPanel(store, panelScroll);
    panelScroll->setWidget(m_panel);
    panelScroll->setMinimumWidth(260);
    m_splitter->addWidget(panelScroll);
    m_splitter->setStretchFactor(0, 0);
    m_splitter->setStretchFactor(1, 1);
    m_splitter->setStretchFactor(2, 0);
    m_splitter->setSizes({200, 820, 260});
    layout->addWidget(m_splitter);

    m_routingApplyTimer = new QTimer(this);
    m_routingApplyTimer->setSingleShot(true);
    m_routingApplyTimer->setInterval(kRoutingApplyMs);
    connect(m_routingApplyTimer, &QTimer::timeout, this, &ChatPage::applyPendingRouting);
    m_saveTimer = new QTimer(this);
    m_saveTimer->setSingleShot(true);
    m_saveTimer->setInterval(400);
    connect(m_saveTimer, &QTimer::timeout, this, &ChatPage::saveSettingsNow);
    connect(m_panel, &SamplingPanel::changed, this, &ChatPage::saveSettingsSoon);
    connect(m_list, &ConversationListWidget::conversationSelected, this, &ChatPage::openConversation);
    connect(m_list, &ConversationListWidget::newConversationRequested, this, &ChatPage::newConversation);
    connect(m_list, &ConversationListWidget::renameRequested, this, &ChatPage::onRenameClicked);
    connect(m_list, &ConversationListWidget::deleteRequested, this, &ChatPage::onDeleteClicked);
    connect(m_list, &ConversationListWidget::searchChanged, this, &ChatPage::reloadConversations);
    connect(m_transcript, &ChatTranscriptView::emptyStateActionTriggered, this, &ChatPage::modelsPageRequested);
    connectService();
    m_centerSplit->widget(1)->setVisible(m_routingToggle->isChecked());
    reloadConversations();
    showEmptyState();
    updateHeader();
}

void ChatPage::changeEvent(QEvent* event) {
    QWidget::changeEvent(event);
    if (event->type() == QEvent::PaletteChange)
        m_routingToggle->setIcon(moe::ui::Icons::icon(moe::ui::IconKind::Routing));
}

QWidget* ChatPage::buildCenter() {
    auto* center = new QWidget(m_splitter);
    auto* layout = new QVBoxLayout(center);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(0);
    layout->addWidget(buildHeader());
    m_centerSplit = new QSplitter(Qt::Vertical, center);
    m_centerSplit->setChildrenCollapsible(false);
    m_transcript = new ChatTranscriptView(m_centerSplit);
    m_centerSplit->addWidget(m_transcript);
    m_centerSplit->addWidget(buildRoutingDrawer());
    m_centerSplit->setStretchFactor(0, 3);
    m_centerSplit->setStretchFactor(1, 1);
    m_centerSplit->setSizes({330, 280});
    layout->addWidget(m_centerSplit, 1);

    m_banner = new QFrame(center);
    m_banner->setObjectName(QStringLiteral("chatBanner"));
    auto* bannerLayout = new QHBoxLayout(m_banner);
    bannerLayout->setContentsMargins(14, 6, 8, 6);
    m_bannerText = new QLabel(m_banner);
    m_bannerText->setWordWrap(true);
    m_bannerButton = new QPushButton(m_banner);
    connect(m_bannerButton, &QPushButton::clicked, this, [this] {
        if (m_editingId) cancelEdit();
        hideBanner();
    });
    bannerLayout->addWidget(m_bannerText, 1);
    bannerLayout->addWidget(m_bannerButton);
    m_banner->setVisible(false);
    layout->addWidget(m_banner);
    layout->addWidget(buildComposer());
    return center;
}

QWidget* ChatPage::buildHeader() {
    auto* header = new QFrame(this);
    header->setObjectName(QStringLiteral("chatHeader"));
    auto* layout = new QHBoxLayout(header);
    layout->setContentsMargins(16, 8, 8, 8);
    m_title = new QLabel(header);
    QFont f = m_title->font();
    f.setPointSizeF(f.pointSizeF() * 1.15);
    f.setWeight(QFont::DemiBold);
    m_title->setFont(f);
    // Takes the room the buttons leave and elides a long title rather than clipping it.
    m_title->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    m_title->setMinimumWidth(80);
    m_title->installEventFilter(this);
    m_modelBadge = new QLabel(header);
    m_modelBadge->setObjectName(QStringLiteral("modelBadge"));
    m_export = new QToolButton(header);
    m_export->setText(tr("Export"));
    m_export->setIcon(style()->standardIcon(QStyle::SP_DialogSaveButton));
    m_export->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    m_export->setPopupMode(QToolButton::InstantPopup);
    m_export->setAutoRaise(true);
    auto* menu = new QMenu(m_export);
    menu->addAction(tr("As Markdown…"), this, [this] { onExportClicked(ExportFormat::Markdown); });
    menu->addAction(tr("As JSON…"), this, [this] { onExportClicked(ExportFormat::Json); });
    m_export->setMenu(menu);
    m_settingsToggle = new QToolButton(header);
    m_settingsToggle->setText(tr("Settings"));
    m_settingsToggle->setIcon(style()->standardIcon(QStyle::SP_FileDialogListView));
    m_settingsToggle->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    m_settingsToggle->setCheckable(true);
    m_settingsToggle->setChecked(true);
    m_settingsToggle->setAutoRaise(true);
    m_settingsToggle->setToolTip(tr("Show or hide the system prompt and sampling settings"));
    connect(m_settingsToggle, &QToolButton::toggled, this, [this](bool on) { m_splitter->widget(2)->setVisible(on); });
    m_routingToggle = new QToolButton(header);
    m_routingToggle->setText(tr("Routing"));
    m_routingToggle->setIcon(moe::ui::Icons::icon(moe::ui::IconKind::Routing));
    m_routingToggle->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    m_routingToggle->setCheckable(true);
    m_routingToggle->setChecked(QSettings().value(QStringLiteral("chat/routingVisible"), true).toBool());
    m_routingToggle->setAutoRaise(true);
    m_routingToggle->setToolTip(tr("Show or hide the expert routing of the reply under the conversation"));
    connect(m_routingToggle, &QToolButton::toggled, this, &ChatPage::setRoutingVisible);
    layout->addWidget(m_title, 1);
    layout->addSpacing(10);
    layout->addWidget(m_modelBadge);
    layout->addSpacing(10);
    layout->addWidget(m_export);
    layout->addWidget(m_routingToggle);
    layout->addWidget(m_settingsToggle);
    return header;
}

QWidget* ChatPage::buildComposer() {
    auto* box = new QFrame(this);
    box->setObjectName(QStringLiteral("chatComposer"));
    auto* layout = new QHBoxLayout(box);
    layout->setContentsMargins(16, 10, 16, 14);
    layout->setSpacing(8);
    m_composer = new QPlainTextEdit(box);
    m_composer->setPlaceholderText(tr("Message the model — Enter to send, Shift+Enter for a new line"));
    m_composer->setFixedHeight(72);
    m_composer->installEventFilter(this);
    m_send = new QPushButton(box);
    m_send->setMinimumSize(96, 40);
    m_send->setDefault(true);
    connect(m_send, &QPushButton::clicked, this, [this] {
        if (m_generating)
            stopGenerating();
        else
            sendMessage(m_composer->toPlainText());
    });
    layout->addWidget(m_composer, 1);
    layout->addWidget(m_send, 0, Qt::AlignBottom);
    setGenerating(false);
    return box;
}

void ChatPage::connectService() {
    if (!m_service) return;
    connect(this, &ChatPage::replyRequested, m_service, &ChatService::generateReply);
    connect(m_service, &ChatService::modelChanged, this, &ChatPage::setModelStatus);
    connect(m_service, &ChatService::replyStarted, this, &ChatPage::onReplyStarted);
    connect(m_service, &ChatService::tokensReady, this, &ChatPage::onTokens);
    connect(m_service, &ChatService::replyFinished, this, &ChatPage::onReplyFinished);
    connect(m_service, &ChatService::routingSnapshot, this, &ChatPage::onRoutingSnapshot);
}

void ChatPage::elideTitle() {
    m_title->setText(m_title->fontMetrics().elidedText(m_titleText, Qt::ElideRight, m_title->width()));
    m_title->setToolTip(m_title->text() == m_titleText ? QString() : m_titleText);
}

bool ChatPage::eventFilter(QObject* watched, QEvent* event) {
    if (watched == m_title && event->type() == QEvent::Resize) elideTitle();
    if (watched == m_composer && event->type() == QEvent::KeyPress) {
        auto* key = static_cast<QKeyEvent*>(event);
        const bool enter = key->key() == Qt::Key_Return || key->key() == Qt::Key_Enter;
        if (enter && !(key->modifiers() & Qt::ShiftModifier)) {
            if (!m_generating) sendMessage(m_composer->toPlainText());
            return true;
        }
        if (key->key() == Qt::Key_Escape && m_editingId) {
            cancelEdit();
            return true;
        }
    }
    return QWidget::eventFilter(watched, event);
}

void ChatPage::setModelStatus(bool loaded, const QString& modelName) {
    m_hasModel = loaded;
    m_modelName = modelName;
    updateHeader();
    if (m_path.isEmpty()) showEmptyState();
    if (loaded && m_banner->isVisible() && !m_editingId) hideBanner();
}

void ChatPage::updateHeader() {
    using namespace chatcolors;
    QString title = tr("New chat");
    if (m_conversationId && m_store) {
        const auto c = m_store->conversation(m_conversationId);
        if (c.ok()) title = c.value().title;
    }
    m_titleText = title;
    elideTitle();
    const QPalette p = palette();
    const QColor accent = m_hasModel ? p.color(QPalette::Highlight) : muted(p);
    m_modelBadge->setText(m_hasModel ? m_modelName : tr("No model loaded"));
    m_modelBadge->setToolTip(m_hasModel ? tr("Replies come from this model") : tr("Load a model on the Models page"));
    m_modelBadge->setStyleSheet(QStringLiteral("#modelBadge { color: %1; border: 1px solid %1; border-radius: 9px;"
                                               " padding: 1px 8px; }")
                                    .arg(css(accent)));
    m_export->setEnabled(!m_path.isEmpty());
}

void ChatPage::showEmptyState() {
    if (!m_hasModel) {
        m_transcript->setEmptyState(tr("No model loaded"),
                                    tr("Load a model on the Models page to start chatting. The bundled demo "
                                       "model (random weights) is there to try the workbench."),
                                    tr("Open the Models page"));
    } else {
        m_transcript->setEmptyState(tr("Start a conversation"),
                                    tr("Type a message below. The reply streams in as %1 writes it; the "
                                       "system prompt and sampling settings on the right apply to this chat.")
                                        .arg(m_modelName.isEmpty() ? tr("the model") : m_modelName));
    }
}

void ChatPage::reloadConversations() {
    if (!m_store) return;
    const QString search = m_list->searchText();
    const auto result = search.isEmpty() ? m_store->listConversations() : m_store->searchConversations(search);
    if (!result.ok()) {
        showBanner(tr("Could not read the conversations: %1").arg(result.error()), true, tr("Dismiss"));
        return;
    }
    m_list->setConversations(result.value());
    m_list->setCurrentConversation(m_conversationId);
}

void ChatPage::newConversation() {
    if (m_generating) return;
    m_conversationId = 0;
    m_path.clear();
    cancelEdit();
    m_list->setCurrentConversation(0);
    showEmptyState();
    updateHeader();
    showRoutingOf(0);
    m_composer->setFocus();
}

void ChatPage::openConversation(qint64 conversationId) {
    if (!m_store || conversationId <= 0) return;
    if (m_generating && conversationId != m_conversationId) {
        m_list->setCurrentConversation(m_conversationId);
        showBanner(tr("A reply is being written: stop it or wait before switching conversations."), false,
                   tr("Dismiss"));
        return;
    }
    const auto c = m_store->conversation(conversationId);
    if (!c.ok()) {
        showBanner(tr("Could not open the conversation: %1").arg(c.error()), true, tr("Dismiss"));
        return;
    }
    saveSettingsNow();
    m_conversationId = conversationId;
    cancelEdit();
    m_panel->setSystemPrompt(c.value().systemPrompt);
    m_panel->setSettings(SamplingSettings::fromJsonText(c.value().samplerJson));
    m_list->setCurrentConversation(conversationId);
    showPath(0);
    m_transcript->scrollToEnd();
}

void ChatPage::showPath(qint64 leafId) {
    const auto messages = m_store->messagesOf(m_conversationId, leafId);
    if (!messages.ok()) {
        showBanner(tr("Could not read the messages: %1").arg(messages.error()), true, tr("Dismiss"));
        return;
    }
    m_path = messages.value();
    m_transcript->clear();
    for (const Message& m : m_path) {
        ChatMessageWidget* w = m_transcript->addMessage(m);
        const auto siblings = m_store->childrenOf(m_conversationId, m.parentId.value_or(0));
        if (siblings.ok()) {
            const QList<Message>& s = siblings.value();
            const auto it = std::find_if(s.begin(), s.end(), [&](const Message& x) { return x.id == m.id; });
            w->setBranch(static_cast<int>(it - s.begin()), static_cast<int>(s.size()));
        }
        w->setActionsEnabled(!m_generating);
        connectMessage(w);
    }
    if (m_path.isEmpty()) showEmptyState();
    updateHeader();
    if (m_generating) return;  // the drawer follows the streaming reply
    const auto lastReply =
        std::find_if(m_path.rbegin(), m_path.rend(), [](const Message& m) { return m.role == MessageRole::Assistant; });
    showRoutingOf(lastReply != m_path.rend() ? lastReply->id : 0);
}

void ChatPage::connectMessage(ChatMessageWidget* w) {
    connect(w, &ChatMessageWidget::editRequested, this, &ChatPage::beginEdit, Qt::UniqueConnection);
    connect(w, &ChatMessageWidget::regenerateRequested, this, &ChatPage::regenerate, Qt::UniqueConnection);
    connect(w, &ChatMessageWidget::branchRequested, this, &ChatPage::switchBranch, Qt::UniqueConnection);
    connect(w, &ChatMessageWidget::routingRequested, this, &ChatPage::openRoutingDrawer, Qt::UniqueConnection);
}

void ChatPage::sendMessage(const QString& text) {
    const QString trimmed = text.trimmed();
    if (trimmed.isEmpty() || m_generating) return;
    if (!m_hasModel) {
        showBanner(tr("No model is loaded: load one on the Models page, then send your message again."), true,
                   tr("Dismiss"));
        return;
    }
    if (!m_conversationId) {
        startConversationWith(trimmed);
        return;
    }
    ChatRequest request;
    request.conversationId = m_conversationId;
    request.userText = trimmed;
    if (m_editingId) {
        // The new branch starts beside the edited message: the transcript shows what comes before it.
        const auto it =
            std::find_if(m_path.begin(), m_path.end(), [&](const Message& m) { return m.id == m_editingId; });
        request.parentId = it != m_path.end() ? it->parentId : std::nullopt;
        m_path.resize(it - m_path.begin());
        m_transcript->truncate(static_cast<int>(m_path.size()));
    } else if (!m_path.isEmpty()) {
        request.parentId = m_path.last().id;
    }
    m_composer->clear();
    dispatch(request, trimmed);
}

// The conversation row must exist before its first message: create it, then send.
void ChatPage::startConversationWith(const QString& text) {
    Conversation c;
    c.title = titleFromText(text);
    c.createdAtMs = c.updatedAtMs = QDateTime::currentMSecsSinceEpoch();
    c.systemPrompt = m_panel->systemPrompt();
    c.samplerJson = m_panel->settings().toJsonText();
    setGenerating(true);  // until the reply ends; blocks a second send meanwhile
    m_composer->clear();
    m_store->createConversation(c).then(this, [this, text](const WriteResult& r) {
        setGenerating(false);
        if (!r.ok()) {
            m_composer->setPlainText(text);
            showBanner(tr("Could not create the conversation: %1").arg(r.error), true, tr("Dismiss"));
            return;
        }
        m_conversationId = r.id;
        m_path.clear();
        reloadConversations();
        ChatRequest request;
        request.conversationId = r.id;
        request.userText = text;
        dispatch(request, text);
    });
    m_store->flush();
}

void ChatPage::dispatch(ChatRequest request, const QString& provisionalUserText) {
    request.systemPrompt = m_panel->systemPrompt();
    request.sampling = m_panel->settings();
    saveSettingsNow();
    hideBanner();
    m_editingId = 0;
    // Shown at once; replaced by the stored messages when the service reports their ids.
    if (!provisionalUserText.isEmpty()) {
        Message user;
        user.role = MessageRole::User;
        user.content = provisionalUserText;
        user.createdAtMs = QDateTime::currentMSecsSinceEpoch();
        m_transcript->addMessage(user)->setActionsEnabled(false);
    }
    Message reply;
    reply.role = MessageRole::Assistant;
    ChatMessageWidget* w = m_transcript->addMessage(reply);
    w->setStreaming(true);
    w->setActionsEnabled(false);
    m_transcript->scrollToEnd();
    m_streamingId = 0;
    m_streamingConversation = request.conversationId;
    setGenerating(true);
    Q_EMIT replyRequested(request);
}

// The provisional widgets get their stored ids in place: rebuilding the transcript here would stall the UI.
void ChatPage::onReplyStarted(qint64 conversationId, qint64 userMessageId, qint64 messageId) {
    m_streamingId = messageId;
    if (conversationId != m_conversationId || !m_store) return;
    const auto stored = m_store->messagesOf(conversationId, messageId);
    if (!stored.ok() || stored.value().size() < 1) return;
    const QList<Message>& path = stored.value();
    // The drawer follows the reply being written.
    m_routingMessageId = messageId;
    m_routingRows = 0;
    m_routingPanel->clear();
    const auto replies =
        std::count_if(path.begin(), path.end(), [](const Message& m) { return m.role == MessageRole::Assistant; });
    m_routingPanel->setSubject(tr("Reply %1 · streaming…").arg(replies));
    const QList<ChatMessageWidget*> widgets = m_transcript->messageWidgets();
    if (widgets.size() != path.size()) {  // not the transcript the request was sent from
        showPath(messageId);
        return;
    }
    Q_UNUSED(userMessageId);
    for (qsizetype i = 0; i < widgets.size(); ++i) {
        ChatMessageWidget* w = widgets[i];
        if (w->messageId() != 0) continue;  // only the provisional ones
        const Message& m = path[i];
        w->setMessageIds(m.id, m.parentId);
        const auto siblings = m_store->childrenOf(conversationId, m.parentId.value_or(0));
        if (siblings.ok()) {
            const QList<Message>& sib = siblings.value();
            const auto it = std::find_if(sib.begin(), sib.end(), [&](const Message& x) { return x.id == m.id; });
            w->setBranch(static_cast<int>(it - sib.begin()), static_cast<int>(sib.size()));
        }
        w->setActionsEnabled(false);
        connectMessage(w);
    }
    m_path = path;
    updateHeader();
}

void ChatPage::onTokens(qint64 conversationId, qint64 messageId, const QString& delta) {
    if (conversationId != m_conversationId) return;
    if (ChatMessageWidget* w = m_transcript->messageWidget(messageId)) {
        w->appendText(delta);
        m_transcript->followEnd();
    }
}

void ChatPage::onReplyFinished(const ChatReplyResult& result) {
    setGenerating(false);
    m_streamingId = 0;
    const bool failed = result.finishReason == QLatin1String("error");
    if (result.conversationId == m_conversationId) {
        ChatMessageWidget* w = result.messageId ? m_transcript->messageWidget(result.messageId) : nullptr;
        if (!w && !m_transcript->messageWidgets().isEmpty()) w = m_transcript->messageWidgets().last();
        if (w && w->role() == MessageRole::Assistant) {
            w->setStreaming(false);
            w->setContent(result.content);
            ReplyStats stats;
            stats.promptTokens = result.promptTokens;
            stats.replyTokens = result.replyTokens;
            stats.ttftMs = result.ttftMs;
            stats.tokensPerS = result.tokensPerS;
            stats.finishReason = result.finishReason;
            w->setStats(stats);
            if (failed) w->setError(result.error);
            for (qsizetype i = 0; i < m_path.size(); ++i)
                if (m_path[i].id == result.messageId) m_path[i].content = result.content;
        }
        for (ChatMessageWidget* m : m_transcript->messageWidgets()) m->setActionsEnabled(true);
        if (result.droppedMessages > 0)
            showBanner(result.droppedMessages == 1
                           ? tr("The conversation is longer than the context: the oldest message was left out of "
                                "the prompt.")
                           : tr("The conversation is longer than the context: the %1 oldest messages were left out "
                                "of the prompt.")
                                 .arg(result.droppedMessages),
                       false, tr("Dismiss"));
    }
    if (failed) showBanner(result.error, true, tr("Dismiss"));
    if (!failed && result.tokensPerS > 0) Q_EMIT lastTokensPerSecond(result.tokensPerS);
    reloadConversations();
    updateHeader();
}

void ChatPage::stopGenerating() {
    if (m_service) m_service->requestStop();  // thread-safe: an atomic flag polled between tokens
}

void ChatPage::regenerate(qint64 assistantMessageId) {
    if (m_generating || !m_hasModel) {
        if (!m_hasModel) showBanner(tr("Load a model on the Models page to regenerate a reply."), true, tr("Dismiss"));
        return;
    }
    const auto it =
        std::find_if(m_path.begin(), m_path.end(), [&](const Message& m) { return m.id == assistantMessageId; });
    if (it == m_path.end() || !it->parentId) return;
    const qint64 userId = *it->parentId;
    // Show the branch up to the user message; the new reply comes as its newest child.
    while (!m_path.isEmpty() && m_path.last().id != userId) m_path.removeLast();
    m_transcript->truncate(static_cast<int>(m_path.size()));
    ChatRequest request;
    request.conversationId = m_conversationId;
    request.parentId = userId;
    dispatch(request, QString());
}

void ChatPage::beginEdit(qint64 userMessageId) {
    if (m_generating) return;
    const auto it = std::find_if(m_path.begin(), m_path.end(), [&](const Message& m) { return m.id == userMessageId; });
    if (it == m_path.end()) return;
    m_editingId = userMessageId;
    m_composer->setPlainText(it->content);
    m_composer->setFocus();
    m_composer->moveCursor(QTextCursor::End);
    showBanner(tr("Editing a message. Sending starts a new branch from it; the current one stays, "
                  "reachable with the ‹ › arrows."),
               false, tr("Cancel edit"));
}

void ChatPage::cancelEdit() {
    if (!m_editingId) return;
    m_editingId = 0;
    m_composer->clear();
    hideBanner();
}

void ChatPage::switchBranch(qint64 messageId, int delta) {
    if (m_generating || !m_store) return;
    const auto it = std::find_if(m_path.begin(), m_path.end(), [&](const Message& m) { return m.id == messageId; });
    if (it == m_path.end()) return;
    const auto siblings = m_store->childrenOf(m_conversationId, it->parentId.value_or(0));
    if (!siblings.ok()) return;
    const QList<Message>& s = siblings.value();
    const auto self = std::find_if(s.begin(), s.end(), [&](const Message& m) { return m.id == messageId; });
    const qsizetype target = (self - s.begin()) + delta;
    if (self == s.end() || target < 0 || target >= s.size()) return;
    const auto leaf = m_store->latestLeafUnder(s[target].id);
    const qint64 leafId = leaf.ok() ? leaf.value() : s[target].id;
    m_store->setActiveLeaf(m_conversationId, leafId);
    showPath(leafId);
}

void ChatPage::renameConversation(qint64 conversationId, const QString& title) {
    if (!m_store || title.trimmed().isEmpty()) return;
    m_store->renameConversation(conversationId, title.trimmed()).then(this, [this](const WriteResult& r) {
        if (!r.ok()) showBanner(tr("Could not rename the conversation: %1").arg(r.error), true, tr("Dismiss"));
        reloadConversations();
        updateHeader();
    });
    m_store->flush();
}

void ChatPage::deleteConversation(qint64 conversationId) {
    if (!m_store) return;
    if (m_generating && conversationId == m_streamingConversation) {
        showBanner(tr("Stop the reply being written before deleting its conversation."), false, tr("Dismiss"));
        return;
    }
    if (conversationId == m_conversationId) newConversation();
    m_store->deleteConversation(conversationId).then(this, [this](const WriteResult& r) {
        if (!r.ok()) showBanner(tr("Could not delete the conversation: %1").arg(r.error), true, tr("Dismiss"));
        reloadConversations();
    });
    m_store->flush();
}

void ChatPage::onRenameClicked(qint64 conversationId) {
    const auto c = m_store ? m_store->conversation(conversationId) : DbResult<Conversation>::failure(QString());
    if (!c.ok()) return;
    bool ok = false;
    const QString title =
        QInputDialog::getText(this, tr("Rename conversation"), tr("Title:"), QLineEdit::Normal, c.value().title, &ok);
    if (ok) renameConversation(conversationId, title);
}

void ChatPage::onDeleteClicked(qint64 conversationId) {
    const auto c = m_store ? m_store->conversation(conversationId) : DbResult<Conversation>::failure(QString());
    if (!c.ok()) return;
    const auto answer = QMessageBox::question(
        this, tr("Delete conversation"),
        tr("Delete \"%1\" and all its messages and branches? This cannot be undone.").arg(c.value().title));
    if (answer == QMessageBox::Yes) deleteConversation(conversationId);
}

QString ChatPage::exportConversation(const QString& path, ExportFormat format) const {
    if (!m_store || !m_conversationId) return tr("No conversation is open.");
    const auto c = m_store->conversation(m_conversationId);
    if (!c.ok()) return c.error();
    const QByteArray data = format == ExportFormat::Json ? conversationToJson(c.value(), m_path)
                                                         : conversationToMarkdown(c.value(), m_path).toUtf8();
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly) || file.write(data) != data.size() || !file.commit())
        return tr("%1: %2").arg(path, file.errorString());
    return {};
}

void ChatPage::onExportClicked(ExportFormat format) {
    const bool json = format == ExportFormat::Json;
    QString name = m_titleText.simplified();
    name.replace(QRegularExpression(QStringLiteral("[^\\w\\- ]")), QString());
    const QString suggested = (name.isEmpty() ? QStringLiteral("conversation") : name) + (json ? ".json" : ".md");
    const QString path = QFileDialog::getSaveFileName(this, tr("Export conversation"), suggested,
                                                      json ? tr("JSON (*.json)") : tr("Markdown (*.md)"));
    if (path.isEmpty()) return;
    const QString error = exportConversation(path, format);
    if (!error.isEmpty())
        QMessageBox::warning(this, tr("Export conversation"), tr("The file was not written: %1").arg(error));
}

void ChatPage::showBanner(const QString& text, bool isError, const QString& buttonText) {
    using namespace chatcolors;
    const QPalette p = palette();
    const QColor tint = isError ? QColor(0xd9, 0x48, 0x3b) : p.color(QPalette::Highlight);
    m_banner->setStyleSheet(QStringLiteral("#chatBanner { background: %1; border-top: 1px solid %2; }")
                                .arg(css(mix(p.color(QPalette::Base), tint, isDark(p) ? 0.25 : 0.12)), css(tint)));
    m_bannerText->setText(text);
    m_bannerButton->setText(buttonText);
    m_bannerButton->setVisible(!buttonText.isEmpty());
    m_banner->setVisible(true);
}

void ChatPage::hideBanner() {
    m_banner->setVisible(false);
}

QString ChatPage::bannerText() const {
    return m_banner->isHidden() ? QString() : m_bannerText->text();
}

void ChatPage::saveSettingsSoon() {
    if (m_conversationId) m_saveTimer->start();
}

void ChatPage::saveSettingsNow() {
    m_saveTimer->stop();
    if (!m_store || !m_conversationId) return;
    const auto c = m_store->conversation(m_conversationId);
    if (!c.ok()) return;
    Conversation updated = c.value();
    const QString prompt = m_panel->systemPrompt();
    const QString sampler = m_panel->settings().toJsonText();
    if (updated.systemPrompt == prompt && updated.samplerJson == sampler) return;
    updated.systemPrompt = prompt;
    updated.samplerJson = sampler;
    m_store->updateConversationSettings(updated);
}

void ChatPage::setGenerating(bool generating) {
    m_generating = generating;
    m_send->setText(generating ? tr("Stop") : tr("Send"));
    m_send->setIcon(style()->standardIcon(generating ? QStyle::SP_MediaStop : QStyle::SP_ArrowForward));
    m_send->setToolTip(generating ? tr("Stop the reply (what was written is kept)") : tr("Send the message (Enter)"));
    m_list->setEnabled(true);
}

}  // namespace moe::app::ui
