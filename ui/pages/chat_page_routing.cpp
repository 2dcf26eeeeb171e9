// ChatPage's expert routing: the drawer under the transcript (live while a reply streams, any reply on request),
// the per-reply routing read back from the Store (a few replies kept in memory) and the branch's replies for the
// Routing page. The rest of the page is in chat_page.cpp.
#include "pages/chat_page.h"

#include "models/routing_relay.h"
#include "services/routing_codec.h"
#include "storage/store.h"
#include "widgets/routing_panel.h"

#include <QFrame>
#include <QSettings>
#include <QSplitter>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>

namespace moe::app::ui {

namespace {
constexpr int kRoutingCacheEntries = 8;  // a long DeepSeek-V3 reply is megabytes
}  // namespace

QWidget* ChatPage::buildRoutingDrawer() {
    auto* drawer = new QFrame(m_centerSplit);
    drawer->setObjectName(QStringLiteral("chatRoutingDrawer"));
    auto* layout = new QVBoxLayout(drawer);
    layout->setContentsMargins(16, 8, 16, 8);
    m_routingPanel = new moe::ui::RoutingPanel(drawer);
    m_routingPanel->setMinimumHeight(240);
    m_routingPanel->setEmptyText(
        tr("Each reply's expert routing shows here, live while it streams. "
           "Pick another reply with its Routing button."));
    layout->addWidget(m_routingPanel);
    connect(m_routingPanel, &moe::ui::RoutingPanel::openRoutingPageRequested, this, [this] {
        if (m_routingMessageId > 0) Q_EMIT routingPageRequested(m_routingMessageId);
    });
    return drawer;
}

void ChatPage::rememberRouting(const RoutingSnapshot& routing) const {
    if (m_routingCache.size() >= kRoutingCacheEntries) m_routingCache.clear();
    m_routingCache.insert(routing.messageId, routing);
}

void ChatPage::onRoutingSnapshot(const RoutingSnapshot& snapshot) {
    if (snapshot.final) rememberRouting(snapshot);
    // Applied from a timer, not here: the last snapshot, the last tokens and the end of a reply arrive
    // together, and doing all of it in one go would hold the event loop. Snapshots are cumulative: the newest
    // one replaces a pending one.
    if (snapshot.messageId == m_routingMessageId) {
        m_pendingRouting = snapshot;
        if (!m_routingApplyTimer->isActive()) m_routingApplyTimer->start();
    }
    Q_EMIT routingSnapshot(snapshot);
}

void ChatPage::applyPendingRouting() {
    if (!m_pendingRouting) return;
    const RoutingSnapshot snapshot = *m_pendingRouting;
    m_pendingRouting.reset();
    if (snapshot.messageId != m_routingMessageId) return;  // the drawer moved to another reply meanwhile
    if (isRoutingVisible() && snapshot.rows() > m_routingRows) {
        m_routingPanel->appendRows(routingDataFromSnapshot(snapshot, m_routingRows));
        m_routingRows = snapshot.rows();
    }
    if (snapshot.final) m_routingPanel->setSubject(replyLabel(snapshot.messageId));
}

bool ChatPage::isRoutingVisible() const {
    return m_routingToggle->isChecked();
}

void ChatPage::setRoutingVisible(bool visible) {
    if (m_routingToggle->isChecked() != visible) return m_routingToggle->setChecked(visible);  // toggles back here
    m_centerSplit->widget(1)->setVisible(visible);
    QSettings().setValue(QStringLiteral("chat/routingVisible"), visible);
    if (visible) showRoutingOf(m_routingMessageId);  // rows that came while it was hidden
}

void ChatPage::openRoutingDrawer(qint64 assistantMessageId) {
    setRoutingVisible(true);
    showRoutingOf(assistantMessageId);
}

void ChatPage::showRoutingOf(qint64 assistantMessageId) {
    m_routingMessageId = assistantMessageId;
    m_routingRows = 0;
    if (!isRoutingVisible()) return;  // read when the drawer opens
    const bool streaming = m_generating && assistantMessageId == m_streamingId;
    const std::optional<RoutingSnapshot> routing =
        assistantMessageId > 0 && !streaming ? replyRouting(assistantMessageId) : std::nullopt;
    m_routingPanel->clear();
    m_routingPanel->setSubject(assistantMessageId > 0 ? replyLabel(assistantMessageId) : QString());
    if (!routing) return;  // a streaming reply's rows come with its next snapshot
    m_routingPanel->setRouting(routingDataFromSnapshot(*routing));
    m_routingRows = routing->rows();
}

std::optional<RoutingSnapshot> ChatPage::replyRouting(qint64 messageId) const {
    if (const auto it = m_routingCache.constFind(messageId); it != m_routingCache.cend()) return *it;
    if (!m_store || messageId <= 0) return std::nullopt;
    const auto blob = m_store->messageRouting(messageId);
    if (!blob.ok() || blob.value().isEmpty()) return std::nullopt;
    std::optional<RoutingSnapshot> routing = decodeRouting(blob.value());
    if (!routing) return std::nullopt;
    routing->conversationId = m_conversationId;
    routing->messageId = messageId;
    rememberRouting(*routing);
    return routing;
}

QString ChatPage::replyLabel(qint64 messageId) const {
    int reply = 0;
    for (const Message& m : m_path) {
        if (m.role != MessageRole::Assistant) continue;
        ++reply;
        if (m.id == messageId) return tr("Reply %1").arg(reply);
    }
    return tr("Reply");
}

BranchRouting ChatPage::branchRouting(qint64 messageId, qint64 leaveOut) const {
    BranchRouting out;
    for (const Message& m : m_path) {
        if (m.role != MessageRole::Assistant || m.id == leaveOut) continue;
        const std::optional<RoutingSnapshot> routing = replyRouting(m.id);
        if (!routing || routing->isEmpty()) continue;
        if (!out.data.append(routingDataFromSnapshot(*routing, 0, replyLabel(m.id)))) continue;  // another model
        if (m.id == messageId) out.focusSegment = static_cast<int>(out.data.segments().size()) - 1;
    }
    return out;
}

}  // namespace moe::app::ui
