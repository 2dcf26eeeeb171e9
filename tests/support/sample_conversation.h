// The conversation the UI screenshots show: a question to a reasoning model and its finished answer with a
// collapsed thinking block, a list, a code block and the reply's figures, stored through the Store as the
// chat would have left it. The follow-up each screenshot test sends is answered live by its fixture model.
#pragma once

#include "services/chat_types.h"
#include "storage/store.h"

#include <QDateTime>

#include <optional>

namespace moe::test {

// Returns the new conversation's id; `replyTokens` is the sampling setting of the live follow-up.
inline qint64 storeSampleConversation(app::Store& store, int replyTokens) {
    using namespace moe::app;
    Conversation c;
    c.title = QStringLiteral("Top-k routing in MoE layers");
    c.createdAtMs = c.updatedAtMs = QDateTime::currentMSecsSinceEpoch();
    c.systemPrompt = QStringLiteral("You are a concise assistant for ML engineers.");
    SamplingSettings sampling;
    sampling.maxTokens = replyTokens;  // the fixture's random-weight text: a few lines show streaming worked
    sampling.seed = 11;
    c.samplerJson = sampling.toJsonText();
    const qint64 conv = store.createConversation(c).result().id;
    auto add = [&](std::optional<qint64> parent, MessageRole role, const QString& text, ReplyStats stats = {}) {
        Message m{0, conv, parent, role, text, QDateTime::currentMSecsSinceEpoch(), stats};
        auto f = store.appendMessage(m);
        store.flush();
        return f.result().id;
    };
    const qint64 u =
        add(std::nullopt, MessageRole::User, QStringLiteral("How does top-k expert routing work in DeepSeek-V3?"));
    ReplyStats st;
    st.promptTokens = 31;
    st.replyTokens = 142;
    st.ttftMs = 41;
    st.tokensPerS = 38.6;
    st.finishReason = QStringLiteral("eos");
    add(u, MessageRole::Assistant,
        QStringLiteral(
            "<think>\nThe user asks about the router. V3 uses sigmoid scores with a bias for load balancing, "
            "groups, then top-k.\n</think>\n\nEach MoE layer scores every routed expert for the token and keeps the "
            "**top 8 of 256**; one *shared* expert always runs.\n\n1. Sigmoid affinity per expert\n2. A bias term "
            "balances the load (used for selection only)\n3. The chosen weights are normalised and scaled\n\n"
            "```python\nscores = torch.sigmoid(h @ W_gate.T)\nidx = (scores + bias).topk(8).indices\n"
            "w = scores.gather(-1, idx)\nw = 2.5 * w / w.sum(-1, keepdim=True)\n```\n\nThe routing views show "
            "which experts each token used."),
        st);
    return conv;
}

}  // namespace moe::test
