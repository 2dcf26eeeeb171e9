#include "services/conversation_export.h"

#include "services/memory_fit.h"

#include "services/think_parser.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QStringList>

namespace moe::app {

namespace {

QString isoTime(qint64 ms) {
    return QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC).toString(Qt::ISODateWithMs);
}

QJsonObject statsJson(const ReplyStats& s) {
    QJsonObject o;
    if (s.promptTokens) o["prompt_tokens"] = *s.promptTokens;
    if (s.replyTokens) o["reply_tokens"] = *s.replyTokens;
    if (s.ttftMs) o["ttft_ms"] = *s.ttftMs;
    if (s.tokensPerS) o["tokens_per_s"] = *s.tokensPerS;
    if (!s.finishReason.isEmpty()) o["finish_reason"] = s.finishReason;
    return o;
}

QString markdownOfMessage(const Message& m) {
    if (m.role != MessageRole::Assistant) return m.content;
    const ThinkSplit split = splitThinking(m.content);
    QString out;
    if (split.hasThinking)
        out += QStringLiteral("<details>\n<summary>Thinking</summary>\n\n%1\n\n</details>\n\n").arg(split.thinking);
    out += split.answer;
    const QString stats = replyStatsLine(m.stats);
    if (!stats.isEmpty()) out += QStringLiteral("\n\n*%1*").arg(stats);
    return out;
}

}  // namespace

QString replyStatsLine(const ReplyStats& s) {
    QStringList parts;
    if (s.promptTokens && s.replyTokens)
        parts << QStringLiteral("%1 prompt · %2")
                     .arg(*s.promptTokens)
                     .arg(
                         formatQuantity(*s.replyTokens, QStringLiteral("reply token"), QStringLiteral("reply tokens")));
    if (s.ttftMs) parts << QStringLiteral("TTFT %1 ms").arg(*s.ttftMs, 0, 'f', *s.ttftMs < 10 ? 1 : 0);
    if (s.tokensPerS && *s.tokensPerS > 0) parts << QStringLiteral("%1 tok/s").arg(*s.tokensPerS, 0, 'f', 1);
    if (s.finishReason == QLatin1String("cancelled"))
        parts << QStringLiteral("stopped");
    else if (s.finishReason == QLatin1String("length"))
        parts << QStringLiteral("max tokens reached");
    else if (s.finishReason == QLatin1String("context_full"))
        parts << QStringLiteral("context full");
    else if (s.finishReason == QLatin1String("error"))
        parts << QStringLiteral("failed");
    return parts.join(QStringLiteral(" · "));
}

QString conversationToMarkdown(const Conversation& conversation, const QList<Message>& messages) {
    QString out = QStringLiteral("# %1\n\n")
                      .arg(conversation.title.isEmpty() ? QStringLiteral("Conversation") : conversation.title);
    if (!conversation.systemPrompt.trimmed().isEmpty()) {
        QString quoted = conversation.systemPrompt.trimmed();
        quoted.replace(QLatin1Char('\n'), QStringLiteral("\n> "));
        out += QStringLiteral("> **System prompt:** %1\n\n").arg(quoted);
    }
    for (const Message& m : messages) {
        const QString who = m.role == MessageRole::User        ? QStringLiteral("You")
                            : m.role == MessageRole::Assistant ? QStringLiteral("Assistant")
                                                               : messageRoleName(m.role);
        out += QStringLiteral("### %1\n\n%2\n\n").arg(who, markdownOfMessage(m).trimmed());
    }
    return out;
}

QByteArray conversationToJson(const Conversation& conversation, const QList<Message>& messages) {
    QJsonArray list;
    for (const Message& m : messages) {
        QJsonObject o{
            {"role", messageRoleName(m.role)}, {"content", m.content}, {"created_at", isoTime(m.createdAtMs)}};
        if (m.role == MessageRole::Assistant) o["stats"] = statsJson(m.stats);
        list.append(o);
    }
    const QJsonObject doc{{"title", conversation.title},
                          {"created_at", isoTime(conversation.createdAtMs)},
                          {"system_prompt", conversation.systemPrompt},
                          {"sampling", QJsonDocument::fromJson(conversation.samplerJson.toUtf8()).object()},
                          {"messages", list}};
    return QJsonDocument(doc).toJson(QJsonDocument::Indented);
}

}  // namespace moe::app
