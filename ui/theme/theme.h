// The workbench's one theme: the Fusion style, a light or dark QPalette and a small stylesheet, plus the
// colors and spacing every page uses so they look alike. The mode is the application's (its palette), set by
// apply() and remembered in QSettings ("ui/theme"). Widgets that paint themselves read Theme::colors() in
// paintEvent and repaint on QEvent::PaletteChange, which apply() sends to every widget.
#pragma once

#include <QColor>
#include <QFont>
#include <QString>
#include <QVariant>

class QWidget;

namespace moe::ui {

enum class ThemeMode { Light, Dark };

struct ThemeColors {
    QColor window;         // page background
    QColor base;           // tables, editors, cards
    QColor alternateBase;  // zebra rows, code blocks
    QColor navBackground;  // the left navigation
    QColor text;
    QColor mutedText;  // secondary labels, captions
    QColor border;
    QColor accent;      // selection, primary buttons, links, progress
    QColor accentText;  // text on an accent fill
    QColor accentSoft;  // selected navigation item, hover
    QColor success;
    QColor warning;
    QColor error;
    QColor heatLow;  // heatmap endpoints: 0 and the maximum
    QColor heatHigh;
    QColor sharedExpert;  // shared experts, drawn apart from the routed ones
};

class Theme {
public:
    // Spacing scale (px) and corner radius; layouts use these, never ad-hoc numbers.
    static constexpr int kSpacingXS = 4;
    static constexpr int kSpacingS = 8;
    static constexpr int kSpacingM = 12;
    static constexpr int kSpacingL = 16;
    static constexpr int kSpacingXL = 24;
    static constexpr int kRadius = 6;

    // Applies the mode to the application (style, palette, stylesheet) and remembers it.
    static void apply(ThemeMode mode);
    static ThemeMode mode();
    static bool isDark() { return mode() == ThemeMode::Dark; }
    static ThemeColors colors() { return colorsFor(mode()); }
    static ThemeColors colorsFor(ThemeMode mode);
    // The saved mode (QSettings "ui/theme": "light" | "dark"), light when none.
    static ThemeMode savedMode();
    static QString modeName(ThemeMode mode);

    // Color of a heatmap cell for t in [0, 1] (clamped), between heatLow and heatHigh.
    static QColor heatColor(double t);
    // `c` at `alpha` (0..1) over `background`: tinted fills for badges and selections.
    static QColor blend(const QColor& c, const QColor& background, double alpha);

    static QFont titleFont();    // page titles
    static QFont sectionFont();  // group headings
    static QFont smallFont();    // captions, status bar
    static QFont monoFont();     // code, numbers in tables

    // Sets a dynamic property the stylesheet selects on ("role", "badge", "accent") and re-polishes.
    static void setStyleProperty(QWidget* widget, const char* name, const QVariant& value);

private:
    static QString styleSheet(const ThemeColors& c);
};

}  // namespace moe::ui
