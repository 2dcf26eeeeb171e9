#include "models/markdown_segments.h"

#include <QRegularExpression>
#include <QStringList>

namespace moe::app::ui {

namespace {

// "```lang" or "~~~lang" (up to 3 spaces of indent): the fence characters, else empty.
QString fenceOf(const QString& line) {
    const QString t = line.trimmed();
    if (line.size() - QString(line).remove(QRegularExpression(QStringLiteral("^ +"))).size() > 3) return {};
    for (const QString& f : {QStringLiteral("```"), QStringLiteral("~~~")}) {
        if (t.startsWith(f)) {
            qsizetype n = 0;
            while (n < t.size() && t[n] == f[0]) ++n;
            return t.left(n);
        }
    }
    return {};
}

}  // namespace

QList<MarkdownSegment> splitMarkdownSegments(const QString& markdown) {
    QList<MarkdownSegment> out;
    QStringList prose, code;
    QString fence, language;
    auto flushProse = [&] {
        const QString text = prose.join(QLatin1Char('\n')).trimmed();
        if (!text.isEmpty()) out.append({MarkdownSegment::Kind::Prose, text, {}, true});
        prose.clear();
    };
    const QStringList lines = markdown.split(QLatin1Char('\n'));
    for (const QString& line : lines) {
        const QString f = fenceOf(line);
        if (fence.isEmpty() && !f.isEmpty()) {
            flushProse();
            fence = f;
            language = line.trimmed().mid(f.size()).trimmed();
        } else if (!fence.isEmpty() && !f.isEmpty() && f.startsWith(fence) && line.trimmed() == f) {
            out.append({MarkdownSegment::Kind::Code, code.join(QLatin1Char('\n')), language, true});
            code.clear();
            fence.clear();
        } else if (!fence.isEmpty()) {
            code.append(line);
        } else {
            prose.append(line);
        }
    }
    if (!fence.isEmpty()) out.append({MarkdownSegment::Kind::Code, code.join(QLatin1Char('\n')), language, false});
    flushProse();
    return out;
}

}  // namespace moe::app::ui
