#include "widgets/routing_stats_table.h"

#include <QHeaderView>

namespace moe::ui {

RoutingStatsTable::RoutingStatsTable(QWidget* parent) : QTableWidget(parent) {
    setEditTriggers(QAbstractItemView::NoEditTriggers);
    setSelectionBehavior(QAbstractItemView::SelectRows);
    setAlternatingRowColors(true);
    verticalHeader()->setVisible(false);
    setColumnCount(7);
    setHorizontalHeaderLabels({tr("Layer"), tr("Entropy (bits)"), tr("Normalised"), tr("CV"), tr("Max / mean"),
                               tr("Unused experts"), tr("Selections")});
    const QStringList tips{tr("Model layer index"),
                           tr("Entropy of the selection counts over the experts"),
                           tr("Entropy / log2(experts): 1 means every expert is used equally"),
                           tr("Coefficient of variation of the counts (std / mean): 0 is perfectly balanced"),
                           tr("The busiest expert's count over the mean count"),
                           tr("Experts no token of the selection was routed to"),
                           tr("Tokens × top-k")};
    for (int c = 0; c < tips.size(); ++c) horizontalHeaderItem(c)->setToolTip(tips[c]);
    horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
}

void RoutingStatsTable::setStats(const std::vector<LayerLoadStats>& stats, int32_t nExpert) {
    setRowCount(static_cast<int>(stats.size()));
    const auto cell = [this](int r, int c, const QString& text) {
        auto* item = new QTableWidgetItem(text);
        item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
        setItem(r, c, item);
    };
    for (int r = 0; r < static_cast<int>(stats.size()); ++r) {
        const LayerLoadStats& s = stats[size_t(r)];
        cell(r, 0, QString::number(s.layer));
        cell(r, 1, QString::number(s.entropy_bits, 'f', 2));
        cell(r, 2, QString::number(s.entropy_normalized, 'f', 3));
        cell(r, 3, QString::number(s.cv, 'f', 2));
        cell(r, 4, QString::number(s.max_over_mean, 'f', 2));
        cell(r, 5, tr("%1 of %2").arg(s.unused_experts).arg(nExpert));
        cell(r, 6, QString::number(s.selections));
    }
}

}  // namespace moe::ui
