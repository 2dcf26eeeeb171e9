// Dequantization of the "K" formats: 256-element super-blocks with per-sub-block scales.
// Layouts (ggml-common.h; spec section 6.5), byte offsets inside one block:
//   Q2_K  84 B: scales[16] @0 (low nibble scale, high nibble min), qs[64] @16, fp16 d @80, fp16 dmin @82
//   Q3_K 110 B: hmask[32] @0, qs[64] @32, scales[12] @96 (16 six-bit scales, bias 32), fp16 d @108
//   Q4_K 144 B: fp16 d @0, fp16 dmin @2, scales[12] @4 (8 six-bit scales + 8 mins), qs[128] @16
//   Q5_K 176 B: fp16 d @0, fp16 dmin @2, scales[12] @4, qh[32] @16, qs[128] @48
//   Q6_K 210 B: ql[128] @0, qh[64] @128, i8 scales[16] @192, fp16 d @208
//   Q8_K 292 B: f32 d @0, i8 qs[256] @4, i16 bsums[16] @260 (sums for dot products; not needed here)
#include "formats/quants_internal.h"

// The scalar loops are the references the AVX2 versions must match bit for bit: no fused multiply-add.
// (GCC does not contract in ISO C++ mode; clang needs the pragma.)
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

namespace moe::quants_detail {

// Q2_K: each 128-element half uses 32 qs bytes; 2-bit field `shift` of qs[l] (l<16 / l>=16) gives the
// elements of sub-blocks 2*shift_index and 2*shift_index+1. x = d*(sc&15)*q - dmin*(sc>>4).
void dequant_q2_k_blocks(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, src += 84, dst += 256) {
        const uint8_t* scales = src;
        const float d = load_fp16(src + 80);
        const float dmin = load_fp16(src + 82);
        // Sub-block s (16 elements) = half s/8, 2-bit field (s%8)/2, bytes 16*(s%2)..+15 of that half's qs.
        for (int s = 0; s < 16; ++s) {
            const uint8_t* q = src + 16 + 32 * (s / 8) + 16 * (s % 2);
            const int shift = 2 * ((s % 8) / 2);
            const float dl = d * static_cast<float>(scales[s] & 0xf);
            const float ml = dmin * static_cast<float>(scales[s] >> 4);
            float* y = dst + 16 * s;
            for (int l = 0; l < 16; ++l) y[l] = dl * static_cast<float>((q[l] >> shift) & 3) - ml;
        }
    }
}

// Q3_K's 16 six-bit scales: low 4 bits from scales[i] (i<8) or scales[i-8]>>4, high 2 bits from
// scales[8 + i%4] >> (2*(i/4)). Returned with the bias 32 removed.
void unpack_q3_k_scales(const uint8_t* s, int* out) {
    for (int i = 0; i < 16; ++i) {
        const int lo = i < 8 ? (s[i] & 0xf) : (s[i - 8] >> 4);
        const int hi = (s[8 + (i % 4)] >> (2 * (i / 4))) & 3;
        out[i] = (lo | (hi << 4)) - 32;
    }
}

// Q3_K: like Q2_K's bit order; the third bit of element (sub-block j, position l) is bit j of hmask[l]
// (l over 32 positions of a 128-half; bits 0..3 for the first half, 4..7 for the second). A clear bit
// means "subtract 4": x = d*scale*(q2 - (bit ? 0 : 4)).
void dequant_q3_k_blocks(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, src += 110, dst += 256) {
        const float d = load_fp16(src + 108);
        int scales[16] = {};
        unpack_q3_k_scales(src + 96, scales);
        // Sub-block s as in Q2_K; its hmask bit is 4*(s/8) + (s%8)/2, in hmask bytes 16*(s%2)..+15.
        for (int s = 0; s < 16; ++s) {
            const uint8_t* q = src + 32 + 32 * (s / 8) + 16 * (s % 2);
            const uint8_t* hm = src + 16 * (s % 2);
            const int shift = 2 * ((s % 8) / 2);
            const int bit = 4 * (s / 8) + (s % 8) / 2;
            const float dl = d * static_cast<float>(scales[s]);
            float* y = dst + 16 * s;
            for (int l = 0; l < 16; ++l) {
                const int v = ((q[l] >> shift) & 3) - 4 + 4 * ((hm[l] >> bit) & 1);
                y[l] = dl * static_cast<float>(v);
            }
        }
    }
}

// Q4_K: 4 chunks of 64; chunk c uses qs[32c..32c+31]: low nibbles = sub-block 2c, high = 2c+1.
// x = d*sc*q - dmin*m.
void dequant_q4_k_blocks(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, src += 144) {
        const float d = load_fp16(src);
        const float dmin = load_fp16(src + 2);
        const uint8_t* scales = src + 4;
        for (int c = 0; c < 4; ++c, dst += 64) {
            const uint8_t* q = src + 16 + 32 * c;
            uint8_t sc0 = 0, m0 = 0, sc1 = 0, m1 = 0;
            unpack_scale_min_k4(scales, 2 * c, &sc0, &m0);
            unpack_scale_min_k4(scales, 2 * c + 1, &sc1, &m1);
            const float d0 = d * sc0, min0 = dmin * m0, d1 = d * sc1, min1 = dmin * m1;
            for (int l = 0; l < 32; ++l) dst[l] = d0 * static_cast<float>(q[l] & 0xf) - min0;
            for (int l = 0; l < 32; ++l) dst[l + 32] = d1 * static_cast<float>(q[l] >> 4) - min1;
        }
    }
}

// Q5_K: Q4_K plus a fifth bit: for chunk c, bit 2c of qh[l] extends the low nibble, bit 2c+1 the high.
void dequant_q5_k_blocks(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, src += 176) {
        const float d = load_fp16(src);
        const float dmin = load_fp16(src + 2);
        const uint8_t* scales = src + 4;
        const uint8_t* qh = src + 16;
        for (int c = 0; c < 4; ++c, dst += 64) {
            const uint8_t* q = src + 48 + 32 * c;
            uint8_t sc0 = 0, m0 = 0, sc1 = 0, m1 = 0;
            unpack_scale_min_k4(scales, 2 * c, &sc0, &m0);
            unpack_scale_min_k4(scales, 2 * c + 1, &sc1, &m1);
            const float d0 = d * sc0, min0 = dmin * m0, d1 = d * sc1, min1 = dmin * m1;
            for (int l = 0; l < 32; ++l) {
                const int v = (q[l] & 0xf) | (((qh[l] >> (2 * c)) & 1) << 4);
                dst[l] = d0 * static_cast<float>(v) - min0;
            }
            for (int l = 0; l < 32; ++l) {
                const int v = (q[l] >> 4) | (((qh[l] >> (2 * c + 1)) & 1) << 4);
                dst[l + 32] = d1 * static_cast<float>(v) - min1;
            }
        }
    }
}

// Q6_K: see spec 6.5; each 128-element half uses 64 ql, 32 qh and 8 scales.
void dequant_q6_k_blocks(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, src += 210, dst += 256) {
        const float d = load_fp16(src + 208);
        const int8_t* scales = reinterpret_cast<const int8_t*>(src + 192);
        // Sub-block s (16 elements): half h = s/8, group g = (s%8)/2 (32 elements each), l0 = 16*(s%2).
        // Group g takes nibble g/2 of ql[64h + 32*(g%2) + l] and bits 2g..2g+1 of qh[32h + l].
        for (int s = 0; s < 16; ++s) {
            const int h = s / 8, g = (s % 8) / 2, l0 = 16 * (s % 2);
            const uint8_t* ql = src + 64 * h + 32 * (g % 2) + l0;
            const uint8_t* qh = src + 128 + 32 * h + l0;
            const int nib = 4 * (g / 2), hs = 2 * g;
            const float dl = d * static_cast<float>(scales[s]);
            float* y = dst + 16 * s;
            for (int l = 0; l < 16; ++l) {
                const int q = (((ql[l] >> nib) & 0xf) | (((qh[l] >> hs) & 3) << 4)) - 32;
                y[l] = dl * static_cast<float>(q);
            }
        }
    }
}

// Q8_K: x = d*q with an fp32 d.
void dequant_q8_k_blocks(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, src += 292, dst += 256) {
        float d = 0.0f;
        std::memcpy(&d, src, sizeof d);
        const int8_t* q = reinterpret_cast<const int8_t*>(src + 4);
        for (int j = 0; j < 256; ++j) dst[j] = d * static_cast<float>(q[j]);
    }
}

void pack_scale_min_k4(const uint8_t* scale, const uint8_t* min, uint8_t* s) {
    for (int j = 0; j < 4; ++j) {
        s[j] = static_cast<uint8_t>((scale[j] & 63) | ((scale[j + 4] >> 4) << 6));
        s[j + 4] = static_cast<uint8_t>((min[j] & 63) | ((min[j + 4] >> 4) << 6));
        s[j + 8] = static_cast<uint8_t>((scale[j + 4] & 0xf) | ((min[j + 4] & 0xf) << 4));
    }
}

}  // namespace moe::quants_detail
