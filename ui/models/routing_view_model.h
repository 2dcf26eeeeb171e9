// What the routing page shows, computed from RoutingData without any widget: the layers x experts grid of a
// selection (by selection count or by gate-weight mass, raw or as a share of the layer), the difference of two
// selections (B - A of the per-layer shares, moe::routing_difference), per-layer load statistics
// (moe::routing_load_stats) and the CSV export. The heatmap widget only draws a HeatmapGrid.
#pragma once

#include "models/routing_data.h"
#include "runtime/routing_trace.h"

#include <QList>
#include <QString>

#include <optional>
#include <utility>
#include <vector>

namespace moe::app {

enum class RoutingMeasure { Count, Mass };

// Rows of a RoutingData: all of them, one segment (a reply: grows while it streams), or a fixed token range.
struct RoutingSelection {
    enum class Kind { All, Segment, Range };
    Kind kind = Kind::All;
    int segment = -1;  // Segment: index into RoutingData::segments()
    int64_t begin = 0;  // Range: rows [begin, end)
    int64_t end = 0;

    static RoutingSelection all() { return {}; }
    static RoutingSelection ofSegment(int index) { return {Kind::Segment, index, 0, 0}; }
    static RoutingSelection range(int64_t b, int64_t e) { return {Kind::Range, -1, b, e}; }
    // [begin, end) in `data`, clamped; empty when a segment index is out of range.
    std::pair<int64_t, int64_t> resolve(const RoutingData& data) const;
    QString label(const RoutingData& data) const;  // "Whole conversation", "Reply 2", "Tokens 4-9"
    bool operator==(const RoutingSelection& o) const = default;
};

// Per MoE layer x routed expert over the rows [begin, end) of `data` (the engine's aggregate type, so
// moe::routing_load_stats and moe::routing_difference apply).
RoutingAggregate aggregateRouting(const RoutingData& data, int64_t begin, int64_t end);

// The grid a heatmap draws. values [slot][expert] is what is coloured: the count or mass (raw), its share of
// the layer's total (normalised), or in difference mode B's share minus A's share.
struct HeatmapGrid {
    int32_t nExpert = 0;
    int32_t nShared = 0;
    std::vector<int32_t> moeLayers;
    RoutingMeasure measure = RoutingMeasure::Count;
    bool normalized = false;
    bool difference = false;
    QString labelA, labelB;
    RoutingAggregate a, b;  // b only in difference mode
    std::vector<double> values;

    int32_t nSlots() const { return static_cast<int32_t>(moeLayers.size()); }
    bool isEmpty() const { return a.n_rows == 0 && b.n_rows == 0; }
    double value(int32_t slot, int32_t expert) const { return values[index(slot, expert)]; }
    // The cell's share of its layer for the measure in aggregate `agg` (0 when the layer is empty).
    double share(const RoutingAggregate& agg, int32_t slot, int32_t expert) const;
    double layerTotal(const RoutingAggregate& agg, int32_t slot) const;  // of the measure
    double minValue() const;
    double maxValue() const;
    QString cellTooltip(int32_t slot, int32_t expert) const;
    QString sharedTooltip(int32_t slot, int32_t sharedIndex) const;
    size_t index(int32_t slot, int32_t expert) const { return size_t(slot) * size_t(nExpert) + size_t(expert); }
};

class RoutingViewModel {
public:
    void setData(RoutingData data);
    // Rows of the reply streaming now: appended to the last segment (shape must match; else ignored).
    bool appendRows(const RoutingData& rows);
    void beginSegment(const QString& label) { m_data.beginSegment(label); }
    void clear();
    const RoutingData& data() const { return m_data; }

    void setSelection(const RoutingSelection& selection) { m_selection = selection; }
    const RoutingSelection& selection() const { return m_selection; }
    void setMeasure(RoutingMeasure measure) { m_measure = measure; }
    RoutingMeasure measure() const { return m_measure; }
    void setNormalized(bool on) { m_normalized = on; }
    bool normalized() const { return m_normalized; }
    // Difference mode: B - A of the per-layer shares; nullopt: off.
    void setComparison(std::optional<std::pair<RoutingSelection, RoutingSelection>> aAndB) { m_compare = aAndB; }
    bool comparing() const { return m_compare.has_value(); }

    // The selections a user can pick: the whole conversation, then every segment.
    QList<RoutingSelection> selectionChoices() const;

    HeatmapGrid grid() const;
    std::vector<LayerLoadStats> layerStats() const;  // of the current selection
    // "layer,expert,count,mass,share" per routed expert of every MoE layer (share of the layer for the
    // measure); in difference mode "layer,expert,share_a,share_b,difference".
    static QString csv(const HeatmapGrid& grid);

private:
    RoutingData m_data;
    RoutingSelection m_selection;
    RoutingMeasure m_measure = RoutingMeasure::Count;
    bool m_normalized = true;
    std::optional<std::pair<RoutingSelection, RoutingSelection>> m_compare;
};

}  // namespace moe::app
