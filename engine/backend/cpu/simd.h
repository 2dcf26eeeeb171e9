// Small float32 vector helpers for the CPU ops (AVX2/FMA when compiled for it, scalar otherwise).
#pragma once

#include "core/half.h"

#include <cstdint>
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define MOE_CPU_AVX2 1
#endif

namespace moe::cpu {

#if MOE_CPU_AVX2
// Eight Q8_0 weights as floats, d * q exactly as dequantize_row computes them (d: the block scale, broadcast).
inline __m256 q8_0_to_float8(__m256 d, const uint8_t* q) {
    const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q));
    return _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v)));
}

// exp(x) by Cephes' expf polynomial: relative error < 2e-7, about an ulp of glibc's expf. x is clamped to
// [-87.3, 88] first (below: 1.2e-38 where expf gives a denormal or 0; a NaN stays NaN); x = n ln2 + r,
// |r| <= ln2 / 2, exp(r) = 1 + r + r^2 p(r), times 2^n built in the exponent field (n in [-126, 127]).
inline __m256 exp8(__m256 x) {
    // max/min return their second operand when one is NaN: x last keeps a NaN.
    x = _mm256_min_ps(_mm256_set1_ps(88.0f), _mm256_max_ps(_mm256_set1_ps(-87.3f), x));
    const __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    const __m256 er = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
    const __m256i n = _mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127));
    return _mm256_mul_ps(er, _mm256_castsi256_ps(_mm256_slli_epi32(n, 23)));
}

// y[i] = f(y[i], u[i]) eight lanes at a time (f: (__m256, __m256) -> __m256); the tail goes through the same
// lanes, zero-padded, so an element's result depends only on its values, never on n or its index.
template <class F>
inline void map8(float* y, const float* u, int64_t n, F f) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, f(_mm256_loadu_ps(y + i), _mm256_loadu_ps(u + i)));
    if (i == n) return;
    float a[8] = {}, b[8] = {};
    for (int64_t j = i; j < n; ++j) {
        a[j - i] = y[j];
        b[j - i] = u[j];
    }
    _mm256_storeu_ps(a, f(_mm256_loadu_ps(a), _mm256_loadu_ps(b)));
    for (int64_t j = i; j < n; ++j) y[j] = a[j - i];
}

inline float hsum256(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v);
    const __m128 hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    __m128 sh = _mm_movehdup_ps(lo);
    __m128 s = _mm_add_ps(lo, sh);
    sh = _mm_movehl_ps(sh, s);
    s = _mm_add_ss(s, sh);
    return _mm_cvtss_f32(s);
}
#endif

// sum a[i] * b[i]
inline float dot_f32(const float* a, const float* b, int64_t n) {
    int64_t i = 0;
    float s = 0.0f;
#if MOE_CPU_AVX2
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    s = hsum256(_mm256_add_ps(acc0, acc1));
#endif
    for (; i < n; ++i) s += a[i] * b[i];
    return s;
}

// sum a[i] * fp16(b[i])
inline float dot_f32_f16(const float* a, const uint16_t* b, int64_t n) {
    int64_t i = 0;
    float s = 0.0f;
#if MOE_CPU_AVX2 && defined(__F16C__)
    __m256 acc0 = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8) {
        const __m256 bf = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i)));
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), bf, acc0);
    }
    s = hsum256(acc0);
#endif
    for (; i < n; ++i) s += a[i] * fp16_to_fp32(b[i]);
    return s;
}

// y[i] += alpha * x[i]
inline void axpy_f32(float* y, float alpha, const float* x, int64_t n) {
    int64_t i = 0;
#if MOE_CPU_AVX2
    const __m256 va = _mm256_set1_ps(alpha);
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
#endif
    for (; i < n; ++i) y[i] += alpha * x[i];
}

inline void axpy_f16(float* y, float alpha, const uint16_t* x, int64_t n) {
    int64_t i = 0;
#if MOE_CPU_AVX2 && defined(__F16C__)
    const __m256 va = _mm256_set1_ps(alpha);
    for (; i + 8 <= n; i += 8) {
        const __m256 xf = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i)));
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, xf, _mm256_loadu_ps(y + i)));
    }
#endif
    for (; i < n; ++i) y[i] += alpha * fp16_to_fp32(x[i]);
}

}  // namespace moe::cpu
