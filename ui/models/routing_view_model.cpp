#include "models/routing_view_model.h"

#include "services/memory_fit.h"

#include <QCoreApplication>

#include <algorithm>
#include <cmath>

namespace moe::app {

namespace {
QString tokens(int64_t n) {
    return formatQuantity(n, QCoreApplication::translate("Routing", "token"),
                          QCoreApplication::translate("Routing", "tokens"));
}
QString selections(int64_t n) {
    return formatQuantity(n, QCoreApplication::translate("Routing", "selection"),
                          QCoreApplication::translate("Routing", "selections"));
}
}  // namespace

std::pair<int64_t, int64_t> RoutingSelection::resolve(const RoutingData& data) const {
    const int64_t n = data.nRows();
    switch (kind) {
        case Kind::All:
            return {0, n};
        case Kind::Segment: {
            const auto& segs = data.segments();
            if (segment < 0 || segment >= static_cast<int>(segs.size())) return {0, 0};
            return {segs[size_t(segment)].begin, segs[size_t(segment)].end};
        }
        case Kind::Range: {
            const int64_t b = std::clamp<int64_t>(std::min(begin, end), 0, n);
            return {b, std::clamp<int64_t>(std::max(begin, end), b, n)};
        }
    }
    return {0, 0};
}

QString RoutingSelection::label(const RoutingData& data) const {
    switch (kind) {
        case Kind::All:
            return QCoreApplication::translate("Routing", "Whole conversation");
        case Kind::Segment: {
            const auto& segs = data.segments();
            if (segment >= 0 && segment < static_cast<int>(segs.size()) && !segs[size_t(segment)].label.isEmpty())
                return segs[size_t(segment)].label;
            return QCoreApplication::translate("Routing", "Part %1").arg(segment + 1);
        }
        case Kind::Range: {
            const auto [b, e] = resolve(data);
            if (e - b == 1) return QCoreApplication::translate("Routing", "Token %1").arg(b + 1);
            return QCoreApplication::translate("Routing", "Tokens %1–%2").arg(b + 1).arg(e);
        }
    }
    return {};
}

RoutingAggregate aggregateRouting(const RoutingData& data, int64_t begin, int64_t end) {
    RoutingAggregate agg;
    agg.n_expert = data.nExpert();
    agg.moe_layers = data.moeLayers();
    begin = std::clamp<int64_t>(begin, 0, data.nRows());
    end = std::clamp<int64_t>(end, begin, data.nRows());
    agg.n_rows = end - begin;
    const size_t cells = size_t(data.nSlots()) * size_t(data.nExpert());
    agg.counts.assign(cells, 0);
    agg.weight_mass.assign(cells, 0.0);
    for (int64_t row = begin; row < end; ++row) {
        for (int32_t slot = 0; slot < data.nSlots(); ++slot) {
            const auto ids = data.experts(row, slot);
            const auto w = data.weights(row, slot);
            for (size_t j = 0; j < ids.size(); ++j) {
                if (ids[j] < 0 || ids[j] >= data.nExpert()) continue;  // a slot never recorded
                const size_t cell = size_t(slot) * size_t(data.nExpert()) + size_t(ids[j]);
                agg.counts[cell] += 1;
                agg.weight_mass[cell] += w[j];
            }
        }
    }
    return agg;
}

double HeatmapGrid::layerTotal(const RoutingAggregate& agg, int32_t slot) const {
    double total = 0;
    for (int32_t e = 0; e < nExpert; ++e) {
        const size_t i = index(slot, e);
        if (i >= agg.counts.size()) return 0;
        total += measure == RoutingMeasure::Count ? double(agg.counts[i]) : agg.weight_mass[i];
    }
    return total;
}

double HeatmapGrid::share(const RoutingAggregate& agg, int32_t slot, int32_t expert) const {
    const size_t i = index(slot, expert);
    if (i >= agg.counts.size()) return 0;
    const double total = layerTotal(agg, slot);
    const double v = measure == RoutingMeasure::Count ? double(agg.counts[i]) : agg.weight_mass[i];
    return total > 0 ? v / total : 0.0;
}

double HeatmapGrid::minValue() const {
    return values.empty() ? 0.0 : *std::min_element(values.begin(), values.end());
}

double HeatmapGrid::maxValue() const {
    return values.empty() ? 0.0 : *std::max_element(values.begin(), values.end());
}

QString HeatmapGrid::cellTooltip(int32_t slot, int32_t expert) const {
    if (slot < 0 || slot >= nSlots() || expert < 0 || expert >= nExpert) return {};
    const size_t i = index(slot, expert);
    QString head =
        QCoreApplication::translate("Routing", "<b>Layer %1 · expert %2</b>").arg(moeLayers[size_t(slot)]).arg(expert);
    if (difference) {
        const double sa = share(a, slot, expert) * 100.0, sb = share(b, slot, expert) * 100.0;
        return head + QCoreApplication::translate("Routing",
                                                  "<br>A (%1): %2, %3%<br>"
                                                  "B (%4): %5, %6%<br>B − A: %7 points")
                          .arg(labelA.toHtmlEscaped())
                          .arg(selections(a.counts.empty() ? 0 : a.counts[i]))
                          .arg(sa, 0, 'f', 1)
                          .arg(labelB.toHtmlEscaped())
                          .arg(selections(b.counts.empty() ? 0 : b.counts[i]))
                          .arg(sb, 0, 'f', 1)
                          .arg(QString::asprintf("%+.1f", sb - sa));
    }
    HeatmapGrid byCount = *this;
    byCount.measure = RoutingMeasure::Count;
    HeatmapGrid byMass = *this;
    byMass.measure = RoutingMeasure::Mass;
    return head + QCoreApplication::translate("Routing",
                                              "<br>Count: %1 of %2 (%3% of the layer)"
                                              "<br>Weight mass: %4 (%5% of the layer)")
                      .arg(a.counts[i])
                      .arg(tokens(a.n_rows))
                      .arg(byCount.share(a, slot, expert) * 100.0, 0, 'f', 1)
                      .arg(a.weight_mass[i], 0, 'f', 3)
                      .arg(byMass.share(a, slot, expert) * 100.0, 0, 'f', 1);
}

QString HeatmapGrid::sharedTooltip(int32_t slot, int32_t sharedIndex) const {
    if (slot < 0 || slot >= nSlots()) return {};
    return QCoreApplication::translate("Routing",
                                       "<b>Layer %1 · shared expert %2</b><br>Always on: every token "
                                       "goes through it (%3), not chosen by the router.")
        .arg(moeLayers[size_t(slot)])
        .arg(sharedIndex)
        .arg(tokens(std::max(a.n_rows, b.n_rows)));
}

void RoutingViewModel::setData(RoutingData data) {
    m_data = std::move(data);
}

bool RoutingViewModel::appendRows(const RoutingData& rows) {
    if (m_data.nExpert() == 0) {
        m_data = rows;
        return true;
    }
    if (!m_data.compatibleWith(rows)) return false;
    for (int64_t r = 0; r < rows.nRows(); ++r) {
        std::vector<int32_t> ids;
        std::vector<float> w;
        for (int32_t s = 0; s < rows.nSlots(); ++s) {
            const auto e = rows.experts(r, s);
            const auto g = rows.weights(r, s);
            ids.insert(ids.end(), e.begin(), e.end());
            w.insert(w.end(), g.begin(), g.end());
        }
        m_data.appendRow(rows.token(r), rows.tokenText(r), ids, w);
    }
    return true;
}

void RoutingViewModel::clear() {
    m_data = RoutingData();
    m_selection = RoutingSelection::all();
    m_compare.reset();
}

QList<RoutingSelection> RoutingViewModel::selectionChoices() const {
    QList<RoutingSelection> out{RoutingSelection::all()};
    for (int i = 0; i < static_cast<int>(m_data.segments().size()); ++i) out.append(RoutingSelection::ofSegment(i));
    return out;
}

HeatmapGrid RoutingViewModel::grid() const {
    HeatmapGrid g;
    g.nExpert = m_data.nExpert();
    g.nShared = m_data.nShared();
    g.moeLayers = m_data.moeLayers();
    g.measure = m_measure;
    g.normalized = m_normalized;
    const RoutingSelection selA = m_compare ? m_compare->first : m_selection;
    const auto [ab, ae] = selA.resolve(m_data);
    g.a = aggregateRouting(m_data, ab, ae);
    g.labelA = selA.label(m_data);
    if (m_compare) {
        const auto [bb, be] = m_compare->second.resolve(m_data);
        g.b = aggregateRouting(m_data, bb, be);
        g.labelB = m_compare->second.label(m_data);
        g.difference = true;
        g.normalized = true;
        g.values = routing_difference(g.a, g.b, m_measure == RoutingMeasure::Mass);
        if (g.values.empty()) g.values.assign(size_t(g.nSlots()) * size_t(g.nExpert), 0.0);
        return g;
    }
    g.values.resize(g.a.counts.size());
    for (int32_t s = 0; s < g.nSlots(); ++s) {
        for (int32_t e = 0; e < g.nExpert; ++e) {
            const size_t i = g.index(s, e);
            const double raw = m_measure == RoutingMeasure::Count ? double(g.a.counts[i]) : g.a.weight_mass[i];
            g.values[i] = m_normalized ? g.share(g.a, s, e) : raw;
        }
    }
    return g;
}

std::vector<LayerLoadStats> RoutingViewModel::layerStats() const {
    const auto [b, e] = m_selection.resolve(m_data);
    return routing_load_stats(aggregateRouting(m_data, b, e));
}

QString RoutingViewModel::csv(const HeatmapGrid& grid) {
    QString out = grid.difference ? QStringLiteral("layer,expert,share_a,share_b,difference\n")
                                  : QStringLiteral("layer,expert,count,mass,share\n");
    for (int32_t s = 0; s < grid.nSlots(); ++s) {
        const int32_t layer = grid.moeLayers[size_t(s)];
        for (int32_t e = 0; e < grid.nExpert; ++e) {
            const size_t i = grid.index(s, e);
            if (grid.difference) {
                out += QStringLiteral("%1,%2,%3,%4,%5\n")
                           .arg(layer)
                           .arg(e)
                           .arg(grid.share(grid.a, s, e), 0, 'g', 9)
                           .arg(grid.share(grid.b, s, e), 0, 'g', 9)
                           .arg(grid.values[i], 0, 'g', 9);
            } else {
                out += QStringLiteral("%1,%2,%3,%4,%5\n")
                           .arg(layer)
                           .arg(e)
                           .arg(grid.a.counts[i])
                           .arg(grid.a.weight_mass[i], 0, 'g', 9)
                           .arg(grid.share(grid.a, s, e), 0, 'g', 9);
            }
        }
    }
    return out;
}

}  // namespace moe::app
