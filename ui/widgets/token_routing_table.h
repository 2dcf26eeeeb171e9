// One token's routing: a row per MoE layer with its k experts and gate weights, strongest first, plus the
// always-on shared experts. Shown beside the token strip for the hovered or clicked token.
#pragma once

#include "models/routing_data.h"

#include <QTableWidget>

namespace moe::ui {

class TokenRoutingTable : public QTableWidget {
    Q_OBJECT

public:
    explicit TokenRoutingTable(QWidget* parent = nullptr);

    void showToken(const app::RoutingData& data, int64_t row);
    void showNothing();
    int64_t shownRow() const { return m_row; }
    QString caption() const { return m_caption; }

Q_SIGNALS:
    void captionChanged(const QString& caption);

private:
    int64_t m_row = -1;
    QString m_caption;
};

}  // namespace moe::ui
