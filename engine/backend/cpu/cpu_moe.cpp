// The mixture-of-experts SwiGLU FFN. Decode (one token) runs in one parallel region: the selected experts' weight
// bytes are cut into equal intervals per thread, and the selections a boundary cuts are shared in row chunks
// (DecodePlan), so the few-microsecond cost of a region is paid once per layer, not 3k times. Several tokens are
// grouped per expert (gathered rows), whole experts per thread in one region (see moe_grouped), then added back
// weighted per token.
#include "backend/cpu/cpu_matmul.h"

#include "backend/cpu/cpu_matmul_internal.h"
#include "backend/cpu/cpu_ops.h"
#include "backend/cpu/simd.h"
#include "backend/cpu/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <string>
#include <tuple>

namespace moe::cpu {

using namespace detail;

namespace {

// The selections of one token in ascending expert id (the shared FFN, given last, has the largest): the order in
// which their weighted outputs are added, for prompts and decode alike, as llama.cpp's reference values have it.
inline void ascending_ids(const int32_t* ids, int64_t k, int64_t* order) {
    for (int64_t j = 0; j < k; ++j) {
        int64_t i = j;
        for (; i > 0 && ids[order[i - 1]] > ids[j]; --i) order[i] = order[i - 1];
        order[i] = j;
    }
}

// (Strings are only built on failure: decode checks the selected experts thousands of times per token.)
Status check_expert(const SwigluWeights& e, int64_t index, int64_t n_embd) {
    const auto what = [&] { return "moe_ffn: expert " + std::to_string(index); };
    if (Status s = check_weights("gate", e.gate); !s.ok()) return s.with_context(what());
    if (Status s = check_weights("up", e.up); !s.ok()) return s.with_context(what());
    if (Status s = check_weights("down", e.down); !s.ok()) return s.with_context(what());
    if (e.gate.cols != n_embd || e.up.cols != n_embd || e.down.rows != n_embd || e.up.rows != e.gate.rows ||
        e.down.cols != e.gate.rows)
        return Status::error(what() + ": shapes gate [" + std::to_string(e.gate.rows) + " x " +
                             std::to_string(e.gate.cols) + "], up [" + std::to_string(e.up.rows) + " x " +
                             std::to_string(e.up.cols) + "], down [" + std::to_string(e.down.rows) + " x " +
                             std::to_string(e.down.cols) + "] do not form an FFN " + std::to_string(n_embd) +
                             " -> n_ff -> " + std::to_string(n_embd));
    return Status();
}

// An FFN's weight bytes (gate, up and down).
uint64_t ffn_bytes(const SwigluWeights& e) {
    return static_cast<uint64_t>(e.gate.rows) * (e.gate.row_bytes + e.up.row_bytes) +
           static_cast<uint64_t>(e.down.rows) * e.down.row_bytes;
}

// One decode step's plan (n_tokens = 1). Selection j: h_j = silu(gate_j x) * up_j x (n_ff_j values), then
// d_j = down_j h_j, and y += sum_j weights[j] d_j in ascending expert id. The whole FFN runs in one parallel
// region: the selections' weight bytes are laid end to end and cut into nth equal intervals, one per thread. A
// thread computes the selections inside its interval whole (gate -> up -> down, every stream requesting the next
// one's lines before it ends), then shares each selection its interval cuts with the other threads that reach
// it: its gate/up rows in chunks, the thread it starts on taking them from the front and the others from the back
// (each thread's chunks follow one another, so its stream runs on into its next chunk), then, once all of h_j is
// done, its down rows the same way. So the threads end together even when one streams slower (the calling thread
// starts first; the two cores' bandwidth differs from run to run), and no thread waits but for the other parts of
// a shared selection, at its very end. Reused across calls (per calling thread) so a decode step allocates
// nothing.
class DecodePlan {
public:
    void build(std::span<const SwigluWeights> experts, const float* x, int64_t n_embd, int64_t k, const int32_t* ids) {
        m_n_embd = n_embd;
        const auto n = static_cast<size_t>(k);
        m_ex.resize(n);
        m_h_off.assign(n + 1, 0);
        m_kg.resize(n);
        m_ku.resize(n);
        m_kd.resize(n);
        m_xg.resize(n);
        m_xu.resize(n);
        m_order.resize(n);
        ascending_ids(ids, k, m_order.data());
        m_n_acts = 0;
        // At most one prepared x per activation type (7 kinds), each <= n_embd floats.
        m_act_stride = (act_row_bytes(ActType::F32, n_embd) + 63) / 64 * 64;
        m_act_buf = scratch_bytes(10, 7 * m_act_stride);
        m_n_kernels = 0;
        for (size_t j = 0; j < n; ++j) {
            m_ex[j] = &experts[static_cast<size_t>(ids[j])];
            m_kg[j] = kernel_for(m_ex[j]->gate.type);
            m_ku[j] = kernel_for(m_ex[j]->up.type);
            m_kd[j] = kernel_for(m_ex[j]->down.type);
            m_xg[j] = act_for(m_kg[j].act, x);
            m_xu[j] = act_for(m_ku[j].act, x);
            m_h_off[j + 1] = m_h_off[j] + m_ex[j]->gate.rows;
        }
        m_h = scratch_floats(11, m_h_off[n]);
        m_d = scratch_floats(9, static_cast<int64_t>(n) * n_embd);
    }

    // Cuts the selections, in the given order (a shared FFN, passed last, ends on the last thread), into nth
    // intervals of equal weight bytes: thread t's whole selections and the shared ones it takes part in.
    // pre: a selection (>= 0) already computed whole by the last thread (moe_routed_decode's shared FFN): its
    // bytes stay on the line (the last thread's interval), but no piece computes it.
    void assign(int nth, int64_t pre = -1) {
        const size_t n = m_ex.size();
        thread_local std::vector<double> at;  // [n + 1] start of selection j on the line of weight bytes
        at.assign(n + 1, 0.0);
        for (size_t j = 0; j < n; ++j) at[j + 1] = at[j] + static_cast<double>(ffn_bytes(*m_ex[j]));
        // Selection j spans the threads whose intervals hold its first and its last byte; one ending exactly on a
        // boundary is shared with the next thread too, so every pair of neighbours has a selection to balance with.
        const auto thread_at = [&](double pos) {
            return std::min(nth - 1, static_cast<int>(std::floor(pos * nth / at[n])));
        };
        m_pieces.clear();
        m_first.assign(static_cast<size_t>(nth) + 1, 0);
        for (int t = 0; t < nth; ++t) {
            // Whole selections first, the shared ones after them.
            for (const bool shared : {false, true})
                for (size_t j = 0; j < n; ++j) {
                    const int t0 = thread_at(at[j]), t1 = thread_at(at[j + 1]);
                    if (static_cast<int64_t>(j) != pre && t >= t0 && t <= t1 && (t0 != t1) == shared)
                        m_pieces.push_back({static_cast<int32_t>(j), shared, t == t0});
                }
            m_first[static_cast<size_t>(t) + 1] = m_pieces.size();
        }
        if (m_claims.size() < n) m_claims = std::vector<Claims>(n);
        for (size_t j = 0; j < n; ++j) {
            m_claims[j].gate_up.reset(0, m_ex[j]->gate.rows);
            m_claims[j].rows_done.store(0, std::memory_order_relaxed);
            m_claims[j].down.reset(0, m_n_embd);
        }
    }

    void run(int ith) const {
        const size_t p0 = m_first[static_cast<size_t>(ith)], p1 = m_first[static_cast<size_t>(ith) + 1];
        float* scratch = scratch_floats(5, std::max(m_n_embd, m_h_off.back()) + 256);
        // What this thread reads after piece p's down rows: the next piece's first gate rows.
        const auto gate_after = [&](size_t p) { return p + 1 < p1 ? first_gate_rows(m_pieces[p + 1]) : ByteSpan{}; };
        size_t p = p0;
        for (; p < p1 && !m_pieces[p].shared; ++p) {
            const auto j = static_cast<size_t>(m_pieces[p].sel);
            const int64_t rows = m_ex[j]->gate.rows;
            gate_up(j, 0, rows, scratch, row_span(m_ex[j]->down, 0, m_ex[j]->down.rows));
            down_rows(j, prepare_h(j), 0, m_n_embd, scratch, gate_after(p));
        }
        const size_t first_shared = p;
        for (; p < p1; ++p) {
            const auto j = static_cast<size_t>(m_pieces[p].sel);
            Claims& c = m_claims[j];
            take_chunks(c.gate_up, chunk_rows(m_ex[j]->gate.row_bytes), m_ex[j]->gate.rows, m_pieces[p].front,
                        [&](int64_t r0, int64_t r1, int64_t n0, int64_t n1) {
                            gate_up(j, r0, r1, scratch, row_span(m_ex[j]->gate, n0, n1));
                            c.rows_done.fetch_add(r1 - r0, std::memory_order_release);
                        });
        }
        for (p = first_shared; p < p1; ++p) {
            const auto j = static_cast<size_t>(m_pieces[p].sel);
            Claims& c = m_claims[j];
            const int64_t rows = m_ex[j]->gate.rows;
            wait_until([&] { return c.rows_done.load(std::memory_order_acquire) == rows; });
            const uint8_t* hact = prepare_h(j);
            take_chunks(c.down, chunk_rows(m_ex[j]->down.row_bytes), m_n_embd, m_pieces[p].front,
                        [&](int64_t r0, int64_t r1, int64_t n0, int64_t n1) {
                            down_rows(j, hact, r0, r1, scratch, row_span(m_ex[j]->down, n0, n1));
                        });
        }
    }

    // After run(): y += sum_j weights[j] d_j, in ascending expert id (one selection at a time over all rows, y +=
    // w d_j as fused multiply-adds: the same terms added to each row in the same order for any split).
    void combine(const float* weights, float* y, int64_t pre = -1, const float* pre_d = nullptr) const {
        for (const int64_t jo : m_order) axpy_f32(y, weights[jo], jo == pre ? pre_d : m_d + jo * m_n_embd, m_n_embd);
    }
    // The first bytes thread ith reads in run() (its first piece's gate rows), empty if none.
    ByteSpan first_span(int ith) const {
        const size_t p0 = m_first[static_cast<size_t>(ith)], p1 = m_first[static_cast<size_t>(ith) + 1];
        return p0 < p1 ? first_gate_rows(m_pieces[p0]) : ByteSpan{};
    }

private:
    // Rows per chunk of a shared selection: about kChunkBytes of each matrix (a gate/up chunk streams twice that), a
    // multiple of four rows; 128 gate/up and 256 down rows for medium's Q8_0 experts. Chunks from both ends with h_j
    // prepared once per thread, against first-come chunks of 32 / 64 rows that each prepared h_j: medium decode, 2
    // threads, high state, tokens alternating within a run, Q8_0 -74 / -76 us per token of 2.8-2.9 ms (A/A -6 / +3),
    // F16 -35 us of 4.7 ms. Chunk sizes (Q8_0, against 32 / 64 rows): 128 / 256 -31, -27, -16, -11 us; 64 / 128 -24,
    // -18; 16 / 32 +27, +22; whole selections (256 / 512) -5, +2.
    static constexpr uint64_t kChunkBytes = 69632;
    static int64_t chunk_rows(uint64_t row_bytes) {
        return std::max<int64_t>(4, static_cast<int64_t>(kChunkBytes / std::max<uint64_t>(1, row_bytes)) / 4 * 4);
    }

    struct Piece {
        int32_t sel;  // selection
        bool shared;  // cut by an interval boundary: taken in chunks with the other threads it spans
        bool front;   // (shared) this thread's interval holds its first byte: takes chunks from the front
    };
    // The gate rows a piece reads first: all of them, or (a shared selection) the chunk its thread takes first.
    ByteSpan first_gate_rows(const Piece& p) const {
        const MatrixView& g = m_ex[static_cast<size_t>(p.sel)]->gate;
        if (!p.shared) return row_span(g, 0, g.rows);
        const int64_t n = std::min(chunk_rows(g.row_bytes), g.rows);
        return p.front ? row_span(g, 0, n) : row_span(g, g.rows - n, g.rows);
    }

    struct Claims {
        RowRange gate_up;                   // gate/up rows not yet taken
        std::atomic<int64_t> rows_done{0};  // rows of h_j done
        RowRange down;                      // down rows not yet taken
    };

    // Calls fn(r0, r1, n0, n1) for each chunk [r0, r1) of `range` (rows [0, rows)) this thread takes: from the
    // front (the thread the selection starts on) or from the back (the others), so that each thread's chunks follow
    // one another and [n0, n1), the chunk it takes next unless another thread takes it first, is known while the
    // chunk runs: the stream of one chunk runs on into the next.
    template <typename Fn>
    static void take_chunks(RowRange& range, int64_t chunk, int64_t rows, bool front, const Fn& fn) {
        const auto take = [&] { return front ? range.take_front(chunk) : range.take_back(chunk); };
        for (auto [r0, r1] = take(); r0 < r1; std::tie(r0, r1) = take()) {
            if (front)
                fn(r0, r1, r1, std::min(rows, r1 + chunk));
            else
                fn(r0, r1, std::max<int64_t>(0, r0 - chunk), r0);
        }
    }

    // h_j rows [r0, r1) = silu(gate_j x) * up_j x.
    void gate_up(size_t j, int64_t r0, int64_t r1, float* scratch, ByteSpan then) const {
        const SwigluWeights& e = *m_ex[j];
        float* h = m_h + m_h_off[j] + r0;
        float* u = scratch_floats(8, r1 - r0);
        dot_rows(e.gate, m_kg[j], r0, r1, m_xg[j], h, scratch, row_span(e.up, r0, r1));
        dot_rows(e.up, m_ku[j], r0, r1, m_xu[j], u, scratch, then);
        silu_mul(h, u, r1 - r0);
    }

    // All of h_j prepared as the down kernel's activation (per thread).
    const uint8_t* prepare_h(size_t j) const {
        const int64_t rows = m_ex[j]->gate.rows;
        uint8_t* hact = scratch_bytes(12, act_row_bytes(m_kd[j].act, rows));
        prepare_act(m_kd[j].act, m_h + m_h_off[j], rows, hact);
        return hact;
    }

    // d_j rows [d0, d1) = down_j h_j, from h_j prepared by prepare_h.
    void down_rows(size_t j, const uint8_t* hact, int64_t d0, int64_t d1, float* scratch, ByteSpan then) const {
        dot_rows(m_ex[j]->down, m_kd[j], d0, d1, hact, m_d + static_cast<int64_t>(j) * m_n_embd + d0, scratch, then);
    }

    // The Native kernel of a weight type; the few types of one call are looked up once each.
    const RowKernel& kernel_for(GgmlType type) {
        for (int i = 0; i < m_n_kernels; ++i)
            if (m_kernels[i].wtype == type) return m_kernels[i];
        RowKernel& k = m_kernels[m_n_kernels < kMaxKernels ? m_n_kernels++ : kMaxKernels - 1];
        make_row_kernel(type, ActivationMode::Native, &k);  // moe_ffn has checked that every type has one
        k.wtype = type;
        return k;
    }

    const uint8_t* act_for(ActType t, const float* x) {
        for (int i = 0; i < m_n_acts; ++i)
            if (m_act_types[i] == t) return m_act_buf + i * m_act_stride;
        uint8_t* dst = m_act_buf + m_n_acts * m_act_stride;
        prepare_act(t, x, m_n_embd, dst);
        m_act_types[m_n_acts++] = t;
        return dst;
    }

    static constexpr int kMaxKernels = 8;
    RowKernel m_kernels[kMaxKernels];
    int m_n_kernels = 0;
    int64_t m_n_embd = 0;
    std::vector<const SwigluWeights*> m_ex;
    std::vector<int64_t> m_h_off;
    std::vector<int64_t> m_order;  // selections in ascending expert id: the order the down outputs are added
    std::vector<RowKernel> m_kg, m_ku, m_kd;
    std::vector<const uint8_t*> m_xg, m_xu;
    ActType m_act_types[7] = {};
    int m_n_acts = 0;
    int64_t m_act_stride = 0;
    uint8_t* m_act_buf = nullptr;
    float* m_h = nullptr;                  // [sum n_ff_j] all h_j
    float* m_d = nullptr;                  // [selection][n_embd] down outputs
    std::vector<Piece> m_pieces;           // thread t's: [m_first[t], m_first[t + 1])
    std::vector<size_t> m_first;           // [nth + 1]
    mutable std::vector<Claims> m_claims;  // [selection]
};

void moe_decode(ThreadPool& pool, std::span<const SwigluWeights> experts, const float* x, int64_t n_embd, int64_t k,
                const int32_t* ids, const float* weights, float* y) {
    thread_local DecodePlan plan_storage;
    DecodePlan& plan = plan_storage;  // a thread_local named in the lambdas would be each worker's own instance
    plan.build(experts, x, n_embd, k, ids);
    plan.assign(pool.size());
    // (Lambdas capturing one reference fit std::function's inline storage: no allocation per region.)
    pool.run([&](int ith, int) { plan.run(ith); });
    plan.combine(weights, y);
}

// y_e[i] = W x_e[i] for the cnt gathered rows of one expert matrix, on the calling thread: the packed GEMM from
// kGemmMinTokens rows on, else the dot kernels. `x` rows are taken from x + rows[i] * x_stride.
void expert_product(const MatrixView& w, const float* x, int64_t x_stride, const int64_t* rows, int64_t cnt, float* y) {
    RowKernel k;
    make_row_kernel(w.type, ActivationMode::Native, &k);
    if (use_gemm(k, cnt)) {
        float* xf = scratch_floats(6, cnt * w.cols);
        for (int64_t i = 0; i < cnt; ++i) float_act_row(k.act, x + rows[i] * x_stride, w.cols, xf + i * w.cols);
        gemm_serial(cnt, w.rows, w.cols, xf, w.cols, WeightPacker(w), y, w.rows);
        return;
    }
    GemvTask task;
    task.w = w;
    task.kernel = k;
    task.act_bytes = (act_row_bytes(k.act, w.cols) + 63) / 64 * 64;
    uint8_t* acts = scratch_bytes(10, cnt * task.act_bytes);
    for (int64_t i = 0; i < cnt; ++i) prepare_act(k.act, x + rows[i] * x_stride, w.cols, acts + i * task.act_bytes);
    task.acts = acts;
    task.y = y;
    task.y_stride = w.rows;
    gemv_rows(task, 0, w.rows, cnt);
}

// One expert over its selections `sel` (indices t * k + j): gather, gate and up, silu(g) * u, down; row i of the
// result goes to d_sel[sel[i]]. With `wide`, each product is split over that pool's threads; without, all of it
// runs on the calling thread.
void expert_ffn(const SwigluWeights& ex, const float* x, int64_t n_embd, const std::vector<int64_t>& sel, int64_t k,
                float* d_sel, ThreadPool* wide) {
    const int64_t cnt = static_cast<int64_t>(sel.size()), n_ff = ex.gate.rows;
    float* g = scratch_floats(7, cnt * n_ff);
    float* u = scratch_floats(8, cnt * n_ff);
    float* d = scratch_floats(9, cnt * n_embd);
    const auto gate = [&](int64_t i0, int64_t i1) { silu_mul(g + i0, u + i0, i1 - i0); };
    if (wide != nullptr) {
        float* xe = scratch_floats(6, cnt * n_embd);
        for (int64_t i = 0; i < cnt; ++i)
            std::copy_n(x + (sel[static_cast<size_t>(i)] / k) * n_embd, n_embd, xe + i * n_embd);
        const MatmulJob gu[2] = {{ex.gate, xe, n_embd, g, n_ff, ActivationMode::Native},
                                 {ex.up, xe, n_embd, u, n_ff, ActivationMode::Native}};
        run_batch(*wide, std::span<const MatmulJob>(gu, 2), cnt);
        if (cnt * n_ff < (1 << 13))
            gate(0, cnt * n_ff);
        else
            wide->parallel_for(cnt * n_ff, 1024, gate);
        const MatmulJob dj{ex.down, g, n_ff, d, n_embd, ActivationMode::Native};
        run_batch(*wide, std::span<const MatmulJob>(&dj, 1), cnt);
    } else {
        thread_local std::vector<int64_t> rows;  // the x row of each product's i-th input
        rows.resize(sel.size());
        for (int64_t i = 0; i < cnt; ++i) rows[static_cast<size_t>(i)] = sel[static_cast<size_t>(i)] / k;
        expert_product(ex.gate, x, n_embd, rows.data(), cnt, g);
        expert_product(ex.up, x, n_embd, rows.data(), cnt, u);
        gate(0, cnt * n_ff);
        for (int64_t i = 0; i < cnt; ++i) rows[static_cast<size_t>(i)] = i;
        expert_product(ex.down, g, n_ff, rows.data(), cnt, d);
    }
    for (int64_t i = 0; i < cnt; ++i) std::copy_n(d + i * n_embd, n_embd, d_sel + sel[static_cast<size_t>(i)] * n_embd);
}

// Several tokens: selections (t, j) grouped by expert, in token order within each expert. With enough experts to
// share out (at least two per thread), every expert is one task of a single parallel region (whole experts per
// thread, largest first, taken dynamically), so a layer costs one region instead of several per expert; with
// fewer, each expert's products are split over the threads instead. The down rows land per selection; a last
// region adds them to y per token in ascending expert id (ascending_ids), as decode does.
void moe_grouped(ThreadPool& pool, std::span<const SwigluWeights> experts, const float* x, int64_t n_tokens,
                 int64_t n_embd, int64_t k, const int32_t* ids, const float* weights, float* y) {
    thread_local std::vector<std::vector<int64_t>> by_expert_storage;
    thread_local std::vector<int64_t> order_storage;
    std::vector<std::vector<int64_t>>& by_expert = by_expert_storage;
    std::vector<int64_t>& order = order_storage;
    by_expert.resize(experts.size());
    for (auto& v : by_expert) v.clear();
    for (int64_t i = 0; i < n_tokens * k; ++i) by_expert[static_cast<size_t>(ids[i])].push_back(i);
    order.clear();
    for (size_t e = 0; e < experts.size(); ++e)
        if (!by_expert[e].empty()) order.push_back(static_cast<int64_t>(e));
    const auto cost = [&](int64_t e) {
        const auto i = static_cast<size_t>(e);
        return static_cast<int64_t>(by_expert[i].size()) * experts[i].gate.rows;
    };
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return cost(a) > cost(b); });
    float* d_sel = scratch_floats(12, n_tokens * k * n_embd);  // [n_tokens * k][n_embd]
    if (order.size() >= 2 * static_cast<size_t>(pool.size())) {
        std::atomic<size_t> next{0};
        pool.run([&](int, int) {
            for (size_t o = next.fetch_add(1); o < order.size(); o = next.fetch_add(1)) {
                const auto e = static_cast<size_t>(order[o]);
                expert_ffn(experts[e], x, n_embd, by_expert[e], k, d_sel, nullptr);
            }
        });
    } else {
        for (const int64_t e : order)
            expert_ffn(experts[static_cast<size_t>(e)], x, n_embd, by_expert[static_cast<size_t>(e)], k, d_sel, &pool);
    }
    const auto combine = [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
            float* yt = y + t * n_embd;
            thread_local std::vector<int64_t> order_j;
            order_j.resize(static_cast<size_t>(k));
            ascending_ids(ids + t * k, k, order_j.data());
            for (int64_t jj = 0; jj < k; ++jj) {
                const int64_t j = order_j[static_cast<size_t>(jj)];
                const float w = weights[t * k + j];
                const float* dj = d_sel + (t * k + j) * n_embd;
                for (int64_t c = 0; c < n_embd; ++c) yt[c] += w * dj[c];
            }
        }
    };
    if (n_tokens * k * n_embd < (1 << 14))
        combine(0, n_tokens);
    else
        pool.parallel_for(n_tokens, 1, combine);
}

}  // namespace

namespace {
// The selections' ids are experts, and each selected expert's matrices form an FFN of n_embd.
Status check_selections(std::span<const SwigluWeights> experts, const int32_t* ids, int64_t n_tokens, int64_t k,
                        int64_t n_embd) {
    thread_local std::vector<char> used;
    used.assign(experts.size(), 0);
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
    return Status();
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
    MOE_RETURN_IF_ERROR(check_selections(experts, ids, n_tokens, k, n_embd));
    if (n_tokens == 1)
        moe_decode(pool, experts, x, n_embd, k, ids, weights, y);
    else
        moe_grouped(pool, experts, x, n_tokens, n_embd, k, ids, weights, y);
    return Status();
}

namespace {
// h = silu(gate x) * up x, then d = down h, all on the calling thread; `then`: what it reads next (as dot_rows).
template <typename Then>
void ffn_whole(const SwigluWeights& e, const float* x, int64_t n_embd, float* d, const Then& then) {
    RowKernel kg, ku, kd;
    make_row_kernel(e.gate.type, ActivationMode::Native, &kg);
    make_row_kernel(e.up.type, ActivationMode::Native, &ku);
    make_row_kernel(e.down.type, ActivationMode::Native, &kd);
    const int64_t n_ff = e.gate.rows;
    const int64_t x_bytes = (act_row_bytes(kg.act, n_embd) + 63) / 64 * 64;
    uint8_t* acts = scratch_bytes(14, 2 * x_bytes + act_row_bytes(kd.act, n_ff));
    uint8_t* xg = acts;
    uint8_t* xu = acts;
    uint8_t* hact = acts + 2 * x_bytes;
    prepare_act(kg.act, x, n_embd, xg);
    if (ku.act != kg.act) {
        xu = acts + x_bytes;
        prepare_act(ku.act, x, n_embd, xu);
    }
    float* h = scratch_floats(13, 2 * n_ff + std::max(n_ff, n_embd) + 256);
    float* u = h + n_ff;
    float* scratch = u + n_ff;
    dot_rows(e.gate, kg, 0, n_ff, xg, h, scratch, row_span(e.up, 0, n_ff));
    dot_rows(e.up, ku, 0, n_ff, xu, u, scratch, row_span(e.down, 0, e.down.rows));
    silu_mul(h, u, n_ff);
    prepare_act(kd.act, h, n_ff, hact);
    dot_rows(e.down, kd, 0, n_embd, hact, d, scratch, then());
}
}  // namespace

// One region: each thread computes its rows of the router (as matmul splits them, which announce_product
// requested), then the first thread, once every row is in, routes, checks the selected experts and plans
// (DecodePlan) while the last thread computes the shared FFN, which needs no routing, whole (the ~2 us of routing
// and planning per layer are no longer a time when only one core reads memory); then the plan runs as moe_ffn's
// decode runs it, the shared FFN's bytes counted on the last thread's interval. Medium decode, 2 threads, high
// state, tokens alternating between this and the separate router / moe_ffn regions within a run (median paired
// difference, A/A -3..+2 us): Q8_0 -41 / -26 / -29 / -23 us per token of 2.8 ms, F16 -29 / -33 / -39 us of 4.7 ms.
// (The one region alone, with the other threads waiting for the plan, was -1 us.) When the shared FFN is more than
// a thread's share (many threads), it stays in the plan, taken in chunks, and the others wait for the plan.
Status moe_routed_decode(ThreadPool& pool, const MoeRoutedArgs& a) {
    const int64_t d = a.n_embd, k = a.route.k, n_routed = a.route.n_expert;
    const int64_t k_all = a.shared ? k + 1 : k;
    if (a.n_tokens != 1) return Status::error("moe_routed_decode: one token, got " + std::to_string(a.n_tokens));
    if (k <= 0 || k > n_routed || a.router.rows != n_routed ||
        static_cast<int64_t>(a.experts.size()) != n_routed + (a.shared ? 1 : 0))
        return Status::error("moe_routed: router [" + std::to_string(a.router.rows) + " x " +
                             std::to_string(a.router.cols) + "], " + std::to_string(a.experts.size()) +
                             " experts for " + std::to_string(n_routed) + " routed" + (a.shared ? " + shared" : "") +
                             ", top-" + std::to_string(k));
    if (a.ids == nullptr || a.weights == nullptr || a.y == nullptr ||
        (a.shared && (a.ids_all == nullptr || a.weights_all == nullptr)))
        return Status::error("moe_routed: null ids, weights or y");
    MOE_RETURN_IF_ERROR(check_product("moe_routed router", a.router, a.x, d, 1, a.logits, n_routed));
    const int nth = pool.size();
    const SwigluWeights& shared = a.experts.back();
    // The shared FFN goes first on the last thread when it is at most a thread's share of the weight bytes.
    const bool early = a.shared && nth >= 2 &&
                       static_cast<double>(ffn_bytes(shared)) * nth <=
                           static_cast<double>(ffn_bytes(shared)) + static_cast<double>(k * ffn_bytes(a.experts[0]));
    if (early) MOE_RETURN_IF_ERROR(check_expert(shared, n_routed, d));
    const int64_t pre = early ? k : -1;  // the shared FFN's selection index (the last)
    GemvTask router;
    router.w = a.router;
    make_row_kernel(a.router.type, ActivationMode::Float, &router.kernel);
    router.act_bytes = act_row_bytes(router.kernel.act, d);
    uint8_t* act = scratch_bytes(3, router.act_bytes);
    prepare_act(router.kernel.act, a.x, d, act);
    router.acts = act;
    router.y = a.logits;
    router.y_stride = n_routed;
    int32_t* ids = a.shared ? a.ids_all : a.ids;
    float* weights = a.shared ? a.weights_all : a.weights;
    thread_local DecodePlan plan_storage;
    DecodePlan& plan = plan_storage;          // (the calling thread's, which the workers run)
    float* shared_d = scratch_floats(13, d);  // (the calling thread's slot: the last thread's is its own)
    std::atomic<int> routed_rows{0};
    std::atomic<bool> planned{false};
    Status failed;
    pool.run([&](int ith, int) {
        thread_local std::vector<std::pair<int64_t, int64_t>> range;
        split_rows(&router, 1, ith, nth, range);
        const bool shared_here = early && ith == nth - 1;
        gemv_rows(router, range[0].first, range[0].second, 1,
                  shared_here ? row_span(shared.gate, 0, shared.gate.rows) : ByteSpan{});
        routed_rows.fetch_add(1, std::memory_order_acq_rel);
        if (ith == 0) {
            wait_until([&] { return routed_rows.load(std::memory_order_acquire) == nth; });
            route_experts_host(a.route, a.logits, a.expert_bias, 1, a.ids, a.weights);
            if (a.shared) {
                std::copy_n(a.ids, k, a.ids_all);
                std::copy_n(a.weights, k, a.weights_all);
                a.ids_all[k] = static_cast<int32_t>(n_routed);
                a.weights_all[k] = 1.0f;
            }
            failed = check_selections(a.experts, ids, 1, early ? k : k_all, d);
            if (failed.ok()) {
                plan.build(a.experts, a.x, d, k_all, ids);
                plan.assign(nth, pre);
            }
            planned.store(true, std::memory_order_release);
        } else {
            // The down rows run on into the thread's first piece when the plan is out by then.
            if (shared_here)
                ffn_whole(shared, a.x, d, shared_d, [&] {
                    return planned.load(std::memory_order_acquire) && failed.ok() ? plan.first_span(ith) : ByteSpan{};
                });
            wait_until([&] { return planned.load(std::memory_order_acquire); });
        }
        if (failed.ok()) plan.run(ith);
    });
    MOE_RETURN_IF_ERROR(failed);
    std::fill_n(a.y, d, 0.0f);
    plan.combine(weights, a.y, pre, shared_d);
    return Status();
}

}  // namespace moe::cpu
