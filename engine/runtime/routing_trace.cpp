// RoutingTrace storage, aggregation, load statistics, JSON and comparison (routing_trace.h).
#include "runtime/routing_trace.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace moe {

void RoutingTrace::reset(int32_t n_expert, int32_t k, std::vector<int32_t> moe_layers) {
    assert(n_expert >= 1 && k >= 1 && k <= n_expert);
    assert(std::is_sorted(moe_layers.begin(), moe_layers.end()));
    m_n_expert = n_expert;
    m_k = k;
    m_moe_layers = std::move(moe_layers);
    m_tokens.clear();
    m_positions.clear();
    m_ids.assign(m_moe_layers.size(), {});
    m_weights.assign(m_moe_layers.size(), {});
}

void RoutingTrace::reserve(int64_t n_rows) {
    if (n_rows <= 0) return;
    const auto rows = static_cast<size_t>(n_rows);
    m_tokens.reserve(rows);
    m_positions.reserve(rows);
    for (auto& ids : m_ids) ids.reserve(rows * static_cast<size_t>(m_k));
    for (auto& w : m_weights) w.reserve(rows * static_cast<size_t>(m_k));
}

int64_t RoutingTrace::append_rows(std::span<const int32_t> tokens, int32_t first_position) {
    const int64_t first = n_rows();
    const size_t rows = m_tokens.size() + tokens.size();
    if (rows > m_tokens.capacity()) reserve(static_cast<int64_t>(std::max(rows, 2 * m_tokens.capacity())));
    m_tokens.insert(m_tokens.end(), tokens.begin(), tokens.end());
    for (size_t i = 0; i < tokens.size(); ++i) m_positions.push_back(first_position + static_cast<int32_t>(i));
    const size_t slots_size = rows * static_cast<size_t>(m_k);
    for (auto& ids : m_ids) ids.resize(slots_size, 0);
    for (auto& w : m_weights) w.resize(slots_size, 0.0f);
    return first;
}

void RoutingTrace::record(int64_t row, int64_t n, int32_t slot, const int32_t* ids, const float* weights) {
    assert(slot >= 0 && slot < n_slots());
    assert(row >= 0 && n >= 0 && row + n <= n_rows());
    const size_t offset = static_cast<size_t>(row) * static_cast<size_t>(m_k);
    const size_t count = static_cast<size_t>(n) * static_cast<size_t>(m_k);
    std::memcpy(m_ids[static_cast<size_t>(slot)].data() + offset, ids, count * sizeof(int32_t));
    std::memcpy(m_weights[static_cast<size_t>(slot)].data() + offset, weights, count * sizeof(float));
}

void RoutingTrace::truncate(int64_t n_rows) {
    if (n_rows < 0) n_rows = 0;
    if (n_rows >= this->n_rows()) return;
    const auto rows = static_cast<size_t>(n_rows);
    m_tokens.resize(rows);
    m_positions.resize(rows);
    for (auto& ids : m_ids) ids.resize(rows * static_cast<size_t>(m_k));
    for (auto& w : m_weights) w.resize(rows * static_cast<size_t>(m_k));
}

std::span<const int32_t> RoutingTrace::experts(int64_t row, int32_t slot) const {
    assert(slot >= 0 && slot < n_slots() && row >= 0 && row < n_rows());
    return {m_ids[static_cast<size_t>(slot)].data() + static_cast<size_t>(row) * m_k, static_cast<size_t>(m_k)};
}

std::span<const float> RoutingTrace::weights(int64_t row, int32_t slot) const {
    assert(slot >= 0 && slot < n_slots() && row >= 0 && row < n_rows());
    return {m_weights[static_cast<size_t>(slot)].data() + static_cast<size_t>(row) * m_k, static_cast<size_t>(m_k)};
}

namespace {

void clamp_range(const RoutingTrace& trace, int64_t& begin, int64_t& end) {
    end = std::clamp<int64_t>(end, 0, trace.n_rows());
    begin = std::clamp<int64_t>(begin, 0, end);
}

}  // namespace

RoutingAggregate aggregate_routing(const RoutingTrace& trace, int64_t begin, int64_t end) {
    clamp_range(trace, begin, end);
    RoutingAggregate agg;
    agg.n_expert = trace.n_expert();
    agg.moe_layers = trace.moe_layers();
    agg.n_rows = end - begin;
    const size_t n_expert = static_cast<size_t>(agg.n_expert);
    agg.counts.assign(agg.moe_layers.size() * n_expert, 0);
    agg.weight_mass.assign(agg.moe_layers.size() * n_expert, 0.0);
    for (int32_t slot = 0; slot < trace.n_slots(); ++slot) {
        int64_t* counts = agg.counts.data() + static_cast<size_t>(slot) * n_expert;
        double* mass = agg.weight_mass.data() + static_cast<size_t>(slot) * n_expert;
        for (int64_t row = begin; row < end; ++row) {
            const auto ids = trace.experts(row, slot);
            const auto w = trace.weights(row, slot);
            for (size_t j = 0; j < ids.size(); ++j) {
                if (ids[j] < 0 || ids[j] >= agg.n_expert) continue;
                ++counts[ids[j]];
                mass[ids[j]] += w[j];
            }
        }
    }
    return agg;
}

namespace {

LayerLoadStats layer_stats(const int64_t* counts, int32_t n_expert, int32_t layer) {
    LayerLoadStats s;
    s.layer = layer;
    int64_t total = 0, max_count = 0;
    for (int32_t e = 0; e < n_expert; ++e) {
        total += counts[e];
        max_count = std::max(max_count, counts[e]);
        if (counts[e] == 0) ++s.unused_experts;
    }
    s.selections = total;
    if (total == 0) return s;
    const double mean = static_cast<double>(total) / n_expert;
    double entropy = 0.0, var = 0.0;
    for (int32_t e = 0; e < n_expert; ++e) {
        const double c = static_cast<double>(counts[e]);
        if (c > 0) entropy -= (c / total) * std::log2(c / total);
        var += (c - mean) * (c - mean);
    }
    s.entropy_bits = std::max(0.0, entropy);  // -0.0 when one expert takes everything
    s.entropy_normalized = n_expert > 1 ? s.entropy_bits / std::log2(static_cast<double>(n_expert)) : 1.0;
    s.cv = std::sqrt(var / n_expert) / mean;
    s.max_over_mean = static_cast<double>(max_count) / mean;
    return s;
}

// The double nearest to the shortest decimal that reads back as `v`, so the JSON shows 0.25 or 0.1, not
// 0.100000001490116 (nlohmann writes doubles with 17 significant digits when needed).
double shortest_float(float v) {
    if (!std::isfinite(v)) return v;  // written as null
    char buf[32] = {};
    const auto res = std::to_chars(buf, buf + sizeof(buf) - 1, v);
    *res.ptr = '\0';
    return std::strtod(buf, nullptr);
}

nlohmann::json stats_json(const LayerLoadStats& s) {
    return {{"entropy_bits", s.entropy_bits},       {"entropy_normalized", s.entropy_normalized},
            {"cv", s.cv},                           {"max_over_mean", s.max_over_mean},
            {"unused_experts", s.unused_experts},   {"selections", s.selections}};
}

}  // namespace

std::vector<LayerLoadStats> routing_load_stats(const RoutingAggregate& agg) {
    std::vector<LayerLoadStats> out;
    const size_t n_expert = static_cast<size_t>(std::max(agg.n_expert, 0));
    for (size_t slot = 0; slot < agg.moe_layers.size(); ++slot) {
        if ((slot + 1) * n_expert > agg.counts.size()) break;  // malformed aggregate: report what exists
        out.push_back(layer_stats(agg.counts.data() + slot * n_expert, agg.n_expert, agg.moe_layers[slot]));
    }
    return out;
}

std::string routing_trace_to_json(const RoutingTrace& trace, int64_t begin, int64_t end, int indent) {
    clamp_range(trace, begin, end);
    nlohmann::json tokens = nlohmann::json::array(), positions = nlohmann::json::array();
    for (int64_t row = begin; row < end; ++row) {
        tokens.push_back(trace.token(row));
        positions.push_back(trace.position(row));
    }
    const std::vector<LayerLoadStats> stats = routing_load_stats(aggregate_routing(trace, begin, end));
    nlohmann::json layers = nlohmann::json::array();
    for (int32_t slot = 0; slot < trace.n_slots(); ++slot) {
        nlohmann::json experts = nlohmann::json::array(), weights = nlohmann::json::array();
        for (int64_t row = begin; row < end; ++row) {
            nlohmann::json row_w = nlohmann::json::array();
            for (float w : trace.weights(row, slot)) row_w.push_back(shortest_float(w));
            const auto ids = trace.experts(row, slot);
            experts.push_back(std::vector<int32_t>(ids.begin(), ids.end()));
            weights.push_back(std::move(row_w));
        }
        nlohmann::json layer = nlohmann::json::object();
        layer["layer"] = trace.moe_layers()[static_cast<size_t>(slot)];
        layer["experts"] = std::move(experts);
        layer["weights"] = std::move(weights);
        layer["stats"] = stats_json(stats[static_cast<size_t>(slot)]);
        layers.push_back(std::move(layer));
    }
    nlohmann::json doc = nlohmann::json::object();
    doc["tokens"] = std::move(tokens);
    doc["positions"] = std::move(positions);
    doc["n_expert"] = trace.n_expert();
    doc["k"] = trace.k();
    doc["layers"] = std::move(layers);
    // Replace, not throw, on invalid UTF-8 (there is none here, but dump() must never throw across the API).
    return doc.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<double> routing_difference(const RoutingAggregate& a, const RoutingAggregate& b, bool by_weight) {
    if (a.n_expert != b.n_expert || a.moe_layers != b.moe_layers || a.n_expert <= 0) return {};
    const size_t n_expert = static_cast<size_t>(a.n_expert);
    const size_t size = a.moe_layers.size() * n_expert;
    if (a.counts.size() != size || b.counts.size() != size || a.weight_mass.size() != size ||
        b.weight_mass.size() != size)
        return {};
    std::vector<double> diff(size, 0.0);
    const auto add_normalised = [&](const RoutingAggregate& agg, double sign) {
        for (size_t slot = 0; slot < agg.moe_layers.size(); ++slot) {
            const size_t base = slot * n_expert;
            double total = 0.0;
            for (size_t e = 0; e < n_expert; ++e)
                total += by_weight ? agg.weight_mass[base + e] : static_cast<double>(agg.counts[base + e]);
            if (!(total > 0.0)) continue;
            for (size_t e = 0; e < n_expert; ++e) {
                const double v = by_weight ? agg.weight_mass[base + e] : static_cast<double>(agg.counts[base + e]);
                diff[base + e] += sign * v / total;
            }
        }
    };
    add_normalised(b, 1.0);
    add_normalised(a, -1.0);
    return diff;
}

}  // namespace moe
