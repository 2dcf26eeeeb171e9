// One-row AVX2 kernels of the legacy (Q4_0, Q4_1, Q5_0, Q5_1) and k-quant (Q4_K, Q5_K, Q6_K) weight types times
// Q8 activations (ActQ8x32 / ActQ8K): the integer sums of one block at a time, scaled and added in float.
#include "backend/cpu/cpu_dot_avx2.h"

#include "backend/cpu/cpu_kernels.h"
#include "formats/quants.h"
#include "formats/quants_internal.h"

#if MOE_CPU_AVX2
namespace moe::cpu::detail {

using quants_detail::load_fp16;
using quants_detail::load_u32;

namespace {

// One Q4_0 (18 B) / Q4_1 (20 B) / Q5_0 (22 B) / Q5_1 (24 B) block's unsigned quants (4 or 5 bits) times its
// activation block: 8 int32 sums of q * x.
template <int kQsOff, bool kHasQh>
inline __m256i legacy_block_avx2(const uint8_t* w, const int8_t* xq) {
    __m256i q = nibbles32(w + kQsOff);
    if (kHasQh)
        q = _mm256_or_si256(q, _mm256_and_si256(bits_to_bytes(load_u32(w + kQsOff - 4)), _mm256_set1_epi8(0x10)));
    return mul_sum_u8i8(q, loadu256(xq));
}

// Weight = d * (q - bias) (Q4_0: 8, Q5_0: 16) or d * q + m (*_1): the bias costs bias d_w (d_x sum(q_x)) per
// block, the min m_w * s_x (scalar sums kept apart from the vector ones, two chains for latency). Two blocks per
// iteration into two accumulators (latency hiding).
template <int kBytes, int kQsOff, bool kHasMin, bool kHasQh>
float dot_legacy_avx2(const uint8_t* w, const void* xv, int64_t n) {
    const auto* x = static_cast<const ActQ8x32*>(xv);
    constexpr float kBias = kHasMin ? 0.0f : (kHasQh ? 16.0f : 8.0f);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
    float extra0 = 0.0f, extra1 = 0.0f;
    const auto block_extra = [&](const uint8_t* wb, const ActQ8x32& xb, float dw) {
        return kHasMin ? load_fp16(wb + 2) * xb.s : (-kBias * dw) * xb.dsum;
    };
    const int64_t nb = n / 32;
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2, w += 2 * kBytes) {
        const __m256i p0 = legacy_block_avx2<kQsOff, kHasQh>(w, x[b].q);
        const __m256i p1 = legacy_block_avx2<kQsOff, kHasQh>(w + kBytes, x[b + 1].q);
        const float dw0 = load_fp16(w), dw1 = load_fp16(w + kBytes);
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(dw0 * x[b].d), _mm256_cvtepi32_ps(p0), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(dw1 * x[b + 1].d), _mm256_cvtepi32_ps(p1), acc1);
        extra0 += block_extra(w, x[b], dw0);
        extra1 += block_extra(w + kBytes, x[b + 1], dw1);
    }
    for (; b < nb; ++b, w += kBytes) {
        const __m256i p = legacy_block_avx2<kQsOff, kHasQh>(w, x[b].q);
        const float dw = load_fp16(w);
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(dw * x[b].d), _mm256_cvtepi32_ps(p), acc0);
        extra0 += block_extra(w, x[b], dw);
    }
    return hsum8(_mm256_add_ps(acc0, acc1)) + (extra0 + extra1);
}

// Q4_K / Q5_K scales and mins (12 bytes, 6 bits each) unpacked with word operations: sc[8], mn[8].
inline void unpack_k4_scales(const uint8_t* s, uint8_t* sc, uint8_t* mn) {
    uint32_t a = 0, b = 0, c = 0;
    std::memcpy(&a, s, 4);
    std::memcpy(&b, s + 4, 4);
    std::memcpy(&c, s + 8, 4);
    const uint32_t sc03 = a & 0x3f3f3f3fu, mn03 = b & 0x3f3f3f3fu;
    const uint32_t sc47 = (c & 0x0f0f0f0fu) | ((a >> 2) & 0x30303030u);
    const uint32_t mn47 = ((c >> 4) & 0x0f0f0f0fu) | ((b >> 2) & 0x30303030u);
    std::memcpy(sc, &sc03, 4);
    std::memcpy(sc + 4, &sc47, 4);
    std::memcpy(mn, &mn03, 4);
    std::memcpy(mn + 4, &mn47, 4);
}

template <bool kFive>
float dot_q45_k_avx2(const uint8_t* w, const void* xv, int64_t n) {
    const auto* x = static_cast<const ActQ8x256*>(xv);
    constexpr int kBytes = kFive ? 176 : 144;
    constexpr int kQsOff = kFive ? 48 : 16;
    const __m256i m4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
    __m256 acc = _mm256_setzero_ps();
    float macc = 0.0f;
    for (int64_t b = 0; b < n / 256; ++b, w += kBytes) {
        uint8_t sc[8], mn[8];
        unpack_k4_scales(w + 4, sc, mn);
        const __m256i qh = kFive ? loadu256(w + 16) : _mm256_setzero_si256();
        __m256i isum = _mm256_setzero_si256();
        int msum = 0;
        for (int c = 0; c < 4; ++c) {
            const __m256i q = loadu256(w + kQsOff + 32 * c);
            __m256i lo = _mm256_and_si256(q, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            if (kFive) {
                lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), one), 4));
                hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c + 1), one), 4));
            }
            const __m256i plo =
                _mm256_madd_epi16(_mm256_maddubs_epi16(lo, loadu256(x[b].q + 64 * c)), _mm256_set1_epi16(sc[2 * c]));
            const __m256i phi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, loadu256(x[b].q + 64 * c + 32)),
                                                  _mm256_set1_epi16(sc[2 * c + 1]));
            isum = _mm256_add_epi32(isum, _mm256_add_epi32(plo, phi));
        }
        for (int j = 0; j < 8; ++j) msum += mn[j] * (x[b].bsums[2 * j] + x[b].bsums[2 * j + 1]);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(load_fp16(w) * x[b].d), _mm256_cvtepi32_ps(isum), acc);
        macc += load_fp16(w + 2) * x[b].d * static_cast<float>(msum);
    }
    return hsum8(acc) - macc;
}

}  // namespace

float dot_q6_k_avx2(const uint8_t* w, const void* xv, int64_t n) {
    const auto* x = static_cast<const ActQ8x256*>(xv);
    const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(3);
    __m256 acc = _mm256_setzero_ps();
    float bias_acc = 0.0f;
    for (int64_t b = 0; b < n / 256; ++b, w += 210) {
        const auto* sc = reinterpret_cast<const int8_t*>(w + 192);
        __m256i isum = _mm256_setzero_si256();
        for (int h = 0; h < 2; ++h) {
            const __m256i qh = loadu256(w + 128 + 32 * h);
            for (int g = 0; g < 4; ++g) {
                __m256i lo = loadu256(w + 64 * h + 32 * (g % 2));
                if (g >= 2) lo = _mm256_srli_epi16(lo, 4);
                lo = _mm256_and_si256(lo, m4);
                const __m256i hi = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * g), m2), 4);
                const __m256i p16 = _mm256_maddubs_epi16(_mm256_or_si256(lo, hi), loadu256(x[b].q + 128 * h + 32 * g));
                const int s = 8 * h + 2 * g;
                const __m256i scv = _mm256_set_m128i(_mm_set1_epi16(sc[s + 1]), _mm_set1_epi16(sc[s]));
                isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p16, scv));
            }
        }
        int bias = 0;  // the -32 offset: 32 * sum_s sc[s] * bsum[s]
        for (int s = 0; s < 16; ++s) bias += sc[s] * x[b].bsums[s];
        const float dd = load_fp16(w + 208) * x[b].d;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dd), _mm256_cvtepi32_ps(isum), acc);
        bias_acc += dd * static_cast<float>(32 * bias);
    }
    return hsum8(acc) - bias_acc;
}

float dot_q4_0_avx2(const uint8_t* w, const void* x, int64_t n) {
    return dot_legacy_avx2<18, 2, false, false>(w, x, n);
}
float dot_q4_1_avx2(const uint8_t* w, const void* x, int64_t n) {
    return dot_legacy_avx2<20, 4, true, false>(w, x, n);
}
float dot_q5_0_avx2(const uint8_t* w, const void* x, int64_t n) {
    return dot_legacy_avx2<22, 6, false, true>(w, x, n);
}
float dot_q5_1_avx2(const uint8_t* w, const void* x, int64_t n) {
    return dot_legacy_avx2<24, 8, true, true>(w, x, n);
}
float dot_q4_k_avx2(const uint8_t* w, const void* x, int64_t n) {
    return dot_q45_k_avx2<false>(w, x, n);
}
float dot_q5_k_avx2(const uint8_t* w, const void* x, int64_t n) {
    return dot_q45_k_avx2<true>(w, x, n);
}

}  // namespace moe::cpu::detail
#endif
