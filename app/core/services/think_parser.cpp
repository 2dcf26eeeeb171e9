#include "services/think_parser.h"

namespace moe::app {

ThinkSplit splitThinking(const QString& content) {
    static const QString open = QStringLiteral("<think>");
    static const QString close = QStringLiteral("</think>");
    ThinkSplit out;
    const qsizetype start = content.indexOf(open);
    const qsizetype end = content.indexOf(close);
    // Text before an opening tag that is not whitespace means the tag is part of the answer (e.g. quoted).
    const bool opensAtStart = start >= 0 && content.left(start).trimmed().isEmpty() && (end < 0 || start < end);
    if (opensAtStart) {
        out.hasThinking = true;
        const qsizetype from = start + open.size();
        const qsizetype closeAt = content.indexOf(close, from);
        if (closeAt < 0) {
            out.thinking = content.mid(from).trimmed();
            out.thinkingOpen = true;
        } else {
            out.thinking = content.mid(from, closeAt - from).trimmed();
            out.answer = content.mid(closeAt + close.size()).trimmed();
        }
        return out;
    }
    if (end >= 0 && start < 0) {  // opened by the prompt
        out.hasThinking = true;
        out.thinking = content.left(end).trimmed();
        out.answer = content.mid(end + close.size()).trimmed();
        return out;
    }
    out.answer = content;
    return out;
}

}  // namespace moe::app
