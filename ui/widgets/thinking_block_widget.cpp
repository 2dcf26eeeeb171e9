#include "widgets/thinking_block_widget.h"

#include "widgets/chat_colors.h"

#include <QApplication>
#include <QEvent>
#include <QLabel>
#include <QToolButton>
#include <QVBoxLayout>

namespace moe::app::ui {

ThinkingBlockWidget::ThinkingBlockWidget(QWidget* parent) : QFrame(parent) {
    setObjectName(QStringLiteral("thinkingBlock"));
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(10, 4, 10, 6);
    layout->setSpacing(4);
    m_toggle = new QToolButton(this);
    m_toggle->setObjectName(QStringLiteral("thinkingToggle"));
    m_toggle->setCheckable(true);
    m_toggle->setAutoRaise(true);
    m_toggle->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    m_toggle->setArrowType(Qt::RightArrow);
    m_toggle->setText(tr("Thinking"));
    m_toggle->setToolTip(tr("Show or hide the model's reasoning"));
    m_body = new QLabel(this);
    m_body->setObjectName(QStringLiteral("thinkingBody"));
    m_body->setWordWrap(true);
    m_body->setTextFormat(Qt::PlainText);
    m_body->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_body->setVisible(false);
    layout->addWidget(m_toggle);
    layout->addWidget(m_body);
    connect(m_toggle, &QToolButton::clicked, this, [this](bool on) {
        m_userToggled = true;
        setExpanded(on);
    });
    updateColors();
}

void ThinkingBlockWidget::setThinking(const QString& text, bool open) {
    m_body->setText(text.isEmpty() ? tr("…") : text);
    m_toggle->setText(open ? tr("Thinking…") : tr("Thinking"));
    if (!m_userToggled) setExpanded(open);
}

bool ThinkingBlockWidget::isExpanded() const { return m_body->isVisibleTo(this); }

void ThinkingBlockWidget::setExpanded(bool expanded) {
    m_toggle->setChecked(expanded);
    m_toggle->setArrowType(expanded ? Qt::DownArrow : Qt::RightArrow);
    m_body->setVisible(expanded);
}

QString ThinkingBlockWidget::text() const { return m_body->text(); }

void ThinkingBlockWidget::updateColors() {
    using namespace chatcolors;
    const QPalette p = QApplication::palette();
    setStyleSheet(QStringLiteral("#thinkingBlock { border-left: 3px solid %1; background: %2; border-radius: 4px; }"
                                 "#thinkingBody { color: %3; font-style: italic; }"
                                 "#thinkingToggle { color: %3; font-weight: 600; }")
                      .arg(css(border(p)), css(codeBackground(p)), css(muted(p))));
}

void ThinkingBlockWidget::changeEvent(QEvent* event) {
    if (event->type() == QEvent::PaletteChange && !m_updatingColors) {
        m_updatingColors = true;
        updateColors();
        m_updatingColors = false;
    }
    QFrame::changeEvent(event);
}

}  // namespace moe::app::ui
