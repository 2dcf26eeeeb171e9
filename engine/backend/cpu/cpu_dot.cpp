// Row dot kernels: one weight row (stored type) times one prepared activation row. Quantized kernels sum the
// integer products of a block exactly and scale them once (d_w * d_x), like llama.cpp's vec_dot functions;
// the result equals dequant(W) . dequant(xq) up to float rounding. This file: the float and Q8_0 AVX2 / AVX-VNNI /
// AVX-512 kernels, the choice of kernel per type and mode, and dot_rows (the legacy and k-quant AVX2 kernels:
// cpu_dot_quants.cpp; the portable kernels: cpu_dot_scalar.cpp).
#include "backend/cpu/cpu_dot_avx2.h"
#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/simd.h"

#include "core/half.h"
#include "formats/quants.h"
#include "formats/quants_internal.h"

#include <algorithm>
#include <cstring>

#if MOE_CPU_AVX2
#include <immintrin.h>
#endif

namespace moe::cpu::detail {

using quants_detail::load_fp16;
using quants_detail::load_u32;

namespace {

// Software prefetch of the weight streams (dot_rows, the four-row kernels): non-temporal (prefetchnta: into L1
// without settling in L2/L3, which keep the activations, the KV cache and the small per-head matrices), ahead of
// the reads by kPrefetchLead for rows under kShortRowBytes, else by half that or four rows + 4 KiB (prefetch_lead).
// One Zen 4 core, Q8_0 rows in 139 KiB ranges at random places (an expert matrix each), GB/s for 256 / 512
// columns: lead 4 KiB 26 / 33, 8 KiB 31 / 33, 16 KiB 35 / 34, 32 KiB 31 / 32 (probe 40-41); medium decode on one
// thread, tok/s: Q8_0 163 (prefetcht0, 8 KiB) -> 168 (prefetchnta) -> 174 (16 KiB for the 272-byte down rows), F16
// (1 KiB rows) 103 -> 105-107 -> 99 with 16 KiB for every row (so not for long rows). Q8_0 rows of 512 columns
// (544 bytes: the gate and up rows of medium's experts) take the 16 KiB lead too: medium Q8_0, 2 threads, Zen 5,
// 12 interleaved pairs in the high-bandwidth state (probe 79-86 GB/s): 329.9 -> 338.2 tok/s (9 pairs of 12 faster);
// in the low state (probe ~56, where decode already reaches 87%) 277.2 -> 274.7 (the longer lead costs ~1% there).
// With the requests spread over each kernel call (SpreadPrefetch) 12 KiB does better than 16: medium decode, 2
// threads, high state, tokens alternating between the two leads within a run (median paired difference per token,
// A/A control -5 to +9 us): Q8_0 -15 to -94 us of 2.9 ms (6 runs of 6), F16 -10 to -31 us of 5.0 ms (3 of 3); 8
// KiB +14 to +89 us, 10 KiB -59 to +42, 14 KiB (F16) -6 to -25, 24 KiB +70 to +178.
// On Intel cores the requests go to L2 (prefetcht1) instead: a request into L1 holds one of the core's ~16 L1 fill
// buffers for a whole memory latency, which caps a core at 16 lines per latency. One Xeon core under KVM (Sapphire
// Rapids class, 170 ns to memory), 512 MiB read in order, GB/s: 15.0 plain, 20.9 prefetcht0 1 KiB ahead, 12.3 / 6.6
// prefetchnta 1 / 4 KiB ahead, 21.2 prefetcht1 1 KiB ahead; medium decode, 2 threads: Q8_0 78.7 -> 225.1 tok/s (13.7
// -> 39.2 GB/s), lead 2 / 4 / 8 / 12 / 20 KiB 165 / 181 / 222 / 225 / 226 tok/s; F16 36.1 -> 103.9 tok/s.
constexpr uint64_t kPrefetchLead = 12288;
constexpr uint64_t kShortRowBytes = 1024;
const bool g_prefetch_l2 = [] {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_is("intel") != 0;
#else
    return false;
#endif
}();

// F16 / BF16 rows of at least this many bytes are read two at a time by the 512-bit four-row kernel.
const uint64_t kPairRowBytes = g_prefetch_l2 ? 512 : 513;

// Requests the lines [next, stop) (next moves on to stop), into L1 non-temporally or into L2 (g_prefetch_l2).
inline void request_range(uintptr_t& next, uintptr_t stop) {
    if (g_prefetch_l2) {
        for (; next < stop; next += 64) __builtin_prefetch(reinterpret_cast<const void*>(next), 0, 2);
    } else {
        for (; next < stop; next += 64) __builtin_prefetch(reinterpret_cast<const void*>(next), 0, 0);
    }
}

#if MOE_CPU_AVX2
// ---------------- AVX2 kernels ----------------

// Two accumulators (even and odd 8-column chunks of each 16), as the four-row kernels keep per row.
float dot_f32_avx2(const float* a, const float* b, int64_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    if (i + 8 <= n) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        i += 8;
    }
    float s = hsum8(_mm256_add_ps(s0, s1));
    for (; i < n; ++i) s += a[i] * b[i];
    return s;
}

float dot_f32w_avx2(const uint8_t* w, const void* x, int64_t n) {
    return dot_f32_avx2(reinterpret_cast<const float*>(w), static_cast<const float*>(x), n);
}

template <bool kBf16>
inline __m256 load8_half(const uint8_t* p) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    if (kBf16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    return _mm256_cvtph_ps(h);
}

template <bool kBf16>
float dot_half_avx2(const uint8_t* w, const void* xv, int64_t n) {
    const float* x = static_cast<const float*>(xv);
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(load8_half<kBf16>(w + 2 * i), _mm256_loadu_ps(x + i), s0);
        s1 = _mm256_fmadd_ps(load8_half<kBf16>(w + 2 * i + 16), _mm256_loadu_ps(x + i + 8), s1);
    }
    if (i + 8 <= n) {
        s0 = _mm256_fmadd_ps(load8_half<kBf16>(w + 2 * i), _mm256_loadu_ps(x + i), s0);
        i += 8;
    }
    float s = hsum8(_mm256_add_ps(s0, s1));
    for (; i < n; ++i) {
        uint16_t h = 0;
        std::memcpy(&h, w + 2 * i, 2);
        s += (kBf16 ? bf16_to_fp32(h) : fp16_to_fp32(h)) * x[i];
    }
    return s;
}

// Requests the lines of a stream up to position `target` not yet requested: the range's lines below `end` from
// `next`, and past it (position end + d stands for then_begin + d) those of `then` from then_next.
inline void request_stream(uintptr_t& next, uintptr_t end, uintptr_t then_begin, uintptr_t& then_next,
                           uintptr_t then_end, uintptr_t target) {
    request_range(next, std::min(target, end));
    if (target <= end) return;
    request_range(then_next, std::min(then_end, then_begin + (target - end)));
}

inline void request_until(PrefetchCursor& pf, uintptr_t target) {
    request_stream(pf.next, pf.end, pf.then_begin, pf.then_next, pf.then_end, target);
}

// The cursor's requests during one four-row kernel call over n_groups groups of four rows: [next, end) paced at a
// group's bytes (4 rb) per group and spread evenly over each group's iterations (before iteration i, up to the
// (i + 1)-th share past the group's start), so that the kernel asks for about one line per line it reads rather
// than a few lines per iteration until the lead is reached and none after it. Bursts of requests cost bandwidth:
// Q8_0 rows of 512 columns in 139 KiB ranges at random places, both cores streaming, high-bandwidth state,
// dot_rows 33-34 GB/s per core with 3 lines per iteration, 34.5-37.8 spread; medium Q8_0 decode, 2 threads,
// tokens alternating between the two in one run (5 runs of 189 token pairs, median paired difference): 37-75 us
// per token faster of 2.9 ms (an A/A control: -8 to +5 us).
// The kernel is called once per range rather than once per group of four rows, so the pacing runs across the
// groups and on into `then` (no burst of requests after each of the last groups): one core, rows in L2, 256 / 512
// columns 58-60 -> 64-67 / 67-71 -> 70-73 GB/s. Medium decode, 2 threads, high state, paired as above (A/A -4 to
// +3 us): one call for the groups whose lead stays inside the range, Q8_0 -33 / -62 us of 2.8-3.0 ms per token
// (F16 -94 us of 6.4 ms, low state); all groups in that call, a further -95 / -98 us. The cursor's state held in
// scalars (whole bytes per iteration: a group's bytes divide evenly for every kernel's step) rather than a
// PrefetchCursor and a 16.16 share, which kept fields in memory: 256 columns 66 -> 68 GB/s in L2, decode Q8_0
// -23 / -26 us per token (A/A -3 / -1).
class SpreadPrefetch {
public:
    // pf.next: where the first group's lead has reached.
    SpreadPrefetch(const PrefetchCursor& pf, uint64_t group_bytes, int64_t n_steps)
        : m_next(pf.next),
          m_end(pf.end),
          m_target(pf.next),
          m_base(pf.next),
          m_group(group_bytes),
          m_inc(n_steps > 0 ? group_bytes / static_cast<uint64_t>(n_steps) : 0),
          m_then_begin(pf.then_begin),
          m_then_next(pf.then_next),
          m_then_end(pf.then_end) {}
    void step() {
        m_target += m_inc;
        request_stream(m_next, m_end, m_then_begin, m_then_next, m_then_end, m_target);
    }
    // At a group's end (the shares round down: the next group starts from its exact place).
    void next_group() {
        m_base += m_group;
        m_target = m_base;
    }
    void store(PrefetchCursor* pf) const {
        pf->next = m_next;
        pf->then_next = m_then_next;
    }

private:
    uintptr_t m_next, m_end, m_target, m_base;
    uint64_t m_group;
    uint64_t m_inc;  // bytes per iteration
    uintptr_t m_then_begin, m_then_next, m_then_end;
};

// Sums of four accumulators, one per row: out[r] is hsum8 of the r-th, in hsum8's exact order (so a row gives
// the same bits alone or in a group of four, whatever the thread split).
inline void store_sums4(__m256 a, __m256 b, __m256 c, __m256 d, float* out) {
    __m128 x0 = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    __m128 x1 = _mm_add_ps(_mm256_castps256_ps128(b), _mm256_extractf128_ps(b, 1));
    __m128 x2 = _mm_add_ps(_mm256_castps256_ps128(c), _mm256_extractf128_ps(c, 1));
    __m128 x3 = _mm_add_ps(_mm256_castps256_ps128(d), _mm256_extractf128_ps(d, 1));
    _MM_TRANSPOSE4_PS(x0, x1, x2, x3);
    _mm_storeu_ps(out, _mm_add_ps(_mm_add_ps(x0, x2), _mm_add_ps(x1, x3)));
}

// A four-row kernel (RowKernel::fn4) from its one-group body: n_groups groups of four consecutive rows in one call,
// the prefetch paced across them.
#define MOE_FOUR_ROW_KERNEL(name, group, step_cols, ...)                                                         \
    __VA_ARGS__ void name(const uint8_t* w, uint64_t rb, const void* x, int64_t n, int64_t n_groups, float* out, \
                          PrefetchCursor* pf) {                                                                  \
        SpreadPrefetch sp(*pf, 4 * rb, n / (step_cols));                                                         \
        for (int64_t g = 0; g < n_groups; ++g, w += 4 * rb, out += 4) {                                          \
            group(w, rb, x, n, out, sp);                                                                         \
            sp.next_group();                                                                                     \
        }                                                                                                        \
        sp.store(pf);                                                                                            \
    }

// Four consecutive rows (stride rb) at once: one activation load serves four weight streams, and the four
// horizontal sums share one reduction. Decode's matrices have short rows (512-2048 columns), where the
// one-row kernel's reduction and loop overhead cost a fifth of the time.
template <bool kBf16>
inline void group_half_avx2(const uint8_t* w, uint64_t rb, const void* xv, int64_t n, float* out, SpreadPrefetch& sp) {
    const float* x = static_cast<const float*>(xv);
    if (n % 16 != 0) {
        for (int r = 0; r < 4; ++r) out[r] = dot_half_avx2<kBf16>(w + r * rb, x, n);
        return;
    }
    const uint8_t *w0 = w, *w1 = w + rb, *w2 = w + 2 * rb, *w3 = w + 3 * rb;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    for (int64_t i = 0; i < n; i += 16) {
        sp.step();
        const __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + i + 8);
        a0 = _mm256_fmadd_ps(load8_half<kBf16>(w0 + 2 * i), x0, a0);
        b0 = _mm256_fmadd_ps(load8_half<kBf16>(w0 + 2 * i + 16), x1, b0);
        a1 = _mm256_fmadd_ps(load8_half<kBf16>(w1 + 2 * i), x0, a1);
        b1 = _mm256_fmadd_ps(load8_half<kBf16>(w1 + 2 * i + 16), x1, b1);
        a2 = _mm256_fmadd_ps(load8_half<kBf16>(w2 + 2 * i), x0, a2);
        b2 = _mm256_fmadd_ps(load8_half<kBf16>(w2 + 2 * i + 16), x1, b2);
        a3 = _mm256_fmadd_ps(load8_half<kBf16>(w3 + 2 * i), x0, a3);
        b3 = _mm256_fmadd_ps(load8_half<kBf16>(w3 + 2 * i + 16), x1, b3);
    }
    store_sums4(_mm256_add_ps(a0, b0), _mm256_add_ps(a1, b1), _mm256_add_ps(a2, b2), _mm256_add_ps(a3, b3), out);
}

template <bool kBf16>
MOE_FOUR_ROW_KERNEL(dot4_half_avx2, group_half_avx2<kBf16>, 16)

inline void group_f32_avx2(const uint8_t* w, uint64_t rb, const void* xv, int64_t n, float* out, SpreadPrefetch& sp) {
    const float* x = static_cast<const float*>(xv);
    if (n % 16 != 0) {
        for (int r = 0; r < 4; ++r) out[r] = dot_f32w_avx2(w + r * rb, x, n);
        return;
    }
    const auto* w0 = reinterpret_cast<const float*>(w);
    const auto* w1 = reinterpret_cast<const float*>(w + rb);
    const auto* w2 = reinterpret_cast<const float*>(w + 2 * rb);
    const auto* w3 = reinterpret_cast<const float*>(w + 3 * rb);
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    for (int64_t i = 0; i < n; i += 16) {
        sp.step();
        const __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + i + 8);
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + i), x0, a0);
        b0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + i + 8), x1, b0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + i), x0, a1);
        b1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + i + 8), x1, b1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + i), x0, a2);
        b2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + i + 8), x1, b2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + i), x0, a3);
        b3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + i + 8), x1, b3);
    }
    store_sums4(_mm256_add_ps(a0, b0), _mm256_add_ps(a1, b1), _mm256_add_ps(a2, b2), _mm256_add_ps(a3, b3), out);
}
MOE_FOUR_ROW_KERNEL(dot4_f32_avx2, group_f32_avx2, 16)

// One accumulator over the blocks in order, then hsum8: llama.cpp's ggml_vec_dot_q8_0_q8_0 sequence. (A macro
// body: the VNNI variant below needs its own target attribute.)
#define MOE_DOT_Q8_0_BODY(mul_sum)                                                                \
    const auto* x = static_cast<const ActQ8x32*>(xv);                                             \
    __m256 acc = _mm256_setzero_ps();                                                             \
    for (int64_t b = 0; b < n / 32; ++b, w += 34) {                                               \
        const __m256i p = mul_sum(loadu256(w + 2), loadu256(x[b].q));                             \
        acc = _mm256_fmadd_ps(_mm256_set1_ps(load_fp16(w) * x[b].d), _mm256_cvtepi32_ps(p), acc); \
    }                                                                                             \
    return hsum8(acc)

float dot_q8_0_avx2(const uint8_t* w, const void* xv, int64_t n) {
    MOE_DOT_Q8_0_BODY(mul_sum_i8);
}

// The same sums with AVX-VNNI (Zen 4, Alder Lake and later): vpdpbusd adds the four u8 x s8 products of each
// lane straight into int32, one instruction for maddubs + madd. |w| <= 128 and |x| <= 127 keep maddubs's int16
// pairs below saturation, so the integer sums, and the result, are identical.
#define MOE_VNNI_TARGET __attribute__((target("avx2,fma,f16c,avxvnni")))
MOE_VNNI_TARGET inline __m256i mul_sum_i8_vnni(__m256i w, __m256i x) {
    return _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
}

MOE_VNNI_TARGET float dot_q8_0_avxvnni(const uint8_t* w, const void* xv, int64_t n) {
    MOE_DOT_Q8_0_BODY(mul_sum_i8_vnni);
}
#undef MOE_DOT_Q8_0_BODY

// Four Q8_0 rows at once, each with the one-row kernel's exact sequence (so a row gives the same bits alone or
// in a group): four independent accumulator chains instead of one, which is what limits the one-row kernel
// (a 4-cycle FMA per 34-byte block: ~30 GB/s on one Zen 4 core). Interleaved rows defeat the hardware
// prefetcher (7 GB/s without help), so this kernel relies on dot_rows's software prefetch.
inline void group_q8_0_avx2(const uint8_t* w, uint64_t rb, const void* xv, int64_t n, float* out, SpreadPrefetch& sp) {
    const auto* x = static_cast<const ActQ8x32*>(xv);
    const uint8_t* rows[4] = {w, w + rb, w + 2 * rb, w + 3 * rb};
    __m256 a[4];
    for (auto& v : a) v = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 32; ++b) {
        sp.step();
        const __m256i xq = loadu256(x[b].q);
        const float xd = x[b].d;
        const uint64_t o = static_cast<uint64_t>(b) * 34;
        for (int r = 0; r < 4; ++r)
            a[r] = _mm256_fmadd_ps(_mm256_set1_ps(load_fp16(rows[r] + o) * xd),
                                   _mm256_cvtepi32_ps(mul_sum_i8(loadu256(rows[r] + o + 2), xq)), a[r]);
    }
    store_sums4(a[0], a[1], a[2], a[3], out);
}
MOE_FOUR_ROW_KERNEL(dot4_q8_0_avx2, group_q8_0_avx2, 32)

// The VNNI four-row kernels: vpdpbusd needs an unsigned operand, so the weights go in as w + 128 (an xor with
// 0x80) from the activation's vnni_bias (-128 * each lane's four x), which leaves sum w * x exactly: two
// instructions per block fewer than making w unsigned with sign tricks. The four rows' block scales d_w * d_x are
// one vector product (the same float products). Same bits as the one-row kernel.
MOE_VNNI_TARGET inline __m128 q8_0_scales4(const uint8_t* w0, const uint8_t* w1, const uint8_t* w2, const uint8_t* w3,
                                           float xd) {
    uint16_t h[4];
    std::memcpy(&h[0], w0, 2);
    std::memcpy(&h[1], w1, 2);
    std::memcpy(&h[2], w2, 2);
    std::memcpy(&h[3], w3, 2);
    __m128i v = _mm_cvtsi32_si128(h[0]);
    v = _mm_insert_epi16(v, h[1], 1);
    v = _mm_insert_epi16(v, h[2], 2);
    v = _mm_insert_epi16(v, h[3], 3);
    return _mm_mul_ps(_mm_cvtph_ps(v), _mm_set1_ps(xd));
}

MOE_VNNI_TARGET inline __m128 q8_0_scales2(const uint8_t* w0, const uint8_t* w1, float xd) {
    uint16_t h[2];
    std::memcpy(&h[0], w0, 2);
    std::memcpy(&h[1], w1, 2);
    return _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(h[0] | (uint32_t{h[1]} << 16)))),
                      _mm_set1_ps(xd));
}

MOE_VNNI_TARGET inline void group_q8_0_avxvnni(const uint8_t* w, uint64_t rb, const void* xv, int64_t n, float* out,
                                               SpreadPrefetch& sp) {
    const auto* x = static_cast<const ActQ8x32*>(xv);
    const uint8_t *w0 = w, *w1 = w + rb, *w2 = w + 2 * rb, *w3 = w + 3 * rb;
    const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
    const __m256i l0 = _mm256_set1_epi32(0), l1 = _mm256_set1_epi32(1), l2 = _mm256_set1_epi32(2);
    const __m256i l3 = _mm256_set1_epi32(3);
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t b = 0; b < n / 32; ++b) {
        sp.step();
        const __m256i xq = loadu256(x[b].q);
        const __m256i bias = loadu256(x[b].vnni_bias);
        const uint64_t o = static_cast<uint64_t>(b) * 34;
        const __m256 d = _mm256_castps128_ps256(q8_0_scales4(w0 + o, w1 + o, w2 + o, w3 + o, x[b].d));
        const auto sum = [&](const uint8_t* wr) {
            return _mm256_cvtepi32_ps(_mm256_dpbusd_avx_epi32(bias, _mm256_xor_si256(loadu256(wr + o + 2), flip), xq));
        };
        a0 = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(d, l0), sum(w0), a0);
        a1 = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(d, l1), sum(w1), a1);
        a2 = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(d, l2), sum(w2), a2);
        a3 = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(d, l3), sum(w3), a3);
    }
    store_sums4(a0, a1, a2, a3, out);
}
MOE_FOUR_ROW_KERNEL(dot4_q8_0_avxvnni, group_q8_0_avxvnni, 32, MOE_VNNI_TARGET)

// AVX-512: rows 0 and 1 share one 512-bit register (lanes 0-7 and 8-15), rows 2 and 3 another; every lane runs
// the 256-bit kernel's sequence, so the bits are the same. Half the instructions per block: one Zen 5 core, rows
// in L2, 256 / 512 columns, 31 / 47 GB/s with the sign-trick kernel, 58 / 69 GB/s with this one.
MOE_AVX512_BEGIN
MOE_AVX512_TARGET inline __m512i load_rows2(const uint8_t* a, const uint8_t* b) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(loadu256(a)), loadu256(b), 1);
}

// store_sums4 for rows 0 and 1 in one register (lanes 0-7, 8-15) and rows 2 and 3 in another: the same additions
// (hsum8's order) with fewer shuffles.
MOE_AVX512_TARGET inline void store_sums4_pairs(__m512 a01, __m512 a23, float* out) {
    // 128-bit blocks [r0 lo, r1 lo, r2 lo, r3 lo] + [r0 hi, r1 hi, r2 hi, r3 hi]: each row's s_i = x_i + x_(i+4).
    const __m512 s = _mm512_add_ps(_mm512_shuffle_f32x4(a01, a23, _MM_SHUFFLE(2, 0, 2, 0)),
                                   _mm512_shuffle_f32x4(a01, a23, _MM_SHUFFLE(3, 1, 3, 1)));
    const __m512 t = _mm512_add_ps(s, _mm512_permute_ps(s, _MM_SHUFFLE(1, 0, 3, 2)));  // s0 + s2, s1 + s3
    const __m512 u = _mm512_add_ps(t, _mm512_permute_ps(t, _MM_SHUFFLE(2, 3, 0, 1)));  // (s0 + s2) + (s1 + s3)
    _mm_storeu_ps(out, _mm512_castps512_ps128(_mm512_permutexvar_ps(
                           _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), u)));
}

MOE_AVX512_TARGET inline __m256 fold_halves(__m512 a) {
    return _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
}

// kRegs (1 or 2) registers of two rows each (rows 0 and 1, then 2 and 3) over all n / 32 blocks into acc[].
template <int kRegs>
MOE_AVX512_TARGET inline void rows_q8_0_avx512(const uint8_t* w, uint64_t rb, const ActQ8x32* x, int64_t n,
                                               SpreadPrefetch& sp, __m512* acc) {
    const uint8_t *w0 = w, *w1 = w + rb, *w2 = w + 2 * rb, *w3 = w + 3 * rb;
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
    const __m512i l01 = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m512i l23 = _mm512_set_epi32(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2);
    __m512 a01 = _mm512_setzero_ps(), a23 = a01;
    for (int64_t b = 0; b < n / 32; ++b) {
        sp.step();
        const __m512i xq = _mm512_broadcast_i64x4(loadu256(x[b].q));
        const __m512i bias = _mm512_broadcast_i64x4(loadu256(x[b].vnni_bias));
        const uint64_t o = static_cast<uint64_t>(b) * 34;
        const __m512 d = _mm512_castps128_ps512(kRegs == 2 ? q8_0_scales4(w0 + o, w1 + o, w2 + o, w3 + o, x[b].d)
                                                           : q8_0_scales2(w0 + o, w1 + o, x[b].d));
        const auto sum = [&](const uint8_t* ra, const uint8_t* rb2) {
            return _mm512_cvtepi32_ps(
                _mm512_dpbusd_epi32(bias, _mm512_xor_si512(load_rows2(ra + o + 2, rb2 + o + 2), flip), xq));
        };
        a01 = _mm512_fmadd_ps(_mm512_permutexvar_ps(l01, d), sum(w0, w1), a01);
        if constexpr (kRegs == 2) a23 = _mm512_fmadd_ps(_mm512_permutexvar_ps(l23, d), sum(w2, w3), a23);
    }
    acc[0] = a01;
    if constexpr (kRegs == 2) acc[1] = a23;
}

// kRegs 2: the four rows side by side; 1: rows 0 and 1 over the whole row, then rows 2 and 3 (each row's sums in
// the same order either way: the same bits).
template <int kRegs>
MOE_AVX512_TARGET inline void group_q8_0_avx512(const uint8_t* w, uint64_t rb, const void* xv, int64_t n, float* out,
                                                SpreadPrefetch& sp) {
    const auto* x = static_cast<const ActQ8x32*>(xv);
    __m512 acc[2];
    rows_q8_0_avx512<kRegs>(w, rb, x, n, sp, acc);
    if constexpr (kRegs == 1) rows_q8_0_avx512<1>(w + 2 * rb, rb, x, n, sp, acc + 1);
    store_sums4_pairs(acc[0], acc[1], out);
}
template <int kRegs>
MOE_FOUR_ROW_KERNEL(dot4_q8_0_avx512_regs, group_q8_0_avx512<kRegs>, 16 * kRegs, MOE_AVX512_TARGET)

// Rows of 257-511 bytes (Q8_0, 256-480 columns) are read two at a time, longer and shorter ones four at a time.
// Random 139 KiB ranges of Q8_0 rows, each range's reads running on into the next, two cores, high-bandwidth
// state, a microbenchmark alternating the forms per round (median of 16-20 rounds): four rows side by side, 128
// columns (136-byte rows) 75.8 GB/s, 256 columns 68.6 / 70.3 / 70.5, 384 columns 71.0, 512 columns 74.7 / 74.5; two
// rows at a time, 256 columns 74.2 / 75.2 / 74.5 (the same loops with loads only and no arithmetic: 256 columns
// 67-69 with four rows, 72 with two: the access pattern). Medium decode, 2 threads, high state, tokens alternating
// within a run (A/A -7..+4 us): the 272-byte down rows two at a time -15 / -17 / -16 us per token of 2.7 ms; every
// row two at a time +37..+130 us (the 544-byte rows lose more than they gain, by the kernel's extra instructions).
MOE_AVX512_TARGET void dot4_q8_0_avx512(const uint8_t* w, uint64_t rb, const void* x, int64_t n, int64_t n_groups,
                                        float* out, PrefetchCursor* pf) {
    if (rb > 256 && rb < 512) return dot4_q8_0_avx512_regs<1>(w, rb, x, n, n_groups, out, pf);
    dot4_q8_0_avx512_regs<2>(w, rb, x, n, n_groups, out, pf);
}

// dot4_half_avx2 and dot4_f32_avx2 with 16 columns per register: lanes 0-7 are a row's a (even 8-column chunks),
// lanes 8-15 its b (odd ones), so every lane runs the 256-bit kernel's sequence (same bits) with half the
// instructions. Medium decode, 2 threads, high state, tokens alternating between the two within a run: F16 -38 /
// -42 us per token of 4.6 ms (low state +4); Q8_0 (its F32 router) -4 / -7 / -4 us.
enum class Wide { F16, BF16, F32 };

template <Wide kW>
MOE_AVX512_TARGET inline __m512 load16_wide(const uint8_t* p) {
    if constexpr (kW == Wide::F32) return _mm512_loadu_ps(reinterpret_cast<const float*>(p));
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    if constexpr (kW == Wide::BF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    return _mm512_cvtph_ps(h);
}

// kRows rows side by side (4: all four; 2: rows 0 and 1 over the whole row, then 2 and 3; each row's sums in the
// same order either way).
template <Wide kW, int kRows>
MOE_AVX512_TARGET inline void group_wide_avx512(const uint8_t* w, uint64_t rb, const void* xv, int64_t n, float* out,
                                                SpreadPrefetch& sp) {
    constexpr int64_t kBytes = kW == Wide::F32 ? 4 : 2;  // per column
    const float* x = static_cast<const float*>(xv);
    if (n % 16 != 0) {
        for (int r = 0; r < 4; ++r)
            out[r] =
                kW == Wide::F32 ? dot_f32w_avx2(w + r * rb, x, n) : dot_half_avx2<kW == Wide::BF16>(w + r * rb, x, n);
        return;
    }
    __m512 acc[4];
    for (int r0 = 0; r0 < 4; r0 += kRows) {
        __m512 a[kRows];
        for (int r = 0; r < kRows; ++r) a[r] = _mm512_setzero_ps();
        for (int64_t i = 0; i < n; i += 16) {
            sp.step();
            const __m512 xv16 = _mm512_loadu_ps(x + i);
            for (int r = 0; r < kRows; ++r)
                a[r] = _mm512_fmadd_ps(load16_wide<kW>(w + (r0 + r) * rb + kBytes * i), xv16, a[r]);
        }
        for (int r = 0; r < kRows; ++r) acc[r0 + r] = a[r];
    }
    store_sums4(fold_halves(acc[0]), fold_halves(acc[1]), fold_halves(acc[2]), fold_halves(acc[3]), out);
}

template <Wide kW, int kRows>
MOE_FOUR_ROW_KERNEL(dot4_wide_avx512_rows, (group_wide_avx512<kW, kRows>), 4 * kRows, MOE_AVX512_TARGET)

// F16 / BF16 rows over 512 bytes are read two at a time, others four at a time. Medium decode, 2 threads, high
// state, tokens alternating within a run (A/A -12..+20 us): the F16 model's 1 KiB rows two at a time -100 / -120
// us per token of 4.7-4.9 ms (low state -19), BF16's -114 / -126; its 512-byte rows too, +2 / +35 / +20 more; the F32
// router's 2 KiB rows (Q8_0 model) +7 / +2 / +8. Where the streams are requested into L2 (Intel) the 512-byte rows
// (medium's expert down rows) are read in pairs too: KVM Xeon, 2 threads, 3 alternations of 96 tokens: 104.8 / 104.7 /
// 103.5 -> 106.7 / 107.1 / 106.2 tok/s.
template <Wide kW>
MOE_AVX512_TARGET void dot4_wide_avx512(const uint8_t* w, uint64_t rb, const void* x, int64_t n, int64_t n_groups,
                                        float* out, PrefetchCursor* pf) {
    if (kW != Wide::F32 && rb >= kPairRowBytes) return dot4_wide_avx512_rows<kW, 2>(w, rb, x, n, n_groups, out, pf);
    dot4_wide_avx512_rows<kW, 4>(w, rb, x, n, n_groups, out, pf);
}

// dot4_q8_0_f32_avx2 with 16 columns per register: lanes 0-7 are a row's s0, lanes 8-15 its s1 (same bits).
MOE_AVX512_TARGET inline __m512 q8_0_to_float16(__m512 d, const uint8_t* q) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
    return _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(v)));
}

MOE_AVX512_TARGET inline void group_q8_0_f32_avx512(const uint8_t* w, uint64_t rb, const void* xv, int64_t n,
                                                    float* out, SpreadPrefetch& sp) {
    const float* x = static_cast<const float*>(xv);
    const uint8_t* rows[4] = {w, w + rb, w + 2 * rb, w + 3 * rb};
    __m512 s[4];
    for (auto& v : s) v = _mm512_setzero_ps();
    for (int64_t b = 0; b < n / 32; ++b) {
        sp.step();
        const __m512 x0 = _mm512_loadu_ps(x + 32 * b), x1 = _mm512_loadu_ps(x + 32 * b + 16);
        for (int r = 0; r < 4; ++r) {
            const uint8_t* blk = rows[r] + 34 * b;
            const __m512 d = _mm512_set1_ps(load_fp16(blk));
            s[r] = _mm512_fmadd_ps(q8_0_to_float16(d, blk + 2), x0, s[r]);
            s[r] = _mm512_fmadd_ps(q8_0_to_float16(d, blk + 18), x1, s[r]);
        }
    }
    store_sums4(fold_halves(s[0]), fold_halves(s[1]), fold_halves(s[2]), fold_halves(s[3]), out);
}
MOE_FOUR_ROW_KERNEL(dot4_q8_0_f32_avx512, group_q8_0_f32_avx512, 32, MOE_AVX512_TARGET)
MOE_AVX512_END

// Q8_0 weights times float activations (ActivationMode::Float: MLA's per-head W_UV products), fused: the same
// bits as dequantizing the row (d * q in float) and dot_f32_avx2 on it (even 8-column chunks in s0, odd in s1),
// without the row going through memory and a dispatch per row.
float dot_q8_0_f32_avx2(const uint8_t* w, const void* xv, int64_t n) {
    const float* x = static_cast<const float*>(xv);
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    for (int64_t b = 0; b < n / 32; ++b, w += 34, x += 32) {
        const __m256 d = _mm256_set1_ps(load_fp16(w));
        s0 = _mm256_fmadd_ps(q8_0_to_float8(d, w + 2), _mm256_loadu_ps(x), s0);
        s1 = _mm256_fmadd_ps(q8_0_to_float8(d, w + 10), _mm256_loadu_ps(x + 8), s1);
        s0 = _mm256_fmadd_ps(q8_0_to_float8(d, w + 18), _mm256_loadu_ps(x + 16), s0);
        s1 = _mm256_fmadd_ps(q8_0_to_float8(d, w + 26), _mm256_loadu_ps(x + 24), s1);
    }
    return hsum8(_mm256_add_ps(s0, s1));
}

// Four rows of dot_q8_0_f32_avx2 at once, each with its exact sequence (s0 over the even 8-column chunks, s1 over
// the odd ones, block by block): eight independent chains instead of two. MLA's W_UV products (64-128 short rows
// per head, held in cache) are bound by this arithmetic, not by memory.
inline void group_q8_0_f32_avx2(const uint8_t* w, uint64_t rb, const void* xv, int64_t n, float* out,
                                SpreadPrefetch& sp) {
    const float* x = static_cast<const float*>(xv);
    const uint8_t* rows[4] = {w, w + rb, w + 2 * rb, w + 3 * rb};
    __m256 s0[4], s1[4];
    for (int r = 0; r < 4; ++r) s0[r] = s1[r] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 32; ++b) {
        sp.step();
        const float* xb = x + 32 * b;
        const __m256 x0 = _mm256_loadu_ps(xb), x1 = _mm256_loadu_ps(xb + 8), x2 = _mm256_loadu_ps(xb + 16);
        const __m256 x3 = _mm256_loadu_ps(xb + 24);
        for (int r = 0; r < 4; ++r) {
            const uint8_t* blk = rows[r] + 34 * b;
            const __m256 d = _mm256_set1_ps(load_fp16(blk));
            s0[r] = _mm256_fmadd_ps(q8_0_to_float8(d, blk + 2), x0, s0[r]);
            s1[r] = _mm256_fmadd_ps(q8_0_to_float8(d, blk + 10), x1, s1[r]);
            s0[r] = _mm256_fmadd_ps(q8_0_to_float8(d, blk + 18), x2, s0[r]);
            s1[r] = _mm256_fmadd_ps(q8_0_to_float8(d, blk + 26), x3, s1[r]);
        }
    }
    store_sums4(_mm256_add_ps(s0[0], s1[0]), _mm256_add_ps(s0[1], s1[1]), _mm256_add_ps(s0[2], s1[2]),
                _mm256_add_ps(s0[3], s1[3]), out);
}
MOE_FOUR_ROW_KERNEL(dot4_q8_0_f32_avx2, group_q8_0_f32_avx2, 32)

bool has_avxvnni() {
    static const bool yes = __builtin_cpu_supports("avxvnni");
    return yes;
}

#endif

using DotFn = RowKernelFn;
using Dot4Fn = void (*)(const uint8_t*, uint64_t, const void*, int64_t, int64_t, float*, PrefetchCursor*);

Dot4Fn native_kernel4(GgmlType type, bool simd) {
#if MOE_CPU_AVX2
    if (simd) {
        switch (type) {
            case GgmlType::F32:
                return use_avx512() ? dot4_wide_avx512<Wide::F32> : dot4_f32_avx2;
            case GgmlType::F16:
                return use_avx512() ? dot4_wide_avx512<Wide::F16> : dot4_half_avx2<false>;
            case GgmlType::BF16:
                return use_avx512() ? dot4_wide_avx512<Wide::BF16> : dot4_half_avx2<true>;
            case GgmlType::Q8_0:
                return use_avx512() ? dot4_q8_0_avx512 : has_avxvnni() ? dot4_q8_0_avxvnni : dot4_q8_0_avx2;
            default:
                return nullptr;
        }
    }
#endif
    (void)type;
    (void)simd;
    return nullptr;
}

DotFn native_kernel(GgmlType type, bool simd) {
#if MOE_CPU_AVX2
    if (simd) {
        switch (type) {
            case GgmlType::F32:
                return dot_f32w_avx2;
            case GgmlType::F16:
                return dot_half_avx2<false>;
            case GgmlType::BF16:
                return dot_half_avx2<true>;
            case GgmlType::Q8_0:
                return has_avxvnni() ? dot_q8_0_avxvnni : dot_q8_0_avx2;
            case GgmlType::Q4_0:
                return dot_q4_0_avx2;
            case GgmlType::Q4_1:
                return dot_q4_1_avx2;
            case GgmlType::Q5_0:
                return dot_q5_0_avx2;
            case GgmlType::Q5_1:
                return dot_q5_1_avx2;
            case GgmlType::Q4_K:
                return dot_q4_k_avx2;
            case GgmlType::Q5_K:
                return dot_q5_k_avx2;
            case GgmlType::Q6_K:
                return dot_q6_k_avx2;
            default:
                return nullptr;
        }
    }
#endif
    (void)simd;
    return scalar_kernel(type);
}

const float* fp8_lut() {
    static const auto* table = [] {
        auto* t = new float[256];
        for (int i = 0; i < 256; ++i) t[i] = fp8_e4m3_to_fp32(static_cast<uint8_t>(i));
        return t;
    }();
    return table;
}

}  // namespace

float dot_f32(const float* a, const float* b, int64_t n) {
#if MOE_CPU_AVX2
    if (use_simd()) return dot_f32_avx2(a, b, n);
#endif
    return dot_f32_scalar(a, b, n);
}

bool make_row_kernel(GgmlType type, ActivationMode mode, RowKernel* out) {
    RowKernel k;
    k.wtype = type;
    k.act = act_type_for(type, mode);
    const bool float_like = type == GgmlType::F32 || type == GgmlType::F16 || type == GgmlType::BF16;
    if (mode == ActivationMode::Native || float_like) {
        k.fn = native_kernel(type, use_simd());
        k.fn4 = native_kernel4(type, use_simd());
    }
#if MOE_CPU_AVX2
    if (mode == ActivationMode::Float && type == GgmlType::Q8_0 && use_simd()) {
        k.fn = dot_q8_0_f32_avx2;
        k.fn4 = use_avx512() ? dot4_q8_0_f32_avx512 : dot4_q8_0_f32_avx2;
    }
#endif
    // Types without a direct kernel (or quantized weights with float activations) dequantize the row first.
    const bool dequantizable = type == GgmlType::F8_E4M3_B128 || (can_dequantize(type) && type != GgmlType::Q8_K);
    if (k.fn == nullptr && !dequantizable) return false;
    *out = k;
    return true;
}

void dequant_row_segment(const MatrixView& w, int64_t r, int64_t c0, int64_t n, float* dst) {
    const uint8_t* row = w.data + static_cast<uint64_t>(r) * w.row_bytes;
    if (w.type == GgmlType::F8_E4M3_B128) {
        // Scale row (scale_row0 + r) / 128; scales are unaligned float32.
        const uint8_t* srow = w.block_scales + static_cast<uint64_t>((w.scale_row0 + r) / 128) *
                                                   static_cast<uint64_t>(w.scale_cols) * sizeof(float);
        if (c0 % 128 == 0) {
            // Block-aligned (whole rows, GEMM panels): the vectorised row decoder, 64 scale blocks at a time.
            float scales[64];
            for (int64_t c = c0; c < c0 + n; c += 64 * 128) {
                const int64_t len = std::min<int64_t>(64 * 128, c0 + n - c);
                const int64_t n_scales = (len + 127) / 128;
                std::memcpy(scales, srow + static_cast<uint64_t>(c / 128) * sizeof(float),
                            static_cast<size_t>(n_scales) * sizeof(float));
                dequantize_fp8_row(row + c, scales, len, dst + (c - c0));
            }
            return;
        }
        const float* lut = fp8_lut();
        for (int64_t c = c0; c < c0 + n;) {
            float s = 0.0f;
            std::memcpy(&s, srow + static_cast<uint64_t>(c / 128) * sizeof(float), sizeof s);
            const int64_t end = std::min<int64_t>(c0 + n, (c / 128 + 1) * 128);
            for (; c < end; ++c) dst[c - c0] = lut[row[c]] * s;
        }
        return;
    }
    const auto info = ggml_type_info(static_cast<uint32_t>(w.type));
    const uint64_t off = static_cast<uint64_t>(c0 / info->block_elems) * info->block_bytes;
    (void)dequantize_row(w.type, row + off, dst, n);
}

float row_dot(const MatrixView& w, const RowKernel& k, int64_t r, const void* x, float* scratch) {
    if (k.fn != nullptr) return k.fn(w.data + static_cast<uint64_t>(r) * w.row_bytes, x, w.cols);
    dequant_row_segment(w, r, 0, w.cols, scratch);
    return dot_f32(scratch, static_cast<const float*>(x), w.cols);
}

// dot_rows keeps the cache lines ahead of the rows it reads requested (software prefetch, each line once, at most
// a few lines past the range's last row, then on into `then`), spread over the four-row kernels' iterations. The lead
// (kPrefetchLead) covers a memory latency under load at a core's bandwidth, and more than a group of four rows, since
// the four rows are read side by side. Decode's rows are short (136 B - 4 KiB) and its ranges small (one thread's rows
// of an expert matrix: ~70 KiB); four interleaved rows defeat the hardware prefetcher whatever their length. One Zen 4
// core, Q8_0 four-row kernel, 512 MiB of rows, GB/s without / with (read probe 30-39): 512 columns 7.5 / 36.6, 2048
// columns 10.4 / 32.5, 4096 columns 12.4 / 31.1, 8192 columns 14.9 / 30.1.
inline uint64_t prefetch_lead(uint64_t row_bytes) {
    return row_bytes < kShortRowBytes ? kPrefetchLead : std::max<uint64_t>(kPrefetchLead / 2, 4 * row_bytes + 4096);
}

void dot_rows(const MatrixView& w, const RowKernel& k, int64_t r0, int64_t r1, const void* x, float* out,
              float* scratch, ByteSpan then) {
    if (r0 >= r1) return;
    const uint64_t rb = w.row_bytes;
    const auto addr = [&](int64_t r) { return reinterpret_cast<uintptr_t>(w.data + static_cast<uint64_t>(r) * rb); };
    const uint64_t lead = prefetch_lead(rb);
    PrefetchCursor pf;
    pf.next = addr(r0) & ~uintptr_t{63};
    pf.end = addr(r1);
    // The lead that runs past this range continues into `then`.
    pf.then_begin = pf.then_next = reinterpret_cast<uintptr_t>(then.begin) & ~uintptr_t{63};
    pf.then_end = reinterpret_cast<uintptr_t>(then.end);
    request_until(pf, addr(r0) + lead);
    int64_t r = r0;
    if (k.fn4 != nullptr && r1 - r0 >= 4) {
        // The kernel moves the lead on by a group's bytes per group of four rows.
        k.fn4(w.data + static_cast<uint64_t>(r0) * rb, rb, x, w.cols, (r1 - r0) / 4, out, &pf);
        r += (r1 - r0) / 4 * 4;
    }
    for (; r < r1; ++r) {
        request_until(pf, addr(r + 1) + lead);
        out[r - r0] = row_dot(w, k, r, x, scratch);
    }
}

}  // namespace moe::cpu::detail
