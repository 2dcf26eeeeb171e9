// The Expert routing page: the layers x experts heatmap of a reply, the whole conversation or a token range
// (count or gate-weight mass, normalised per layer or raw, shared experts apart), the tokens as a strip
// (hover or click shows a token's experts per layer, shift-click / drag selects a range), per-layer load
// statistics, a comparison of two selections as a difference heatmap, PNG and CSV export, and live updates
// while a reply streams (redrawn at most every 100 ms).
#pragma once

#include "models/routing_relay.h"
#include "models/routing_view_model.h"

#include <QWidget>

class QButtonGroup;
class QCheckBox;
class QComboBox;
class QLabel;
class QPushButton;
class QStackedWidget;
class QTabWidget;
class QTimer;
class QToolButton;

namespace moe::ui {

class RoutingHeatmapWidget;
class RoutingStatsTable;
class TokenRoutingTable;
class TokenStripWidget;

class RoutingPage : public QWidget {
    Q_OBJECT

public:
    explicit RoutingPage(QWidget* parent = nullptr);

    // Writes the heatmap as shown / its grid as CSV. Returns an error message naming the file, empty on success.
    QString exportPng(const QString& path);
    QString exportCsv(const QString& path);

    const app::RoutingViewModel& viewModel() const { return m_model; }
    RoutingHeatmapWidget* heatmap() const { return m_heatmap; }
    TokenStripWidget* tokenStrip() const { return m_strip; }
    TokenRoutingTable* tokenTable() const { return m_tokenTable; }
    RoutingStatsTable* statsTable() const { return m_statsTable; }
    QComboBox* scopeCombo() const { return m_scope; }
    app::RoutingSelection currentScope() const { return scopeSelection(); }
    bool hasPendingRedraw() const;

public Q_SLOTS:
    void setRouting(const moe::app::RoutingData& data);  // replaces everything (a conversation, or one reply)
    void addReply(const moe::app::RoutingData& reply);   // appends as new segment(s); shape must match
    // A conversation branch's replies (setRouting) with the focus segment as the scope (else the newest).
    void showBranch(const moe::app::BranchRouting& branch);
    void clear();
    // Live: a reply starts streaming, rows arrive in batches, the reply ends.
    void beginLiveReply(const QString& label);
    void appendLiveRows(const moe::app::RoutingData& rows);
    void finishLiveReply();

    void setMeasure(moe::app::RoutingMeasure measure);
    void setNormalized(bool on);
    void setScope(int index);                    // index into the scope combo (whole conversation, segments)
    void setTokenSelection(int begin, int end);  // rows of the strip (relative to the scope); empty: none
    // Difference mode, B - A: indices into the scope choices (a negative index: the current token selection).
    void setComparison(bool on, int indexA = -1, int indexB = -1);
    void exportPngInteractive();
    void exportCsvInteractive();

Q_SIGNALS:
    void statusMessage(const QString& message);

protected:
    void showEvent(QShowEvent* event) override;

private:
    QWidget* buildToolbar();
    QWidget* buildContent();
    QWidget* buildEmptyState();
    void rebuildScopeChoices();
    void rebuildStrip();
    void scheduleRedraw();
    void redraw();
    void showToken(int stripRow);
    void updateSubtitle();
    app::RoutingSelection scopeSelection() const;
    app::RoutingSelection effectiveSelection() const;  // the scope narrowed by the token selection
    app::RoutingSelection choice(int index) const;     // compare combos

    app::RoutingViewModel m_model;
    QTimer* m_redrawTimer = nullptr;
    bool m_live = false;
    bool m_redrawPending = false;
    QString m_liveLabel;  // the streaming reply's segment  // live rows arrived while the page was hidden
    int m_stripRows = 0;  // rows shown in the strip (it grows while a reply streams)
    int m_tokenBegin = 0, m_tokenEnd = 0;
    int m_pinnedToken = -1;  // clicked token (relative to the scope); hover shows others meanwhile

    QStackedWidget* m_stack = nullptr;
    QLabel* m_subtitle = nullptr;
    QComboBox* m_scope = nullptr;
    QButtonGroup* m_measureGroup = nullptr;
    QCheckBox* m_normalize = nullptr;
    QToolButton* m_compare = nullptr;
    QWidget* m_compareBox = nullptr;
    QComboBox* m_compareA = nullptr;
    QComboBox* m_compareB = nullptr;
    QPushButton* m_exportPng = nullptr;
    QPushButton* m_exportCsv = nullptr;
    QLabel* m_heatmapCaption = nullptr;
    QLabel* m_stripCaption = nullptr;
    QLabel* m_tokenCaption = nullptr;
    RoutingHeatmapWidget* m_heatmap = nullptr;
    TokenStripWidget* m_strip = nullptr;
    TokenRoutingTable* m_tokenTable = nullptr;
    RoutingStatsTable* m_statsTable = nullptr;
    QTabWidget* m_tabs = nullptr;
};

}  // namespace moe::ui
