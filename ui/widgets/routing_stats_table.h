// Per-layer load statistics of a routing selection (moe::routing_load_stats): entropy, normalised entropy,
// coefficient of variation, busiest expert over the mean, unused experts, selections.
#pragma once

#include "runtime/routing_trace.h"

#include <QTableWidget>

#include <vector>

namespace moe::ui {

class RoutingStatsTable : public QTableWidget {
    Q_OBJECT

public:
    explicit RoutingStatsTable(QWidget* parent = nullptr);
    void setStats(const std::vector<LayerLoadStats>& stats, int32_t nExpert);
};

}  // namespace moe::ui
