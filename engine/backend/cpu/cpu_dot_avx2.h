// AVX2 helpers shared by the dot-product kernels (cpu_dot.cpp) and the one-row kernels of the legacy and k-quant
// types (cpu_dot_quants.cpp).
#pragma once

#include "backend/cpu/simd.h"

#include <cstdint>

#if MOE_CPU_AVX2
namespace moe::cpu::detail {

// The horizontal sum of eight floats, ((x0 + x4) + (x2 + x6)) + ((x1 + x5) + (x3 + x7)): the order every kernel keeps.
inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

inline __m256i loadu256(const void* p) {
    return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

// Signed int8 x signed int8 -> 8 int32 (sums of 4 products): |w| as unsigned times x with w's sign.
inline __m256i mul_sum_i8(__m256i w, __m256i x) {
    const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

inline __m256i mul_sum_u8i8(__m256i u, __m256i x) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, x), _mm256_set1_epi16(1));
}

// 16 bytes of nibbles -> 32 bytes: low nibbles first (elements 0..15), then high (16..31).
inline __m256i nibbles32(const uint8_t* p) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i m = _mm_set1_epi8(0x0f);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(b, 4), m), _mm_and_si128(b, m));
}

// Bit i of the 32-bit word -> byte i = 0xff when set.
inline __m256i bits_to_bytes(uint32_t bits) {
    const __m256i shuf =
        _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)), shuf);
    v = _mm256_or_si256(v, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
    return _mm256_cmpeq_epi8(v, _mm256_set1_epi64x(-1));
}

// One-row kernels (RowKernelFn) of the legacy and k-quant weight types times Q8 activations.
float dot_q4_0_avx2(const uint8_t* w, const void* x, int64_t n);
float dot_q4_1_avx2(const uint8_t* w, const void* x, int64_t n);
float dot_q5_0_avx2(const uint8_t* w, const void* x, int64_t n);
float dot_q5_1_avx2(const uint8_t* w, const void* x, int64_t n);
float dot_q4_k_avx2(const uint8_t* w, const void* x, int64_t n);
float dot_q5_k_avx2(const uint8_t* w, const void* x, int64_t n);
float dot_q6_k_avx2(const uint8_t* w, const void* x, int64_t n);

}  // namespace moe::cpu::detail
#endif
