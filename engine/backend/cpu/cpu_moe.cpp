// The mixture-of-experts SwiGLU FFN. Decode (one token) runs in exactly two parallel regions: gate+up of all k
// selected experts (with silu(g)*u) in the first, all the down products in the second, so the few-microsecond
// cost of a region is paid twice per layer, not 3k times. Several tokens are grouped per expert (gathered
// rows) and run as batched products, then scattered back weighted.
#include "backend/cpu/cpu_matmul.h"

#include "backend/cpu/cpu_matmul_internal.h"
#include "backend/cpu/thread_pool.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace moe::cpu {

using namespace detail;

namespace {

// silu(v) = v / (1 + exp(-v)) as ggml computes it. Outside [-88, 88] expf would overflow/underflow, which takes
// glibc's slow errno path (~1 us a call): there the result is v (1 + exp(-v) == 1 in float, exact) or a value
// below 1e-36 in magnitude, returned as -0.
inline float silu(float v) {
    if (v > 88.0f) return v;
    if (!(v >= -88.0f)) return v != v ? v : -0.0f;
    return v / (1.0f + std::exp(-v));
}

Status check_expert(const SwigluWeights& e, int64_t index, int64_t n_embd) {
    const std::string what = "moe_ffn: expert " + std::to_string(index);
    if (Status s = check_weights((what + " gate").c_str(), e.gate); !s.ok()) return s;
    if (Status s = check_weights((what + " up").c_str(), e.up); !s.ok()) return s;
    if (Status s = check_weights((what + " down").c_str(), e.down); !s.ok()) return s;
    if (e.gate.cols != n_embd || e.up.cols != n_embd || e.down.rows != n_embd || e.up.rows != e.gate.rows ||
        e.down.cols != e.gate.rows)
        return Status::error(what + ": shapes gate [" + std::to_string(e.gate.rows) + " x " +
                             std::to_string(e.gate.cols) + "], up [" + std::to_string(e.up.rows) + " x " +
                             std::to_string(e.up.cols) + "], down [" + std::to_string(e.down.rows) + " x " +
                             std::to_string(e.down.cols) + "] do not form an FFN " + std::to_string(n_embd) +
                             " -> n_ff -> " + std::to_string(n_embd));
    return Status();
}

// Activation rows for one type, prepared once per call and shared by all selections that need it.
// (At most one row per ActType value: 7.)
struct ActCache {
    ActType type[7];
    const uint8_t* rows[7];
    int n = 0;
};

void moe_decode(ThreadPool& pool, std::span<const SwigluWeights> experts, const float* x, int64_t n_embd, int64_t k,
                const int32_t* ids, const float* weights, float* y) {
    // Selection j: h_j = silu(gate_j x) * up_j x in h[h_off[j] .. + n_ff_j).
    // The caller's reusable plan. (A thread_local named inside the lambdas below would be the worker's own
    // instance, so the lambdas see it only through these references.)
    struct Plan {
        std::vector<int64_t> h_off, rows, costs;
        std::vector<RowKernel> kg, ku, kd;
        std::vector<const uint8_t*> xg, xu;
    };
    thread_local Plan plan_storage;
    Plan& plan = plan_storage;
    std::vector<int64_t>&h_off = plan.h_off, &rows = plan.rows, &costs = plan.costs;
    std::vector<RowKernel>&kg = plan.kg, &ku = plan.ku, &kd = plan.kd;
    std::vector<const uint8_t*>&xg = plan.xg, &xu = plan.xu;
    h_off.assign(static_cast<size_t>(k) + 1, 0);
    rows.resize(static_cast<size_t>(k));
    costs.resize(static_cast<size_t>(k));
    kg.resize(static_cast<size_t>(k));
    ku.resize(static_cast<size_t>(k));
    kd.resize(static_cast<size_t>(k));
    xg.resize(static_cast<size_t>(k));
    xu.resize(static_cast<size_t>(k));
    ActCache cache;
    uint8_t* act_buf = scratch_bytes(10, 7 * (act_row_bytes(ActType::F32, n_embd) + 64));
    const auto act_for = [&](ActType t) -> const uint8_t* {
        for (int i = 0; i < cache.n; ++i)
            if (cache.type[i] == t) return cache.rows[i];
        uint8_t* dst = act_buf + cache.n * (act_row_bytes(ActType::F32, n_embd) + 64);
        prepare_act(t, x, n_embd, dst);
        cache.type[cache.n] = t;
        cache.rows[cache.n++] = dst;
        return dst;
    };
    for (int64_t j = 0; j < k; ++j) {
        const SwigluWeights& e = experts[static_cast<size_t>(ids[j])];
        make_row_kernel(e.gate.type, ActivationMode::Native, &kg[j]);
        make_row_kernel(e.up.type, ActivationMode::Native, &ku[j]);
        make_row_kernel(e.down.type, ActivationMode::Native, &kd[j]);
        xg[j] = act_for(kg[j].act);
        xu[j] = act_for(ku[j].act);
        h_off[j + 1] = h_off[j] + e.gate.rows;
        rows[j] = e.gate.rows;
        costs[j] = static_cast<int64_t>(e.gate.row_bytes + e.up.row_bytes);
    }
    float* h = scratch_floats(11, h_off[k]);
    pool.run([&](int ith, int nth) {
        thread_local std::vector<std::pair<int64_t, int64_t>> ranges;
        split_costs(rows.data(), costs.data(), static_cast<size_t>(k), ith, nth, ranges);
        float* scratch = scratch_floats(5, n_embd + 256);
        for (int64_t j = 0; j < k; ++j) {
            const SwigluWeights& e = experts[static_cast<size_t>(ids[j])];
            for (int64_t r = ranges[j].first; r < ranges[j].second; ++r) {
                const float g = row_dot(e.gate, kg[j], r, xg[j], scratch);
                const float u = row_dot(e.up, ku[j], r, xu[j], scratch);
                h[h_off[j] + r] = silu(g) * u;
            }
        }
    });
    pool.run([&](int ith, int nth) {
        // Every thread prepares all h_j for the down products (a few thousand values: cheaper than a barrier).
        thread_local std::vector<int64_t> hact_off;
        hact_off.assign(static_cast<size_t>(k) + 1, 0);
        for (int64_t j = 0; j < k; ++j)
            hact_off[j + 1] = hact_off[j] + (act_row_bytes(kd[j].act, rows[j]) + 63) / 64 * 64;
        uint8_t* hact = scratch_bytes(12, hact_off[k]);
        for (int64_t j = 0; j < k; ++j) prepare_act(kd[j].act, h + h_off[j], rows[j], hact + hact_off[j]);
        const int64_t r0 = n_embd * ith / nth, r1 = n_embd * (ith + 1) / nth;
        float* scratch = scratch_floats(5, h_off[k] + 256);
        constexpr int64_t kTile = 32;
        float acc[kTile];
        for (int64_t rt = r0; rt < r1; rt += kTile) {
            const int64_t re = std::min(r1, rt + kTile);
            for (int64_t r = rt; r < re; ++r) acc[r - rt] = y[r];
            for (int64_t j = 0; j < k; ++j) {
                const MatrixView& down = experts[static_cast<size_t>(ids[j])].down;
                for (int64_t r = rt; r < re; ++r)
                    acc[r - rt] += weights[j] * row_dot(down, kd[j], r, hact + hact_off[j], scratch);
            }
            for (int64_t r = rt; r < re; ++r) y[r] = acc[r - rt];
        }
    });
}

void moe_grouped(ThreadPool& pool, std::span<const SwigluWeights> experts, const float* x, int64_t n_tokens,
                 int64_t n_embd, int64_t k, const int32_t* ids, const float* weights, float* y) {
    // Selections (t, j) grouped by expert, in token order within each expert.
    std::vector<std::vector<int64_t>> by_expert(experts.size());
    for (int64_t i = 0; i < n_tokens * k; ++i) by_expert[static_cast<size_t>(ids[i])].push_back(i);
    for (size_t e = 0; e < experts.size(); ++e) {
        const std::vector<int64_t>& sel = by_expert[e];
        if (sel.empty()) continue;
        const SwigluWeights& ex = experts[e];
        const int64_t cnt = static_cast<int64_t>(sel.size()), n_ff = ex.gate.rows;
        float* xe = scratch_floats(6, cnt * n_embd);
        float* g = scratch_floats(7, cnt * n_ff);
        float* u = scratch_floats(8, cnt * n_ff);
        float* d = scratch_floats(9, cnt * n_embd);
        for (int64_t i = 0; i < cnt; ++i)
            std::copy(x + (sel[i] / k) * n_embd, x + (sel[i] / k + 1) * n_embd, xe + i * n_embd);
        MatmulJob gu[2];
        gu[0] = MatmulJob{ex.gate, xe, n_embd, g, n_ff, ActivationMode::Native};
        gu[1] = MatmulJob{ex.up, xe, n_embd, u, n_ff, ActivationMode::Native};
        run_batch(pool, std::span<const MatmulJob>(gu, 2), cnt);
        for (int64_t i = 0; i < cnt * n_ff; ++i) g[i] = silu(g[i]) * u[i];
        const MatmulJob dj{ex.down, g, n_ff, d, n_embd, ActivationMode::Native};
        run_batch(pool, std::span<const MatmulJob>(&dj, 1), cnt);
        for (int64_t i = 0; i < cnt; ++i) {
            float* yt = y + (sel[i] / k) * n_embd;
            const float w = weights[sel[i]];
            const float* di = d + i * n_embd;
            for (int64_t c = 0; c < n_embd; ++c) yt[c] += w * di[c];
        }
    }
}

}  // namespace

Status moe_ffn(ThreadPool& pool, std::span<const SwigluWeights> experts, const float* x, int64_t n_tokens,
               int64_t n_embd, int64_t k, const int32_t* ids, const float* weights, float* y) {
    if (n_tokens < 0 || k < 0 || n_embd <= 0)
        return Status::error("moe_ffn: invalid sizes n_tokens " + std::to_string(n_tokens) + ", k " +
                             std::to_string(k) + ", n_embd " + std::to_string(n_embd));
    if (n_tokens == 0 || k == 0) return Status();
    if (x == nullptr || y == nullptr || ids == nullptr || weights == nullptr)
        return Status::error("moe_ffn: null x, y, ids or weights");
    std::vector<char> used(experts.size(), 0);
    for (int64_t i = 0; i < n_tokens * k; ++i) {
        if (ids[i] < 0 || static_cast<size_t>(ids[i]) >= experts.size())
            return Status::error("moe_ffn: token " + std::to_string(i / k) + " selection " + std::to_string(i % k) +
                                 ": expert id " + std::to_string(ids[i]) + " out of range [0, " +
                                 std::to_string(experts.size()) + ")");
        used[static_cast<size_t>(ids[i])] = 1;
    }
    for (size_t e = 0; e < experts.size(); ++e)
        if (used[e])
            if (Status s = check_expert(experts[e], static_cast<int64_t>(e), n_embd); !s.ok()) return s;
    if (n_tokens == 1)
        moe_decode(pool, experts, x, n_embd, k, ids, weights, y);
    else
        moe_grouped(pool, experts, x, n_tokens, n_embd, k, ids, weights, y);
    return Status();
}

}  // namespace moe::cpu
