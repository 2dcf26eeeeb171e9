// A fenced code block in a chat message: a header with the language and a Copy button over the code in a
// monospace font on a tinted background; long lines scroll sideways instead of widening the message.
#pragma once

#include <QFrame>

class QLabel;
class QPlainTextEdit;
class QToolButton;

namespace moe::app::ui {

class CodeBlockWidget : public QFrame {
    Q_OBJECT

public:
    explicit CodeBlockWidget(QWidget* parent = nullptr);
    void setCode(const QString& code, const QString& language);
    QString code() const;

protected:
    void changeEvent(QEvent* event) override;

private:
    void copyCode();
    void updateColors();
    void updateHeight();

    QLabel* m_language = nullptr;
    QToolButton* m_copy = nullptr;
    QPlainTextEdit* m_text = nullptr;
    bool m_updatingColors = false;
};

}  // namespace moe::app::ui
