// Activation preparation: rounding / quantizing x to the weight's dot type exactly as llama.cpp's CPU backend
// does (shared fixtures section 4), scalar and AVX2 (bit-identical: the same float operations in the same
// order per element), plus the per-thread scratch buffers.
#include "backend/cpu/cpu_kernels.h"

#include "backend/cpu/cpu_matmul.h"
#include "core/half.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>

#if MOE_CPU_AVX2
#include <immintrin.h>
#endif

namespace moe::cpu {

namespace {
std::atomic<bool> g_simd_enabled{true};
std::atomic<bool> g_avx512_enabled{true};
}

void set_simd_enabled(bool enabled) {
    g_simd_enabled.store(enabled, std::memory_order_relaxed);
}
void set_avx512_enabled(bool enabled) {
    g_avx512_enabled.store(enabled, std::memory_order_relaxed);
}
bool simd_available() {
    return MOE_CPU_AVX2 != 0;
}

}  // namespace moe::cpu

namespace moe::cpu::detail {

bool use_simd() {
    return MOE_CPU_AVX2 && g_simd_enabled.load(std::memory_order_relaxed);
}

bool use_avx512() {
#if MOE_CPU_AVX2
    static const bool cpu = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                            __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                            __builtin_cpu_supports("avx512vnni");
    return cpu && use_simd() && g_avx512_enabled.load(std::memory_order_relaxed);
#else
    return false;
#endif
}

namespace {

inline float round_fp16(float v) {
    return fp16_to_fp32(fp32_to_fp16(v));
}

// nearbyint (round half to even in the default rounding mode) to int; NaN (from inf or NaN activations) gives
// -128 like the AVX2 conversion after saturation, instead of undefined behaviour.
inline int round_to_int(float v) {
    const float r = std::nearbyint(v);
    return r >= -128.0f && r <= 127.0f ? static_cast<int>(r) : (r > 127.0f ? 127 : -128);
}

// ---- scalar references ----

// Q8_0 / Q8_1 as llama.cpp's quantize_row_q8_0/q8_1 (AVX2 path): d = amax/127, id = 127/amax,
// q = round-half-even(x * id); s = fp16(d * sum q).
void quant_q8x32_scalar(const float* x, int64_t n_blocks, ActQ8x32* y) {
    for (int64_t b = 0; b < n_blocks; ++b, x += 32) {
        float amax = 0.0f;
        for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / 127.0f;
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        int sum = 0;
        for (int j = 0; j < 32; ++j) {
            const int q = round_to_int(x[j] * id);
            y[b].q[j] = static_cast<int8_t>(q);
            sum += q;
        }
        for (int i = 0; i < 8; ++i)
            y[b].vnni_bias[i] = -128 * (y[b].q[4 * i] + y[b].q[4 * i + 1] + y[b].q[4 * i + 2] + y[b].q[4 * i + 3]);
        y[b].d = round_fp16(d);
        y[b].s = round_fp16(d * static_cast<float>(sum));
        y[b].dsum = y[b].d * static_cast<float>(sum);
    }
}

// Q8_K as llama.cpp's quantize_row_q8_K: v = the first element of largest |x|, iscale = -127/v,
// q = min(127, nearest(iscale * x)), d = 1/iscale; an all-zero block gives d = 0, q = 0.
void quant_q8k_scalar(const float* x, int64_t n_blocks, ActQ8x256* y) {
    for (int64_t b = 0; b < n_blocks; ++b, x += 256) {
        float amax = 0.0f, vmax = 0.0f;
        for (int j = 0; j < 256; ++j) {
            const float ax = std::fabs(x[j]);
            if (ax > amax) {
                amax = ax;
                vmax = x[j];
            }
        }
        ActQ8x256& o = y[b];
        if (amax == 0.0f) {
            o = ActQ8x256{};
            continue;
        }
        const float iscale = -127.0f / vmax;
        for (int j = 0; j < 256; ++j) {
            const int q = round_to_int(iscale * x[j]);
            o.q[j] = static_cast<int8_t>(std::min(127, q));
        }
        for (int g = 0; g < 16; ++g) {
            int s = 0;
            for (int j = 0; j < 16; ++j) s += o.q[16 * g + j];
            o.bsums[g] = static_cast<int16_t>(s);
        }
        o.d = 1.0f / iscale;
    }
}

void round_f16_scalar(const float* x, int64_t n, float* y) {
    for (int64_t i = 0; i < n; ++i) y[i] = round_fp16(x[i]);
}

void round_bf16_scalar(const float* x, int64_t n, float* y) {
    for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_fp32(fp32_to_bf16(x[i]));
}

#if MOE_CPU_AVX2
inline float hmax8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

inline int hsum_i32x8(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
    return _mm_cvtsi128_si32(s);
}

// 32 int32 lanes (4 vectors, in element order) -> 32 int8 in element order.
inline __m256i pack_i32_to_i8(__m256i a, __m256i b, __m256i c, __m256i d) {
    const __m256i ab = _mm256_packs_epi32(a, b);  // per 128-bit lane: a0-3 b0-3 | a4-7 b4-7
    const __m256i cd = _mm256_packs_epi32(c, d);
    const __m256i v = _mm256_packs_epi16(ab, cd);  // a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 c4-7 d4-7
    return _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

void quant_q8x32_avx2(const float* x, int64_t n_blocks, ActQ8x32* y) {
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (int64_t b = 0; b < n_blocks; ++b, x += 32) {
        __m256 v[4];
        for (int i = 0; i < 4; ++i) v[i] = _mm256_loadu_ps(x + 8 * i);
        __m256 m = _mm256_max_ps(_mm256_and_ps(v[0], abs_mask), _mm256_and_ps(v[1], abs_mask));
        m = _mm256_max_ps(m, _mm256_max_ps(_mm256_and_ps(v[2], abs_mask), _mm256_and_ps(v[3], abs_mask)));
        const float amax = hmax8(m);
        const float d = amax / 127.0f;
        const __m256 id = _mm256_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
        __m256i q[4];
        for (int i = 0; i < 4; ++i)
            q[i] = _mm256_cvtps_epi32(
                _mm256_round_ps(_mm256_mul_ps(v[i], id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        const int sum = hsum_i32x8(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
        const __m256i q8 = pack_i32_to_i8(q[0], q[1], q[2], q[3]);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[b].q), q8);
        // Sums of four quants (maddubs by 1 into pairs, madd into fours), times -128.
        const __m256i four = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q8), _mm256_set1_epi16(1));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[b].vnni_bias),
                            _mm256_slli_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), four), 7));
        y[b].d = round_fp16(d);
        y[b].s = round_fp16(d * static_cast<float>(sum));
        y[b].dsum = y[b].d * static_cast<float>(sum);
    }
}

void quant_q8k_avx2(const float* x, int64_t n_blocks, ActQ8x256* y) {
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (int64_t b = 0; b < n_blocks; ++b, x += 256) {
        __m256 m = _mm256_setzero_ps();
        for (int i = 0; i < 256; i += 8) m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(x + i), abs_mask));
        const float amax = hmax8(m);
        ActQ8x256& o = y[b];
        if (amax == 0.0f) {
            o = ActQ8x256{};
            continue;
        }
        // The first element reaching amax (the scalar loop keeps the first strict maximum).
        const __m256 target = _mm256_set1_ps(amax);
        float vmax = 0.0f;
        for (int i = 0; i < 256; i += 8) {
            const __m256 v = _mm256_loadu_ps(x + i);
            const int hit = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_and_ps(v, abs_mask), target, _CMP_EQ_OQ));
            if (hit != 0) {
                vmax = x[i + __builtin_ctz(static_cast<unsigned>(hit))];
                break;
            }
        }
        const float iscale = -127.0f / vmax;
        const __m256 vs = _mm256_set1_ps(iscale);
        const __m256i lim = _mm256_set1_epi32(127);
        for (int i = 0; i < 256; i += 32) {
            __m256i q[4];
            for (int j = 0; j < 4; ++j) {
                const __m256 p = _mm256_mul_ps(vs, _mm256_loadu_ps(x + i + 8 * j));
                q[j] = _mm256_min_epi32(
                    lim, _mm256_cvtps_epi32(_mm256_round_ps(p, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)));
            }
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(o.q + i), pack_i32_to_i8(q[0], q[1], q[2], q[3]));
        }
        const __m256i ones = _mm256_set1_epi16(1);
        for (int g = 0; g < 16; g += 2) {
            // Two groups of 16: widen to int16, pairwise sums, then fold each 128-bit half.
            const __m256i w = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(o.q + 16 * g)));
            const __m256i w2 =
                _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(o.q + 16 * g + 16)));
            o.bsums[g] = static_cast<int16_t>(hsum_i32x8(_mm256_madd_epi16(w, ones)));
            o.bsums[g + 1] = static_cast<int16_t>(hsum_i32x8(_mm256_madd_epi16(w2, ones)));
        }
        o.d = 1.0f / iscale;
    }
}

void round_f16_avx2(const float* x, int64_t n, float* y) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(h));
    }
    round_f16_scalar(x + i, n - i, y + i);
}

// bf16 round-to-nearest-even on the bits; NaN keeps a quiet NaN (as fp32_to_bf16).
void round_bf16_avx2(const float* x, int64_t n, float* y) {
    int64_t i = 0;
    const __m256i one = _mm256_set1_epi32(1), bias = _mm256_set1_epi32(0x7fff);
    const __m256i hi_mask = _mm256_set1_epi32(static_cast<int>(0xffff0000u));
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        if (_mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)) != 0) {
            round_bf16_scalar(x + i, 8, y + i);
            continue;
        }
        const __m256i b = _mm256_castps_si256(v);
        const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(b, 16), one);
        const __m256i r = _mm256_and_si256(_mm256_add_epi32(_mm256_add_epi32(b, bias), lsb), hi_mask);
        _mm256_storeu_ps(y + i, _mm256_castsi256_ps(r));
    }
    round_bf16_scalar(x + i, n - i, y + i);
}
#endif

}  // namespace

bool act_is_float(ActType t) {
    return t == ActType::F32 || t == ActType::F16Round || t == ActType::BF16Round || t == ActType::Q8_KFloat;
}

ActType act_type_for(GgmlType type, ActivationMode mode) {
    if (mode == ActivationMode::Float) return ActType::F32;
    switch (type) {
        case GgmlType::F16:
            return ActType::F16Round;
        case GgmlType::BF16:
            return ActType::BF16Round;
        case GgmlType::Q8_0:
        case GgmlType::Q4_0:
        case GgmlType::Q5_0:
            return ActType::Q8_0;
        case GgmlType::Q4_1:
        case GgmlType::Q5_1:
            return ActType::Q8_1;
        case GgmlType::Q4_K:
        case GgmlType::Q5_K:
        case GgmlType::Q6_K:
            return ActType::Q8_K;
        case GgmlType::Q2_K:
        case GgmlType::Q3_K:
            return ActType::Q8_KFloat;
        default:
            return ActType::F32;
    }
}

int64_t act_row_bytes(ActType t, int64_t cols) {
    switch (t) {
        case ActType::Q8_0:
        case ActType::Q8_1:
            return cols / 32 * static_cast<int64_t>(sizeof(ActQ8x32));
        case ActType::Q8_K:
            return cols / 256 * static_cast<int64_t>(sizeof(ActQ8x256));
        default:
            return cols * static_cast<int64_t>(sizeof(float));
    }
}

void prepare_act(ActType t, const float* x, int64_t cols, void* dst) {
    const bool simd = use_simd();
    (void)simd;
    switch (t) {
        case ActType::F32:
            std::memcpy(dst, x, static_cast<size_t>(cols) * sizeof(float));
            return;
        case ActType::F16Round:
#if MOE_CPU_AVX2
            if (simd) return round_f16_avx2(x, cols, static_cast<float*>(dst));
#endif
            return round_f16_scalar(x, cols, static_cast<float*>(dst));
        case ActType::BF16Round:
#if MOE_CPU_AVX2
            if (simd) return round_bf16_avx2(x, cols, static_cast<float*>(dst));
#endif
            return round_bf16_scalar(x, cols, static_cast<float*>(dst));
        case ActType::Q8_0:
        case ActType::Q8_1:
#if MOE_CPU_AVX2
            if (simd) return quant_q8x32_avx2(x, cols / 32, static_cast<ActQ8x32*>(dst));
#endif
            return quant_q8x32_scalar(x, cols / 32, static_cast<ActQ8x32*>(dst));
        case ActType::Q8_K:
#if MOE_CPU_AVX2
            if (simd) return quant_q8k_avx2(x, cols / 256, static_cast<ActQ8x256*>(dst));
#endif
            return quant_q8k_scalar(x, cols / 256, static_cast<ActQ8x256*>(dst));
        case ActType::Q8_KFloat: {
            // Quantize block by block through a small buffer, then write d*q in place.
            float* out = static_cast<float*>(dst);
            for (int64_t b = 0; b < cols / 256; ++b) {
                ActQ8x256 blk{};
#if MOE_CPU_AVX2
                if (simd)
                    quant_q8k_avx2(x + 256 * b, 1, &blk);
                else
#endif
                    quant_q8k_scalar(x + 256 * b, 1, &blk);
                for (int j = 0; j < 256; ++j) out[256 * b + j] = blk.d * static_cast<float>(blk.q[j]);
            }
            return;
        }
    }
}

void act_to_float(ActType t, const void* act, int64_t cols, float* dst) {
    if (t == ActType::Q8_0 || t == ActType::Q8_1) {
        const auto* b = static_cast<const ActQ8x32*>(act);
        for (int64_t i = 0; i < cols; ++i) dst[i] = b[i / 32].d * static_cast<float>(b[i / 32].q[i % 32]);
    } else if (t == ActType::Q8_K) {
        const auto* b = static_cast<const ActQ8x256*>(act);
        for (int64_t i = 0; i < cols; ++i) dst[i] = b[i / 256].d * static_cast<float>(b[i / 256].q[i % 256]);
    } else {
        std::memcpy(dst, act, static_cast<size_t>(cols) * sizeof(float));
    }
}

namespace {
struct AlignedFree {
    void operator()(float* p) const { std::free(p); }
};
struct ScratchSlot {
    std::unique_ptr<float, AlignedFree> data;
    int64_t capacity = 0;
};
constexpr int kScratchSlots = 16;
}  // namespace

float* scratch_floats(int slot, int64_t n) {
    thread_local ScratchSlot slots[kScratchSlots];
    ScratchSlot& s = slots[slot];
    if (s.capacity < n) {
        // Round up to 64 bytes (aligned_alloc's size must be a multiple of the alignment); +64 floats of slack.
        const int64_t want = std::max<int64_t>(n + 64, s.capacity * 3 / 2);
        const size_t bytes = (static_cast<size_t>(want) * sizeof(float) + 63) / 64 * 64;
        s.data.reset(static_cast<float*>(std::aligned_alloc(64, bytes)));
        s.capacity = s.data ? want : 0;
    }
    return s.data.get();
}

}  // namespace moe::cpu::detail
