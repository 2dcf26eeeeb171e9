// A compact routing view the chat page embeds under or beside a reply: the reply's heatmap (shares per layer,
// count or gate-weight mass) and its token strip; selecting tokens narrows the heatmap, hovering a token
// outlines its experts. Live: rows appended while the reply streams, redrawn at most every 100 ms.
#pragma once

#include "models/routing_view_model.h"

#include <QWidget>

class QComboBox;
class QLabel;
class QTimer;

namespace moe::ui {

class RoutingHeatmapWidget;
class TokenStripWidget;

class RoutingPanel : public QWidget {
    Q_OBJECT

public:
    explicit RoutingPanel(QWidget* parent = nullptr);

    const app::RoutingViewModel& viewModel() const { return m_model; }
    RoutingHeatmapWidget* heatmap() const { return m_heatmap; }
    QString caption() const;
    TokenStripWidget* tokenStrip() const { return m_strip; }

public Q_SLOTS:
    void setRouting(const moe::app::RoutingData& reply);
    void appendRows(const moe::app::RoutingData& rows);  // live; redraw throttled
    void clear();
    // What the rows are, shown in the caption ("Reply 2"); empty: nothing but the token count.
    void setSubject(const QString& subject);
    void setEmptyText(const QString& text);

Q_SIGNALS:
    void openRoutingPageRequested();  // "Open on the Routing page"

protected:
    void showEvent(QShowEvent* event) override;

private:
    void redraw();

    app::RoutingViewModel m_model;
    QTimer* m_redrawTimer = nullptr;
    bool m_redrawPending = false;  // rows arrived while hidden
    QString m_subject;
    QLabel* m_caption = nullptr;
    QComboBox* m_measure = nullptr;
    RoutingHeatmapWidget* m_heatmap = nullptr;
    TokenStripWidget* m_strip = nullptr;
};

}  // namespace moe::ui
