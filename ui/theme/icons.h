// The workbench's icons, drawn as strokes on a 24-unit grid (the look of Lucide/Feather) in any color, so
// they follow the theme: call again with Theme::colors() after a QEvent::PaletteChange.
#pragma once

#include <QColor>
#include <QIcon>

namespace moe::ui {

enum class IconKind {
    Models,
    Chat,
    Routing,
    Metrics,  // navigation
    Add,
    Folder,
    Load,
    Unload,
    Remove,
    Cancel,  // actions
    Info,
    Warning,
    Error,
    Check,
    Sun,
    Moon,
    Cpu,
    Memory,
    Speed
};

class Icons {
public:
    // Rendered at 2x for high-DPI screens. Default color: the theme's text color.
    static QIcon icon(IconKind kind, const QColor& color = QColor());
    static QPixmap pixmap(IconKind kind, int sizePx, const QColor& color = QColor());
};

}  // namespace moe::ui
