#include "widgets/message_banner.h"

#include "theme/icons.h"
#include "theme/theme.h"

#include <QEvent>
#include <QHBoxLayout>
#include <QLabel>
#include <QToolButton>

namespace moe::ui {

MessageBanner::MessageBanner(QWidget* parent) : QFrame(parent) {
    setObjectName(QStringLiteral("messageBanner"));
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(Theme::kSpacingM, Theme::kSpacingS, Theme::kSpacingS, Theme::kSpacingS);
    layout->setSpacing(Theme::kSpacingS);
    m_icon = new QLabel(this);
    m_icon->setFixedSize(20, 20);
    m_text = new QLabel(this);
    m_text->setWordWrap(true);
    m_text->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_close = new QToolButton(this);
    m_close->setAutoRaise(true);
    m_close->setToolTip(tr("Dismiss"));
    m_close->setAccessibleName(tr("Dismiss message"));
    connect(m_close, &QToolButton::clicked, this, &QWidget::hide);
    layout->addWidget(m_icon, 0, Qt::AlignTop);
    layout->addWidget(m_text, 1);
    layout->addWidget(m_close, 0, Qt::AlignTop);
    hide();
}

void MessageBanner::showMessage(Kind kind, const QString& text) {
    m_kind = kind;
    m_text->setText(text);
    restyle();
    show();
}

QString MessageBanner::text() const {
    return m_text->text();
}

void MessageBanner::changeEvent(QEvent* event) {
    QFrame::changeEvent(event);
    // restyle() sets this frame's own stylesheet, which sends PaletteChange again: do not recurse.
    if (event->type() == QEvent::PaletteChange && !m_restyling) restyle();
}

void MessageBanner::restyle() {
    m_restyling = true;
    const ThemeColors c = Theme::colors();
    QColor color = c.accent;
    IconKind icon = IconKind::Info;
    if (m_kind == Kind::Success) color = c.success, icon = IconKind::Check;
    if (m_kind == Kind::Warning) color = c.warning, icon = IconKind::Warning;
    if (m_kind == Kind::Error) color = c.error, icon = IconKind::Error;
    m_icon->setPixmap(Icons::pixmap(icon, 20, color));
    m_close->setIcon(Icons::icon(IconKind::Cancel, c.mutedText));
    setStyleSheet(QStringLiteral("QFrame#messageBanner { background: %1; border: 1px solid %2; border-radius: 8px; }"
                                 " QFrame#messageBanner QLabel { color: %3; background: transparent; }")
                      .arg(Theme::blend(color, c.base, Theme::isDark() ? 0.16 : 0.08).name(),
                           Theme::blend(color, c.base, 0.45).name(), c.text.name()));
    m_restyling = false;
}

}  // namespace moe::ui
