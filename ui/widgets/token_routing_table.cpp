#include "widgets/token_routing_table.h"

#include "services/memory_fit.h"

#include "widgets/token_strip_widget.h"

#include <QHeaderView>

#include <algorithm>
#include <numeric>

namespace moe::ui {

TokenRoutingTable::TokenRoutingTable(QWidget* parent) : QTableWidget(parent) {
    setEditTriggers(QAbstractItemView::NoEditTriggers);
    setSelectionMode(QAbstractItemView::NoSelection);
    setAlternatingRowColors(true);
    verticalHeader()->setVisible(false);
    horizontalHeader()->setStretchLastSection(true);
    setWordWrap(false);
    showNothing();
}

void TokenRoutingTable::showNothing() {
    m_row = -1;
    clear();
    setRowCount(0);
    setColumnCount(2);
    setHorizontalHeaderLabels({tr("Layer"), tr("Experts (gate weight)")});
    m_caption = tr("Hover or click a token to see its experts");
    emit captionChanged(m_caption);
}

void TokenRoutingTable::showToken(const app::RoutingData& data, int64_t row) {
    if (row < 0 || row >= data.nRows()) return showNothing();
    m_row = row;
    const int k = data.k();
    clear();
    setColumnCount(k + 2);
    QStringList headers{tr("Layer")};
    for (int j = 0; j < k; ++j) headers << tr("#%1").arg(j + 1);  // compact: k columns must fit beside the strip
    headers << tr("Sum");
    setHorizontalHeaderLabels(headers);
    for (int j = 0; j < k; ++j)
        horizontalHeaderItem(j + 1)->setToolTip(
            tr("Choice %1 of %2: expert and gate weight, highest score first").arg(j + 1).arg(k));
    horizontalHeaderItem(k + 1)->setToolTip(tr("The sum of the chosen experts' gate weights at this layer"));
    setRowCount(data.nSlots());
    for (int s = 0; s < data.nSlots(); ++s) {
        auto* layer = new QTableWidgetItem(QString::number(data.moeLayers()[size_t(s)]));
        layer->setTextAlignment(Qt::AlignCenter);
        setItem(s, 0, layer);
        const auto ids = data.experts(row, s);
        const auto w = data.weights(row, s);
        for (int j = 0; j < k; ++j) {
            auto* item =
                new QTableWidgetItem(QStringLiteral("E%1 %2").arg(ids[size_t(j)]).arg(w[size_t(j)], 0, 'f', 2));
            item->setToolTip(tr("Expert %1, gate weight %2").arg(ids[size_t(j)]).arg(w[size_t(j)], 0, 'f', 4));
            item->setData(Qt::UserRole, ids[size_t(j)]);
            item->setData(Qt::UserRole + 1, double(w[size_t(j)]));
            setItem(s, j + 1, item);
        }
        const double sum = std::accumulate(w.begin(), w.end(), 0.0);
        setItem(s, k + 1, new QTableWidgetItem(QString::number(sum, 'f', 2)));
    }
    resizeColumnsToContents();
    const QString shared =
        data.nShared() > 0 ? tr(" · plus %1 in every layer")
                                 .arg(app::formatQuantity(data.nShared(), tr("shared expert"), tr("shared experts")))
                           : QString();
    m_caption = tr("Token %1 “%2” (id %3)%4")
                    .arg(row + 1)
                    .arg(TokenStripWidget::displayText(data.tokenText(row)))
                    .arg(data.token(row))
                    .arg(shared);
    emit captionChanged(m_caption);
}

}  // namespace moe::ui
