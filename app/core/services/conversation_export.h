// A conversation's branch as a document to save: Markdown (for reading) or JSON (for tools).
#pragma once

#include "storage/store_types.h"

#include <QByteArray>
#include <QList>
#include <QString>

namespace moe::app {

// "# Title", the system prompt as a quote, then "### You" / "### Assistant" sections with the messages as
// written (they are Markdown already); a reply's reasoning becomes a <details> "Thinking" block and its
// figures an italic line.
QString conversationToMarkdown(const Conversation& conversation, const QList<Message>& messages);
// {"title", "created_at", "system_prompt", "sampling": {...}, "messages": [{"role", "content", "created_at",
//  "stats": {...}}]} (times as ISO 8601 UTC), pretty-printed.
QByteArray conversationToJson(const Conversation& conversation, const QList<Message>& messages);

// "12 prompt · 48 reply tokens · TTFT 35 ms · 812.4 tok/s" (empty when the stats hold nothing).
QString replyStatsLine(const ReplyStats& stats);

}  // namespace moe::app
