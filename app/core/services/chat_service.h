// ChatService: the chat worker. It lives on its own QThread (its owner moves it there and connects to it
// with queued connections); the engine objects (the Session with its KV cache) are created, used and
// destroyed on that thread only. It renders a conversation's active branch with the model's chat template,
// runs moe::generate, and streams the reply out:
//   replyStarted   once the user and assistant messages exist in the Store (their ids),
//   tokensReady    text deltas, batched: at most one signal per ~30 ms whatever the token rate,
//   routingSnapshot the reply's expert routing so far (a few times a second) and a final one,
//   replyFinished  the full text, figures (prompt/reply tokens, TTFT, tokens/s, latencies), finish reason.
// It writes the messages (the assistant's once at the start, empty, then finalised with its stats, routing
// summary and per-token routing) and a RequestRecord through the Store, which is thread-safe for writes. Stop:
// requestStop() from any thread; the reply ends after the token being computed and keeps what was generated
// ("cancelled").
#pragma once

#include "services/chat_types.h"
#include "services/routing_snapshot.h"

#include <QElapsedTimer>
#include <QObject>

#include <atomic>
#include <memory>
#include <vector>

namespace moe {
class Session;
struct GenerateResult;
}  // namespace moe

namespace moe::app {

class Store;
struct Message;

class ChatService : public QObject {
    Q_OBJECT

public:
    // store must outlive the service; may be null (nothing is persisted: tests of the engine path only).
    explicit ChatService(Store* store, QObject* parent = nullptr);
    ~ChatService() override;

    // Thread-safe: the running reply stops after its current token. No effect when idle.
    void requestStop() { m_cancel.store(true); }
    bool isBusy() const { return m_busy.load(); }
    static constexpr int kTokenBatchMs = 30;
    static constexpr int kRoutingBatchMs = 200;

public Q_SLOTS:
    // The model to chat with (null: none). modelId is its Store id (0: unknown), recorded with each request.
    // Drops the session of the previous model.
    void setModel(moe::app::ModelHandle model, qint64 modelId);
    void generateReply(const moe::app::ChatRequest& request);
    void stop() { requestStop(); }

Q_SIGNALS:
    void modelChanged(bool loaded, const QString& modelName);
    void busyChanged(bool busy);
    void replyStarted(qint64 conversationId, qint64 userMessageId, qint64 messageId);
    void tokensReady(qint64 conversationId, qint64 messageId, const QString& delta);
    void routingSnapshot(const moe::app::RoutingSnapshot& snapshot);
    void replyFinished(const moe::app::ChatReplyResult& result);
    // A request that could not run at all or failed (also reported in replyFinished when a reply existed).
    void errorOccurred(qint64 conversationId, const QString& message);

private:
    struct Prepared;  // the prompt of one request
    bool prepare(const ChatRequest& request, ChatReplyResult& result, Prepared& prepared);
    bool ensureSession(int contextTokens, QString* error);
    qint64 appendMessage(const Message& message, QString* error);
    void runGeneration(const ChatRequest& request, const Prepared& prepared, ChatReplyResult& result);
    void completeRouting(const moe::GenerateResult& generated, qint64 promptTokens);
    RoutingSnapshot snapshot(qint64 firstRow, bool final) const;
    // Finalises the reply's message (stats, routing summary and, when given, its per-token routing).
    void finish(ChatReplyResult& result, const RoutingSnapshot* routing = nullptr);
    bool fail(ChatReplyResult& result, const QString& message);  // always false
    QByteArray routingSummaryJson(qint64 firstRow) const;

    Store* m_store = nullptr;
    ModelHandle m_model;
    qint64 m_modelId = 0;
    std::unique_ptr<moe::Session> m_session;
    int m_sessionContext = 0;
    std::atomic<bool> m_cancel{false};
    std::atomic<bool> m_busy{false};
    qint64 m_replyFirstRow = 0;
    qint64 m_replyConversation = 0;  // the reply being generated
    qint64 m_replyMessage = 0;
};

}  // namespace moe::app
