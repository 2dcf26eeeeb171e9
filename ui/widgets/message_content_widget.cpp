#include "widgets/message_content_widget.h"

#include "models/markdown_segments.h"
#include "services/think_parser.h"
#include "widgets/code_block_widget.h"
#include "widgets/thinking_block_widget.h"

#include <QLabel>
#include <QVBoxLayout>

namespace moe::app::ui {

MessageContentWidget::MessageContentWidget(bool parseThinking, QWidget* parent)
    : QWidget(parent), m_parseThinking(parseThinking) {
    m_layout = new QVBoxLayout(this);
    m_layout->setContentsMargins(0, 0, 0, 0);
    m_layout->setSpacing(8);
}

void MessageContentWidget::setContent(const QString& content) {
    if (content == m_content && (!m_parts.isEmpty() || m_thinking)) return;
    m_content = content;
    if (!m_parseThinking) {
        setAnswer(content);
        return;
    }
    const ThinkSplit split = splitThinking(content);
    if (split.hasThinking && !m_thinking) {
        m_thinking = new ThinkingBlockWidget(this);
        m_layout->insertWidget(0, m_thinking);
    }
    if (m_thinking) {
        m_thinking->setVisible(split.hasThinking);
        m_thinking->setThinking(split.thinking, split.thinkingOpen);
    }
    setAnswer(split.answer);
}

QWidget* MessageContentWidget::makePart(PartKind kind) {
    if (kind == PartKind::Code) return new CodeBlockWidget(this);
    auto* label = new QLabel(this);
    label->setObjectName(QStringLiteral("messageProse"));
    label->setTextFormat(Qt::MarkdownText);
    label->setWordWrap(true);
    label->setOpenExternalLinks(true);
    label->setTextInteractionFlags(Qt::TextBrowserInteraction);
    label->setSizePolicy(QSizePolicy::Preferred, QSizePolicy::Minimum);
    return label;
}

void MessageContentWidget::setAnswer(const QString& answer) {
    const QList<MarkdownSegment> segments = splitMarkdownSegments(answer);
    qsizetype i = 0;
    for (; i < segments.size(); ++i) {
        const PartKind kind = segments[i].kind == MarkdownSegment::Kind::Code ? PartKind::Code : PartKind::Prose;
        if (i < m_parts.size() && m_parts[i].kind != kind) {
            while (m_parts.size() > i) delete m_parts.takeLast().widget;
        }
        if (i == m_parts.size()) {
            m_parts.append({kind, makePart(kind)});
            m_layout->addWidget(m_parts.last().widget);
        }
        if (kind == PartKind::Code) {
            static_cast<CodeBlockWidget*>(m_parts[i].widget)->setCode(segments[i].text, segments[i].language);
        } else {
            auto* label = static_cast<QLabel*>(m_parts[i].widget);
            if (label->text() != segments[i].text) label->setText(segments[i].text);
        }
    }
    while (m_parts.size() > i) delete m_parts.takeLast().widget;
}

QStringList MessageContentWidget::codeBlocks() const {
    QStringList out;
    for (const Part& p : m_parts)
        if (p.kind == PartKind::Code) out << static_cast<CodeBlockWidget*>(p.widget)->code();
    return out;
}

}  // namespace moe::app::ui
