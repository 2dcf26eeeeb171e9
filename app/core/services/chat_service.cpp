// The engine headers first: they use `slots` as a name, which Qt's headers define as a macro.
#include "core/utf8.h"
#include "model/model.h"
#include "runtime/chat.h"
#include "runtime/generator.h"
#include "runtime/session.h"

#include "services/chat_service.h"
#include "services/routing_codec.h"
#include "storage/store.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRandomGenerator>

#include <algorithm>
#include <cmath>

namespace moe::app {

namespace {

qint64 nowMs() {
    return QDateTime::currentMSecsSinceEpoch();
}

// A conversation's messages as the engine's chat messages: the system prompt, then the branch's turns.
std::vector<moe::ChatMessage> toChatMessages(const QString& systemPrompt, const QList<Message>& path) {
    std::vector<moe::ChatMessage> out;
    if (!systemPrompt.trimmed().isEmpty()) out.push_back({"system", systemPrompt.toStdString()});
    for (const Message& m : path) {
        if (m.role != MessageRole::User && m.role != MessageRole::Assistant) continue;
        if (m.role == MessageRole::Assistant && m.content.isEmpty()) continue;  // a reply that failed at once
        out.push_back({m.role == MessageRole::User ? "user" : "assistant", m.content.toStdString()});
    }
    return out;
}

moe::SamplerParams samplerParams(const SamplingSettings& s) {
    moe::SamplerParams p;
    p.temperature = static_cast<float>(s.temperature);
    p.top_k = s.topK;
    p.top_p = static_cast<float>(s.topP);
    p.min_p = static_cast<float>(s.minP);
    p.repeat_penalty = static_cast<float>(s.repeatPenalty);
    p.seed = s.seed >= 0 ? static_cast<uint64_t>(s.seed) : QRandomGenerator::global()->generate64();
    return p;
}

}  // namespace

struct ChatService::Prepared {
    std::vector<int32_t> promptTokens;
};

ChatService::ChatService(Store* store, QObject* parent) : QObject(parent), m_store(store) {
    qRegisterMetaType<moe::app::RoutingSnapshot>();
    qRegisterMetaType<moe::app::ChatRequest>();
    qRegisterMetaType<moe::app::ChatReplyResult>();
    qRegisterMetaType<moe::app::SamplingSettings>();
    qRegisterMetaType<moe::app::ModelHandle>("moe::app::ModelHandle");  // the name the slot signature uses
}

// The session refers to the model: it goes first.
ChatService::~ChatService() {
    m_session.reset();
    m_model.reset();
}

void ChatService::setModel(ModelHandle model, qint64 modelId) {
    m_session.reset();
    m_sessionContext = 0;
    m_model = std::move(model);
    m_modelId = m_model ? modelId : 0;
    Q_EMIT modelChanged(m_model != nullptr, m_model ? QString::fromStdString(m_model->description().name) : QString());
}

bool ChatService::ensureSession(int contextTokens, QString* error) {
    const int64_t trained = m_model->hparams().n_ctx_train;
    int64_t n_ctx = std::max(contextTokens, 256);
    if (trained > 0) n_ctx = std::min(n_ctx, trained);
    if (m_session && m_sessionContext == n_ctx) return true;
    m_session.reset();
    moe::SessionOptions options;
    options.n_ctx = n_ctx;
    options.record_routing = true;
    auto created = moe::Session::create(*m_model, options);
    if (!created.ok()) {
        *error = tr("Could not create a chat session of %1 tokens: %2")
                     .arg(n_ctx)
                     .arg(QString::fromStdString(created.error()));
        return false;
    }
    m_session = std::move(created).value();
    m_sessionContext = static_cast<int>(n_ctx);
    return true;
}

// Appends and waits for the row id: the worker thread may wait (the UI never does). flush() commits now.
qint64 ChatService::appendMessage(const Message& message, QString* error) {
    if (!m_store) return 0;
    QFuture<WriteResult> future = m_store->appendMessage(message);
    m_store->flush();
    future.waitForFinished();
    const WriteResult r = future.result();
    if (!r.ok()) *error = r.error;
    return r.id;
}

bool ChatService::prepare(const ChatRequest& request, ChatReplyResult& result, Prepared& prepared) {
    QString error;
    if (!request.isRegenerate()) {
        Message user;
        user.conversationId = request.conversationId;
        user.parentId = request.parentId;
        user.role = MessageRole::User;
        user.content = request.userText;
        user.createdAtMs = nowMs();
        result.userMessageId = appendMessage(user, &error);
        if (!error.isEmpty()) return fail(result, tr("Could not save the message: %1").arg(error));
    } else {
        result.userMessageId = request.parentId.value_or(0);
    }
    QList<Message> path;
    if (m_store) {
        const auto read = m_store->messagesOf(request.conversationId, result.userMessageId);
        if (!read.ok()) return fail(result, tr("Could not read the conversation: %1").arg(read.error()));
        path = read.value();
    } else {
        path.append(Message{0, request.conversationId, request.parentId, MessageRole::User, request.userText, 0, {}});
    }
    if (!ensureSession(request.sampling.contextTokens, &error)) return fail(result, error);

    std::vector<moe::ChatMessage> messages = toChatMessages(request.systemPrompt, path);
    const int64_t n_ctx = m_session->n_ctx();
    const int64_t reserve =
        request.sampling.maxTokens > 0 ? std::min<int64_t>(request.sampling.maxTokens, n_ctx / 2) : n_ctx / 4;
    auto fitted = moe::fit_chat_to_context(*m_model, messages, n_ctx, reserve, true);
    if (!fitted.ok()) return fail(result, QString::fromStdString(fitted.error()));
    prepared.promptTokens = std::move(fitted.value().tokens);
    result.droppedMessages = fitted.value().dropped_messages;

    Message reply;
    reply.conversationId = request.conversationId;
    reply.parentId = result.userMessageId > 0 ? std::optional<qint64>(result.userMessageId) : std::nullopt;
    reply.role = MessageRole::Assistant;
    reply.createdAtMs = nowMs();
    result.messageId = appendMessage(reply, &error);
    if (!error.isEmpty()) return fail(result, tr("Could not save the reply: %1").arg(error));
    return true;
}

void ChatService::generateReply(const ChatRequest& request) {
    ChatReplyResult result;
    result.conversationId = request.conversationId;
    if (!m_model) {
        const QString message = tr("No model is loaded: load one on the Models page first.");
        result.finishReason = QStringLiteral("error");
        result.error = message;
        Q_EMIT errorOccurred(request.conversationId, message);
        Q_EMIT replyFinished(result);
        return;
    }
    m_cancel.store(false);
    m_busy.store(true);
    Q_EMIT busyChanged(true);
    Prepared prepared;
    if (prepare(request, result, prepared)) {
        Q_EMIT replyStarted(result.conversationId, result.userMessageId, result.messageId);
        runGeneration(request, prepared, result);
    }
    m_busy.store(false);
    Q_EMIT busyChanged(false);
}

void ChatService::runGeneration(const ChatRequest& request, const Prepared& prepared, ChatReplyResult& result) {
    moe::GenerateOptions options;
    options.sampler = samplerParams(request.sampling);
    options.max_tokens = request.sampling.maxTokens;
    const qint64 startedAtMs = nowMs();
    const qint64 promptTokens = static_cast<qint64>(prepared.promptTokens.size());
    m_replyFirstRow = promptTokens;
    m_replyConversation = result.conversationId;
    m_replyMessage = result.messageId;

    // The callback runs on this thread inside generate(): batch by elapsed time, not per token.
    QByteArray pending;
    QElapsedTimer sinceText, sinceRouting;
    sinceText.start();
    sinceRouting.start();
    auto flushText = [&] {
        if (pending.isEmpty()) return;
        const QString delta = QString::fromUtf8(pending);
        pending.clear();
        result.content += delta;
        Q_EMIT tokensReady(result.conversationId, result.messageId, delta);
        sinceText.restart();
    };
    auto onToken = [&](const moe::TokenEvent& event) {
        pending.append(event.text.data(), static_cast<qsizetype>(event.text.size()));
        if (sinceText.elapsed() >= kTokenBatchMs) flushText();
        if (sinceRouting.elapsed() >= kRoutingBatchMs) {
            Q_EMIT routingSnapshot(snapshot(m_replyFirstRow, false));
            sinceRouting.restart();
        }
        return true;
    };
    auto generated = moe::generate(*m_session, prepared.promptTokens, options, onToken, &m_cancel);
    flushText();
    result.totalMs = static_cast<double>(nowMs() - startedAtMs);
    result.promptTokens = promptTokens;
    if (!generated.ok()) {
        fail(result, tr("Generation failed: %1").arg(QString::fromStdString(generated.error())));
        return;
    }
    const moe::GenerateResult& g = generated.value();
    completeRouting(g, promptTokens);
    result.content = QString::fromStdString(g.text);
    result.promptTokensReused = g.prompt_tokens_reused;
    result.replyTokens = static_cast<qint64>(g.tokens.size());
    result.ttftMs = g.ttft_ms;
    result.tokensPerS = g.tokens_per_s();
    result.finishReason = QString::fromLatin1(moe::finish_reason_name(g.finish));
    result.tokenLatenciesMs.reserve(static_cast<qsizetype>(g.token_latencies_ms.size()));
    for (double ms : g.token_latencies_ms) result.tokenLatenciesMs.append(static_cast<float>(ms));
    if (m_store) {
        RequestRecord record;
        record.modelId = m_modelId > 0 ? std::optional<qint64>(m_modelId) : std::nullopt;
        record.messageId = result.messageId;
        record.source = RequestSource::Chat;
        record.startedAtMs = startedAtMs;
        record.promptTokens = promptTokens;
        record.replyTokens = result.replyTokens;
        record.ttftMs = result.ttftMs;
        record.tokensPerS = result.tokensPerS;
        record.totalMs = result.totalMs;
        record.tokenLatenciesMs.assign(result.tokenLatenciesMs.begin(), result.tokenLatenciesMs.end());
        m_store->recordRequest(record);
    }
    const RoutingSnapshot routing = snapshot(m_replyFirstRow, true);
    Q_EMIT routingSnapshot(routing);
    finish(result, &routing);
}

// generate() samples the last token without running it through the model; run it once so that every reply
// token has its routing (and the cache holds the whole reply for the next turn's prefix reuse).
void ChatService::completeRouting(const moe::GenerateResult& generated, qint64 promptTokens) {
    const int64_t expected = promptTokens + static_cast<int64_t>(generated.tokens.size());
    const int64_t held = static_cast<int64_t>(m_session->tokens().size());
    if (generated.tokens.empty() || held != expected - 1 || held >= m_session->n_ctx()) return;
    std::vector<float> logits;
    (void)m_session->append(generated.tokens.back(), logits);  // a failure only leaves that row unknown
}

RoutingSnapshot ChatService::snapshot(qint64 firstRow, bool final) const {
    RoutingSnapshot s;
    s.conversationId = m_replyConversation;
    s.messageId = m_replyMessage;
    s.final = final;
    const moe::RoutingTrace& trace = m_session->trace();
    s.nExpert = trace.n_expert();
    s.k = trace.k();
    s.nShared = static_cast<int>(m_model->hparams().n_expert_shared);
    s.moeLayers = QList<int>(trace.moe_layers().begin(), trace.moe_layers().end());
    const int64_t end = trace.n_rows();
    const moe::Tokenizer& tokenizer = m_model->tokenizer();
    for (int64_t row = firstRow; row < end; ++row) {
        s.tokens.append(trace.token(row));
        s.positions.append(trace.position(row));
        s.tokenTexts.append(
            QString::fromStdString(moe::utf8_escape_invalid(tokenizer.token_to_piece(trace.token(row)))));
        for (int slot = 0; slot < trace.n_slots(); ++slot) {
            for (int32_t id : trace.experts(row, slot)) s.experts.append(id);
            for (float w : trace.weights(row, slot)) s.weights.append(w);
        }
    }
    return s;
}

// Per MoE layer x expert selection counts and gate-weight mass of the reply, kept with the message.
QByteArray ChatService::routingSummaryJson(qint64 firstRow) const {
    const moe::RoutingTrace& trace = m_session->trace();
    if (trace.n_slots() == 0 || trace.n_rows() <= firstRow) return {};
    const moe::RoutingAggregate agg = moe::aggregate_routing(trace, firstRow, trace.n_rows());
    QJsonArray layers, counts, masses;
    for (int32_t layer : agg.moe_layers) layers.append(layer);
    for (size_t slot = 0; slot < agg.moe_layers.size(); ++slot) {
        QJsonArray countRow, massRow;
        for (int e = 0; e < agg.n_expert; ++e) {
            const size_t at = slot * agg.n_expert + e;
            countRow.append(static_cast<qint64>(agg.counts[at]));
            massRow.append(std::round(agg.weight_mass[at] * 1e4) / 1e4);  // 4 decimals: the summary stays small
        }
        counts.append(countRow);
        masses.append(massRow);
    }
    const QJsonObject o{{"n_expert", agg.n_expert},
                        {"k", trace.k()},
                        {"n_shared", static_cast<int>(m_model->hparams().n_expert_shared)},
                        {"rows", static_cast<qint64>(agg.n_rows)},
                        {"moe_layers", layers},
                        {"counts", counts},
                        {"mass", masses}};
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

void ChatService::finish(ChatReplyResult& result, const RoutingSnapshot* routing) {
    if (m_store && result.messageId > 0) {
        ReplyStats stats;
        stats.promptTokens = result.promptTokens;
        stats.replyTokens = result.replyTokens;
        stats.ttftMs = result.ttftMs;
        stats.tokensPerS = result.tokensPerS;
        stats.finishReason = result.finishReason;
        if (m_session && result.finishReason != QLatin1String("error"))
            stats.routingJson = routingSummaryJson(m_replyFirstRow);
        m_store->updateMessage(result.messageId, result.content, stats);
        if (routing && !routing->isEmpty())
            m_store->saveMessageRouting(result.messageId, routing->rows(), encodeRouting(*routing));
    }
    Q_EMIT replyFinished(result);
}

bool ChatService::fail(ChatReplyResult& result, const QString& message) {
    result.finishReason = QStringLiteral("error");
    result.error = message;
    Q_EMIT errorOccurred(result.conversationId, message);
    finish(result);
    return false;
}

}  // namespace moe::app
