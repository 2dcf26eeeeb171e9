// AVX2 versions of the block dequantizers (built when the compiler targets AVX2, e.g. MOE_NATIVE on x86).
// Each gives bit-identical results to its scalar reference in quants.cpp / quants_k.cpp: codes are built
// in byte lanes, then every element is computed as scale*float(code) + bias with one rounding per
// operation, exactly as the scalar code does (bias = -min, +m, or -0.0f, which leaves every value as is).
#include "formats/quants_internal.h"

#if MOE_QUANTS_AVX2

#include <immintrin.h>

namespace moe::quants_detail {

namespace {

// 16 signed byte codes -> y[0..15] = scale*code + bias.
inline void emit16(__m128i codes, __m256 scale, __m256 bias, float* y) {
    const __m256 lo = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(codes));
    const __m256 hi = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(codes, 8)));
    _mm256_storeu_ps(y, _mm256_add_ps(_mm256_mul_ps(scale, lo), bias));
    _mm256_storeu_ps(y + 8, _mm256_add_ps(_mm256_mul_ps(scale, hi), bias));
}

inline __m128i load16(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }

// Bytes of `v` shifted right by `count` bits (0..7), masked to `mask`.
inline __m128i shr_bytes(__m128i v, int count, int mask) {
    return _mm_and_si128(_mm_srl_epi16(v, _mm_cvtsi32_si128(count)), _mm_set1_epi8(static_cast<char>(mask)));
}

// Q5_0/Q5_1: bits 0..15 (low = true) or 16..31 of qh spread to 16 bytes holding 0 or 16.
inline __m128i qh_to_bit4(uint32_t qh, bool low) {
    const __m128i spread = low ? _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1)
                               : _mm_setr_epi8(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m128i select = _mm_set1_epi64x(static_cast<long long>(0x8040201008040201ull));
    const __m128i bytes = _mm_shuffle_epi8(_mm_cvtsi32_si128(static_cast<int>(qh)), spread);
    const __m128i set = _mm_cmpeq_epi8(_mm_and_si128(bytes, select), select);
    return _mm_and_si128(set, _mm_set1_epi8(16));
}

const __m256 k_neg_zero = _mm256_set1_ps(-0.0f);

}  // namespace

void dequant_q4_0_blocks_avx2(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, src += 18, dst += 32) {
        const __m256 d = _mm256_set1_ps(load_fp16(src));
        const __m128i qs = load16(src + 2), eight = _mm_set1_epi8(8);
        emit16(_mm_sub_epi8(shr_bytes(qs, 0, 0xf), eight), d, k_neg_zero, dst);
        emit16(_mm_sub_epi8(shr_bytes(qs, 4, 0xf), eight), d, k_neg_zero, dst + 16);
    }
}

void dequant_q4_1_blocks_avx2(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, src += 20, dst += 32) {
        const __m256 d = _mm256_set1_ps(load_fp16(src)), m = _mm256_set1_ps(load_fp16(src + 2));
        const __m128i qs = load16(src + 4);
        emit16(shr_bytes(qs, 0, 0xf), d, m, dst);
        emit16(shr_bytes(qs, 4, 0xf), d, m, dst + 16);
    }
}

void dequant_q5_0_blocks_avx2(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, src += 22, dst += 32) {
        const __m256 d = _mm256_set1_ps(load_fp16(src));
        uint32_t qh = 0;
        std::memcpy(&qh, src + 2, sizeof qh);
        const __m128i qs = load16(src + 6), sixteen = _mm_set1_epi8(16);
        const __m128i lo = _mm_or_si128(shr_bytes(qs, 0, 0xf), qh_to_bit4(qh, true));
        const __m128i hi = _mm_or_si128(shr_bytes(qs, 4, 0xf), qh_to_bit4(qh, false));
        emit16(_mm_sub_epi8(lo, sixteen), d, k_neg_zero, dst);
        emit16(_mm_sub_epi8(hi, sixteen), d, k_neg_zero, dst + 16);
    }
}

void dequant_q5_1_blocks_avx2(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, src += 24, dst += 32) {
        const __m256 d = _mm256_set1_ps(load_fp16(src)), m = _mm256_set1_ps(load_fp16(src + 2));
        uint32_t qh = 0;
        std::memcpy(&qh, src + 4, sizeof qh);
        const __m128i qs = load16(src + 8);
        emit16(_mm_or_si128(shr_bytes(qs, 0, 0xf), qh_to_bit4(qh, true)), d, m, dst);
        emit16(_mm_or_si128(shr_bytes(qs, 4, 0xf), qh_to_bit4(qh, false)), d, m, dst + 16);
    }
}

void dequant_q8_0_blocks_avx2(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, src += 34, dst += 32) {
        const __m256 d = _mm256_set1_ps(load_fp16(src));
        emit16(load16(src + 2), d, k_neg_zero, dst);
        emit16(load16(src + 18), d, k_neg_zero, dst + 16);
    }
}

void dequant_q2_k_blocks_avx2(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, src += 84, dst += 256) {
        const float d = load_fp16(src + 80), dmin = load_fp16(src + 82);
        for (int s = 0; s < 16; ++s) {  // sub-block layout: see dequant_q2_k_blocks
            const __m128i q = load16(src + 16 + 32 * (s / 8) + 16 * (s % 2));
            const __m256 dl = _mm256_set1_ps(d * static_cast<float>(src[s] & 0xf));
            const __m256 ml = _mm256_set1_ps(-(dmin * static_cast<float>(src[s] >> 4)));
            emit16(shr_bytes(q, 2 * ((s % 8) / 2), 3), dl, ml, dst + 16 * s);
        }
    }
}

void dequant_q3_k_blocks_avx2(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, src += 110, dst += 256) {
        const float d = load_fp16(src + 108);
        int scales[16] = {};
        unpack_q3_k_scales(src + 96, scales);
        for (int s = 0; s < 16; ++s) {  // sub-block layout: see dequant_q3_k_blocks
            const __m128i q2 = shr_bytes(load16(src + 32 + 32 * (s / 8) + 16 * (s % 2)), 2 * ((s % 8) / 2), 3);
            const __m128i hb = shr_bytes(load16(src + 16 * (s % 2)), 4 * (s / 8) + (s % 8) / 2, 1);
            const __m128i v = _mm_sub_epi8(_mm_or_si128(q2, _mm_slli_epi16(hb, 2)), _mm_set1_epi8(4));
            emit16(v, _mm256_set1_ps(d * static_cast<float>(scales[s])), k_neg_zero, dst + 16 * s);
        }
    }
}

void dequant_q4_k_blocks_avx2(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, src += 144) {
        const float d = load_fp16(src), dmin = load_fp16(src + 2);
        for (int c = 0; c < 4; ++c, dst += 64) {
            uint8_t sc0 = 0, m0 = 0, sc1 = 0, m1 = 0;
            unpack_scale_min_k4(src + 4, 2 * c, &sc0, &m0);
            unpack_scale_min_k4(src + 4, 2 * c + 1, &sc1, &m1);
            const __m256 d0 = _mm256_set1_ps(d * sc0), b0 = _mm256_set1_ps(-(dmin * m0));
            const __m256 d1 = _mm256_set1_ps(d * sc1), b1 = _mm256_set1_ps(-(dmin * m1));
            const __m128i qa = load16(src + 16 + 32 * c), qb = load16(src + 16 + 32 * c + 16);
            emit16(shr_bytes(qa, 0, 0xf), d0, b0, dst);
            emit16(shr_bytes(qb, 0, 0xf), d0, b0, dst + 16);
            emit16(shr_bytes(qa, 4, 0xf), d1, b1, dst + 32);
            emit16(shr_bytes(qb, 4, 0xf), d1, b1, dst + 48);
        }
    }
}

void dequant_q5_k_blocks_avx2(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, src += 176) {
        const float d = load_fp16(src), dmin = load_fp16(src + 2);
        const __m128i qha = load16(src + 16), qhb = load16(src + 32);
        for (int c = 0; c < 4; ++c, dst += 64) {
            uint8_t sc0 = 0, m0 = 0, sc1 = 0, m1 = 0;
            unpack_scale_min_k4(src + 4, 2 * c, &sc0, &m0);
            unpack_scale_min_k4(src + 4, 2 * c + 1, &sc1, &m1);
            const __m256 d0 = _mm256_set1_ps(d * sc0), b0 = _mm256_set1_ps(-(dmin * m0));
            const __m256 d1 = _mm256_set1_ps(d * sc1), b1 = _mm256_set1_ps(-(dmin * m1));
            const __m128i qa = load16(src + 48 + 32 * c), qb = load16(src + 48 + 32 * c + 16);
            // the fifth bit: bit 2c (low nibbles) or 2c+1 (high) of qh, moved to bit 4
            const auto with_high = [](__m128i nib, __m128i qh, int bit) {
                return _mm_or_si128(nib, _mm_slli_epi16(shr_bytes(qh, bit, 1), 4));
            };
            emit16(with_high(shr_bytes(qa, 0, 0xf), qha, 2 * c), d0, b0, dst);
            emit16(with_high(shr_bytes(qb, 0, 0xf), qhb, 2 * c), d0, b0, dst + 16);
            emit16(with_high(shr_bytes(qa, 4, 0xf), qha, 2 * c + 1), d1, b1, dst + 32);
            emit16(with_high(shr_bytes(qb, 4, 0xf), qhb, 2 * c + 1), d1, b1, dst + 48);
        }
    }
}

void dequant_q6_k_blocks_avx2(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, src += 210, dst += 256) {
        const float d = load_fp16(src + 208);
        const int8_t* scales = reinterpret_cast<const int8_t*>(src + 192);
        for (int s = 0; s < 16; ++s) {  // sub-block layout: see dequant_q6_k_blocks
            const int h = s / 8, g = (s % 8) / 2, l0 = 16 * (s % 2);
            const __m128i lo = shr_bytes(load16(src + 64 * h + 32 * (g % 2) + l0), 4 * (g / 2), 0xf);
            const __m128i hi = shr_bytes(load16(src + 128 + 32 * h + l0), 2 * g, 3);
            const __m128i q = _mm_sub_epi8(_mm_or_si128(lo, _mm_slli_epi16(hi, 4)), _mm_set1_epi8(32));
            emit16(q, _mm256_set1_ps(d * static_cast<float>(scales[s])), k_neg_zero, dst + 16 * s);
        }
    }
}

// Same arithmetic as quant_q8_0_blocks (ggml's reference), 8 lanes at a time: max/min_ps keep the scalar
// code's NaN behaviour (ignored in amax, clamped to -127 in the codes) because of their operand order.
void quant_q8_0_blocks_avx2(const float* src, uint8_t* dst, int64_t n_blocks) {
    const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f), half = _mm256_set1_ps(0.5f);
    const __m256 lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
    for (int64_t b = 0; b < n_blocks; ++b, src += 32, dst += 34) {
        __m256 x[4];
        __m256 amax = _mm256_setzero_ps();
        for (int k = 0; k < 4; ++k) {
            x[k] = _mm256_loadu_ps(src + 8 * k);
            amax = _mm256_max_ps(_mm256_andnot_ps(sign, x[k]), amax);
        }
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float d = _mm_cvtss_f32(m4) / 127.0f;
        const __m256 id = _mm256_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
        store_fp16(dst, d);
        __m256i q[4];
        for (int k = 0; k < 4; ++k) {
            __m256 v = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(x[k], id), lo), hi);
            const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            const __m256 tie_or_more = _mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_sub_ps(v, t)), half, _CMP_GE_OQ);
            const __m256 step = _mm256_and_ps(tie_or_more, _mm256_or_ps(_mm256_and_ps(v, sign), one));
            q[k] = _mm256_cvttps_epi32(_mm256_add_ps(t, step));
        }
        // packs interleave 128-bit lanes; the permute restores element order
        const __m256i p16 = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
        const __m256i ordered = _mm256_permutevar8x32_epi32(p16, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 2), ordered);
    }
}

}  // namespace moe::quants_detail

#endif  // MOE_QUANTS_AVX2
