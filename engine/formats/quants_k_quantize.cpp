// Q4_K and Q6_K quantization (exports). A 256-element block is 8 sub-blocks of 32; each sub-block j stores
// x ~= d*sc_j*q - dmin*m_j with q in [0,15] and six-bit sc_j, m_j; d and dmin are fp16.
// Steps: (1) per sub-block, a least-squares fit of (scale, min) from a grid of starting step sizes, each
// refined by refitting to its codes; (2) the 8 scales and mins are quantized to 6 bits against
// d = max scale/63, dmin = max min/63; (3) each sub-block tries the neighbouring integer (sc, m) pairs with
// the final fp16 d/dmin and keeps the best, then picks its codes. The error minimised is the plain squared
// error. Non-finite inputs are encoded as 0. The loops over 32 floats are written to vectorise.
#include "formats/quants_internal.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace moe::quants_detail {

namespace {

constexpr int k_sub = 32;  // elements per sub-block
constexpr float k_qmax = 15.0f;
constexpr int k_six_bit = 63;

inline float lane_sum(const float* a) { return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7])); }

// Codes (as floats) of x ~= scale*q - min for inv = 1/scale.
inline void codes_for(const float* x, float inv, float min, float* q) {
#if MOE_QUANTS_AVX2
    // The same operations as the loop below (max/min_ps give its results, NaN included), vectorised by
    // hand: the compiler will not if-convert the clamps under the default -ftrapping-math.
    const __m256 vinv = _mm256_set1_ps(inv), vmin = _mm256_set1_ps(min), zero = _mm256_setzero_ps();
    const __m256 top = _mm256_set1_ps(k_qmax), half = _mm256_set1_ps(0.5f);
    for (int i = 0; i < k_sub; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_add_ps(_mm256_loadu_ps(x + i), vmin), vinv);
        v = _mm256_min_ps(_mm256_max_ps(v, zero), top);
        _mm256_storeu_ps(q + i, _mm256_floor_ps(_mm256_add_ps(v, half)));
    }
    return;
#endif
    for (int i = 0; i < k_sub; ++i) {
        float v = (x[i] + min) * inv;
        v = v > 0.0f ? v : 0.0f;
        v = v < k_qmax ? v : k_qmax;
        q[i] = std::floor(v + 0.5f);
    }
}

// Squared error of x ~= scale*q - min with the nearest code for each element.
float sub_block_error(const float* x, float scale, float min) {
    float q[k_sub];
    codes_for(x, scale > 0.0f ? 1.0f / scale : 0.0f, min, q);
    // Eight partial sums (a fixed summation order the compiler may vectorise; a single running sum
    // it may not reorder).
    float acc[8] = {};
    for (int i = 0; i < k_sub; i += 8) {
        for (int l = 0; l < 8; ++l) {
            const float diff = scale * q[i + l] - min - x[i + l];
            acc[l] += diff * diff;
        }
    }
    return lane_sum(acc);
}

// Least-squares (scale, offset) for fixed codes q: minimises sum (scale*q + offset - x)^2 with offset <= 0
// (the format can only subtract a min).
void fit_for_codes(const float* x, const float* q, float* scale, float* offset) {
    float a_q[8] = {}, a_q2[8] = {}, a_x[8] = {}, a_qx[8] = {};
    for (int i = 0; i < k_sub; i += 8) {
        for (int l = 0; l < 8; ++l) {
            a_q[l] += q[i + l];
            a_q2[l] += q[i + l] * q[i + l];
            a_x[l] += x[i + l];
            a_qx[l] += q[i + l] * x[i + l];
        }
    }
    const float sq = lane_sum(a_q), sq2 = lane_sum(a_q2), sx = lane_sum(a_x), sqx = lane_sum(a_qx);
    const float det = k_sub * sq2 - sq * sq;
    float s = det > 0 ? (k_sub * sqx - sx * sq) / det : 0.0f;
    float o = det > 0 ? (sq2 * sx - sq * sqx) / det : sx / k_sub;
    if (o > 0) {
        o = 0;
        s = sq2 > 0 ? sqx / sq2 : 0.0f;
    }
    *scale = std::max(s, 0.0f);
    *offset = o;
}

// Step (1): the (scale >= 0, min >= 0) pair of one sub-block.
void fit_sub_block(const float* x, float* out_scale, float* out_min) {
    const float lo = std::min(*std::min_element(x, x + k_sub), 0.0f);
    const float hi = *std::max_element(x, x + k_sub);
    if (!(hi > lo)) {  // constant block (<= 0)
        *out_scale = 0.0f;
        *out_min = -lo;
        return;
    }
    float best_scale = (hi - lo) / k_qmax, best_min = -lo;
    float best_err = sub_block_error(x, best_scale, best_min);
    float q[k_sub];
    // Start steps at (15 + t)/range for t in [-1, 1.5]: a shorter step clips outliers, a longer one
    // refines the grid. Each start is refitted twice (codes -> least squares -> codes).
    for (int k = -4; k <= 6; ++k) {
        float inv = (k_qmax + 0.25f * static_cast<float>(k)) / (hi - lo), min = -lo;
        for (int iter = 0; iter < 2; ++iter) {
            codes_for(x, inv, min, q);
            float s = 0.0f, off = 0.0f;
            fit_for_codes(x, q, &s, &off);
            if (!(s > 0.0f)) break;
            min = -off;
            const float err = sub_block_error(x, s, min);
            if (err < best_err) {
                best_err = err;
                best_scale = s;
                best_min = min;
            }
            inv = 1.0f / s;
        }
    }
    *out_scale = best_scale;
    *out_min = best_min;
}

inline int nearest_six_bit(float v) { return static_cast<int>(std::clamp(std::floor(v + 0.5f), 0.0f, 63.0f)); }

// Step (3): the integer (sc, m) near (sc, m) with the smallest error under the stored d, dmin.
void refine_codes(const float* x, float d, float dmin, uint8_t* sc, uint8_t* m) {
    const int sc0 = *sc, m0 = *m;
    float best = sub_block_error(x, d * sc0, dmin * m0);
    for (int a = std::max(0, sc0 - 1); a <= std::min(k_six_bit, sc0 + 1); ++a) {
        for (int b = std::max(0, m0 - 1); b <= std::min(k_six_bit, m0 + 1); ++b) {
            const float err = sub_block_error(x, d * a, dmin * b);
            if (err < best) {
                best = err;
                *sc = static_cast<uint8_t>(a);
                *m = static_cast<uint8_t>(b);
            }
        }
    }
}

void quant_q4_k_block(const float* src, uint8_t* dst) {
    float x[256];
    for (int i = 0; i < 256; ++i) x[i] = std::isfinite(src[i]) ? src[i] : 0.0f;
    float scales[8] = {}, mins[8] = {};
    for (int j = 0; j < 8; ++j) fit_sub_block(x + k_sub * j, &scales[j], &mins[j]);
    // Saturate at the fp16 maximum so huge inputs give large finite values rather than inf.
    const float d = fp16_to_fp32(fp32_to_fp16(std::min(*std::max_element(scales, scales + 8) / k_six_bit, 65504.0f)));
    const float dmin = fp16_to_fp32(fp32_to_fp16(std::min(*std::max_element(mins, mins + 8) / k_six_bit, 65504.0f)));
    uint8_t sc[8] = {}, m[8] = {};
    for (int j = 0; j < 8; ++j) {
        sc[j] = static_cast<uint8_t>(d > 0.0f ? nearest_six_bit(scales[j] / d) : 0);
        m[j] = static_cast<uint8_t>(dmin > 0.0f ? nearest_six_bit(mins[j] / dmin) : 0);
        refine_codes(x + k_sub * j, d, dmin, &sc[j], &m[j]);
    }
    store_fp16(dst, d);
    store_fp16(dst + 2, dmin);
    pack_scale_min_k4(sc, m, dst + 4);
    // qs: chunk c (64 elements) = sub-blocks 2c (low nibbles) and 2c+1 (high nibbles).
    for (int c = 0; c < 4; ++c) {
        float q[2][k_sub];
        for (int h = 0; h < 2; ++h) {
            const int j = 2 * c + h;
            const float ds = d * sc[j];
            codes_for(x + k_sub * j, ds > 0.0f ? 1.0f / ds : 0.0f, dmin * m[j], q[h]);
        }
        for (int i = 0; i < k_sub; ++i)
            dst[16 + 32 * c + i] = static_cast<uint8_t>(static_cast<int>(q[0][i]) | (static_cast<int>(q[1][i]) << 4));
    }
}

// ---- Q6_K: x ~= d*sc_j*q, q in [-32, 31], 16 sub-blocks of 16 with int8 sc_j, fp16 d ------------------

constexpr int k_sub6 = 16;

inline float code6(float v) {  // nearest code in [-32, 31]; NaN -> -32
    v = v > -32.0f ? v : -32.0f;
    v = v < 31.0f ? v : 31.0f;
    return std::floor(v + 0.5f);
}

// Squared error of x ~= scale*q with the nearest codes; codes written to q when given.
float q6_error(const float* x, float scale, float* q = nullptr) {
    const float inv = scale != 0.0f ? 1.0f / scale : 0.0f;
    float err = 0.0f;
    for (int i = 0; i < k_sub6; ++i) {
        const float c = code6(x[i] * inv);
        if (q != nullptr) q[i] = c;
        const float diff = scale * c - x[i];
        err += diff * diff;
    }
    return err;
}

// The scale of one sub-block: the value of largest magnitude starts at code -32 (the longer side of the
// code range) or a little inside it; each start is refitted by least squares to its codes.
float fit_q6_sub_block(const float* x) {
    float vmax = 0.0f;
    for (int i = 0; i < k_sub6; ++i)
        if (std::fabs(x[i]) > std::fabs(vmax)) vmax = x[i];
    if (vmax == 0.0f) return 0.0f;
    float best_scale = vmax / -32.0f, best_err = q6_error(x, best_scale);
    float q[k_sub6];
    for (int k = 0; k <= 8; ++k) {
        const float start = vmax / -(32.0f - 0.25f * static_cast<float>(k));
        q6_error(x, start, q);
        float sqx = 0.0f, sq2 = 0.0f;
        for (int i = 0; i < k_sub6; ++i) {
            sqx += q[i] * x[i];
            sq2 += q[i] * q[i];
        }
        if (!(sq2 > 0.0f)) continue;
        const float s = sqx / sq2;
        const float err = q6_error(x, s);
        if (err < best_err) {
            best_err = err;
            best_scale = s;
        }
    }
    return best_scale;
}

void quant_q6_k_block(const float* src, uint8_t* dst) {
    float x[256];
    for (int i = 0; i < 256; ++i) x[i] = std::isfinite(src[i]) ? src[i] : 0.0f;
    float scales[16] = {};
    float amax = 0.0f;
    for (int j = 0; j < 16; ++j) {
        scales[j] = fit_q6_sub_block(x + k_sub6 * j);
        amax = std::max(amax, std::fabs(scales[j]));
    }
    const float d = fp16_to_fp32(fp32_to_fp16(std::min(amax / 127.0f, 65504.0f)));
    std::memset(dst, 0, 210);
    for (int j = 0; j < 16; ++j) {
        // Nearest int8 scale, then the neighbour with the smallest error under the stored d.
        int sc = d > 0.0f ? static_cast<int>(std::clamp(std::floor(scales[j] / d + 0.5f), -127.0f, 127.0f)) : 0;
        float best = q6_error(x + k_sub6 * j, d * sc);
        for (int a = std::max(-127, sc - 1); a <= std::min(127, sc + 1); a += 2) {
            const float err = q6_error(x + k_sub6 * j, d * a);
            if (err < best) {
                best = err;
                sc = a;
            }
        }
        dst[192 + j] = static_cast<uint8_t>(static_cast<int8_t>(sc));
        float q[k_sub6];
        q6_error(x + k_sub6 * j, d * sc, q);
        for (int l = 0; l < k_sub6; ++l) {
            // element i: half h, group g (32 elements), position p; layout in quants_k.cpp / spec 6.5
            const int i = k_sub6 * j + l, h = i / 128, g = (i % 128) / 32, p = i % 32;
            const int code = static_cast<int>(q[l]) + 32;  // 0..63
            dst[64 * h + 32 * (g % 2) + p] |= static_cast<uint8_t>((code & 0xf) << (4 * (g / 2)));
            dst[128 + 32 * h + p] |= static_cast<uint8_t>((code >> 4) << (2 * g));
        }
    }
    store_fp16(dst + 208, d);
}

}  // namespace

void quant_q6_k_blocks(const float* src, uint8_t* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b) quant_q6_k_block(src + 256 * b, dst + 210 * b);
}

void quant_q4_k_blocks(const float* src, uint8_t* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b) quant_q4_k_block(src + 256 * b, dst + 144 * b);
}

}  // namespace moe::quants_detail
