// Q4_K quantization (exports). A 256-element block is 8 sub-blocks of 32; each sub-block j stores
// x ~= d*sc_j*q - dmin*m_j with q in [0,15] and six-bit sc_j, m_j; d and dmin are fp16.
// Steps: (1) per sub-block, a least-squares fit of (scale, min) over a grid of starting step sizes;
// (2) the 8 scales and mins are quantized to 6 bits against d = max scale/63, dmin = max min/63;
// (3) each sub-block tries its neighbouring integer (sc, m) pairs with the final fp16 d/dmin and keeps the
// pair with the smallest squared error, then picks q for it. Squared error is unweighted.
#include "formats/quants_internal.h"

#include <algorithm>
#include <cmath>

namespace moe::quants_detail {

namespace {

constexpr int k_sub = 32;     // elements per sub-block
constexpr int k_qmax = 15;    // 4-bit codes
constexpr int k_six_bit = 63;

inline int nearest_code(float v, int hi) {
    if (!(v > 0.0f)) return 0;  // negatives and NaN
    if (v >= static_cast<float>(hi)) return hi;
    return static_cast<int>(v + 0.5f);
}

// Squared error of x ~= scale*q - min with the best q for each element.
float sub_block_error(const float* x, float scale, float min) {
    float err = 0.0f;
    const float inv = scale > 0.0f ? 1.0f / scale : 0.0f;
    for (int i = 0; i < k_sub; ++i) {
        const int q = nearest_code((x[i] + min) * inv, k_qmax);
        const float diff = scale * static_cast<float>(q) - min - x[i];
        err += diff * diff;
    }
    return err;
}

// Least-squares (scale, offset) for fixed codes q: minimises sum (scale*q + offset - x)^2 with offset <= 0.
void fit_for_codes(const float* x, const int* q, float* scale, float* offset) {
    double sw = k_sub, sq = 0, sq2 = 0, sx = 0, sqx = 0;
    for (int i = 0; i < k_sub; ++i) {
        sq += q[i];
        sq2 += static_cast<double>(q[i]) * q[i];
        sx += x[i];
        sqx += static_cast<double>(q[i]) * x[i];
    }
    const double det = sw * sq2 - sq * sq;
    double s = det > 0 ? (sw * sqx - sx * sq) / det : 0.0;
    double o = det > 0 ? (sq2 * sx - sq * sqx) / det : sx / sw;
    if (o > 0) {  // the format can only subtract a min: refit the scale with offset 0
        o = 0;
        s = sq2 > 0 ? sqx / sq2 : 0.0;
    }
    *scale = static_cast<float>(std::max(s, 0.0));
    *offset = static_cast<float>(o);
}

// Step (1): returns the (scale >= 0, min >= 0) pair of one sub-block.
void fit_sub_block(const float* x, float* out_scale, float* out_min) {
    float lo = *std::min_element(x, x + k_sub);
    const float hi = *std::max_element(x, x + k_sub);
    lo = std::min(lo, 0.0f);
    if (!(hi > lo)) {  // constant block (<= 0), or NaN
        *out_scale = 0.0f;
        *out_min = std::isfinite(lo) ? -lo : 0.0f;
        return;
    }
    float best_scale = (hi - lo) / k_qmax;
    float best_min = -lo;
    float best_err = sub_block_error(x, best_scale, best_min);
    int q[k_sub] = {};
    // Start steps from (qmax + t)/range for t in [-1, 1.5]: a smaller range clips outliers, a larger one
    // refines the grid; each start is refined twice by refitting scale/offset to its codes.
    for (int k = -10; k <= 15; ++k) {
        float inv = (static_cast<float>(k_qmax) + 0.1f * static_cast<float>(k)) / (hi - lo);
        float off = lo;
        for (int iter = 0; iter < 2; ++iter) {
            for (int i = 0; i < k_sub; ++i) q[i] = nearest_code((x[i] - off) * inv, k_qmax);
            float s = 0.0f;
            fit_for_codes(x, q, &s, &off);
            if (!(s > 0.0f)) break;
            const float err = sub_block_error(x, s, -off);
            if (err < best_err) {
                best_err = err;
                best_scale = s;
                best_min = -off;
            }
            inv = 1.0f / s;
        }
    }
    *out_scale = best_scale;
    *out_min = best_min;
}

// Step (3): the integer (sc, m) near (sc0, m0) with the smallest error under the stored d, dmin.
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

void quant_q4_k_block(const float* x, uint8_t* dst) {
    float scales[8] = {}, mins[8] = {};
    for (int j = 0; j < 8; ++j) fit_sub_block(x + k_sub * j, &scales[j], &mins[j]);
    const float max_scale = *std::max_element(scales, scales + 8);
    const float max_min = *std::max_element(mins, mins + 8);
    // Saturate at the fp16 maximum so huge inputs give large finite values rather than inf/NaN.
    const float d = fp16_to_fp32(fp32_to_fp16(std::min(max_scale / k_six_bit, 65504.0f)));
    const float dmin = fp16_to_fp32(fp32_to_fp16(std::min(max_min / k_six_bit, 65504.0f)));
    uint8_t sc[8] = {}, m[8] = {};
    for (int j = 0; j < 8; ++j) {
        sc[j] = static_cast<uint8_t>(d > 0.0f ? nearest_code(scales[j] / d, k_six_bit) : 0);
        m[j] = static_cast<uint8_t>(dmin > 0.0f ? nearest_code(mins[j] / dmin, k_six_bit) : 0);
        refine_codes(x + k_sub * j, d, dmin, &sc[j], &m[j]);
    }
    store_fp16(dst, d);
    store_fp16(dst + 2, dmin);
    pack_scale_min_k4(sc, m, dst + 4);
    // qs: chunk c (64 elements) = sub-blocks 2c (low nibbles) and 2c+1 (high nibbles).
    for (int c = 0; c < 4; ++c) {
        int codes[2][k_sub] = {};
        for (int h = 0; h < 2; ++h) {
            const int j = 2 * c + h;
            const float ds = d * sc[j], dm = dmin * m[j];
            const float inv = ds > 0.0f ? 1.0f / ds : 0.0f;
            for (int i = 0; i < k_sub; ++i) codes[h][i] = nearest_code((x[k_sub * j + i] + dm) * inv, k_qmax);
        }
        for (int i = 0; i < k_sub; ++i) dst[16 + 32 * c + i] = static_cast<uint8_t>(codes[0][i] | (codes[1][i] << 4));
    }
}

}  // namespace

void quant_q4_k_blocks(const float* src, uint8_t* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b) quant_q4_k_block(src + 256 * b, dst + 144 * b);
}

}  // namespace moe::quants_detail
