// matmul / matmul_batch / matmul_transposed and the memory-bandwidth probe. Decode-sized products (few tokens)
// run one dot product per (row, token) on the stored weights, rows split across threads by weight bytes;
// larger batches go through the packed float GEMM (cpu_gemm.cpp).
#include "backend/cpu/cpu_matmul.h"

#include "backend/cpu/cpu_matmul_internal.h"
#include "backend/cpu/simd.h"
#include "backend/cpu/thread_pool.h"
#include "formats/quants.h"
#include "formats/quants_internal.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <tuple>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#if MOE_CPU_AVX2
#include <immintrin.h>
#endif

namespace moe::cpu {

using namespace detail;

namespace detail {

namespace {

std::string shape_of(const MatrixView& w) {
    return std::string(ggml_type_name(w.type)) + " [" + std::to_string(w.rows) + " rows x " + std::to_string(w.cols) +
           " cols]";
}

// Rows of a tile: the weight rows reused across the tokens of one tile stay in L1/L2.
constexpr int64_t kRowTile = 16;

// What check_weights asks of a ggml type id below kTypeIds, looked up once: a decode step checks ~1000 matrices
// (its products and selected experts), and finding the row kernel and block layout each time cost ~1% of it.
struct WeightTypeTraits {
    bool supported = false;  // make_row_kernel has a kernel for it
    uint32_t block_elems = 0;
    uint32_t block_bytes = 0;
};
constexpr uint32_t kTypeIds = 64;

const WeightTypeTraits* weight_type_traits(GgmlType type) {
    static const std::array<WeightTypeTraits, kTypeIds> table = [] {
        std::array<WeightTypeTraits, kTypeIds> t{};
        for (uint32_t id = 0; id < kTypeIds; ++id) {
            const auto info = ggml_type_info(id);
            RowKernel k;
            if (info && make_row_kernel(static_cast<GgmlType>(id), ActivationMode::Native, &k))
                t[id] = {true, info->block_elems, info->block_bytes};
        }
        return t;
    }();
    const auto id = static_cast<uint32_t>(type);
    return id < kTypeIds && table[id].supported ? &table[id] : nullptr;
}

// check_weights for everything else: F8_E4M3_B128 views, and the errors.
Status check_weights_slow(const char* what, const MatrixView& w) {
    RowKernel k;
    if (!make_row_kernel(w.type, ActivationMode::Native, &k))
        return Status::error(std::string(what) + ": weights of type " + ggml_type_name(w.type) +
                             " are not supported (supported: f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, q2_K, "
                             "q3_K, q4_K, q5_K, q6_K, f8_e4m3_b128)");
    if (w.data == nullptr || w.rows < 0 || w.cols <= 0)
        return Status::error(std::string(what) + ": empty or invalid weight matrix " + shape_of(w));
    if (w.type == GgmlType::F8_E4M3_B128) {
        if (w.block_scales == nullptr || w.scale_cols < (w.cols + 127) / 128 || w.scale_row0 < 0 ||
            w.row_bytes < static_cast<uint64_t>(w.cols))
            return Status::error(std::string(what) + ": " + shape_of(w) +
                                 " needs block_scales with scale_cols >= ceil(cols/128) and row_bytes >= cols");
        return Status();
    }
    const auto bytes = ggml_bytes(w.type, static_cast<uint64_t>(w.cols));
    if (!bytes)
        return Status::error(std::string(what) + ": " + shape_of(w) + ": cols is not a multiple of the " +
                             ggml_type_name(w.type) + " block size");
    if (w.row_bytes < *bytes)
        return Status::error(std::string(what) + ": " + shape_of(w) + ": row_bytes " + std::to_string(w.row_bytes) +
                             " < " + std::to_string(*bytes) + " bytes a row needs");
    return Status();
}

}  // namespace

Status check_weights(const char* what, const MatrixView& w) {
    // The common case without building a Status message: a supported type, whole blocks, rows long enough.
    if (const WeightTypeTraits* t = weight_type_traits(w.type);
        t != nullptr && w.data != nullptr && w.rows >= 0 && w.cols > 0 && w.cols <= (int64_t{1} << 40) &&
        w.cols % t->block_elems == 0 && w.row_bytes >= static_cast<uint64_t>(w.cols / t->block_elems) * t->block_bytes)
        return Status();
    return check_weights_slow(what, w);
}

Status check_product(const char* what, const MatrixView& w, const float* x, int64_t x_stride, int64_t n_tokens,
                     const float* y, int64_t y_stride) {
    if (Status s = check_weights(what, w); !s.ok()) return s;
    if (n_tokens < 0) return Status::error(std::string(what) + ": negative n_tokens " + std::to_string(n_tokens));
    if (n_tokens == 0) return Status();
    if (x == nullptr || y == nullptr) return Status::error(std::string(what) + ": null activation or output");
    if (x_stride < w.cols || y_stride < w.rows)
        return Status::error(std::string(what) + ": " + shape_of(w) + ": x_stride " + std::to_string(x_stride) +
                             " must be >= cols and y_stride " + std::to_string(y_stride) + " >= rows");
    return Status();
}

void gemv_rows(const GemvTask& task, int64_t r0, int64_t r1, int64_t n_tokens, ByteSpan then) {
    float* scratch = task.kernel.fn == nullptr ? scratch_floats(5, task.w.cols + 256) : nullptr;
    if (n_tokens == 1) {
        dot_rows(task.w, task.kernel, r0, r1, task.acts, task.y + r0, scratch, then);
        return;
    }
    for (int64_t rt = r0; rt < r1; rt += kRowTile) {
        const int64_t re = std::min(r1, rt + kRowTile);
        for (int64_t t = 0; t < n_tokens; ++t) {
            const uint8_t* act = task.acts + t * task.act_bytes;
            float* y = task.y + t * task.y_stride;
            dot_rows(task.w, task.kernel, rt, re, act, y + rt, scratch);
        }
    }
}

namespace {
// Row ranges by arbitrary per-row costs (rows[i] rows of cost row_cost[i] each), same contract as split_rows.
void split_costs(const int64_t* rows, const int64_t* row_cost, size_t n, int ith, int nth,
                 std::vector<std::pair<int64_t, int64_t>>& out) {
    out.resize(n);
    int64_t total = 0;
    for (size_t i = 0; i < n; ++i) total += rows[i] * std::max<int64_t>(1, row_cost[i]);
    const int64_t lo = total * ith / nth, hi = total * (ith + 1) / nth;
    int64_t start = 0;
    for (size_t i = 0; i < n; ++i) {
        const int64_t rc = std::max<int64_t>(1, row_cost[i]);
        // Row r belongs to the thread whose cost range holds start + r * rc: a partition of the rows.
        const auto first_row = [&](int64_t c) { return std::clamp<int64_t>((c - start + rc - 1) / rc, 0, rows[i]); };
        out[i] = {first_row(lo), first_row(hi)};
        start += rows[i] * rc;
    }
}

// split_rows over n matrices given by matrix(i) (a GemvTask's or an announced product's).
template <class MatrixOf>
void split_matrix_rows(size_t n, const MatrixOf& matrix, int ith, int nth,
                       std::vector<std::pair<int64_t, int64_t>>& out) {
    thread_local std::vector<int64_t> rows, costs;
    rows.resize(n);
    costs.resize(n);
    for (size_t i = 0; i < n; ++i) {
        rows[i] = matrix(i).rows;
        costs[i] = static_cast<int64_t>(matrix(i).row_bytes);
    }
    split_costs(rows.data(), costs.data(), n, ith, nth, out);
}
}  // namespace

void split_rows(const GemvTask* tasks, size_t n_tasks, int ith, int nth,
                std::vector<std::pair<int64_t, int64_t>>& out) {
    split_matrix_rows(
        n_tasks, [&](size_t i) -> const MatrixView& { return tasks[i].w; }, ith, nth, out);
}

void prepare_acts(ThreadPool& pool, ActType t, const float* x, int64_t x_stride, int64_t n_tokens, int64_t cols,
                  uint8_t* dst, int64_t bytes) {
    const auto body = [&](int64_t t0, int64_t t1) {
        for (int64_t i = t0; i < t1; ++i) prepare_act(t, x + i * x_stride, cols, dst + i * bytes);
    };
    if (n_tokens * cols < (1 << 16))
        body(0, n_tokens);
    else
        pool.parallel_for(n_tokens, 1, body);
}

void float_act_row(ActType act, const float* x, int64_t cols, float* dst) {
    if (act_is_float(act)) {
        prepare_act(act, x, cols, dst);
        return;
    }
    uint8_t* tmp = scratch_bytes(3, act_row_bytes(act, cols));
    prepare_act(act, x, cols, tmp);
    act_to_float(act, tmp, cols, dst);
}

void matmul_gemm(ThreadPool& pool, const MatrixView& w, ActType act, const float* x, int64_t x_stride, int64_t n_tokens,
                 float* y, int64_t y_stride) {
    const float* xr = x;
    int64_t ldx = x_stride;
    if (act != ActType::F32) {
        // dequant(quantize(x)) (or the fp16/bf16-rounded x) as float32 rows.
        float* buf = scratch_floats(4, n_tokens * w.cols);
        pool.parallel_for(n_tokens, 1, [&](int64_t t0, int64_t t1) {
            for (int64_t t = t0; t < t1; ++t) float_act_row(act, x + t * x_stride, w.cols, buf + t * w.cols);
        });
        xr = buf;
        ldx = w.cols;
    }
    gemm(pool, n_tokens, w.rows, w.cols, xr, ldx, WeightPacker(w), y, y_stride, 1.0f, 0.0f);
}

}  // namespace detail

bool matmul_supports(GgmlType type) {
    RowKernel k;
    return make_row_kernel(type, ActivationMode::Native, &k);
}

Status matmul(ThreadPool& pool, const MatrixView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
              int64_t y_stride, ActivationMode mode) {
    MatmulJob job;
    job.w = w;
    job.x = x;
    job.x_stride = x_stride;
    job.y = y;
    job.y_stride = y_stride;
    job.mode = mode;
    return matmul_batch(pool, std::span<const MatmulJob>(&job, 1), n_tokens);
}

Status matmul_batch(ThreadPool& pool, std::span<const MatmulJob> jobs, int64_t n_tokens) {
    const char* what = jobs.size() == 1 ? "matmul" : "matmul_batch";
    for (size_t i = 0; i < jobs.size(); ++i) {
        const MatmulJob& j = jobs[i];
        // (The job index is only formatted on failure: decode calls this thousands of times per token.)
        if (Status s = check_product(what, j.w, j.x, j.x_stride, n_tokens, j.y, j.y_stride); !s.ok())
            return jobs.size() == 1 ? s : s.with_context("job " + std::to_string(i));
    }
    run_batch(pool, jobs, n_tokens);
    return Status();
}

void announce_product(ThreadPool& pool, std::span<const MatrixView> product) {
    thread_local std::vector<std::pair<int64_t, int64_t>> ranges;
    const auto matrix = [&](size_t i) -> const MatrixView& { return product[i]; };
    for (int ith = 0; ith < pool.size(); ++ith) {
        split_matrix_rows(product.size(), matrix, ith, pool.size(), ranges);
        for (size_t i = 0; i < product.size(); ++i) {
            const ByteSpan s = row_span(product[i], ranges[i].first, ranges[i].second);
            pool.add_lookahead(ith, s.begin, s.end);
        }
    }
}

namespace detail {

namespace {
// One-token products of at least this many weight bytes (an output head) are balanced between the threads.
constexpr uint64_t kStealMinBytes = uint64_t(4) << 20;

// A large one-token product: each thread streams its share of the rows (split_rows) in chunks of 512 rows, then
// takes 64-row chunks from the end of the share with the most rows left, so that the threads end together when
// one core streams slower than the other (the two halves of medium's Q8_0 output head, 55.7 MB, took 587 / 636 us
// and 1008 / 1448 us in two runs). Each row is computed as in the static split (same bits). Medium Q8_0, 2
// threads, 6 env-switched interleaved pairs in the high-bandwidth state: 332.3 -> 345.3 tok/s (5 of 6 faster); the
// whole tree against the one before (with the one-region MoE plan), 5 rounds: the same within the machine's noise.
void gemv_balanced(ThreadPool& pool, const GemvTask& task) {
    thread_local std::vector<RowRange> ranges_storage;
    std::vector<RowRange>& ranges = ranges_storage;
    const auto nth = static_cast<size_t>(pool.size());
    if (ranges.size() < nth) ranges = std::vector<RowRange>(nth);
    thread_local std::vector<std::pair<int64_t, int64_t>> split;
    for (size_t t = 0; t < nth; ++t) {
        split_rows(&task, 1, static_cast<int>(t), static_cast<int>(nth), split);
        ranges[t].reset(split[0].first, split[0].second);
    }
    constexpr int64_t kOwnChunk = 512, kStealChunk = 64;
    pool.run([&](int ith, int) {
        RowRange& own = ranges[static_cast<size_t>(ith)];
        // (The stream runs on into the rows after the chunk: the next one unless taken from the back meanwhile.)
        for (auto [r0, r1] = own.take_front(kOwnChunk); r0 < r1; std::tie(r0, r1) = own.take_front(kOwnChunk))
            gemv_rows(task, r0, r1, 1, row_span(task.w, r1, std::min(task.w.rows, r1 + kOwnChunk)));
        for (;;) {
            size_t victim = nth;
            int64_t most = 0;
            for (size_t t = 0; t < nth; ++t)
                if (const int64_t n = ranges[t].left(); n > most) {
                    most = n;
                    victim = t;
                }
            if (victim == nth) return;
            const auto [r0, r1] = ranges[victim].take_back(kStealChunk);
            if (r0 < r1) gemv_rows(task, r0, r1, 1);
        }
    });
}
}  // namespace

// What a thread's last one-token range requests of the thread's lookahead as it ends (the longest prefetch lead).
constexpr uint64_t kClaimBytes = 16384;

void run_batch(ThreadPool& pool, std::span<const MatmulJob> jobs, int64_t n_tokens) {
    if (n_tokens == 0 || jobs.empty()) return;
    // Reused per calling thread (no allocation per decode product); the region's lambda sees the caller's
    // vectors through these references, not the workers' own thread_local instances.
    thread_local std::vector<GemvTask> tasks_storage;
    thread_local std::vector<const MatmulJob*> task_jobs_storage;
    std::vector<GemvTask>& tasks = tasks_storage;
    std::vector<const MatmulJob*>& task_jobs = task_jobs_storage;
    tasks.clear();
    task_jobs.clear();
    for (const MatmulJob& j : jobs) {
        RowKernel k;
        make_row_kernel(j.w.type, j.mode, &k);
        if (use_gemm(k, n_tokens)) {
            matmul_gemm(pool, j.w, k.act, j.x, j.x_stride, n_tokens, j.y, j.y_stride);
            continue;
        }
        GemvTask t;
        t.w = j.w;
        t.kernel = k;
        t.act_bytes = (act_row_bytes(k.act, j.w.cols) + 63) / 64 * 64;
        t.y = j.y;
        t.y_stride = j.y_stride;
        tasks.push_back(t);
        task_jobs.push_back(&j);
    }
    if (tasks.empty()) return;
    int64_t act_total = 0;
    for (const GemvTask& t : tasks) act_total += t.act_bytes * n_tokens;
    uint8_t* acts = scratch_bytes(3, act_total);
    // Activations are prepared once per distinct (x, stride, width, activation type): q and kv_a share theirs.
    for (size_t i = 0; i < tasks.size(); ++i) {
        const MatmulJob& j = *task_jobs[i];
        for (size_t p = 0; p < i && tasks[i].acts == nullptr; ++p) {
            const MatmulJob& q = *task_jobs[p];
            if (q.x == j.x && q.x_stride == j.x_stride && q.w.cols == j.w.cols &&
                tasks[p].kernel.act == tasks[i].kernel.act)
                tasks[i].acts = tasks[p].acts;
        }
        if (tasks[i].acts != nullptr) continue;
        prepare_acts(pool, tasks[i].kernel.act, j.x, j.x_stride, n_tokens, j.w.cols, acts, tasks[i].act_bytes);
        tasks[i].acts = acts;
        acts += tasks[i].act_bytes * n_tokens;
    }
    if (n_tokens == 1 && tasks.size() == 1 && pool.size() > 1 && tasks[0].w.rows < (int64_t(1) << 31) &&
        static_cast<uint64_t>(tasks[0].w.rows) * tasks[0].w.row_bytes >= kStealMinBytes) {
        gemv_balanced(pool, tasks[0]);
        return;
    }
    pool.run([&](int ith, int nth) {
        thread_local std::vector<std::pair<int64_t, int64_t>> ranges;
        split_rows(tasks.data(), tasks.size(), ith, nth, ranges);
        for (size_t i = 0; i < tasks.size(); ++i) {
            if (ranges[i].first >= ranges[i].second) continue;
            ByteSpan then;  // this thread's rows of the next product, or after the last what follows the region
            for (size_t in = i + 1; in < tasks.size() && then.begin == then.end; ++in)
                then = row_span(tasks[in].w, ranges[in].first, ranges[in].second);
            if (then.begin == then.end && n_tokens == 1) std::tie(then.begin, then.end) = claim_lookahead(kClaimBytes);
            gemv_rows(tasks[i], ranges[i].first, ranges[i].second, n_tokens, then);
        }
    });
}

}  // namespace detail

namespace {

// Column unit of the transposed product: whole blocks, at least 64 columns.
int64_t transposed_unit(const MatrixView& w) {
    const auto info = ggml_type_info(static_cast<uint32_t>(w.type));
    const int64_t block = w.type == GgmlType::F8_E4M3_B128 ? 128 : (!info ? 1 : info->block_elems);
    return std::max<int64_t>(block, 64);
}

#if MOE_CPU_AVX2
// Float-like and Q8_0 weights, 64 columns at a time held in eight registers while all rows stream past: the same
// fma(x[t][r], W[r][c], y) sequence per column as the generic loop below (identical results), without the
// per-row dequantize call and the y round trips through memory.
template <GgmlType kType>
void transposed_tile64(const MatrixView& w, const float* x, float* y, int64_t c) {
    __m256 acc[8];
    for (auto& a : acc) a = _mm256_setzero_ps();
    for (int64_t r = 0; r < w.rows; ++r) {
        const __m256 a = _mm256_set1_ps(x[r]);
        const uint8_t* row = w.data + static_cast<uint64_t>(r) * w.row_bytes;
        if constexpr (kType == GgmlType::Q8_0) {
            // d * q exactly as dequantize_row computes it (c is a multiple of 32: two whole blocks, each scale
            // converted once per row).
            const uint8_t* blk = row + (c / 32) * 34;
            for (int half = 0; half < 2; ++half, blk += 34) {
                const __m256 d = _mm256_set1_ps(quants_detail::load_fp16(blk));
                for (int k = 0; k < 4; ++k)
                    acc[4 * half + k] = _mm256_fmadd_ps(a, q8_0_to_float8(d, blk + 2 + 8 * k), acc[4 * half + k]);
            }
            continue;
        }
        for (int k = 0; k < 8; ++k) {
            __m256 wv;
            if constexpr (kType == GgmlType::F32) {
                wv = _mm256_loadu_ps(reinterpret_cast<const float*>(row) + c + 8 * k);
            } else {
                const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * (c + 8 * k)));
                wv = kType == GgmlType::F16 ? _mm256_cvtph_ps(h)
                                            : _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
            }
            acc[k] = _mm256_fmadd_ps(a, wv, acc[k]);
        }
    }
    for (int k = 0; k < 8; ++k) _mm256_storeu_ps(y + c + 8 * k, acc[k]);
}

MOE_AVX512_BEGIN
// transposed_tile64 with 16 columns per register (the same per-column sequence: same bits).
template <GgmlType kType>
MOE_AVX512_TARGET void transposed_tile64_avx512(const MatrixView& w, const float* x, float* y, int64_t c) {
    __m512 acc[4];
    for (auto& a : acc) a = _mm512_setzero_ps();
    for (int64_t r = 0; r < w.rows; ++r) {
        const __m512 a = _mm512_set1_ps(x[r]);
        const uint8_t* row = w.data + static_cast<uint64_t>(r) * w.row_bytes;
        if constexpr (kType == GgmlType::Q8_0) {
            const uint8_t* blk = row + (c / 32) * 34;
            for (int half = 0; half < 2; ++half, blk += 34) {
                const __m512 d = _mm512_set1_ps(quants_detail::load_fp16(blk));
                for (int k = 0; k < 2; ++k) {
                    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2 + 16 * k));
                    const __m512 wv = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)));
                    acc[2 * half + k] = _mm512_fmadd_ps(a, wv, acc[2 * half + k]);
                }
            }
            continue;
        }
        for (int k = 0; k < 4; ++k) {
            __m512 wv;
            if constexpr (kType == GgmlType::F32) {
                wv = _mm512_loadu_ps(reinterpret_cast<const float*>(row) + c + 16 * k);
            } else {
                const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * (c + 16 * k)));
                wv = kType == GgmlType::F16 ? _mm512_cvtph_ps(h)
                                            : _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
            }
            acc[k] = _mm512_fmadd_ps(a, wv, acc[k]);
        }
    }
    for (int k = 0; k < 4; ++k) _mm512_storeu_ps(y + c + 16 * k, acc[k]);
}
MOE_AVX512_END

// Columns [c0, c1) through transposed_tile64 where the type allows; returns the first column not done.
int64_t transposed_columns_fast(const MatrixView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                                int64_t y_stride, int64_t c0, int64_t c1) {
    if (!use_simd()) return c0;
    const bool wide = use_avx512();
    const auto pick = [&]<GgmlType kType>() {
        return wide ? transposed_tile64_avx512<kType> : transposed_tile64<kType>;
    };
    const auto tile = w.type == GgmlType::F16    ? pick.template operator()<GgmlType::F16>()
                      : w.type == GgmlType::BF16 ? pick.template operator()<GgmlType::BF16>()
                      : w.type == GgmlType::F32  ? pick.template operator()<GgmlType::F32>()
                      : w.type == GgmlType::Q8_0 ? pick.template operator()<GgmlType::Q8_0>()
                                                 : nullptr;
    if (tile == nullptr || (w.type == GgmlType::Q8_0 && c0 % 32 != 0)) return c0;
    int64_t c = c0;
    for (; c + 64 <= c1; c += 64)
        for (int64_t t = 0; t < n_tokens; ++t) tile(w, x + t * x_stride, y + t * y_stride, c);
    return c;
}
#endif

}  // namespace

namespace detail {

void transposed_columns(const MatrixView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                        int64_t y_stride, int64_t c0, int64_t c1) {
#if MOE_CPU_AVX2
    c0 = transposed_columns_fast(w, x, x_stride, n_tokens, y, y_stride, c0, c1);
#endif
    const int64_t nc = c1 - c0;
    if (nc <= 0) return;
    const bool simd = use_simd();
    float* seg = scratch_floats(5, nc);
    for (int64_t t = 0; t < n_tokens; ++t) std::fill(y + t * y_stride + c0, y + t * y_stride + c1, 0.0f);
    for (int64_t r = 0; r < w.rows; ++r) {
        dequant_row_segment(w, r, c0, nc, seg);
        for (int64_t t = 0; t < n_tokens; ++t) {
            const float a = x[t * x_stride + r];
            float* yt = y + t * y_stride + c0;
            int64_t c = 0;
#if MOE_CPU_AVX2
            if (simd) {
                const __m256 av = _mm256_set1_ps(a);
                for (; c + 8 <= nc; c += 8)
                    _mm256_storeu_ps(yt + c, _mm256_fmadd_ps(av, _mm256_loadu_ps(seg + c), _mm256_loadu_ps(yt + c)));
            }
#endif
            (void)simd;
            for (; c < nc; ++c) yt[c] = std::fma(a, seg[c], yt[c]);
        }
    }
}

}  // namespace detail

Status matmul_transposed(ThreadPool& pool, const MatrixView& w, const float* x, int64_t x_stride, int64_t n_tokens,
                         float* y, int64_t y_stride) {
    if (Status s = check_weights("matmul_transposed", w); !s.ok()) return s;
    if (n_tokens < 0) return Status::error("matmul_transposed: negative n_tokens");
    if (n_tokens == 0 || w.rows == 0) {
        for (int64_t t = 0; t < n_tokens; ++t) std::fill(y + t * y_stride, y + t * y_stride + w.cols, 0.0f);
        return Status();
    }
    if (x == nullptr || y == nullptr || x_stride < w.rows || y_stride < w.cols)
        return Status::error("matmul_transposed: " + std::string(ggml_type_name(w.type)) + " [" +
                             std::to_string(w.rows) + " x " + std::to_string(w.cols) +
                             "]: needs x_stride >= rows, y_stride >= cols and non-null x, y");
    if (n_tokens >= kGemmMinTokens) {
        gemm(pool, n_tokens, w.cols, w.rows, x, x_stride, WeightPackerT(w), y, y_stride, 1.0f, 0.0f);
        return Status();
    }
    // Few tokens: threads own column ranges (whole blocks); each streams all rows once, y += x[t][r] * W[r].
    const int64_t unit = transposed_unit(w);
    pool.parallel_for((w.cols + unit - 1) / unit, 1, [&](int64_t u0, int64_t u1) {
        transposed_columns(w, x, x_stride, n_tokens, y, y_stride, u0 * unit, std::min(w.cols, u1 * unit));
    });
    return Status();
}

Status matmul_transposed_batch(ThreadPool& pool, std::span<const MatmulJob> jobs, int64_t n_tokens) {
    if (n_tokens >= kGemmMinTokens || jobs.size() < 2) {
        for (const MatmulJob& j : jobs)
            if (Status s = matmul_transposed(pool, j.w, j.x, j.x_stride, n_tokens, j.y, j.y_stride); !s.ok()) return s;
        return Status();
    }
    for (const MatmulJob& j : jobs) {
        if (Status s = check_weights("matmul_transposed_batch", j.w); !s.ok()) return s;
        if (j.x == nullptr || j.y == nullptr || j.x_stride < j.w.rows || j.y_stride < j.w.cols)
            return Status::error(
                "matmul_transposed_batch: a job needs x_stride >= rows, y_stride >= cols and non-null x, y");
    }
    // Decode: the products are small (one MLA head each); one parallel region, whole products per thread.
    // Each product reads its whole (small) matrix row after row from its start: the next one's bytes are requested
    // while the current one runs, the first one's before it.
    pool.parallel_for(static_cast<int64_t>(jobs.size()), 1, [&](int64_t j0, int64_t j1) {
        const auto whole = [&](int64_t i) {
            const MatrixView& w = jobs[static_cast<size_t>(i)].w;
            return row_span(w, 0, w.rows);
        };
        request_lines(whole(j0));
        for (int64_t i = j0; i < j1; ++i) {
            const MatmulJob& j = jobs[static_cast<size_t>(i)];
            if (i + 1 < j1) request_lines(whole(i + 1));
            transposed_columns(j.w, j.x, j.x_stride, n_tokens, j.y, j.y_stride, 0, j.w.cols);
        }
    });
    return Status();
}

BandwidthProbe::BandwidthProbe(ThreadPool& pool, uint64_t buffer_bytes)
    : m_pool(pool), m_lines(std::max<uint64_t>(buffer_bytes / 256, 1)) {
    // In 2 MiB pages where the kernel gives them (the weights' map has them too: TLB misses would understate the
    // bandwidth by ~15%).
    constexpr uint64_t kHuge = 2ull << 20;
    const uint64_t alloc = (m_lines * 256 + kHuge - 1) / kHuge * kHuge;
    m_buf = static_cast<uint8_t*>(std::aligned_alloc(kHuge, alloc));
    if (m_buf == nullptr) return;
#if defined(__linux__)
    (void)madvise(m_buf, alloc, MADV_HUGEPAGE);
#endif
    // Touch every page from the thread that will read it (first-touch placement, no page faults while timing).
    uint8_t* base = m_buf;
    pool.parallel_for(static_cast<int64_t>(m_lines), 1, [&](int64_t l0, int64_t l1) {
        std::memset(base + l0 * 256, 1, static_cast<size_t>(l1 - l0) * 256);
    });
}

BandwidthProbe::~BandwidthProbe() { std::free(m_buf); }

namespace {
// XOR of the units [l0, l1) of 256 bytes, each line requested into L2 1 KiB ahead when `request`, 128 bytes (two
// lines, two requests) per iteration: four requests in a row hold the stream back (KVM Xeon, 2 threads, 512-bit
// loads: 35 against 40.5 GB/s).
#if MOE_CPU_AVX2
MOE_AVX512_TARGET uint64_t read_lines_avx512(const uint8_t* base, int64_t l0, int64_t l1, bool request) {
    __m512i a0 = _mm512_setzero_si512(), a1 = a0;
    for (const uint8_t *p = base + l0 * 256, *e = base + l1 * 256; p < e; p += 128) {
        if (request) {
            _mm_prefetch(reinterpret_cast<const char*>(p) + 1024, _MM_HINT_T1);
            _mm_prefetch(reinterpret_cast<const char*>(p) + 1088, _MM_HINT_T1);
        }
        a0 = _mm512_xor_si512(a0, _mm512_loadu_si512(p));
        a1 = _mm512_xor_si512(a1, _mm512_loadu_si512(p + 64));
    }
    alignas(64) uint64_t lanes[8];
    _mm512_store_si512(lanes, _mm512_xor_si512(a0, a1));
    return lanes[0] ^ lanes[7];
}

uint64_t read_lines_avx2(const uint8_t* base, int64_t l0, int64_t l1, bool request) {
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (const uint8_t *b = base + l0 * 256, *e = base + l1 * 256; b < e; b += 128) {
        if (request) {
            _mm_prefetch(reinterpret_cast<const char*>(b) + 1024, _MM_HINT_T1);
            _mm_prefetch(reinterpret_cast<const char*>(b) + 1088, _MM_HINT_T1);
        }
        const __m256i* p = reinterpret_cast<const __m256i*>(b);
        a0 = _mm256_xor_si256(a0, _mm256_loadu_si256(p));
        a1 = _mm256_xor_si256(a1, _mm256_loadu_si256(p + 1));
        a2 = _mm256_xor_si256(a2, _mm256_loadu_si256(p + 2));
        a3 = _mm256_xor_si256(a3, _mm256_loadu_si256(p + 3));
    }
    const __m256i a = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
    return static_cast<uint64_t>(_mm256_extract_epi64(a, 0) ^ _mm256_extract_epi64(a, 3));
}
#endif

uint64_t read_lines(const uint8_t* base, int64_t l0, int64_t l1, bool request) {
#if MOE_CPU_AVX2
    if (use_avx512()) return read_lines_avx512(base, l0, l1, request);
    if (use_simd()) return read_lines_avx2(base, l0, l1, request);
#endif
    uint64_t acc = 0;
    const uint64_t* p = reinterpret_cast<const uint64_t*>(base + l0 * 256);
    for (int64_t i = 0; i < (l1 - l0) * 32; ++i) {
        if (request && i % 8 == 0) __builtin_prefetch(p + i + 128, 0, 2);
        acc ^= p[i];
    }
    return acc;
}
}  // namespace

// Each repetition reads the ranges twice: as a plain stream (the hardware prefetchers alone) and with each line
// requested into L2 1 KiB ahead, which is faster where a core's own prefetchers keep too few lines in flight for the
// memory latency (a KVM Xeon at 170 ns, 2 threads, 512-bit loads: 33 -> 40.5 GB/s; the weight streams are requested
// the same way there), with the widest loads the CPU has (256-bit loads: 28 / 34 GB/s there). The best of all.
double measure_read_gbs(ThreadPool& pool, std::span<const ReadRange> ranges, int repetitions) {
    uint64_t bytes = 0;
    for (const ReadRange& r : ranges) bytes += r.bytes / 256 * 256;
    if (bytes == 0) return 0.0;
    std::atomic<uint64_t> sink{0};
    double best = 0.0;
    for (int rep = 0; rep < 2 * std::max(1, repetitions); ++rep) {
        const bool request = rep % 2 == 1;
        const auto t0 = std::chrono::steady_clock::now();
        for (const ReadRange& r : ranges)
            pool.parallel_for(static_cast<int64_t>(r.bytes / 256), 1, [&](int64_t l0, int64_t l1) {
                sink.fetch_xor(read_lines(r.data, l0, l1, request), std::memory_order_relaxed);
            });
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (s > 0.0) best = std::max(best, static_cast<double>(bytes) / s / 1e9);
    }
    return sink.load() == 0x5a5a5a5a5a5a5a5aull ? best + 0.0 : best;
}

double BandwidthProbe::measure(int repetitions) {
    if (m_buf == nullptr) return 0.0;
    const ReadRange whole{m_buf, m_lines * 256};
    return measure_read_gbs(m_pool, {&whole, 1}, repetitions);
}

double measure_memory_bandwidth_gbs(ThreadPool& pool, uint64_t buffer_bytes, int repetitions) {
    BandwidthProbe probe(pool, buffer_bytes);
    return probe.measure(repetitions);
}

}  // namespace moe::cpu
