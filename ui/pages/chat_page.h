// The Chat page: conversations on the left, the active branch of the chosen one in the middle (Markdown,
// code blocks, collapsible reasoning, streaming replies with Stop, Regenerate, edit-and-branch with < 1/2 >
// navigation, per-reply figures, copy and export), the system prompt and sampling settings with presets on
// the right, and a routing drawer under the transcript: the expert routing of the streaming or chosen reply
// (heatmap and token strip, live while it streams). Generation runs in the ChatService on its own thread: the page only
// sends requests (queued) and shows what comes back; everything is written through the Store and comes back after a
// restart. It knows neither the main window nor the model loader: it learns about the model from the service
// (modelChanged) or from setModelStatus().
#pragma once

#include "models/routing_relay.h"
#include "services/chat_types.h"
#include "services/routing_snapshot.h"
#include "storage/store_types.h"

#include <QHash>
#include <QWidget>

#include <optional>

class QLabel;
class QPlainTextEdit;
class QPushButton;
class QSplitter;
class QTimer;
class QToolButton;

namespace moe::app {
class ChatService;
class Store;
}  // namespace moe::app

namespace moe::ui {
class RoutingPanel;
}

namespace moe::app::ui {

class ChatMessageWidget;
class ChatTranscriptView;
class ConversationListWidget;
class SamplingPanel;

class ChatPage : public QWidget {
    Q_OBJECT

public:
    enum class ExportFormat { Markdown, Json };

    // store and service must outlive the page; service lives on its own thread.
    ChatPage(Store* store, ChatService* service, QWidget* parent = nullptr);

    qint64 currentConversationId() const { return m_conversationId; }
    bool isGenerating() const { return m_generating; }
    bool hasModel() const { return m_hasModel; }
    qint64 editingMessageId() const { return m_editingId; }
    const QList<Message>& shownMessages() const { return m_path; }
    // Writes the shown branch of the current conversation; an error message naming the file, empty on success.
    QString exportConversation(const QString& path, ExportFormat format) const;

    ChatTranscriptView* transcript() const { return m_transcript; }
    ConversationListWidget* conversationList() const { return m_list; }
    SamplingPanel* samplingPanel() const { return m_panel; }
    QPlainTextEdit* composer() const { return m_composer; }
    QPushButton* sendButton() const { return m_send; }
    QString bannerText() const;
    moe::ui::RoutingPanel* routingPanel() const { return m_routingPanel; }
    bool isRoutingVisible() const;
    qint64 routingMessageId() const { return m_routingMessageId; }  // the reply the drawer shows (0: none)
    // A reply's per-token routing: the one received while it streamed, else the Store's; nullopt if none.
    std::optional<RoutingSnapshot> replyRouting(qint64 messageId) const;
    // The shown branch's replies that have routing, "Reply 1", "Reply 2"..., messageId's as the focus, all
    // but `leaveOut`'s (a reply streaming now, whose rows come live).
    BranchRouting branchRouting(qint64 messageId, qint64 leaveOut = 0) const;
    QString replyLabel(qint64 messageId) const;  // "Reply 2": its place among the shown branch's replies

public Q_SLOTS:
    void setModelStatus(bool loaded, const QString& modelName);
    void newConversation();
    void openConversation(qint64 conversationId);
    void sendMessage(const QString& text);  // also what the Send button does with the composer's text
    void stopGenerating();
    void regenerate(qint64 assistantMessageId);
    void beginEdit(qint64 userMessageId);
    void cancelEdit();
    void switchBranch(qint64 messageId, int delta);
    void renameConversation(qint64 conversationId, const QString& title);
    void deleteConversation(qint64 conversationId);
    void reloadConversations();
    void setRoutingVisible(bool visible);
    void showRoutingOf(qint64 assistantMessageId);  // opens the drawer on that reply

Q_SIGNALS:
    void routingSnapshot(const moe::app::RoutingSnapshot& snapshot);
    void lastTokensPerSecond(double tokensPerS);
    void modelsPageRequested();                                 // the empty state's "Open the Models page" button
    void routingPageRequested(qint64 messageId);                // the drawer's "Open on Routing page"
    void replyRequested(const moe::app::ChatRequest& request);  // queued to the service

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;
    void changeEvent(QEvent* event) override;

private:
    QWidget* buildCenter();
    QWidget* buildHeader();
    QWidget* buildComposer();
    void connectService();
    void showPath(qint64 leafId);
    void showEmptyState();
    void showBanner(const QString& text, bool isError, const QString& buttonText = QString());
    void hideBanner();
    void dispatch(ChatRequest request, const QString& provisionalUserText);
    void startConversationWith(const QString& text);
    void saveSettingsSoon();
    void saveSettingsNow();
    void setGenerating(bool generating);
    void updateHeader();
    void elideTitle();
    void onReplyStarted(qint64 conversationId, qint64 userMessageId, qint64 messageId);
    void onTokens(qint64 conversationId, qint64 messageId, const QString& delta);
    void onReplyFinished(const moe::app::ChatReplyResult& result);
    void onRoutingSnapshot(const moe::app::RoutingSnapshot& snapshot);
    void applyPendingRouting();  // the drawer's reply's newest snapshot, off the reply's burst of signals
    void connectMessage(ChatMessageWidget* widget);
    void openRoutingDrawer(qint64 assistantMessageId);
    QWidget* buildRoutingDrawer();
    void rememberRouting(const moe::app::RoutingSnapshot& routing) const;  // into the small in-memory cache

    void onExportClicked(ExportFormat format);
    void onRenameClicked(qint64 conversationId);
    void onDeleteClicked(qint64 conversationId);

    Store* m_store = nullptr;
    ChatService* m_service = nullptr;
    ConversationListWidget* m_list = nullptr;
    ChatTranscriptView* m_transcript = nullptr;
    SamplingPanel* m_panel = nullptr;
    QSplitter* m_splitter = nullptr;
    QLabel* m_title = nullptr;
    QString m_titleText;  // the full title; m_title shows it elided to its width
    QLabel* m_modelBadge = nullptr;
    QToolButton* m_export = nullptr;
    QToolButton* m_settingsToggle = nullptr;
    QToolButton* m_routingToggle = nullptr;
    QSplitter* m_centerSplit = nullptr;  // transcript above, routing drawer below
    moe::ui::RoutingPanel* m_routingPanel = nullptr;
    QWidget* m_banner = nullptr;
    QLabel* m_bannerText = nullptr;
    QPushButton* m_bannerButton = nullptr;
    QPlainTextEdit* m_composer = nullptr;
    QPushButton* m_send = nullptr;
    QTimer* m_saveTimer = nullptr;

    qint64 m_conversationId = 0;
    QList<Message> m_path;
    qint64 m_editingId = 0;
    qint64 m_streamingId = 0;
    qint64 m_streamingConversation = 0;
    bool m_generating = false;
    bool m_hasModel = false;
    QString m_modelName;
    qint64 m_routingMessageId = 0;
    int m_routingRows = 0;  // rows of the drawer's reply already shown
    std::optional<RoutingSnapshot> m_pendingRouting;
    QTimer* m_routingApplyTimer = nullptr;
    mutable QHash<qint64, RoutingSnapshot> m_routingCache;  // recent replies' routing, by message id
};

}  // namespace moe::app::ui
