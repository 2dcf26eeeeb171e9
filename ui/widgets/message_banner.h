// A dismissible line above a page's content: an error (which file, what is wrong), a warning or a note.
// Text is selectable so a user can copy a path or a message into a bug report.
#pragma once

#include <QFrame>

class QLabel;
class QToolButton;

namespace moe::ui {

class MessageBanner : public QFrame {
    Q_OBJECT

public:
    enum class Kind { Info, Success, Warning, Error };

    explicit MessageBanner(QWidget* parent = nullptr);

    void showMessage(Kind kind, const QString& text);
    QString text() const;
    Kind kind() const { return m_kind; }

protected:
    void changeEvent(QEvent* event) override;

private:
    void restyle();

    Kind m_kind = Kind::Info;
    bool m_restyling = false;
    QLabel* m_icon = nullptr;
    QLabel* m_text = nullptr;
    QToolButton* m_close = nullptr;
};

}  // namespace moe::ui
