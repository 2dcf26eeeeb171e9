// Causal attention over the KV cache on the CPU. Key s is visible to query t when s <= pos[t]. Work is split
// over tokens (prompt) or over heads (decode, one token). For each token the loop runs over cache rows outermost
// and heads innermost, so a cache row is read from memory once per token for all heads; a decode step over more
// than kAttendChunk keys goes chunk by chunk (attend_token).
#include "backend/cpu/cpu_ops.h"

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/cpu_matmul.h"
#include "backend/cpu/cpu_matmul_internal.h"
#include "backend/cpu/simd.h"
#include "backend/cpu/thread_pool.h"
#include "core/half.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

namespace moe::cpu {

namespace {

// From this many query tokens on, attention runs as matrix products (attention_gemm).
constexpr int64_t kGemmAttentionMinTokens = 16;

// scores[0..n) = exp(scores - max) in place (n >= 1), with SIMD by exp8 (map8: no result depends on n or the
// index); returns the max (NaN scores are passed over), and their sum (in double) in *sum. With SIMD the max is
// taken eight lanes at a time (the same value) and the sum in eight double lanes, added pairwise at the end (one
// dependent add per eight scores instead of one per score). Medium decode, 2 threads, 256 tokens (4 heads x ~128
// keys per thread and layer), tokens alternating within a run: Q8_0 -11 / -10 / -10 / -12 us per token, F16 -10.
float exp_shifted(float* scores, int64_t n, double* sum) {
    float max_s = -std::numeric_limits<float>::infinity();
#if MOE_CPU_AVX2
    if (detail::use_simd()) {
        __m256 mv = _mm256_set1_ps(max_s);
        int64_t s = 0;
        // (max_ps returns its second operand when either is NaN: a NaN score leaves the lane as it was.)
        for (; s + 8 <= n; s += 8) mv = _mm256_max_ps(_mm256_loadu_ps(scores + s), mv);
        alignas(32) float lanes[8];
        _mm256_store_ps(lanes, mv);
        for (const float l : lanes) max_s = std::max(max_s, l);
        for (; s < n; ++s) max_s = std::max(max_s, scores[s]);
        const __m256 m = _mm256_set1_ps(max_s);
        map8(scores, scores, n, [m](__m256 v, __m256) { return exp8(_mm256_sub_ps(v, m)); });
        __m256d lo = _mm256_setzero_pd(), hi = lo;
        int64_t i = 0;
        for (; i + 8 <= n; i += 8) {
            const __m256 v = _mm256_loadu_ps(scores + i);
            lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
            hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
        }
        alignas(32) double d[4];
        _mm256_store_pd(d, _mm256_add_pd(lo, hi));
        double total = (d[0] + d[1]) + (d[2] + d[3]);
        for (; i < n; ++i) total += scores[i];
        *sum = total;
        return max_s;
    }
#endif
    for (int64_t s = 0; s < n; ++s) max_s = std::max(max_s, scores[s]);
    for (int64_t s = 0; s < n; ++s) scores[s] = std::exp(scores[s] - max_s);
    double total = 0.0;
    for (int64_t i = 0; i < n; ++i) total += scores[i];
    *sum = total;
    return max_s;
}

// The softmax of scores[0..n) in place (n >= 1) or, with a Partial, the shifted exponentials left unnormalised
// and their max and sum stored for head h (a chunk of a long context, merged by ChunkPartials::merge).
struct Partial {
    float* max = nullptr;   // [head]
    double* sum = nullptr;  // [head]
};
void softmax_or_partial(float* scores, int64_t n, const Partial* part, int64_t h) {
    double sum = 0.0;
    const float max_s = exp_shifted(scores, n, &sum);
    if (part != nullptr) {
        part->max[h] = max_s;
        part->sum[h] = sum;
        return;
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t s = 0; s < n; ++s) scores[s] *= inv;
}

// Key/value rows of one cache kind: F32 or F16 storage behind one interface.
struct CacheRows {
    const float* f32 = nullptr;
    const uint16_t* f16 = nullptr;
    int64_t stride = 0;  // elements between positions

    float dot(const float* q, int64_t s, int64_t offset, int64_t n) const {
        return f32 ? dot_f32(q, f32 + s * stride + offset, n) : dot_f32_f16(q, f16 + s * stride + offset, n);
    }
    // The bytes of positions [s0, s1).
    detail::ByteSpan span(int64_t s0, int64_t s1) const {
        const auto* p = f32 ? reinterpret_cast<const uint8_t*>(f32) : reinterpret_cast<const uint8_t*>(f16);
        const int64_t size = f32 ? 4 : 2;
        return {p + s0 * stride * size, p + s1 * stride * size};
    }
    // The rows from position s0 on.
    CacheRows from(int64_t s0) const {
        return {f32 ? f32 + s0 * stride : nullptr, f16 ? f16 + s0 * stride : nullptr, stride};
    }
    void axpy(float* y, float a, int64_t s, int64_t offset, int64_t n) const {
        if (f32) {
            axpy_f32(y, a, f32 + s * stride + offset, n);
        } else {
            axpy_f16(y, a, f16 + s * stride + offset, n);
        }
    }
};

// Generic causal attention for token t, heads [h0, h1).
//   q_h = q + h * q_head_stride (width dk); key of head h at position s: keys row s, offset kv_head(h) * k_head_stride;
//   value: values row s, offset kv_head(h) * v_head_stride (width dv); out_h = out + h * dv.
struct AttentionShape {
    int64_t n_head = 0;
    int64_t group = 1;  // query heads per kv head
    int64_t dk = 0;
    int64_t dv = 0;
    int64_t q_head_stride = 0;
    int64_t k_head_stride = 0;
    int64_t v_head_stride = 0;
};

// The scores loops request the key row kKeyPrefetchBytes ahead of the one they score (at least one row): the rows of a
// layer's cache come from memory at every token (the token's weight stream evicts them), and without the requests
// each row's lines arrived as the loop reached them. Medium Q8_0 decode (F32 cache, 640-byte rows), 2 threads, 256
// tokens, high state, tokens alternating within a run, rows ahead: 4 -10; 12 -19 / -29 / -31 / -28; 24 (15 KiB) -29 /
// -39 / -43 / -32 / -30 / -32; 48 -21 / -32 / -21; 96 -22 / -3 / -21 us per token of 2.6-2.7 ms (A/A +3..+7).
constexpr int64_t kKeyPrefetchBytes = 15360;

// Requests the lines of [p, p + bytes) into L1.
inline void request_row(const void* p, int64_t bytes) {
    const auto* b = reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(p) & ~uintptr_t{63});
    const auto* e = static_cast<const char*>(p) + bytes;
    for (; b < e; b += 64) __builtin_prefetch(b, 0, 3);
}

// Rows ahead for key rows `stride` elements of `elem` bytes apart.
inline int64_t key_rows_ahead(int64_t stride, int64_t elem) {
    return std::max<int64_t>(1, kKeyPrefetchBytes / std::max<int64_t>(1, stride * elem));
}

#if MOE_CPU_AVX2
// Eight cache values as float32 (F32 or F16 storage).
inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 load8(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }

// scores[j * n_kv + s] = kq_scale * (q_j . key row s) for four heads j sharing their key rows (MLA's single
// latent head, a GQA group): each key chunk is loaded once for the four. Per head the exact sequence of dot_f32
// (F32: two accumulators, 16 a step) or dot_f32_f16 (F16: one accumulator), so the scores keep their bits.
template <class T>
void scores4(const float* const q[4], const T* keys, int64_t stride, int64_t n_kv, int64_t n, float kq_scale,
             float* scores) {
    constexpr bool kF32 = std::is_same_v<T, float>;
    const int64_t ahead = key_rows_ahead(stride, sizeof(T));
    for (int64_t s = 0; s < n_kv; ++s) {
        const T* k = keys + s * stride;
        if (s + ahead < n_kv) request_row(k + ahead * stride, n * static_cast<int64_t>(sizeof(T)));
        __m256 a0[4], a1[4];
        for (int j = 0; j < 4; ++j) a0[j] = a1[j] = _mm256_setzero_ps();
        int64_t i = 0;
        if constexpr (kF32) {
            for (; i + 16 <= n; i += 16) {
                const __m256 k0 = load8(k + i), k1 = load8(k + i + 8);
                for (int j = 0; j < 4; ++j) {
                    a0[j] = _mm256_fmadd_ps(_mm256_loadu_ps(q[j] + i), k0, a0[j]);
                    a1[j] = _mm256_fmadd_ps(_mm256_loadu_ps(q[j] + i + 8), k1, a1[j]);
                }
            }
        }
        for (; i + 8 <= n; i += 8) {
            const __m256 k0 = load8(k + i);
            for (int j = 0; j < 4; ++j) a0[j] = _mm256_fmadd_ps(_mm256_loadu_ps(q[j] + i), k0, a0[j]);
        }
        for (int j = 0; j < 4; ++j) {
            float d = hsum256(kF32 ? _mm256_add_ps(a0[j], a1[j]) : a0[j]);
            for (int64_t t = i; t < n; ++t) {
                if constexpr (kF32) {
                    d += q[j][t] * k[t];
                } else {
                    d += q[j][t] * fp16_to_fp32(k[t]);
                }
            }
            scores[j * n_kv + s] = kq_scale * d;
        }
    }
}

// out_j[0..dv) = sum_s p_j[s] * value row s for two heads sharing their value rows, 32 columns at a time held in
// registers over all s: per element the fma sequence of axpy (zero, then p[s] * v + y in order of s).
template <class T>
void values2(const float* p0, const float* p1, const T* vals, int64_t stride, int64_t n_kv, int64_t dv, float* out0,
             float* out1) {
    int64_t c = 0;
    for (; c + 32 <= dv; c += 32) {
        __m256 y0[4], y1[4];
        for (int k = 0; k < 4; ++k) y0[k] = y1[k] = _mm256_setzero_ps();
        for (int64_t s = 0; s < n_kv; ++s) {
            const T* v = vals + s * stride + c;
            const __m256 b0 = _mm256_set1_ps(p0[s]), b1 = _mm256_set1_ps(p1[s]);
            for (int k = 0; k < 4; ++k) {
                const __m256 x = load8(v + 8 * k);
                y0[k] = _mm256_fmadd_ps(b0, x, y0[k]);
                y1[k] = _mm256_fmadd_ps(b1, x, y1[k]);
            }
        }
        for (int k = 0; k < 4; ++k) {
            _mm256_storeu_ps(out0 + c + 8 * k, y0[k]);
            _mm256_storeu_ps(out1 + c + 8 * k, y1[k]);
        }
    }
    if (c == dv) return;
    // Leftover columns: the axpy loop itself over them.
    std::fill(out0 + c, out0 + dv, 0.0f);
    std::fill(out1 + c, out1 + dv, 0.0f);
    for (int64_t s = 0; s < n_kv; ++s) {
        const T* v = vals + s * stride;
        if constexpr (std::is_same_v<T, float>) {
            axpy_f32(out0 + c, p0[s], v + c, dv - c);
            axpy_f32(out1 + c, p1[s], v + c, dv - c);
        } else {
            axpy_f16(out0 + c, p0[s], v + c, dv - c);
            axpy_f16(out1 + c, p1[s], v + c, dv - c);
        }
    }
}

MOE_AVX512_BEGIN
// scores4 for F32 keys with 16 columns per register (lanes 0-7 the 256-bit form's a0 chunk, lanes 8-15 its a1):
// the same sums, so the same bits, with half the instructions. Rows of a multiple of 16 columns only. With
// values2_avx512: medium Q8_0 decode (F32 cache), 2 threads, 256 tokens, tokens alternating between the two within
// a run: -45 / -46 / -41 us per token of 2.9 ms.
MOE_AVX512_TARGET void scores4_f32_avx512(const float* const q[4], const float* keys, int64_t stride, int64_t n_kv,
                                          int64_t n, float kq_scale, float* scores) {
    const int64_t ahead = key_rows_ahead(stride, 4);
    for (int64_t s = 0; s < n_kv; ++s) {
        const float* k = keys + s * stride;
        if (s + ahead < n_kv) request_row(k + ahead * stride, n * 4);
        __m512 a[4];
        for (int j = 0; j < 4; ++j) a[j] = _mm512_setzero_ps();
        for (int64_t i = 0; i < n; i += 16) {
            const __m512 kv = _mm512_loadu_ps(k + i);
            for (int j = 0; j < 4; ++j) a[j] = _mm512_fmadd_ps(_mm512_loadu_ps(q[j] + i), kv, a[j]);
        }
        for (int j = 0; j < 4; ++j) {
            const __m256 folded = _mm256_add_ps(_mm512_castps512_ps256(a[j]), _mm512_extractf32x8_ps(a[j], 1));
            scores[j * n_kv + s] = kq_scale * hsum256(folded);
        }
    }
}

template <class T>
MOE_AVX512_TARGET inline __m512 load16(const T* p) {
    if constexpr (std::is_same_v<T, float>) return _mm512_loadu_ps(p);
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// values2 with 16 columns per register, 64 at a time: every element's fma sequence is the same (same bits).
template <class T>
MOE_AVX512_TARGET void values2_avx512(const float* p0, const float* p1, const T* vals, int64_t stride, int64_t n_kv,
                                      int64_t dv, float* out0, float* out1) {
    int64_t c = 0;
    for (; c + 64 <= dv; c += 64) {
        __m512 y0[4], y1[4];
        for (int k = 0; k < 4; ++k) y0[k] = y1[k] = _mm512_setzero_ps();
        for (int64_t s = 0; s < n_kv; ++s) {
            const T* v = vals + s * stride + c;
            const __m512 b0 = _mm512_set1_ps(p0[s]), b1 = _mm512_set1_ps(p1[s]);
            for (int k = 0; k < 4; ++k) {
                const __m512 x = load16(v + 16 * k);
                y0[k] = _mm512_fmadd_ps(b0, x, y0[k]);
                y1[k] = _mm512_fmadd_ps(b1, x, y1[k]);
            }
        }
        for (int k = 0; k < 4; ++k) {
            _mm512_storeu_ps(out0 + c + 16 * k, y0[k]);
            _mm512_storeu_ps(out1 + c + 16 * k, y1[k]);
        }
    }
    // The rest (under 64 columns) as values2 computes it: the same per-element sequence.
    if (c < dv) values2(p0, p1, vals + c, stride, n_kv, dv - c, out0 + c, out1 + c);
}
MOE_AVX512_END
#endif

// Heads [h0, h1) that share one key/value head (MLA, a GQA group) through scores4 / values2, four and two heads at
// a time; returns the first head not done (the generic loop takes the rest). Same bits as the generic loop.
int64_t attend_shared_heads(const AttentionShape& a, const CacheRows& keys, const CacheRows& values, const float* q,
                            int64_t n_kv, float kq_scale, int64_t h0, int64_t h1, float* out, float* scores,
                            const Partial* part) {
#if MOE_CPU_AVX2
    if (!detail::use_simd() || h1 - h0 < 4 || h0 / a.group != (h1 - 1) / a.group) return h0;
    const int64_t g = h0 / a.group, ko = g * a.k_head_stride, vo = g * a.v_head_stride;
    const int64_t h4 = h0 + (h1 - h0) / 4 * 4;
    for (int64_t h = h0; h < h4; h += 4) {
        const float* qs[4] = {q + h * a.q_head_stride, q + (h + 1) * a.q_head_stride, q + (h + 2) * a.q_head_stride,
                              q + (h + 3) * a.q_head_stride};
        float* sc = scores + (h - h0) * n_kv;
        const bool wide = detail::use_avx512();
        if (keys.f32 && wide && a.dk % 16 == 0)
            scores4_f32_avx512(qs, keys.f32 + ko, keys.stride, n_kv, a.dk, kq_scale, sc);
        else if (keys.f32)
            scores4(qs, keys.f32 + ko, keys.stride, n_kv, a.dk, kq_scale, sc);
        else
            scores4(qs, keys.f16 + ko, keys.stride, n_kv, a.dk, kq_scale, sc);
        for (int j = 0; j < 4; ++j) softmax_or_partial(sc + j * n_kv, n_kv, part, h + j);
        for (int j = 0; j < 4; j += 2) {
            const float* p0 = sc + j * n_kv;
            const float* p1 = p0 + n_kv;
            float* o0 = out + (h + j) * a.dv;
            if (values.f32 && wide)
                values2_avx512(p0, p1, values.f32 + vo, values.stride, n_kv, a.dv, o0, o0 + a.dv);
            else if (values.f32)
                values2(p0, p1, values.f32 + vo, values.stride, n_kv, a.dv, o0, o0 + a.dv);
            else if (wide)
                values2_avx512(p0, p1, values.f16 + vo, values.stride, n_kv, a.dv, o0, o0 + a.dv);
            else
                values2(p0, p1, values.f16 + vo, values.stride, n_kv, a.dv, o0, o0 + a.dv);
        }
    }
    return h4;
#else
    (void)a, (void)keys, (void)values, (void)q, (void)n_kv, (void)kq_scale, (void)h1, (void)out, (void)scores;
    (void)part;
    return h0;
#endif
}

// Heads [h0, h1) of one query over the keys [0, n_kv): normalised outputs, or with a Partial the unnormalised sums
// of exp(score - max) * value and each head's max and sum.
void attend_keys(const AttentionShape& a, const CacheRows& keys, const CacheRows& values, const float* q, int64_t n_kv,
                 float kq_scale, int64_t h0, int64_t h1, float* out, std::vector<float>& scores, const Partial* part) {
    scores.resize(static_cast<size_t>((h1 - h0) * n_kv));
    const int64_t hs = h0;
    h0 = attend_shared_heads(a, keys, values, q, n_kv, kq_scale, h0, h1, out, scores.data(), part);
    if (h0 >= h1) return;
    float* sc = scores.data() + (h0 - hs) * n_kv;
    const int64_t elem = keys.f32 ? 4 : 2, ahead = key_rows_ahead(keys.stride, elem);
    const int64_t k0 = (h0 / a.group) * a.k_head_stride, k1 = ((h1 - 1) / a.group) * a.k_head_stride + a.dk;
    for (int64_t s = 0; s < n_kv; ++s) {
        if (s + ahead < n_kv) request_row(keys.span(s + ahead, s + ahead + 1).begin + k0 * elem, (k1 - k0) * elem);
        for (int64_t h = h0; h < h1; ++h)
            sc[(h - h0) * n_kv + s] =
                kq_scale * keys.dot(q + h * a.q_head_stride, s, (h / a.group) * a.k_head_stride, a.dk);
    }
    for (int64_t h = h0; h < h1; ++h) {
        softmax_or_partial(sc + (h - h0) * n_kv, n_kv, part, h);
        std::fill(out + h * a.dv, out + (h + 1) * a.dv, 0.0f);
    }
    for (int64_t s = 0; s < n_kv; ++s)
        for (int64_t h = h0; h < h1; ++h)
            values.axpy(out + h * a.dv, sc[(h - h0) * n_kv + s], s, (h / a.group) * a.v_head_stride, a.dv);
}

// Keys per chunk of a long context in decode: a chunk's rows (F32 MLA rows of medium: 160 KiB) stay in L2 while the
// values pass re-reads them, so the cache is read from memory once per token and thread, not once per pass.
constexpr int64_t kAttendChunk = 256;

// The partials of a long context's chunks: chunk c's unnormalised values of head h at values + (c * n_head + h) * dv,
// its max and sum at max / sum [c * n_head + h]. chunk_partials() gives the calling thread's buffers for n_chunks.
struct ChunkPartials {
    float* values = nullptr;
    float* max = nullptr;
    double* sum = nullptr;
    int64_t n_head = 0, dv = 0;

    Partial of(int64_t c) const { return {max + c * n_head, sum + c * n_head}; }
    float* out(int64_t c) const { return values + c * n_head * dv; }
    // o[0..dv) = head h's normalised values over chunks [0, n_chunks): merged in chunk order, each step rescaling the
    // running sums and the next chunk's to the larger max (the same bits however the chunks were computed).
    void merge(int64_t n_chunks, int64_t h, float* o) const {
        float m = max[h];
        double total = sum[h];
        std::copy_n(values + h * dv, dv, o);
        for (int64_t c = 1; c < n_chunks; ++c) {
            const int64_t i = c * n_head + h;
            const float mc = std::max(m, max[i]);
            const float fa = std::exp(m - mc), fb = std::exp(max[i] - mc);
            const float* v = values + i * dv;
            for (int64_t k = 0; k < dv; ++k) o[k] = fa * o[k] + fb * v[k];
            m = mc;
            total = double(fa) * total + double(fb) * sum[i];
        }
        const float inv = static_cast<float>(1.0 / total);
        for (int64_t k = 0; k < dv; ++k) o[k] *= inv;
    }
};
ChunkPartials chunk_partials(int64_t n_chunks, int64_t n_head, int64_t dv) {
    thread_local std::vector<float> values, max;
    thread_local std::vector<double> sum;
    values.resize(static_cast<size_t>(n_chunks * n_head * dv));
    max.resize(static_cast<size_t>(n_chunks * n_head));
    sum.resize(static_cast<size_t>(n_chunks * n_head));
    return {values.data(), max.data(), sum.data(), n_head, dv};
}

// Heads [h0, h1) of one query over the keys [0, n_kv). Up to kAttendChunk keys in one softmax; longer contexts in
// chunks of kAttendChunk keys, merged in chunk order with the running max (the same for any split of the heads).
void attend_token(const AttentionShape& a, const CacheRows& keys, const CacheRows& values, const float* q, int64_t n_kv,
                  float kq_scale, int64_t h0, int64_t h1, float* out, std::vector<float>& scores) {
    if (n_kv <= kAttendChunk) return attend_keys(a, keys, values, q, n_kv, kq_scale, h0, h1, out, scores, nullptr);
    const int64_t n_chunks = (n_kv + kAttendChunk - 1) / kAttendChunk;
    const ChunkPartials parts = chunk_partials(n_chunks, a.n_head, a.dv);
    for (int64_t c = 0; c < n_chunks; ++c) {
        const int64_t s0 = c * kAttendChunk;
        const Partial part = parts.of(c);
        attend_keys(a, keys.from(s0), values.from(s0), q, std::min(kAttendChunk, n_kv - s0), kq_scale, h0, h1,
                    parts.out(c), scores, &part);
    }
    for (int64_t h = h0; h < h1; ++h) parts.merge(n_chunks, h, out + h * a.dv);
}

// The rows [0, n_kv) of one kv head as float32 [n_kv][width] (F16 caches converted into scratch), row stride in *ld.
const float* kv_rows_f32(const CacheRows& rows, int64_t offset, int64_t width, int64_t n_kv, int slot, int64_t* ld) {
    if (rows.f32 != nullptr) {
        *ld = rows.stride;
        return rows.f32 + offset;
    }
    float* dst = detail::scratch_floats(slot, n_kv * width);
    for (int64_t s = 0; s < n_kv; ++s)
        for (int64_t i = 0; i < width; ++i) dst[s * width + i] = fp16_to_fp32(rows.f16[s * rows.stride + offset + i]);
    *ld = width;
    return dst;
}

// Causal softmax of one score row of n_kv keys for a query at position `pos`: keys s > pos become 0.
void causal_softmax_row(float* row, int64_t n_kv, int32_t pos) {
    const int64_t visible = std::min<int64_t>(n_kv, int64_t(pos) + 1);
    softmax_or_partial(row, visible, nullptr, 0);
    std::fill(row + visible, row + n_kv, 0.0f);
}

// A prompt's attention as matrix products: S = kq_scale Q K^T (sgemm_nt), causal softmax, O = P V (sgemm_nn).
// The dot-product loop streams the cache once per token; these reuse it across tokens from cache blocks at GEMM
// speed. Queries go in chunks of tokens, and chunk c only multiplies the keys [0, last visible + 1) of its
// tokens: the masked upper triangle is skipped, about half the work of a prompt. When all heads share one kv
// head and the query/output rows of (token, head) pairs are evenly strided (MLA: [n][H][row]), every head of a
// chunk is one product; otherwise each head is its own. (Skipped keys contribute exact zeros to P V, so the
// results equal the full square's bit for bit.)
void attention_gemm(ThreadPool& pool, const AttentionShape& a, const CacheRows& keys, const CacheRows& values,
                    const float* q, int64_t q_token_stride, const int32_t* pos, int64_t n_tokens, float kq_scale,
                    float* out, int64_t out_token_stride) {
    int64_t n_kv = 0;
    for (int64_t t = 0; t < n_tokens; ++t) n_kv = std::max<int64_t>(n_kv, int64_t(pos[t]) + 1);
    // (Merged only while one token's scores over all heads fit the 16 MiB: long contexts go head by head.)
    const bool merged = a.group == a.n_head && q_token_stride == a.n_head * a.q_head_stride &&
                        out_token_stride == a.n_head * a.dv && n_kv * a.n_head <= (int64_t(4) << 20);
    const int64_t heads_per_product = merged ? a.n_head : 1;
    // 32 tokens per chunk (the triangle costs ~53% of the square at 512 tokens), scores within 16 MiB.
    const int64_t chunk = std::clamp<int64_t>((int64_t(4) << 20) / (n_kv * heads_per_product), 1, 32);
    const int64_t n_kv_heads = a.n_head / a.group;
    for (int64_t g = 0; g < n_kv_heads; ++g) {
        int64_t ldk = 0, ldv = 0;
        const float* k = kv_rows_f32(keys, g * a.k_head_stride, a.dk, n_kv, 13, &ldk);
        const float* v = kv_rows_f32(values, g * a.v_head_stride, a.dv, n_kv, 14, &ldv);
        const int64_t h_end = merged ? 1 : (g + 1) * a.group;
        for (int64_t h = merged ? 0 : g * a.group; h < h_end; ++h)
            for (int64_t t0 = 0; t0 < n_tokens; t0 += chunk) {
                const int64_t nt = std::min(chunk, n_tokens - t0);
                int64_t kv_c = 0;
                for (int64_t t = t0; t < t0 + nt; ++t) kv_c = std::max<int64_t>(kv_c, int64_t(pos[t]) + 1);
                const int64_t rows = nt * heads_per_product;
                const int64_t lda = merged ? a.q_head_stride : q_token_stride;
                const int64_t ldo = merged ? a.dv : out_token_stride;
                float* scores = detail::scratch_floats(15, rows * kv_c);
                sgemm_nt(pool, rows, kv_c, a.dk, q + t0 * q_token_stride + h * a.q_head_stride, lda, k, ldk, scores,
                         kv_c, kq_scale, 0.0f);
                pool.parallel_for(rows, 8, [&](int64_t r0, int64_t r1) {
                    for (int64_t r = r0; r < r1; ++r)
                        causal_softmax_row(scores + r * kv_c, kv_c, pos[t0 + r / heads_per_product]);
                });
                sgemm_nn(pool, rows, a.dv, kv_c, scores, kv_c, v, ldv, out + t0 * out_token_stride + h * a.dv, ldo,
                         1.0f, 0.0f);
            }
    }
}

Status run_attention(ThreadPool& pool, const AttentionShape& a, const CacheRows& keys, const CacheRows& values,
                     const float* q, int64_t q_token_stride, const int32_t* pos, int64_t n_tokens, float kq_scale,
                     float* out, int64_t out_token_stride) {
    if (n_tokens <= 0) return {};
    for (int64_t t = 0; t < n_tokens; ++t)
        if (pos[t] < 0) return Status::error("attention: negative position " + std::to_string(pos[t]));
    // Decode: split heads over threads. Prompt: split tokens.
    if (n_tokens >= kGemmAttentionMinTokens) {
        attention_gemm(pool, a, keys, values, q, q_token_stride, pos, n_tokens, kq_scale, out, out_token_stride);
        return {};
    }
    // A short context is attended on the calling thread: below ~64k multiply-adds a parallel region costs more
    // than it saves.
    const int64_t macs = n_tokens * (int64_t(pos[n_tokens - 1]) + 1) * a.n_head * (a.dk + a.dv);
    const int64_t head_chunks = n_tokens == 1 && macs >= (1 << 16) ? std::min<int64_t>(a.n_head, pool.size()) : 1;
    const auto body = [&](int64_t begin, int64_t end) {
        thread_local std::vector<float> scores;
        for (int64_t task = begin; task < end; ++task) {
            const int64_t t = task / head_chunks;
            const int64_t c = task % head_chunks;
            const int64_t h0 = a.n_head * c / head_chunks;
            const int64_t h1 = a.n_head * (c + 1) / head_chunks;
            attend_token(a, keys, values, q + t * q_token_stride, int64_t(pos[t]) + 1, kq_scale, h0, h1,
                         out + t * out_token_stride, scores);
        }
    };
    if (n_tokens * head_chunks == 1)
        body(0, 1);
    else
        pool.parallel_for(n_tokens * head_chunks, 1, body);
    return {};
}

}  // namespace

namespace {
// MLA as attention with one shared "kv head": the latent cache rows [c | k_pe] are the keys, their c the values.
AttentionShape mla_shape(const MlaAttentionArgs& g) {
    AttentionShape a;
    a.n_head = g.n_head;
    a.group = g.n_head;
    a.dk = g.kv_lora + g.n_rope;
    a.dv = g.kv_lora;
    a.q_head_stride = a.dk;
    return a;
}
CacheRows mla_rows(const MlaAttentionArgs& g) { return {g.cache, g.cache_f16, g.kv_lora + g.n_rope}; }
}  // namespace

Status mla_attention(ThreadPool& pool, const MlaAttentionArgs& g) {
    if ((g.cache == nullptr) == (g.cache_f16 == nullptr)) return Status::error("mla_attention: give exactly one cache");
    const CacheRows rows = mla_rows(g);
    return run_attention(pool, mla_shape(g), rows, rows, g.q, g.n_head * rows.stride, g.pos, g.n_tokens, g.kq_scale,
                         g.out, g.n_head * g.kv_lora);
}

namespace {
// How mla_absorbed_decode shares one token's work between the threads: heads [h0, h1) (W_UK, W_UV, and attention
// or the merge of the chunks) and, when a long context is attended with the keys shared out, chunks [c0, c1).
struct MlaSplit {
    int64_t n_kv = 0, n_chunks = 0;
    bool share_keys = false;
    MlaSplit(const MlaAbsorbedArgs& m, int nth)
        : n_kv(int64_t(m.attention.pos[0]) + 1),
          n_chunks((n_kv + kAttendChunk - 1) / kAttendChunk),
          share_keys(n_chunks > 1 && nth > 1) {}
    int64_t h0(const MlaAbsorbedArgs& m, int ith, int nth) const { return m.attention.n_head * ith / nth; }
    int64_t h1(const MlaAbsorbedArgs& m, int ith, int nth) const { return m.attention.n_head * (ith + 1) / nth; }
    int64_t c0(int ith, int nth) const { return share_keys ? n_chunks * ith / nth : 0; }
    int64_t c1(int ith, int nth) const { return share_keys ? n_chunks * (ith + 1) / nth : 1; }
    // The cache rows of chunk c.
    detail::ByteSpan chunk_rows(const CacheRows& rows, int64_t c) const {
        return rows.span(c * kAttendChunk, std::min(n_kv, (c + 1) * kAttendChunk));
    }
};
}  // namespace

void announce_mla_absorbed(ThreadPool& pool, const MlaAbsorbedArgs& m) {
    const MlaAttentionArgs& g = m.attention;
    if (g.pos == nullptr || g.pos[0] < 0 || (g.cache == nullptr) == (g.cache_f16 == nullptr) ||
        static_cast<int64_t>(m.uk.size()) != g.n_head || static_cast<int64_t>(m.uv.size()) != g.n_head)
        return;
    const CacheRows rows = mla_rows(g);
    const int nth = pool.size();
    const MlaSplit split(m, nth);
    for (int ith = 0; ith < nth; ++ith) {
        if (const int64_t c0 = split.c0(ith, nth); c0 < split.c1(ith, nth)) {
            const detail::ByteSpan s = split.chunk_rows(rows, c0);
            pool.add_lookahead(ith, s.begin, s.end);
        }
        for (int64_t h = split.h0(m, ith, nth); h < split.h1(m, ith, nth); ++h)
            for (const MatrixView* w : {&m.uk[static_cast<size_t>(h)], &m.uv[static_cast<size_t>(h)]}) {
                const detail::ByteSpan s = detail::row_span(*w, 0, w->rows);
                pool.add_lookahead(ith, s.begin, s.end);
            }
    }
}

Status mla_absorbed_decode(ThreadPool& pool, const MlaAbsorbedArgs& m) {
    const MlaAttentionArgs& g = m.attention;
    const int64_t H = g.n_head, kvl = g.kv_lora, rope = g.n_rope, row = kvl + rope, nope = m.nope;
    const int64_t qk = nope + rope, vd = m.v_head_dim;
    if (g.n_tokens != 1) return Status::error("mla_absorbed_decode: one token, got " + std::to_string(g.n_tokens));
    if ((g.cache == nullptr) == (g.cache_f16 == nullptr)) return Status::error("mla_absorbed: give exactly one cache");
    if (static_cast<int64_t>(m.uk.size()) != H || static_cast<int64_t>(m.uv.size()) != H)
        return Status::error("mla_absorbed: " + std::to_string(m.uk.size()) + " W_UK and " +
                             std::to_string(m.uv.size()) + " W_UV matrices for " + std::to_string(H) + " heads");
    if (g.pos[0] < 0) return Status::error("attention: negative position " + std::to_string(g.pos[0]));
    for (int64_t h = 0; h < H; ++h) {
        const MatrixView& uk = m.uk[static_cast<size_t>(h)];
        const MatrixView& uv = m.uv[static_cast<size_t>(h)];
        if (Status s = detail::check_weights("mla_absorbed W_UK", uk); !s.ok()) return s;
        if (Status s = detail::check_weights("mla_absorbed W_UV", uv); !s.ok()) return s;
        const bool uk_ok = m.uk_transposed ? uk.rows == nope && uk.cols == kvl : uk.rows == kvl && uk.cols == nope;
        if (!uk_ok || uv.rows != vd || uv.cols != kvl)
            return Status::error("mla_absorbed: head " + std::to_string(h) + ": W_UK [" + std::to_string(uk.rows) +
                                 " x " + std::to_string(uk.cols) + "], W_UV [" + std::to_string(uv.rows) + " x " +
                                 std::to_string(uv.cols) + "] do not fit nope " + std::to_string(nope) + ", kv_lora " +
                                 std::to_string(kvl) + ", v_head_dim " + std::to_string(vd));
    }
    // The output projection in the same region (a barrier after W_UV instead of a region of its own): rows split
    // as matmul splits them (what announce_product requested), each thread preparing W_o's activation itself (the
    // same bits as the separate product). Medium decode, 2 threads, 256 tokens, high state, tokens alternating
    // within a run: Q8_0 -22 / -7 / -14 / -8 us per token of 2.7 ms (A/A -5..+6), F16 -12 / -27 of 4.6 ms.
    detail::GemvTask wo;
    if (!m.wo.empty()) {
        if (Status s = detail::check_product("mla_absorbed W_o", m.wo, m.out, H * vd, 1, m.wo_out, m.wo.rows); !s.ok())
            return s;
        if (m.wo.cols != H * vd)
            return Status::error("mla_absorbed: W_o has " + std::to_string(m.wo.cols) + " columns for " +
                                 std::to_string(H) + " heads of " + std::to_string(vd) + " values");
        wo.w = m.wo;
        detail::make_row_kernel(m.wo.type, ActivationMode::Native, &wo.kernel);
        wo.act_bytes = detail::act_row_bytes(wo.kernel.act, m.wo.cols);
        wo.y = m.wo_out;
        wo.y_stride = m.wo.rows;
    }
    const AttentionShape a = mla_shape(g);
    const CacheRows rows = mla_rows(g);
    const MlaSplit split(m, pool.size());
    const int64_t n_kv = split.n_kv;
    const auto whole = [](const MatrixView& w) { return detail::row_span(w, 0, w.rows); };
    // Between the per-head steps the thread requests lines of its lookahead (the output projection and router
    // rows it computes next) while the memory is idle: 48 lines (3 KiB) per step. Medium Q8_0 decode, 2 threads,
    // 5 interleaved runs (stop 8): none 208.8 tok/s, 96 lines 218.0, 256 lines 211.0 (a long burst stalls the step);
    // with the streams paced into what follows them (stop 23), tokens alternating within a run against 96 lines:
    // 48 lines -14 / -9 / -6 us per token, 1 line -13 / -2 / -12 / -10 / -3, 192 lines +15 / +15.
    constexpr int kPumpLines = 48;
    // A long context (more than one chunk of attend_token) on several threads: the threads share the keys rather
    // than the heads, so the cache is read from memory once per token instead of once per thread. Each thread
    // attends with every head over its chunks and keeps each chunk's partial (unnormalised values, max and sum per
    // head); then each merges its heads' partials in chunk order, as attend_token does: the same bits for any number
    // of threads. Two barriers: every head's q_abs before the chunks, every chunk before the merge.
    const int64_t n_chunks = split.n_chunks;
    const bool share_keys = split.share_keys;
    // (The calling thread's buffers, which the workers fill and read too.)
    const ChunkPartials parts = share_keys ? chunk_partials(n_chunks, H, kvl) : ChunkPartials{};
    std::atomic<int> arrived{0};
    const auto barrier = [&](int nth, int round) {
        arrived.fetch_add(1, std::memory_order_acq_rel);
        wait_until([&] { return arrived.load(std::memory_order_acquire) >= nth * round; });
    };
    // One thread's heads [h0, h1) (or, sharing the keys, its chunks [c0, c1) of every head), through out[h].
    // Heads split between the threads; per head W_UK^T (or W_UK), attention (or, sharing the keys, the merge of its
    // chunks), W_UV on the thread that owns it. What the thread reads here is requested ahead, in the order it is
    // read: its heads' W_UK when it starts, each head's W_UV as the W_UK loop reaches the head (the whole burst at
    // the start held the first step back: medium Q8_0 decode, 2 threads, tokens alternating within a run, -5 / -14
    // / -6 us per token). (Evicted by the token's weight stream, these are cold at every token; requested only when
    // each is read they cost a memory latency per step.) Its cache rows are not: announced with W_UK and W_UV before
    // the q / kv_a projections (announce_mla_absorbed), they are requested as that region ends and while its threads
    // wait; a burst of them here (80 KiB per thread at 128 keys, F32) stalled the W_UK loop behind the requests.
    // Medium Q8_0 decode, 2 threads, 256 tokens, high state, tokens alternating within a run: -70 / -30 / -20 / -32
    // us per token of 2.7-2.9 ms (A/A -5 .. +5); per layer the region went 10.5 -> 9.2 us.
    const auto heads = [&](int nth, int64_t h0, int64_t h1, int64_t c0, int64_t c1, float* scratch, uint8_t* act) {
        for (int64_t h = h0; h < h1; ++h) detail::request_lines(whole(m.uk[static_cast<size_t>(h)]));
        for (int64_t h = h0; h < h1; ++h) {
            detail::request_lines(whole(m.uv[static_cast<size_t>(h)]));
            const MatrixView& uk = m.uk[static_cast<size_t>(h)];
            const float* qh = m.q + h * qk;
            float* qa = m.q_abs + h * row;
            if (m.uk_transposed) {
                detail::transposed_columns(uk, qh, qk, 1, qa, row, 0, uk.cols);
            } else {
                detail::RowKernel k;
                detail::make_row_kernel(uk.type, ActivationMode::Float, &k);
                detail::prepare_act(k.act, qh, nope, act);
                detail::dot_rows(uk, k, 0, kvl, act, qa, scratch);
            }
            std::copy_n(qh + nope, rope, qa + kvl);
            lookahead_pump(kPumpLines);
        }
        thread_local std::vector<float> scores;
        if (!share_keys) {
            attend_token(a, rows, rows, m.q_abs, n_kv, g.kq_scale, h0, h1, m.latent, scores);
        } else {
            barrier(nth, 1);
            for (int64_t c = c0; c < c1; ++c) {
                const int64_t s0 = c * kAttendChunk;
                const Partial part = parts.of(c);
                attend_keys(a, rows.from(s0), rows.from(s0), m.q_abs, std::min(kAttendChunk, n_kv - s0), g.kq_scale, 0,
                            H, parts.out(c), scores, &part);
            }
            barrier(nth, 2);
            for (int64_t h = h0; h < h1; ++h) parts.merge(n_chunks, h, m.latent + h * kvl);
        }
        lookahead_pump(kPumpLines);
        for (int64_t h = h0; h < h1; ++h) {
            const MatrixView& uv = m.uv[static_cast<size_t>(h)];
            detail::RowKernel k;
            detail::make_row_kernel(uv.type, ActivationMode::Float, &k);
            detail::prepare_act(k.act, m.latent + h * kvl, kvl, act);
            detail::dot_rows(uv, k, 0, vd, act, m.out + h * vd, scratch);
            lookahead_pump(kPumpLines);
        }
    };
    pool.run([&](int ith, int nth) {
        const int64_t h0 = split.h0(m, ith, nth), h1 = split.h1(m, ith, nth);
        const int64_t c0 = split.c0(ith, nth), c1 = split.c1(ith, nth);
        float* scratch = detail::scratch_floats(5, std::max(nope, kvl) + 256);
        uint8_t* act = detail::scratch_bytes(
            3, std::max(detail::act_row_bytes(detail::ActType::F32, std::max(nope, kvl)), wo.act_bytes));
        if (h0 < h1 || share_keys) heads(nth, h0, h1, c0, c1, scratch, act);
        if (wo.w.empty()) return;
        barrier(nth, share_keys ? 3 : 1);
        detail::GemvTask t = wo;
        detail::prepare_act(t.kernel.act, m.out, wo.w.cols, act);
        t.acts = act;
        thread_local std::vector<std::pair<int64_t, int64_t>> range;
        detail::split_rows(&t, 1, ith, nth, range);
        detail::gemv_rows(t, range[0].first, range[0].second, 1);
    });
    return {};
}

Status mha_attention(ThreadPool& pool, const MhaAttentionArgs& g) {
    if ((g.k == nullptr) == (g.k_f16 == nullptr) || (g.v == nullptr) == (g.v_f16 == nullptr))
        return Status::error("mha_attention: give exactly one K and one V cache");
    if (g.n_head_kv <= 0 || g.n_head % g.n_head_kv != 0)
        return Status::error("mha_attention: n_head " + std::to_string(g.n_head) + " is not a multiple of n_head_kv " +
                             std::to_string(g.n_head_kv));
    AttentionShape a;
    a.n_head = g.n_head;
    a.group = g.n_head / g.n_head_kv;
    a.dk = g.head_dim_k;
    a.dv = g.head_dim_v;
    a.q_head_stride = g.head_dim_k;
    a.k_head_stride = g.head_dim_k;
    a.v_head_stride = g.head_dim_v;
    CacheRows keys{g.k, g.k_f16, g.n_head_kv * g.head_dim_k};
    CacheRows values{g.v, g.v_f16, g.n_head_kv * g.head_dim_v};
    return run_attention(pool, a, keys, values, g.q, g.n_head * g.head_dim_k, g.pos, g.n_tokens, g.kq_scale, g.out,
                         g.n_head * g.head_dim_v);
}

}  // namespace moe::cpu
