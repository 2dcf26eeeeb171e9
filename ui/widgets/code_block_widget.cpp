#include "widgets/code_block_widget.h"

#include "widgets/chat_colors.h"

#include <QApplication>
#include <QClipboard>
#include <QEvent>
#include <QFontDatabase>
#include <QHBoxLayout>
#include <QLabel>
#include <QPlainTextEdit>
#include <QScrollBar>
#include <QStyle>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>

namespace moe::app::ui {

CodeBlockWidget::CodeBlockWidget(QWidget* parent) : QFrame(parent) {
    setObjectName(QStringLiteral("codeBlock"));
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(0);

    auto* header = new QWidget(this);
    header->setObjectName(QStringLiteral("codeHeader"));
    auto* headerLayout = new QHBoxLayout(header);
    headerLayout->setContentsMargins(10, 3, 4, 3);
    m_language = new QLabel(header);
    m_language->setObjectName(QStringLiteral("codeLanguage"));
    m_copy = new QToolButton(header);
    m_copy->setText(tr("Copy"));
    m_copy->setToolTip(tr("Copy the code"));
    m_copy->setIcon(style()->standardIcon(QStyle::SP_FileDialogDetailedView));
    m_copy->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    m_copy->setAutoRaise(true);
    connect(m_copy, &QToolButton::clicked, this, &CodeBlockWidget::copyCode);
    headerLayout->addWidget(m_language);
    headerLayout->addStretch(1);
    headerLayout->addWidget(m_copy);
    layout->addWidget(header);

    m_text = new QPlainTextEdit(this);
    m_text->setReadOnly(true);
    m_text->setLineWrapMode(QPlainTextEdit::NoWrap);
    m_text->setFrameShape(QFrame::NoFrame);
    m_text->setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    m_text->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_text->setTextInteractionFlags(Qt::TextSelectableByMouse | Qt::TextSelectableByKeyboard);
    layout->addWidget(m_text);
    updateColors();
}

void CodeBlockWidget::setCode(const QString& code, const QString& language) {
    m_language->setText(language.isEmpty() ? tr("code") : language);
    if (m_text->toPlainText() != code) m_text->setPlainText(code);
    updateHeight();
}

QString CodeBlockWidget::code() const { return m_text->toPlainText(); }

void CodeBlockWidget::copyCode() {
    QApplication::clipboard()->setText(code());
    m_copy->setText(tr("Copied"));
    QTimer::singleShot(1500, m_copy, [b = m_copy, t = tr("Copy")] { b->setText(t); });
}

// The whole code shows (the message scrolls, not the block): height from the line count.
void CodeBlockWidget::updateHeight() {
    const int lines = std::max(1, m_text->document()->blockCount());
    const int scroll = m_text->horizontalScrollBar()->isVisible() ? m_text->horizontalScrollBar()->sizeHint().height() : 0;
    m_text->setFixedHeight(lines * m_text->fontMetrics().lineSpacing() + 16 + scroll);
}

void CodeBlockWidget::updateColors() {
    using namespace chatcolors;
    const QPalette p = QApplication::palette();
    setStyleSheet(QStringLiteral("#codeBlock { background: %1; border: 1px solid %2; border-radius: 6px; }"
                                 "#codeHeader { background: transparent; border-bottom: 1px solid %2; }"
                                 "#codeLanguage { color: %3; }"
                                 "QPlainTextEdit { background: transparent; padding: 4px 6px; }")
                      .arg(css(codeBackground(p)), css(border(p)), css(muted(p))));
}

void CodeBlockWidget::changeEvent(QEvent* event) {
    if (event->type() == QEvent::PaletteChange && !m_updatingColors) {
        m_updatingColors = true;  // setting the style sheet may itself change the palette
        updateColors();
        m_updatingColors = false;
    }
    QFrame::changeEvent(event);
}

}  // namespace moe::app::ui
