// Theme::styleSheet: the few things a palette cannot say (radii, padding, the navigation, badges, cards).
// Selectors on dynamic properties: QLabel[role="title"|"muted"|"caption"], QLabel[badge="success"|"warning"|
// "error"|"info"|"demo"], QPushButton[accent="true"], QFrame[card="true"], QListWidget#navigation.
#include "theme/theme.h"

namespace moe::ui {

namespace {

QString rgb(const QColor& c) {
    return c.name(QColor::HexRgb);
}

QString badgeRules(const ThemeColors& c, bool dark) {
    QString s;
    const struct {
        const char* name;
        QColor color;
    } badges[] = {{"success", c.success},
                  {"warning", c.warning},
                  {"error", c.error},
                  {"info", c.accent},
                  {"demo", c.sharedExpert}};
    for (const auto& b : badges) {
        s += QStringLiteral(
                 "QLabel[badge=\"%1\"] { color: %2; background: %3; border-radius: 9px;"
                 " padding: 1px 8px; font-weight: 600; }\n")
                 .arg(QLatin1String(b.name), rgb(dark ? b.color.lighter(115) : b.color.darker(110)),
                      rgb(Theme::blend(b.color, c.base, dark ? 0.22 : 0.13)));
    }
    return s;
}

}  // namespace

QString Theme::styleSheet(const ThemeColors& c) {
    const bool dark = c.window.lightness() < 128;
    QString s;
    s += QStringLiteral(
             "QToolTip { padding: 4px 6px; border: 1px solid %1; }\n"
             "QListWidget#navigation { background: %2; border: none; border-right: 1px solid %1;"
             " padding: 8px 6px; outline: 0; }\n"
             "QListWidget#navigation::item { padding: 9px 10px; margin: 1px 0; border-radius: 6px; color: %3; }\n"
             "QListWidget#navigation::item:hover { background: %4; }\n"
             "QListWidget#navigation::item:selected { background: %5; color: %6; font-weight: 600; }\n")
             .arg(rgb(c.border), rgb(c.navBackground), rgb(c.text), rgb(blend(c.text, c.navBackground, 0.06)),
                  rgb(c.accentSoft), rgb(dark ? c.accent.lighter(125) : c.accent.darker(110)));
    s += QStringLiteral(
             "QPushButton { padding: 5px 14px; border-radius: 6px; border: 1px solid %1; background: %2;"
             " min-height: 18px; }\n"
             "QPushButton:hover { background: %3; }\n"
             "QPushButton:pressed { background: %4; }\n"
             "QPushButton:disabled { color: %5; background: %6; }\n"
             "QPushButton[accent=\"true\"] { background: %7; color: %8; border: 1px solid %7; font-weight: 600; }\n"
             "QPushButton[accent=\"true\"]:hover { background: %9; }\n"
             "QPushButton[accent=\"true\"]:disabled { background: %10; border-color: %10; color: %8; }\n")
             .arg(rgb(c.border), rgb(dark ? c.base.lighter(118) : c.base), rgb(blend(c.accent, c.base, 0.08)),
                  rgb(blend(c.accent, c.base, 0.16)), rgb(c.mutedText), rgb(c.window), rgb(c.accent), rgb(c.accentText),
                  rgb(c.accent.lighter(112)))
             .arg(rgb(blend(c.accent, c.window, 0.45)));
    s += QStringLiteral(
             "QProgressBar { border: none; border-radius: 4px; background: %1; max-height: 8px; text-align: center;"
             " color: transparent; }\n"
             "QProgressBar::chunk { border-radius: 4px; background: %2; }\n"
             "QFrame[card=\"true\"] { background: %3; border: 1px solid %4; border-radius: 8px; }\n"
             "QTableView, QTreeView, QListView { border: 1px solid %4; border-radius: 8px; background: %3;"
             " selection-background-color: %5; selection-color: %6; gridline-color: transparent; }\n"
             "QTableView::item, QTreeView::item { padding: 4px 6px; border-bottom: 1px solid %7; }\n"
             "QHeaderView::section { background: %3; color: %8; border: none; border-bottom: 1px solid %4;"
             " padding: 6px 8px; font-weight: 600; }\n")
             .arg(rgb(blend(c.text, c.base, 0.10)), rgb(c.accent), rgb(c.base), rgb(c.border),
                  rgb(blend(c.accent, c.base, dark ? 0.35 : 0.18)), rgb(c.text), rgb(blend(c.border, c.base, 0.5)),
                  rgb(c.mutedText));
    s += QStringLiteral(
             "QStatusBar { background: %1; border-top: 1px solid %2; color: %3; }\n"
             "QStatusBar::item { border: none; }\n"
             "QStatusBar QLabel { padding: 0 10px; color: %3; }\n"
             "QLabel[role=\"muted\"], QLabel[role=\"caption\"] { color: %3; }\n"
             // Combo and spin boxes keep Fusion's own drawing (their arrows vanish under a stylesheet border).
             "QLineEdit { padding: 4px 6px; border: 1px solid %2; border-radius: 6px; background: %4; }\n"
             "QLineEdit:focus { border-color: %5; }\n"
             "QMenu { padding: 4px; border: 1px solid %2; }\n"
             "QMenu::item { padding: 5px 24px 5px 20px; border-radius: 4px; }\n"
             "QMenu::item:selected { background: %6; color: %7; }\n")
             .arg(rgb(c.navBackground), rgb(c.border), rgb(c.mutedText), rgb(c.base), rgb(c.accent), rgb(c.accent),
                  rgb(c.accentText));
    s += badgeRules(c, dark);
    return s;
}

}  // namespace moe::ui
