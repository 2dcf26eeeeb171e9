// A message split into what the chat view renders differently: Markdown prose, and fenced code blocks
// (```lang ... ```), which get a monospace box with a copy button. A fence still open (a reply streaming its
// code) makes a code segment up to the end of the text.
#pragma once

#include <QList>
#include <QString>

namespace moe::app::ui {

struct MarkdownSegment {
    enum class Kind { Prose, Code };
    Kind kind = Kind::Prose;
    QString text;      // prose: Markdown; code: the code, without fences
    QString language;  // code: the fence's info string ("cpp"), may be empty
    bool closed = true;
};

QList<MarkdownSegment> splitMarkdownSegments(const QString& markdown);

}  // namespace moe::app::ui
