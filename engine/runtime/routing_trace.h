// The expert routing of every recorded token (prompt and generated) at every MoE layer, and what the CLI and
// the app compute from it: per-layer load statistics, the JSON of `moewb routing --json`, comparison heatmaps.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace moe {

// Rows are tokens in the order they were evaluated; a row holds, for each MoE layer ("slot": index into
// moe_layers), the k chosen expert ids and their final gate weights. Storage is one contiguous array per slot,
// ids [row][k] and weights [row][k], so record() is a memcpy into memory reserved ahead.
class RoutingTrace {
public:
    // Clears the rows. moe_layers: model layer index of each MoE layer, ascending. Needs n_expert >= 1,
    // 1 <= k <= n_expert (asserted: the model's hyper-parameters were validated when it loaded).
    void reset(int32_t n_expert, int32_t k, std::vector<int32_t> moe_layers);
    // Reserves room for n_rows rows in total, so appends up to there do not allocate.
    void reserve(int64_t n_rows);

    // Appends n rows (one per token, at positions first_position, first_position + 1, ...) and returns the
    // index of the first; all slots zeroed until recorded. Grows the reserve geometrically when needed.
    int64_t append_rows(std::span<const int32_t> tokens, int32_t first_position);
    // For rows [row, row + n): ids and weights [n][k] of MoE layer slot `slot`, experts in descending order of
    // selection score. Ranges are asserted (programmer errors); no allocation.
    void record(int64_t row, int64_t n, int32_t slot, const int32_t* ids, const float* weights);
    // Drops rows >= n_rows (the session rewound); keeps the capacity. No-op when n_rows >= this->n_rows().
    void truncate(int64_t n_rows);

    int64_t n_rows() const { return static_cast<int64_t>(m_tokens.size()); }
    int32_t n_expert() const { return m_n_expert; }
    int32_t k() const { return m_k; }
    int32_t n_slots() const { return static_cast<int32_t>(m_moe_layers.size()); }
    const std::vector<int32_t>& moe_layers() const { return m_moe_layers; }

    int32_t token(int64_t row) const { return m_tokens[static_cast<size_t>(row)]; }
    int32_t position(int64_t row) const { return m_positions[static_cast<size_t>(row)]; }
    std::span<const int32_t> experts(int64_t row, int32_t slot) const;  // k ids
    std::span<const float> weights(int64_t row, int32_t slot) const;    // k weights

private:
    int32_t m_n_expert = 0;
    int32_t m_k = 0;
    std::vector<int32_t> m_moe_layers;
    std::vector<int32_t> m_tokens;                 // [rows]
    std::vector<int32_t> m_positions;              // [rows]
    std::vector<std::vector<int32_t>> m_ids;       // [slot][rows * k]
    std::vector<std::vector<float>> m_weights;     // [slot][rows * k]
};

// Per MoE layer x expert over rows [begin, end): selection counts and summed final weights.
struct RoutingAggregate {
    int32_t n_expert = 0;
    std::vector<int32_t> moe_layers;
    int64_t n_rows = 0;
    std::vector<int64_t> counts;      // [layer slot][n_expert]
    std::vector<double> weight_mass;  // [layer slot][n_expert]
};
// begin and end are clamped to [0, n_rows]; ids outside [0, n_expert) (never recorded) are not counted.
RoutingAggregate aggregate_routing(const RoutingTrace& trace, int64_t begin, int64_t end);

struct LayerLoadStats {
    int32_t layer = 0;              // model layer index
    double entropy_bits = 0;        // of the count distribution over experts
    double entropy_normalized = 0;  // entropy / log2(n_expert), 1 = perfectly even (1 when n_expert == 1)
    double cv = 0;                  // coefficient of variation of the counts (std/mean, population std)
    double max_over_mean = 0;       // busiest expert's count / mean count
    int32_t unused_experts = 0;     // experts never selected
    int64_t selections = 0;         // sum of the counts (rows * k once every row is recorded)
};
// One entry per MoE layer. A layer with no selections has every ratio 0 and all experts unused.
std::vector<LayerLoadStats> routing_load_stats(const RoutingAggregate& agg);

// The JSON `moewb routing --json` prints (indent < 0: one line; else pretty with that many spaces):
// {"tokens":[ids], "positions":[positions], "n_expert":E, "k":K, "layers":[{"layer":L,
//  "experts":[[ids per position]], "weights":[[final weights per position]],
//  "stats":{"entropy_bits":..,"entropy_normalized":..,"cv":..,"max_over_mean":..,"unused_experts":..,
//  "selections":..}}]}
// Rows [begin, end) clamped to [0, n_rows]; weights are written with the fewest digits that read back as the
// same float.
std::string routing_trace_to_json(const RoutingTrace& trace, int64_t begin, int64_t end, int indent = -1);

// b - a of the per-layer distributions over experts ([layer slot][n_expert]): each layer's counts (or weight
// mass, by_weight) divided by that layer's total, so every layer of a distribution sums to 1 (0 when empty)
// and every layer of the difference sums to 0 when both are non-empty. Empty when a and b differ in n_expert
// or moe_layers.
std::vector<double> routing_difference(const RoutingAggregate& a, const RoutingAggregate& b, bool by_weight);

}  // namespace moe
