// Colours of the chat widgets, derived from the current palette so that they follow the app's theme (light
// or dark) instead of fixing their own.
#pragma once

#include <QColor>
#include <QPalette>
#include <QString>

namespace moe::app::ui::chatcolors {

inline QColor mix(const QColor& a, const QColor& b, double t) {
    return QColor::fromRgbF(static_cast<float>(a.redF() * (1 - t) + b.redF() * t),
                            static_cast<float>(a.greenF() * (1 - t) + b.greenF() * t),
                            static_cast<float>(a.blueF() * (1 - t) + b.blueF() * t));
}
inline bool isDark(const QPalette& p) { return p.color(QPalette::Window).lightness() < 128; }
inline QColor surface(const QPalette& p) { return p.color(QPalette::Base); }
inline QColor userBubble(const QPalette& p) {
    return mix(p.color(QPalette::Base), p.color(QPalette::Highlight), isDark(p) ? 0.28 : 0.12);
}
inline QColor codeBackground(const QPalette& p) {
    return mix(p.color(QPalette::Base), p.color(QPalette::Text), isDark(p) ? 0.10 : 0.05);
}
inline QColor border(const QPalette& p) { return mix(p.color(QPalette::Base), p.color(QPalette::Text), 0.14); }
inline QColor muted(const QPalette& p) { return mix(p.color(QPalette::Base), p.color(QPalette::Text), 0.55); }
inline QString css(const QColor& c) { return c.name(QColor::HexRgb); }

}  // namespace moe::app::ui::chatcolors
