// Plain values that travel between the chat page and the ChatService (queued signals): the sampling
// settings (stored as JSON in a conversation and in presets), a reply request, and what a finished reply
// reports.
#pragma once

#include "services/model_service.h"

#include <QJsonObject>
#include <QList>
#include <QMetaType>
#include <QString>
#include <QtGlobal>

#include <memory>
#include <optional>

namespace moe {
class Model;
}

namespace moe::app {

// The sampler and length settings of a conversation. Defaults are a sensible chat setting.
struct SamplingSettings {
    double temperature = 0.7;
    int topK = 40;
    double topP = 0.95;
    double minP = 0.05;
    double repeatPenalty = 1.1;
    int maxTokens = 512;      // <= 0: until end of turn or the context is full
    qint64 seed = -1;         // < 0: a new random seed each reply
    int contextTokens = 4096; // the session's context window (capped to the model's)

    QJsonObject toJson() const;
    static SamplingSettings fromJson(const QJsonObject& json);  // missing fields keep their defaults
    static SamplingSettings fromJsonText(const QString& text);
    QString toJsonText() const;
    bool operator==(const SamplingSettings& other) const = default;
};

// A reply to produce. Send: userText set, parentId = the message it follows (null for a first message).
// Regenerate: userText empty, parentId = the user message to answer again (a new sibling reply).
// Edit-and-branch is a send whose parentId is the edited message's parent: a new branch beside it.
struct ChatRequest {
    qint64 conversationId = 0;
    std::optional<qint64> parentId;
    QString userText;
    QString systemPrompt;
    SamplingSettings sampling;
    bool isRegenerate() const { return userText.isEmpty(); }
};

// What a reply reports when it ends (also after an error: finishReason "error" and `error` set).
struct ChatReplyResult {
    qint64 conversationId = 0;
    qint64 userMessageId = 0;
    qint64 messageId = 0;  // the assistant message (0 when it could not be created)
    QString content;       // the full reply text
    qint64 promptTokens = 0;
    qint64 promptTokensReused = 0;
    qint64 replyTokens = 0;
    double ttftMs = 0.0;
    double tokensPerS = 0.0;
    double totalMs = 0.0;
    QString finishReason;  // "eos", "stop", "length", "context_full", "cancelled", "error"
    QString error;         // a sentence for the user when finishReason is "error"
    int droppedMessages = 0;  // old turns left out to fit the context
    QList<float> tokenLatenciesMs;
};

// A loaded model shared between the services that use it (the loader owns the load; chat only reads it).
using ModelHandle = std::shared_ptr<moe::Model>;

}  // namespace moe::app

Q_DECLARE_METATYPE(moe::app::SamplingSettings)
Q_DECLARE_METATYPE(moe::app::ChatRequest)
Q_DECLARE_METATYPE(moe::app::ChatReplyResult)
// ModelHandle is std::shared_ptr<moe::Model>: its metatype is declared once, in model_service.h.
