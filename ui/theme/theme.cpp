#include "theme/theme.h"

#include <QApplication>
#include <QFontDatabase>
#include <QPalette>
#include <QSettings>
#include <QStyle>
#include <QStyleFactory>
#include <QWidget>

#include <algorithm>

namespace moe::ui {

namespace {

const char* const kModeProperty = "moeThemeMode";

QPalette paletteFor(const ThemeColors& c, bool dark) {
    QPalette p;
    p.setColor(QPalette::Window, c.window);
    p.setColor(QPalette::WindowText, c.text);
    p.setColor(QPalette::Base, c.base);
    p.setColor(QPalette::AlternateBase, c.alternateBase);
    p.setColor(QPalette::Text, c.text);
    p.setColor(QPalette::Button, dark ? c.base.lighter(125) : c.base);
    p.setColor(QPalette::ButtonText, c.text);
    p.setColor(QPalette::BrightText, c.error);
    p.setColor(QPalette::Highlight, c.accent);
    p.setColor(QPalette::HighlightedText, c.accentText);
    p.setColor(QPalette::ToolTipBase, dark ? c.base.lighter(140) : QColor(0x1f, 0x23, 0x28));
    p.setColor(QPalette::ToolTipText, dark ? c.text : QColor(0xf6, 0xf8, 0xfa));
    p.setColor(QPalette::PlaceholderText, c.mutedText);
    p.setColor(QPalette::Link, c.accent);
    p.setColor(QPalette::LinkVisited, c.accent.darker(120));
    p.setColor(QPalette::Mid, c.border);
    p.setColor(QPalette::Midlight, c.border.lighter(dark ? 120 : 105));
    p.setColor(QPalette::Dark, c.border.darker(dark ? 120 : 140));
    p.setColor(QPalette::Light, dark ? c.base.lighter(140) : QColor(Qt::white));
    p.setColor(QPalette::Shadow, QColor(0, 0, 0, dark ? 160 : 60));
    for (QPalette::ColorRole role : {QPalette::WindowText, QPalette::Text, QPalette::ButtonText})
        p.setColor(QPalette::Disabled, role, c.mutedText);
    p.setColor(QPalette::Disabled, QPalette::Highlight, c.border);
    return p;
}

}  // namespace

ThemeColors Theme::colorsFor(ThemeMode mode) {
    ThemeColors c;
    if (mode == ThemeMode::Dark) {
        c.window = QColor(0x1b, 0x1e, 0x24);
        c.base = QColor(0x22, 0x26, 0x2e);
        c.alternateBase = QColor(0x27, 0x2c, 0x35);
        c.navBackground = QColor(0x16, 0x19, 0x1e);
        c.text = QColor(0xe6, 0xe9, 0xee);
        c.mutedText = QColor(0x95, 0x9d, 0xaa);
        c.border = QColor(0x36, 0x3c, 0x47);
        c.accent = QColor(0x5b, 0x8d, 0xef);
        c.accentText = QColor(Qt::white);
        c.success = QColor(0x3f, 0xb9, 0x70);
        c.warning = QColor(0xe3, 0xa7, 0x2f);
        c.error = QColor(0xf2, 0x6b, 0x61);
        c.heatLow = QColor(0x22, 0x26, 0x2e);
        c.heatHigh = QColor(0x7c, 0xb4, 0xff);
        c.sharedExpert = QColor(0xc0, 0x8b, 0xf0);
    } else {
        c.window = QColor(0xf4, 0xf5, 0xf7);
        c.base = QColor(Qt::white);
        c.alternateBase = QColor(0xf6, 0xf8, 0xfa);
        c.navBackground = QColor(0xe9, 0xec, 0xf0);
        c.text = QColor(0x1f, 0x23, 0x28);
        c.mutedText = QColor(0x65, 0x6d, 0x76);
        c.border = QColor(0xd5, 0xdb, 0xe1);
        c.accent = QColor(0x2f, 0x6b, 0xd8);
        c.accentText = QColor(Qt::white);
        c.success = QColor(0x1f, 0x88, 0x4a);
        c.warning = QColor(0xb7, 0x79, 0x0b);
        c.error = QColor(0xcf, 0x3b, 0x31);
        c.heatLow = QColor(0xf4, 0xf7, 0xfc);
        c.heatHigh = QColor(0x1d, 0x4e, 0xd8);
        c.sharedExpert = QColor(0x8a, 0x4b, 0xd1);
    }
    c.accentSoft = blend(c.accent, c.navBackground, mode == ThemeMode::Dark ? 0.28 : 0.16);
    return c;
}

void Theme::apply(ThemeMode mode) {
    qApp->setProperty(kModeProperty, modeName(mode));
    QApplication::setStyle(QStyleFactory::create(QStringLiteral("Fusion")));
    const ThemeColors c = colorsFor(mode);
    QApplication::setPalette(paletteFor(c, mode == ThemeMode::Dark));
    qApp->setStyleSheet(styleSheet(c));
    QSettings().setValue(QStringLiteral("ui/theme"), modeName(mode));
}

ThemeMode Theme::mode() {
    return qApp && qApp->property(kModeProperty).toString() == QLatin1String("dark") ? ThemeMode::Dark
                                                                                     : ThemeMode::Light;
}

ThemeMode Theme::savedMode() {
    return QSettings().value(QStringLiteral("ui/theme")).toString() == QLatin1String("dark") ? ThemeMode::Dark
                                                                                             : ThemeMode::Light;
}

QString Theme::modeName(ThemeMode mode) {
    return mode == ThemeMode::Dark ? QStringLiteral("dark") : QStringLiteral("light");
}

QColor Theme::blend(const QColor& c, const QColor& background, double alpha) {
    const double a = std::clamp(alpha, 0.0, 1.0);
    return QColor::fromRgbF(static_cast<float>(c.redF() * a + background.redF() * (1 - a)),
                            static_cast<float>(c.greenF() * a + background.greenF() * (1 - a)),
                            static_cast<float>(c.blueF() * a + background.blueF() * (1 - a)));
}

QColor Theme::heatColor(double t) {
    const ThemeColors c = colors();
    return blend(c.heatHigh, c.heatLow, t);
}

QFont Theme::titleFont() {
    QFont f = QApplication::font();
    f.setPointSizeF(f.pointSizeF() * 1.55);
    f.setWeight(QFont::DemiBold);
    return f;
}

QFont Theme::sectionFont() {
    QFont f = QApplication::font();
    f.setPointSizeF(f.pointSizeF() * 1.1);
    f.setWeight(QFont::DemiBold);
    return f;
}

QFont Theme::smallFont() {
    QFont f = QApplication::font();
    f.setPointSizeF(f.pointSizeF() * 0.9);
    return f;
}

QFont Theme::monoFont() {
    QFont f = QFontDatabase::systemFont(QFontDatabase::FixedFont);
    f.setPointSizeF(QApplication::font().pointSizeF() * 0.95);
    return f;
}

void Theme::setStyleProperty(QWidget* widget, const char* name, const QVariant& value) {
    if (widget->property(name) == value) return;
    widget->setProperty(name, value);
    widget->style()->unpolish(widget);
    widget->style()->polish(widget);
    widget->update();
}

}  // namespace moe::ui
